"""Orchestration used by the CLI, scripts and sweeps: one ``run()`` for an entity case and a group
case (prepare, build, solve, plan tables, the independent checker).

Pyomo (the model builder, the extraction from a Pyomo model) and pandas (the plan tables, the
checker) are imported where they are used, after the solve: preparing, assembling and solving a
group on the array path needs neither, and their ~100 MB would otherwise sit under the solver's
memory peak (tests/solver/test_group_prepare.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import InfeasibleError, PlanCheckError
from planner.input.group_schema import GroupCaseSpec
from planner.input.read import is_group_case, load_case, load_group_case
from planner.input.schema import CaseSpec
from planner.prepare.entity import PreparedCase, prepare
from planner.prepare.group import PreparedGroup, prepare_group
from planner.solve.bounds import derived_bound_hits, refuse_unbounded, settle_hits
from planner.solve.highs import (
    SolveOptions,
    SolveResult,
    compile_assembled,
    options_from_section,
    release_freed_memory,
    solve_compiled,
    solve_model,
)
from planner.solve.numerics import input_warnings

if TYPE_CHECKING:
    import pyomo.environ as pyo

    from planner.plan.entity import Plan
    from planner.plan.group import GroupPlan

logger = logging.getLogger(__name__)


@dataclass
class Built:
    """A prepared case and its Pyomo model, before solving (add custom constraints here)."""

    prep: PreparedCase
    model: pyo.ConcreteModel
    build_s: float


@dataclass
class RunResult:
    """What ``run()`` returns for an entity case: the plan, the solve, the preparation and what
    the independent checker found wrong (empty: nothing)."""

    plan: Plan
    solve: SolveResult
    prep: PreparedCase
    check_failures: list[str]


@dataclass
class GroupRunResult:
    """What ``run()`` returns for a group case: as ``RunResult``, with the solve of the entities
    each planned alone (the value of pooling; None when it is not worked out)."""

    plan: GroupPlan
    solve: SolveResult
    prep: PreparedGroup
    standalone: SolveResult | None
    check_failures: list[str]


LARGE_GROUP_ENTITIES = 100
LARGE_GROUP_MIP_GAP = 1e-3
"""A group of more than ``LARGE_GROUP_ENTITIES`` entities whose case does not set
``solver.mip_rel_gap`` is solved to a relative MIP gap of 0.1%: proving the entity planner's 1e-6 on
thousands of net-sales floor binaries takes minutes for cost differences far below the precision
of the prices and emissions behind them. The plan states the gap asked for and the gap proven."""


def options_for(case: CaseSpec | GroupCaseSpec, **overrides: Any) -> SolveOptions:
    """Solver options from the case's ``solver`` section (a group's: its first entity case's), with
    caller overrides; a large group without a MIP gap of its own gets ``LARGE_GROUP_MIP_GAP``."""
    if isinstance(case, GroupCaseSpec):
        section = case.entities[0].solver
        if len(case.entities) > LARGE_GROUP_ENTITIES and "mip_rel_gap" not in section.model_fields_set:
            overrides = {"mip_rel_gap": LARGE_GROUP_MIP_GAP, **overrides}
    else:
        section = case.solver
    return options_from_section(section, **overrides)


def large_group_gap_note(proven: float | None, asked: float) -> str:
    """What the MIP gap of a large group's plan means (the audit record holds both numbers too)."""
    shown = "not proven" if proven is None else f"{proven:.2%}"
    return (f"MIP gap proven: {shown} (asked for: {asked:.2%}; groups of more than {LARGE_GROUP_ENTITIES} entities "
            f"are solved to {LARGE_GROUP_MIP_GAP:.1%} unless solver.mip_rel_gap or --mip-gap says otherwise): no plan "
            "costs less than this plan's NPV cost by more than that share.")


