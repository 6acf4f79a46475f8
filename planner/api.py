"""Orchestration used by the CLI, scripts and sweeps: build, solve, check, plan."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyomo.environ as pyo

from models import build_model, extract_results
from planner.errors import InfeasibleError, PlanCheckError
from planner.input.read import load_case
from planner.input.schema import CaseSpec
from planner.plan.check import check_plan
from planner.plan.entity import Plan, assemble_plan, infeasibility_hints
from planner.prepare.entity import PreparedCase, prepare
from planner.solve.bounds import derived_bound_hits, refuse_unbounded, settle_hits
from planner.solve.highs import SolveOptions, SolveResult, options_from_section, solve_model
from planner.solve.numerics import input_warnings

logger = logging.getLogger(__name__)


@dataclass
class Built:
    """A prepared case and its Pyomo model, before solving (add custom constraints here)."""

    prep: PreparedCase
    model: pyo.ConcreteModel
    build_s: float


@dataclass
class RunResult:
    plan: Plan
    solve: SolveResult
    prep: PreparedCase
    check_failures: list[str]


def options_for(case: CaseSpec, **overrides: Any) -> SolveOptions:
    """Solver options from the case's ``solver`` section, with caller overrides."""
    return options_from_section(case.solver, **overrides)


def build(case: CaseSpec | str | Path) -> Built:
    """Validate (if a path), prepare and build the model."""
    if not isinstance(case, CaseSpec):
        case = load_case(case)
    t0 = time.perf_counter()
    prep = prepare(case)
    m = build_model(prep.data)
    dt = time.perf_counter() - t0
    logger.info("built model for %s in %.3f s", case.entity.id, dt)
    return Built(prep=prep, model=m, build_s=dt)


def solve(built: Built, opts: SolveOptions | None = None, *, check: bool = True) -> RunResult:
    """Solve a built model, extract the plan and run the independent checker.

    Raises ``PlanCheckError`` when ``check`` is set and the plan fails the checker.
    """
    opts = opts or options_for(built.prep.case)
    case_warnings = input_warnings(built.prep.case)
    refuse_unbounded(built.prep.data)
    try:
        res = solve_model(built.model, opts)
    except InfeasibleError as exc:
        hints = infeasibility_hints(built.prep.data)
        if not hints or type(exc) is not InfeasibleError:
            raise
        raise InfeasibleError(f"{exc}\nwhich inputs conflict:\n" + "\n".join(f"  - {h}" for h in hints), exc.result) from None
    res.warnings[:0] = case_warnings
    t0 = time.perf_counter()
    df = dict(zip(built.prep.data.years, built.prep.data.discount_factor, strict=True))
    results = extract_results(built.model, df, res.duals)
    plan = assemble_plan(built.prep, results, res)
    res.timings["build_s"] = built.build_s
    res.timings["extract_s"] = time.perf_counter() - t0
    plan.warnings.extend(res.warnings)
    failures = check_plan(built.prep.data, plan, objective=res.objective) if check else []
    if failures:
        raise PlanCheckError(failures + [f"(the model is badly scaled) {w}" for w in res.warnings])
    if res.status != "optimal":
        plan.notes.insert(
            0,
            f"NOT PROVEN OPTIMAL: the solver stopped with status {res.termination}; "
            f"gap {res.gap if res.gap is not None else 'unknown'}.",
        )
    settle_hits(derived_bound_hits(built.prep.data, plan.annual), res, opts, plan.summary, plan.notes)
    return RunResult(plan=plan, solve=res, prep=built.prep, check_failures=failures)


def run(case: CaseSpec | str | Path, opts: SolveOptions | None = None, *, check: bool = True) -> RunResult:
    """Build and solve in one call."""
    built = build(case)
    return solve(built, opts, check=check)
