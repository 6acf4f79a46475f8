"""Tiny cases with unique optima, each derived by hand in its docstring."""

import pytest

from planner.errors import InfeasibleError
from tests.solver.helpers import UNLIMITED_CCER_T, case_dict, row, solve

approx = pytest.approx


def test_gap_covered_by_cheaper_ccer_up_to_the_cap():
    """E = 100,000, A = 90,000: gap 10,000. CCER 50 < CEA 60, capped at 5% x 100,000 = 5,000 t.
    The other 5,000 t are bought at 60. Cost 5,000 x 50 + 5,000 x 60 = 550,000. One more tonne of
    obligation would be bought at 60 (the CCER cap binds), so the shadow price is 60; one more tonne
    of CCER cap would save 60 - 50 = 10."""
    p = solve(case_dict())
    r = row(p, 2025)
    assert (r.ccer_buy_t, r.ccer_surrendered_t, r.buy_t, r.sell_t) == (approx(5_000), approx(5_000), approx(5_000), approx(0))
    assert p.summary["objective_cny"] == approx(550_000)
    assert r.shadow_price_cny_per_t == approx(60)
    cap = p.bindings[p.bindings.rule == "ccer_cap"]
    assert len(cap) == 1
    assert cap.iloc[0].saving_cny_per_t == approx(10)


def test_dearer_ccer_is_not_used():
    """CCER 70 > CEA 60: the whole 10,000 t gap is bought. Cost 600,000."""
    p = solve(case_dict(ccer=70.0))
    r = row(p, 2025)
    assert (r.ccer_buy_t, r.buy_t) == (approx(0), approx(10_000))
    assert p.summary["objective_cny"] == approx(600_000)


def test_abatement_cheaper_than_market_used_first():
    """Measure at 40 < 50 < 60 with potential 3,000: abate 3,000 -> obligation 97,000;
    CCER cap 5% x 97,000 = 4,850 at 50; buy 10,000 - 3,000 - 4,850 = 2,150 at 60.
    Cost 3,000 x 40 + 4,850 x 50 + 2,150 x 60 = 120,000 + 242,500 + 129,000 = 491,500."""
    d = case_dict()
    d["abatement"] = {"measures": [{"id": "m", "cost_cny_per_t": 40, "potential_t_per_year": 3_000}]}
    p = solve(d)
    r = row(p, 2025)
    assert r.abatement_measures_t == approx(3_000)
    assert r.ccer_surrendered_t == approx(4_850)
    assert r.buy_t == approx(2_150)
    assert p.summary["objective_cny"] == approx(491_500)


def _surplus_case(sell_2025):
    """2024-2025, holdings H = 100,000 (vintage 2023), NS0 = 10,000, allocation = emissions so only
    the bank matters; CCER too dear to use; 2025+ transitions unlimited so only the 2024 rule binds."""
    d = case_dict(years=(2024, 2025), emissions=50_000, allocation=50_000, buy=[61.0, sell_2025 + 1], sell=[60.0, sell_2025], ccer=500.0)
    d["opening"] = {"cea_by_vintage": {2023: 100_000}, "net_sales_since_2019_t": 10_000}
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}}
    return d


def test_surplus_holder_sells_exactly_enough_to_carry_the_rest():
    """Carrying a tonne into 2025 is worth 80 (sold then) > 60 (sold now), so carry as much as the
    limit allows: holdings after selling s are 100,000 - s <= 10,000 + 1.5 x (10,000 + s), i.e.
    s >= (H - 10,000 - 1.5 NS0) / 2.5 = (100,000 - 10,000 - 15,000) / 2.5 = 30,000.
    Carry 70,000 = the limit 10,000 + 1.5 x 40,000; sell it in 2025 at 80.
    Revenue 30,000 x 60 + 70,000 x 80 = 7,400,000."""
    p = solve(_surplus_case(80.0))
    r24, r25 = row(p, 2024), row(p, 2025)
    assert r24.sell_t == approx(30_000)
    assert r24.carry_t == approx(70_000)
    assert r24.carry_limit_t == approx(70_000)
    assert r24.lapse_t == approx(0)
    assert r25.sell_t == approx(70_000)
    assert p.summary["objective_cny"] == approx(-7_400_000)
    text = " ".join(p.bindings.statement)
    assert "carry-over limit binds in 2024" in text


def test_surplus_holder_sells_everything_when_later_price_is_lower():
    """2025 sell price 55 < 60: carrying loses money, so all 100,000 t are sold in 2024.
    Revenue 6,000,000."""
    p = solve(_surplus_case(55.0))
    assert row(p, 2024).sell_t == approx(100_000)
    assert row(p, 2024).carry_t == approx(0)
    assert p.summary["objective_cny"] == approx(-6_000_000)


def _banking_case(buy_2026, floor=True):
    """2025-2026: no gap in 2025 (A = E = 100,000), gap 20,000 in 2026 (A = 80,000). Discount 5%.
    CCER too dear. A bought tonne carried into 2026 lowers net sales, so with the floor the limit is
    the 10,000 t base."""
    d = case_dict(years=(2025, 2026), allocation=[100_000, 80_000], buy=[60.0, buy_2026], ccer=1_000.0)
    d["finance"]["discount_rate"] = 0.05
    if not floor:
        d["policy"] = {"overrides": {"carryover.net_sales_floor_at_zero": False}}
    return d


