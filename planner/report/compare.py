"""Two plans side by side (`planner compare PLAN_A PLAN_B`): cost by component, decisions by year,
the rules that bind, and what changed and by how much.

Reads two plan folders as `planner run` writes them (CSV tables and plan.json; entity or group
plans: a group's entity rows are summed per year). Frames and text only; never imports Pyomo.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from planner.errors import PlannerError
from planner.plan.costsplit import cost_split_table
from planner.report import numbers

SUMMARY_KEYS = ("npv_cost_cny", "compliance_npv_cny", "terminal_value_cny", "nominal_cost_cny",
                "cost_per_t_obligation_cny", "total_obligation_t", "total_shortfall_t", "value_of_pooling_cny")
DECISIONS = ("abatement_t", "buy_t", "sell_t", "ccer_buy_t", "ccer_surrendered_t", "carry_t", "shortfall_t",
             "total_cost_cny")
"""Per-year columns compared (summed over a group's entities)."""
NAMES = {
    "npv_cost_cny": "NPV cost", "compliance_npv_cny": "cost of compliance (NPV)",
    "terminal_value_cny": "value of holdings left at the end (NPV)", "nominal_cost_cny": "nominal cost",
    "cost_per_t_obligation_cny": "cost per t of obligation", "total_obligation_t": "total obligation",
    "total_shortfall_t": "total shortfall", "value_of_pooling_cny": "value of pooling",
    "abatement_t": "abated", "buy_t": "CEA bought", "sell_t": "CEA sold", "ccer_buy_t": "CCER bought",
    "ccer_surrendered_t": "CCER surrendered", "carry_t": "carried over", "shortfall_t": "shortfall",
    "total_cost_cny": "cost (nominal)", "compliance": "cost of compliance", "terminal": "value left at the end (as a cost)",
    "total": "NPV cost",
}
MIN_T, MIN_CNY = 0.5, 0.5
"""Changes below these are no change (solver noise)."""


class PlanFolderError(PlannerError):
    """A folder given to `planner compare` is not a plan folder."""

    exit_code = 1


@dataclass
class PlanFiles:
    """What a plan folder holds that a comparison uses."""

    path: Path
    summary: dict[str, Any]
    audit: dict[str, Any]
    annual: pd.DataFrame
    costs: pd.DataFrame
    bindings: pd.DataFrame
    builds: pd.DataFrame

    @property
    def name(self) -> str:
        """The folder's name."""
        return self.path.name


def read_plan_folder(path: str | Path) -> PlanFiles:
    """A plan folder's summary and tables; a clear error naming the folder and the missing file."""
    p = Path(path)
    if not p.is_dir():
        raise PlanFolderError(f"{p}: not a folder (give two plan folders written by `planner run`)")
    missing = [f for f in ("plan.json", "annual.csv", "costs.csv") if not (p / f).is_file()]
    if missing:
        raise PlanFolderError(f"{p}: not a plan folder: {', '.join(missing)} missing (give folders written by `planner run`)")
    try:
        body = json.loads((p / "plan.json").read_text(encoding="utf-8"))
        annual = pd.read_csv(p / "annual.csv")
        costs = pd.read_csv(p / "costs.csv")
        frames = []
        for f in ("bindings.csv", "group_bindings.csv"):
            if (p / f).is_file() and (p / f).stat().st_size:
                b = pd.read_csv(p / f, keep_default_na=False)
                if "entity" not in b.columns:
                    b.insert(0, "entity", "(group)")
                frames.append(b)
        bindings = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["entity", "year", "rule", "subject", "statement"])
        builds = pd.read_csv(p / "builds.csv") if (p / "builds.csv").is_file() else pd.DataFrame(columns=["entity", "project", "build_year"])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise PlanFolderError(f"{p}: cannot read the plan: {exc}") from None
    return PlanFiles(p, body.get("summary", {}), body.get("audit", {}), annual, costs, bindings, builds)


def _change(a: float, b: float) -> tuple[float, float | None]:
    d = b - a
    return d, (d / abs(a) if a and not math.isnan(a) else None)


def summary_frame(a: PlanFiles, b: PlanFiles) -> pd.DataFrame:
    """The summary items of plans ``a`` and ``b`` side by side, with the change and the change as a
    share of ``a``; items neither plan has are left out."""
    rows = []
    for k in SUMMARY_KEYS:
        va, vb = a.summary.get(k), b.summary.get(k)
        if va is None and vb is None:
            continue
        va = math.nan if va is None else float(va)
        vb = math.nan if vb is None else float(vb)
        d, rel = _change(va, vb)
        rows.append({"item": k, "a": va, "b": vb, "change": d, "change_share": rel})
    return pd.DataFrame(rows, columns=["item", "a", "b", "change", "change_share"])


