"""Stochastic compliance plans: price scenarios with probabilities -> hedged early decisions.

``stochastic_plan(case, scenarios)`` solves the extensive form (``models.stochastic``): one model
per scenario, expected discounted cost, and non-anticipativity. The first compliance year's
decisions are the same in every scenario (they are taken before prices are known); a decision of
a later year ``y`` is shared by the scenarios whose market and activity rows agree up to ``y``
(so a scenario tree that branches later is planned multi-stage). Reported with it:

- **WS** (wait-and-see): expected cost when each scenario is planned knowing its prices;
- **EV** plan: the plan for the probability-weighted mean prices, and **EEV**, the expected cost
  when its first-stage decisions are taken and later ones adapt as the prices become known (the
  extensive form with those decisions fixed, so EEV >= RP);
- **VSS** = EEV - RP (value of the stochastic solution) and **EVPI** = RP - WS.

``method="ph"`` solves the same two-stage problem by progressive hedging (mpi-sppy, without MPI
unless it is launched under MPI) and reports its first-stage decisions and expected cost.

A group case (``GroupCaseSpec``) is planned the same way: each scenario is the whole group model
(entity blocks and links), the shared decisions include the links (market trades, transfers,
pool purchases and holdings, price tiers; ``models.stochastic.GROUP_DECISIONS``), a history is
every entity's market and activity rows plus the group's pool and limit rows, the mean-value case
averages every entity's market rows and the pool's rows, and each scenario's plan is a group plan
checked by ``check_group``. Scenario overrides use the sweep paths of groups (``entities.<id|*>.…``,
``price_factor.<year>``, ``ccer_pool.rows.<year>.…``). Progressive hedging is for entity cases only
(see ``stochastic_plan``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import pyomo.environ as pyo

from models import build_model, extract_links, extract_results
from models.stochastic import build_extensive_form, decision_vars, decision_year, first_stage_cost
from planner.errors import CaseValidationError, NonOptimalError, PlanCheckError
from planner.input.group_schema import GroupCaseSpec
from planner.input.schema import CaseSpec
from planner.plan.check import check_group, check_plan
from planner.plan.entity import Plan, assemble_plan
from planner.plan.group import GroupPlan, assemble_group_plan
from planner.prepare.entity import PreparedCase, prepare
from planner.prepare.group import PreparedGroup, prepare_group
from planner.solve.bounds import refuse_unbounded
from planner.solve.highs import SolveOptions, solve_model
from planner.studies.variants import Variant, variant_case, variant_group_full


@dataclass
class StochasticResult:
    """A two-stage stochastic plan: the shared first-stage decisions, each scenario's costs and
    plan, and the RP, WS, EV and EEV costs."""

    first_stage: pd.DataFrame
    """Decisions shared by every scenario (entity, name, index, year, value)."""
    scenarios: pd.DataFrame
    """Per scenario: probability, cost in the stochastic plan, wait-and-see cost, EEV cost."""
    rp_cny: float
    ws_cny: float
    ev_cny: float
    eev_cny: float
    plans: dict[str, Plan | GroupPlan] = field(default_factory=dict)
    """Each scenario's plan in the stochastic solution (group plans for a group case)."""
    groups: dict[int, list[list[str]]] = field(default_factory=dict)
    ev_first_stage: pd.DataFrame = field(default_factory=pd.DataFrame)
    ph: dict[str, Any] = field(default_factory=dict)

    tolerance_cny: float = 0.0
    """How far apart two expected costs of the study can be from the solver's tolerance alone: the
    relative MIP gap (at least 1e-9, the LP's round-off) times the largest of RP, EEV and WS."""

    @property
    def vss_cny(self) -> float:
        """EEV - RP (>= 0 by definition; a negative difference within ``tolerance_cny`` is 0)."""
        return _nonnegative(self.eev_cny - self.rp_cny, self.tolerance_cny)

    @property
    def evpi_cny(self) -> float:
        """RP - WS (>= 0 by definition; a negative difference within ``tolerance_cny`` is 0)."""
        return _nonnegative(self.rp_cny - self.ws_cny, self.tolerance_cny)


