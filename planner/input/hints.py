"""The likely fix of a mistake people make in input files, for error messages: a misspelt key or
column header (did you mean ...?), a unit written into a number ("80元": drop the unit), a
percentage where a share is expected (5 for 0.05, 63 for a load rate of 0.63)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

UNIT = re.compile(r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*(元/吨|元/t|元|CNY/t|CNY|RMB|yuan|吨|万吨|万t|万元|万|tCO2e?|tCO2|t|%)\s*",
                  re.IGNORECASE)


def did_you_mean(name: Any, options: Iterable[Any]) -> str:
    """"; did you mean 'x'?" for the closest of ``options`` to ``name`` (case and separators
    ignored in the comparison), or "" when none is close."""
    opts = [str(o) for o in options]
    if not isinstance(name, str) or not opts:
        return ""

    def norm(s: str) -> str:
        return re.sub(r"[\s_\-.]+", "_", s.strip().lower())

    by_norm = {norm(o): o for o in opts}
    if norm(name) in by_norm and by_norm[norm(name)] != name:
        return f"; did you mean {by_norm[norm(name)]!r}?"
    best = difflib.get_close_matches(norm(name), list(by_norm), n=1, cutoff=0.75)
    return f"; did you mean {by_norm[best[0]]!r}?" if best else ""


def unit_hint(text: Any) -> str:
    """"; drop the unit: write 80" for a number written with its unit ("80元", "5%": 0.05), else ""."""
    if not isinstance(text, str):
        return ""
    m = UNIT.fullmatch(text)
    if not m:
        return ""
    num, unit = m.group(1), m.group(2)
    if unit == "%":
        return f"; a share is a fraction: write {float(num) / 100:g} for {num}%"
    if unit.startswith("万"):
        return f"; numbers are in t and CNY, not 万 (10,000): write {float(num) * 1e4:.0f} without the unit"
    return f"; drop the unit: write {num}"


def share_hint(value: Any, upper: float) -> str:
    """"; a share is a fraction: write 0.05 for 5%" when ``value`` above a share's or rate's upper
    bound ``upper`` (at most 1.5) reads as a percentage, else ""."""
    if isinstance(value, bool) or not isinstance(value, int | float) or upper > 1.5:
        return ""
    if upper < value <= 100:
        return f"; a share or rate is a fraction, not a percentage: write {value / 100:g} for {value:g}%"
    return ""
