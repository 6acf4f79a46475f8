"""The official free-allocation formulas of the national ETS, one pure function per regime.

No Pyomo and no files: plain numbers in, plain numbers out, so each formula can be checked against
arithmetic written out in a test. Parameters come from the rule pack (``planner/rulepacks``), whose
entries cite the plan each formula comes from (rules.md §3, §4, §9):

- ``supply_2019_2020``: net supply x benchmark x F_cool x F_heat x F_load + heat x heat benchmark, the
  load factor only for conventional coal condensing units (R3.1-R3.3).
- ``supply_2021_2022``: the same structure with the 2021/2022 benchmarks; the load factor extended to
  all conventional coal units (R3.6-R3.7).
- ``generation_2023_2024``: gross generation x benchmark x F_cool x F_load(load rate) + heat x heat
  benchmark; no heat-ratio factor; load-rate correction below a threshold (R3.9-R3.12). Used for 2025+
  with the 2024 benchmarks tightened g per year unless benchmarks are given (R3.16).
- industry: verified emissions in the grandfathered years (R4.2), then output x intensity reference,
  tightened g per year after the last reference given (R4.3-R4.4).
- absolute cap: reference x (1 - d)^(t - start), an auction share withheld (R9.1, M15).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

COAL_CLASSES = ("coal_gt300", "coal_le300", "coal_unconventional")
CONVENTIONAL_COAL = ("coal_gt300", "coal_le300")


@dataclass(frozen=True)
class UnitYear:
    """One power unit's activity in one vintage year, as the formulas need it."""

    unit_class: str
    cooling: str = "water"
    condensing: bool = True
    """Pure condensing unit (纯凝, no heat supply); matters for the 2019-2020 load factor."""
    generation_mwh: float = 0.0
    supply_mwh: float | None = None
    heat_gj: float = 0.0
    load_rate: float | None = None
    heat_supply_ratio: float = 0.0


@dataclass(frozen=True)
class UnitAllocation:
    """The terms of one unit's allocation for one year."""

    formula: str
    basis_mwh: float
    benchmark_electricity: float
    benchmark_heat: float
    f_cool: float
    f_heat: float
    f_load: float
    electricity_t: float
    heat_t: float

    @property
    def total_t(self) -> float:
        """The unit's allocation for the year: electricity plus heat."""
        return self.electricity_t + self.heat_t


def load_factor_2019(load: float, c: Mapping[str, float]) -> float:
    """2019-2020 load (output) factor correction, piecewise in the annual load factor ``load`` (0-1).

    With the published coefficients: 1 at >= 85%; 1 + 0.0014 (85 - 100F) from 80% to 85%;
    1.007 + 0.0016 (80 - 100F) from 75% to 80%; 1.015^(16 - 20F) below 75%. Continuous at the joints.
    """
    if load >= c["f1"]:
        return 1.0
    if load >= c["f2"]:
        return 1.0 + c["slope1"] * (100 * c["f1"] - 100 * load)
    if load >= c["f3"]:
        return c["base2"] + c["slope2"] * (100 * c["f2"] - 100 * load)
    return c["tail_base"] ** (c["tail_a"] - c["tail_b"] * load)


def load_rate_factor_2023(load: float, threshold: float, slope_per_point: float) -> float:
    """2023-2024 load-rate correction: 1 at or above ``threshold``, rising linearly below it.

    ``1 + slope x (100 threshold - 100 load)``; the function was not found (rules.md R3.11), so the
    threshold and slope are rule-pack parameters.
    """
    if load >= threshold:
        return 1.0
    return 1.0 + slope_per_point * (100 * threshold - 100 * load)


def cooling_factor(unit_class: str, cooling: str, air_factor: float) -> float:
    """Air-cooled coal units get ``air_factor``; gas units and water cooling 1."""
    return air_factor if (cooling == "air" and unit_class in COAL_CLASSES) else 1.0


def heat_ratio_factor(unit_class: str, ratio: float, coef: Mapping[str, float]) -> float:
    """2019-2022 heat-supply-ratio factor: 1 - 0.22 x ratio (coal), 1 - 0.6 x ratio (gas)."""
    return 1.0 - coef["gas" if unit_class == "gas" else "coal"] * ratio


def load_factor_applies(rule: str, u: UnitYear) -> bool:
    """Whether a load correction with scope ``rule`` applies to unit ``u``."""
    if rule == "conventional_coal_condensing":
        return u.unit_class in CONVENTIONAL_COAL and u.condensing
    if rule == "conventional_coal":
        return u.unit_class in CONVENTIONAL_COAL
    if rule == "coal":
        return u.unit_class in COAL_CLASSES
    if rule == "coal_and_gas":
        return True
    raise ValueError(f"unknown load-correction scope {rule!r}")


def power_supply(
    u: UnitYear,
    formula: str,
    b_e: float,
    b_h: float,
    *,
    air_factor: float,
    heat_coef: Mapping[str, float],
    load_coef: Mapping[str, float],
    load_scope: str,
) -> UnitAllocation:
    """2019-2020 and 2021-2022 formula: supply x b_e x F_cool x F_heat x F_load + heat x b_h."""
    if u.supply_mwh is None:
        raise ValueError("the supply-basis formula needs net supply (supply_mwh)")
    f_cool = cooling_factor(u.unit_class, u.cooling, air_factor)
    f_heat = heat_ratio_factor(u.unit_class, u.heat_supply_ratio, heat_coef)
    f_load = 1.0
    if u.load_rate is not None and load_factor_applies(load_scope, u):
        f_load = load_factor_2019(u.load_rate, load_coef)
    elec = u.supply_mwh * b_e * f_cool * f_heat * f_load
    return UnitAllocation(formula, u.supply_mwh, b_e, b_h, f_cool, f_heat, f_load, elec, u.heat_gj * b_h)


