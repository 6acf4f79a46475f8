"""The plan at its edges (issue 17): opening holdings across the transitions before the first year,
penalties by vintage, CCER supply and eligibility, and the carry-over limit a plan reports.

Each optimisation case is derived by hand in its docstring and checked by the independent checker
(``tests.solver.helpers.solve``)."""

import copy

import pandas as pd
import pytest

from models import build_model
from planner.errors import CaseValidationError
from planner.input.read import parse_case
from planner.plan.check import check_plan
from planner.prepare.entity import prepare
from planner.report.statements import statement
from tests.solver.helpers import case_dict, row, solve

approx = pytest.approx


# ---- opening holdings cross the 2024 -> 2025 transition -------------------------------------------


def _opening_case(holdings, ns0=4_000, **opening):
    """2025 only, power. E = 100,000, A = 90,000 (gap 10,000); CEA 60 / 59, CCER too dear (500); no
    discounting, nothing left is worth anything. Opening: ``holdings`` t of vintage 2024, net sales
    since 2019 ``ns0``. The transition after the 2024 surrender limits vintages 2019-2024 to
    10,000 + 1.5 x max(0, NS) (rules.md R2.2)."""
    d = case_dict(years=(2025,), buy=60.0, sell=59.0, ccer=500.0)
    d["opening"] = {"cea_by_vintage": {2024: holdings}, "net_sales_since_2019_t": ns0, **opening}
    return d


def test_opening_holdings_above_the_limit_lapse_at_the_transition():
    """Limit at the opening: 10,000 + 1.5 x 4,000 = 16,000 t, so 50,000 - 16,000 = 34,000 t lapse
    before 2025. The 16,000 t left cover the 10,000 t gap; the other 6,000 t are sold at 59 (nothing
    is worth anything after 2025). Objective -6,000 x 59 = -354,000."""
    p = solve(_opening_case(50_000))
    r = row(p, 2025)
    assert r.opening_lapse_t == approx(34_000)
    assert r.opening_carry_limit_t == approx(16_000)
    assert r.opening_sell_t == approx(0)
    assert (r.surrender_t, r.sell_t, r.buy_t) == (approx(100_000), approx(6_000), approx(0))
    assert p.summary["objective_cny"] == approx(-354_000)
    assert p.summary["opening_lapse_t"] == approx(34_000)
    lapse = p.bindings[p.bindings.rule == "opening_lapse"]
    assert len(lapse) == 1 and "34,000 t of the 50,000 t opening holdings lapse before 2025" in lapse.iloc[0].statement
    assert statement(lapse.iloc[0], "zh") == ("期初持有的 50,000 t 配额中 34,000 t 在2025年前作废：2024年清缴后的结转上限为 16,000 t"
                                             "（累计净卖出 4,000 t），超出部分此后不再有效（rules.md R2.2）")  # from its facts
    assert any("16,000 t (10,000 + 1.5 x max(0, net sales)" in n and "34,000 t lapse" in n for n in p.notes)


def test_holdings_above_the_limit_plan_exactly_as_holdings_at_the_limit():
    """The excess is worthless: 50,000 t and 16,000 t (the limit) give the same plan, cost and
    tables; only the reported opening lapse differs (34,000 t against 0)."""
    above, at = solve(_opening_case(50_000)), solve(_opening_case(16_000))
    assert above.summary["objective_cny"] == approx(at.summary["objective_cny"], abs=1e-6)
    skip = {"opening_lapse_t"}
    cols = [c for c in at.annual.columns if c not in skip]
    pd.testing.assert_frame_equal(above.annual[cols], at.annual[cols], check_exact=False, rtol=1e-12, atol=1e-6)
    assert (row(above, 2025).opening_lapse_t, row(at, 2025).opening_lapse_t) == (approx(34_000), approx(0))
    assert at.bindings[at.bindings.rule == "opening_lapse"].empty