def cost_frame(a: PlanFiles, b: PlanFiles) -> pd.DataFrame:
    """Cost by component (discounted and nominal), the cost of compliance, the value left at the
    end and the NPV total, of both plans with the change."""
    ta, tb = cost_split_table(a.costs).set_index("component"), cost_split_table(b.costs).set_index("component")
    order = list(dict.fromkeys([*ta.index, *tb.index]))
    ta, tb = ta.reindex(order).fillna(0.0), tb.reindex(order).fillna(0.0)
    out = pd.DataFrame({
        "component": order,
        "a_discounted_cny": ta["discounted_cny"].to_numpy(), "b_discounted_cny": tb["discounted_cny"].to_numpy(),
        "change_discounted_cny": (tb["discounted_cny"] - ta["discounted_cny"]).to_numpy(),
        "a_nominal_cny": ta["nominal_cny"].to_numpy(), "b_nominal_cny": tb["nominal_cny"].to_numpy(),
        "change_nominal_cny": (tb["nominal_cny"] - ta["nominal_cny"]).to_numpy(),
    })
    return out


def _per_year(p: PlanFiles) -> pd.DataFrame:
    a = p.annual.copy()
    a["abatement_t"] = a["abatement_measures_t"] + a["abatement_projects_t"]
    if "buy_t" not in a and "market_buy_t" in a:
        a["buy_t"], a["sell_t"] = a["market_buy_t"], a["market_sell_t"]
    cols = [c for c in DECISIONS if c in a.columns]
    return a.groupby("year")[cols].sum()


def decisions_frame(a: PlanFiles, b: PlanFiles) -> pd.DataFrame:
    """Long: (year, decision, a, b, change) for every year of either plan."""
    ya, yb = _per_year(a), _per_year(b)
    years = sorted(set(ya.index) | set(yb.index))
    rows = []
    for y in years:
        for c in DECISIONS:
            va = float(ya.at[y, c]) if y in ya.index and c in ya.columns else math.nan
            vb = float(yb.at[y, c]) if y in yb.index and c in yb.columns else math.nan
            rows.append({"year": int(y), "decision": c, "a": va, "b": vb, "change": vb - va})
    return pd.DataFrame(rows, columns=["year", "decision", "a", "b", "change"])


def _binding_keys(p: PlanFiles) -> dict[tuple[str, str, int], str]:
    b = p.bindings
    out = {}
    for r in b.itertuples(index=False):
        if r.rule in ("marginal_cost", "measure_value", "project_value"):
            continue  # explanations of value, not rules that bind
        try:
            year = int(r.year)
        except (TypeError, ValueError):
            year = -1
        out[(str(r.entity), str(r.rule), year, str(r.subject))] = str(r.statement)
    return out


def bindings_by_rule(bf: pd.DataFrame) -> pd.DataFrame:
    """The binding rules collapsed over years: (entity, rule, subject, binds) with the years."""
    from planner.report.text import year_span

    rows = []
    keys = ["entity", "rule", "subject", "binds"]
    for k, g in bf.groupby(keys, sort=False):
        years = sorted(int(y) for y in g["year"].dropna())
        rows.append({**dict(zip(keys, k, strict=True)), "years": year_span(years) if years else ""})
    out = pd.DataFrame(rows, columns=[*keys, "years"])
    if out["entity"].nunique() <= 1:
        out = out.drop(columns=["entity"])
    return out


def bindings_frame(a: PlanFiles, b: PlanFiles) -> pd.DataFrame:
    """Every binding rule of either plan: in A, in B, or both, with each plan's statement."""
    ka, kb = _binding_keys(a), _binding_keys(b)
    rows = []
    for k in sorted(set(ka) | set(kb), key=lambda k: (k[2], k[1], k[0], k[3])):
        where = "both" if k in ka and k in kb else ("A only" if k in ka else "B only")
        rows.append({"year": k[2] if k[2] >= 0 else None, "entity": k[0], "rule": k[1], "subject": k[3], "binds": where,
                     "a": ka.get(k, ""), "b": kb.get(k, "")})
    return pd.DataFrame(rows, columns=["year", "entity", "rule", "subject", "binds", "a", "b"])


def _builds(p: PlanFiles) -> dict[tuple[str, str], int]:
    return {(str(r.entity), str(r.project)): int(r.build_year) for r in p.builds.itertuples(index=False)}


