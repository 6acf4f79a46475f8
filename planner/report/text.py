"""Plan -> text: terminal table, Markdown summary, JSON. Frames only; never imports Pyomo."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

TERMINAL_COLUMNS = (
    ("year", "year", "{:d}"),
    ("emissions_t", "emissions t", "{:,.0f}"),
    ("allocation_t", "allocation t", "{:,.0f}"),
    ("abatement", "abated t", "{:,.0f}"),
    ("buy_t", "buy t", "{:,.0f}"),
    ("sell_t", "sell t", "{:,.0f}"),
    ("ccer_surrendered_t", "CCER t", "{:,.0f}"),
    ("carry_t", "carry t", "{:,.0f}"),
    ("carry_limit_t", "limit t", "{:,.0f}"),
    ("shortfall_t", "shortfall t", "{:,.0f}"),
    ("total_cost_cny", "cost CNY", "{:,.0f}"),
    ("shadow_price_cny_per_t", "CNY/t", "{:,.2f}"),
)
OPTIONAL_COLUMNS = (  # shown after "allocation t" / "buy t" only when a rule makes them non-zero
    ("relief_t", "relief t", "{:,.0f}", "allocation_t"),
    ("borrow_t", "pre-drawn t", "{:,.0f}", "allocation_t"),
    ("auction_buy_t", "auction t", "{:,.0f}", "buy_t"),
)


def fmt_number(fmt: str, v: Any) -> str:
    """``v`` in the format ``fmt``; missing values (None, NaN) as "-"."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "none"
    if fmt == "{:d}":
        return str(int(v))
    if isinstance(v, float) and abs(v) < 1e-6:
        v = 0.0  # a solver's -1e-10 prints as 0, not -0
    return fmt.format(v)


def annual_table(plan) -> pd.DataFrame:
    """The per-year plan with the headline columns, as display strings."""
    a = plan.annual.copy()
    a["abatement"] = a["abatement_measures_t"] + a["abatement_projects_t"]
    cols = list(TERMINAL_COLUMNS)
    for col, label, fmt, after in OPTIONAL_COLUMNS:
        if col in a and (a[col].abs() > 0.5).any():
            at = next(i for i, c in enumerate(cols) if c[0] == after)
            cols.insert(at + 1, (col, label, fmt))
    return pd.DataFrame({label: [fmt_number(fmt, v) for v in a[col]] for col, label, fmt in cols})


def render_text_table(df: pd.DataFrame) -> str:
    widths = {c: max(len(c), *(len(s) for s in df[c])) for c in df.columns}
    head = "  ".join(c.rjust(widths[c]) for c in df.columns)
    lines = [head, "  ".join("-" * widths[c] for c in df.columns)]
    lines += ["  ".join(str(r[c]).rjust(widths[c]) for c in df.columns) for _, r in df.iterrows()]
    return "\n".join(lines)


def terminal_summary(plan) -> str:
    """What `planner run` prints."""
    s = plan.summary
    out = [
        f"Compliance plan: {s['entity']} {s.get('entity_name') or ''}".rstrip(),
        f"  years {s['years'][0]}-{s['years'][1]}, status {s['status']}, rule pack {s['rule_pack']}"
        + (f" (overrides: {', '.join(s['rule_pack_overrides'])})" if s["rule_pack_overrides"] else ""),
        f"  NPV cost {s['npv_cost_cny']:,.0f} CNY; nominal {s['nominal_cost_cny']:,.0f} CNY; "
        + (f"{s['cost_per_t_obligation_cny']:,.2f} CNY per t of obligation" if s["cost_per_t_obligation_cny"] is not None else ""),
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
        years = sorted(int(y) for y in g["year"])
        span = f"{years[0]}-{years[-1]}" if years == list(range(years[0], years[-1] + 1)) and len(years) > 1 else ", ".join(map(str, years))
        lines.append(f"measure {measure} used to its full potential in {span}")
    return lines


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
    if s["cost_per_t_obligation_cny"] is not None:
        lines.append(f"- Cost per tonne of obligation: {s['cost_per_t_obligation_cny']:,.2f} CNY/t (NPV / total obligation)")
    lines += [
        f"- Rule pack: {s['rule_pack']}; overrides: {json.dumps(s['rule_pack_overrides'], ensure_ascii=False) if s['rule_pack_overrides'] else 'none'}",
        f"- Compliance mode: {s['compliance_mode']}",
        f"- Shadow prices: {s.get('shadow_price_basis') or 'not available'}",
        "",
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
