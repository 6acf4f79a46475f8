"""Command line: validate | run | doctor | schema. Thin over ``planner.api``; logging set up here only.

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

from planner.errors import CaseValidationError, PlannerError

logger = logging.getLogger("planner")


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("cn-ets-planner", "pyomo", "highspy", "pandas", "pydantic", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def cmd_validate(args: argparse.Namespace) -> int:
    from planner.io import is_group_case, load_case
    from planner.numerics import input_warnings
    from planner.prepare import prepare

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
    from planner.group_prepare import prepare_group
    from planner.io import load_group_case

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


def _run_group(args: argparse.Namespace, over: dict) -> int:
    from planner import group_api
    from planner.group_report import terminal_group_summary
    from planner.io import file_sha256, load_group_case, write_group_plan

    spec = load_group_case(args.case)
    try:
        result = group_api.run_group(spec, group_api.options_for(spec, **over))
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    audit = {
        "input_file": str(args.case),
        "input_sha256": file_sha256(args.case),
        "rule_pack": result.prep.pack.ref,
        "rule_pack_overrides": dict(result.prep.pack.overrides),
        "versions": _versions(),
        "solver": result.solve.solver_version,
        "solver_options": result.solve.options,
        "status": str(result.solve.status),
        "mip_gap": result.solve.gap,
        "checker": "passed",
    }
    run = {
        "timings_s": {k: round(v, 4) for k, v in result.solve.timings.items()},
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = write_group_plan(result.plan, args.out, audit, run)
    print(terminal_group_summary(result.plan))
    print(f"\nGroup plan written to {out}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from planner import api
    from planner.io import file_sha256, is_group_case, load_case, write_plan
    from planner.report import terminal_summary

    over = {}
    if args.time_limit is not None:
        over["time_limit_s"] = args.time_limit
    if args.allow_nonoptimal:
        over["allow_nonoptimal"] = True
    if is_group_case(args.case):
        return _run_group(args, over)
    case = load_case(args.case)
    try:
        result = api.run(case, api.options_for(case, **over))
    except CaseValidationError as exc:
        raise exc.in_file(str(args.case)) from None
    audit = {
        "input_file": str(args.case),
        "input_sha256": file_sha256(args.case),
        "rule_pack": result.prep.pack.ref,
        "rule_pack_overrides": dict(result.prep.pack.overrides),
        "versions": _versions(),
        "solver": result.solve.solver_version,
        "solver_options": result.solve.options,
        "status": str(result.solve.status),
        "mip_gap": result.solve.gap,
        "checker": "passed",
    }
    run = {  # what differs between two runs of the same case: kept out of the other files
        "timings_s": {k: round(v, 4) for k, v in result.solve.timings.items()},
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = write_plan(result.plan, args.out, audit, run)
    print(terminal_summary(result.plan))
    print(f"\nPlan written to {out}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from planner.rulepack import available_packs
    from planner.solve import check_solver

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
    from planner.schema import CaseSpec

    print(json.dumps(CaseSpec.model_json_schema(), indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="planner", description="China national ETS compliance planner")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("-v", "--verbose", action="store_true", help="log stage timings")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check a case file and list every problem")
    v.add_argument("case", type=Path)
    v.set_defaults(func=cmd_validate)
    r = sub.add_parser("run", help="solve a case (entity or group) and write the plan folder")
    r.add_argument("case", type=Path)
    r.add_argument("--out", type=Path, required=True, help="output folder (replaced atomically)")
    r.add_argument("--time-limit", type=float, default=None, help="solver time limit in seconds")
    r.add_argument("--allow-nonoptimal", action="store_true", help="write a plan not proven optimal (marked so)")
    r.set_defaults(func=cmd_run)
    d = sub.add_parser("doctor", help="check the installation and the solver")
    d.set_defaults(func=cmd_doctor)
    s = sub.add_parser("schema", help="print the case JSON schema")
    s.set_defaults(func=cmd_schema)
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
