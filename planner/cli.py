"""Command line: validate | run | template | sweep | rulepack | doctor | schema. Thin over ``planner.api``; logging set up here only.

Exit codes (``planner.errors.EXIT_CODES``): 0 ok; 1 invalid input (files, options, a limit); 2 no
proven optimal plan; 3 solver unavailable; 4 the plan failed the independent checker (nothing
written); 5 output not written; 6 output written but standard output closed; 7 the machine refused
resources; 70 internal error (a defect); 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import json
import logging
import math
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from planner.errors import CaseValidationError, PlannerError, ResourceError, StdoutClosedError
from planner.report.labels import LANGS, UNITS

logger = logging.getLogger("planner")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("cn-ets-planner", "pyomo", "highspy", "pandas", "pydantic", "numpy", "pyyaml", "openpyxl", "xlsxwriter"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _say(text: str = "", written: str | None = None) -> None:
    """Print a line to standard output; a closed standard output (a pipe whose reader left, ``>&-``)
    ends the command with ``StdoutClosedError`` (exit 6), saying what was written."""
    try:
        print(text)
        sys.stdout.flush()
    except (BrokenPipeError, ValueError) as exc:  # ValueError: print to a closed file object
        _stdout_gone()
        raise StdoutClosedError(_closed_message(written)) from exc
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.EBADF):
            raise
        _stdout_gone()
        raise StdoutClosedError(_closed_message(written)) from exc


def _closed_message(written: str | None) -> str:
    return "standard output is closed; nothing more is printed" + (f" ({written})" if written else "")


def _stdout_gone() -> None:
    """Point standard output at /dev/null so that the interpreter's flush at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def cmd_validate(args: argparse.Namespace) -> int:
    """``planner validate``: check a case (entity or group) and print its warnings; a problem
    raises ``CaseValidationError`` (exit 1)."""
    from planner.input.read import is_group_case, load_case
    from planner.prepare.entity import prepare
    from planner.solve.numerics import input_warnings

    if is_group_case(args.case):
        return _validate_group(args)
    case = load_case(args.case)
    try:
        prep = prepare(case)
        scale = input_warnings(case)
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    _say(f"{args.case}: valid case for {case.entity.id}, years {case.years[0]}-{case.years[-1]}, "
         f"rule pack {prep.pack.ref}")
    for w in prep.warnings + scale:
        _say(f"warning: {w}")
    return 0


def _validate_group(args: argparse.Namespace) -> int:
    from planner.input.read import load_group_case
    from planner.prepare.group import prepare_group

    spec = load_group_case(args.case, args.data_root)
    try:
        prep = prepare_group(spec)
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    years = spec.group.horizon.years
    _say(f"{args.case}: valid group case {spec.group.id} with {len(spec.entities)} entities, years {years[0]}-{years[-1]}, "
         f"rule pack {prep.pack.ref}")
    for w in prep.warnings:
        _say(f"warning: {w}")
    return 0


