"""Relief as exact constraints: value of abatement under relief, the regime switch, and the same
plans as a brute force over the regimes.

Coal relief caps the gap at 20% of verified emissions: allocation A' = max(A, 0.8 E), E after
abatement. Inside the regime a tonne abated lowers the obligation by 1 and the allocation by 0.8,
so it is worth 0.2 x price (rules.md M3).
"""

import itertools
import random

import pytest

from planner.api import build
from planner.errors import InfeasibleError
from planner.input.read import parse_case
from planner.plan.check import check_plan
from planner.solve.highs import SolveOptions, solve_model
from tests.solver.helpers import UNLIMITED_CCER_T, case_dict, row, solve

pytestmark = pytest.mark.solver


def coal_case(allocation, measures, emissions=100_000, buy=100.0, years=(2025,)):
    d = case_dict(years=years, emissions=emissions, allocation=allocation, buy=buy, ccer=1_000.0)
    d["allocation"]["coal_floor"] = "on"
    d["abatement"] = {"measures": measures}
    return d


@pytest.mark.parametrize(("cost", "abated", "objective"), [(19.0, 1_000.0, 1_999_000.0), (21.0, 0.0, 2_000_000.0)])
def test_abatement_in_relief_is_worth_a_fifth_of_the_price(cost, abated, objective):
    """E0 = 100,000, A = 60,000: the gap (40%) exceeds 20%, relief tops A up to 0.8 E for any
    abatement (0.8 x 99,000 - 60,000 > 0, so no binary is needed). Buying 0.2 E at 100 CNY/t:
    a measure of 1,000 t pays only if it costs less than 0.2 x 100 = 20 CNY/t.
    cost 19: 19,000 + 100 x 0.2 x 99,000 = 1,999,000; cost 21: unused, 100 x 20,000 = 2,000,000."""
    plan = solve(coal_case(60_000, [{"id": "m", "cost_cny_per_t": cost, "potential_t_per_year": 1_000}]))
    r = row(plan, 2025)
    assert r.abatement_measures_t == pytest.approx(abated)
    assert r.relief_t == pytest.approx(0.8 * (100_000 - abated) - 60_000)
    assert r.buy_t == pytest.approx(0.2 * (100_000 - abated))
    assert plan.summary["objective_cny"] == pytest.approx(objective)
    assert "relief_regime" in set(plan.bindings["rule"])


@pytest.mark.parametrize(
    ("potential", "abated", "relief", "objective"),
    [(3_000, 0.0, 2_000.0, 2_000_000.0), (5_000, 5_000.0, 0.0, 1_950_000.0)],
)
def test_regime_switches_when_abatement_grows(potential, abated, relief, objective):
    """E0 = 100,000, A = 78,000 (gap 22%): relief = max(0, 0.8 (100,000 - t) - 78,000) = max(0, 2,000 - 0.8 t).
    A measure at 50 CNY/t, price 100. Cost of abating t tonnes:
      t <= 2,500 (relief on): 50 t + 100 (20,000 - 0.2 t) = 2,000,000 + 30 t  (rises: abating is a loss)
      t >= 2,500 (relief off): 50 t + 100 (22,000 - t)   = 2,200,000 - 50 t  (falls)
    so the best plan is t = 0 or t = potential, whichever is cheaper; they tie at t = 4,000.
    potential 3,000: 2,050,000 > 2,000,000 -> stay in relief, abate nothing.
    potential 5,000: 1,950,000 < 2,000,000 -> leave relief, abate all. A convex model cannot do this."""
    d = coal_case(78_000, [{"id": "m", "cost_cny_per_t": 50.0, "potential_t_per_year": potential}])
    built = build(parse_case(d))
    assert list(built.model.entity["T"].RELIEF_SWITCH_YEARS) == [2025]
    plan = solve(d)
    r = row(plan, 2025)
    assert r.abatement_measures_t == pytest.approx(abated)
    assert r.relief_t == pytest.approx(relief)
    assert r.relief_on == (1 if relief > 0 else 0)
    assert plan.summary["objective_cny"] == pytest.approx(objective)


def test_no_binary_where_bounds_decide_the_regime():
    """A = 90,000: 0.8 E - A <= 80,000 - 90,000 < 0 for any abatement -> no relief variable at all.
    A = 60,000 with 1,000 t of potential: always in relief -> a variable but no binary."""
    off = build(parse_case(coal_case(90_000, [{"id": "m", "cost_cny_per_t": 1.0, "potential_t_per_year": 1_000}]))).model.entity["T"]
    assert list(off.RELIEF_YEARS) == [] and list(off.RELIEF_SWITCH_YEARS) == []
    on = build(parse_case(coal_case(60_000, [{"id": "m", "cost_cny_per_t": 1.0, "potential_t_per_year": 1_000}]))).model.entity["T"]
    assert list(on.RELIEF_YEARS) == [2025] and list(on.RELIEF_SWITCH_YEARS) == []


