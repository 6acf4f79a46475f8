"""Rules from the history and the absolute-cap scenario, each solved by hand.

Conditional pre-draw 2021-2022 (rules.md R3.8), industrial verified-emissions year (R4.2), absolute
cap with an auctioned share and output cuts (R9.1, M15).
"""

import pytest

from planner.api import build
from planner.input.read import parse_case
from tests.solver.helpers import case_dict, row, solve

pytestmark = pytest.mark.solver


def predraw_case(measures=()):
    d = case_dict(years=(2021, 2022, 2023), emissions=100_000, allocation=[85_000, 95_000, 100_000], buy=[100.0, 100.0, 50.0], ccer=1_000.0)
    d["abatement"] = {"measures": [dict(m, last_year=2021) for m in measures]}
    # the entity complies: 2021-2022 shortfalls cost only Order 19's fixed fine (rules.md §14) and
    # would defer the gaps to the cheap 2023 allowances instead of drawing them
    d["policy"] = {"compliance": "hard"}
    return d


def test_predraw_half_the_gap_from_2023():
    """2021 gap 15,000 = 15% of emissions >= 10%: up to 50% = 7,500 may be drawn from the 2023
    allocation. 2023 allowances cost 50, 2021 ones 100, so the entity draws all 7,500:
      2021: buy 7,500 x 100 = 750,000; 2022: gap 5% < 10%, no pre-draw, buy 5,000 x 100 = 500,000;
      2023: allocation 100,000 - 7,500, buy 7,500 x 50 = 375,000. Total 1,625,000
    (2,000,000 without the rule: the saving is 7,500 x (100 - 50))."""
    plan = solve(predraw_case())
    assert row(plan, 2021).borrow_t == pytest.approx(7_500)
    assert row(plan, 2022).borrow_t == 0
    assert row(plan, 2023).allocation_t == pytest.approx(92_500)
    assert row(plan, 2023).buy_t == pytest.approx(7_500)
    assert plan.summary["objective_cny"] == pytest.approx(1_625_000)
    assert "predraw" in set(plan.bindings["rule"])
    b = build(parse_case(predraw_case())).model.entity["T"]
    assert list(b.BORROW_YEARS) == [2021] and list(b.BORROW_SWITCH_YEARS) == []


def test_predraw_condition_switches_with_abatement():
    """A 2021 measure of 8,000 t at 70 CNY/t. Abating t: gap = 15,000 - t, eligible while
    15,000 - t >= 0.1 (100,000 - t), i.e. t <= 5,000 / 0.9 = 5,555.56. 2021+2023 cost:
      eligible:   70 t + 100 (gap - gap/2) + 50 gap/2 = 1,125,000 - 5 t  -> best at t = 5,555.56: 1,097,222.22
      ineligible: 70 t + 100 gap = 1,500,000 - 30 t                      -> best at t = 8,000:    1,260,000
    so the plan abates exactly up to the eligibility edge and draws 4,722.22; plus 2022's 500,000."""
    plan = solve(predraw_case([{"id": "m", "cost_cny_per_t": 70.0, "potential_t_per_year": 8_000}]))
    r = row(plan, 2021)
    assert r.abatement_measures_t == pytest.approx(5_000 / 0.9, abs=1e-3)
    assert r.borrow_t == pytest.approx(0.5 * (15_000 - 5_000 / 0.9), abs=1e-3)
    assert plan.summary["objective_cny"] == pytest.approx(1_097_222.222 + 500_000, abs=0.01)
    b = build(parse_case(predraw_case([{"id": "m", "cost_cny_per_t": 70.0, "potential_t_per_year": 8_000}]))).model.entity["T"]
    assert list(b.BORROW_SWITCH_YEARS) == [2021]


