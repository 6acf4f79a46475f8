"""Why-statements worded from their records: a binding row's ``facts`` (the numbers and choices the
plan stage recorded, JSON text) rendered in Chinese, with quantities in t and CNY or in 万t and 万元
as the report's tables are. Every binding rule of the entity and group plans is worded here; only
rows without facts (plan files written before the records) fall back to the translation of their
English statement (``planner.report.labels.statement_zh``), else the English.
Plain data in, text out; never imports Pyomo."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from planner.report.labels import rule_label, statement_zh

SET_BY_ZH = {
    "buy": "由购买配额（价格加手续费）决定",
    "sell": "由出售配额决定：少用一吨即多卖一吨（价格减手续费）",
    "ccer": "由购买CCER决定",
    "shortfall": "由履约缺口（罚款及次年扣减）决定",
    "carry": "介于卖价与买价之间：由跨年结转的配额决定",
    "above": "高于买价：购买、CCER或结转上限约束生效",
    "below": "低于卖价：出售或结转上限约束生效",
    "abatement": "由减排决定",
}


class _Fmt:
    def __init__(self, units: str) -> None:
        self.wan = units == "wan"

    def t(self, v: float) -> str:
        return f"{v / 1e4:,.2f} 万t" if self.wan else f"{v:,.0f} t"

    def cny(self, v: float) -> str:
        return f"{v / 1e4:,.2f} 万元" if self.wan else f"{v:,.0f} 元"

    @staticmethod
    def price(v: float) -> str:
        return f"{v:,.2f} 元/t"


def _saving(f: dict[str, Any], what: str) -> str:
    s = f.get("saving_cny_per_t") or 0.0
    return f"；{what}每放宽一吨可节省 {s:,.2f} 元" if s else ""


def _ccer_cap(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年CCER抵销比例上限约束生效：抵销CCER {n.t(f['ccer_t'])}，占履约义务的{f['share']:.0%}" + _saving(f, "上限")


def _carry(y: int, f: dict[str, Any], n: _Fmt) -> str:
    text = f"{y}年结转上限约束生效：结转至{y + 1}年 {n.t(f['carry_t'])}（上限 {str(f['limit']).replace('net sales', '净卖出')}，累计净卖出 {n.t(f['net_sales_t'])}）"
    if f.get("raised_t"):
        text += f"；截至{y}年计划出售 {n.t(f['sold_t'])}，使结转上限比基础值提高 {n.t(f['raised_t'])}"
    if f.get("lapse_t"):
        text += f"；超出上限的 {n.t(f['lapse_t'])} 作废"
    return text


def _buy_limit(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年配额{'市场' if f.get('market') else ''}购买量上限约束生效：{n.t(f['bought_t'])}" + _saving(f, "购买上限")


def _sell_limit(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年配额{'市场' if f.get('market') else ''}出售量上限约束生效：{n.t(f['sold_t'])}"


def _ccer_availability(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年CCER可购量约束生效：{n.t(f['available_t'])} 全部购入"


def _predraw(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年预支后续年度配额 {n.t(f['borrow_t'])}（缺口 {n.t(f['gap_t'])}）"


def _auction(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年有偿分配份额全部购入：{n.t(f['bought_t'])}"


def _shortfall(y: int, f: dict[str, Any], n: _Fmt) -> str:
    fine = (f"按19号令一次性罚款 {n.cny(f['fine_fixed_cny'])}" if f.get("fine_fixed_cny", 0) > 0
            else f"按 {n.price(f['fine_cny_per_t'])} 罚款")
    text = f"{y}年履约缺口 {n.t(f['shortfall_t'])}，{fine}" + ("并在下一年度配额中扣减" if f.get("deducted") else "")
    forced = f.get("forced_by") or []
    return text + (f"；由以下约束导致：{'、'.join(rule_label(r, 'zh') for r in forced)}" if forced
                   else "；并无约束迫使缺口：罚款和扣减的成本低于补足缺口")


def _marginal(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return (f"{y}年边际履约成本 {n.price(f['cny_per_t'])}；配额买价 {f['buy']:,.2f}（另加手续费 {f['fee']:,.2f}），"
            f"卖价 {f['sell']:,.2f}，CCER {f['ccer']:,.2f} 元/t；{SET_BY_ZH.get(f.get('set_by', ''), '')}").rstrip("；")


def _measure_value(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return (f"减排措施 {f['measure']} 在{f['first']}-{f['last']}年减排 {n.t(f['abated_t'])}，成本 {n.cny(f['cost_cny'])}；"
            f"按边际履约成本计价值 {n.cny(f['worth_cny'])}（节省 {n.cny(f['worth_cny'] - f['cost_cny'])}，名义值）")


def _project_value(y: int, f: dict[str, Any], n: _Fmt) -> str:
    span = f"在{f['span']}年" if f.get("span") else "在规划期内未投运，"
    return (f"减排项目 {f['project']}（{f['build_year']}年开工）{span}减排 {n.t(f['reduced_t'])}，规划期内投资和运维成本 "
            f"{n.cny(f['cost_cny'])}；按边际履约成本计价值 {n.cny(f['worth_cny'])}（节省 {n.cny(f['worth_cny'] - f['cost_cny'])}，名义值）")


def _measure_potential(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"减排措施 {f['measure']} 在{y}年达到潜力上限（{n.t(f['abate_t'])}，{n.price(f['cost_cny_per_t'])}）"


def _price_tie(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return (f"{y}年配额当年买入再卖出没有收益：买价 {f['buy']:,.2f} + 手续费 {f['fee']:,.2f} = 卖价 {f['sell']:,.2f} - 手续费（元/t）；"
            "方案中没有此类买入又卖出的交易（在成本相同的方案中交易量最少）")


def _relief(y: int, f: dict[str, Any], n: _Fmt) -> str:
    coal, share, t = f["relief"] == "coal_floor", float(f["share"]), n.t(f["relief_t"])
    if f["to_allocation"]:
        text = (f"{y}年燃煤机组配额缺口补足生效：配额提高至核查排放量的{share:.0%}（+{t}）" if coal
                else f"{y}年燃气机组配额补足生效：配额提高至核查排放量（+{t}）")
    else:
        text = (f"{y}年燃煤机组履约豁免生效：清缴义务上限为免费配额加核查排放量的{1 - share:.0%}（-{t}）" if coal
                else f"{y}年燃气机组履约豁免生效：清缴义务上限为免费配额（-{t}）")
    return text + f"；此时每减排一吨仅值配额价格的{1 - share:.0%}"


def _opening_sale(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return (f"在{f['transition']}年清缴后的结转之前出售期初持有配额 {n.t(f['sold_t'])}（{n.price(f['price'])}）："
            f"累计净卖出 {n.t(f['net_sales_t'])}，使该次结转上限提高至 {n.t(f['limit_t'])}")


def _opening_lapse(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return (f"期初持有的 {n.t(f['held_t'])} 配额中 {n.t(f['lapse_t'])} 在{y}年前作废：{f['transition']}年清缴后的结转上限为 "
            f"{n.t(f['limit_t'])}（累计净卖出 {n.t(f['net_sales_t'])}），超出部分此后不再有效（rules.md R2.2）")


def _group_buy(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年集团市场购买量上限约束生效：集团内企业共购入 {n.t(f['bought_t'])}"


def _group_sell(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年集团市场出售量上限约束生效：集团内企业共出售 {n.t(f['sold_t'])}"


def _price_tier(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年集团购买量进入第{f['tier']}档价格（加价 {n.price(f['premium_cny_per_t'])}）：{n.t(f['bought_t'])} 按加价购入"


def _pool(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年集团CCER池可购量约束生效：{n.t(f['bought_t'])} 全部购入"


def _budget(y: int, f: dict[str, Any], n: _Fmt) -> str:
    return f"{y}年集团预算约束生效：现金成本 {n.cny(f['used_cny'])}，预算 {n.cny(f['budget_cny'])}"


ZH: dict[str, Callable[[int, dict[str, Any], _Fmt], str]] = {
    "price_tie": _price_tie, "relief_regime": _relief, "opening_sale": _opening_sale, "opening_lapse": _opening_lapse,
    "group_buy_limit": _group_buy, "group_sell_limit": _group_sell, "price_tier": _price_tier, "pool_availability": _pool,
    "group_budget": _budget,
    "ccer_cap": _ccer_cap, "carryover_limit": _carry, "buy_limit": _buy_limit, "sell_limit": _sell_limit,
    "ccer_availability": _ccer_availability, "predraw": _predraw, "auction_share": _auction, "shortfall": _shortfall,
    "marginal_cost": _marginal, "measure_value": _measure_value, "measure_potential": _measure_potential, "project_value": _project_value,
}
"""Rules worded from their facts in Chinese."""


def facts_of(row: Any) -> dict[str, Any] | None:
    """A binding row's facts (None when it has none)."""
    raw = getattr(row, "facts", None)
    if not isinstance(raw, str) or not raw:
        return None
    try:
        out = json.loads(raw)
    except ValueError:
        return None
    return out if isinstance(out, dict) else None


def statement(row: Any, lang: str = "en", units: str = "t") -> str:
    """A binding row's statement in ``lang``: Chinese from its facts where the rule is worded here,
    else the translated English statement, else the English statement."""
    if lang != "zh":
        return row.statement
    f = facts_of(row)
    render = ZH.get(row.rule)
    if f is not None and render is not None:
        try:
            return render(int(row.year), f, _Fmt(units))
        except (KeyError, TypeError, ValueError):
            pass  # a record of another layout: the translation below
    return statement_zh(row.statement) or row.statement
