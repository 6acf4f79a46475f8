"""Display labels in English and Chinese, and number display in t/CNY or 万 (10,000) units.

Only what people read changes with the language: file names, CSV columns and the numbers stored
in the workbook stay the same (t and CNY), so that outputs in both languages compare equal.
"""

from __future__ import annotations

from typing import Any

from planner.report import numbers

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
    "ccer_sell_t": ("CCER sold t", "出售CCER t"),
    "ccer_hold_t": ("CCER held t", "持有CCER t"),
    "carry_t": ("carried over t", "结转量 t"),
    "carry_limit_t": ("carry-over limit t", "结转上限 t"),
    "carry_rule": ("carry-over rule", "结转规则"),
    "lapse_t": ("lapsed t", "作废 t"),
    "opening_cea_t": ("opening holdings t", "期初持有配额 t"),
    "opening_sell_t": ("opening holdings sold before the transition t", "过渡前出售期初配额 t"),
    "opening_lapse_t": ("opening holdings lapsed t", "期初配额作废 t"),
    "opening_carry_limit_t": ("opening carry-over limit t", "期初结转上限 t"),
    "fine_fixed_cny": ("fixed fine CNY", "固定罚款 元"),
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
    "published": ("published for", "原文适用年份"),
    "applied_beyond_published": ("applied beyond (inferred)", "超出原文年份适用（推断）"),
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
    "chart_position": ("The gap per year (obligation - allocation) and how it is covered", "年度配额缺口（履约义务 - 免费配额）及其覆盖方式"),
    "chart_costs": ("Cost by component per year (nominal)", "年度成本构成（名义）"),
    "chart_carry": ("Carry-over against its limit", "结转量与结转上限"),
    "chart_mac": ("Marginal abatement cost curve against the CEA price", "边际减排成本曲线与配额价格"),
    "from_holdings": ("drawn from banked holdings (below 0: banked)", "动用结转配额（负值：存入结转）"),
    "abated": ("abatement", "减排"),
    "gap_before_line": ("gap before abatement", "减排前缺口"),
    "gap_line": ("gap: obligation - allocation", "缺口：履约义务 - 免费配额"),
    "net_cost_line": ("net cost", "净成本"),
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
    "compliance_npv_cny": ("cost of compliance (NPV) CNY", "履约成本（净现值） 元"),
    "terminal_value_cny": ("value of holdings left at the end (NPV) CNY", "期末持有配额价值（净现值） 元"),
    "terminal_valuation": ("terminal valuation", "期末估值方法"),
    "compliance": ("cost of compliance", "履约成本合计"),
    "total": ("NPV cost = compliance - value left at the end", "净现值成本 = 履约成本 - 期末价值"),
    "cost_split": ("Cost of compliance and value left at the end", "履约成本与期末剩余价值"),
    "cost_per_t_obligation_cny": ("cost per t of obligation CNY/t", "单位履约成本 元/t"),
    "total_obligation_t": ("total obligation t", "总履约义务 t"),
    "total_shortfall_t": ("total shortfall t", "总缺口 t"),
    "status": ("solver status", "求解状态"),
    "status_optimal": ("optimal", "最优"),
    "status_feasible": ("feasible, not proven optimal", "可行（未证明最优）"),
    "status_infeasible": ("infeasible", "不可行"),
    "status_unbounded": ("unbounded", "无界"),
    "status_no_solution": ("no solution", "无解"),
    "rule_pack": ("rule pack", "规则包"),
    "rule_pack_overrides": ("rule pack overrides", "规则包覆盖项"),
    "compliance_mode": ("compliance mode", "履约模式"),
    "mip_gap": ("MIP gap", "MIP 间隙"),
    "notes": ("Notes", "备注"),
    "years": ("years", "年份"),
    "report_title": ("Compliance plan", "履约方案"),
    "actions": ("This cycle: what to do and by when", "本履约周期：待办事项与期限"),
    "actions_sheet": ("This cycle", "本周期待办"),
    "due": ("due", "期限"),
    "action": ("action", "事项"),
    "what": ("what", "说明"),
    "quantity_t": ("quantity t", "数量 t"),
    "price_cny_per_t": ("price CNY/t", "价格 元/t"),
    "amount_cny": ("amount CNY", "金额 元"),
    # group plans
    "group_report_title": ("Group compliance plan", "集团履约方案"),
    "entities": ("entities", "控排企业数"),
    "value_of_pooling_cny": ("value of pooling CNY", "集团统筹价值 元"),
    "standalone_npv_cny": ("NPV alone CNY", "单独履约净现值 元"),
    "group_npv_cny": ("NPV in the group CNY", "集团内净现值 元"),
    "saving_cny": ("saving CNY", "节省 元"),
    "total_transfers_t": ("transfers in total t", "内部调配总量 t"),
    "market_buy_t": ("market purchases t", "市场购入 t"),
    "market_sell_t": ("market sales t", "市场出售 t"),
    "transfer_in_t": ("transfers received t", "调入 t"),
    "transfer_out_t": ("transfers passed on t", "调出 t"),
    "transfers_t": ("transfers t", "内部调配 t"),
    "ccer_allocated_t": ("pool CCER allocated t", "集团池分配CCER t"),
    "pool_buy_t": ("pool CCER bought t", "集团池购入CCER t"),
    "pool_hold_t": ("pool CCER held t", "集团池持有CCER t"),
    "entity_cost_cny": ("entity costs CNY", "企业成本 元"),
    "link_cost_cny": ("group-level costs CNY", "集团层面成本 元"),
    "position_t": ("allocation - obligation t", "配额盈缺 t"),
    "side": ("position", "盈缺"),
    "seller": ("seller", "调出方"),
    "buyer": ("buyer", "调入方"),
    "transfer_t": ("transfer t", "调配量 t"),
    "allocated_t": ("allocated t", "分配量 t"),
    "bought_t": ("bought t", "购入 t"),
    "held_after_t": ("held after t", "年末持有 t"),
    "pool": ("CCER pool", "集团CCER池"),
    "tiers": ("price tier premiums", "分档加价"),
    "transfer": ("internal transfers", "内部调配结算"),
    "group_plan": ("Group per year", "集团年度计划"),
    "entities_sheet": ("Entities", "企业"),
    "transfers": ("Transfers (seller -> buyer)", "内部调配（调出→调入）"),
    "ccer_pool": ("CCER pool", "集团CCER池"),
    "pooling_value": ("Value of pooling", "集团统筹价值"),
    "group_cost_share_cny": ("share of the group's own costs CNY", "分摊集团自身成本 元"),
    "internal_settlement_cny": ("internal settlement of transfers CNY", "内部转让结算 元"),
    "saving_before_settlement_cny": ("saving before settlement CNY", "结算前节省 元"),
    "group_why": ("Group limits that bind", "集团层面约束"),
    "chart_pooling": ("Saving per entity from planning as a group (NPV)", "各企业集团统筹节省（净现值）"),
    "more_rows": ("more rows in", "更多行见"),
    # many-entity layout (planner.report.many)
    "why_many": ("Statements of the {n} entities with the largest NPV cost are shown; those of all {entities} entities are in bindings.csv.",
                 "仅列出净现值成本最高的 {n} 家企业的说明；全部 {entities} 家企业的说明见 bindings.csv。"),
    "ranked_npv": ("ranked by NPV cost in the group, largest first", "按集团内净现值成本从高到低排列"),
    "data_files": ("Data files", "数据文件"),
}

