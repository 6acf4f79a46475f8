"""Tied prices: of the plans with the optimal cost, the plan holds the one that trades the fewest
tonnes (``planner.solve.ties``), on every path that produces a plan (entity and group runs, the
array-assembled group path, MIPs, sweeps with plan and fast tables, stochastic plans), says so,
and the checker holds it to that; the cost never moves beyond the solver's tolerance."""

import copy
import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from planner.api import run, run_group
from planner.errors import InfeasibleError, UnboundedError
from planner.input.read import parse_case
from planner.plan.check import check_group, check_plan
from planner.report.labels import statement_zh
from planner.report.statements import statement
from planner.solve.highs import SolveOptions
from planner.studies.variants import Variant, variant_group_full
from planner.testing.fleet import fleet_group
from tests.solver.helpers import case_dict
from tests.solver.test_group import entity, group
from tests.solver.test_properties import cases

approx = pytest.approx
OFF = SolveOptions(tie_break=False)


def tied(d: dict) -> dict:
    """``d`` with every year's CEA sell price equal to its buy price and no CEA fee."""
    d = copy.deepcopy(d)
    for r in d["market"]:
        r.pop("cea_sell_cny_per_t", None)
        r["cea_spread_cny_per_t"] = 0.0
        r["fee_cny_per_t"] = 0.0
    return d


def round_trips(annual, legs=(("buy_t", "sell_t"),), tol=1e-6) -> list:
    """(entity, year, leg) of every entity-year with both legs of a pair above ``tol``."""
    out = []
    for b, s in legs:
        both = annual[(annual[b] > tol) & (annual[s] > tol)]
        out += [(e, int(y), b) for e, y in zip(both["entity"], both["year"], strict=True)]
    return out


def traded(annual) -> float:
    return float((annual["buy_t"] + annual["sell_t"] + annual["ccer_buy_t"] + annual["ccer_sell_t"]
                  + annual["auction_buy_t"]).sum())


def same_cost(a: float, b: float) -> bool:
    """Equal up to round-off of the solver (1e-9 relative; the re-solve is rejected beyond it)."""
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b)) + 1e-6


# ---------------------------------------------------------------------------------------- by hand
def _one_year_plant(**extra):
    """2025 only; emissions 100,000 t, allocation 90,000 t (short 10,000); CEA bought and sold at 60
    with no fee, at most 100,000 t bought in the year (a market limit); CCERs at 50, usable up to 5%
    of the obligation; no discounting, holdings worthless after 2025."""
    d = tied(case_dict(emissions=100_000, allocation=90_000, buy=60.0, ccer=50.0, buy_limit_t=100_000))
    d.update(extra)
    return d


def test_one_year_plant_short_10000_t_buys_its_gap_and_sells_nothing():
    """``_one_year_plant``. CCERs (50) are cheaper than CEA (60): 5% of the 100,000 t obligation,
    5,000 t, are bought and surrendered (250,000). The other 5,000 t are CEA: any plan buys b and
    sells s with b - s >= 5,000 (what is carried is worth nothing) at 60 (b - s) >= 300,000, so
    every plan with b - s = 5,000 is optimal, cost 550,000. The one that trades the fewest tonnes:
    b = 5,000, s = 0. The first optimal plan HiGHS finds buys 100,000 t (its purchase limit) and
    sells 95,000, 190,000 t more than it needs, and would explain itself by a binding purchase
    limit. The plan says that a tie was broken (a note; a why-statement for the year; no word of
    speculation), and its cost is the first solve's."""
    d = _one_year_plant()
    res = run(parse_case(d))
    a = res.plan.annual.set_index("year").loc[2025]
    assert (a.buy_t, a.sell_t, a.ccer_buy_t, a.carry_t, a.lapse_t) == (
        approx(5_000), approx(0, abs=1e-9), approx(5_000), approx(0, abs=1e-9), approx(0, abs=1e-9))
    assert res.solve.objective == approx(550_000)
    assert check_plan(res.prep.data, res.plan, objective=res.solve.objective) == []
    s = res.plan.summary
    assert s["trades_minimised"] is True and s["tie_broken_t"] == approx(190_000)
    tie = [n for n in res.plan.notes if n.startswith("Tie broken")]
    assert len(tie) == 1 and "CEA round trips earn nothing in 2025" in tie[0] and "190,000 t" in tie[0]
    assert "speculation" not in " ".join(res.plan.notes + list(res.plan.bindings.statement))
    assert "price_tie" in set(res.plan.bindings.rule) and "buy_limit" not in set(res.plan.bindings.rule)
    t = res.plan.bindings[res.plan.bindings.rule == "price_tie"].iloc[0]
    assert statement(t, "zh") == statement_zh(t.statement)  # worded from its facts, the same as the translation
    off = run(parse_case(d), OFF)
    b = off.plan.annual.set_index("year").loc[2025]
    assert (b.buy_t, b.sell_t) == (approx(100_000), approx(95_000))
    assert "buy_limit" in set(off.plan.bindings.rule)
    assert same_cost(off.solve.objective, res.solve.objective)
    assert off.plan.summary["trades_minimised"] is False
    assert not [n for n in off.plan.notes if n.startswith("Tie broken")]


