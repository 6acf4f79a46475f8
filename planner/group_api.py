"""Orchestration of a group case: prepare, build, solve, check, and the stand-alone comparison."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from planner.errors import PlanCheckError
from planner.input.group_schema import GroupCaseSpec
from planner.input.read import load_group_case
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

if TYPE_CHECKING:
    from planner.plan.group import GroupPlan

# Pyomo (models.build_model, the extraction from a Pyomo model) and pandas (the plan tables, the
# checker) are imported where they are used, after the solve: preparing, assembling and solving a
# group needs neither, and their ~100 MB would otherwise sit under the solver's memory peak.

logger = logging.getLogger(__name__)


@dataclass
class GroupRunResult:
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


def options_for(spec: GroupCaseSpec, **overrides) -> SolveOptions:
    """Solver options of the group: those of the first entity case, with caller overrides; a large
    group without a MIP gap of its own gets ``LARGE_GROUP_MIP_GAP``."""
    section = spec.entities[0].solver
    if len(spec.entities) > LARGE_GROUP_ENTITIES and "mip_rel_gap" not in section.model_fields_set:
        overrides = {"mip_rel_gap": LARGE_GROUP_MIP_GAP, **overrides}
    return options_from_section(section, **overrides)


def large_group_gap_note(proven: float | None, asked: float) -> str:
    """What the MIP gap of a large group's plan means (the audit record holds both numbers too)."""
    shown = "not proven" if proven is None else f"{proven:.2%}"
    return (f"MIP gap proven: {shown} (asked for: {asked:.2%}; groups of more than {LARGE_GROUP_ENTITIES} entities "
            f"are solved to {LARGE_GROUP_MIP_GAP:.1%} unless solver.mip_rel_gap or --mip-gap says otherwise): no plan "
            "costs less than this plan's NPV cost by more than that share.")


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
    why = fast_path(prep.data, opts)
    progress.stage("solving the group (HiGHS)")
    if why is None:
        # repeated entity blocks assembled with NumPy: the same problem as the Pyomo build (tested
        # in tests/solver/test_assemble.py), without Pyomo's per-component work
        res, results, links = solve_arrays(prep.data, opts)
        res.timings["build_s"] = prepare_s
        res.timings["prepare_s"] = prepare_s
        t1 = time.perf_counter()
    else:
        logger.info("group %s: Pyomo build (%s is not array-assembled)", spec.group.id, why)
        from models import build_model, extract_links, extract_results

        m = build_model(prep.data)
        build_s = time.perf_counter() - t0
        res = solve_model(m, opts)
        res.timings["build_s"] = build_s
        res.timings["prepare_s"] = prepare_s
        t1 = time.perf_counter()
        df = dict(zip(prep.data.years, prep.data.discount_factor, strict=True))
        results = extract_results(m, df, res.duals)
        links = extract_links(m)
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
    if failures:
        raise PlanCheckError(failures)
    if res.status != "optimal":
        plan.notes.insert(0, f"NOT PROVEN OPTIMAL: the solver stopped with status {res.termination}; gap {res.gap}.")
    if res.is_mip and len(spec.entities) > LARGE_GROUP_ENTITIES:
        plan.notes.append(large_group_gap_note(res.gap, opts.mip_rel_gap))
    settle_hits(derived_bound_hits(prep.data, plan.entities.annual, plan.transfers), res, opts, plan.summary, plan.notes)
    if alone_res is not None and alone_res.status != "optimal":
        plan.notes.insert(0, f"The stand-alone plans are not proven optimal ({alone_res.termination}); the value of pooling is approximate.")
    return GroupRunResult(plan=plan, solve=res, prep=prep, standalone=alone_res, check_failures=failures)