def run(case: CaseSpec | GroupCaseSpec | str | Path, opts: SolveOptions | None = None, *,
        check: bool = True, progress=None) -> RunResult | GroupRunResult:
    """Plan an entity case or a group case (a validated spec, or the path of a case file) in one
    call: a ``RunResult`` for an entity, a ``GroupRunResult`` for a group.

    Raises ``PlanCheckError`` when ``check`` is set and the plan fails the independent checker;
    a plan the solver did not prove optimal (allowed by ``opts``) says so first in its notes.
    ``progress``: a ``planner.progress.Progress`` told each stage of a group's run, or None."""
    if not isinstance(case, CaseSpec | GroupCaseSpec):
        case = load_group_case(case) if is_group_case(case) else load_case(case)
    if isinstance(case, GroupCaseSpec):
        return run_group(case, opts, check=check, progress=progress)
    return solve(build(case), opts, check=check)


def _accept(failures: list[str], res: SolveResult, notes: list[str]) -> None:
    """Refuse a plan the checker failed; note first in the plan's notes when the solve is not
    proven optimal."""
    if failures:
        raise PlanCheckError(failures + [f"(the model is badly scaled) {w}" for w in res.warnings])
    if res.status != "optimal":
        notes.insert(
            0,
            f"NOT PROVEN OPTIMAL: the solver stopped with status {res.termination}; "
            f"gap {res.gap if res.gap is not None else 'unknown'}.",
        )


def _discount_by_year(data) -> dict[int, float]:
    """The discount factor of every model year (what ``models.extract_results`` prices costs at)."""
    return dict(zip(data.years, data.discount_factor, strict=True))


# --- an entity case -------------------------------------------------------------------------


def build(case: CaseSpec | str | Path) -> Built:
    """Validate (if a path), prepare and build the model of an entity case."""
    from models import build_model

    if not isinstance(case, CaseSpec):
        case = load_case(case)
    t0 = time.perf_counter()
    prep = prepare(case)
    m = build_model(prep.data)
    dt = time.perf_counter() - t0
    logger.info("built model for %s in %.3f s", case.entity.id, dt)
    return Built(prep=prep, model=m, build_s=dt)


def solve(built: Built, opts: SolveOptions | None = None, *, check: bool = True) -> RunResult:
    """Solve a built entity model, extract the plan and run the independent checker.

    Raises ``PlanCheckError`` when ``check`` is set and the plan fails the checker.
    """
    from models import extract_results
    from planner.plan.check import check_plan
    from planner.plan.entity import assemble_plan, infeasibility_hints

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
    results = extract_results(built.model, _discount_by_year(built.prep.data), res.duals)
    plan = assemble_plan(built.prep, results, res)
    res.timings["build_s"] = built.build_s
    res.timings["extract_s"] = time.perf_counter() - t0
    plan.warnings.extend(res.warnings)
    failures = check_plan(built.prep.data, plan, objective=res.objective) if check else []
    _accept(failures, res, plan.notes)
    settle_hits(derived_bound_hits(built.prep.data, plan.annual), res, opts, plan.summary, plan.notes)
    return RunResult(plan=plan, solve=res, prep=built.prep, check_failures=failures)


# --- a group case ---------------------------------------------------------------------------


def fast_path(data, opts: SolveOptions) -> str | None:
    """Why the group cannot take the array-assembly path (``models.arrays.assemble``), or None when it can."""
    from models.arrays.assemble import unsupported

    if opts.backend != "direct":
        return f"solver backend {opts.backend}"
    return unsupported(data)


def solve_arrays(data, opts: SolveOptions):
    """Assemble ``data`` without Pyomo, solve it, and read the tables: (SolveResult, Results, LinkResults)."""
    from models.arrays.assemble import extract_arrays
    from planner.solve.numerics import scale_warnings

    t0 = time.perf_counter()
    cm = compile_assembled(data)
    warnings = scale_warnings(cm)
    res = solve_compiled(cm, opts, t_start=t0)
    res.warnings = warnings
    release_freed_memory()  # what HiGHS freed, before the tables are built
    t1 = time.perf_counter()
    import pandas  # noqa: F401  (first use in a run imports it now, after the solve: timed on its own)

    t2 = time.perf_counter()
    res.timings["import_tables_s"] = t2 - t1
    results, links = extract_arrays(cm.assembled, data, res.x, res.row_dual)
    res.timings["extract_arrays_s"] = time.perf_counter() - t2
    return res, results, links


