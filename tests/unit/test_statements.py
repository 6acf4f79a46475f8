"""Why-statements in Chinese worded from their records (facts), not by parsing the English: a row's
facts give the Chinese text, in t or in 万t and 万元 as the report's tables are."""

import json
from types import SimpleNamespace

from planner.report.statements import statement


def _row(rule, facts, english="(English wording that no pattern reads)", year=2027):
    return SimpleNamespace(rule=rule, year=year, statement=english, facts=json.dumps(facts))


def test_ccer_cap_and_carry_over_in_both_unit_systems():
    r = _row("ccer_cap", {"ccer_t": 288_250.0, "share": 0.05, "saving_cny_per_t": 12.5})
    assert statement(r, "zh", "t") == "2027年CCER抵销比例上限约束生效：抵销CCER 288,250 t，占履约义务的5%；上限每放宽一吨可节省 12.50 元"
    assert statement(r, "zh", "wan") == "2027年CCER抵销比例上限约束生效：抵销CCER 28.82 万t，占履约义务的5%；上限每放宽一吨可节省 12.50 元"
    assert statement(r, "en") == r.statement  # English stays the plan's statement
    c = _row("carryover_limit", {"carry_t": 10_000.0, "limit": "10,000 + 1.5 x max(0, net sales)", "net_sales_t": 40_000.0,
                                 "sold_t": 40_000.0, "raised_t": 60_000.0, "lapse_t": 2_500.0})
    assert statement(c, "zh", "wan") == ("2027年结转上限约束生效：结转至2028年 1.00 万t（上限 10,000 + 1.5 x max(0, 净卖出)，累计净卖出 4.00 万t）"
                                         "；截至2027年计划出售 4.00 万t，使结转上限比基础值提高 6.00 万t；超出上限的 0.25 万t 作废")


def test_shortfall_marginal_cost_and_measure_value():
    s = _row("shortfall", {"shortfall_t": 1_000.0, "fine_fixed_cny": 0.0, "fine_cny_per_t": 500.0, "deducted": True,
                           "forced_by": ["buy_limit", "ccer_cap"]})
    assert statement(s, "zh", "t") == "2027年履约缺口 1,000 t，按 500.00 元/t 罚款并在下一年度配额中扣减；由以下约束导致：配额购买量上限、CCER抵销比例上限"
    m = _row("marginal_cost", {"cny_per_t": 95.15, "buy": 95.0, "fee": 0.15, "sell": 94.2, "ccer": 93.0, "set_by": "buy"})
    assert statement(m, "zh") == "2027年边际履约成本 95.15 元/t；配额买价 95.00（另加手续费 0.15），卖价 94.20，CCER 93.00 元/t；由购买配额（价格加手续费）决定"
    v = _row("measure_value", {"measure": "vfd", "abated_t": 176_000.0, "first": 2025, "last": 2032, "cost_cny": 7_040_000.0,
                               "worth_cny": 19_298_400.0})
    assert statement(v, "zh", "wan") == "减排措施 vfd 在2025-2032年减排 17.60 万t，成本 704.00 万元；按边际履约成本计价值 1,929.84 万元（节省 1,225.84 万元，名义值）"


def test_rows_without_facts_fall_back_to_the_translation_then_the_english():
    r = SimpleNamespace(rule="ccer_availability", year=2026, statement="CCER availability binds in 2026: all 7,000 t bought", facts="")
    assert statement(r, "zh") == "2026年CCER可购量约束生效：7,000 t 全部购入"
    odd = SimpleNamespace(rule="group_budget", year=2026, statement="something new", facts="")
    assert statement(odd, "zh") == "something new"