def test_a_plan_from_2024_keeps_the_rule_in_the_horizon_and_lapses_nothing_at_the_opening():
    """First year 2024: the 2024 transition is inside the horizon (the plan can sell in 2024 to raise
    it), so the opening vintage 2023 passes the unlimited 2023 transition whole."""
    d = case_dict(years=(2024, 2025), buy=60.0, sell=59.0, ccer=500.0)
    d["opening"] = {"cea_by_vintage": {2023: 50_000}, "net_sales_since_2019_t": 4_000}
    p = solve(d)
    assert row(p, 2024).opening_lapse_t == approx(0)
    assert prepare(parse_case(d)).data.entities[0].opening_transitions == ()


def test_before_the_transition_the_plan_sells_to_enlarge_the_limit():
    """'before': the transition after the 2024 surrender is still ahead; sales before it at 58 raise
    net sales. A tonne carried is worth 59 (surrendered instead of buying at 60, or sold in 2025 at
    59) > 58, so carry as much as the limit allows: 50,000 - s <= 16,000 + 1.5 s, s = 34,000 / 2.5 =
    13,600, carried 36,400 = the limit 10,000 + 1.5 x 17,600, nothing lapses. Selling less loses
    1.5 carried tonnes (88.5) per 58 gained; more gives 58 for a 59 tonne. 10,000 are surrendered,
    26,400 sold in 2025. Objective -(13,600 x 58 + 26,400 x 59) = -2,346,400."""
    p = solve(_opening_case(50_000, transition="before", transition_sell_cny_per_t=58.0))
    r = row(p, 2025)
    assert r.opening_sell_t == approx(13_600)
    assert r.opening_lapse_t == approx(0, abs=1e-6)
    assert r.opening_carry_limit_t == approx(36_400)
    assert r.sell_t == approx(26_400)
    assert r.net_sales_t == approx(4_000 + 13_600 + 26_400)
    assert p.summary["objective_cny"] == approx(-2_346_400)
    assert "sells 13,600 t of its opening holdings before the transition after the 2024 surrender" in " ".join(p.bindings.statement)
    sale = p.bindings[p.bindings.rule == "opening_sale"].iloc[0]
    assert statement(sale, "zh", "wan") == ("在2024年清缴后的结转之前出售期初持有配额 1.36 万t（58.00 元/t）：累计净卖出 1.76 万t，"
                                            "使该次结转上限提高至 3.64 万t")


def test_before_the_transition_a_net_buyer_first_sells_back_to_zero():
    """Net buyer (NS0 = -6,000): the floor keeps the limit at 10,000 until the sales before the
    transition pass 6,000 t; from there L = 10,000 + 1.5 (s - 6,000). Carried = min(50,000 - s, L):
    equal at 50,000 - s = 1,000 + 1.5 s, s = 19,600, carried 30,400. Below 6,000 a sale only earns
    58; between 6,000 and 19,600 it earns 58 + 1.5 x 59; beyond it 58 - 59. Surrender 10,000, sell
    20,400 in 2025. Objective -(19,600 x 58 + 20,400 x 59) = -2,340,400. The floor is a binary."""
    d = _opening_case(50_000, ns0=-6_000, transition="before", transition_sell_cny_per_t=58.0)
    prep = prepare(parse_case(d))
    assert len(build_model(prep.data).entity["T"].OPENING_FLOOR) == 1
    p = solve(d)
    r = row(p, 2025)
    assert r.opening_sell_t == approx(19_600)
    assert r.opening_carry_limit_t == approx(30_400)
    assert r.sell_t == approx(20_400)
    assert p.summary["objective_cny"] == approx(-2_340_400)


def test_before_needs_a_limited_transition_into_the_first_year():
    d = case_dict(years=(2024,))
    d["opening"] = {"cea_by_vintage": {2023: 1_000}, "transition": "before"}
    with pytest.raises(CaseValidationError, match="opening.transition"):
        prepare(parse_case(d))
    d = case_dict(years=(2025,))
    d["opening"] = {"cea_by_vintage": {2024: 1_000}, "transition_sell_cny_per_t": 50.0}
    with pytest.raises(CaseValidationError, match="only used with transition: before"):
        parse_case(d)


