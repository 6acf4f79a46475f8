"""Plan -> text: terminal table, Markdown summary, JSON. Frames only; never imports Pyomo."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from planner.plan.actions import ACTION_LABELS
from planner.report import numbers

TERMINAL_COLUMNS = (
    ("year", "year"),
    ("emissions_t", "emissions t"),
    ("allocation_t", "allocation t"),
    ("abatement_t", "abated t"),
    ("buy_t", "CEA buy t"),
    ("sell_t", "CEA sell t"),
    ("ccer_buy_t", "CCER buy t"),
    ("ccer_surrendered_t", "CCER used t"),
    ("carry_t", "carry t"),
    ("carry_limit_t", "limit t"),
    ("shortfall_t", "shortfall t"),
    ("total_cost_cny", "cost CNY"),
    ("shadow_price_cny_per_t", "CNY/t"),
)
OPTIONAL_COLUMNS = (  # shown after the named column only when a rule or the plan makes them non-zero
    ("relief_t", "relief t", "allocation_t"),
    ("borrow_t", "pre-drawn t", "allocation_t"),
    ("auction_buy_t", "auction t", "buy_t"),
    ("ccer_sell_t", "CCER sell t", "ccer_buy_t"),
    ("ccer_hold_t", "CCER held t", "ccer_surrendered_t"),
)


def fmt_cell(col: str, v: Any) -> str:
    """A table cell of column ``col`` (``planner.report.numbers``: the precision its quantity needs)."""
    return numbers.fmt_col(v, col)


def annual_table(plan) -> pd.DataFrame:
    """The per-year plan with the headline columns, as display strings."""
    a = plan.annual.copy()
    a["abatement_t"] = a["abatement_measures_t"] + a["abatement_projects_t"]
    cols = [c for c in TERMINAL_COLUMNS if c[0] in a]
    for col, lab, after in OPTIONAL_COLUMNS:
        if col in a and (a[col].abs() > 0.5).any():
            at = next(i for i, c in enumerate(cols) if c[0] == after)
            cols.insert(at + 1, (col, lab))
    return pd.DataFrame({lab: [fmt_cell(col, v) for v in a[col]] for col, lab in cols})


def actions_table(actions: pd.DataFrame) -> pd.DataFrame:
    """This cycle's actions as display strings (due date first)."""
    return pd.DataFrame({
        "due": [str(d) for d in actions["due"]],
        "action": [ACTION_LABELS[a][0] + (f" {s}" if s else "") for a, s in zip(actions["action"], actions["subject"], strict=True)],
        "t": [fmt_cell("quantity_t", v) if pd.notna(v) else "" for v in actions["quantity_t"]],
        "CNY/t": [fmt_cell("price_cny_per_t", v) if pd.notna(v) else "" for v in actions["price_cny_per_t"]],
        "CNY": [fmt_cell("amount_cny", v) if pd.notna(v) else "" for v in actions["amount_cny"]],
        "what": list(actions["what"]),
    })


def actions_lines(actions: pd.DataFrame) -> list[str]:
    """The actions box that heads the terminal summary: this cycle's actions with their due dates."""
    if actions.empty:
        return []
    out = []
    for (_entity, cycle), g in actions.groupby(["entity", "cycle"], sort=False):
        out.append(f"This cycle (vintage {cycle}): what to do and by when")
        table = render_text_table(actions_table(g), left=("due", "action", "what"))
        out += ["  " + line for line in table.splitlines()]
    return out


def render_text_table(df: pd.DataFrame, left: tuple[str, ...] = ()) -> str:
    """A table of text cells in aligned columns under a dashed rule (columns in ``left``
    left-justified, the others right-justified)."""
    widths = {c: max(len(c), *(len(s) for s in df[c])) for c in df.columns}
    def just(c: str, s: str) -> str:
        return s.ljust(widths[c]) if c in left else s.rjust(widths[c])

    head = "  ".join(just(c, c) for c in df.columns)
    lines = [head, "  ".join("-" * widths[c] for c in df.columns)]
    lines += ["  ".join(just(c, str(r[c])) for c in df.columns) for _, r in df.iterrows()]
    return "\n".join(line.rstrip() for line in lines)


