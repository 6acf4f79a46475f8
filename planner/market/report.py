"""A market outcome as a folder: tidy CSVs, the price paths as market rows a case can include, a
sweep file whose scenarios are the market's price paths, and the HTML report in English and Chinese.
No Pyomo here: the outcome's tables only."""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import pandas as pd
import yaml

from planner.report.charts import bar_chart
from planner.report.html import CSS
from planner.report.labels import fmt_number
from planner.report.write import write_atomic_dir, write_file_atomic, write_table_csv

TABLES = ("prices", "volumes", "sectors", "bindings", "calibration", "backtest", "scenarios")

TEXT = {
    "title": ("Market simulation", "全国碳市场模拟"),
    "prices": ("CEA price path per scenario (CNY/t, undiscounted)", "各情景CEA价格路径（元/吨，未贴现）"),
    "price_chart": ("CEA equilibrium price by scenario", "各情景CEA均衡价格"),
    "scenarios": ("Scenarios", "情景"),
    "backtest": ("Back-test: simulated against observed prices", "回测：模拟价格与实际价格"),
    "backtest_none": ("No back-test in this case.", "本案例无回测。"),
    "volumes": ("Volumes (central scenario = first), Mt", "数量（首个情景），百万吨"),
    "sectors": ("Abatement and compliance cost by sector (first scenario)", "分行业减排量与履约成本（首个情景）"),
    "bindings": ("Binding rules, in words", "起约束作用的规则"),
    "calibration": ("Fleet calibration", "控排单位群体校准"),
    "notes": ("Notes", "说明"),
    "year": ("year", "年份"),
    "scenario": ("scenario", "情景"),
    "error_mean": ("Mean absolute error", "平均绝对误差"),
    "basis": ("Price basis", "价格依据"),
}

COLUMNS = {
    "scenario": ("scenario", "情景"), "label": ("label", "说明"), "changes": ("changes", "变动"),
    "entities_represented": ("entities", "单位数"), "representatives": ("representatives", "代表单位"),
    "mip": ("MIP", "混合整数"), "price_basis": ("price basis", "价格依据"), "seconds": ("seconds", "秒"),
    "check": ("check", "校验"), "year": ("year", "年份"), "window_year": ("trading year", "交易年份"),
    "simulated_cny_per_t": ("simulated CNY/t", "模拟 元/吨"), "observed_cny_per_t": ("observed CNY/t", "实际 元/吨"),
    "error_cny_per_t": ("error CNY/t", "误差 元/吨"), "error_share": ("error %", "误差 %"),
    "rule": ("rule", "规则"), "statement": ("statement", "说明"), "statement_zh": ("statement", "说明"),
    "sector": ("sector", "行业"), "entities": ("entities", "单位数"), "emissions_t": ("emissions Mt", "排放 百万吨"),
    "abatement_t": ("abatement Mt", "减排 百万吨"), "net_purchases_t": ("net purchases Mt", "净买入 百万吨"),
    "compliance_cost_cny": ("compliance cost bn CNY", "履约成本 亿元"),
    "free_allocation_t": ("free allocation Mt", "免费配额 百万吨"), "auctioned_t": ("auctioned Mt", "拍卖 百万吨"),
    "obligation_t": ("obligation Mt", "清缴义务 百万吨"), "traded_t": ("traded Mt", "交易量 百万吨"),
    "banked_t": ("banked Mt", "结转 百万吨"), "lapsed_t": ("lapsed Mt", "作废 百万吨"),
    "ccer_surrendered_t": ("CCER surrendered Mt", "CCER抵销 百万吨"), "shortfall_t": ("shortfall Mt", "未清缴 百万吨"),
    "representatives_n": ("representatives", "代表单位"), "entities_per_representative": ("entities each", "每个代表单位"),
    "emissions_target_t": ("emissions target Mt", "排放目标 百万吨"), "scale_applied": ("scale", "缩放"),
}


def _t(key: str, lang: str) -> str:
    pair = TEXT[key]
    return pair[1] if lang == "zh" else pair[0]


def _cell(v, col: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int | float):
        if col == "error_share":
            return f"{v:+.1%}"
        if col.endswith("_t") and not col.endswith("_per_t"):
            return f"{v / 1e6:,.1f}"
        if col == "compliance_cost_cny":
            return f"{v / 1e9:,.2f}"
        if col.endswith("_cny_per_t") or (col not in COLUMNS and isinstance(v, float)):
            return f"{v:,.2f}"  # prices (the price table's columns are scenario ids)
        return fmt_number(v, col)
    return str(v)