def test_every_transition_before_the_first_year_limits_the_vintages_it_covers():
    """First year 2026, NS0 = 0: vintage 2024 (50,000 t) passes the 2024 transition limited to
    10,000 (40,000 lapse); with vintage 2025 (30,000 t) the 40,000 t held pass the 2025 transition
    (the same formula, carryover.post_legacy.mode 'same' [I]) limited to 10,000 again (30,000 lapse):
    70,000 t lapse, 10,000 t carried into 2026."""
    d = case_dict(years=(2026,), allocation=100_000, ccer=500.0)
    d["opening"] = {"cea_by_vintage": {2024: 50_000, 2025: 30_000}}
    prep = prepare(parse_case(d))
    steps = prep.data.entities[0].opening_transitions
    assert [(t.year, t.entering_t) for t in steps] == [(2024, 50_000), (2025, 30_000)]
    p = solve(d)
    r = row(p, 2026)
    assert r.opening_lapse_t == approx(70_000)
    assert r.surrender_t + r.carry_t + r.sell_t == approx(100_000 + 10_000)
    beyond = dict(zip(prep.assumptions.parameter, prep.assumptions.applied_beyond_published, strict=True))
    assert beyond["carryover.post_legacy.mode"] == "2025, 2026"  # the 2025 transition and the horizon's


def test_industry_opening_holdings_keep_the_100000_t_base():
    """Cement, first year 2026: the industrial transition after the 2025 surrender has the 100,000 t
    base (rules.md R2.3): 150,000 t of vintage 2025 at NS0 = 0 keep 100,000, 50,000 lapse."""
    d = case_dict(years=(2026,), allocation=100_000, ccer=500.0)
    d["entity"] = {"id": "T", "sector": "industry", "unit_class": "cement_clinker"}
    d["opening"] = {"cea_by_vintage": {2025: 150_000}}
    p = solve(d)
    r = row(p, 2026)
    assert (r.opening_lapse_t, r.opening_carry_limit_t) == (approx(50_000), approx(100_000))


def test_checker_recomputes_the_opening_lapse_from_the_tables():
    d = _opening_case(50_000)
    res = __import__("planner.api", fromlist=["run"]).run(parse_case(copy.deepcopy(d)))
    plan = res.plan
    plan.annual.loc[plan.annual.year == 2025, "opening_lapse_t"] = 30_000.0
    fails = check_plan(res.prep.data, plan)
    assert any("opening lapse = the opening holdings above the transition limits" in f for f in fails)
    assert any("allowance stock balance" in f for f in fails)
    plan = __import__("planner.api", fromlist=["run"]).run(parse_case(copy.deepcopy(d))).plan
    # the 2025 transition is limited: 10,000 + 1.5 x (4,000 + 6,000 sold) = 25,000
    plan.annual.loc[plan.annual.year == 2025, "carry_limit_t"] -= 1_000.0
    assert check_plan(res.prep.data, plan) == ["T 2025: reported carry-over limit = the rule at the net sales: 24,000.000000 != 25,000.000000"]


# ---- the carry-over limit a plan reports is the rule's ---------------------------------------------


def test_reported_limit_is_the_rule_at_the_plans_net_sales_where_it_does_not_bind():
    """2025-2026, NS0 = -5,000 (the floor can bite: one binary), surplus 30,000 t in 2025
    (A = 130,000, E = 100,000), 2026 balanced; 2026 sells at 40 < 59, so everything is sold in 2025
    and nothing carried. Net sales 25,000: the rule's limit is 10,000 + 1.5 x 25,000 = 47,500, though
    the model's own expression of it may sit at the 10,000 floor where it does not bind."""
    d = case_dict(years=(2025, 2026), allocation=[130_000, 100_000], buy=[60.0, 41.0], sell=[59.0, 40.0], ccer=500.0)
    d["opening"] = {"net_sales_since_2019_t": -5_000}
    p = solve(d)
    r = row(p, 2025)
    assert (r.sell_t, r.carry_t) == (approx(30_000), approx(0))
    assert r.carry_limit_t == approx(47_500)


# ---- penalties by vintage ------------------------------------------------------------------------------