def terminal_summary(plan) -> str:
    """What `planner run` prints."""
    s = plan.summary
    out = [
        f"Compliance plan: {s['entity']} {s.get('entity_name') or ''}".rstrip(),
        f"  years {s['years'][0]}-{s['years'][1]}, status {s['status']}, rule pack {s['rule_pack']}"
        + (f" (overrides: {', '.join(s['rule_pack_overrides'])})" if s["rule_pack_overrides"] else ""),
        *cost_lines(s),
        "",
        *actions_lines(plan.actions),
        "",
        render_text_table(annual_table(plan)),
        "",
    ]
    if not plan.builds.empty:
        out.append("Projects: " + "; ".join(f"{r.project} starts {r.build_year}" for r in plan.builds.itertuples()))
    if not plan.bindings.empty:
        out.append("Why this plan:")
        out += [f"  - {t}" for t in why_lines(plan.bindings, skip=("marginal_cost",))]  # CNY/t column above
    for n in plan.notes:
        out.append(f"Note: {n}")
    for w in plan.warnings:
        out.append(f"Warning: {w}")
    out += assumption_lines(plan.assumptions)
    out.append(f"CNY/t = {s.get('shadow_price_basis') or 'no duals'}: cost of one more tonne of obligation.")
    return "\n".join(out)


def cost_lines(s: dict[str, Any]) -> list[str]:
    """The headline cost: the cost of compliance and the value of holdings left at the end apart."""
    per_t = f"; {s['cost_per_t_obligation_cny']:,.2f} CNY per t of obligation" if s.get("cost_per_t_obligation_cny") is not None else ""
    out = [f"  NPV cost {s['npv_cost_cny']:,.0f} CNY (nominal {s['nominal_cost_cny']:,.0f} CNY{per_t})"]
    if "compliance_npv_cny" in s:
        out.append(f"    = cost of compliance {s['compliance_npv_cny']:,.0f} CNY - value of holdings left at the end "
                   f"{s['terminal_value_cny']:,.0f} CNY (NPV)")
        out.append(f"    terminal valuation: {s['terminal_valuation']}")
    return out


def assumption_lines(assumptions: pd.DataFrame) -> list[str]:
    """The rule-pack values a plan relies on that a carbon team should verify: those applied beyond
    the years their source was published for, then those whose source is uncertain (R, I, EDF)."""
    if assumptions.empty:
        return []
    unc = assumptions[assumptions["uncertain"]]
    if unc.empty:
        return []
    beyond = unc["applied_beyond_published"].fillna("").astype(str) if "applied_beyond_published" in unc else None
    out = [f"Assumptions to verify ({len(unc)} rule-pack values):"]
    if beyond is not None and (beyond != "").any():
        out.append(
            "  applied beyond the years their source was published for: "
            + "; ".join(f"{r.parameter} ({_published(r.published)}; applied to {b})"
                        for r, b in zip(unc.itertuples(), beyond, strict=True) if b)
        )
        unc = unc[beyond == ""]
    if len(unc):
        out.append("  uncertain source: " + ", ".join(f"{r.parameter}={_short(r.value)} [{r.confidence}]" for r in unc.itertuples()))
    return out


def _published(text: str) -> str:
    return "no published text" if text == "none" else f"published for {text}"


def why_lines(bindings: pd.DataFrame, skip: tuple[str, ...] = ()) -> list[str]:
    """Binding statements for people: measures at full potential are summarised once each; rules in
    ``skip`` are left out."""
    lines = [r.statement for r in bindings.itertuples() if r.rule != "measure_potential" and r.rule not in skip]
    pot = bindings[bindings["rule"] == "measure_potential"]
    for measure, g in pot.groupby("subject", sort=True):
        span = year_span(sorted(int(y) for y in g["year"]))
        lines.append(f"measure {measure} used to its full potential in {span}")
    return lines


def year_span(years: list[int]) -> str:
    """Sorted years in words: '2025-2032' when consecutive, else '2025, 2027'."""
    if len(years) > 1 and years == list(range(years[0], years[-1] + 1)):
        return f"{years[0]}-{years[-1]}"
    return ", ".join(map(str, years))


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 40 else s[:37] + "..."