def _table(df: pd.DataFrame, lang: str, table_id: str) -> str:
    heads = []
    for c in df.columns:
        pair = COLUMNS.get(c, (c, c))
        h = pair[1] if lang == "zh" else pair[0]
        if c == "compliance_cost_cny" and lang == "zh":
            h = "履约成本 十亿元"
        heads.append(f"<th>{escape(h)}</th>")
    body = []
    for r in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, r, strict=True):
            cls = ' class="n"' if isinstance(v, int | float) and not isinstance(v, bool) else ""
            cells.append(f"<td{cls}>{escape(_cell(v, c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{"".join(heads)}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def price_table(outcome) -> pd.DataFrame:
    """The CEA price paths: one row per year, one column per scenario, in the case's order."""
    w = outcome.prices.pivot(index="year", columns="scenario", values="cea_price_cny_per_t")
    w = w[[s for s in outcome.scenarios["scenario"] if s in w.columns]]
    w.columns = [f"{c}" for c in w.columns]
    return w.reset_index()


def market_html(outcome, case, lang: str = "en") -> str:
    """The market report as one self-contained HTML page in ``lang`` (``en`` or ``zh``)."""
    title = f"{_t('title', lang)}: {case.market.name or case.market.id}"
    parts = ["<!DOCTYPE html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
             "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
             f"<title>{escape(title)}</title><style>{CSS}</style></head><body>", f"<h1>{escape(title)}</h1>"]
    pt = price_table(outcome)
    years = [str(y) for y in pt["year"]]
    lines = [(c, [float(v) for v in pt[c]]) for c in pt.columns if c != "year"]
    parts.append(bar_chart(years, [], lines, title=_t("price_chart", lang), y_label="CNY/t", chart_id="prices_chart"))
    parts += [f"<h2>{escape(_t('prices', lang))}</h2>", _table(pt, lang, "prices")]
    sc = outcome.scenarios.drop(columns=["seconds"])
    parts += [f"<h2>{escape(_t('scenarios', lang))}</h2>", _table(sc, lang, "scenarios")]
    parts.append(f"<h2>{escape(_t('backtest', lang))}</h2>")
    bt = outcome.backtest
    if bt.empty:
        parts.append(f"<p>{escape(_t('backtest_none', lang))}</p>")
    else:
        yrs = [str(y) for y in bt["year"]]
        parts.append(bar_chart(yrs, [], [("simulated" if lang == "en" else "模拟", list(bt["simulated_cny_per_t"])),
                                         ("observed" if lang == "en" else "实际", list(bt["observed_cny_per_t"]))],
                               title=_t("backtest", lang), y_label="CNY/t", chart_id="backtest_chart"))
        parts.append(_table(bt, lang, "backtest"))
        mae = float(bt["error_cny_per_t"].abs().mean())
        src = case.backtest.observed_source if case.backtest else ""
        parts.append(f"<p>{escape(_t('error_mean', lang))}: {mae:,.2f} CNY/t. {escape(src)}</p>")
    first = outcome.prices["scenario"].iloc[0]
    vol = outcome.volumes[outcome.volumes["scenario"] == first].drop(columns=["scenario"])
    parts += [f"<h2>{escape(_t('volumes', lang))}</h2>", _table(vol, lang, "volumes")]
    sec = outcome.sectors[outcome.sectors["scenario"] == first].drop(columns=["scenario"])
    parts += [f"<h2>{escape(_t('sectors', lang))}</h2>", _table(sec, lang, "sectors")]
    b = outcome.bindings.drop(columns=["statement" if lang == "zh" else "statement_zh"])
    parts += [f"<h2>{escape(_t('bindings', lang))}</h2>", _table(b, lang, "bindings")]
    parts += [f"<h2>{escape(_t('calibration', lang))}</h2>", _table(outcome.calibration, lang, "calibration")]
    notes = list(outcome.notes) + ([case.notes] if case.notes else [])
    parts.append(f"<h2>{escape(_t('notes', lang))}</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def market_rows(outcome, scenario: str) -> list[dict]:
    """The scenario's price path as the ``market`` rows of an entity case (buy = sell: a market price)."""
    p = outcome.prices[outcome.prices["scenario"] == scenario]
    rows = []
    for r in p.itertuples(index=False):
        row = {"year": int(r.year), "cea_buy_cny_per_t": round(float(r.cea_price_cny_per_t), 2), "cea_spread_cny_per_t": 0.0}
        if math.isfinite(r.ccer_price_cny_per_t):
            row["ccer_cny_per_t"] = round(float(r.ccer_price_cny_per_t), 2)
        rows.append(row)
    return rows


def sweep_spec(outcome, name: str) -> dict:
    """A sweep file (``planner sweep CASE FILE``) with one scenario per market scenario: each year's CEA
    (and CCER) price of the case set to the market's."""
    scen = []
    for sid in outcome.prices["scenario"].unique():
        ov = {}
        for r in market_rows(outcome, sid):
            ov[f"market.{r['year']}.cea_buy_cny_per_t"] = r["cea_buy_cny_per_t"]
            if "ccer_cny_per_t" in r:
                ov[f"market.{r['year']}.ccer_cny_per_t"] = r["ccer_cny_per_t"]
        scen.append({"id": f"market-{sid}", "overrides": ov})
    return {"name": f"{name}: price paths of the market scenarios", "include_base": True, "scenarios": scen}


def write_market(outcome, case, out_dir: str | Path) -> Path:
    """Write the outcome folder atomically (the previous folder stays until the new one is complete)."""

    def fill(tmp: Path) -> None:
        for name in TABLES:
            write_table_csv(getattr(outcome, name), tmp / f"{name}.csv")
        for sid in outcome.prices["scenario"].unique():
            text = (f"# CEA price path of market scenario {sid} ({case.market.id}), CNY/t: the market rows of an entity case\n"
                    + yaml.safe_dump(market_rows(outcome, sid), sort_keys=False, allow_unicode=True))
            write_file_atomic(tmp / f"market_rows_{sid}.yaml", text.encode())
        write_file_atomic(tmp / "sweep_market_scenarios.yaml",
                          yaml.safe_dump(sweep_spec(outcome, case.market.id), sort_keys=False, allow_unicode=True).encode())
        write_file_atomic(tmp / "report.html", market_html(outcome, case, "en").encode())
        write_file_atomic(tmp / "report.zh.html", market_html(outcome, case, "zh").encode())

    return write_atomic_dir(out_dir, fill)
