"""Stochastic plan: hedged first-year decision, VSS and EVPI by hand; extensive form vs progressive hedging."""

import math
import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from planner.errors import CaseValidationError, NonOptimalError
from planner.input.read import parse_case
from planner.studies.stochastic import stochastic_plan
from tests.solver.helpers import case_dict
from tests.solver.test_properties import cases

approx = pytest.approx


def _bank_case(measure_cost=130.0):
    """2027-2028, no discounting, no terminal value, hard compliance, carry-over unlimited.
    2027: emissions = allocation = 50,000 (no need); CEA 100 (sell 90).
    2028: short 1,000 t (51,000 vs 50,000); CEA price uncertain (sell 30); a measure in 2028 abates
    up to 1,000 t at ``measure_cost``; CCERs too dear to use. The only first-year choice is to buy
    b in 2027 at 100 and bank it for 2028."""
    d = case_dict(years=(2027, 2028), emissions=[50_000, 51_000], allocation=50_000, buy=[100.0, 120.0], sell=[90.0, 30.0], ccer=1000.0)
    d["abatement"] = {"measures": [{"id": "m", "cost_cny_per_t": measure_cost, "potential_t_per_year": 1_000, "first_year": 2028}]}
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}, "compliance": "hard"}
    return parse_case(d)


def _two(p_high):
    return [
        {"id": "high", "probability": p_high, "overrides": {"market.2028.cea_buy_cny_per_t": 200.0}},
        {"id": "low", "probability": round(1 - p_high, 12), "overrides": {"market.2028.cea_buy_cny_per_t": 40.0}},
    ]


def _fs(frame, name, year=2027):
    r = frame[(frame["name"] == name) & (frame["year"] == year)]
    return float(r["value"].sum())


def test_hedged_first_year_decision_vss_and_evpi_by_hand():
    """2028 price 200 (p = 0.4) or 40 (p = 0.6). In 2028 a short tonne costs min(price, 130):
    130 if high (the measure), 40 if low. Banked tonnes cost 100 each.
    Stochastic (RP): expected 2028 cost per tonne 0.4 x 130 + 0.6 x 40 = 76 < 100 -> bank nothing,
    RP = 1,000 x 76 = 76,000.
    Mean-value plan (EV): mean price 0.4 x 200 + 0.6 x 40 = 104 < 130, so it would buy in 2028 at 104
    > 100 -> it banks 1,000 t in 2027; EV = 100,000. Kept in every scenario: EEV = 100,000.
    VSS = EEV - RP = 24,000.
    Wait-and-see: high -> bank at 100 (< 130): 100,000; low -> buy at 40: 40,000;
    WS = 0.4 x 100,000 + 0.6 x 40,000 = 64,000; EVPI = RP - WS = 12,000."""
    r = stochastic_plan(_bank_case(), _two(0.4))
    assert _fs(r.first_stage, "buy") == approx(0, abs=1e-6)
    assert _fs(r.first_stage, "carry") == approx(0, abs=1e-6)
    assert _fs(r.ev_first_stage, "buy") == approx(1_000)
    assert _fs(r.ev_first_stage, "carry") == approx(1_000)
    assert r.rp_cny == approx(76_000)
    assert r.ev_cny == approx(100_000)
    assert r.eev_cny == approx(100_000)
    assert r.ws_cny == approx(64_000)
    assert r.vss_cny == approx(24_000)
    assert r.evpi_cny == approx(12_000)
    # the recourse: high abates 1,000 at 130, low buys 1,000 at 40; both plans pass the checker
    high, low = (r.plans[s].annual.set_index("year").loc[2028] for s in ("high", "low"))
    assert (high.abatement_measures_t, high.buy_t) == (approx(1_000), approx(0, abs=1e-6))
    assert (low.abatement_measures_t, low.buy_t) == (approx(0, abs=1e-6), approx(1_000))
    sc = r.scenarios.set_index("scenario")
    assert sc.loc["high", "stochastic_plan_cny"] == approx(130_000)
    assert sc.loc["low", "stochastic_plan_cny"] == approx(40_000)