def markdown_summary(plan, audit: dict[str, Any] | None = None) -> str:
    """summary.md of the plan folder (with the audit record when given)."""
    s = plan.summary
    lines = [
        f"# Compliance plan: {s['entity']} {s.get('entity_name') or ''}".rstrip(),
        "",
        f"- Years: {s['years'][0]}-{s['years'][1]}; sector {s['sector']}, class {s['unit_class']}",
        f"- Status: **{s['status']}** ({s['termination']})" + (f", MIP gap {s['mip_gap']:.2e}" if s.get("mip_gap") else ""),
        f"- NPV cost: **{s['npv_cost_cny']:,.0f} CNY**; nominal {s['nominal_cost_cny']:,.0f} CNY",
    ]
    if "compliance_npv_cny" in s:
        lines += [f"- Cost of compliance (NPV): **{s['compliance_npv_cny']:,.0f} CNY**; value of holdings left at the end (NPV): "
                  f"{s['terminal_value_cny']:,.0f} CNY; terminal valuation: {s['terminal_valuation']}"]
    if s["cost_per_t_obligation_cny"] is not None:
        lines.append(f"- Cost per tonne of obligation: {s['cost_per_t_obligation_cny']:,.2f} CNY/t (NPV / total obligation)")
    lines += [
        f"- Rule pack: {s['rule_pack']}; overrides: {json.dumps(s['rule_pack_overrides'], ensure_ascii=False) if s['rule_pack_overrides'] else 'none'}",
        f"- Compliance mode: {s['compliance_mode']}",
        f"- Shadow prices: {s.get('shadow_price_basis') or 'not available'}",
        "",
        *([f"## This cycle (vintage {int(plan.actions['cycle'].iloc[0])}): what to do and by when", "",
           md_table(actions_table(plan.actions)), ""] if not plan.actions.empty else []),
        "## Plan per year",
        "",
        md_table(annual_table(plan)),
        "",
    ]
    if not plan.builds.empty:
        lines += ["## Projects", ""] + [f"- {r.project}: build starts {r.build_year}" for r in plan.builds.itertuples()] + [""]
    lines += ["## Why this plan", ""]
    lines += [f"- {t}" for t in why_lines(plan.bindings)] if not plan.bindings.empty else ["- No rule or limit binds."]
    if plan.notes or plan.warnings:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in plan.notes] + [f"- Warning: {w}" for w in plan.warnings]
    if not plan.assumptions.empty:
        lines += ["", "## Rule-pack parameters used", "", "| parameter | value | unit | confidence | published for | applied beyond | overridden | source |", "|---|---|---|---|---|---|---|---|"]
        for r in plan.assumptions.itertuples():
            beyond = r.applied_beyond_published if isinstance(r.applied_beyond_published, str) else ""
            lines.append(f"| {r.parameter} | {_short(r.value)} | {r.unit} | {r.confidence}{' (verify)' if r.uncertain else ''} | {r.published} | {beyond} | {'yes' if r.overridden else 'no'} | {r.source} |")
    lines += markdown_audit(audit)
    return "\n".join(lines) + "\n"


def markdown_audit(audit: dict[str, Any] | None) -> list[str]:
    """The audit record as Markdown lines (none without a record)."""
    if not audit:
        return []
    lines = ["", "## Audit record", ""]
    for k in sorted(audit):
        v = audit[k]
        text = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str) if isinstance(v, dict | list) else str(v)
        lines.append(f"- {k}: {text}")
    return lines


def md_table(df: pd.DataFrame) -> str:
    """``df`` as a Markdown table."""
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def plan_json(plan, audit: dict[str, Any]) -> str:
    """plan.json: summary, notes, bindings and audit record (tables are in the CSV files)."""
    body = {
        "summary": plan.summary,
        "audit": audit,
        "bindings": plan.bindings.to_dict(orient="records"),
        "notes": plan.notes,
        "warnings": plan.warnings,
        "assumptions": plan.assumptions.to_dict(orient="records"),
    }
    return json.dumps(body, indent=2, ensure_ascii=False, default=json_default, sort_keys=True) + "\n"


def json_default(o: Any) -> Any:
    """``json.dumps``' fallback for NumPy scalars and other values it cannot write."""
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
        return None
    return str(o)
