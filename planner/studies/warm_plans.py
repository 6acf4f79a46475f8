"""Full, checked plans of variants solved warm (``planner.solve.warm.WarmSolver``).

The warm solver returns result frames; this module makes them into the plans ``planner.api`` and
``planner.api`` make (``assemble_plan``, ``assemble_group_plan``; a group without the
stand-alone comparison) and checks them with the independent checker unless the solver was made
with ``check=False``. Sweeps plan their "plan" tables here and verify their fast ledgers against
these plans.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from planner.errors import NonOptimalError, PlanCheckError
from planner.plan.check import check_group, check_plan
from planner.plan.entity import Plan, assemble_plan
from planner.plan.group import assemble_group_plan
from planner.prepare.entity import PreparedCase
from planner.prepare.group import PreparedGroup
from planner.solve.highs import SolveResult, raise_unless_allowed
from planner.solve.warm import WarmSolver


@dataclass
class VariantResult:
    """A planned variant: the plan (None when infeasible etc.), the solve result and the path taken."""

    plan: Plan | None
    solve: SolveResult
    path: str
    error: str | None = None


def plan_variant(ws: WarmSolver, prep: PreparedCase, tables=None) -> VariantResult:
    """Plan one prepared entity variant (a ``planner.api``-equivalent plan, checked). ``tables``: a
    ``planner.plan.entity_tables.EntityTables`` (the same tables from the layout it keeps between
    variants, checked by ``check_plan_arrays``); None: ``assemble_plan`` and ``check_plan``."""
    if tables is not None:
        from planner.plan.entity_tables import check_plan_arrays

        return _plan(ws, prep, lambda results, _links, res: tables.assemble(prep, results, res), check_plan_arrays)
    return _plan(ws, prep, lambda results, _links, res: assemble_plan(prep, results, res), check_plan)


def plan_group_variant(ws: WarmSolver, prep: PreparedGroup) -> VariantResult:
    """Plan one prepared group variant (a ``planner.api``-equivalent plan without the
    stand-alone comparison), checked by ``planner.plan.check.check_group``."""
    return _plan(
        ws, prep, lambda results, links, res: assemble_group_plan(prep, results, links, res, None), check_group
    )


def _plan(ws: WarmSolver, prep, assemble, check) -> VariantResult:
    """Solve, then assemble the plan tables and check them (``check(data, plan, objective=)``);
    a solve without a plan the options accept is returned with its error."""
    path, res, results, links = ws.solve_results(prep)
    if results is None:
        try:
            raise_unless_allowed(res, ws.opts)
        except NonOptimalError as exc:
            return VariantResult(plan=None, solve=res, path=path, error=str(exc))
    t0 = time.perf_counter()
    plan = assemble(results, links, res)
    if ws.check:
        failures = check(prep.data, plan, objective=res.objective)
        if failures:
            raise PlanCheckError(failures)
    ws.stats.add("plan_s", time.perf_counter() - t0)
    return VariantResult(plan=plan, solve=res, path=path)