RULES: dict[str, tuple[str, str]] = {
    "ccer_cap": ("CCER cap", "CCER抵销比例上限"),
    "carryover_limit": ("carry-over limit", "结转上限"),
    "buy_limit": ("CEA purchase limit", "配额购买量上限"),
    "sell_limit": ("CEA sale limit", "配额出售量上限"),
    "price_tie": ("tied prices", "买卖价格相等"),
    "ccer_availability": ("CCER availability", "CCER可购量"),
    "relief_regime": ("relief regime", "配额缺口补足机制"),
    "predraw": ("pre-draw", "预支配额"),
    "auction_share": ("auctioned share", "有偿分配份额"),
    "shortfall": ("shortfall", "履约缺口"),
    "opening_lapse": ("opening holdings lapse", "期初配额作废"),
    "opening_sale": ("sale before the opening transition", "过渡前出售期初配额"),
    "measure_potential": ("measure at full potential", "措施达到潜力上限"),
    "marginal_cost": ("marginal cost of compliance", "边际履约成本"),
    "measure_value": ("what a measure saves", "措施节省"),
    "project_value": ("what a project saves", "项目节省"),
    "group_buy_limit": ("group market purchase limit", "集团市场购买量上限"),
    "group_sell_limit": ("group market sale limit", "集团市场出售量上限"),
    "price_tier": ("price tier", "分档价格"),
    "pool_availability": ("CCER pool availability", "集团CCER池可购量"),
    "group_budget": ("group budget", "集团预算"),
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
    """A rule's name in ``lang``; the rule id itself when it has none."""
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
    return numbers.scale(col, units)


def fmt_number(v: Any, col: str = "", units: str = "t") -> str:
    """A number for people, with the precision of its quantity kind (``planner.report.numbers``)."""
    return numbers.fmt_col(v, col, units)


# ------------------------------------------------------------------ statements of bindings.csv in Chinese

_N = r"(-?[\d,]+(?:\.\d+)?)"
_CLAUSES: tuple[tuple[str, str], ...] = (
    (rf"CCER cap binds in (\d+): {_N} t CCER = ([\d.]+%) of the obligation", "{0}年CCER抵销比例上限约束生效：抵销CCER {1} t，占履约义务的{2}"),
    (rf"one more tonne of cap would save {_N} CNY", "上限每放宽一吨可节省 {0} 元"),
    (rf"carry-over limit binds in (\d+): {_N} t carried into (\d+) \(limit (.+), net sales {_N} t\)",
     "{0}年结转上限约束生效：结转至{2}年 {1} t（上限 {3}，累计净卖出 {4} t）"),
    (rf"selling {_N} t in the plan up to (\d+) helped raise it {_N} t above its floor", "截至{1}年计划出售 {0} t，使结转上限比基础值提高 {2} t"),
    (rf"{_N} t above the limit lapse", "超出上限的 {0} t 作废"),
    (rf"CEA purchase limit binds in (\d+): {_N} t", "{0}年配额购买量上限约束生效：{1} t"),
    (rf"CEA market purchase limit binds in (\d+): {_N} t", "{0}年配额市场购买量上限约束生效：{1} t"),
    (rf"CEA market sale limit binds in (\d+): {_N} t", "{0}年配额市场出售量上限约束生效：{1} t"),
    (rf"group market purchase limit binds in (\d+): {_N} t bought by the group's entities", "{0}年集团市场购买量上限约束生效：集团内企业共购入 {1} t"),
    (rf"group market sale limit binds in (\d+): {_N} t sold by the group's entities", "{0}年集团市场出售量上限约束生效：集团内企业共出售 {1} t"),
    (rf"group purchases in (\d+) reach price tier (\d+) \(\+{_N} CNY/t\): {_N} t bought at the premium",
     "{0}年集团购买量进入第{1}档价格（加价 {2} 元/t）：{3} t 按加价购入"),
    (rf"CCER pool availability binds in (\d+): all {_N} t bought", "{0}年集团CCER池可购量约束生效：{1} t 全部购入"),
    (rf"group budget binds in (\d+): cash cost {_N} CNY of {_N} CNY", "{0}年集团预算约束生效：现金成本 {1} 元，预算 {2} 元"),
    (rf"one more tonne of purchase limit would save {_N} CNY", "购买上限每放宽一吨可节省 {0} 元"),
    (rf"CEA round trips earn nothing in (\d+): buy {_N} \+ fee {_N} = sell {_N} - fee CNY/t",
     "{0}年配额当年买入再卖出没有收益：买价 {1} + 手续费 {2} = 卖价 {3} - 手续费（元/t）"),
    (r"the plan buys and sells no such tonne \(of the plans with its cost, it trades the fewest tonnes\)",
     "方案中没有此类买入又卖出的交易（在成本相同的方案中交易量最少）"),
    (rf"CEA sale limit binds in (\d+): {_N} t", "{0}年配额出售量上限约束生效：{1} t"),
    (rf"CCER availability binds in (\d+): all {_N} t bought", "{0}年CCER可购量约束生效：{1} t 全部购入"),
    (rf"coal relief applies in (\d+): allocation raised to ([\d.]+%) of verified emissions \(\+{_N} t\)",
     "{0}年燃煤机组配额缺口补足生效：配额提高至核查排放量的{1}（+{2} t）"),
    (rf"gas top-up applies in (\d+): allocation raised to verified emissions \(\+{_N} t\)", "{0}年燃气机组配额补足生效：配额提高至核查排放量（+{1} t）"),
    (rf"coal relief applies in (\d+): obligation capped at the free allocation \+ ([\d.]+%) of verified emissions \(-{_N} t\)",
     "{0}年燃煤机组履约豁免生效：清缴义务上限为免费配额加核查排放量的{1}（-{2} t）"),
    (rf"gas relief applies in (\d+): obligation capped at the free allocation \(-{_N} t\)", "{0}年燃气机组履约豁免生效：清缴义务上限为免费配额（-{1} t）"),
    (r"a tonne abated here is worth only ([\d.]+%) of the allowance price", "此时每减排一吨仅值配额价格的{0}"),
    (rf"pre-draw of {_N} t in (\d+) from a later allocation \(gap {_N} t\)", "{1}年预支后续年度配额 {0} t（缺口 {2} t）"),
    (rf"the whole auctioned share is bought in (\d+): {_N} t", "{0}年有偿分配份额全部购入：{1} t"),
    (rf"shortfall of {_N} t in (\d+), fined at {_N} CNY/t and deducted from next year's allocation",
     "{1}年履约缺口 {0} t，按 {2} 元/t 罚款并在下一年度配额中扣减"),
    (rf"shortfall of {_N} t in (\d+), fined at {_N} CNY/t", "{1}年履约缺口 {0} t，按 {2} 元/t 罚款"),
    (rf"shortfall of {_N} t in (\d+), fined CNY {_N} once \(Order 19\) and deducted from next year's allocation",
     "{1}年履约缺口 {0} t，按19号令一次性罚款 {2} 元并在下一年度配额中扣减"),
    (rf"shortfall of {_N} t in (\d+), fined CNY {_N} once \(Order 19\)", "{1}年履约缺口 {0} t，按19号令一次性罚款 {2} 元"),
    (rf"{_N} t of the {_N} t opening holdings lapse before (\d+): the carry-over limit of the transition after the (\d+) "
     rf"surrender is {_N} t at net sales {_N} t, and what is above it is worthless from then on \(rules\.md R2\.2\)",
     "期初持有的 {1} t 配额中 {0} t 在{2}年前作废：{3}年清缴后的结转上限为 {4} t（累计净卖出 {5} t），超出部分此后不再有效（rules.md R2.2）"),
    (rf"sells {_N} t of its opening holdings before the transition after the (\d+) surrender at {_N} CNY/t: net sales {_N} t "
     rf"raise that transition's limit to {_N} t",
     "在{1}年清缴后的结转之前出售期初持有配额 {0} t（{2} 元/t）：累计净卖出 {3} t，使该次结转上限提高至 {4} t"),
    (r"forced by ([a-z_, ]+)", "由以下约束导致：{0}"),
    (r"no limit forces it: the fine and the deduction cost less than covering it", "并无约束迫使缺口：罚款和扣减的成本低于补足缺口"),
    (rf"marginal cost of compliance in (\d+): {_N} CNY/t against CEA buy {_N} \(\+{_N} fee\), sell {_N}, CCER {_N} CNY/t",
     "{0}年边际履约成本 {1} 元/t；配额买价 {2}（另加手续费 {3}），卖价 {4}，CCER {5} 元/t"),
    (r"set by buying CEA \(price plus fee\)", "由购买配额（价格加手续费）决定"),
    (r"set by selling CEA: a tonne not needed is a tonne sold \(price less fee\)", "由出售配额决定：少用一吨即多卖一吨（价格减手续费）"),
    (r"set by buying CCER", "由购买CCER决定"),
    (r"set by the shortfall \(fine and next-year deduction\)", "由履约缺口（罚款及次年扣减）决定"),
    (r"between the sale and purchase prices: set by allowances carried between years", "介于卖价与买价之间：由跨年结转的配额决定"),
    (r"above the purchase price: a purchase, CCER or carry-over limit binds", "高于买价：购买、CCER或结转上限约束生效"),
    (r"below the sale price: a sale or carry-over limit binds", "低于卖价：出售或结转上限约束生效"),
    (r"set by abatement", "由减排决定"),
    (rf"measure (.+) abates {_N} t in (\d+)-(\d+) for {_N} CNY", "减排措施 {0} 在{2}-{3}年减排 {1} t，成本 {4} 元"),
    (rf"at the marginal cost of compliance those tonnes are worth {_N} CNY \(saves {_N} CNY, nominal\)",
     "按边际履约成本计价值 {0} 元（节省 {1} 元，名义值）"),
    (rf"project (.+) \(build starts (\d+)\) reduces {_N} t in (.+) for {_N} CNY of capex and opex in the horizon",
     "减排项目 {0}（{1}年开工）在{3}年减排 {2} t，规划期内投资和运维成本 {4} 元"),
    (rf"those tonnes are worth {_N} CNY at the marginal cost of compliance \(saves {_N} CNY, nominal\)",
     "按边际履约成本计价值 {0} 元（节省 {1} 元，名义值）"),
    (rf"measure (.+) used to its full potential in (\d+) \({_N} t at {_N} CNY/t\)", "减排措施 {0} 在{1}年达到潜力上限（{2} t，{3} 元/t）"),
)


def statement_zh(text: str) -> str | None:
    """A binding statement of ``planner.plan.entity.bindings_table`` in Chinese, clause by clause (clauses
    are separated by '; '); None when a clause has no translation (the English is then shown)."""
    import re

    out = []
    for clause in text.split("; "):
        for pattern, zh in _CLAUSES:
            m = re.fullmatch(pattern, clause)
            if m:
                groups = list(m.groups())
                if zh.startswith("由以下约束导致"):
                    groups = ["、".join(rule_label(g.strip(), "zh") for g in groups[0].split(","))]
                out.append(zh.format(*groups))
                break
        else:
            return None
    return "；".join(out)


# ------------------------------------------------------------------ notes and warnings in Chinese

def _opening_clause_zh(clause: str) -> str | None:
    import re

    m = re.fullmatch(rf"{_N} t of vintages up to (\d+) pass the transition after the (\d+) surrender limited to {_N} t "
                     rf"\((.+) at the opening net sales {_N} t\)(?:: {_N} t lapse, worthless from then on)?", clause)
    if m:
        held, _, year, cap, rule, ns, cut = m.groups()
        return (f"截至{year}年各年度配额共 {held} t 经{year}年清缴后的结转，上限 {cap} t（{rule}，期初累计净卖出 {ns} t）"
                + (f"：{cut} t 作废，此后不再有效" if cut else ""))
    m = re.fullmatch(rf"{_N} t reach the transition after the (\d+) surrender still ahead \(opening\.transition: before\): the "
                     rf"plan may sell some before it, each tonne sold raising its limit, now {_N} t \((.+) at net sales {_N} t\), by ([\d.]+) t",
                     clause)
    if m:
        held, year, cap, rule, ns, k = m.groups()
        return (f"{held} t 配额尚未经过{year}年清缴后的结转（opening.transition: before）：方案可在结转前出售部分配额，"
                f"每出售一吨使上限（目前 {cap} t，{rule}，累计净卖出 {ns} t）提高 {k} t")
    return None


def _opening_zh(m) -> str | None:
    parts = [_opening_clause_zh(c) for c in m.group(1).split("; ")]
    if any(p is None for p in parts):
        return None
    tail = "该期初持有量按结转之后理解（opening.transition: after）；如结转尚未发生，请设 opening.transition: before。" if m.group(2) else ""
    return "期初持有配额（rules.md R2.2、§14）：" + "；".join(parts) + "。" + tail



_Y = r"([\d, -]+?)"
_NOTES: tuple[tuple[str, str], ...] = (
    (rf"Relief \(coal floor: the gap is capped at ([\d.]+%) of verified emissions\) is modelled exactly in {_Y}: it is "
     r"computed from the emissions after abatement, so abatement inside the relief regime is worth only the uncovered "
     r"share of the price\.",
     "{1}年精确建模燃煤机组配额缺口补足（缺口上限为核查排放量的{0}）：按减排后的排放量计算，因此补足机制内的减排只值配额价格中未被补足的部分。"),
    (rf"Relief \(gas top-up: allocation raised to verified emissions\) is modelled exactly in {_Y}: it is computed from "
     r"the emissions after abatement, so abatement inside the relief regime is worth only the uncovered share of the price\.",
     "{0}年精确建模燃气机组配额补足（配额提高至核查排放量）：按减排后的排放量计算，因此补足机制内的减排只值配额价格中未被补足的部分。"),
    (rf"Relief \(gas relief: the obligation is capped at the free allocation\) is modelled exactly in {_Y}: it is computed "
     r"from the emissions after abatement, so abatement inside the relief regime is worth only the uncovered share of the price\.",
     "{0}年精确建模燃气机组履约豁免（清缴义务上限为免费配额）：按减排后的排放量计算，因此豁免机制内的减排只值配额价格中未被豁免的部分。"),
    (rf"Relief can switch on or off with abatement in {_Y}: one binary per year decides the regime \(bounds ruled it out elsewhere\)\.",
     "{0}年补足机制可能随减排开启或关闭：每年用一个0-1变量决定（其余年份已由上下界排除）。"),
    (r"Gas units of this mixed entity are topped up to their own baseline emissions \(fixed\); the coal floor applies to the entity's total\.",
     "该混合企业的燃气机组按其基准排放量补足（固定值）；燃煤缺口上限按企业总量适用。"),
    (rf"Gas units of this mixed entity are topped up to their own baseline emissions \(fixed\); the coal floor applies to the entity's "
     rf"total\. In {_Y} the plan caps the gas units' obligation instead; the top-up is held as allowances, which leaves the CCER cap 5% "
     r"of the top-up higher\.",
     "该混合企业的燃气机组按其基准排放量补足（固定值）；燃煤缺口上限按企业总量适用。{0}年方案对燃气机组的做法是限定清缴义务；此处补足按配额计，CCER抵销上限因此高出补足量的5%。"),
    (rf"Relief in {_Y} caps the surrender obligation, as the plan words it \(relief\.mechanism\): no allowances are issued, and the "
     r"CCER 5% cap applies to the capped obligation\.",
     "{0}年的补足按方案措辞为清缴义务上限（relief.mechanism）：不发放配额，CCER 5%抵销上限按上限后的清缴义务计算。"),
    (rf"Relief in {_Y} is issued as extra allowances \(relief\.mechanism\): they can be traded and banked, and the CCER 5% cap "
     r"applies to the verified emissions\.",
     "{0}年的补足以额外配额发放（relief.mechanism）：可交易、可结转，CCER 5%抵销上限按核查排放量计算。"),
    (rf"Pre-allocation of {_Y} is a share of the units' (\d+) activity x the vintage's benchmark and factors "
     r"\(allocation\.preallocation\.basis_year\); \d+ activity is not given \((.+)\), so the allocation schedule takes each "
     r"vintage's own allocation before relief instead\.",
     "{0}年的预分配按各机组{1}年的产出×当年基准值和修正系数的一定比例计算（allocation.preallocation.basis_year）；未给出{1}年产出（{2}），配额发放时间表改用各年度自身补足前的配额。"),
    (r"no capacity_mw given for (.+): the class of a conventional coal unit depends on its rated capacity \(coal_gt300 = at least "
     r"400 MW in the 2019-2020 plan, annex 1; allocation\.power\.class_boundary_mw\), so it is taken as given; give capacity_mw to "
     r"have it checked",
     "未给出 {0}：常规燃煤机组的类别取决于其额定功率（2019-2020年方案附件1：300MW等级以上 = 额定功率不低于400MW；allocation.power.class_boundary_mw），故按所填类别计算；请填写 capacity_mw 以便核对"),
    (rf"Absolute cap from (\d+): cap = {_N} t \((.+?)\) x \(1 - ([\d.]+)\)\^\(t - \d+\); ([\d.]+%) auctioned at the market "
     r"price less ([\d.]+%); allocation no longer follows output, so cutting output creates surplus\.( Coal and gas relief end with the cap\.)?",
     "自{0}年起实行总量控制：上限 = {1} t（{2}）×（1 - {3}）^(t - {0})；{4}按市场价格减{5}有偿拍卖；配额不再随产出变化，减产即产生盈余。{6}"),
    (r"Absolute cap: the case gives its allocation, so the cap scenario does not change it\.", "总量控制：案例已给定配额，总量情景不改变它。"),
    (r"Absolute-cap reserve: CEA prices of capped years are held within the reserve's floor and ceiling \(inputs table, cea_buy_cny_per_t\)\.",
     "总量控制储备：总量控制年份的配额价格限定在储备的底价与顶价之间（inputs 表 cea_buy_cny_per_t）。"),
    (r"Industrial allocation equals verified emissions in ([\d, -]+): no net position, abatement saves nothing there\.",
     "{0}年工业行业配额等于核查排放量：无净盈缺，减排不产生节省。"),
    (r"Market CCERs for (\d+) are old-system and past their last use \((\d+)\): none can be bought\.",
     "{0}年市场上的CCER为旧体系CCER，已超过最后使用年份（{1}）：无法购买。"),
    (r"Market CCERs bought for ([\d-]+) are old-system CCERs, usable up to the (\d+) surrender; only new-system CCERs are carried beyond it\.",
     "为{0}年购买的市场CCER为旧体系CCER，可用至{1}年清缴；之后只能结转新体系CCER。"),
    (rf"Conditional pre-draw in {_Y}: with a gap of at least ([\d.]+%) of verified emissions, up to ([\d.]+%) of the gap may be "
     r"drawn from the (\d+) allocation\.",
     "{0}年有条件预支：缺口不低于核查排放量的{1}时，最多可从{3}年配额中预支缺口的{2}。"),
    (r"Output measures lose output-based allocation at the entity's allocation per tonne of baseline emissions \(inputs table, "
     r"output_loss_t_per_t\); under an absolute cap or a verified-emissions allocation they lose none\. The load-rate factor is held "
     r"at its input value\.",
     "减产类措施按企业每吨基准排放的配额损失基于产出的配额（inputs 表 output_loss_t_per_t）；在总量控制或按核查排放分配时不损失。负荷率修正系数保持输入值。"),
    (r"Internal transfer price: the entities' mean CEA buy price of each year \(transfers\.price_cny_per_t not given\)\.",
     "内部调配价格：各企业当年配额买价的平均值（未给定 transfers.price_cny_per_t）。"),
    (r"Transfers do not count in net sales \(rule-pack override\): .+", "内部调配不计入净卖出量（规则包覆盖）：结转上限只按市场交易计算。"),
    (r"CCERs come from the group pool: entities' own CCER purchases are replaced by allocations from it; each entity still "
     r"surrenders within its own cap\.",
     "CCER来自集团CCER池：企业自行购买CCER改为由集团池分配；各企业仍在自身抵销上限内使用。"),
    (r"The group NPV discounts at ([\d.]+%); entity cases with another rate keep it only for their project annuities\.",
     "集团净现值按{0}折现；采用其他折现率的企业案例仅在项目年金计算中保留其折现率。"),
    (rf"Tie broken: several plans reach the optimal cost( \(CEA round trips earn nothing in [\d, ]+: buy price plus fee = sell "
     rf"price less fee\))?; the plan shown trades the fewest tonnes of them\. The solver's first optimal plan also bought and sold "
     rf"{_N} t that lowered no cost \(dropped by a second solve at the optimal cost\)\.",
     "多个方案成本同为最优{0}；所示方案是其中交易量最少的。求解器最初给出的最优方案还买入又卖出了 {1} t，并未降低成本（在最优成本下二次求解时已剔除）。"),
    (r"Ties not resolved: the second solve for the plan that trades the fewest tonnes at the optimal cost ended without one; "
     r"this is the solver's first optimal plan, which may hold trades that lower no cost\.",
     "未能消除并列最优：在最优成本下求交易量最少方案的二次求解未得到结果；此为求解器最初给出的最优方案，可能含有不降低成本的交易。"),
    (r"CCER lot (.+) is not eligible in any planned year and is ignored", "CCER批次 {0} 在规划年份内均不合格，已忽略"),
    (r"Opening holdings \(rules\.md R2\.2, §14\): (.+?)\.( The position is read as after the transition .+)?", _opening_zh),
    (rf"Shortfalls of the {_Y} vintages fall under MEE Order 19: a fixed fine of CNY {_N} for each year with any shortfall "
     r"\(one binary each\)( plus the deduction of the tonnes from the next allocation)?; no fine per tonne "
     r"\(market\.penalty_reference_cny_per_t is not used for them\)\.",
     lambda m: (f"{m.group(1)}年度配额的履约缺口适用生态环境部19号令：任一年度存在缺口即固定罚款 {m.group(2)} 元（每年一个0-1变量）"
                + ("，并在下一年度配额中扣减缺口量" if m.group(3) else "") + "；不按吨罚款（不使用 market.penalty_reference_cny_per_t）。")),
    (rf"The fine per tonne of {_Y} is ([\d.]+) x the average CEA price of the month before the surrender deadline "
     r"\(Decree 775\)( plus the deduction of the tonnes from the next allocation)?: market\.penalty_reference_cny_per_t where "
     r"the case gives it, else the cycle's CEA buy price\.",
     lambda m: (f"{m.group(1)}年度配额的罚款为每吨清缴期限前一个月配额平均成交价的 {m.group(2)} 倍（国务院令第775号）"
                + ("，并在下一年度配额中扣减缺口量" if m.group(3) else "")
                + "：案例给出 market.penalty_reference_cny_per_t 时用之，否则用当期配额买价。")),
    (rf"no CCER availability given \(market\.ccer_available_t\) for {_Y}: CCER purchases are limited to (.+?) a year, the "
     rf"entity's share of new-system CCER issuance to date \({_N} Mt, first issued 2025-03-06\) pro rata to its baseline "
     rf"emissions among {_N} Gt covered \(([\d.]+%) of its emissions; rule pack ccer\.default_supply\.\*, an assumption\); "
     r"give market\.ccer_available_t for your own view of supply",
     "{0}年未给出CCER可购量（market.ccer_available_t）：CCER购买量限为每年 {1}，即按基准排放量在 {3} Gt 覆盖排放中的占比分得的新体系CCER迄今签发量（{2} Mt，2025-03-06首次签发）的份额（占其排放量的{4}；规则包 ccer.default_supply.*，为假设）；请给出 market.ccer_available_t 以采用自己的供给判断"),
    (rf"baseline emissions of {_Y} are as low as {_N} t, below the {_N} t a year from which an entity is covered \(rule pack "
     r"coverage\.threshold_t\): check the units of (\S+)\.output \(MWh or t of product, not 万MWh or 万t: those are 10,000 "
     r"times too small\) and of emissions_t / intensity_t_per_unit",
     "{0}年基准排放量低至 {1} t，低于纳入全国碳市场的年排放门槛 {2} t（规则包 coverage.threshold_t）：请检查 {3}.output 的单位"
     "（应为 MWh 或吨产品，而非万MWh或万吨：后者小了一万倍）以及 emissions_t / intensity_t_per_unit 的单位"),
    (rf"(\S+) \((.+?)\) {_Y}: emissions are (\S+) times (the allocation the case gives|the official formula's allocation "
     r"\(benchmark x output, heat included\)); an intensity that far from its benchmark is no plant's real position: check "
     r"(\S+) and (\S+) \(t CO2 per MWh or per t of product; output in MWh or t\)(; a factor of about 1?/?10,000 looks like .+)?",
     lambda m: (f"{m.group(1)}（{m.group(2)}）{m.group(3)}年：排放量是"
                + ("案例给定配额" if m.group(5).startswith("the allocation") else "按官方公式计算的配额（基准值×产出，含供热）")
                + f"的 {m.group(4)} 倍；排放强度与基准值相差如此之大不符合任何电厂/企业的实际：请检查 {m.group(6)} 和 {m.group(7)}"
                "（单位应为每MWh或每吨产品的吨CO2；产出以MWh或吨计）"
                + ("；约一万倍的差异像是产出用了万单位（万MWh、万吨）或排放量单位有误" if m.group(8) else ""))),
    (rf"(market\[\d+\] \(year \d+\)\.\w+)(?: and (\d+) more year\(s\))?: {_N} CNY/t is (more than [\d.]+ times the highest|"
     r"below a tenth of the lowest) (CEA|CCER) price observed \(([\d.]+), (\d+-\d+)\): .+",
     lambda m: (f"{m.group(1)}" + (f"（另有{m.group(2)}个年份）" if m.group(2) else "") + f"：{m.group(3)} 元/t "
                + (f"超过 {m.group(7)} 年观测到的最高" if m.group(4).startswith("more") else f"低于 {m.group(7)} 年观测到的最低")
                + f"{m.group(5)}价格（{m.group(6)}）"
                + ("的十倍：是否按每万吨或以分计价？请以元/吨给出" if m.group(4).startswith("more") else "的十分之一：是否以万元/吨计价？请以元/吨给出"))),
    (rf"no CCER availability given for the CCER pool \(ccer_pool\.rows\.available_t\) in {_Y}: the pool may buy (.+?) a year, "
     r"the entities' share of new-system CCER issuance to date pro rata to their baseline emissions \(([\d.]+%); rule pack "
     r"ccer\.default_supply\.\*, an assumption\); give available_t for your own view of supply",
     "{0}年未给出集团CCER池可购量（ccer_pool.rows.available_t）：集团池每年可购 {1}，即各企业按基准排放量分得的新体系CCER迄今签发量份额（{2}；规则包 ccer.default_supply.*，为假设）；请给出 available_t 以采用自己的供给判断"),
    (r"project (.+) cannot start operating within the horizon and is ignored", "项目 {0} 无法在规划期内投运，已忽略"),
)


_FRAGMENTS: dict[str, str] = {
    " Coal and gas relief end with the cap.": "燃煤与燃气补足机制随总量控制结束。",
}


def _fragment(g: str) -> str:
    import re

    m = re.fullmatch(r" \(CEA round trips earn nothing in ([\d, ]+): buy price plus fee = sell price less fee\)", g)
    if m:
        return f"（{m.group(1)}年配额当年买入再卖出没有收益：买价加手续费等于卖价减手续费）"
    m = re.fullmatch(r"the (\d+) allocation", g)
    if m:
        return f"{m.group(1)}年配额"
    m = re.fullmatch(r"the output-based allocation of (\d+) \(the year before the cap is not planned\)", g)
    if m:
        return f"{m.group(1)}年基于产出的配额（总量控制前一年不在规划期内）"
    return _FRAGMENTS.get(g, g)


def note_zh(text: str) -> str | None:
    """A note or warning of a plan in Chinese; None when it has no translation (the English is then
    shown). Group notes may start with the entities they concern ("HN-01, HN-03 and 25 more: ...")."""
    import re

    head = ""
    m = re.fullmatch(r"((?:[^:]+?)(?: and \d+ more)?): (.+)", text)
    candidates = [("", text)] + ([(m.group(1), m.group(2))] if m else [])
    for prefix, body in candidates:
        for pattern, zh in _NOTES:
            mm = re.fullmatch(pattern, body)
            if mm:
                head = re.sub(r" and (\d+) more$", r" 等\1家", prefix)
                out = zh(mm) if callable(zh) else zh.format(*[_fragment(g) if g else "" for g in mm.groups()])
                if out is None:
                    continue
                return f"{head}：{out}" if head else out
    return None


def note_text(text: str, lang: str = "en") -> str:
    """A note or warning as a report shows it: in Chinese where a translation exists."""
    return (note_zh(text) or text) if lang == "zh" else text