def test_gas_topup_makes_abatement_worthless_until_surplus():
    """Gas top-up: A' = max(A, E). E0 = 100,000, A = 95,000, sell at 99, measure 8,000 t at 10 CNY/t.
    Abating t <= 5,000 only lowers the top-up (worth 0); beyond 5,000 each tonne is surplus sold at 99.
    Cost(t) = 10 t for t <= 5,000; 10 t - 99 (t - 5,000) beyond: at 8,000: 80,000 - 297,000 = -217,000
    < 0 = cost(0) -> abate all, relief 0, sell 3,000."""
    d = case_dict(emissions=100_000, allocation=95_000, buy=100.0, ccer=1_000.0)
    d["entity"]["unit_class"] = "gas"
    d["allocation"].update(coal_floor="off", gas_topup="on")
    d["abatement"] = {"measures": [{"id": "m", "cost_cny_per_t": 10.0, "potential_t_per_year": 8_000}]}
    plan = solve(d)
    r = row(plan, 2025)
    assert (r.abatement_measures_t, r.relief_t, r.sell_t) == (pytest.approx(8_000), pytest.approx(0), pytest.approx(3_000))
    assert plan.summary["objective_cny"] == pytest.approx(-217_000.0)


def _random_case(rng: random.Random):
    years = tuple(range(2025, 2025 + rng.randint(1, 3)))
    emissions = [rng.randint(80, 120) * 1_000 for _ in years]
    allocation = [int(e * rng.uniform(0.74, 0.84)) for e in emissions]
    buy = [rng.choice([60.0, 80.0, 100.0, 120.0]) for _ in years]
    measures = [
        {"id": f"m{k}", "cost_cny_per_t": rng.choice([5.0, 15.0, 25.0, 40.0, 70.0, 110.0]), "potential_t_per_year": rng.randint(1, 12) * 1_000}
        for k in range(rng.randint(1, 2))
    ]
    d = coal_case(allocation, measures, emissions=emissions, buy=buy, years=years)
    d["market"] = [dict(m, cea_sell_cny_per_t=m["cea_buy_cny_per_t"] - rng.choice([1.0, 5.0])) for m in d["market"]]
    return d


def test_same_plan_as_brute_force_over_regimes():
    """40 seeded random coal cases (1-3 years, allocation 74-84% of emissions, 1-2 measures): the MIP
    optimum equals the best of the LPs with every relief regime fixed on or off (infeasible
    combinations skipped), and the checker recomputes relief = max(0, 0.8 E - A) from the plan."""
    rng = random.Random(20261123)
    switched = 0
    for _ in range(40):
        d = _random_case(rng)
        plan = solve(d)  # MIP + independent checker
        built = build(parse_case(d))
        b = built.model.entity["T"]
        switch = list(b.RELIEF_SWITCH_YEARS)
        switched += bool(switch)
        best = None
        for regime in itertools.product((0, 1), repeat=len(switch)):
            built = build(parse_case(d))
            b = built.model.entity["T"]
            for y, v in zip(switch, regime, strict=True):
                b.relief_on[y].fix(v)
            try:
                res = solve_model(built.model, SolveOptions())
            except InfeasibleError:
                continue
            best = res.objective if best is None else min(best, res.objective)
        assert best is not None
        assert plan.summary["objective_cny"] == pytest.approx(best, rel=1e-9, abs=1e-3)
    assert switched >= 10, "the generator should produce cases where the regime can switch"


def test_checker_catches_wrong_relief():
    """The checker recomputes relief from the plan tables: tampering with it is reported."""
    d = coal_case(60_000, [])
    from planner.api import run

    res = run(parse_case(d))
    res.plan.annual.loc[:, "relief_t"] += 100.0
    fails = check_plan(res.prep.data, res.plan)
    assert any("relief" in f for f in fails)


def _cap_case(year, **overrides):
    """One coal_gt300 unit (660 MW, water-cooled, condensing, full load) supplying 3,000,000 MWh and
    emitting 3,500,000 t; CCERs unlimited at 30 CNY/t, CEAs at 50, nothing left has value."""
    return {
        "entity": {"id": "R", "sector": "power", "unit_class": "coal_gt300", "capacity_mw": 660},
        "horizon": {"first_year": year, "last_year": year},
        "activity": [{"year": year, "output": 3_180_000, "supply_mwh": 3_000_000, "load_rate": 0.9, "emissions_t": 3_500_000}],
        "market": [{"year": year, "cea_buy_cny_per_t": 50.0, "cea_sell_cny_per_t": 49.0, "ccer_cny_per_t": 30.0,
                    "ccer_available_t": UNLIMITED_CCER_T}],
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
        "policy": {"overrides": overrides},
    }


