"""This cycle's actions: what a carbon team does for the plan's first compliance year, with the date
each falls due. Derived from the plan's tables (annual, builds, abatement, allocation schedule), so
the actions say exactly what the plan says.

Dates: the allowances of vintage Y arrive in two parts, the pre-allocation and the true-up, in the
months ``allocation_schedule.csv`` gives; the surrender of vintage Y (CEA and CCER) is due by the
end of its deadline month (31 December of Y+1 under the national rules), and every purchase or
sale for that surrender must be settled by then; what is held after it is carried into Y+1.
"""

from __future__ import annotations

import calendar

import pandas as pd

ACTION_COLUMNS = ("entity", "cycle", "action", "subject", "quantity_t", "price_cny_per_t", "amount_cny", "due", "what")
ACTIONS = (
    "pre_allocation", "true_up", "measure", "project_start", "cea_buy", "auction_buy", "cea_sell", "ccer_buy",
    "ccer_sell", "cea_surrender", "ccer_surrender", "shortfall", "carry", "ccer_hold",
)
"""The kinds of action, in the order a cycle's actions are listed."""

ACTION_LABELS: dict[str, tuple[str, str]] = {
    "pre_allocation": ("pre-allocation", "预分配配额"),
    "true_up": ("true-up", "核定补发配额"),
    "measure": ("measure", "减排措施"),
    "project_start": ("start project", "启动项目"),
    "cea_buy": ("buy CEA", "购买配额"),
    "auction_buy": ("buy CEA (auction)", "拍卖购买配额"),
    "cea_sell": ("sell CEA", "出售配额"),
    "ccer_buy": ("buy CCER", "购买CCER"),
    "ccer_sell": ("sell CCER", "出售CCER"),
    "cea_surrender": ("surrender CEA", "清缴配额"),
    "ccer_surrender": ("surrender CCER", "清缴CCER抵销"),
    "shortfall": ("shortfall", "履约缺口"),
    "carry": ("carry CEA", "结转配额"),
    "ccer_hold": ("keep CCER", "持有CCER"),
}
"""Each action's name in English and Chinese."""

MIN_T = 0.5
"""Quantities below half a tonne are no action (solver noise, rounding)."""


def month_end(month: str) -> str:
    """'2026-12' -> '2026-12-31' (the last day a deadline month allows)."""
    y, m = (int(x) for x in str(month).split("-")[:2])
    return f"{y:04d}-{m:02d}-{calendar.monthrange(y, m)[1]:02d}"


