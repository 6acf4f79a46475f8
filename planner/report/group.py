"""Group plan -> text: terminal summary, Markdown summary, JSON. Frames only; never imports Pyomo."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from planner.report.text import (
    fmt_cell,
    json_default,
    markdown_audit,
    md_table,
    render_text_table,
)

GROUP_COLUMNS = (
    ("year", "year"),
    ("emissions_t", "emissions t"),
    ("allocation_t", "allocation t"),
    ("abated_t", "abated t"),
    ("market_buy_t", "market buy t"),
    ("market_sell_t", "market sell t"),
    ("transfers_t", "transfers t"),
    ("pool_buy_t", "pool CCER buy t"),
    ("ccer_surrendered_t", "CCER used t"),
    ("shortfall_t", "shortfall t"),
    ("total_cost_cny", "cost CNY"),
)

ENTITY_COLUMNS = (
    ("entity", "entity"),
    ("side", "position"),
    ("position_t", "allocation - obligation t"),
    ("abatement_t", "abated t"),
    ("market_buy_t", "market buy t"),
    ("market_sell_t", "market sell t"),
    ("transfer_in_t", "in t"),
    ("transfer_out_t", "out t"),
    ("npv_cost_cny", "NPV in group"),
    ("standalone_npv_cny", "NPV alone"),
    ("saving_cny", "saving"),
)


def group_table(gplan) -> pd.DataFrame:
    """The group's annual table for people: the ``GROUP_COLUMNS`` it has, formatted (measures and
    projects summed as abated)."""
    a = gplan.group_annual.copy()
    a["abated_t"] = a["abatement_measures_t"] + a["abatement_projects_t"]
    return pd.DataFrame({label: [fmt_cell(col, v) for v in a[col]] for col, label in GROUP_COLUMNS if col in a.columns})


def entity_table(gplan, limit: int | None = None) -> pd.DataFrame:
    """The entity summary for people (the first ``limit`` entities), with each entity's saving
    from pooling when there is one."""
    es = gplan.entity_summary
    if not gplan.pooling_value.empty:  # the saving from pooling, with the group's own costs shared out
        es = es.merge(gplan.pooling_value[["entity", "saving_cny"]], on="entity", how="left")
    es = es if limit is None else es.head(limit)
    cols = [c for c in ENTITY_COLUMNS if c[0] in es.columns]
    return pd.DataFrame({label: [fmt_cell(col, v) for v in es[col]] for col, label in cols})


def _headline(s: dict[str, Any]) -> list[str]:
    out = [
        f"  {s['entities']} entities, years {s['years'][0]}-{s['years'][1]}, status {s['status']}, rule pack {s['rule_pack']}",
        f"  group NPV cost {s['npv_cost_cny']:,.0f} CNY; transfers {s['transfers']} "
        f"({s['total_transfers_t']:,.0f} t in total; counted in net sales: {'yes' if s['transfers_count_in_net_sales'] else 'no'})",
    ]
    if "value_of_pooling_cny" in s:
        out.append(f"  value of pooling: {s['value_of_pooling_cny']:,.0f} CNY (entities alone {s['standalone_npv_cny']:,.0f} CNY NPV); "
                   "each entity's saving includes its share of the group's own costs (pool CCERs, price tiers): "
                   "the savings add up to it")
    return out


def terminal_group_summary(gplan, max_entities: int = 40) -> str:
    """What `planner run` prints for a group case: the headline, the group and entity tables (up
    to ``max_entities``), the limits that bind and the notes."""
    s = gplan.summary
    out = [f"Group compliance plan: {s['group']} {s.get('group_name') or ''}".rstrip(), *_headline(s), ""]
    out += [render_text_table(group_table(gplan)), ""]
    out += [render_text_table(entity_table(gplan, max_entities))]
    if s["entities"] > max_entities:
        out.append(f"  ... {s['entities'] - max_entities} more entities in entity_summary.csv")
    for b in gplan.group_bindings["statement"].head(10):
        out.append(f"Binds: {b}")
    if len(gplan.group_bindings) > 10:
        out.append(f"Binds: ... {len(gplan.group_bindings) - 10} more in group_bindings.csv")
    for n in gplan.notes[:20]:
        out.append(f"Note: {n}")
    if len(gplan.notes) > 20:
        out.append(f"Note: ... {len(gplan.notes) - 20} more notes in summary.md")
    for w in gplan.warnings:
        out.append(f"Warning: {w}")
    return "\n".join(out)


def markdown_group_summary(gplan, audit: dict[str, Any] | None = None) -> str:
    """The group plan's summary.md."""
    s = gplan.summary
    lines = [f"# Group compliance plan: {s['group']} {s.get('group_name') or ''}".rstrip(), ""]
    lines += [f"- {h.strip()}" for h in _headline(s)]
    lines += ["", "## Group per year", "", md_table(group_table(gplan)), "", "## Entities", "", md_table(entity_table(gplan)), ""]
    if not gplan.transfers.empty:
        lines += ["## Transfers (seller -> buyer)", "", md_table(gplan.transfers.assign(transfer_t=gplan.transfers["transfer_t"].map("{:,.0f}".format))), ""]
    if not gplan.pooling_value.empty:
        from planner.report.html import pooling_text

        lines += ["## Value of pooling", "", pooling_text(gplan), ""]
    if not gplan.group_bindings.empty:
        lines += ["## Group limits that bind", ""] + [f"- {b}" for b in gplan.group_bindings["statement"]] + [""]
    if gplan.notes or gplan.warnings:
        lines += ["## Notes", ""] + [f"- {n}" for n in gplan.notes] + [f"- Warning: {w}" for w in gplan.warnings]
    lines += markdown_audit(audit)
    return "\n".join(lines) + "\n"


def group_plan_json(gplan, audit: dict[str, Any]) -> str:
    """The group plan's plan.json: summary, audit, notes, warnings and the group's assumptions."""
    body = {
        "summary": gplan.summary,
        "audit": audit,
        "notes": gplan.notes,
        "warnings": gplan.warnings,
        "group_assumptions": gplan.assumptions.to_dict(orient="records"),
    }
    return json.dumps(body, indent=2, ensure_ascii=False, default=json_default, sort_keys=True) + "\n"