def test_decree_775_fine_from_the_2023_vintage():
    """2023, gap 10,000, purchases limited to 4,000, no CCERs: 6,000 t short. Fine 5 x the December
    2024 average 98.00 = 490 CNY/t (Decree 775; SEEE's reference for the 2023 vintage) plus the
    deduction from 2024's allocation at the last buy price 60. Cost 4,000 x 60 + 6,000 x (490 + 60)
    = 240,000 + 3,300,000 = 3,540,000."""
    d = case_dict(years=(2023,), buy_limit_t=4_000, ccer_available_t=0, penalty_reference_cny_per_t=98.0)
    p = solve(d)
    r = row(p, 2023)
    assert r.shortfall_t == approx(6_000)
    assert r.penalty_cny_per_t == approx(490)
    assert p.summary["objective_cny"] == approx(3_540_000)


def test_order_19_fixed_fine_up_to_the_2022_vintage():
    """2022, same position: the 2022 vintage falls under Order 19, a fixed CNY 20,000 for the failure
    whatever the tonnes, plus the deduction at 60. A tonne bought at 60 and a tonne deducted at 60
    cost the same: buying the 4,000 (240,000 + 20,000 + 6,000 x 60) and buying none (20,000 +
    10,000 x 60) both cost 620,000, and of the tied plans the planner takes the one that trades
    the fewest tonnes: 10,000 t short, nothing bought."""
    d = case_dict(years=(2022,), buy_limit_t=4_000, ccer_available_t=0, penalty_reference_cny_per_t=98.0)
    d["policy"] = {"overrides": {"borrowing.conditional.years": []}}  # no 2021-2022 pre-draw here
    prep = prepare(parse_case(d))
    assert prep.data.entities[0].penalty_cny_per_t == (0.0,)
    assert prep.data.entities[0].fine_fixed_cny == (20_000.0,)
    assert any("Order 19" in n and "penalty_reference_cny_per_t is not used" in n for n in prep.notes)
    p = solve(d)
    assert row(p, 2022).shortfall_t == approx(10_000)
    assert row(p, 2022).buy_t == approx(0)
    assert p.summary["objective_cny"] == approx(620_000)
    assert "fined CNY 20,000 once (Order 19)" in " ".join(p.bindings.statement)


def _order19_gap(gap):
    """2021-2022, CEA bought at 60 (sold at 50 in 2021, 59 in 2022), 10% discounting, no CCERs: a gap
    ``gap`` in 2021, none in 2022. Falling short in 2021 defers the purchase to 2022 (the deduction),
    at 60 / 1.1 = 54.55, for one fixed fine of 20,000; selling 2021 allowances at 50 to buy them
    back in 2022 at 54.55 does not pay, so only the gap is worth deferring."""
    d = case_dict(years=(2021, 2022), allocation=[100_000 - gap, 100_000], sell=[50.0, 59.0], ccer_available_t=0)
    d["finance"]["discount_rate"] = 0.1
    d["policy"] = {"overrides": {"borrowing.conditional.years": []}}  # no 2021-2022 pre-draw here
    return d


def test_order_19_fine_is_paid_once_when_deferring_saves_more():
    """Gap 10,000: buying now costs 600,000; falling short costs 20,000 + 600,000 / 1.1 = 565,454.55
    (a saving of 54,545 > the fine). The shortfall is deducted: 10,000 t more surrendered in 2022."""
    p = solve(_order19_gap(10_000))
    assert row(p, 2021).shortfall_t == approx(10_000)
    assert row(p, 2022).buy_t == approx(10_000)
    assert p.summary["objective_cny"] == approx(20_000 + 600_000 / 1.1)


def test_order_19_fine_is_not_paid_when_deferring_saves_less():
    """Gap 2,000: deferring saves 120,000 x (1 - 1/1.1) = 10,909 < 20,000: buy now, 120,000.
    (Priced per tonne at 0, an LP would defer any gap: the fine is a fixed cost, one binary.)"""
    d = _order19_gap(2_000)
    assert len(build_model(prepare(parse_case(d)).data).entity["T"].FINE_YEARS) == 2
    p = solve(d)
    assert row(p, 2021).shortfall_t == approx(0)
    assert p.summary["objective_cny"] == approx(120_000)