def _audit_and_run(args: argparse.Namespace, result, units: str, *, input_format: str, input_sha256: str,
                   **inputs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit record of a plan folder (the same for every run of the same input) and run.json
    (what differs between runs: timings and timestamp). ``inputs``: more input hashes (groups)."""
    from planner.input.rulepack import pack_file_sha256

    audit = {
        # canonical (absolute, links resolved): a run given a relative path and one given the
        # absolute path of the same file write the same plan
        "input_file": str(Path(args.case).resolve()),
        "input_format": input_format,
        "input_sha256": input_sha256,
        **inputs,
        "rule_pack": result.prep.pack.ref,
        "rule_pack_sha256": pack_file_sha256(result.prep.pack.ref),
        "rule_pack_overrides": dict(result.prep.pack.overrides),
        "versions": _versions(),
        "solver": result.solve.solver_version,
        "solver_options": result.solve.options,
        "status": str(result.solve.status),
        "termination": result.solve.termination,
        "mip_gap": result.solve.gap,
        "objective_cny": result.solve.objective,
        "checker": "passed",
        "report_options": {"lang": args.lang, "units": units, "html": args.html, "xlsx": args.xlsx},
    }
    run = {
        "timings_s": {k: round(v, 4) for k, v in result.solve.timings.items()},
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return audit, run


CJK_FONT_PACKAGE = "fonts-noto-cjk"
"""The Debian/Ubuntu package of a CJK font matplotlib finds (``apt-get install fonts-noto-cjk``)."""


def _warn_cjk_font(args: argparse.Namespace) -> None:
    """One warning, before a zh report is written, when matplotlib has no CJK font: the charts'
    Chinese labels would show as boxes. The plan folder is written all the same."""
    if args.lang != "zh" or not (args.html or args.xlsx):
        return
    from planner.report.charts import cjk_font

    if cjk_font() is None:
        try:  # on standard error: standard output holds the plan's summary
            print(f"warning: no CJK font found for the Chinese chart labels (they would show as boxes); the plan is "
                  f"written all the same. Install one, e.g. Debian/Ubuntu: sudo apt-get install {CJK_FONT_PACKAGE}",
                  file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass  # a closed standard error does not stop the plan


def _run_group(args: argparse.Namespace, over: dict) -> int:
    from planner import api
    from planner.input.read import file_sha256, group_input_hashes, load_group_case
    from planner.report.write import check_output_dir, write_group_plan

    units = args.units or ("wan" if args.lang == "zh" else "t")
    spec = load_group_case(args.case, args.data_root)
    check_output_dir(args.out)  # before the solve: a refused folder costs no solver time
    from planner.progress import Progress

    progress = Progress()  # bars on stderr when run in a terminal
    try:
        result = api.run(spec, api.options_for(spec, **over), progress=progress)
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    finally:
        progress.close()
    audit, run = _audit_and_run(args, result, units, input_format="group " + args.case.suffix.lower().lstrip("."),
                                input_sha256=file_sha256(args.case),
                                input_files_sha256=group_input_hashes(args.case, args.data_root))
    _warn_cjk_font(args)
    progress.stage("writing the plan folder")
    try:
        out = write_group_plan(result.plan, args.out, audit, run, html=args.html, xlsx=args.xlsx, lang=args.lang, units=units)
    finally:
        progress.close()
    # pandas: imported after the solve (see planner.api)
    from planner.report.group import terminal_group_summary

    written = f"the group plan is written to {out}"
    _say(terminal_group_summary(result.plan), written)
    _say(f"\nGroup plan written to {out}", written)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """``planner run``: solve a case and write the plan folder (HTML and .xlsx on request)."""
    from planner.input.read import is_group_case

    over = {}
    if args.time_limit is not None:
        over["time_limit_s"] = args.time_limit
    if args.allow_nonoptimal:
        over["allow_nonoptimal"] = True
    if args.mip_gap is not None:
        over["mip_rel_gap"] = args.mip_gap
    if is_group_case(args.case):
        return _run_group(args, over)
    from planner import api
    from planner.input.read import read_case
    from planner.report.text import terminal_summary
    from planner.report.write import check_output_dir, write_plan

    case, sha = read_case(args.case)
    check_output_dir(args.out)  # before the solve: a refused folder costs no solver time
    try:
        result = api.run(case, api.options_for(case, **over))
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    units = args.units or ("wan" if args.lang == "zh" else "t")
    audit, run = _audit_and_run(args, result, units, input_format=args.case.suffix.lower().lstrip("."), input_sha256=sha)
    _warn_cjk_font(args)
    out = write_plan(result.plan, args.out, audit, run, html=args.html, xlsx=args.xlsx, lang=args.lang, units=units)
    written = f"the plan is written to {out}"
    _say(terminal_summary(result.plan), written)
    _say(f"\nPlan written to {out}", written)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """``planner sweep``: solve every scenario of a sweep file and write the result tables; exit 2
    when a scenario has no optimal plan."""
    from planner.input.read import (
        file_sha256,
        is_group_case,
        load_case,
        load_group_case,
        read_case_data,
    )
    from planner.studies import sweepio
    from planner.studies.plots import all_figures
    from planner.studies.sweep import case_options, sweep
    from planner.studies.variants import SweepSpec

    group = is_group_case(args.case)
    case = load_group_case(args.case, args.data_root) if group else load_case(args.case)
    raw = read_case_data(args.sweep)
    try:
        spec = SweepSpec.model_validate(raw)
    except Exception as exc:  # pydantic ValidationError: name the sweep file
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        problems = [(".".join(str(x) for x in e["loc"]), e["msg"]) for e in exc.errors()]
        raise CaseValidationError(str(args.sweep), problems) from None
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    opts = case_options(case)
    if args.time_limit is not None:
        from dataclasses import replace

        opts = replace(opts, time_limit_s=args.time_limit)
    try:
        res = sweep(
            case,
            spec,
            opts=opts,
            workers=workers,
            scheduler=args.scheduler,
            out=args.out,
            resume=args.resume,
            chunk_size=args.chunk_size,
            tables=spec.tables,
            progress=None,
            # a group case reads CSV tables too: hash what was read (the validated case)
            case_sha256=sweepio.digest(case.model_dump_json()) if group else file_sha256(args.case),
        )
    except CaseValidationError as exc:
        if exc.source == "<sweep>":
            raise CaseValidationError(str(args.sweep), exc.problems) from None
        if exc.source == "command line":
            raise
        raise exc.in_file(str(args.case)) from None
    if spec.plots:
        sweepio.save_figures(args.out, all_figures(res.frame))
    st = res.stats
    sc = res.scenarios
    bad = sc[sc["status"] != "optimal"]
    written = f"the results are written to {args.out}"
    _say(
        f"{st['scenarios']} scenarios ({st['resumed']} already done, {st['solved_now']} solved now) "
        f"in {st['run_s']:.1f} s; solver paths {st['paths']}", written
    )
    ok = sc[sc["status"] == "optimal"]["npv_cost_cny"]
    if len(ok):
        _say(f"NPV cost: min {ok.min():,.0f}  median {ok.median():,.0f}  max {ok.max():,.0f} CNY", written)
    if len(bad):
        _say(
            f"{len(bad)} scenario(s) without an optimal plan: {', '.join(bad['scenario'].head(10))}"
            f"{' ...' if len(bad) > 10 else ''} (status and error in scenarios.csv)", written
        )
        timed = bad[bad["error"].str.contains("time limit", regex=False, na=False)]
        if len(timed):
            _say(f"{len(timed)} of them stopped at the time limit of {opts.time_limit_s:g} s a scenario: "
                 "raise it with --time-limit SECONDS (or the case's solver.time_limit_s)", written)
    _say(
        f"Results written to {args.out} (results.parquet, scenarios.csv{', plots/' if spec.plots else ''})", written
    )
    return 2 if len(bad) else 0


def cmd_template(args: argparse.Namespace) -> int:
    """``planner template``: write a case workbook (or, with --tables, the entity-tables
    workbook), empty or filled from a valid case."""
    from planner.input.read import read_case_data
    from planner.input.workbook import template_bytes
    from planner.report.write import write_file_atomic

    if args.xlsx.suffix.lower() != ".xlsx":
        raise CaseValidationError(str(args.xlsx), [("", "the template file name must end in .xlsx")])
    if args.tables:
        return _template_tables(args)
    data = None
    if args.from_case is not None:
        from planner.input.read import parse_case

        data = read_case_data(args.from_case)
        parse_case(data, str(args.from_case))  # only a valid case is written into a workbook
    out = write_file_atomic(args.xlsx, template_bytes(data, lang=args.lang))
    _say(f"Case workbook written to {out}" + (f" (filled from {args.from_case})" if data else ""), f"{out} is written")
    return 0


def _template_tables(args: argparse.Namespace) -> int:
    """The entity-tables workbook of a group case, filled from a group case's tables with --from."""
    from planner.input.read import group_table_rows
    from planner.input.workbook import tables_template_bytes
    from planner.report.write import write_file_atomic

    tables = None
    if args.from_case is not None:
        from planner.input.read import load_group_case

        load_group_case(args.from_case, args.data_root)  # only a valid group case is written into a workbook
        tables = group_table_rows(args.from_case, args.data_root)
    out = write_file_atomic(args.xlsx, tables_template_bytes(tables, lang=args.lang))
    _say(f"Entity-tables workbook written to {out}" + (f" (filled from {args.from_case})" if tables else ""),
         f"{out} is written")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``planner compare``: print what differs between two plan folders (and write it as HTML
    with --html)."""
    from planner.report.compare import compare_html, compare_text, read_plan_folder
    from planner.report.write import output_errors, write_file_atomic

    a, b = read_plan_folder(args.plan_a), read_plan_folder(args.plan_b)
    if args.html is not None:
        with output_errors(args.html, "comparison page"):
            write_file_atomic(args.html, compare_html(a, b).encode("utf-8"))
    _say(compare_text(a, b).rstrip("\n"))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """``planner doctor``: print the versions, the solver and the rule packs; exit 3 with the fix
    when HiGHS cannot be used."""
    from planner.input.rulepack import available_packs
    from planner.solve.highs import check_solver

    ok, info = check_solver()
    for k, v in _versions().items():
        _say(f"{k:16s} {v}")
    _say(f"{'solver':16s} {info}")
    _say(f"{'rule packs':16s} {', '.join(available_packs())}")
    if not ok:
        try:
            pin = next(r for r in metadata.requires("cn-ets-planner") or [] if r.startswith("highspy"))
        except (metadata.PackageNotFoundError, StopIteration):
            pin = "highspy"
        _say(f"HiGHS is not usable. Fix: `pip install '{pin}'` in this environment ({sys.executable}), "
              "or reinstall the project (`pip install -e .`), then run `planner doctor` again.")
        return 3
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """``planner schema``: print the JSON schema of an entity case."""
    from planner.input.schema import CaseSpec

    _say(json.dumps(CaseSpec.model_json_schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_rulepack(args: argparse.Namespace) -> int:
    """``planner rulepack``: list the rule packs, or print one's parameters (as Markdown with
    --markdown)."""
    from planner.input.rulepack import available_packs, load_rule_pack, reference_markdown

    if args.list:
        _say("\n".join(available_packs()))
        return 0
    pack = load_rule_pack(args.pack)
    if args.markdown:
        _say(reference_markdown(pack).removesuffix("\n"))
        return 0
    _say(f"{pack.ref}: {pack.title}")
    for key in sorted(pack.params):
        p = pack.params[key]
        _say(f"  {key} = {p.value!r} [{p.unit}] ({p.confidence}) {p.source}")
    return 0


class UsageError(Exception):
    """A command line argparse refuses (unknown option, bad value): exit 1, not argparse's 2."""


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on a bad command line, the code that means "no proven optimal plan" here;
    a bad command line is invalid input (exit 1)."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _seconds(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text[:30]!r}")
    return x