def _nonnegative(d: float, tol: float) -> float:
    """A difference that is >= 0 in exact arithmetic: solver noise below zero (within ``tol``) as
    0.0; a larger negative value is returned as it is (a defect to see, not to hide)."""
    return 0.0 if -tol <= d < 0 else d


def _tolerance(opts: SolveOptions, *costs: float) -> float:
    size = max([1.0, *(abs(c) for c in costs if math.isfinite(c))])
    return max(opts.mip_rel_gap, 1e-9) * size


def _variants(scenarios: Any) -> list[Variant]:
    out = []
    for i, s in enumerate(scenarios):
        if isinstance(s, Variant):
            out.append(s)
        else:
            d = s if isinstance(s, dict) else s.model_dump()
            out.append(Variant(str(d.get("id", f"s{i}")), dict(d.get("overrides", {})), "scenario", d.get("probability")))
    probs = [v.probability for v in out]
    if any(p is None for p in probs):
        raise CaseValidationError("<scenarios>", [("probability", "every scenario of a stochastic plan needs a probability")])
    if not math.isclose(sum(probs), 1.0, abs_tol=1e-9):
        raise CaseValidationError("<scenarios>", [("probability", f"scenario probabilities add up to {sum(probs)}, not 1")])
    return out


def _history(case: CaseSpec | GroupCaseSpec, y: int) -> str:
    if isinstance(case, GroupCaseSpec):
        pool = case.ccer_pool.rows if case.ccer_pool is not None else []
        rows = [_history(c, y) for c in case.entities]
        rows += [r.model_dump() for r in (*pool, *case.limits) if r.year <= y]
        return repr(rows)
    rows = [r.model_dump() for r in case.market if r.year <= y] + [r.model_dump() for r in case.activity if r.year <= y]
    return repr(rows)


def _years(case: CaseSpec | GroupCaseSpec) -> list[int]:
    return list(case.group.horizon.years) if isinstance(case, GroupCaseSpec) else list(case.years)


def nonanticipativity_groups(cases: dict[str, CaseSpec | GroupCaseSpec], first_stage_years: int = 1) -> dict[int, list[list[str]]]:
    """Per year, the groups of scenarios that must decide alike: all scenarios in the first
    ``first_stage_years`` years; later, those with the same market and activity rows so far."""
    names = list(cases)
    years = _years(cases[names[0]])
    out: dict[int, list[list[str]]] = {}
    for i, y in enumerate(years):
        if i < first_stage_years:
            out[y] = [names]
            continue
        by: dict[str, list[str]] = {}
        for s in names:
            by.setdefault(_history(cases[s], y), []).append(s)
        grps = [g for g in by.values() if len(g) > 1]
        if grps:
            out[y] = grps
    return out


def _mean_rows(prefix: str, rows, scen_rows: list, probs: list[float]) -> dict[str, Any]:
    """Overrides setting every numeric field of the year rows ``rows`` to its probability-weighted
    mean over the scenarios' rows (``scen_rows[k]``: scenario k's rows of the same table)."""
    over: dict[str, Any] = {}
    for r in rows:
        for fld, val in r.model_dump().items():
            if fld == "year" or isinstance(val, bool):
                continue
            vals = [getattr(next(x for x in sr if x.year == r.year), fld) for sr in scen_rows]
            if all(v is None for v in vals):
                continue
            if any(v is None for v in vals):
                raise CaseValidationError("<scenarios>", [(f"{prefix}.{r.year}.{fld}", "given in some scenarios only; cannot average")])
            over[f"{prefix}.{r.year}.{fld}"] = sum(p * v for p, v in zip(probs, vals, strict=True))
    return over