@pytest.mark.parametrize(("p_high", "bank", "rp"), [(0.4, 0.0, 76_000), (0.7, 1_000.0, 100_000)])
def test_progressive_hedging_agrees_with_the_extensive_form(p_high, bank, rp):
    """p = 0.7: expected 2028 cost per tonne 0.7 x 130 + 0.3 x 40 = 103 > 100 -> bank all 1,000 t in
    2027; RP = 100,000 (VSS 0: the mean price 152 leads to the same decision). PH (mpi-sppy, no
    MPI) reaches the extensive form's first-year decisions and expected cost."""
    r = stochastic_plan(_bank_case(), _two(p_high), method="ph")
    assert _fs(r.first_stage, "buy") == approx(bank, abs=1e-6)
    assert r.rp_cny == approx(rp)
    ph = r.ph["first_stage"]
    for name in ("buy", "sell", "carry", "surrender"):
        assert _fs(ph, name) == approx(_fs(r.first_stage, name), abs=1e-2)
    # the consensus decision re-planned per scenario (first year fixed at xbar): the EF's cost and
    # per scenario the EF's scenario costs
    assert r.ph["expected_cost_cny"] == approx(rp, rel=1e-6)
    ef_cost = r.scenarios.set_index("scenario")["stochastic_plan_cny"]
    for s, c in r.ph["scenario_cost_cny"].items():
        assert c == approx(ef_cost[s], rel=1e-6, abs=1e-3), s
    assert r.ph["ph_objective_cny"] == approx(rp, rel=1e-4)


def test_multi_stage_tree_shares_decisions_where_histories_agree():
    """Three years; 2028 prices branch in two (up/down), 2029 in two more: four scenarios.
    2027 decisions: one group of four; 2028: two groups of two (same 2028 price); 2029: none."""
    d = case_dict(years=(2027, 2028, 2029), emissions=[50_000, 51_000, 52_000], allocation=50_000, buy=[100.0, 100.0, 100.0], sell=[90.0, 30.0, 30.0], ccer=1000.0)
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}, "compliance": "hard"}
    case = parse_case(d)
    sc = []
    for a, pa in (("u", 150.0), ("d", 60.0)):
        for b, pb in (("u", 1.3), ("d", 0.7)):
            sc.append({"id": a + b, "probability": 0.25, "overrides": {"market.2028.cea_buy_cny_per_t": pa, "market.2029.cea_buy_cny_per_t": round(pa * pb, 2)}})
    r = stochastic_plan(case, sc)
    assert r.groups == {2027: [["uu", "ud", "du", "dd"]], 2028: [["uu", "ud"], ["du", "dd"]]}
    carry = {s: r.plans[s].annual.set_index("year")["carry_t"] for s in r.plans}
    assert carry["uu"][2028] == approx(carry["ud"][2028])
    assert carry["du"][2028] == approx(carry["dd"][2028])
    # 2027 choice: bank tonnes at 100 for the needs of 2028 (1,000 t) and 2029 (2,000 t). On the 'u'
    # branch each such tonne would otherwise cost 150 (2028 price; waiting for 2029: (195 + 105) / 2
    # = 150 too): +50. On 'd' it would cost 60 (2028; waiting: (78 + 42) / 2 = 60): -40. Expected
    # +5 per tonne -> bank all 3,000 t in 2027, cost 300,000 in every scenario.
    assert r.plans["uu"].annual.set_index("year")["buy_t"][2027] == approx(3_000)
    assert r.rp_cny == approx(300_000)


# ---------------------------------------------------------------------------------------- groups
def _bank_entity(eid, allocation_2028, measure_cost=130.0):
    """``_bank_case``'s entity as a group member: 2027 balanced at 50,000; 2028 emissions 51,000
    against ``allocation_2028``; CEA 100 (sell 90) in 2027, 120 (sell 30) in 2028; the measure in
    2028 (1,000 t at ``measure_cost``); carry-over unlimited; hard compliance."""
    d = case_dict(years=(2027, 2028), emissions=[50_000, 51_000], allocation=[50_000, allocation_2028],
                  buy=[100.0, 120.0], sell=[90.0, 30.0], ccer=1000.0)
    d["entity"]["id"] = eid
    d["abatement"] = {"measures": [{"id": f"m{eid}", "cost_cny_per_t": measure_cost, "potential_t_per_year": 1_000, "first_year": 2028}]}
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}, "compliance": "hard"}
    return d


def _bank_group(*entities):
    from planner.input.group_schema import GroupCaseSpec

    return GroupCaseSpec.model_validate({
        "group": {"id": "G", "horizon": {"first_year": 2027, "last_year": 2028},
                  "finance": {"discount_rate": 0.0, "terminal_value": "zero"}},
        "entities": [parse_case(e) for e in entities],
        "value_of_pooling": False,
    })


def _group_two(p_high):
    """The 2028 CEA price of every entity at 200 (p) or 40 (1 - p)."""
    return [
        {"id": "high", "probability": p_high, "overrides": {"entities.*.market.2028.cea_buy_cny_per_t": 200.0}},
        {"id": "low", "probability": round(1 - p_high, 12), "overrides": {"entities.*.market.2028.cea_buy_cny_per_t": 40.0}},
    ]


