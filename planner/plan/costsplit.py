"""The cost of compliance and the value of what is left at the horizon end, apart.

A plan's NPV cost includes, in its last year, the value of the allowances and CCERs still held after
the last surrender (``cost_terminal``, negative: a residual value; net of any pre-draw still owed).
That value is not a cost of complying: a plan that ends long looks cheap by it, and a higher price
raises it. So a plan states both: NPV cost = cost of compliance - terminal value, with the terminal
valuation named (``finance.terminal_value``: ``sell_price``, the default, values CEA and CCER held
at the end at the last year's sell prices; ``zero``; ``given`` prices).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

TERMINAL = "terminal"
"""The cost component holding the value of end-of-horizon holdings (``models.entity.COST_COMPONENTS``)."""


def terminal_valuation(finance, cea_cny_per_t: float | None = None, ccer_cny_per_t: float | None = None) -> str:
    """The terminal valuation in words, with the prices it applies where given."""
    how = finance.terminal_value
    prices = ""
    if cea_cny_per_t is not None:
        prices = f": CEA {cea_cny_per_t:,.2f} CNY/t" + (f", CCER {ccer_cny_per_t:,.2f} CNY/t" if ccer_cny_per_t is not None else "")
    if how == "sell_price":
        return f"sell_price (the default): holdings after the last surrender valued at the last year's sell prices{prices}"
    if how == "zero":
        return "zero: holdings after the last surrender valued at nothing"
    return f"given: holdings after the last surrender valued at finance.terminal_cea_cny_per_t / terminal_ccer_cny_per_t{prices}"


def cost_split(npv: float, terminal_npv: float, valuation: str) -> dict[str, Any]:
    """Summary entries: NPV cost = ``compliance_npv_cny`` - ``terminal_value_cny`` (both discounted)."""
    return {
        "compliance_npv_cny": npv - terminal_npv,
        "terminal_value_cny": 0.0 - terminal_npv + 0.0,  # no -0.0
        "terminal_valuation": valuation,
    }


def cost_split_table(costs: pd.DataFrame) -> pd.DataFrame:
    """Costs by component (nominal and discounted, summed over years and entities), then the cost
    of compliance (every component but the terminal value), the terminal value (as a cost, so
    negative when holdings are left) and the total. Rows: ``component`` keys, the two subtotals
    named ``compliance`` and ``total``."""
    g = costs.groupby("component", sort=False)[["nominal_cny", "discounted_cny"]].sum()
    comp = g.drop(index=[TERMINAL], errors="ignore")
    rows = [{"component": c, "nominal_cny": float(r.nominal_cny), "discounted_cny": float(r.discounted_cny)}
            for c, r in comp.iterrows()]
    compliance = {"component": "compliance", "nominal_cny": float(comp["nominal_cny"].sum()),
                  "discounted_cny": float(comp["discounted_cny"].sum())}
    term = g.loc[TERMINAL] if TERMINAL in g.index else pd.Series({"nominal_cny": 0.0, "discounted_cny": 0.0})
    terminal = {"component": TERMINAL, "nominal_cny": float(term["nominal_cny"]), "discounted_cny": float(term["discounted_cny"])}
    total = {"component": "total", "nominal_cny": compliance["nominal_cny"] + terminal["nominal_cny"],
             "discounted_cny": compliance["discounted_cny"] + terminal["discounted_cny"]}
    return pd.DataFrame([*rows, compliance, terminal, total], columns=["component", "nominal_cny", "discounted_cny"])