def changes(a: PlanFiles, b: PlanFiles, *, top: int = 12) -> list[str]:
    """What changed from A to B and by how much, in words: headline costs first, then the largest
    changes of decisions by year, projects, and the rules that bind in one plan only."""
    out = []
    for r in summary_frame(a, b).itertuples():
        tol = MIN_T if r.item.endswith("_t") else MIN_CNY if r.item.endswith("_cny") else 0.005
        if not math.isnan(r.change) and abs(r.change) > tol:
            share = f" ({r.change_share:+.1%})" if r.change_share is not None and not math.isnan(r.change_share) else ""
            out.append(f"{NAMES[r.item]}: {_num(r.a, r.item)} -> {_num(r.b, r.item)} ({_signed(r.change, r.item)}{share})")
    for r in cost_frame(a, b).itertuples():
        if abs(r.change_discounted_cny) > MIN_CNY and r.component not in ("total", "compliance"):  # in the headline
            out.append(f"cost component {NAMES.get(r.component, r.component)} (NPV): {_signed(r.change_discounted_cny, 'x_cny')} CNY")
    d = decisions_frame(a, b)
    d = d[(d["decision"] != "total_cost_cny") & (d["change"].abs() > MIN_T)]
    d = d.reindex(d["change"].abs().sort_values(ascending=False, kind="stable").index).head(top)
    for r in d.itertuples():
        out.append(f"{NAMES[r.decision]} in {r.year}: {_num(r.a, 'x_t')} -> {_num(r.b, 'x_t')} t ({_signed(r.change, 'x_t')} t)")
    ba, bb = _builds(a), _builds(b)
    for k in sorted(set(ba) | set(bb)):
        if ba.get(k) != bb.get(k):
            was = f"starts {ba[k]}" if k in ba else "not built"
            now = f"starts {bb[k]}" if k in bb else "not built"
            out.append(f"project {k[1]}" + (f" ({k[0]})" if a.annual["entity"].nunique() > 1 else "") + f": {was} -> {now}")
    bf = bindings_frame(a, b)
    for r in bf[bf["binds"] != "both"].itertuples():
        out.append(f"{'binds in A only' if r.binds == 'A only' else 'binds in B only'}: {r.a or r.b}")
    return out


def input_differences(a: PlanFiles, b: PlanFiles) -> list[str]:
    """How the two runs differ in what went in (input file, rule pack and its overrides, mode, valuation)."""
    out = []
    for k in ("input_file", "input_sha256", "rule_pack", "rule_pack_overrides"):
        va, vb = a.audit.get(k), b.audit.get(k)
        if va != vb:
            out.append(f"{k}: {_short(va)} -> {_short(vb)}")
    for k in ("compliance_mode", "terminal_valuation", "years"):
        va, vb = a.summary.get(k), b.summary.get(k)
        if va != vb:
            out.append(f"{k}: {_short(va)} -> {_short(vb)}")
    return out


def _short(v: Any) -> str:
    s = json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, dict | list) else str(v)
    return s if len(s) <= 160 else s[:157] + "..."


def _num(v: float, col: str) -> str:
    return numbers.fmt_col(v, col)


def _signed(v: float, col: str) -> str:
    s = numbers.fmt_col(v, col)
    return s if s.startswith("-") else "+" + s


# ------------------------------------------------------------------------------ text and HTML


def _text_table(df: pd.DataFrame) -> str:
    from planner.report.text import render_text_table

    return render_text_table(df, left=tuple(c for c in df.columns if df[c].map(lambda x: not _numeric_text(x)).any()))


def _numeric_text(s: str) -> bool:
    return bool(s) and s.replace(",", "").replace(".", "").replace("-", "").replace("+", "").replace("%", "").isdigit()


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """Display strings: each value by its quantity kind."""
    out = {}
    for c in df.columns:
        if c in ("a", "b", "change"):
            keys = df["item"] if "item" in df else df["decision"] if "decision" in df else None
            out[c] = [numbers.fmt_col(v, str(k)) if c != "change" else _signed(v, str(k)) if not math.isnan(v) else "-"
                      for v, k in zip(df[c], keys, strict=True)]
        elif c == "change_share":
            out[c] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.1%}" for v in df[c]]
        elif c in ("item", "decision", "component"):
            out[c] = [NAMES.get(str(v), str(v)) for v in df[c]]
        else:
            out[c] = [numbers.fmt_col(v, c) if not isinstance(v, str) else v for v in df[c]]
    return pd.DataFrame(out)