def test_group_of_one_gives_the_entity_stochastic_plan():
    """A group whose only entity is ``_bank_case``'s: the same RP, WS, EV, EEV and first-year
    decisions as the entity's own stochastic plan (76,000 / 64,000 / 100,000 / 100,000)."""
    alone = stochastic_plan(_bank_case(), _two(0.4))
    grp = stochastic_plan(_bank_group(_bank_entity("E", 50_000)), _group_two(0.4))
    for f in ("rp_cny", "ws_cny", "ev_cny", "eev_cny"):
        assert getattr(grp, f) == approx(getattr(alone, f)), f
    for name in ("buy", "carry", "surrender", "sell"):
        assert _fs(grp.first_stage, name) == approx(_fs(alone.first_stage, name), abs=1e-6), name
        assert _fs(grp.ev_first_stage, name) == approx(_fs(alone.ev_first_stage, name), abs=1e-6), name


def test_group_hedged_first_year_decision_and_vss_by_hand():
    """A as ``_bank_case`` (2028: 1,000 t short); B 600 t long in 2028 (allocation 51,600), whose
    surplus sells for only 30. Free transfers: B's 600 t cover part of A's gap (worth 30 outside,
    less than any other cover), so the group needs 400 t more in 2028, at min(price, 130) or banked
    at 100 from 2027.
    RP (p_high = 0.4): expected 2028 cost per tonne 0.4 x 130 + 0.6 x 40 = 76 < 100 -> bank nothing;
    the group's cost is 400 x 130 = 52,000 if high and 400 x 40 = 16,000 if low (B's surplus has no
    other use: terminal value zero), RP = 0.4 x 52,000 + 0.6 x 16,000 = 30,400.
    EV: mean price 104 > 100 -> bank 400 t in 2027; EV = EEV = 40,000; VSS = 9,600.
    WS: high banks 400 at 100 (40,000), low buys at 40 (16,000): WS = 25,600; EVPI = 4,800.
    The shared decisions include the links (market trades and transfers). Every scenario's group
    plan passes the group checker."""
    spec = _bank_group(_bank_entity("A", 50_000), _bank_entity("B", 51_600))
    r = stochastic_plan(spec, _group_two(0.4))
    # an entity's "buy" counts transfers received too: the group's purchases are its market trades
    assert _fs(r.first_stage, "market_buy") == approx(0, abs=1e-6)
    assert _fs(r.first_stage, "carry") == approx(0, abs=1e-6)
    assert _fs(r.ev_first_stage, "market_buy") == approx(400)
    assert _fs(r.ev_first_stage, "carry") == approx(400)
    assert set(r.first_stage["name"]) >= {"market_buy", "transfer_in", "transfer_out"}
    assert r.rp_cny == approx(30_400)
    assert r.ev_cny == approx(40_000)
    assert r.eev_cny == approx(40_000)
    assert r.ws_cny == approx(25_600)
    assert r.vss_cny == approx(9_600)
    assert r.evpi_cny == approx(4_800)
    sc = r.scenarios.set_index("scenario")
    assert sc.loc["high", "stochastic_plan_cny"] == approx(52_000)
    assert sc.loc["low", "stochastic_plan_cny"] == approx(16_000)
    # the recourse (who trades with whom inside the group is not unique; the group's totals are):
    # high abates 400 at 130, low buys 400 at 40; B's surplus is never sold outside at 30
    for s, abate, market in (("high", 400, 0), ("low", 0, 400)):
        a = r.plans[s].entities.annual
        y = a[a["year"] == 2028]
        assert y["abatement_measures_t"].sum() == approx(abate, abs=1e-6), s
        assert y["market_buy_t"].sum() == approx(market, abs=1e-6), s
        assert y["market_sell_t"].sum() == approx(0, abs=1e-6), s


def test_group_progressive_hedging_is_refused_with_a_clear_error():
    """Progressive hedging takes entity cases only: on a group, intra-group transfers without fees
    leave many first-year decisions degenerate and PH did not reach a consensus in 500 iterations
    (measured on this case), so a group asks for the extensive form instead."""
    spec = _bank_group(_bank_entity("A", 50_000), _bank_entity("B", 51_600))
    with pytest.raises(CaseValidationError, match="extensive form"):
        stochastic_plan(spec, _group_two(0.7), method="ph")