def cycle_actions(annual: pd.DataFrame, builds: pd.DataFrame, abatement: pd.DataFrame,
                  schedule: pd.DataFrame, cycle: int | None = None) -> pd.DataFrame:
    """The actions of compliance cycle ``cycle`` (default: each entity's first year), one row each."""
    rows: list[dict] = []
    if annual.empty:
        return pd.DataFrame(columns=list(ACTION_COLUMNS))
    for entity, a in annual.groupby("entity", sort=False):
        y = int(a["year"].min()) if cycle is None else int(cycle)
        r = a[a["year"] == y]
        if r.empty:
            continue
        r = r.iloc[0]
        sch = schedule[(schedule["entity"] == entity) & (schedule["vintage"] == y)] if not schedule.empty else schedule
        s = sch.iloc[0] if len(sch) else None
        deadline = month_end(s["deadline_month"]) if s is not None else f"{y + 1}-12-31"

        def add(action: str, qty: float, due: str, what: str, subject: str = "", price: float | None = None,
                amount: float | None = None, entity=entity, y=y) -> None:
            rows.append({"entity": entity, "cycle": y, "action": action, "subject": subject, "quantity_t": float(qty),
                         "price_cny_per_t": price, "amount_cny": amount, "due": due, "what": what})

        if s is not None and s["pre_allocation_t"] > MIN_T:
            add("pre_allocation", s["pre_allocation_t"], str(s["pre_allocation_month"]),
                f"receive the pre-allocation of vintage {y}: {s['pre_allocation_share']:.0%} x {s['basis_t']:,.0f} t "
                f"(basis: {s['basis_source']})")
        if s is not None and abs(s["true_up_t"]) > MIN_T:
            add("true_up", s["true_up_t"], str(s["true_up_month"]),
                f"receive the true-up of vintage {y} (final allocation {s['final_allocation_t']:,.0f} t)"
                if s["true_up_t"] > 0 else f"return {-s['true_up_t']:,.0f} t of vintage {y} at the true-up")
        ab = abatement[(abatement["entity"] == entity) & (abatement["year"] == y)] if not abatement.empty else abatement
        for m in ab.itertuples():
            if m.abate_t > MIN_T:
                add("measure", m.abate_t, f"{y}-12-31", f"abate with measure {m.measure} during {y}", subject=str(m.measure),
                    price=getattr(m, "cost_cny_per_t", None), amount=getattr(m, "cost_cny", None))
        bs = builds[(builds["entity"] == entity) & (builds["build_year"] == y)] if not builds.empty else builds
        for b in bs.itertuples():
            add("project_start", float("nan"), f"{y}-12-31", f"start building project {b.project} in {y}", subject=str(b.project))
        trades = (
            ("cea_buy", "buy_t", "cea_buy_cny_per_t", f"buy CEA on the market for the surrender of vintage {y}"),
            ("auction_buy", "auction_buy_t", "auction_cny_per_t", f"buy CEA at auction for the surrender of vintage {y}"),
            ("cea_sell", "sell_t", "cea_sell_cny_per_t", f"sell CEA not needed for vintage {y} or carried"),
            ("ccer_buy", "ccer_buy_t", "ccer_cny_per_t",
             f"buy CCER: {float(r.get('ccer_surrendered_t', 0.0)):,.0f} t surrendered for vintage {y} (within the cap), "
             f"{float(r.get('ccer_hold_t', 0.0)):,.0f} t held after it"),
            ("ccer_sell", "ccer_sell_t", "ccer_sell_cny_per_t", "sell CCER"),
        )
        for action, col, pcol, what in trades:
            q = float(r.get(col, 0.0) or 0.0)
            if q > MIN_T:
                p = float(r[pcol]) if pcol in r and pd.notna(r[pcol]) else None
                add(action, q, deadline, what, price=p, amount=q * p if p is not None else None)
        if float(r.get("surrender_t", 0.0)) > MIN_T:
            add("cea_surrender", r["surrender_t"], deadline, f"surrender CEA for vintage {y} (obligation {r['obligation_t']:,.0f} t)")
        if float(r.get("ccer_surrendered_t", 0.0)) > MIN_T:
            add("ccer_surrender", r["ccer_surrendered_t"], deadline, f"surrender CCER against the obligation of vintage {y}")
        if float(r.get("shortfall_t", 0.0)) > MIN_T:
            add("shortfall", r["shortfall_t"], deadline, f"leave {r['shortfall_t']:,.0f} t unsurrendered: fine and deduction from the next allocation")
        if float(r.get("carry_t", 0.0)) > MIN_T:
            lim = r.get("carry_limit_t")
            add("carry", r["carry_t"], deadline, f"keep CEA after the surrender, carried into {y + 1}"
                + (f" (limit {lim:,.0f} t)" if lim is not None and pd.notna(lim) and lim != float("inf") else ""))
        if float(r.get("ccer_hold_t", 0.0)) > MIN_T:
            add("ccer_hold", r["ccer_hold_t"], deadline, f"keep CCER after the surrender, for {y + 1} or later")
    out = pd.DataFrame(rows, columns=list(ACTION_COLUMNS))
    order = {k: i for i, k in enumerate(ACTIONS)}
    # by due date ('2025-12-31' sorts before '2026-04'), then in the order of ACTIONS
    return out.sort_values(["entity", "due", "action"], key=lambda c: c.map(order) if c.name == "action" else c,
                           kind="stable").reset_index(drop=True)