def mean_case(case: CaseSpec | GroupCaseSpec, cases: dict[str, CaseSpec | GroupCaseSpec], probs: dict[str, float]):
    """The expected-value case: every numeric market field at its probability-weighted mean (for a
    group: every entity's market rows and the CCER pool's rows)."""
    p = [probs[s] for s in cases]
    if not isinstance(case, GroupCaseSpec):
        return case.with_overrides(_mean_rows("market", case.market, [c.market for c in cases.values()], p))
    over: dict[str, Any] = {}
    for k, e in enumerate(case.entities):
        over.update(_mean_rows(f"entities.{e.entity.id}.market", e.market, [c.entities[k].market for c in cases.values()], p))
    if case.ccer_pool is not None:
        over.update(_mean_rows("ccer_pool.rows", case.ccer_pool.rows, [c.ccer_pool.rows for c in cases.values()], p))
    return variant_group_full(case, Variant("mean", over, "scenario"))


def _plan_of(prep: PreparedCase | PreparedGroup, m: pyo.ConcreteModel, res, scale: float, check: bool) -> Plan | GroupPlan:
    """The plan of one scenario block ``m`` of the solved extensive form (its duals divided by the
    scenario's probability ``scale``: d expected cost / d bound -> d scenario cost / d bound)."""
    df = dict(zip(prep.data.years, prep.data.discount_factor, strict=True))
    duals = {c: d / scale for c, d in res.duals.items()} if scale != 1.0 else res.duals
    results = extract_results(m, df, duals)
    if isinstance(prep, PreparedGroup):
        plan = assemble_group_plan(prep, results, extract_links(m), res)
        fails = check_group(prep.data, plan, objective=results.objective_cny) if check else []
    else:
        plan = assemble_plan(prep, results, res)
        fails = check_plan(prep.data, plan, objective=results.objective_cny) if check else []
    if fails:
        raise PlanCheckError(fails)
    return plan


def _solve_one(prep: PreparedCase | PreparedGroup, opts: SolveOptions, fixed: dict[tuple, float] | None = None) -> tuple[pyo.ConcreteModel, Any]:
    m = build_model(prep.data)
    if fixed:
        dv = decision_vars(m, prep.data.years)
        for k, v in fixed.items():
            dv[k].fix(v)
    return m, solve_model(m, opts)


def _expected_with_first_stage(
    preps: dict[str, PreparedCase | PreparedGroup],
    probs: dict[str, float],
    groups: dict[int, list[list[str]]],
    fixed: dict[tuple, float],
    opts: SolveOptions,
) -> tuple[float, dict[str, float]]:
    """Expected cost (and each scenario's cost) of the best plan whose first-stage decisions are
    ``fixed``: the extensive form of the same tree with those decisions fixed in every scenario.

    The later decisions keep the tree's non-anticipativity: a year that the scenarios still share
    (no price has branched yet) is decided once for them, as in the recourse problem. Re-planning
    each scenario alone would let those years see the scenario's later prices, and the result could
    fall below the recourse problem's cost (EEV < RP). ``inf`` when the decisions are infeasible."""
    models = {s: build_model(p.data) for s, p in preps.items()}
    ef = build_extensive_form(models, probs, groups)
    years = list(next(iter(preps.values())).data.years)
    for s in preps:
        dv = decision_vars(ef.scen[s], years)
        for k, v in fixed.items():
            dv[k].fix(v)
    try:
        solve_model(ef, opts)
    except NonOptimalError:  # the decisions can be infeasible in a scenario
        return math.inf, dict.fromkeys(preps, math.inf)
    cost = {s: float(pyo.value(ef.scen[s].objective.expr)) for s in preps}
    return sum(probs[s] * cost[s] for s in preps), cost


def _first_stage(dv: dict[tuple, Any], years: set[int]) -> dict[tuple, float]:
    return {k: float(pyo.value(v)) for k, v in dv.items() if decision_year(k[2], years) is not None}