def _gap(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (a relative gap, e.g. 1e-3), got {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (a relative gap, e.g. 1e-3), got {text!r}")
    return v


def _whole(low: int, what: str):
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = low - 1
        if n < low:
            raise argparse.ArgumentTypeError(f"expected a whole number of {what}, {low} or more, got {text[:30]!r}")
        return n

    return parse


def _workers(text: str) -> int:
    from planner.input.limits import over

    n = _whole(0, "worker processes")(text)
    problem = over("workers", n, "worker processes")
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return n


def _data_root(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", action="append", type=Path, default=None, metavar="DIR",
                   help="a folder (besides the group case's own) that its file references may point into; "
                        "repeat for more")


def build_parser() -> argparse.ArgumentParser:
    """The command line: every subcommand, its arguments and the function that runs it."""
    p = _Parser(prog="planner", description="China national ETS compliance planner")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-v", "--verbose", action="store_true", help="log stage timings")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check a case file and list every problem")
    v.add_argument("case", type=Path)
    _data_root(v)
    v.set_defaults(func=cmd_validate)
    r = sub.add_parser("run", help="solve a case (entity or group; YAML, JSON or .xlsx) and write the plan folder")
    r.add_argument("case", type=Path)
    r.add_argument("--out", type=Path, required=True, help="output folder (replaced atomically)")
    r.add_argument("--time-limit", type=_seconds, default=None,
                   help="solver time limit in seconds (default: the case's solver.time_limit_s, else 600)")
    r.add_argument("--mip-gap", type=_gap, default=None, metavar="GAP",
                   help="relative MIP gap to prove, e.g. 1e-3 (default: the case's solver.mip_rel_gap, else 1e-6; "
                        "groups of more than 100 entities 1e-3)")
    r.add_argument("--allow-nonoptimal", action="store_true", help="write a plan not proven optimal (marked so)")
    r.add_argument("--lang", choices=LANGS, default="en", help="labels of the HTML report and the workbook")
    r.add_argument("--units", choices=UNITS, default=None,
                   help="display units of the HTML report and the workbook: t/CNY or 万 (10,000); default 万 for zh")
    r.add_argument("--html", action=argparse.BooleanOptionalAction, default=True, help="write report.html (default on)")
    r.add_argument("--xlsx", action=argparse.BooleanOptionalAction, default=True, help="write plan.xlsx (default on)")
    _data_root(r)
    r.set_defaults(func=cmd_run)
    w = sub.add_parser(
        "sweep", help="solve many variants of a case (sensitivity and scenario studies)"
    )
    w.add_argument("case", type=Path, help="entity or group case file")
    w.add_argument(
        "sweep", type=Path, help="sweep file (YAML/JSON): scenarios, grid, tornado, price_paths"
    )
    w.add_argument(
        "--out", type=Path, required=True, help="output folder (finished scenarios streamed here)"
    )
    w.add_argument(
        "--workers",
        type=_workers,
        default=None,
        help="worker processes (default: CPU count; 0 = in this process)",
    )
    w.add_argument(
        "--scheduler",
        default=None,
        help="run on Dask distributed: 'local' (LocalCluster on loopback) or a scheduler address",
    )
    w.add_argument("--resume", action="store_true", help="complete an interrupted sweep in --out")
    w.add_argument(
        "--chunk-size",
        type=_whole(1, "scenarios"),
        default=None,
        help="scenarios per task (default: about 16 tasks of 2-50 scenarios, whatever --workers)",
    )
    w.add_argument("--time-limit", type=_seconds, default=None,
                   help="solver time limit per scenario in seconds (default: the case's solver.time_limit_s, else 60)")
    _data_root(w)
    w.set_defaults(func=cmd_sweep)
    t = sub.add_parser("template", help="write the Excel case template (optionally filled from a case file)")
    t.add_argument("--xlsx", type=Path, required=True, help="workbook to write (.xlsx)")
    t.add_argument("--from", dest="from_case", type=Path, default=None, help="fill it from this YAML/JSON case")
    t.add_argument("--tables", action="store_true",
                   help="write the entity-tables workbook of a group case (sheets plants, measures, activity); "
                        "--from a group case fills it from its tables")
    t.add_argument("--lang", choices=LANGS, default="en",
                   help="language of the help texts (zh: Chinese; sheet and field names stay as they are)")
    _data_root(t)
    t.set_defaults(func=cmd_template)
    c = sub.add_parser("compare", help="two plan folders side by side: costs, decisions by year, binding rules, what changed")
    c.add_argument("plan_a", type=Path, help="plan folder A (written by planner run)")
    c.add_argument("plan_b", type=Path, help="plan folder B: changes are B - A")
    c.add_argument("--html", type=Path, default=None, metavar="FILE", help="also write the comparison as one HTML page")
    c.set_defaults(func=cmd_compare)
    d = sub.add_parser("doctor", help="check the installation and the solver")
    d.set_defaults(func=cmd_doctor)
    s = sub.add_parser("schema", help="print the case JSON schema")
    s.set_defaults(func=cmd_schema)
    k = sub.add_parser("rulepack", help="show a rule pack's parameters with their sources (--markdown: docs table)")
    k.add_argument("pack", nargs="?", default="cn-national", help="pack reference, id or id@version")
    k.add_argument("--markdown", action="store_true", help="the reference table published in docs/rulepack.md")
    k.add_argument("--list", action="store_true", help="list the available packs")
    k.set_defaults(func=cmd_rulepack)
    from planner.market.command import add_market_parser

    add_market_parser(sub)
    return p


def _tolerant_streams() -> None:
    """Text that the terminal's encoding cannot show (Chinese names under an ASCII locale, a
    surrogate) is printed escaped instead of ending the run."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass


def _error(text: str) -> None:
    """One message on standard error (which may be closed too: then the exit code says it all)."""
    try:
        print(text, file=sys.stderr)
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    """The ``planner`` entry point: run the command of ``argv`` and return its exit code, an
    error as one line on stderr (a traceback only with --debug)."""
    _tolerant_streams()
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        _error(f"error: {exc} (planner --help lists the commands and options)")
        return 1
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.INFO if args.verbose else logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except PlannerError as exc:
        if args.debug:
            raise
        _error(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except MemoryError:
        if args.debug:
            raise
        _error(f"error: {ResourceError('out of memory: the case is too large for this machine')}")
        return ResourceError.exit_code
    except RuntimeError as exc:
        if args.debug or "can't start new thread" not in str(exc):
            return _internal(args, exc)
        _error(f"error: the machine cannot start another thread ({exc}); use fewer --workers or solver threads")
        return ResourceError.exit_code
    except Exception as exc:  # an unexpected failure is a bug: say so briefly
        return _internal(args, exc)


def _internal(args: argparse.Namespace, exc: BaseException) -> int:
    if args.debug:
        raise exc
    _error(f"internal error ({type(exc).__name__}): {exc}\nrun again with --debug for the traceback")
    return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