def power_generation(
    u: UnitYear,
    b_e: float,
    b_h: float,
    *,
    air_factor: float,
    load_threshold: float,
    load_slope: float,
    load_scope: str,
) -> UnitAllocation:
    """2023-2024 formula: generation x b_e x F_cool x F_load + heat x b_h (no heat-ratio factor)."""
    f_cool = cooling_factor(u.unit_class, u.cooling, air_factor)
    f_load = 1.0
    if u.load_rate is not None and load_factor_applies(load_scope, u):
        f_load = load_rate_factor_2023(u.load_rate, load_threshold, load_slope)
    elec = u.generation_mwh * b_e * f_cool * f_load
    return UnitAllocation(
        "generation_2023_2024", u.generation_mwh, b_e, b_h, f_cool, 1.0, f_load, elec, u.heat_gj * b_h
    )


def tightened(table: Mapping[int, float], year: int, g: float) -> tuple[float, str] | None:
    """Benchmark of ``year`` from a year-keyed table, tightened ``g`` a year after its last entry.

    Returns (value, how) or None when the table has nothing at or before ``year``.
    """
    if year in table:
        return table[year], "published"
    earlier = [y for y in table if y < year]
    if not earlier:
        return None
    last = max(earlier)
    return table[last] * (1 - g) ** (year - last), f"{last} x (1 - {g:g})^{year - last}"


def industry_intensity(output: float, reference: float, correction: float = 1.0) -> float:
    """Industrial output-based allocation: output x intensity reference x correction."""
    return output * reference * correction


def absolute_cap(reference_t: float, decline: float, years_since_start: int) -> float:
    """Cap of a capped year: reference x (1 - d)^(t - start)."""
    return reference_t * (1 - decline) ** years_since_start


def preallocation(basis_t: float, share: float) -> float:
    """Pre-allocation: ``share`` (70%) of the basis."""
    return share * basis_t


@dataclass(frozen=True)
class Preallocation:
    """How one vintage is pre-allocated: ``share`` x the basis (rules.md R3.4, R3.15, R4.3)."""

    share: float
    basis: str
    """activity (a basis year's output x the vintage's benchmark and factors) | prior_year_emissions |
    prior_year_allocation | none (no pre-allocation)."""
    basis_t: float | None = None
    """The basis in t where it is known before solving (activity), else None (the year before, from the plan)."""
    source: str = ""


def allocation_schedule(
    *,
    entity: str,
    years: list[int],
    allocation_t: list[float],
    emissions_t: list[float],
    surrender_t: list[float],
    prior_emissions_t: float | None,
    pre_month: int,
    trueup_month: int,
    deadline_month: int,
    pre: Sequence[Preallocation] | None = None,
    share: float = 0.7,
    basis: str = "prior_year_emissions",
    deadlines: dict[int, str] | None = None,
    calendar: dict[int, dict[str, str]] | None = None,
) -> list[dict]:
    """Per vintage: the pre-allocation (``pre[i]``: a share of its plan's basis, or ``share`` of
    ``basis`` for every vintage) with its month, the true-up to the final allocation after
    verification (negative when the pre-allocation exceeded it), and the surrender due at the deadline
    (rules.md R3.4, R3.15, R6.1-R6.2). A basis known before solving (the activity of a basis year x
    benchmark x factors) comes in ``pre``; a basis of the year before is the plan's emissions or
    allocation of that year, for the first vintage ``prior_emissions_t`` if given, else its own (the
    source says so). Months are in the year after the vintage, unless ``deadlines`` (vintage ->
    "YYYY-MM") or ``calendar`` (vintage -> {pre_allocation, true_up}) give the historical dates (the
    2019-2022 vintages were allocated late, 2021 and 2022 were due together at the end of 2023)."""
    rows = []
    for i, y in enumerate(years):
        p = pre[i] if pre is not None else Preallocation(share, basis)
        if p.basis == "none":
            prior, source = 0.0, p.source or "none"
        elif p.basis_t is not None:
            prior, source = p.basis_t, p.source
        elif i > 0:
            prior = emissions_t[i - 1] if p.basis == "prior_year_emissions" else allocation_t[i - 1]
            source = f"{y - 1} plan"
        elif prior_emissions_t is not None and p.basis == "prior_year_emissions":
            prior, source = prior_emissions_t, f"{y - 1} given"
        else:
            prior, source = (emissions_t[0] if p.basis == "prior_year_emissions" else allocation_t[0]), f"{y} (no prior year given)"
        pre_t = preallocation(prior, p.share)
        when = (calendar or {}).get(y, {})
        rows.append(
            {
                "entity": entity,
                "vintage": y,
                "pre_allocation_t": pre_t,
                "pre_allocation_month": when.get("pre_allocation", f"{y + 1}-{pre_month:02d}"),
                "pre_allocation_share": p.share,
                "basis": p.basis,
                "basis_source": source,
                "basis_t": prior,
                "true_up_t": allocation_t[i] - pre_t,
                "true_up_month": when.get("true_up", f"{y + 1}-{trueup_month:02d}"),
                "final_allocation_t": allocation_t[i],
                "surrender_t": surrender_t[i],
                "deadline_month": (deadlines or {}).get(y, f"{y + 1}-{deadline_month:02d}"),
            }
        )
    return rows