def _frame(values: dict[tuple, float], years: set[int]) -> pd.DataFrame:
    """A table of decisions; values that are zero up to solver noise print as 0.0 (never -0.0)."""
    rows = [
        {"entity": k[0], "name": k[1], "index": str(k[2]), "year": decision_year(k[2], years), "value": _zero(v)}
        for k, v in values.items()
    ]
    return pd.DataFrame(rows, columns=["entity", "name", "index", "year", "value"])


def _zero(v: float) -> float:
    """``v``, with solver noise around zero (HiGHS returns -0.0 and values of order 1e-12) as 0.0."""
    return 0.0 if abs(v) < 1e-9 else v


def stochastic_plan(
    case: CaseSpec | GroupCaseSpec,
    scenarios: Any,
    *,
    first_stage_years: int = 1,
    opts: SolveOptions | None = None,
    check: bool = True,
    method: str = "ef",
    ph_options: dict[str, Any] | None = None,
) -> StochasticResult:
    """Hedged plan over ``scenarios`` (``{id, overrides, probability}`` dicts or ``Variant``s) of an
    entity case or a group case."""
    opts = opts or SolveOptions()
    vs = _variants(scenarios)
    group = isinstance(case, GroupCaseSpec)
    if group and method == "ph":
        # intra-group transfers without fees leave first-year decisions degenerate: PH (mpi-sppy,
        # linearised proximal terms) did not reach a consensus in 500 iterations on a two-plant group.
        # Net transfers as the shared decisions, a quadratic proximal term and a bound-gap stop
        # agree with the extensive form on the hand cases, but HiGHS's QP did not return on a
        # generated 3-plant group (docs/sweeps.md, "Group cases"): refused until that is solved
        raise CaseValidationError("<scenarios>", [("method", "progressive hedging takes entity cases; plan a group case with the extensive form (method 'ef')")])
    cases = {v.id: (variant_group_full(case, v) if group else variant_case(case, v)) for v in vs}
    probs = {v.id: float(v.probability) for v in vs}
    prep_of = prepare_group if group else prepare
    preps = {s: prep_of(c) for s, c in cases.items()}
    for s, p in preps.items():  # no expected cost exists where a scenario's prices pay without limit
        refuse_unbounded(p.data, f"scenario {s}: ")
    years = _years(case)
    stage1 = set(years[:first_stage_years])
    groups = nonanticipativity_groups(cases, first_stage_years)

    # recourse problem (extensive form)
    models = {s: build_model(p.data) for s, p in preps.items()}
    ef = build_extensive_form(models, probs, groups)
    res = solve_model(ef, opts)
    rp = float(res.objective)
    plans = {s: _plan_of(preps[s], ef.scen[s], res, probs[s], check) for s in preps}
    first = _first_stage(decision_vars(ef.scen[vs[0].id], years), stage1)

    # wait-and-see (only the costs are read: no tie-break, no duals)
    cost_only = replace(opts, duals=False, tie_break=False)
    ws_cost = {}
    for s, p in preps.items():
        _, r = _solve_one(p, cost_only)
        ws_cost[s] = float(r.objective)
    ws = sum(probs[s] * ws_cost[s] for s in preps)

    # expected-value plan and its expected cost when its first-stage decisions are kept
    ev_case = mean_case(case, cases, probs)
    ev_prep = prep_of(ev_case)
    ev_m, ev_res = _solve_one(ev_prep, opts)
    ev_first = _first_stage(decision_vars(ev_m, years), stage1)
    eev, eev_cost = _expected_with_first_stage(preps, probs, groups, ev_first, cost_only)

    table = pd.DataFrame(
        {
            "scenario": list(preps),
            "probability": [probs[s] for s in preps],
            "stochastic_plan_cny": [float(pyo.value(ef.scen[s].objective.expr)) for s in preps],
            "wait_and_see_cny": [ws_cost[s] for s in preps],
            "mean_value_first_stage_cny": [eev_cost[s] for s in preps],
        }
    )
    out = StochasticResult(
        first_stage=_frame(first, stage1),
        scenarios=table,
        rp_cny=rp,
        ws_cny=ws,
        ev_cny=float(ev_res.objective),
        eev_cny=eev,
        plans=plans,
        groups={y: [list(g) for g in gs] for y, gs in groups.items()},
        ev_first_stage=_frame(ev_first, stage1),
        tolerance_cny=_tolerance(opts, rp, eev, ws),
    )
    if method == "ph":
        out.ph = progressive_hedging(preps, probs, stage1, groups, ph_options or {}, opts)
    elif method != "ef":
        raise ValueError(f"unknown method {method!r}; expected 'ef' or 'ph'")
    return out


