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
from tests.solver.helpers import case_dict, row, solve

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