def test_rising_price_makes_banking_worthwhile_up_to_the_limit():
    """Buying at 60 in 2025 beats 80 / 1.05 = 76.19 in 2026, up to the 10,000 t carry-over limit
    (net sales -10,000 are floored at zero). Cost 10,000 x 60 + 10,000 x 80 / 1.05."""
    p = solve(_banking_case(80.0))
    assert row(p, 2025).buy_t == approx(10_000)
    assert row(p, 2025).carry_t == approx(10_000)
    assert row(p, 2026).buy_t == approx(10_000)
    assert p.summary["objective_cny"] == approx(600_000 + 800_000 / 1.05)


def test_flat_price_does_not_bank():
    """Flat 60 with 5% discounting: 60 now > 60 / 1.05 later, so buy all 20,000 t in 2026."""
    p = solve(_banking_case(61.0 - 1.0))
    assert row(p, 2025).buy_t == approx(0)
    assert row(p, 2026).buy_t == approx(20_000)
    assert p.summary["objective_cny"] == approx(1_200_000 / 1.05)


def test_without_the_floor_net_purchases_shrink_the_limit():
    """Limit max(0, 10,000 + 1.5 NS). Buying c in 2025 to carry gives NS = -c, so
    c <= 10,000 - 1.5 c -> c <= 4,000. Cost 4,000 x 60 + 16,000 x 80 / 1.05."""
    p = solve(_banking_case(80.0, floor=False))
    assert row(p, 2025).buy_t == approx(4_000)
    assert row(p, 2025).carry_t == approx(4_000)
    assert row(p, 2025).carry_limit_t == approx(4_000)
    assert p.summary["objective_cny"] == approx(240_000 + 16_000 * 80 / 1.05)


def _project_case(last_year):
    years = tuple(range(2025, last_year + 1))
    d = case_dict(years=years, allocation=0, ccer=1_000.0)
    d["abatement"] = {"projects": [{"id": "p", "capex_cny": 1_000_000, "reduction_t_per_year": 5_000, "lifetime_years": 20}]}
    return d


def test_project_pays_back_only_with_enough_years_left():
    """Capex 1,000,000 upfront saves 5,000 t x 60 = 300,000 a year (no discounting, no salvage).
    Five years: built in 2025, saves 1,500,000 > 1,000,000; cost 5 x 95,000 x 60 + 1,000,000.
    Three years: saves 900,000 < 1,000,000, not built; cost 3 x 100,000 x 60."""
    p5 = solve(_project_case(2029))
    assert p5.builds[["project", "build_year"]].values.tolist() == [["p", 2025]]
    assert p5.summary["objective_cny"] == approx(5 * 95_000 * 60 + 1_000_000)
    p3 = solve(_project_case(2027))
    assert p3.builds.empty
    assert p3.summary["objective_cny"] == approx(3 * 100_000 * 60)


def test_shortfall_only_when_volume_limits_make_compliance_impossible():
    """Gap 10,000 with at most 4,000 t CEA and 3,000 t CCER available: 3,000 t shortfall, fined at
    5 x 60 = 300 plus the deduction beyond the horizon charged at 60: 360 a tonne.
    Cost 3,000 x 50 + 4,000 x 60 + 3,000 x 360 = 1,470,000."""
    p = solve(case_dict(buy_limit_t=4_000, ccer_available_t=3_000))
    r = row(p, 2025)
    assert (r.ccer_buy_t, r.buy_t, r.shortfall_t) == (approx(3_000), approx(4_000), approx(3_000))
    assert p.summary["objective_cny"] == approx(1_470_000)
    assert "shortfall" in set(p.bindings.rule)
    assert row(solve(case_dict()), 2025).shortfall_t == approx(0)


def test_hard_compliance_with_impossible_limits_is_infeasible():
    d = case_dict(buy_limit_t=4_000, ccer_available_t=3_000)
    d["policy"] = {"compliance": "hard"}
    with pytest.raises(InfeasibleError):
        solve(d)


def test_shortfall_is_deducted_from_next_year():
    """2025 limits force 3,000 t shortfall; 2026 has no limits and must also surrender the 3,000 t
    deducted from its allocation: gap 10,000 + 3,000; CCER 5,000 (5% of its own obligation) at 50,
    8,000 bought at 60.
    Cost 2025: 150,000 + 240,000 + 3,000 x 300 = 1,290,000; 2026: 250,000 + 480,000 = 730,000."""
    d = case_dict(years=(2025, 2026), buy_limit_t=[4_000, None], ccer_available_t=[3_000, UNLIMITED_CCER_T])
    p = solve(d)
    assert row(p, 2025).shortfall_t == approx(3_000)
    assert row(p, 2026).buy_t == approx(8_000)
    assert p.summary["objective_cny"] == approx(1_290_000 + 730_000)