# ------------------------------------------------------------------------ the study's inequalities
@st.composite
def _studies(draw):
    """A generated entity case of 2-4 years (``tests.solver.test_properties.cases``) and 2-3 price
    scenarios: every CEA price from a branch year on scaled by a scenario factor (sell prices with
    it), sometimes branching again a year later (a multi-stage tree that shares the years before
    its first branch)."""
    d = draw(cases())
    assume(len(d["market"]) >= 2)
    rows = d["market"]
    years = [r["year"] for r in rows]
    branch = draw(st.sampled_from(years[1:]))
    again = draw(st.sampled_from([None, *[y for y in years if y > branch]]))
    n = draw(st.integers(2, 3))
    weights = [draw(st.integers(1, 9)) for _ in range(n)]
    scen = []
    for k in range(n):
        f, g = draw(st.floats(0.3, 2.0)), draw(st.floats(0.5, 1.5))
        over = {}
        for r in rows:
            if r["year"] < branch:
                continue
            x = f * (g if again is not None and r["year"] >= again else 1.0)
            over[f"market.{r['year']}.cea_buy_cny_per_t"] = round(r["cea_buy_cny_per_t"] * x, 2)
            over[f"market.{r['year']}.cea_sell_cny_per_t"] = round(r["cea_sell_cny_per_t"] * x, 2)
        scen.append({"id": f"s{k}", "probability": weights[k] / sum(weights), "overrides": over})
    scen[-1]["probability"] = 1.0 - sum(s["probability"] for s in scen[:-1])
    return d, scen, draw(st.integers(1, 2))


@settings(max_examples=30, deadline=None, derandomize=bool(os.environ.get("CI")),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(_studies())
def test_generated_studies_obey_ws_le_rp_le_eev(study):
    """WS <= RP <= EEV within the solver's tolerance on generated cases and scenario trees: the
    wait-and-see plans relax the recourse problem's non-anticipativity, and the mean-value first
    stage is one feasible first stage of it (EEV is the recourse problem with that first stage
    fixed), so VSS >= 0 and EVPI >= 0. The first-stage tables hold no -0.0."""
    d, scen, first_years = study
    try:
        r = stochastic_plan(parse_case(d), scen, first_stage_years=first_years)
    except NonOptimalError:  # a hard-compliance case can be infeasible in some scenario
        assume(False)
        return
    tol = r.tolerance_cny
    # the tolerance is the default relative gap's, no more
    assert tol <= 1e-6 * max(1.0, abs(r.rp_cny), abs(r.ws_cny), abs(r.eev_cny) if math.isfinite(r.eev_cny) else 0.0)
    assert r.ws_cny <= r.rp_cny + tol
    assert r.rp_cny <= r.eev_cny + tol
    assert r.vss_cny >= 0 and r.evpi_cny >= 0
    for table in (r.first_stage, r.ev_first_stage):
        assert not any(v == 0 and math.copysign(1.0, v) < 0 for v in table["value"])


def test_documented_coal_study_obeys_its_inequalities():
    """The study of docs/sweeps.md ("Stochastic plans"), run as written there: the code block, then
    the figures the page states for it. RP shares the 2025 and 2026 decisions (no price has branched
    before 2027); the mean-value plan's 2025 decisions are the hedged plan's, so EEV = RP (VSS 0)."""
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "sweeps.md").read_text(encoding="utf-8")
    section = doc.split("## Stochastic plans", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    ns: dict = {}
    exec(compile(code, "docs/sweeps.md", "exec"), ns)  # noqa: S102 - the project's own documentation
    r = ns["r"]
    assert r.groups == {2025: [["low", "high"]], 2026: [["low", "high"]]}
    assert r.ws_cny <= r.rp_cny + r.tolerance_cny and r.rp_cny <= r.eev_cny + r.tolerance_cny
    stated = re.search(r"coal study: RP ([\d,]+),\s+EEV\s+([\d,]+)\s+\(VSS ([\d,]+)\),\s+WS\s+([\d,]+)\s+\(EVPI\s+([\d,]+)\)", section)
    assert stated, "docs/sweeps.md states the coal study's figures"
    rp, eev, vss, ws, evpi = (float(x.replace(",", "")) for x in stated.groups())
    got = (r.rp_cny, r.eev_cny, r.vss_cny, r.ws_cny, r.evpi_cny)
    assert [round(x) for x in got] == [rp, eev, vss, ws, evpi], "docs/sweeps.md's coal study figures are out of date"


def test_a_scenario_whose_prices_pay_without_limit_is_refused_by_name():
    """``_bank_case`` with unlimited banking and a 2028 sell price of 150 in one scenario, above the
    2027 buy price of 100 (no discounting): in that scenario buying in 2027 to sell in 2028 earns
    50 a tonne without limit, so neither its wait-and-see plan nor the expected cost exists. The
    study is refused before any solve, naming the scenario, the years and the prices."""
    from planner.errors import UnboundedError

    scen = [{"id": "calm", "probability": 0.5, "overrides": {}},
            {"id": "spike", "probability": 0.5, "overrides": {"market.2028.cea_buy_cny_per_t": 200.0,
                                                               "market.2028.cea_sell_cny_per_t": 150.0}}]
    with pytest.raises(UnboundedError, match=r"^scenario spike: the prices reward unbounded arbitrage: .*2027.*2028"):
        stochastic_plan(_bank_case(), scen)