def test_the_checker_refuses_a_round_trip_in_a_plan_that_says_its_trades_are_the_fewest():
    """The plan above with 1,000 t more bought and sold in 2025 (its ledger still balances: they
    cancel): a round trip that lowers no cost, which the checker names. Without the plan's word
    (trades_minimised false) the same tables pass that rule."""
    res = run(parse_case(_one_year_plant()))
    plan = copy.deepcopy(res.plan)
    plan.annual.loc[plan.annual["year"] == 2025, ["buy_t", "sell_t"]] += 1_000.0
    fails = check_plan(res.prep.data, plan)
    assert [f for f in fails if "round trip" in f] == [
        "T 2025: CEA bought 6,000.000000 t and CEA sold 1,000.000000 t in the same year, though the round trip "
        "lowers no cost: the plan's trades are not the fewest at its cost"]
    plan.summary["trades_minimised"] = False
    assert not [f for f in check_plan(res.prep.data, plan) if "round trip" in f]


def test_a_round_trip_across_years_is_dropped_too():
    """2025-2026, emissions 100,000 t a year, allocation 100,000 then 90,000 (short 10,000 in 2026);
    CEA at 60 both years (sell = buy, no fee, at most 100,000 t bought a year), no discounting,
    unlimited banking, holdings worthless after 2026. A tonne bought in 2025 and sold in 2026 (or
    the reverse) changes no cost, nor does buying the 2026 need in 2025 and carrying it. Optimal
    cost 600,000; the fewest tonnes traded: 10,000 bought (in either year), nothing sold. The first
    optimal plan HiGHS finds buys 100,000 t in 2025, carries them, and sells 190,000 in 2026."""
    d = tied(case_dict(years=(2025, 2026), emissions=100_000, allocation=[100_000, 90_000], buy=60.0, ccer=1_000.0,
                       buy_limit_t=100_000))
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}}
    res = run(parse_case(d))
    a = res.plan.annual
    assert res.solve.objective == approx(600_000)
    assert float(a["buy_t"].sum()) == approx(10_000) and float(a["sell_t"].sum()) == approx(0, abs=1e-9)
    assert float(run(parse_case(d), OFF).plan.annual["sell_t"].sum()) == approx(190_000)


def test_a_mip_keeps_its_integer_decisions_and_drops_the_round_trip():
    """``_one_year_plant`` with a project: 5,000 t a year for 100,000 CNY (20 CNY/t, one year of
    life), built since 20 < 50 < 60. Emissions are then 95,000 t: CCERs 5% of them, 4,750 t at 50
    (237,500); CEA the other 250 t at 60 (15,000). Cost 100,000 + 237,500 + 15,000 = 352,500,
    nothing sold. A MIP (the build is binary): the tie-break runs on the LP with the build fixed
    (the first optimal plan bought 100,000 t and sold 99,750), and the plan keeps the first solve's
    build and cost."""
    d = _one_year_plant(abatement={"projects": [{"id": "p", "capex_cny": 100_000, "reduction_t_per_year": 5_000,
                                                 "lead_time_years": 0, "lifetime_years": 1}]})
    res, off = run(parse_case(d)), run(parse_case(d), OFF)
    assert res.solve.is_mip
    a = res.plan.annual.set_index("year").loc[2025]
    assert (a.buy_t, a.sell_t, a.ccer_buy_t) == (approx(250), approx(0, abs=1e-9), approx(4_750))
    assert off.plan.annual["sell_t"].sum() == approx(99_750)
    assert res.solve.objective == approx(352_500) and same_cost(res.solve.objective, off.solve.objective)
    assert list(res.plan.builds["project"]) == list(off.plan.builds["project"]) == ["p"]


