"""Display labels in English and Chinese, and number display in t/CNY or 万 (10,000) units.

Only what people read changes with the language: file names, CSV columns and the numbers stored
in the workbook stay the same (t and CNY), so that outputs in both languages compare equal.
"""

from __future__ import annotations

import math
from typing import Any

LANGS = ("en", "zh")
UNITS = ("t", "wan")

LABELS: dict[str, tuple[str, str]] = {
    # annual columns
    "year": ("year", "年度"),
    "entity": ("entity", "控排企业"),
    "emissions_baseline_t": ("baseline emissions t", "基准排放量 t"),
    "emissions_t": ("emissions t", "排放量 t"),
    "abatement_t": ("abated t", "减排量 t"),
    "abatement_measures_t": ("abated by measures t", "措施减排 t"),
    "abatement_projects_t": ("abated by projects t", "项目减排 t"),
    "allocation_benchmark_t": ("benchmark allocation t", "基准法配额 t"),
    "relief_t": ("relief t", "缺口补足 t"),
    "allocation_t": ("allocation t", "免费配额 t"),
    "obligation_t": ("obligation t", "履约义务 t"),
    "buy_t": ("CEA bought t", "购入配额 t"),
    "buy_cny": ("CEA bought CNY", "购入配额金额 元"),
    "sell_t": ("CEA sold t", "出售配额 t"),
    "sell_cny": ("CEA sold CNY", "出售配额金额 元"),
    "auction_buy_t": ("auctioned CEA bought t", "拍卖购入 t"),
    "borrow_t": ("pre-draw t", "预支配额 t"),
    "surrender_t": ("CEA surrendered t", "清缴配额 t"),
    "ccer_buy_t": ("CCER bought t", "购入CCER t"),
    "ccer_buy_cny": ("CCER bought CNY", "购入CCER金额 元"),
    "ccer_surrendered_t": ("CCER surrendered t", "抵销CCER t"),
    "carry_t": ("carried over t", "结转量 t"),
    "carry_limit_t": ("carry-over limit t", "结转上限 t"),
    "carry_rule": ("carry-over rule", "结转规则"),
    "lapse_t": ("lapsed t", "作废 t"),
    "net_sales_t": ("cumulative net sales t", "累计净卖出 t"),
    "shortfall_t": ("shortfall t", "履约缺口 t"),
    "total_cost_cny": ("cost CNY", "成本 元"),
    "discounted_cost_cny": ("discounted cost CNY", "折现成本 元"),
    "shadow_price_cny_per_t": ("marginal cost CNY/t", "边际成本 元/t"),
    "cea_buy_cny_per_t": ("CEA buy price CNY/t", "配额买价 元/t"),
    "cea_sell_cny_per_t": ("CEA sell price CNY/t", "配额卖价 元/t"),
    "ccer_cny_per_t": ("CCER price CNY/t", "CCER价格 元/t"),
    "component": ("cost component", "成本项"),
    "nominal_cny": ("nominal CNY", "名义成本 元"),
    "discounted_cny": ("discounted CNY", "折现成本 元"),
    "measure": ("measure", "减排措施"),
    "abate_t": ("abated t", "减排量 t"),
    "cost_cny_per_t": ("cost CNY/t", "成本 元/t"),
    "cost_cny": ("cost CNY", "成本 元"),
    "project": ("project", "减排项目"),
    "build_year": ("build year", "建设年份"),
    "rule": ("rule", "规则"),
    "statement": ("why", "说明"),
    "saving_cny_per_t": ("saving per t of relaxation CNY/t", "放宽一吨可节省 元/t"),
    "parameter": ("parameter", "参数"),
    "value": ("value", "取值"),
    "unit": ("unit", "单位"),
    "confidence": ("confidence", "可信度"),
    "overridden": ("overridden", "已覆盖"),
    "source": ("source", "来源"),
    # cost components
    "abatement": ("abatement", "减排措施"),
    "capex": ("capex", "项目投资"),
    "opex": ("opex", "项目运维"),
    "purchase": ("CEA purchases", "购买配额"),
    "fees": ("fees", "交易费"),
    "ccer": ("CCER", "CCER"),
    "penalty": ("fines", "罚款"),
    "sales": ("CEA sales", "出售配额"),
    "terminal": ("value left at the end", "期末剩余价值"),
    "auction": ("auction", "拍卖"),
    # sheets, sections, charts
    "summary": ("Summary", "概要"),
    "plan": ("Plan per year", "年度计划"),
    "trades": ("Trades", "交易计划"),
    "carryover": ("Carry-over", "结转"),
    "costs": ("Costs", "成本"),
    "abatement_sheet": ("Abatement", "减排"),
    "why": ("Why this plan", "方案说明"),
    "assumptions": ("Assumptions", "假设与参数"),
    "audit": ("Audit", "审计记录"),
    "chart_position": ("Position per year: how the obligation is covered", "年度配额盈缺：履约义务的覆盖方式"),
    "chart_costs": ("Cost by component per year (nominal)", "年度成本构成（名义）"),
    "chart_carry": ("Carry-over against its limit", "结转量与结转上限"),
    "chart_mac": ("Marginal abatement cost curve against the CEA price", "边际减排成本曲线与配额价格"),
    "from_holdings": ("from holdings (carry-over)", "动用持有配额（结转）"),
    "purchases": ("CEA purchases", "购买配额"),
    "sales_neg": ("CEA sales", "出售配额"),
    "ccer_used": ("CCER", "CCER抵销"),
    "baseline_line": ("baseline emissions", "基准排放量"),
    "obligation_line": ("obligation", "履约义务"),
    "cea_price": ("CEA buy price", "配额买价"),
    "potential_t": ("potential t/yr", "减排潜力 t/年"),
    "key": ("item", "项目"),
    "npv_cost_cny": ("NPV cost CNY", "净现值成本 元"),
    "nominal_cost_cny": ("nominal cost CNY", "名义成本 元"),
    "cost_per_t_obligation_cny": ("cost per t of obligation CNY/t", "单位履约成本 元/t"),
    "total_obligation_t": ("total obligation t", "总履约义务 t"),
    "total_shortfall_t": ("total shortfall t", "总缺口 t"),
    "status": ("solver status", "求解状态"),
    "rule_pack": ("rule pack", "规则包"),
    "rule_pack_overrides": ("rule pack overrides", "规则包覆盖项"),
    "compliance_mode": ("compliance mode", "履约模式"),
    "mip_gap": ("MIP gap", "MIP 间隙"),
    "notes": ("Notes", "备注"),
    "years": ("years", "年份"),
    "report_title": ("Compliance plan", "履约方案"),
}