def test_industrial_verified_year_gives_abatement_no_value():
    """Cement 2024: allocation = verified emissions, so a measure at 1 CNY/t is not used in 2024;
    in 2025 (allocation 1,000,000 t x 0.85 = 850,000 against 860,000 t) it saves 60 CNY/t and runs
    at its 5,000 t potential; the rest (5,000 t) is bought at 60: 5,000 + 300,000 = 305,000."""
    d = {
        "entity": {"id": "C", "sector": "industry", "unit_class": "cement_clinker"},
        "horizon": {"first_year": 2024, "last_year": 2025},
        "activity": [{"year": y, "output": 1_000_000, "emissions_t": 860_000} for y in (2024, 2025)],
        "allocation": {"benchmarks": [{"year": 2025, "output_t_per_unit": 0.85}]},
        "market": [{"year": y, "cea_buy_cny_per_t": 60, "cea_sell_cny_per_t": 59, "ccer_cny_per_t": 1_000} for y in (2024, 2025)],
        "abatement": {"measures": [{"id": "m", "cost_cny_per_t": 1.0, "potential_t_per_year": 5_000}]},
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
    }
    plan = solve(d)
    assert row(plan, 2024).abatement_measures_t == 0
    assert row(plan, 2024).allocation_t == pytest.approx(860_000)
    assert row(plan, 2025).abatement_measures_t == pytest.approx(5_000)
    assert plan.summary["objective_cny"] == pytest.approx(305_000)


def old_ccer_case(**overrides):
    d = case_dict(years=(2022, 2023, 2024), emissions=100_000, allocation=90_000, buy=100.0, ccer=[30.0, 90.0, 90.0])
    d["policy"] = {"overrides": overrides}
    return d


def test_old_market_ccers_expire_after_their_last_use_year():
    """Market CCERs bought for 2022 are old-system (pack: ccer.market_old_system_last_year 2022) and
    usable up to the 2023 surrender (ccer.old_last_compliance_year). Cap 5% x 100,000 = 5,000 a year.
      old CCERs at 30 for 2022 and 2023: 10,000 x 30 = 300,000; 2024 CCERs at 90: 5,000 x 90 = 450,000;
      CEA 3 x 5,000 x 100 = 1,500,000. Total 2,250,000.
    Without the expiry (last use 2024) the 2022 purchase covers 2024 too: 15,000 x 30 + 1,500,000
    = 1,950,000; the rule costs 5,000 x (90 - 30) = 300,000."""
    plan = solve(old_ccer_case())
    assert plan.summary["objective_cny"] == pytest.approx(2_250_000)
    assert row(plan, 2022).ccer_buy_t == pytest.approx(10_000)
    assert row(plan, 2023).ccer_hold_t == pytest.approx(0, abs=1e-6)
    assert row(plan, 2024).ccer_buy_t == pytest.approx(5_000)
    free = solve(old_ccer_case(**{"ccer.old_last_compliance_year": 2024}))
    assert free.summary["objective_cny"] == pytest.approx(1_950_000)
    assert row(free, 2022).ccer_buy_t == pytest.approx(15_000)


def test_old_ccers_past_their_last_use_cannot_be_bought():
    """If the market were old-system through 2024 (override), 2024 purchases could never be
    surrendered (availability set to 0) and banked 2022 CCERs expire after 2023 as well, so 2024's
    5,000 t are CEA: 10,000 x 30 + 1,500,000 + 5,000 x 100 = 2,000,000 + 300,000 = 2,300,000."""
    plan = solve(old_ccer_case(**{"ccer.market_old_system_last_year": 2024}))
    assert row(plan, 2024).ccer_buy_t == 0
    assert row(plan, 2024).ccer_surrendered_t == pytest.approx(0, abs=1e-6)
    assert plan.summary["objective_cny"] == pytest.approx(2_300_000)


