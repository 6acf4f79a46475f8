"""Plausibility warnings: numbers that are valid but far from what a covered entity can have.

A case passes the schema with output typed in 万MWh (10,000 MWh) instead of MWh, or a price in
万元 per t: the plan is then silently wrong (with the intensity given, emissions shrink with the
output to a few hundred tonnes). These checks compare a case's numbers with what the rules and the
market data make plausible and name the field and the likely unit mistake. They never change the
plan; ``planner.prepare.entity.prepare`` adds them to its warnings.

- Baseline emissions below the coverage threshold (rule pack ``coverage.threshold_t``, 26,000 t a
  year): no covered entity emits that little.
- Emissions against the official formula's allocation (the intensity against its benchmark, heat
  included): outside ``INTENSITY_RATIO`` of it, per unit and year.
- Output against the unit's capacity (when given): more hours than a year has, or a few hours.
- Prices outside ``PRICE_FACTOR`` times the range observed in the market data (rule pack
  ``market.observed_price_range.*``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

INTENSITY_RATIO = 2.0
"""Emissions more than twice, or less than half, the formula allocation: coal units sit within about
±20% of their benchmark, gas units with frequent starts within about +30%, and an industrial line's
intensity reference is its sector's average, so a factor of two is no plant's real position."""
WAN = 1e4
"""万: a number typed in 万 units is 10,000 times too small (万MWh, 万t), in 元 per 万t 10,000 times too large."""
PRICE_FACTOR = 10.0
"""A price more than ten times the highest observed, or below a tenth of the lowest, is an order of
magnitude off: forecasts for 2030 reach 200-300 CNY/t (rules.md R8.3), three times the 2024 high."""
HOURS_PER_YEAR = 8784.0


def _years(ys: list[int]) -> str:
    if len(ys) > 2 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}-{ys[-1]}"
    return ", ".join(map(str, ys))


def _wan_hint(ratio: float) -> str:
    """The unit mistake a ratio of about 10,000 (or 1/10,000) points to, or ''."""
    if WAN / 10 <= ratio <= WAN * 10:
        return "; a factor of about 10,000 looks like output in 万 units (万MWh, 万t) or emissions in t where 万t were meant"
    if 1 / (WAN * 10) <= ratio <= 10 / WAN:
        return "; a factor of about 1/10,000 looks like emissions in 万t or output in units where 万 units were meant"
    return ""


def plausibility_warnings(case, pack, unit_rows: list[dict], formula_total: list[float], regime: list[str],
                          e_base: list[float], unit_allocation: Callable[[Any, Any, int], float | None] | None = None) -> list[str]:
    """Warnings on emissions, intensities and output (see the module docstring).

    ``unit_rows``: per unit, its activity rows by year; ``formula_total``/``regime``: the entity's
    formula allocation and allocation regime per year; ``unit_allocation(unit, row, year)``: a unit's
    formula allocation (needed only for entities with several units)."""
    out: list[str] = []
    years = case.years
    threshold = float(pack["coverage.threshold_t"])
    low = [y for y, e in zip(years, e_base, strict=True) if 0 < e < threshold]
    units = case.unit_list()
    many = bool(case.units)
    where = "units[{u}].activity" if many else "activity"
    if low:
        smallest = min(e for e in e_base if e > 0)
        out.append(
            f"baseline emissions of {_years(low)} are as low as {smallest:,.0f} t, below the {threshold:,.0f} t a year "
            "from which an entity is covered (rule pack coverage.threshold_t): check the units of "
            f"{where.format(u='*')}.output (MWh or t of product, not 万MWh or 万t: those are 10,000 times too small) "
            "and of emissions_t / intensity_t_per_unit"
        )
    for ui, u in enumerate(units):
        rows = unit_rows[ui]
        path = where.format(u=ui)
        far: dict[str, list[tuple[int, float]]] = {}
        for i, y in enumerate(years):
            r = rows[y]
            if regime[i] not in ("formula", "given") or (many and regime[i] == "given"):
                continue
            if many:
                a = unit_allocation(u, r, y) if unit_allocation else None
            else:
                a = formula_total[i]
            e = r.baseline_emissions_t
            if a is None or a <= 0 or e <= 0:
                continue
            ratio = e / a
            if ratio > INTENSITY_RATIO or ratio < 1 / INTENSITY_RATIO:
                field = "intensity_t_per_unit" if r.intensity_t_per_unit is not None else "emissions_t"
                far.setdefault(field, []).append((y, ratio))
        for field, hits in far.items():
            ys = [y for y, _ in hits]
            lo, hi = min(x for _, x in hits), max(x for _, x in hits)
            span = f"{lo:.3g}" if lo == hi else f"{lo:.3g}-{hi:.3g}"
            what = "the allocation the case gives" if regime[years.index(ys[0])] == "given" else "the official formula's allocation (benchmark x output, heat included)"
            out.append(
                f"{path} ({u.id}) {_years(ys)}: emissions are {span} times {what}; an intensity that far from its "
                f"benchmark is no plant's real position: check {path}.{field} and {path}.output (t CO2 per MWh or per t "
                f"of product; output in MWh or t)" + _wan_hint(hi if hi > 1 else lo)
            )
        cap = getattr(u, "capacity_mw", None)
        if cap and case.entity.sector == "power":
            cap *= u.unit_count
            over = [y for y in years if rows[y].output > cap * HOURS_PER_YEAR]
            tiny = [y for y in years if 0 < rows[y].output < cap * HOURS_PER_YEAR / 1000]
            if over:
                out.append(f"{path}.output ({u.id}) {_years(over)}: more than {cap:,.0f} MW x {HOURS_PER_YEAR:,.0f} h; "
                           "check the unit (MWh) and capacity_mw")
            if tiny:
                out.append(f"{path}.output ({u.id}) {_years(tiny)}: fewer than {HOURS_PER_YEAR / 1000:.1f} full-load hours "
                           f"of {cap:,.0f} MW; output in 万MWh is 10,000 times too small (give MWh)")
    return out


PRICE_FIELDS = (
    ("cea_buy_cny_per_t", "cea"),
    ("cea_sell_cny_per_t", "cea"),
    ("penalty_reference_cny_per_t", "cea"),
    ("ccer_cny_per_t", "ccer"),
    ("ccer_sell_cny_per_t", "ccer"),
)


def price_warnings(case, pack) -> list[str]:
    """Market prices an order of magnitude outside the range observed in the market data."""
    ranges = {
        "cea": pack["market.observed_price_range.cea_cny_per_t"],
        "ccer": pack["market.observed_price_range.ccer_cny_per_t"],
    }
    found: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    for i, r in enumerate(case.market):
        for field, kind in PRICE_FIELDS:
            v = getattr(r, field)
            if v is None or v <= 0:
                continue
            lo, hi = ranges[kind]
            if v > hi * PRICE_FACTOR:
                found.setdefault((field, "high"), []).append((i, r.year, v))
            elif v < lo / PRICE_FACTOR:
                found.setdefault((field, "low"), []).append((i, r.year, v))
    observed = {"cea": "2021-2026", "ccer": "2024-2026"}  # the data's years (the range's rule-pack entries)
    out = []
    for (field, side), hits in found.items():
        kind = dict(PRICE_FIELDS)[field]
        lo, hi = ranges[kind]
        span = observed[kind]
        i, y, v = hits[0]
        at = f"market[{i}] (year {y}).{field}" + (f" and {len(hits) - 1} more year(s)" if len(hits) > 1 else "")
        if side == "high":
            why = (f"{v:,.6g} CNY/t is more than {PRICE_FACTOR:g} times the highest {kind.upper()} price observed "
                   f"({hi:g}, {span}): a price per 万t (10,000 t) or in fen? give CNY per t")
        else:
            why = (f"{v:,.6g} CNY/t is below a tenth of the lowest {kind.upper()} price observed ({lo:g}, {span}): "
                   "a price in 万元 (10,000 CNY) per t? give CNY per t")
        out.append(f"{at}: {why}")
    return out