def decisions_by_year(d: pd.DataFrame) -> pd.DataFrame:
    """Decisions side by side as display strings: for each decision taken in either plan, rows A,
    B and change; one column per year."""
    years = sorted(d["year"].unique())
    rows = []
    for dec in DECISIONS:
        g = d[d["decision"] == dec].set_index("year").reindex(years)
        if (g["a"].abs().sum() + g["b"].abs().sum()) == 0:
            continue
        unit = "CNY" if dec.endswith("_cny") else "t"
        name = f"{NAMES[dec]} {unit}"
        rows.append({"decision": name, "plan": "A", **{str(y): numbers.fmt_col(v, dec) for y, v in zip(years, g["a"], strict=True)}})
        rows.append({"decision": "", "plan": "B", **{str(y): numbers.fmt_col(v, dec) for y, v in zip(years, g["b"], strict=True)}})
        rows.append({"decision": "", "plan": "change", **{str(y): _signed(v, dec) if abs(v) > MIN_T else "0"
                                                          for y, v in zip(years, g["change"], strict=True)}})
    return pd.DataFrame(rows, columns=["decision", "plan", *[str(y) for y in years]])


def compare_text(a: PlanFiles, b: PlanFiles) -> str:
    """What `planner compare` prints."""
    out = [f"Plans compared: A = {a.path}", f"                B = {b.path}", ""]
    diff = input_differences(a, b)
    if diff:
        out += ["Inputs that differ:"] + [f"  {x}" for x in diff] + [""]
    out += ["Headline (change = B - A):", _indent(_text_table(_display(summary_frame(a, b)).rename(
        columns={"item": "", "a": "A", "b": "B", "change_share": "change %"}))), ""]
    cf = cost_frame(a, b)
    out += ["Cost by component (NPV; nominal in costs.csv):", _indent(_text_table(_display(
        cf[["component", "a_discounted_cny", "b_discounted_cny", "change_discounted_cny"]]).rename(
        columns={"component": "", "a_discounted_cny": "A CNY", "b_discounted_cny": "B CNY", "change_discounted_cny": "change CNY"}))), ""]
    d = decisions_frame(a, b)
    out += ["Decisions by year:", _indent(_text_table(decisions_by_year(d))), ""]
    bf = bindings_frame(a, b)
    if not bf.empty:
        out += ["Rules that bind:", _indent(_text_table(bindings_by_rule(bf))), ""]
    ch = changes(a, b)
    out += ["What changed (B against A):"] + ([f"  - {c}" for c in ch] if ch else ["  - nothing: the plans are the same"])
    return "\n".join(out) + "\n"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def compare_html(a: PlanFiles, b: PlanFiles) -> str:
    """One self-contained HTML page with the comparison (no script, no network)."""
    from planner.report.html import page_head

    def table(df: pd.DataFrame, tid: str) -> str:
        head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
        body = "".join("<tr>" + "".join(
            f'<td class="n">{escape(v)}</td>' if _numeric_text(v) else f"<td>{escape(v)}</td>" for v in map(str, r)) + "</tr>"
            for r in df.itertuples(index=False))
        return f'<table id="{tid}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    parts = page_head(f"Plans compared: {a.name} / {b.name}", "en")
    parts.append(f'<p class="muted">A = {escape(str(a.path))}<br>B = {escape(str(b.path))}</p>')
    diff = input_differences(a, b)
    if diff:
        parts += ["<h2>Inputs that differ</h2><ul>" + "".join(f"<li>{escape(x)}</li>" for x in diff) + "</ul>"]
    ch = changes(a, b)
    parts += ['<div class="actions"><h2>What changed (B against A)</h2><ul id="changes">'
              + "".join(f"<li>{escape(c)}</li>" for c in (ch or ["nothing: the plans are the same"])) + "</ul></div>"]
    parts += ["<h2>Headline</h2>", table(_display(summary_frame(a, b)).rename(columns={"a": "A", "b": "B", "change_share": "change %"}), "summary")]
    cf = cost_frame(a, b)
    parts += ["<h2>Cost by component</h2>", table(_display(cf).rename(columns={
        "a_discounted_cny": "A NPV CNY", "b_discounted_cny": "B NPV CNY", "change_discounted_cny": "change NPV CNY",
        "a_nominal_cny": "A nominal CNY", "b_nominal_cny": "B nominal CNY", "change_nominal_cny": "change nominal CNY"}), "costs")]
    parts += ["<h2>Decisions by year</h2>", table(decisions_by_year(decisions_frame(a, b)), "decisions")]
    bf = bindings_frame(a, b)
    if not bf.empty:
        parts += ["<h2>Rules that bind</h2>", table(bindings_by_rule(bf), "bindings"),
                  "<h3>Statements</h3>", table(bf.assign(year=["" if pd.isna(y) else str(int(y)) for y in bf["year"]]), "binding-statements")]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