def test_cases_from_2023_keep_the_lp_without_fine_binaries():
    prep = prepare(parse_case(case_dict(years=(2023, 2024, 2025))))
    assert len(build_model(prep.data).entity["T"].FINE_YEARS) == 0
    assert prep.data.entities[0].fine_fixed_cny == ()


def test_a_zero_penalty_reference_is_refused_not_replaced():
    d = case_dict(years=(2025,), penalty_reference_cny_per_t=0)
    with pytest.raises(CaseValidationError) as exc:
        parse_case(d)
    assert "penalty_reference_cny_per_t" in str(exc.value) and "0 would make the fine 0" in str(exc.value)


# ---- CCER as the programme is -------------------------------------------------------------------


def test_no_ccer_availability_gets_the_issuance_share_and_a_warning():
    """9.48 Mt issued / 8 Gt covered = 0.1185% of baseline emissions: 118.5 t for 100,000 t."""
    d = case_dict(years=(2025,))
    del d["market"][0]["ccer_available_t"]
    prep = prepare(parse_case(d))
    assert prep.data.entities[0].ccer_buy_max_t == (approx(118.5),)
    assert any(w.startswith("no CCER availability given (market.ccer_available_t) for 2025") for w in prep.warnings)
    assert "ccer.default_supply.issued_t" in set(prep.assumptions.parameter)
    d["policy"] = {"overrides": {"ccer.default_supply.issued_t": 80_000_000}}
    assert prepare(parse_case(d)).data.entities[0].ccer_buy_max_t == (approx(1_000),)
    given = prepare(parse_case(case_dict(years=(2025,), ccer_available_t=3_000)))
    assert given.data.entities[0].ccer_buy_max_t == (3_000,)
    assert not any("CCER availability" in w for w in given.warnings)


def test_ccers_bought_for_2023_are_old_system():
    """The old-system market boundary is the 2023 compliance year: CCERs bought for 2023 expire
    after the 2023 surrender; only 2024 purchases are carried beyond it."""
    e = prepare(parse_case(case_dict(years=(2023, 2024, 2025)))).data.entities[0]
    assert e.ccer_buy_old == (True, False, False)
    assert e.ccer_old_expiry_index == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("project_start", "2012-11-08", "is not after 2012-11-08"),
    ("reductions_start", "2020-06-30", "is not after 2020-09-22"),
    ("from_covered_facility", True, "covered by the national ETS cannot offset"),
])
def test_ineligible_new_ccer_lots_are_refused_by_name(field, value, message):
    d = case_dict(years=(2025,))
    d["opening"] = {"ccer_lots": [{"id": "ok", "quantity_t": 10, "project_start": "2015-01-01"},
                                  {"id": "wind-7", "quantity_t": 100, field: value}]}
    with pytest.raises(CaseValidationError) as exc:
        prepare(parse_case(d))
    (loc, msg), = exc.value.problems
    assert loc == f"opening.ccer_lots[1] (wind-7).{field}" and message in msg


def test_eligible_and_old_lots_pass():
    d = case_dict(years=(2025,))
    d["opening"] = {"ccer_lots": [
        {"id": "new", "quantity_t": 10, "project_start": "2013-01-01", "reductions_start": "2021-01-01", "from_covered_facility": False},
        {"id": "old", "quantity_t": 10, "system": "old", "project_start": "2010-01-01"},
    ]}
    prepare(parse_case(d))


# ---- plausibility ------------------------------------------------------------------------------


def _coal(output, intensity=None, emissions=None, **market):
    row_ = {"year": 2025, "output": output}
    row_.update({"intensity_t_per_unit": intensity} if intensity is not None else {"emissions_t": emissions})
    return {
        "entity": {"id": "P", "sector": "power", "unit_class": "coal_gt300", "capacity_mw": 1000},
        "horizon": {"first_year": 2025, "last_year": 2025},
        "activity": [row_],
        "market": [{"year": 2025, "cea_buy_cny_per_t": 83, "ccer_cny_per_t": 85, "ccer_available_t": 0, **market}],
    }