def progressive_hedging(
    preps: dict[str, PreparedCase | PreparedGroup],
    probs: dict[str, float],
    stage1: set[int],
    groups: dict[int, list[list[str]]],
    options: dict[str, Any],
    solve_opts: SolveOptions | None = None,
) -> dict[str, Any]:
    """Two-stage progressive hedging with mpi-sppy on the same scenario models.

    Returns the first-stage decisions (the PH consensus, xbar); ``expected_cost_cny``: the expected
    cost of that decision, each scenario planned by this planner with the first stage fixed at xbar
    (its recourse optimal; a scenario where xbar is infeasible costs ``inf``), the number to compare
    with the extensive form's; ``ph_objective_cny``: mpi-sppy's own expected objective of its last
    iteration (its W and proximal terms included while it has not converged); the iterations and
    the convergence metric.
    """
    multi = [y for y in groups if y not in stage1]
    if multi:
        raise CaseValidationError(
            "<scenarios>",
            [("method", f"progressive hedging here is two-stage; the tree shares decisions in later years {multi}: use the extensive form")],
        )
    from mpisppy.opt.ph import PH
    from mpisppy.utils import sputils

    years = set(next(iter(preps.values())).data.years)

    def scenario_creator(name: str) -> pyo.ConcreteModel:
        m = build_model(preps[name].data)
        dv = decision_vars(m, sorted(years))
        nonants = [v for k, v in dv.items() if decision_year(k[2], stage1) is not None]
        first_cost = first_stage_cost(m, sorted(stage1))
        sputils.attach_root_node(m, first_cost, nonants)
        m._mpisppy_probability = probs[name]
        return m

    names = list(preps)
    opts = {
        "solver_name": "appsi_highs",
        "PHIterLimit": 500,
        "defaultPHrho": 1.0,
        "convthresh": 1e-7,
        "verbose": False,
        "display_progress": False,
        "display_timing": False,
        "iter0_solver_options": {},
        "iterk_solver_options": {},
        # HiGHS through Pyomo takes no quadratic objective: the proximal term is linearised
        "linearize_proximal_terms": True,
        "proximal_linearization_tolerance": 1e-3,
    }
    opts.update(options)
    ph = PH(opts, names, scenario_creator)
    conv, eobj, _bound = ph.ph_main()
    s0 = ph.local_scenarios[names[0]]
    node = s0._mpisppy_node_list[0]
    xbar = {}
    dv0 = decision_vars(s0, sorted(years))
    first_keys = [k for k in dv0 if decision_year(k[2], stage1) is not None]
    for i, k in enumerate(first_keys):
        xbar[k] = float(pyo.value(s0._mpisppy_model.xbars[(node.name, i)]))
    policy = {}
    for s, p in preps.items():
        try:
            _, r = _solve_one(p, solve_opts or SolveOptions(), fixed=xbar)
            policy[s] = float(r.objective)
        except NonOptimalError:  # the consensus can be infeasible in a scenario (not converged)
            policy[s] = math.inf
    return {
        "first_stage": _frame(xbar, stage1),
        "expected_cost_cny": sum(probs[s] * policy[s] for s in preps),
        "scenario_cost_cny": policy,
        "ph_objective_cny": float(eobj),
        "iterations": int(ph._PHIter),
        "convergence": float(conv),
    }