def test_a_group_entity_passes_on_what_a_sibling_cannot_buy():
    """2025; A short 10,000 t with no market purchases allowed (buy limit 0), B balanced; CEA at 60
    (sell = buy, no fee), free transfers, CCERs never worth using. A's 10,000 t can only come from B,
    which has none spare: B buys 10,000 on the market and passes them on. Group cost 600,000. B's
    same-year purchase and sale is forced by A's limit (it is a market purchase and a transfer out,
    not a round trip), and the plan trades no more than that: A receives 10,000, B buys and passes
    on 10,000 (30,000 t counted over both entities' purchases and sales)."""
    a = tied(entity("A", 90_000, buy=60.0, ccer=1_000.0, buy_limit_t=0))
    b = tied(entity("B", 100_000, buy=60.0, ccer=1_000.0))
    res = run_group(group([a, b], transfers={"mode": "free"}, value_of_pooling=False))
    ann = res.plan.entities.annual.set_index("entity")
    assert res.solve.objective == approx(600_000)
    assert (ann.loc["B", "market_buy_t"], ann.loc["B", "transfer_out_t"], ann.loc["A", "transfer_in_t"]) == (
        approx(10_000), approx(10_000), approx(10_000))
    assert traded(res.plan.entities.annual) == approx(30_000)
    assert res.plan.summary["trades_minimised"] is True
    assert check_group(res.prep.data, res.plan, objective=res.solve.objective) == []


def test_a_group_with_a_long_and_a_short_entity_trades_the_gap_once():
    """2025; A short 10,000 t, B long 10,000 t; CEA at 60 (sell = buy, no fee), free transfers at
    the mean buy price (60). B's surplus covers A's gap, by a transfer or by B selling and A buying
    on the market: both cost 600,000 - 600,000 = 0 and move 10,000 t once each way (20,000 t counted
    over purchases and sales). Any round trip on top is dropped: no entity buys and sells on the
    market in the year, none receives and passes on transfers."""
    a = tied(entity("A", 90_000, buy=60.0, ccer=1_000.0))
    b = tied(entity("B", 110_000, buy=60.0, ccer=1_000.0))
    res = run_group(group([a, b], transfers={"mode": "free"}, value_of_pooling=False))
    ann = res.plan.entities.annual
    assert res.solve.objective == approx(0, abs=1e-6)
    assert round_trips(ann, (("market_buy_t", "market_sell_t"), ("transfer_in_t", "transfer_out_t"))) == []
    assert traded(ann) == approx(20_000)


# ------------------------------------------------------------------------------ generated cases
PROPS = settings(max_examples=30, deadline=None, derandomize=bool(os.environ.get("CI")),
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def tied_cases(draw):
    """A generated entity case (``tests.solver.test_properties.cases``) whose CEA prices tie (sell =
    buy, no fee) in at least one year, in every year or some."""
    d = draw(cases())
    rows = d["market"]
    tie = draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)).filter(any))
    for r, t in zip(rows, tie, strict=True):
        if t:
            r["cea_sell_cny_per_t"] = r["cea_buy_cny_per_t"]
            r["fee_cny_per_t"] = 0.0
    return d


def _least_traded_independently(prep, objective: float) -> float:
    """The fewest tonnes any optimal plan trades, found apart from ``planner.solve.ties``: the
    Pyomo model solved through Pyomo's appsi HiGHS interface with its cost held at ``objective``
    (one row, round-off slack) and the tonnes traded as its objective (an LP: no integers)."""
    import pyomo.environ as pyo
    from pyomo.contrib.appsi.solvers import Highs

    from models import TRADE_VARIABLES, build_model

    m = build_model(prep.data)
    m.objective.deactivate()
    m.cost_at_optimum = pyo.Constraint(expr=m.objective.expr <= objective + 1e-9 * max(1.0, abs(objective)))
    m.tonnes = pyo.Objective(expr=sum(v for v in m.component_data_objects(pyo.Var)
                                      if v.parent_component().local_name in TRADE_VARIABLES))
    opt = Highs()
    res = opt.solve(m)
    assert str(res.termination_condition).endswith("optimal"), res.termination_condition
    return float(pyo.value(m.tonnes))