def test_output_in_wan_mwh_with_an_intensity_is_warned_about():
    """700 (万MWh) x 0.84 = 588 t: far below the 26,000 t coverage threshold."""
    w = prepare(parse_case(_coal(700, intensity=0.84))).warnings
    hit = [x for x in w if "coverage.threshold_t" in x]
    assert hit and "activity.output" in hit[0] and "万MWh" in hit[0] and "588 t" in hit[0]


def test_output_in_wan_mwh_with_emissions_is_warned_about():
    """5,880,000 t from 700 MWh is 8,400 t/MWh, about 10,600 times the 0.787 benchmark."""
    w = prepare(parse_case(_coal(700, emissions=5_880_000))).warnings
    hit = [x for x in w if "times the official formula's allocation" in x]
    assert hit and "activity.emissions_t" in hit[0] and "万 units" in hit[0]


def test_price_in_wan_yuan_is_warned_about():
    w = prepare(parse_case(_coal(7_000_000, intensity=0.84, cea_buy_cny_per_t=0.0083, cea_sell_cny_per_t=0.008))).warnings
    hit = [x for x in w if x.startswith("market[0] (year 2025).cea_buy_cny_per_t")]
    assert hit and "万元" in hit[0]


def test_a_plausible_case_gets_no_plausibility_warning():
    assert prepare(parse_case(_coal(7_000_000, intensity=0.84))).warnings == []


def test_a_group_plans_each_entitys_opening_as_alone_and_before_takes_the_pyomo_path():
    """Two entities without transfers: the one 'after' lapses 34,000 t as alone; the one 'before'
    sells 13,600 t before the transition as alone. The array assembler does not write a decided
    opening transition (nor Order 19's fixed fines): the group is built with Pyomo, same plans."""
    from models.arrays.assemble import unsupported
    from planner.api import run_group
    from planner.input.group_schema import GroupCaseSpec
    from planner.plan.check import check_group

    after = _opening_case(50_000)
    before = _opening_case(50_000, transition="before", transition_sell_cny_per_t=58.0)
    before["entity"] = dict(before["entity"], id="U")
    spec = GroupCaseSpec.model_validate({
        "group": {"id": "G", "horizon": {"first_year": 2025, "last_year": 2025}, "finance": {"discount_rate": 0.0}},
        "entities": [parse_case(after), parse_case(before)],
        "transfers": {"mode": "none"},
        "value_of_pooling": False,
    })
    res = run_group(spec)
    assert "opening position before a transition" in unsupported(res.prep.data)
    assert res.solve.build == "pyomo"
    assert check_group(res.prep.data, res.plan, objective=res.solve.objective) == []
    a = res.plan.entities.annual.set_index("entity")
    assert a.loc["T", "opening_lapse_t"] == approx(34_000) and a.loc["U", "opening_sell_t"] == approx(13_600)
    assert res.solve.objective == approx(-354_000 - 2_346_400)
    assert "fixed fines" in unsupported(prepare_group_data([_order19_gap(10_000)]))


def prepare_group_data(cases):
    from planner.input.group_schema import GroupCaseSpec
    from planner.prepare.group import prepare_group

    ys = parse_case(cases[0]).years
    return prepare_group(GroupCaseSpec.model_validate({
        "group": {"id": "G", "horizon": {"first_year": ys[0], "last_year": ys[-1]}},
        "entities": [parse_case(c) for c in cases], "transfers": {"mode": "none"}, "value_of_pooling": False,
    })).data


def test_output_is_checked_against_the_capacity_of_all_identical_units():
    """7,000,000 MWh from 2 x 660 MW is 5,303 full-load hours: plausible. Read as one 660 MW unit it
    would be 10,606 hours, more than the 8,784 hours of a year: the warning names capacity_mw."""
    one = _coal(7_000_000, intensity=0.84)
    one["entity"] = dict(one["entity"], capacity_mw=660)
    w = prepare(parse_case(one)).warnings
    assert any("more than 660 MW x 8,784 h" in x for x in w)
    two = _coal(7_000_000, intensity=0.84)
    two["entity"] = dict(two["entity"], capacity_mw=660, unit_count=2)
    assert prepare(parse_case(two)).warnings == []
