"""Numbers for people: one formatter per quantity kind, used by the terminal text, the HTML report
and the workbook's number formats, so that a value reads the same everywhere.

A quantity's kind follows its column name (``year``, ``*_t``, ``*_cny``, ``*_cny_per_t``, shares
and factors); a rule-pack value's kind follows its unit. Each kind has the precision the quantity
needs: tonnes and yuan to the unit (a plan's tonnes are not known more closely), prices to the fen,
other amounts (MWh, GJ) to the unit, shares and factors to six significant digits (0.005, 0.934579: never rounded to 0 or 1), years
without separators, rule-pack values exactly as the pack gives them.
"""

from __future__ import annotations

import math
from typing import Any

KINDS = ("year", "t", "cny", "price", "share", "amount", "exact")

SHARE_COLUMNS = frozenset({
    "discount_factor", "relief_share", "ccer_cap_share", "borrow_share", "pre_allocation_share", "share",
    "output_loss_t_per_t", "mip_gap", "gap",
})
"""Columns holding a share, a ratio or a factor (no unit of tonnes or yuan)."""

EXCEL_FORMATS = {
    "year": "0",
    "t": "#,##0",
    "amount": "#,##0",
    "cny": "#,##0",
    "price": "#,##0.00",
    "share": "0.0#####",
    "exact": "General",
}
"""The workbook's number format of each kind: what a cell shows, the cell holds the full value."""


def kind_of(col: str) -> str:
    """The quantity kind of a column (by the project's column naming)."""
    if col in SHARE_COLUMNS or col.endswith("_share") or col.endswith("_t_per_t") or col.endswith("_factor"):
        return "share"
    if col in ("year", "vintage", "build_year") or col.endswith("_year") or col.endswith("_vintage"):
        return "year"
    if col.endswith("_per_t") or col.endswith("_per_t_obligation_cny"):
        return "price"
    if col.endswith("_t"):
        return "t"
    if col in ("output", "heat_gj") or col.endswith("_mwh") or col.endswith("_gj"):
        return "amount"
    if col.endswith("_cny"):
        return "cny"
    return "exact"


def kind_of_unit(unit: str) -> str:
    """The kind of a rule-pack value from its unit text (assumptions.csv ``unit``)."""
    u = (unit or "").strip().lower()
    if "year" in u and "per year" not in u:
        return "year"
    if u == "t":
        return "t"
    return "exact"


def scale(col: str, units: str) -> float:
    """Divide a column's values by this for display (万 units: tonnes and yuan / 10,000)."""
    if units == "wan" and kind_of(col) in ("t", "cny"):
        return 1e4
    return 1.0


def fmt(v: Any, kind: str = "exact", units: str = "t") -> str:
    """One value of a kind for people; ``units='wan'`` shows tonnes and yuan in 万 with two decimals."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if hasattr(v, "item") and not isinstance(v, str):
        v = v.item()
    if not isinstance(v, int | float):
        return str(v)
    if math.isinf(v):
        return "none"
    if kind == "year":
        return str(int(v)) if float(v).is_integer() else format(v, ".15g")
    if kind in ("t", "cny"):
        if units == "wan":
            return _zero(f"{v / 1e4:,.2f}")
        return _zero(f"{v:,.0f}")
    if kind == "amount":
        return _zero(f"{v:,.0f}")
    if kind == "price":
        return _zero(f"{v:,.2f}")
    if kind == "share":
        return _zero(format(v, ".6g"))
    if isinstance(v, int):
        return str(v)
    return _zero(format(v, ".15g"))


def fmt_col(v: Any, col: str, units: str = "t") -> str:
    """A value of column ``col``."""
    return fmt(v, kind_of(col), units)


def _zero(s: str) -> str:
    """A solver's -1e-10 reads as 0, not -0."""
    return s[1:] if s.startswith("-") and not any(ch in "123456789" for ch in s) else s