@pytest.mark.parametrize(
    ("overrides", "allocation", "obligation", "ccer", "buy", "objective"),
    [
        ({}, 2_631_000.0, 3_331_000.0, 166_550.0, 533_450.0, 31_669_000.0),
        ({"relief.mechanism.supply_2019_2020": "extra_allocation"}, 2_800_000.0, 3_500_000.0, 175_000.0, 525_000.0, 31_500_000.0),
    ],
)
def test_2019_relief_caps_the_obligation_and_the_ccer_cap_follows(overrides, allocation, obligation, ccer, buy, objective):
    """2019-2020 plan: 'the obligation is at most the free allocation + 20% of verified emissions' (P).
    A = 3,000,000 x 0.877 = 2,631,000; E = 3,500,000; relief = 0.8 E - A = 169,000 (gap 24.8% > 20%).
    Obligation cap (the plan's wording): obligation = E - 169,000 = 3,331,000 = A + 0.2 E; CCER cap =
    5% x 3,331,000 = 166,550; buy 3,331,000 - 2,631,000 - 166,550 = 533,450; cost 533,450 x 50 +
    166,550 x 30 = 31,669,000 CNY.
    As extra allowances (the 2023-2024 reading, overridden here): allocation 2,800,000, obligation
    3,500,000, CCER cap 175,000, buy 525,000; cost 525,000 x 50 + 175,000 x 30 = 31,500,000 CNY.
    The net position is the same (700,000 t to find); only the CCER base differs, by 8,450 t."""
    plan = solve(_cap_case(2019, **overrides))
    r = row(plan, 2019)
    assert r.relief_t == pytest.approx(169_000.0)
    assert r.allocation_t == pytest.approx(allocation)
    assert r.obligation_t == pytest.approx(obligation)
    assert r.ccer_surrendered_t == pytest.approx(ccer)
    assert r.buy_t == pytest.approx(buy)
    assert plan.summary["objective_cny"] == pytest.approx(objective)
    statement = next(s for s in plan.bindings["statement"] if "relief applies in 2019" in s)
    if overrides:
        assert statement.startswith("coal relief applies in 2019: allocation raised to 80% of verified emissions (+169,000 t)")
    else:
        assert statement.startswith("coal relief applies in 2019: obligation capped at the free allocation + 20% of verified "
                                    "emissions (-169,000 t)")
    assert any(n.startswith("Relief in 2019 " + ("is issued as extra allowances" if overrides else "caps the surrender obligation"))
               for n in plan.notes)


def test_a_2022_2023_plan_switches_mechanism_with_the_plan():
    """2022 (2021-2022 plan, obligation cap) and 2023 (2023-2024 plan, extra allowances) in one plan:
    the same entity, each year under its own plan. 2022: A = 3,000,000 x 0.8177 = 2,453,100; relief
    0.8 x 3,500,000 - 2,453,100 = 346,900 off the obligation -> 3,153,100, CCER cap 157,655.
    2023 (generation 3,180,000 x 0.7950 = 2,528,100): relief 271,900 issued -> allocation 2,800,000,
    CCER cap 175,000. Banking is unlimited between them and nothing is left at the end. (The 2022 gap
    after relief, 700,000 = 20%, would allow a pre-draw of 350,000 from 2023: switched off here.)"""
    d = _cap_case(2022, **{"borrowing.conditional.years": []})
    d["horizon"]["last_year"] = 2023
    d["activity"].append(dict(d["activity"][0], year=2023))
    d["market"].append(dict(d["market"][0], year=2023))
    plan = solve(d)
    r22, r23 = row(plan, 2022), row(plan, 2023)
    assert (r22.relief_t, r23.relief_t) == (pytest.approx(346_900.0), pytest.approx(271_900.0))
    assert (r22.obligation_t, r22.allocation_t) == (pytest.approx(3_153_100.0), pytest.approx(2_453_100.0))
    assert (r23.obligation_t, r23.allocation_t) == (pytest.approx(3_500_000.0), pytest.approx(2_800_000.0))
    assert (r22.ccer_surrendered_t, r23.ccer_surrendered_t) == (pytest.approx(157_655.0), pytest.approx(175_000.0))