RULES: dict[str, tuple[str, str]] = {
    "ccer_cap": ("CCER cap", "CCER抵销比例上限"),
    "carryover_limit": ("carry-over limit", "结转上限"),
    "buy_limit": ("CEA purchase limit", "配额购买量上限"),
    "sell_limit": ("CEA sale limit", "配额出售量上限"),
    "derived_trade_bound": ("derived trade bound", "推导交易上限"),
    "ccer_availability": ("CCER availability", "CCER可购量"),
    "relief_regime": ("relief regime", "配额缺口补足机制"),
    "predraw": ("pre-draw", "预支配额"),
    "auction_share": ("auctioned share", "有偿分配份额"),
    "shortfall": ("shortfall", "履约缺口"),
    "measure_potential": ("measure at full potential", "措施达到潜力上限"),
    "marginal_cost": ("marginal cost of compliance", "边际履约成本"),
    "measure_value": ("what a measure saves", "措施节省"),
    "project_value": ("what a project saves", "项目节省"),
}


def label(key: str, lang: str = "en") -> str:
    """The display label of a column, component, sheet or chart; the key itself when unknown."""
    pair = LABELS.get(key) or RULES.get(key)
    if pair is None:
        if key.startswith("cost_") and key.endswith("_cny") and key[5:-4] in LABELS:
            return label(key[5:-4], lang) + (" CNY" if lang == "en" else " 元")
        return key
    return pair[1] if lang == "zh" else pair[0]


def rule_label(rule: str, lang: str = "en") -> str:
    pair = RULES.get(rule)
    return rule if pair is None else (pair[1] if lang == "zh" else pair[0])


def unit_label(col: str, lang: str, units: str) -> str:
    """A column label with 万 units when ``units`` is 'wan' (t -> 万t, CNY -> 万元)."""
    text = label(col, lang)
    if units != "wan":
        return text
    if col.endswith("_cny_per_t") or col in ("saving_cny_per_t",):
        return text
    if col.endswith("_t"):
        return text.removesuffix(" t") + (" 万t" if lang == "zh" else " (10k t, 万t)")
    if col.endswith("_cny"):
        return text.removesuffix(" CNY").removesuffix(" 元") + (" 万元" if lang == "zh" else " (10k CNY, 万元)")
    return text


def scale(col: str, units: str) -> float:
    """Divide a column's values by this for display."""
    if units == "wan" and (col.endswith("_t") or col.endswith("_cny")) and not col.endswith("_per_t"):
        return 1e4
    return 1.0


def fmt_number(v: Any, col: str = "", units: str = "t") -> str:
    """A number for people: thousands separators; 万 units divide by 10,000 with two decimals."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, int | float):
        return str(v)
    if isinstance(v, float) and math.isinf(v):
        return "none"
    if col == "year" or col.endswith("_year"):
        return str(int(v))
    s = scale(col, units)
    x = v / s
    if s != 1.0:
        return f"{x:,.2f}"
    if col.endswith("_per_t") or col in ("saving_cny_per_t",):
        return f"{x:,.2f}"
    return f"{x:,.0f}"
