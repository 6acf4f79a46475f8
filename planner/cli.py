"""Command line: validate | run | template | sweep | rulepack | doctor | schema. Thin over ``planner.api``; logging set up here only.

Exit codes: 0 ok; 1 invalid input; 2 infeasible or not proven optimal; 3 solver unavailable;
4 the plan failed the independent checker (nothing written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from planner.errors import CaseValidationError, PlannerError

logger = logging.getLogger("planner")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("cn-ets-planner", "pyomo", "highspy", "pandas", "pydantic", "numpy", "pyyaml", "openpyxl", "xlsxwriter"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def cmd_validate(args: argparse.Namespace) -> int:
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
    print(f"{args.case}: valid case for {case.entity.id}, years {case.years[0]}-{case.years[-1]}, "
          f"rule pack {prep.pack.ref}")
    for w in prep.warnings + scale:
        print(f"warning: {w}")
    return 0


def _validate_group(args: argparse.Namespace) -> int:
    from planner.input.read import load_group_case
    from planner.prepare.group import prepare_group

    spec = load_group_case(args.case)
    try:
        prep = prepare_group(spec)
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    years = spec.group.horizon.years
    print(f"{args.case}: valid group case {spec.group.id} with {len(spec.entities)} entities, years {years[0]}-{years[-1]}, "
          f"rule pack {prep.pack.ref}")
    for w in prep.warnings:
        print(f"warning: {w}")
    return 0


def _audit_and_run(args: argparse.Namespace, result, units: str, *, input_format: str, input_sha256: str,
                   **inputs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit record of a plan folder (the same for every run of the same input) and run.json
    (what differs between runs: timings and timestamp). ``inputs``: more input hashes (groups)."""
    from planner.input.rulepack import pack_file_sha256

    audit = {
        "input_file": str(args.case),
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


def _run_group(args: argparse.Namespace, over: dict) -> int:
    from planner import group_api
    from planner.input.read import file_sha256, group_input_hashes, load_group_case
    from planner.report.write import write_group_plan

    units = args.units or ("wan" if args.lang == "zh" else "t")
    spec = load_group_case(args.case)
    try:
        result = group_api.run_group(spec, group_api.options_for(spec, **over))
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    audit, run = _audit_and_run(args, result, units, input_format="group " + args.case.suffix.lower().lstrip("."),
                                input_sha256=file_sha256(args.case), input_files_sha256=group_input_hashes(args.case))
    out = write_group_plan(result.plan, args.out, audit, run, html=args.html, xlsx=args.xlsx, lang=args.lang, units=units)
    # pandas: imported after the solve (see planner.group_api)
    from planner.report.group import terminal_group_summary

    print(terminal_group_summary(result.plan))
    print(f"\nGroup plan written to {out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from planner.input.read import is_group_case

    over = {}
    if args.time_limit is not None:
        over["time_limit_s"] = args.time_limit
    if args.allow_nonoptimal:
        over["allow_nonoptimal"] = True
    if is_group_case(args.case):
        return _run_group(args, over)
    from planner import api
    from planner.input.read import read_case
    from planner.report.text import terminal_summary
    from planner.report.write import write_plan

    case, sha = read_case(args.case)
    try:
        result = api.run(case, api.options_for(case, **over))
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    units = args.units or ("wan" if args.lang == "zh" else "t")
    audit, run = _audit_and_run(args, result, units, input_format=args.case.suffix.lower().lstrip("."), input_sha256=sha)
    out = write_plan(result.plan, args.out, audit, run, html=args.html, xlsx=args.xlsx, lang=args.lang, units=units)
    print(terminal_summary(result.plan))
    print(f"\nPlan written to {out}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    import os

    from planner.input.read import (
        file_sha256,
        is_group_case,
        load_case,
        load_group_case,
        read_case_data,
    )
    from planner.studies import sweepio
    from planner.studies.plots import all_figures
    from planner.studies.sweep import sweep
    from planner.studies.variants import SweepSpec

    group = is_group_case(args.case)
    case = load_group_case(args.case) if group else load_case(args.case)
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
    try:
        res = sweep(
            case,
            spec,
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
        raise exc.in_file(str(args.case)) from None
    if spec.plots:
        sweepio.save_figures(args.out, all_figures(res.frame))
    st = res.stats
    sc = res.scenarios
    bad = sc[sc["status"] != "optimal"]
    print(
        f"{st['scenarios']} scenarios ({st['resumed']} already done, {st['solved_now']} solved now) "
        f"in {st['run_s']:.1f} s; solver paths {st['paths']}"
    )
    ok = sc[sc["status"] == "optimal"]["npv_cost_cny"]
    if len(ok):
        print(f"NPV cost: min {ok.min():,.0f}  median {ok.median():,.0f}  max {ok.max():,.0f} CNY")
    if len(bad):
        print(
            f"{len(bad)} scenario(s) without an optimal plan: {', '.join(bad['scenario'].head(10))}"
            f"{' ...' if len(bad) > 10 else ''} (status and error in scenarios.csv)"
        )
    print(
        f"Results written to {args.out} (results.parquet, scenarios.csv{', plots/' if spec.plots else ''})"
    )
    return 2 if len(bad) else 0
def cmd_template(args: argparse.Namespace) -> int:
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
    out = write_file_atomic(args.xlsx, template_bytes(data))
    print(f"Case workbook written to {out}" + (f" (filled from {args.from_case})" if data else ""))
    return 0


def _template_tables(args: argparse.Namespace) -> int:
    """The entity-tables workbook of a group case, filled from a group case's tables with --from."""
    from planner.input.read import group_table_rows
    from planner.input.workbook import tables_template_bytes
    from planner.report.write import write_file_atomic

    tables = None
    if args.from_case is not None:
        from planner.input.read import load_group_case

        load_group_case(args.from_case)  # only a valid group case is written into a workbook
        tables = group_table_rows(args.from_case)
    out = write_file_atomic(args.xlsx, tables_template_bytes(tables))
    print(f"Entity-tables workbook written to {out}" + (f" (filled from {args.from_case})" if tables else ""))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from planner.input.rulepack import available_packs
    from planner.solve.highs import check_solver

    ok, info = check_solver()
    for k, v in _versions().items():
        print(f"{k:16s} {v}")
    print(f"{'solver':16s} {info}")
    print(f"{'rule packs':16s} {', '.join(available_packs())}")
    if not ok:
        try:
            pin = next(r for r in metadata.requires("cn-ets-planner") or [] if r.startswith("highspy"))
        except (metadata.PackageNotFoundError, StopIteration):
            pin = "highspy"
        print(f"HiGHS is not usable. Fix: `pip install '{pin}'` in this environment ({sys.executable}), "
              "or reinstall the project (`pip install -e .`), then run `planner doctor` again.")
        return 3
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from planner.input.schema import CaseSpec

    print(json.dumps(CaseSpec.model_json_schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_rulepack(args: argparse.Namespace) -> int:
    from planner.input.rulepack import available_packs, load_rule_pack, reference_markdown

    if args.list:
        print("\n".join(available_packs()))
        return 0
    pack = load_rule_pack(args.pack)
    if args.markdown:
        sys.stdout.write(reference_markdown(pack))
        return 0
    print(f"{pack.ref}: {pack.title}")
    for key in sorted(pack.params):
        p = pack.params[key]
        print(f"  {key} = {p.value!r} [{p.unit}] ({p.confidence}) {p.source}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="planner", description="China national ETS compliance planner")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-v", "--verbose", action="store_true", help="log stage timings")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check a case file and list every problem")
    v.add_argument("case", type=Path)
    v.set_defaults(func=cmd_validate)
    r = sub.add_parser("run", help="solve a case (entity or group; YAML, JSON or .xlsx) and write the plan folder")
    r.add_argument("case", type=Path)
    r.add_argument("--out", type=Path, required=True, help="output folder (replaced atomically)")
    r.add_argument("--time-limit", type=float, default=None, help="solver time limit in seconds")
    r.add_argument("--allow-nonoptimal", action="store_true", help="write a plan not proven optimal (marked so)")
    r.add_argument("--lang", choices=("en", "zh"), default="en", help="labels of the HTML report and the workbook")
    r.add_argument("--units", choices=("t", "wan"), default=None,
                   help="display units of the HTML report and the workbook: t/CNY or 万 (10,000); default 万 for zh")
    r.add_argument("--html", action=argparse.BooleanOptionalAction, default=True, help="write report.html (default on)")
    r.add_argument("--xlsx", action=argparse.BooleanOptionalAction, default=True, help="write plan.xlsx (default on)")
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
        type=int,
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
        type=int,
        default=None,
        help="scenarios per task (default: about 16 tasks of 2-50 scenarios, whatever --workers)",
    )
    w.set_defaults(func=cmd_sweep)
    t = sub.add_parser("template", help="write the Excel case template (optionally filled from a case file)")
    t.add_argument("--xlsx", type=Path, required=True, help="workbook to write (.xlsx)")
    t.add_argument("--from", dest="from_case", type=Path, default=None, help="fill it from this YAML/JSON case")
    t.add_argument("--tables", action="store_true",
                   help="write the entity-tables workbook of a group case (sheets plants, measures, activity); "
                        "--from a group case fills it from its tables")
    t.set_defaults(func=cmd_template)
    d = sub.add_parser("doctor", help="check the installation and the solver")
    d.set_defaults(func=cmd_doctor)
    s = sub.add_parser("schema", help="print the case JSON schema")
    s.set_defaults(func=cmd_schema)
    k = sub.add_parser("rulepack", help="show a rule pack's parameters with their sources (--markdown: docs table)")
    k.add_argument("pack", nargs="?", default="cn-national", help="pack reference, id or id@version")
    k.add_argument("--markdown", action="store_true", help="the reference table published in docs/rulepack.md")
    k.add_argument("--list", action="store_true", help="list the available packs")
    k.set_defaults(func=cmd_rulepack)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else (logging.INFO if args.verbose else logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except PlannerError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected failure is a bug: say so briefly
        if args.debug:
            raise
        print(f"internal error ({type(exc).__name__}): {exc}\nrun again with --debug for the traceback",
              file=sys.stderr)
        return 70


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