def solve_standalone(prep: PreparedGroup, opts: SolveOptions, progress=None):
    """Every entity alone (no links, the group's discounting), each solved as its own model, as the
    entity planner would (``planner.solve.batch``): returns the worst status, and the costs and
    objective summed."""
    import pandas as pd

    from models import Results
    from planner.solve.batch import solve_each_alone

    r = solve_each_alone(prep.standalone, opts, fast_path, progress)
    empty = pd.DataFrame()
    return r.worst, Results(annual=empty, abatement=empty, builds=empty, project_years=empty, ccer_lots=empty,
                            costs=r.costs, duals=empty, objective_cny=r.objective_cny)


def _solve_group(prep: PreparedGroup, opts: SolveOptions, started: float, prepare_s: float):
    """Build (on the array path when the group's features allow it, else with Pyomo) and solve
    the group: (SolveResult, Results, LinkResults, when the results were read)."""
    why = fast_path(prep.data, opts)
    if why is None:
        # repeated entity blocks assembled with NumPy: the same problem as the Pyomo build (tested
        # in tests/solver/test_assemble.py), without Pyomo's per-component work
        res, results, links = solve_arrays(prep.data, opts)
        res.timings["build_s"] = prepare_s
        res.timings["prepare_s"] = prepare_s
        return res, results, links, time.perf_counter()
    logger.info("group %s: Pyomo build (%s is not array-assembled)", prep.spec.group.id, why)
    from models import build_model, extract_links, extract_results

    m = build_model(prep.data)
    build_s = time.perf_counter() - started
    res = solve_model(m, opts)
    res.timings["build_s"] = build_s
    res.timings["prepare_s"] = prepare_s
    t1 = time.perf_counter()
    return res, extract_results(m, _discount_by_year(prep.data), res.duals), extract_links(m), t1


def run_group(spec: GroupCaseSpec | str | Path, opts: SolveOptions | None = None, *, check: bool = True,
              progress=None) -> GroupRunResult:
    """Prepare, build and solve the group, check it, and solve the entities alone for the value of
    pooling. ``progress``: a ``planner.progress.Progress`` told each stage, or None."""
    from planner.progress import QUIET

    progress = progress or QUIET
    if not isinstance(spec, GroupCaseSpec):
        spec = load_group_case(spec)
    opts = opts or options_for(spec)
    progress.stage("preparing the entities")
    t0 = time.perf_counter()
    prep = prepare_group(spec)
    prepare_s = time.perf_counter() - t0
    refuse_unbounded(prep.data)
    if spec.value_of_pooling:
        refuse_unbounded(prep.standalone, "value of pooling, the entities alone (value_of_pooling: false plans the group "
                                          "without this comparison): ")
    progress.stage("solving the group (HiGHS)")
    res, results, links, t1 = _solve_group(prep, opts, t0, prepare_s)
    from planner.plan.check import check_group
    from planner.plan.group import assemble_group_plan

    alone_res = alone = None
    if spec.value_of_pooling:
        t2 = time.perf_counter()
        n = len(prep.standalone.entities)
        progress.stage("value of pooling: each entity alone", n)
        alone_res, alone = solve_standalone(prep, opts, lambda k: progress.count(k, n))
        res.timings["standalone_s"] = time.perf_counter() - t2
    progress.stage("plan tables and checker")
    t3 = time.perf_counter()
    plan = assemble_group_plan(prep, results, links, res, alone)
    t4 = time.perf_counter()
    res.timings["extract_s"] = t4 - t1
    res.timings["plan_tables_s"] = t4 - t3
    failures = check_group(prep.data, plan, objective=res.objective) if check else []
    res.timings["check_s"] = time.perf_counter() - t4
    _accept(failures, res, plan.notes)
    if res.is_mip and len(spec.entities) > LARGE_GROUP_ENTITIES:
        plan.notes.append(large_group_gap_note(res.gap, opts.mip_rel_gap))
    settle_hits(derived_bound_hits(prep.data, plan.entities.annual, plan.transfers), res, opts, plan.summary, plan.notes)
    if alone_res is not None and alone_res.status != "optimal":
        plan.notes.insert(0, f"The stand-alone plans are not proven optimal ({alone_res.termination}); the value of pooling is approximate.")
    return GroupRunResult(plan=plan, solve=res, prep=prep, standalone=alone_res, check_failures=failures)
