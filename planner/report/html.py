"""One self-contained HTML report: inline CSS and SVG charts, no script, no network at view time.

Functions take plain pandas tables and dicts (reusable for group and sweep reports); never imports
Pyomo. The same tables give the same bytes.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

import pandas as pd

from planner.report import numbers
from planner.report.charts import carry_chart, cost_chart, mac_chart, position_chart
from planner.report.labels import fmt_number, label, note_text, rule_label, unit_label

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ccc;padding-bottom:4px}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.kpi{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.kpi b{display:block;font-size:18px}
table{border-collapse:collapse;font-size:12px;margin:6px 0}
th,td{border:1px solid #ddd;padding:3px 6px} th{background:#eef3f8;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{display:block;width:100%;height:auto;margin:12px 0;background:#fff}
svg.chart text{font-family:"DejaVu Sans","Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif}
.actions{border:2px solid #3b6ea5;border-radius:6px;padding:4px 12px 8px;margin:12px 0;background:#f7fafd}
.actions h2{margin-top:8px;border:0}
.warn{color:#a33} .muted{color:#666;font-size:12px}
"""

HEADLINE = (
    "year", "emissions_baseline_t", "abatement_t", "emissions_t", "allocation_t", "obligation_t", "buy_t", "sell_t",
    "ccer_buy_t", "ccer_sell_t", "ccer_surrendered_t", "ccer_hold_t", "carry_t", "carry_limit_t", "shortfall_t", "total_cost_cny", "shadow_price_cny_per_t",
    "cea_buy_cny_per_t",
)


def headline_table(annual: pd.DataFrame) -> pd.DataFrame:
    """The per-year plan with the headline columns (numbers, not text)."""
    a = annual.copy()
    a["abatement_t"] = a["abatement_measures_t"] + a["abatement_projects_t"]
    # a CCER sale only where the case gives a CCER sale price (else always 0)
    cols = [c for c in HEADLINE if c in a.columns and (c != "ccer_sell_t" or (a[c].abs() > 0.5).any())]
    if "entity" in a.columns and a["entity"].nunique() > 1:
        cols = ["entity", *cols]
    return a[cols].reset_index(drop=True)


def html_table(df: pd.DataFrame, lang: str = "en", units: str = "t", *, table_id: str = "") -> str:
    """A table as HTML: column labels in ``lang`` (万 units with ``units`` 'wan'), numbers
    formatted in cells of class ``n``."""
    head = "".join(f"<th>{escape(unit_label(c, lang, units))}</th>" for c in df.columns)
    rows = []
    for r in df.itertuples(index=False):
        cells = []
        for c, v in zip(df.columns, r, strict=True):
            num = isinstance(v, int | float) and not isinstance(v, bool)
            cells.append(f'<td class="n">{escape(fmt_number(v, c, units))}</td>' if num else f"<td>{escape(fmt_number(v, c, units))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    tid = f' id="{escape(table_id)}"' if table_id else ""
    return f"<table{tid}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _kv_table(items: list[tuple[str, Any]], table_id: str) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(_text(v, k.rsplit('.', 1)[-1]))}</td></tr>" for k, v in items)
    return f'<table id="{table_id}"><tbody>{rows}</tbody></table>'


def _text(v: Any, key: str = "") -> str:
    """A cell of a key-value table: lists and mappings as JSON, numbers by the kind of ``key``."""
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str) if v else "-"
    if isinstance(v, int | float) and not isinstance(v, bool):
        return numbers.fmt_col(v, key)
    return "-" if v is None else str(v)