def test_checker_refuses_old_ccers_held_past_their_last_use():
    """Move 5,000 t of the 2024 purchase to 2022 and bank it through 2023: every balance still holds,
    only the old-CCER expiry is broken, and the checker names it."""
    from planner.api import run
    from planner.plan.check import check_plan

    res = run(parse_case(old_ccer_case()))
    a = res.plan.annual
    a.loc[a["year"] == 2022, ["ccer_buy_t", "ccer_hold_t"]] += 5_000
    a.loc[a["year"] == 2023, "ccer_hold_t"] += 5_000
    a.loc[a["year"] == 2024, "ccer_buy_t"] -= 5_000
    problems = check_plan(res.prep.data, res.plan)
    assert any("old-CCER last use" in p for p in problems), problems


def abscap_case(enabled=True):
    return {
        "entity": {"id": "P", "sector": "power", "unit_class": "coal_gt300"},
        "horizon": {"first_year": 2026, "last_year": 2027},
        "activity": [{"year": y, "output": 1_000_000, "emissions_t": 850_000} for y in (2026, 2027)],
        "allocation": {"benchmarks": [{"year": y, "output_t_per_unit": 0.8} for y in (2026, 2027)], "coal_floor": "off"},
        "market": [{"year": y, "cea_buy_cny_per_t": 60, "cea_sell_cny_per_t": 59, "ccer_cny_per_t": 1_000} for y in (2026, 2027)],
        "abatement": {"measures": [{"id": "cut", "kind": "output", "cost_cny_per_t": 30.0, "potential_t_per_year": 150_000}]},
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
        "policy": {"overrides": {
            "absolute_cap.enabled": enabled, "absolute_cap.start_year": 2027,
            "absolute_cap.decline_per_year": 0.02, "absolute_cap.auction_share": 0.1,
        }},
    }


def test_absolute_cap_makes_output_cuts_create_surplus():
    """2026 (output-based, A = 1,000,000 MWh x 0.8 = 800,000): cutting output loses 800,000/850,000
    = 0.941 t of allocation per tonne avoided, so a tonne is worth 60 x 0.059 = 3.53 < 30: no cut;
    buy 50,000 x 60 = 3,000,000.
    2027 (capped at the 2026 allocation 800,000 x 0.98^0; 10% auctioned -> 720,000 free): a cut
    loses nothing and saves 60 > 30: cut all 150,000 t -> E = 700,000, surplus 20,000 sold at 59.
    2027 cost 150,000 x 30 - 20,000 x 59 = 3,320,000. Total 6,320,000."""
    plan = solve(abscap_case())
    r26, r27 = row(plan, 2026), row(plan, 2027)
    assert r26.abatement_measures_t == 0 and r26.buy_t == pytest.approx(50_000)
    assert r27.allocation_t == pytest.approx(720_000) and r27.auction_max_t == pytest.approx(80_000)
    assert r27.abatement_measures_t == pytest.approx(150_000)
    assert r27.sell_t == pytest.approx(20_000) and r27.auction_buy_t == 0
    assert plan.summary["objective_cny"] == pytest.approx(6_320_000)
    assert any("Absolute cap from 2027" in n for n in plan.notes)


def test_without_the_cap_output_cuts_do_not_pay():
    """Same case, cap off: 2027 is output-based like 2026, no cut; buy 50,000 t a year at 60 = 6,000,000."""
    plan = solve(abscap_case(enabled=False))
    assert plan.annual["abatement_measures_t"].sum() == 0
    assert plan.summary["objective_cny"] == pytest.approx(6_000_000)


def test_auction_share_is_bought_when_short():
    """Cap on, no cut possible (potential 0): 2027 needs 850,000 - 720,000 = 130,000 t: the auctioned
    80,000 at a 10% discount (54) and 50,000 on the market at 60: 4,320,000 + 3,000,000 = 7,320,000
    plus 2026's 3,000,000."""
    d = abscap_case()
    d["abatement"] = {}
    d["policy"]["overrides"]["absolute_cap.auction_price_discount"] = 0.1
    plan = solve(d)
    r27 = row(plan, 2027)
    assert r27.auction_buy_t == pytest.approx(80_000) and r27.buy_t == pytest.approx(50_000)
    assert plan.summary["objective_cny"] == pytest.approx(10_320_000)
