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


def test_price_tie_and_relief_in_both_unit_systems():
    t = _row("price_tie", {"buy": 95.0, "fee": 0.5, "sell": 96.0})
    tie = ("2027年配额当年买入再卖出没有收益：买价 95.00 + 手续费 0.50 = 卖价 96.00 - 手续费（元/t）；"
           "方案中没有此类买入又卖出的交易（在成本相同的方案中交易量最少）")
    assert statement(t, "zh", "t") == tie and statement(t, "zh", "wan") == tie  # prices only: the same in 万t
    coal = _row("relief_regime", {"relief": "coal_floor", "to_allocation": True, "share": 0.8, "relief_t": 125_000.0})
    assert statement(coal, "zh", "t") == "2027年燃煤机组配额缺口补足生效：配额提高至核查排放量的80%（+125,000 t）；此时每减排一吨仅值配额价格的20%"
    assert statement(coal, "zh", "wan") == "2027年燃煤机组配额缺口补足生效：配额提高至核查排放量的80%（+12.50 万t）；此时每减排一吨仅值配额价格的20%"
    cap = _row("relief_regime", {"relief": "coal_floor", "to_allocation": False, "share": 0.8, "relief_t": 125_000.0})
    assert statement(cap, "zh", "t") == "2027年燃煤机组履约豁免生效：清缴义务上限为免费配额加核查排放量的20%（-125,000 t）；此时每减排一吨仅值配额价格的20%"
    assert statement(cap, "zh", "wan") == "2027年燃煤机组履约豁免生效：清缴义务上限为免费配额加核查排放量的20%（-12.50 万t）；此时每减排一吨仅值配额价格的20%"
    gas = _row("relief_regime", {"relief": "gas_topup", "to_allocation": True, "share": 1.0, "relief_t": 3_000.0})
    assert statement(gas, "zh", "t") == "2027年燃气机组配额补足生效：配额提高至核查排放量（+3,000 t）；此时每减排一吨仅值配额价格的0%"
    assert statement(gas, "zh", "wan") == "2027年燃气机组配额补足生效：配额提高至核查排放量（+0.30 万t）；此时每减排一吨仅值配额价格的0%"
    gcap = _row("relief_regime", {"relief": "gas_topup", "to_allocation": False, "share": 1.0, "relief_t": 3_000.0})
    assert statement(gcap, "zh", "t") == "2027年燃气机组履约豁免生效：清缴义务上限为免费配额（-3,000 t）；此时每减排一吨仅值配额价格的0%"
    assert statement(gcap, "zh", "wan") == "2027年燃气机组履约豁免生效：清缴义务上限为免费配额（-0.30 万t）；此时每减排一吨仅值配额价格的0%"


def test_opening_holdings_in_both_unit_systems():
    s = _row("opening_sale", {"sold_t": 20_000.0, "transition": 2024, "price": 90.0, "net_sales_t": 30_000.0, "limit_t": 55_000.0},
             year=2025)
    assert statement(s, "zh", "t") == ("在2024年清缴后的结转之前出售期初持有配额 20,000 t（90.00 元/t）：累计净卖出 30,000 t，"
                                       "使该次结转上限提高至 55,000 t")
    assert statement(s, "zh", "wan") == ("在2024年清缴后的结转之前出售期初持有配额 2.00 万t（90.00 元/t）：累计净卖出 3.00 万t，"
                                         "使该次结转上限提高至 5.50 万t")
    lapse = _row("opening_lapse", {"lapse_t": 5_000.0, "held_t": 60_000.0, "transition": 2024, "limit_t": 55_000.0,
                                   "net_sales_t": 30_000.0}, year=2025)
    assert statement(lapse, "zh", "t") == ("期初持有的 60,000 t 配额中 5,000 t 在2025年前作废：2024年清缴后的结转上限为 55,000 t"
                                           "（累计净卖出 30,000 t），超出部分此后不再有效（rules.md R2.2）")
    assert statement(lapse, "zh", "wan") == ("期初持有的 6.00 万t 配额中 0.50 万t 在2025年前作废：2024年清缴后的结转上限为 5.50 万t"
                                             "（累计净卖出 3.00 万t），超出部分此后不再有效（rules.md R2.2）")


def test_group_limits_in_both_unit_systems():
    b = _row("group_buy_limit", {"bought_t": 10_000.0})
    assert statement(b, "zh", "t") == "2027年集团市场购买量上限约束生效：集团内企业共购入 10,000 t"
    assert statement(b, "zh", "wan") == "2027年集团市场购买量上限约束生效：集团内企业共购入 1.00 万t"
    s = _row("group_sell_limit", {"sold_t": 45_000.0})
    assert statement(s, "zh", "t") == "2027年集团市场出售量上限约束生效：集团内企业共出售 45,000 t"
    assert statement(s, "zh", "wan") == "2027年集团市场出售量上限约束生效：集团内企业共出售 4.50 万t"
    tier = _row("price_tier", {"tier": 2, "premium_cny_per_t": 5.0, "bought_t": 8_000.0})
    assert statement(tier, "zh", "t") == "2027年集团购买量进入第2档价格（加价 5.00 元/t）：8,000 t 按加价购入"
    assert statement(tier, "zh", "wan") == "2027年集团购买量进入第2档价格（加价 5.00 元/t）：0.80 万t 按加价购入"
    pool = _row("pool_availability", {"bought_t": 7_000.0})
    assert statement(pool, "zh", "t") == "2027年集团CCER池可购量约束生效：7,000 t 全部购入"
    assert statement(pool, "zh", "wan") == "2027年集团CCER池可购量约束生效：0.70 万t 全部购入"
    budget = _row("group_budget", {"used_cny": 12_345_678.0, "budget_cny": 12_345_678.0})
    assert statement(budget, "zh", "t") == "2027年集团预算约束生效：现金成本 12,345,678 元，预算 12,345,678 元"
    assert statement(budget, "zh", "wan") == "2027年集团预算约束生效：现金成本 1,234.57 万元，预算 1,234.57 万元"