def actions_frame(actions: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """This cycle's actions for people (numbers kept as numbers): due, action, quantity, price,
    amount, what; the entity and cycle in front where the table holds several."""
    from planner.plan.actions import ACTION_LABELS

    g = actions
    t = pd.DataFrame({
        "due": g["due"].astype(str),
        "action": [ACTION_LABELS[a][1 if lang == "zh" else 0] + (f" {s}" if s else "") for a, s in zip(g["action"], g["subject"], strict=True)],
        "quantity_t": g["quantity_t"].astype(float),
        "price_cny_per_t": g["price_cny_per_t"].astype(float),
        "amount_cny": g["amount_cny"].astype(float),
        "what": g["what"].astype(str),
    }).reset_index(drop=True)
    if g["entity"].nunique() > 1:
        t.insert(0, "entity", g["entity"].astype(str).to_numpy())
    return t


def actions_box(actions: pd.DataFrame | None, lang: str = "en", units: str = "t") -> str:
    """The box that heads a report: this cycle's actions with the dates they fall due."""
    if actions is None or actions.empty:
        return ""
    cycles = sorted({int(c) for c in actions["cycle"]})
    head = f"{label('actions', lang)} ({', '.join(map(str, cycles))})"
    return (f'<div class="actions" id="actions"><h2>{escape(head)}</h2>'
            + html_table(actions_frame(actions, lang), lang, units, table_id="actions-table") + "</div>")


def cost_split_frame(costs: pd.DataFrame, lang: str = "en") -> pd.DataFrame:
    """The costs table for people: components, the cost of compliance, the value left at the end
    (as a cost: negative), the NPV total; nominal and discounted."""
    from planner.plan.costsplit import cost_split_table

    t = cost_split_table(costs)
    return t.assign(component=[label(c, lang) for c in t["component"]])


def cost_split_section(costs: pd.DataFrame, lang: str = "en", units: str = "t") -> list[str]:
    """The cost-split heading and table of the report; nothing when there are no costs."""
    if costs.empty:
        return []
    return [f"<h2>{escape(label('cost_split', lang))}</h2>", html_table(cost_split_frame(costs, lang), lang, units, table_id="cost-split")]


def why_items(bindings: pd.DataFrame, lang: str = "en", units: str = "t") -> list[str]:
    """Binding statements with their rule's name in front, both in the chosen language: Chinese
    worded from the row's facts, in 万t and 万元 with ``units`` 'wan' (``planner.report.statements``)."""
    from planner.report.statements import statement

    out = []
    pot = bindings[bindings["rule"] == "measure_potential"] if not bindings.empty else bindings
    for r in bindings.itertuples(index=False):
        if r.rule == "measure_potential":
            continue
        out.append(f"[{rule_label(r.rule, lang)}] {statement(r, lang, units)}")
    for measure, g in (pot.groupby("subject", sort=True) if not pot.empty else []):
        years = sorted(int(y) for y in g["year"])
        out.append(f"[{rule_label('measure_potential', lang)}] {measure}: {', '.join(map(str, years))}")
    return out


def html_report(
    *,
    annual: pd.DataFrame,
    costs: pd.DataFrame,
    bindings: pd.DataFrame,
    assumptions: pd.DataFrame,
    mac: pd.DataFrame,
    summary: dict[str, Any],
    audit: dict[str, Any],
    notes: list[str] = (),
    warnings: list[str] = (),
    lang: str = "en",
    units: str = "t",
    actions: pd.DataFrame | None = None,
) -> str:
    """The report as one HTML document (UTF-8 text), headed by this cycle's ``actions``."""
    s = summary
    title = f"{label('report_title', lang)}: {s.get('entity', '')} {s.get('entity_name') or ''}".strip()
    kpis = [
        ("compliance_npv_cny", s.get("compliance_npv_cny")),
        ("terminal_value_cny", s.get("terminal_value_cny")),
        ("npv_cost_cny", s.get("npv_cost_cny")),
        ("nominal_cost_cny", s.get("nominal_cost_cny")),
        ("cost_per_t_obligation_cny", s.get("cost_per_t_obligation_cny")),
        ("total_obligation_t", s.get("total_obligation_t")),
        ("total_shortfall_t", s.get("total_shortfall_t")),
    ]
    if s.get("opening_lapse_t"):  # opening holdings above the limit of a transition before the first year
        kpis.append(("opening_lapse_t", s.get("opening_lapse_t")))
    kpi_html = "".join(
        f'<div class="kpi"><span>{escape(unit_label(k, lang, units if k != "cost_per_t_obligation_cny" else "t"))}</span>'
        f"<b>{escape(fmt_number(v, k if k != 'cost_per_t_obligation_cny' else 'x_per_t', units))}</b></div>"
        for k, v in kpis if v is not None
    )
    valuation = ""
    if s.get("terminal_valuation"):
        valuation = f'<p class="muted" id="terminal-valuation">{escape(label("terminal_valuation", lang))}: {escape(str(s["terminal_valuation"]))}</p>'
    first = annual.sort_values("year").iloc[0] if not annual.empty else None
    last = annual.sort_values("year").iloc[-1] if not annual.empty else None
    prices = []
    if first is not None:
        prices.append((f"{label('cea_price', lang)} {int(first['year'])}", float(first["cea_buy_cny_per_t"])))
        if int(last["year"]) != int(first["year"]):
            prices.append((f"{label('cea_price', lang)} {int(last['year'])}", float(last["cea_buy_cny_per_t"])))
    charts = [position_chart(annual, lang, units), cost_chart(costs, lang, units), carry_chart(annual, lang, units)]
    if not mac.empty:
        charts.append(mac_chart(mac, prices, lang, units))
    why = why_items(bindings, lang, units)
    parts = [
        *page_head(title, lang),
        f'<p class="muted">{escape(label("years", lang))} {s.get("years", ["", ""])[0]}-{s.get("years", ["", ""])[-1]} · '
        f'{escape(label("status", lang))}: {escape(label("status_" + str(s.get("status")), lang).removeprefix("status_"))} · {escape(label("rule_pack", lang))}: '
        f'{escape(str(s.get("rule_pack")))} · {escape(audit.get("input_sha256", "")[:12])}</p>',
        f'<div class="kpis">{kpi_html}</div>',
        valuation,
        actions_box(actions, lang, units),
        *charts,
        f"<h2>{escape(label('plan', lang))}</h2>",
        html_table(headline_table(annual), lang, units, table_id="plan-table"),
        *cost_split_section(costs, lang, units),
        f"<h2>{escape(label('why', lang))}</h2>",
        "<ul id=\"why\">" + "".join(f"<li>{escape(t)}</li>" for t in why) + "</ul>" if why else "<p>-</p>",
    ]
    parts += _page_tail(notes, warnings, assumptions, audit, lang)
    return "\n".join(parts) + "\n"


def page_head(title: str, lang: str) -> list[str]:
    """Start of a report page: no script, and a policy that forbids loading anything."""
    return [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]


def _page_tail(notes, warnings, assumptions: pd.DataFrame, audit: dict[str, Any], lang: str) -> list[str]:
    """End of a report page: notes and warnings, rule-pack assumptions, the audit record."""
    parts = []
    if notes or warnings:
        parts.append(f"<h2>{escape(label('notes', lang))}</h2><ul>"
                     + "".join(f"<li>{escape(note_text(n, lang))}</li>" for n in notes)
                     + "".join(f'<li class="warn">{escape(note_text(w, lang))}</li>' for w in warnings) + "</ul>")
    if not assumptions.empty:
        cols = [c for c in ("parameter", "value", "unit", "confidence", "published", "applied_beyond_published", "overridden", "source") if c in assumptions.columns]
        a = assumptions[cols].copy()
        # a rule-pack value is shown as the pack gives it, by the kind of its unit (0.05, 1.5, 2024, 10,000)
        a["value"] = [numbers.fmt(v, numbers.kind_of_unit(u)) if isinstance(v, int | float) and not isinstance(v, bool)
                      else _text(v) for v, u in zip(a["value"], assumptions["unit"] if "unit" in assumptions else [""] * len(a), strict=True)]
        parts += [f"<h2>{escape(label('assumptions', lang))}</h2>", html_table(a, lang, "t", table_id="assumptions")]
    parts += [f"<h2>{escape(label('audit', lang))}</h2>", _kv_table(_audit_items(audit), "audit"), "</body></html>"]
    return parts


def _audit_items(audit: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k in sorted(audit):
        v = audit[k]
        if isinstance(v, dict) and v and all(not isinstance(x, dict | list) for x in v.values()):
            out += [(f"{k}.{kk}", vv) for kk, vv in sorted(v.items())]
        else:
            out.append((k, v))
    return out


def plan_html(plan, audit: dict[str, Any], lang: str = "en", units: str = "t") -> str:
    """The HTML report of an entity plan."""
    return html_report(annual=plan.annual, costs=plan.costs, bindings=plan.bindings, assumptions=plan.assumptions,
                       mac=plan.mac, summary=plan.summary, audit=audit, notes=plan.notes, warnings=plan.warnings,
                       lang=lang, units=units, actions=plan.actions)


# ------------------------------------------------------------------------------ group reports

GROUP_YEAR = (
    "year", "emissions_t", "allocation_t", "obligation_t", "abatement_t", "market_buy_t", "market_sell_t", "transfers_t",
    "pool_buy_t", "ccer_surrendered_t", "carry_t", "shortfall_t", "entity_cost_cny", "link_cost_cny", "total_cost_cny",
)
GROUP_ENTITY = (
    "entity", "side", "position_t", "abatement_t", "market_buy_t", "market_sell_t", "transfer_in_t", "transfer_out_t",
    "ccer_surrendered_t", "shortfall_t", "npv_cost_cny", "standalone_npv_cny",
)
MAX_ROWS = 200
"""Rows of a long group table shown in the report; the CSV file has them all."""


def group_year_table(gplan) -> pd.DataFrame:
    """The group per year with the headline columns (numbers)."""
    a = gplan.group_annual.copy()
    a["abatement_t"] = a["abatement_measures_t"] + a["abatement_projects_t"]
    return a[[c for c in GROUP_YEAR if c in a.columns]].reset_index(drop=True)


def group_market_annual(gplan) -> pd.DataFrame:
    """The entities' annual rows with purchases and sales on the market only: transfers net to zero
    over the group in each year, so the group's position chart shows what the group trades."""
    a = gplan.entities.annual
    return a.assign(buy_t=a["market_buy_t"], sell_t=a["market_sell_t"])


def group_costs(gplan) -> pd.DataFrame:
    """Nominal cost rows (year, component, nominal_cny) of the group: entity components (the
    internal settlement of transfers nets to zero) and the group's own (pool, price tiers)."""
    ec = gplan.entities.costs[["year", "component", "nominal_cny"]]
    gc = gplan.group_costs[["year", "component", "nominal_cny"]] if not gplan.group_costs.empty else ec.iloc[:0]
    return pd.concat([ec, gc], ignore_index=True)


def group_why(gplan, lang: str = "en", units: str = "t") -> list[str]:
    """Group statements first, then the entities' (each with its entity in front)."""
    out = why_items(gplan.group_bindings, lang, units) if not gplan.group_bindings.empty else []
    b = gplan.entities.bindings
    if not b.empty:
        for e, g in b.groupby("entity", sort=False):
            out += [f"{e}: {t}" for t in why_items(g, lang, units)]
    return out


def _pooling_chart(gplan, lang: str, units: str) -> str:
    from planner.report.charts import barh_chart
    from planner.report.labels import scale

    pv = gplan.pooling_value
    pv = pv[~pv["entity"].astype(str).str.startswith("(")] if not pv.empty else pv
    if pv.empty:
        return ""
    top = pv.reindex(pv["saving_cny"].abs().sort_values(ascending=False, kind="stable").index).head(30)
    s = scale("x_cny", units)
    return barh_chart([str(e) for e in top["entity"]], [float(v) / s for v in top["saving_cny"]],
                      title=label("chart_pooling", lang), x_label="万元" if units == "wan" else ("元" if lang == "zh" else "CNY"),
                      chart_id="chart-pooling", lang=lang)


def internal_price(gplan) -> float | None:
    """The internal transfer price when one price holds for every year (else None)."""
    a = gplan.entities.annual
    if "transfer_price_cny_per_t" not in a:
        return None
    p = a["transfer_price_cny_per_t"].dropna().unique()
    return float(p[0]) if len(p) == 1 else None


def pooling_text(gplan) -> str:
    """The paragraph that explains pooling (``planner.plan.pooling.pooling_paragraph``)."""
    from planner.plan.pooling import pooling_paragraph

    return pooling_paragraph(gplan.pooling_value, gplan.entity_summary, internal_price(gplan))


def _capped(df: pd.DataFrame, name: str, lang: str, units: str, table_id: str) -> str:
    html = html_table(df.head(MAX_ROWS), lang, units, table_id=table_id)
    if len(df) > MAX_ROWS:
        html += f'<p class="muted">… {len(df) - MAX_ROWS:,} {escape(label("more_rows", lang))} {escape(name)}</p>'
    return html


def group_html(gplan, audit: dict[str, Any], lang: str = "en", units: str = "t") -> str:
    """The HTML report of a group plan: one self-contained document, like the entity report."""
    from planner.report.charts import carry_chart, cost_chart, position_chart

    s = gplan.summary
    title = f"{label('group_report_title', lang)}: {s.get('group', '')} {s.get('group_name') or ''}".strip()
    kpis = [("npv_cost_cny", s.get("npv_cost_cny")), ("value_of_pooling_cny", s.get("value_of_pooling_cny")),
            ("total_obligation_t", s.get("total_obligation_t")), ("total_transfers_t", s.get("total_transfers_t")),
            ("total_shortfall_t", s.get("total_shortfall_t"))]
    kpi_html = "".join(
        f'<div class="kpi"><span>{escape(unit_label(k, lang, units))}</span><b>{escape(fmt_number(v, k, units))}</b></div>'
        for k, v in kpis if v is not None
    )
    market = group_market_annual(gplan)
    charts = [position_chart(market, lang, units), cost_chart(group_costs(gplan), lang, units), carry_chart(market, lang, units)]
    pooling = _pooling_chart(gplan, lang, units)
    if pooling:
        charts.append(pooling)
    from planner.report.many import is_many, ranked, why_top

    many = is_many(gplan)  # the many-entity layout (planner.report.many)
    es = ranked(gplan.entity_summary) if many else gplan.entity_summary.copy()
    es = es[[c for c in GROUP_ENTITY if c in es.columns]]
    why = why_top(gplan, lang, why_items) if many else group_why(gplan, lang, units)
    parts = [
        *page_head(title, lang),
        f'<p class="muted">{escape(label("entities", lang))} {s.get("entities")} · {escape(label("years", lang))} '
        f'{s.get("years", ["", ""])[0]}-{s.get("years", ["", ""])[-1]} · {escape(label("status", lang))}: '
        f'{escape(label("status_" + str(s.get("status")), lang).removeprefix("status_"))} · {escape(label("rule_pack", lang))}: {escape(str(s.get("rule_pack")))} · '
        f'{escape(audit.get("input_sha256", "")[:12])}</p>',
        f'<div class="kpis">{kpi_html}</div>',
        *charts,
        f"<h2>{escape(label('group_plan', lang))}</h2>",
        html_table(group_year_table(gplan), lang, units, table_id="group-table"),
        f"<h2>{escape(label('entities_sheet', lang))}</h2>",
        *([f'<p class="muted">{escape(label("ranked_npv", lang))}</p>'] if many else []),
        _capped(es, "entity_summary.csv", lang, units, "entity-table"),
    ]
    if not gplan.transfers.empty:
        parts += [f"<h2>{escape(label('transfers', lang))}</h2>", _capped(gplan.transfers, "transfers.csv", lang, units, "transfers")]
    if not gplan.ccer_pool.empty:
        pool = gplan.ccer_pool.dropna(axis=1, how="all")
        parts += [f"<h2>{escape(label('ccer_pool', lang))}</h2>", _capped(pool, "ccer_pool.csv", lang, units, "ccer-pool")]
    if not gplan.pooling_value.empty:
        parts += [f"<h2>{escape(label('pooling_value', lang))}</h2>",
                  f'<p id="pooling-explained">{escape(pooling_text(gplan))}</p>',
                  _capped(gplan.pooling_value, "pooling_value.csv", lang, units, "pooling")]
    parts += [f"<h2>{escape(label('why', lang))}</h2>",
              ("<ul id=\"why\">" + "".join(f"<li>{escape(t)}</li>" for t in why[:MAX_ROWS]) + "</ul>") if why else "<p>-</p>"]
    if len(why) > MAX_ROWS:
        parts.append(f'<p class="muted">… {len(why) - MAX_ROWS:,} {escape(label("more_rows", lang))} group_bindings.csv, bindings.csv</p>')
    parts += _page_tail(gplan.notes[:MAX_ROWS], gplan.warnings, gplan.assumptions, audit, lang)
    return "\n".join(parts) + "\n"