@PROPS
@given(tied_cases())
def test_generated_tied_plans_hold_no_round_trip_and_the_cost_of_the_first_solve(d):
    """Every plan of a tied case: no year both buys and sells CEA (nothing in one entity can force
    it: the ledger rows see only the difference), it passes the checker (which holds it to that),
    its cost is the cost without the tie-break within 1e-9, and when the model is an LP its
    tonnes traded are the fewest of all optimal plans, found independently."""
    try:
        res = run(parse_case(copy.deepcopy(d)))
    except (InfeasibleError, UnboundedError):  # no plan: refused before the solve or infeasible
        assume(False)
        return
    off = run(parse_case(copy.deepcopy(d)), OFF)
    assert check_plan(res.prep.data, res.plan, objective=res.solve.objective) == []
    assert res.plan.summary["trades_minimised"] is True
    assert round_trips(res.plan.annual) == []
    assert same_cost(res.solve.objective, off.solve.objective)
    assert traded(res.plan.annual) <= traded(off.plan.annual) + 1e-6
    if res.plan.summary["tie_broken_t"] > 0:
        assert any(n.startswith("Tie broken") for n in res.plan.notes)
    if not res.solve.is_mip:
        least = _least_traded_independently(res.prep, res.solve.objective)
        assert traded(res.plan.annual) <= least + 1e-6 * max(1.0, least) + 1e-3


@settings(max_examples=8, deadline=None, derandomize=bool(os.environ.get("CI")), suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 4), seed=st.integers(0, 10_000), transfers=st.sampled_from(["none", "free", "block"]),
       pool=st.booleans(), last_year=st.integers(2025, 2027), binaries=st.booleans(),
       buy_limit=st.sampled_from([None, 500_000, 2_000_000]))
def test_generated_tied_groups_hold_no_round_trip(n, seed, transfers, pool, last_year, binaries, buy_limit):
    """Generated groups (``planner.testing.fleet``) with every CEA price tied (no spread, no fee),
    with or without a purchase limit per plant and year: no entity buys and sells on the market in
    the same year, none receives and passes on transfers in the same year, the plan passes the
    group checker (which holds it to that), and the group's cost is the cost without the tie-break
    (the array path and the Pyomo path alike)."""
    spec = fleet_group(n, seed, transfers=transfers, pool=pool, last_year=last_year, binaries=binaries, value_of_pooling=False)
    over = {f"entities.*.market.{y}.{f}": 0.0 for y in range(2025, last_year + 1) for f in ("cea_spread_cny_per_t", "fee_cny_per_t")}
    if buy_limit is not None:
        over.update({f"entities.*.market.{y}.buy_limit_t": buy_limit for y in range(2025, last_year + 1)})
    spec = variant_group_full(spec, Variant("tied", over, "scenario"))
    res, off = run_group(spec), run_group(spec, replace(SolveOptions(), tie_break=False))
    ann = res.plan.entities.annual
    assert check_group(res.prep.data, res.plan, objective=res.solve.objective) == []
    assert res.plan.summary["trades_minimised"] is True
    # (blocks of a minimum lot, the MIP's blocks kept, can make an entity receive and pass one on)
    legs = (("market_buy_t", "market_sell_t"),) + ((("transfer_in_t", "transfer_out_t"),) if transfers == "free" else ())
    assert round_trips(ann, legs) == []
    assert same_cost(res.solve.objective, off.solve.objective)
    assert traded(ann) <= traded(off.plan.entities.annual) + 1e-6


# --------------------------------------------------------------------------- sweeps, stochastic
def test_sweeps_plan_and_fast_rows_hold_no_round_trip():
    """A tied two-year case (CCERs at 50, at most 100,000 t bought a year) swept over price paths
    (every variant keeps sell = buy, no fee): the full plans and the fast ledger rows of the warm
    re-solves hold no round trip, and agree. Without the tie-break the same sweep holds round trips
    in both."""
    from planner.studies.sweep import sweep

    d = tied(case_dict(years=(2025, 2026), emissions=100_000, allocation=[95_000, 90_000], buy=[60.0, 64.0], ccer=50.0,
                       buy_limit_t=100_000))
    case = parse_case(d)
    spec = {"include_base": True, "price_paths": {"n": 6, "seed": 3, "volatility": 0.3, "fields": ["cea_buy_cny_per_t"]}}
    frames = {t: sweep(case, spec, tables=t).frame for t in ("plan", "fast")}
    for t, f in frames.items():
        assert len(f) == 7 * 2 and round_trips(f) == [], t
        assert round_trips(sweep(case, spec, tables=t, opts=OFF).frame) != [], t
    plan, fast = (frames[t].sort_values(["scenario", "year"]).reset_index(drop=True) for t in ("plan", "fast"))
    for c in ("buy_t", "sell_t", "ccer_buy_t", "total_cost_cny"):
        assert plan[c].to_numpy() == approx(fast[c].to_numpy(), abs=1e-6), c


def test_group_sweep_fast_rows_hold_no_round_trip():
    """A tied generated group (each plant may buy at most 2 Mt a year) swept over price factors with
    fast tables (the array-assembled warm re-solves of ``planner.solve.warm_arrays``): no
    entity-year buys and sells on the market, or receives and passes on transfers; without the
    tie-break the same sweep does."""
    from planner.solve.warm_arrays import supports
    from planner.studies.sweep import sweep

    spec = fleet_group(3, 11, last_year=2026, binaries=False, value_of_pooling=False)
    over = {f"entities.*.market.{y}.{f}": 0.0 for y in (2025, 2026) for f in ("cea_spread_cny_per_t", "fee_cny_per_t")}
    over.update({f"entities.*.market.{y}.buy_limit_t": 2_000_000 for y in (2025, 2026)})
    spec = variant_group_full(spec, Variant("tied", over, "scenario"))
    from planner.prepare.group import prepare_group

    assert supports(prepare_group(spec).data, SolveOptions())
    f = sweep(spec, {"include_base": True, "grid": {"price_factor.2025": [1.0, 1.1, 1.3]}}, tables="fast").frame
    rows = f[(f["entity"] != "(group)") & (f["year"] > 0)]  # year 0: a group sweep's totals over the years
    legs = (("market_buy_t", "market_sell_t"), ("transfer_in_t", "transfer_out_t"))
    assert len(rows) == 4 * 3 * 2 and round_trips(rows, legs) == []
    f = sweep(spec, {"include_base": True, "grid": {"price_factor.2025": [1.0, 1.1, 1.3]}}, tables="fast", opts=OFF).frame
    assert round_trips(f[(f["entity"] != "(group)") & (f["year"] > 0)], legs) != []  # without the tie-break


def test_stochastic_plans_of_tied_scenarios_hold_no_round_trip():
    """Two equally likely scenarios of a tied two-year case (2025 at 60; 2026 at 50 or 70, sell =
    buy, no fee; at most 100,000 t bought a year; CCERs at 50; unlimited banking): a tonne bought in
    2025 and sold in 2026 earns nothing on average, nor does a round trip within a year. Each
    scenario plan of the extensive
    form holds no round trip and says its trades are the fewest (the checker, run on every scenario
    plan, holds it to that); without the tie-break the same study holds round trips."""
    from planner.studies.stochastic import stochastic_plan

    d = tied(case_dict(years=(2025, 2026), emissions=100_000, allocation=90_000, buy=60.0, ccer=50.0, buy_limit_t=100_000))
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}}
    scen = [{"id": "low", "probability": 0.5, "overrides": {"market.2026.cea_buy_cny_per_t": 50.0}},
            {"id": "high", "probability": 0.5, "overrides": {"market.2026.cea_buy_cny_per_t": 70.0}}]
    r = stochastic_plan(parse_case(d), scen)
    for s, p in r.plans.items():
        assert p.summary["trades_minimised"] is True, s
        assert round_trips(p.annual) == [], s
        assert any(n.startswith("Tie broken") for n in p.notes), s
    assert r.ws_cny <= r.rp_cny + r.tolerance_cny and r.rp_cny <= r.eev_cny + r.tolerance_cny
    off = stochastic_plan(parse_case(d), scen, opts=OFF)
    assert off.rp_cny == approx(r.rp_cny, rel=1e-9)
    assert any(round_trips(p.annual) for p in off.plans.values())


def test_a_tie_break_that_fails_leaves_the_first_plan_and_says_so():
    """When the second solve ends without an optimal plan of the same cost (``how`` "failed"), the
    plan is the first solve's: it does not claim the fewest trades (so the checker does not hold it
    to that) and a note says that its ties were not resolved (in Chinese too)."""
    from planner.plan.entity import tie_notes, tie_summary
    from planner.report.labels import note_zh
    from planner.solve.ties import TieBreak

    res = replace(run(parse_case(_one_year_plant())).solve, tie_break=TieBreak(10.0, 10.0, 1.0, 1.0, 0.0, "failed"))
    assert tie_summary(res) == {"trades_minimised": False, "tie_broken_t": 0.0}
    notes = tie_notes(None, res)
    assert len(notes) == 1 and notes[0].startswith("Ties not resolved") and note_zh(notes[0]).startswith("未能消除并列最优")
    for how, least in (("no trades", True), ("priced", True), ("re-solved", True), ("no duals", False), ("failed", False)):
        assert TieBreak(1.0, 1.0, 0.0, 0.0, 0.0, how).least is least, how
