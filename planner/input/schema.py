"""The case file schema: what a user writes, validated in full before anything is built.

Frozen pydantic models, unknown keys rejected, NaN and infinity rejected, every problem reported
at once with its path. Cross-field rules (years covered once, sell price not above buy price, ...)
are validators here; rule-pack lookups and derived quantities live in ``planner.prepare.entity``.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NonNeg = Annotated[float, Field(ge=0)]
Pos = Annotated[float, Field(gt=0)]
Year = Annotated[int, Field(ge=2019, le=2100)]

POWER_CLASSES = ("coal_gt300", "coal_le300", "coal_unconventional", "gas")
INDUSTRY_CLASSES = ("cement_clinker", "steel_bf_bof", "aluminium_electrolysis", "other_industry")
UnitClass = Literal[
    "coal_gt300",
    "coal_le300",
    "coal_unconventional",
    "gas",
    "cement_clinker",
    "steel_bf_bof",
    "aluminium_electrolysis",
    "other_industry",
]


class PlannerModel(BaseModel):
    """Base of every schema model: frozen, strict about keys and numbers, documented fields."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
        validate_default=True,
    )


class EntitySpec(PlannerModel):
    """The covered entity (重点排放单位)."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    """Short identifier used in file names and tables (letters, digits, _ . -)."""
    name: str = ""
    """Display name."""
    sector: Literal["power", "industry"]
    """Power sector (发电行业) or an industrial sector (steel, cement, aluminium)."""
    unit_class: UnitClass | None = None
    """Benchmark class of the entity's single unit (when the case has no ``units`` list)."""
    capacity_mw: Pos | None = None
    """Rated capacity of the single power unit in MW (of each, for identical units given as one): checks
    the coal class against the plans' 300 MW class boundary (coal_gt300 = at least 400 MW rated, rule
    pack allocation.power.class_boundary_mw.*)."""
    unit_count: Annotated[int, Field(ge=1, le=100)] = 1
    """How many identical units the entity's activity covers (2 for a 2 x 660 MW plant given as one):
    the plausibility check of output against capacity uses ``capacity_mw`` x this."""
    cooling: Literal["water", "air"] = "water"
    """Cooling type of a power unit; air cooling raises the benchmark allocation (rule pack)."""
    condensing: bool | None = None
    """Pure condensing unit (纯凝); default: true in years without heat supply."""

    @model_validator(mode="after")
    def _class_matches_sector(self) -> Self:
        allowed = POWER_CLASSES if self.sector == "power" else INDUSTRY_CLASSES
        if self.unit_class is not None and self.unit_class not in allowed:
            raise ValueError(
                f"unit_class {self.unit_class!r} does not belong to sector {self.sector!r}; "
                f"expected one of {', '.join(allowed)}"
            )
        return self


class HorizonSpec(PlannerModel):
    """Compliance years planned, inclusive."""

    first_year: Year
    last_year: Year

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.last_year < self.first_year:
            raise ValueError(f"last_year {self.last_year} is before first_year {self.first_year}")
        if self.last_year - self.first_year >= 30:
            raise ValueError("a horizon of more than 30 compliance years is not supported")
        return self

    @property
    def years(self) -> list[int]:
        """Every compliance year of the horizon, in order."""
        return list(range(self.first_year, self.last_year + 1))


class ActivityRow(PlannerModel):
    """Output and baseline (no-abatement) emissions of one compliance year."""

    year: Year
    output: NonNeg
    """Power: gross generation in MWh; industry: product output in t."""
    supply_mwh: NonNeg | None = None
    """Net supply (供电量) in MWh; needed by the 2019-2022 power formulas (supply basis)."""
    heat_gj: NonNeg = 0.0
    """Heat supplied in GJ (power)."""
    heat_supply_ratio: Annotated[float, Field(ge=0, le=1)] = 0.0
    """Heat-supply ratio (供热比) for the 2019-2022 heat-ratio correction."""
    load_rate: Annotated[float, Field(ge=0, le=1.5)] | None = None
    """Annual load (output) factor as a fraction, for the load correction; omitted = factor 1."""
    emissions_t: NonNeg | None = None
    """Baseline verified emissions in t CO2 (give this, or the intensities)."""
    intensity_t_per_unit: NonNeg | None = None
    """Emissions per unit of output, used when emissions_t is not given."""
    heat_intensity_t_per_gj: NonNeg = 0.0
    """Emissions per GJ of heat, added to output x intensity."""

    @model_validator(mode="after")
    def _one_emission_source(self) -> Self:
        if (self.emissions_t is None) == (self.intensity_t_per_unit is None):
            raise ValueError("give exactly one of emissions_t or intensity_t_per_unit")
        return self

    @property
    def baseline_emissions_t(self) -> float:
        """Baseline emissions in t CO2: ``emissions_t`` as given, else output x intensity plus
        heat x heat intensity."""
        if self.emissions_t is not None:
            return self.emissions_t
        return self.output * (self.intensity_t_per_unit or 0.0) + self.heat_gj * self.heat_intensity_t_per_gj


class PriorActivityRow(PlannerModel):
    """Activity of a year before the horizon that an allocation plan takes as its pre-allocation basis
    (the 2019-2020 plan: 70% of the unit's 2018 net supply and heat x benchmark x factors)."""

    year: Annotated[int, Field(ge=2013, le=2100)]
    output: NonNeg | None = None
    """Gross generation in MWh (a generation-basis formula needs it)."""
    supply_mwh: NonNeg | None = None
    """Net supply (供电量) in MWh (the 2019-2022 supply-basis formulas need it)."""
    heat_gj: NonNeg = 0.0
    heat_supply_ratio: Annotated[float, Field(ge=0, le=1)] = 0.0
    load_rate: Annotated[float, Field(ge=0, le=1.5)] | None = None
    """Annual load factor as a fraction; omitted = load correction 1."""


class BenchmarkRow(PlannerModel):
    """Benchmark of one year: t CO2 per unit of output, and per GJ of heat."""

    year: Year
    output_t_per_unit: NonNeg
    """Power: t CO2 per MWh (on the formula's basis); industry: intensity reference, t CO2 per t."""
    heat_t_per_gj: NonNeg = 0.0
    unit_class: UnitClass | None = None
    """Benchmark class the row applies to; omitted = every unit of the entity."""


class UnitSpec(PlannerModel):
    """One unit (机组 or process line) of the covered entity, with its own activity."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    name: str = ""
    unit_class: UnitClass
    capacity_mw: Pos | None = None
    """Rated capacity in MW: checks a coal class against the plans' 300 MW class boundary."""
    unit_count: Annotated[int, Field(ge=1, le=100)] = 1
    """How many identical units of ``capacity_mw`` this row's activity covers."""
    cooling: Literal["water", "air"] = "water"
    condensing: bool | None = None
    """Pure condensing unit (纯凝); default: true in years without heat supply."""
    activity: list[ActivityRow]
    prior_activity: list[PriorActivityRow] = Field(default_factory=list)
    """Activity of years before the horizon that a plan takes as pre-allocation basis (e.g. 2018)."""


class AllocationRow(PlannerModel):
    """A given free allocation of one vintage."""

    year: Year
    allocation_t: NonNeg


class AllocationSpec(PlannerModel):
    """How free allocation is obtained: the official formulas of the rule pack, or given numbers."""

    method: Literal["benchmark", "given"] = "benchmark"
    """benchmark: the official formula of each vintage (rule pack); given: the rows below."""
    formula: Literal["auto", "supply_2019_2020", "supply_2021_2022", "generation_2023_2024"] = "auto"
    """Power formula: auto = the one of each vintage's plan (rule pack); or one formula for every year."""
    benchmarks: list[BenchmarkRow] = Field(default_factory=list)
    """Benchmarks per year (and class); power years not listed use the rule pack (last published, tightened)."""
    correction_factor: Pos = 1.0
    """Further correction factor multiplied into the output part."""
    given: list[AllocationRow] = Field(default_factory=list)
    """Allocation per year when method is 'given'."""
    coal_floor: Literal["auto", "on", "off"] = "auto"
    """Coal relief (gap capped at 20% of emissions): auto = on for coal classes."""
    gas_topup: Literal["auto", "on", "off"] = "auto"
    """Gas relief (allocation raised to emissions): auto = on for gas units."""


class CcerLotSpec(PlannerModel):
    """CCERs held at the start, usable only in their eligible compliance years."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    quantity_t: NonNeg
    system: Literal["new", "old"] = "new"
    """'old': filed before 2017-03-14, usable only up to the rule pack's last year for old CCERs."""
    eligible_from_year: Year | None = None
    eligible_to_year: Year | None = None
    project_start: dt.date | None = None
    """New-system lots: the project's start date (eligible only after 2012-11-08, rule pack
    ``ccer.new.project_start_after``); checked when given."""
    reductions_start: dt.date | None = None
    """New-system lots: first day of the period whose reductions were issued (eligible only after
    2020-09-22, ``ccer.new.reductions_after``); checked when given."""
    from_covered_facility: bool | None = None
    """The reductions come from a facility whose emissions the national ETS covers (not eligible,
    ``ccer.new.excludes_covered_facilities``); checked when given."""

    @model_validator(mode="after")
    def _window(self) -> Self:
        a, b = self.eligible_from_year, self.eligible_to_year
        if a is not None and b is not None and b < a:
            raise ValueError(f"eligible_to_year {b} is before eligible_from_year {a}")
        return self


class OpeningSpec(PlannerModel):
    """Position at the start of the first compliance cycle."""

    cea_by_vintage: dict[Year, NonNeg] = Field(default_factory=dict)
    """CEA held by vintage (vintages before the first compliance year), in t."""
    prior_year_emissions_t: NonNeg | None = None
    """Verified emissions of the year before the first compliance year (basis of its pre-allocation)."""
    net_sales_since_2019_t: float = 0.0
    """Cumulative net CEA sales (sold - bought) counted by the carry-over rule, before the horizon."""
    ccer_unrestricted_t: NonNeg = 0.0
    """New-system CCERs held without an eligibility restriction."""
    ccer_lots: list[CcerLotSpec] = Field(default_factory=list)
    transition: Literal["after", "before"] = "after"
    """Where the opening position stands against the carry-over transition into the first year
    (rules.md §14): 'after' (default), the holdings are carried through it, so covered vintages above
    its limit (10,000 t + 1.5 x max(0, net sales) for power at the 2024->2025 transition) lapse;
    'before', the transition is still ahead (its deadline has not passed), so the plan may sell
    covered vintages before it to raise the net sales and the limit."""
    transition_sell_cny_per_t: NonNeg | None = None
    """'before' only: the CEA sale price before the transition; default the first year's sell price."""

    @model_validator(mode="after")
    def _transition_price(self) -> Self:
        if self.transition_sell_cny_per_t is not None and self.transition == "after":
            raise ValueError("transition_sell_cny_per_t is only used with transition: before")
        return self


class MarketRow(PlannerModel):
    """Prices and limits of one compliance cycle (the trading window ending at its deadline)."""

    year: Year
    cea_buy_cny_per_t: NonNeg
    """Price at which the entity can buy CEAs."""
    cea_sell_cny_per_t: NonNeg | None = None
    """Price at which it can sell; or give cea_spread_cny_per_t."""
    cea_spread_cny_per_t: NonNeg | None = None
    """Bid-ask spread: sell price = buy price - spread."""
    ccer_cny_per_t: NonNeg
    """CCER purchase price."""
    ccer_sell_cny_per_t: NonNeg | None = None
    """CCER sale price; omitted = the entity does not sell CCERs."""
    fee_cny_per_t: NonNeg = 0.0
    """Trading fee per tonne of CEA bought or sold."""
    ccer_fee_cny_per_t: NonNeg = 0.0
    """Trading fee per tonne of CCER bought or sold."""
    buy_limit_t: NonNeg | None = None
    sell_limit_t: NonNeg | None = None
    ccer_available_t: NonNeg | Literal["unlimited"] | None = None
    """CCERs the entity can buy in the cycle; omitted = the rule pack's default, the entity's share
    of new-system CCER issuance to date (``ccer.default_supply.*``), with a warning; ``unlimited`` =
    no limit (a scenario: supply has been scarce since the new system opened)."""
    penalty_reference_cny_per_t: NonNeg | None = None
    """Average CEA price of the month before the surrender deadline, the base of the per-tonne fine
    (vintages from 2023); default the cycle's CEA buy price."""

    @field_validator("penalty_reference_cny_per_t")
    @classmethod
    def _reference_positive(cls, v: float | None) -> float | None:
        if v == 0:
            raise ValueError(
                "0 would make the fine 0; give the average CEA price of the month before the deadline "
                "(> 0), or leave it out to use the cycle's CEA buy price"
            )
        return v

    @model_validator(mode="after")
    def _sell_price(self) -> Self:
        if self.cea_sell_cny_per_t is not None and self.cea_spread_cny_per_t is not None:
            raise ValueError("give cea_sell_cny_per_t or cea_spread_cny_per_t, not both")
        if self.sell_price > self.cea_buy_cny_per_t:
            raise ValueError(
                f"CEA sell price {self.sell_price} is above the buy price {self.cea_buy_cny_per_t}: "
                "buying and selling at once would make the plan unbounded"
            )
        if self.ccer_sell_cny_per_t is not None and self.ccer_sell_cny_per_t > self.ccer_cny_per_t:
            raise ValueError(
                f"CCER sell price {self.ccer_sell_cny_per_t} is above the CCER price {self.ccer_cny_per_t}"
            )
        return self

    @property
    def sell_price(self) -> float:
        """The CEA sell price: ``cea_sell_cny_per_t``, else the buy price less the spread (0 when not given)."""
        if self.cea_sell_cny_per_t is not None:
            return self.cea_sell_cny_per_t
        return self.cea_buy_cny_per_t - (self.cea_spread_cny_per_t or 0.0)


class FinanceSpec(PlannerModel):
    """Discounting and the valuation of what is left at the horizon end."""

    discount_rate: Annotated[float, Field(ge=0, le=1)] = 0.06
    base_year: Year | None = None
    """Year whose cash flows are not discounted; default the first compliance year."""
    terminal_value: Literal["sell_price", "zero", "given"] = "sell_price"
    """CEA/CCER held after the last surrender: valued at the last sell prices, at zero, or as given."""
    terminal_cea_cny_per_t: NonNeg | None = None
    terminal_ccer_cny_per_t: NonNeg | None = None
    capex_method: Literal["upfront", "annuity"] = "upfront"
    """upfront: capex in the build year; annuity: spread over the lifetime at the discount rate, charged in operating years inside the horizon."""

    @model_validator(mode="after")
    def _given(self) -> Self:
        if self.terminal_value == "given" and self.terminal_cea_cny_per_t is None:
            raise ValueError("terminal_value 'given' needs terminal_cea_cny_per_t")
        return self


class MeasureSpec(PlannerModel):
    """A continuous abatement measure (a MAC-curve step)."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    cost_cny_per_t: float | dict[Year, float]
    """Cost per tonne abated (negative for measures that save money), constant or per year."""
    potential_t_per_year: NonNeg
    first_year: Year | None = None
    last_year: Year | None = None
    kind: Literal["intensity", "output"] = "intensity"
    """intensity: lowers emissions per unit of output; output: produces less, which also lowers an
    output-based allocation (not an absolute-cap one). Cost and potential in t CO2 either way."""

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.first_year and self.last_year and self.last_year < self.first_year:
            raise ValueError(f"last_year {self.last_year} is before first_year {self.first_year}")
        return self


class ProjectSpec(PlannerModel):
    """A discrete abatement project, built at most once."""

    id: Annotated[str, Field(min_length=1, max_length=64)]
    name: str = ""
    capex_cny: NonNeg
    opex_cny_per_year: NonNeg = 0.0
    reduction_t_per_year: NonNeg
    lead_time_years: Annotated[int, Field(ge=0, le=10)] = 0
    """Years from the start of the build to the first year of reduction."""
    lifetime_years: Annotated[int, Field(ge=1, le=60)]
    earliest_start_year: Year | None = None
    """Earliest year in which the build can start; default the first compliance year."""


class AbatementSpec(PlannerModel):
    """The entity's abatement: continuous measures and discrete projects."""

    measures: list[MeasureSpec] = Field(default_factory=list)
    projects: list[ProjectSpec] = Field(default_factory=list)


class PolicySpec(PlannerModel):
    """Which rule pack, which overrides, and how non-compliance is treated."""

    rule_pack: str = "cn-national"
    """Rule pack id, optionally with @version (e.g. cn-national@2026.11); default the newest."""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Rule-pack parameters replaced for this case, by parameter id."""
    compliance: Literal["penalty", "hard"] = "penalty"
    """penalty: a shortfall is allowed at the fine plus next-year deduction; hard: must comply."""


class SolverSpec(PlannerModel):
    """HiGHS settings of the case: time limit, relative MIP gap and threads."""

    time_limit_s: Pos | None = None
    """Seconds the solver may take; empty: 600 for a plan, 60 for each scenario of a sweep
    (``planner.solve.highs.DEFAULT_TIME_LIMIT_S``, ``SWEEP_TIME_LIMIT_S``)."""
    mip_rel_gap: Annotated[float, Field(ge=0, le=1)] = 1e-6
    threads: Annotated[int, Field(ge=1, le=256)] = 1


class CaseSpec(PlannerModel):
    """One covered entity's compliance-planning case."""

    schema_version: Literal[1] = 1
    entity: EntitySpec
    horizon: HorizonSpec
    activity: list[ActivityRow] = Field(default_factory=list)
    """Activity of the entity's single unit (or give ``units``)."""
    units: list[UnitSpec] = Field(default_factory=list)
    """Units of the entity, each with its own class and activity (or give ``activity``)."""
    prior_activity: list[PriorActivityRow] = Field(default_factory=list)
    """Pre-allocation basis years before the horizon of the single unit (or give them inside ``units``)."""
    allocation: AllocationSpec = AllocationSpec()
    opening: OpeningSpec = OpeningSpec()
    market: list[MarketRow]
    finance: FinanceSpec = FinanceSpec()
    abatement: AbatementSpec = AbatementSpec()
    policy: PolicySpec = PolicySpec()
    solver: SolverSpec = SolverSpec()

    @model_validator(mode="wrap")
    @classmethod
    def _cross_checks(cls, data: Any, handler) -> Self:
        if isinstance(data, cls):
            # a case validated when it was made, now placed in another model (a group): pydantic
            # runs "after" model validators again on such instances (pydantic issue #12085), and
            # this check dumps the whole case, so it is done once per case, not once per group
            return data
        self = handler(data)
        problems = cross_problems(self.model_dump(mode="python"))
        if problems:
            raise ValueError("\n".join(f"{loc}: {msg}" for loc, msg in problems))
        return self

    @property
    def years(self) -> list[int]:
        """Every compliance year of the case's horizon, in order."""
        return self.horizon.years

    def unit_list(self) -> list[UnitSpec]:
        """The entity's units; a case without ``units`` is one unit made of the entity fields."""
        if self.units:
            return list(self.units)
        e = self.entity
        assert e.unit_class is not None  # guaranteed by cross_problems
        return [
            UnitSpec(
                id=e.id,
                name=e.name,
                unit_class=e.unit_class,
                capacity_mw=e.capacity_mw,
                unit_count=e.unit_count,
                cooling=e.cooling,
                condensing=e.condensing,
                activity=list(self.activity),
                prior_activity=list(self.prior_activity),
            )
        ]

    def with_overrides(self, overrides: dict[str, Any]) -> CaseSpec:
        """A new case with dotted-path overrides applied, re-validated through the schema.

        Paths address nested keys; in year tables (activity, market, allocation.given/benchmarks) a
        numeric segment selects the row of that year, elsewhere a list index. Example:
        ``{"market.2030.cea_buy_cny_per_t": 150, "policy.overrides": {"penalty.multiple": 10}}``.
        """
        raw = self.model_dump(mode="python", exclude_unset=False)
        for path, value in overrides.items():
            set_path(raw, path, value)
        return CaseSpec.model_validate(raw)


YEAR_TABLES = {"activity", "market", "given", "benchmarks"}


def set_path(raw: dict, path: str, value: Any) -> None:
    """Set ``value`` at a dotted ``path`` inside plain data (used by overrides and sweeps)."""
    parts = path.split(".")
    node: Any = raw
    for depth, key in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            parent_key = parts[depth - 1] if depth else ""
            if parent_key in YEAR_TABLES and key.isdigit() and int(key) >= 2019:
                matches = [r for r in node if r.get("year") == int(key)]
                if not matches:
                    raise KeyError(f"{path}: no row for year {key}")
                idx = node.index(matches[0])
            else:
                idx = int(key)
            if last:
                node[idx] = copy.deepcopy(value)
                return
            node = node[idx]
        elif isinstance(node, dict):
            if "." in path and parts[0] == "policy" and depth == 2 and parts[1] == "overrides":
                node[".".join(parts[2:])] = copy.deepcopy(value)  # rule-pack ids contain dots
                return
            k: Any = int(key) if key.isdigit() and key not in node and int(key) in node else key
            if last:
                node[k] = copy.deepcopy(value)
                return
            if k not in node or node[k] is None:
                node[k] = {}
            node = node[k]
        else:
            raise KeyError(f"{path}: cannot descend into {type(node).__name__} at {key!r}")


def _rows(data: Any, key: str) -> list:
    node: Any = data
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, list) else []


def _years_of(rows: list) -> list[int]:
    return [r["year"] for r in rows if isinstance(r, dict) and isinstance(r.get("year"), int)]


def cross_problems(data: Any) -> list[tuple[str, str]]:
    """Cross-field problems of a case, as (path, message); tolerant of otherwise invalid data.

    Runs on the raw input too, so that a missing year is reported alongside type errors.
    """
    problems: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        return problems
    horizon = data.get("horizon")
    if not isinstance(horizon, dict):
        return problems
    a, b = horizon.get("first_year"), horizon.get("last_year")
    if not (isinstance(a, int) and isinstance(b, int)) or b < a or b - a >= 30:
        return problems
    years = list(range(a, b + 1))
    entity = data.get("entity") if isinstance(data.get("entity"), dict) else {}
    units = data.get("units")
    if isinstance(units, list) and units:
        if _rows(data, "activity"):
            problems.append(("activity", "give the activity inside each unit when the case lists units"))
        if _rows(data, "prior_activity"):
            problems.append(("prior_activity", "give the prior activity inside each unit when the case lists units"))
        for i, u in enumerate(units):
            if isinstance(u, dict):
                _cover(problems, f"units[{i}].activity", _years_of(u.get("activity") if isinstance(u.get("activity"), list) else []), years)
                _prior(problems, f"units[{i}].prior_activity", _years_of(u.get("prior_activity") if isinstance(u.get("prior_activity"), list) else []), a)
                allowed = POWER_CLASSES if entity.get("sector") == "power" else INDUSTRY_CLASSES
                if entity.get("sector") in ("power", "industry") and isinstance(u.get("unit_class"), str) and u["unit_class"] not in allowed:
                    problems.append((f"units[{i}].unit_class", f"{u['unit_class']!r} does not belong to sector {entity.get('sector')!r}; expected one of {', '.join(allowed)}"))
        uids = [u.get("id") for u in units if isinstance(u, dict)]
        dup = sorted({str(i) for i in uids if i is not None and uids.count(i) > 1})
        if dup:
            problems.append(("units", f"duplicate unit ids {dup}"))
    else:
        _cover(problems, "activity", _years_of(_rows(data, "activity")), years)
        _prior(problems, "prior_activity", _years_of(_rows(data, "prior_activity")), a)
        if entity and entity.get("unit_class") is None:
            problems.append(("entity.unit_class", "give the entity's unit_class, or list its units"))
    _cover(problems, "market", _years_of(_rows(data, "market")), years)
    alloc = data.get("allocation") if isinstance(data.get("allocation"), dict) else {}
    method = alloc.get("method", "benchmark")
    given = _years_of(_rows(data, "allocation.given"))
    if method == "given":
        _cover(problems, "allocation.given", given, years)
    elif given:
        problems.append(("allocation.given", "rows given but allocation.method is not 'given'"))
    bench_rows = [r for r in _rows(data, "allocation.benchmarks") if isinstance(r, dict)]
    for cls in sorted({str(r.get("unit_class")) for r in bench_rows}):
        _unique(problems, "allocation.benchmarks", [r["year"] for r in bench_rows if str(r.get("unit_class")) == cls and isinstance(r.get("year"), int)])
    opening = data.get("opening") if isinstance(data.get("opening"), dict) else {}
    vint = opening.get("cea_by_vintage")
    if isinstance(vint, dict):
        for v in vint:
            try:
                vy = int(v)
            except (TypeError, ValueError):
                continue
            if vy >= a:
                problems.append(
                    (
                        f"opening.cea_by_vintage.{vy}",
                        f"vintage {vy} is not before the first compliance year {a} "
                        "(the allocation of planned years is part of the plan)",
                    )
                )
    ab = data.get("abatement") if isinstance(data.get("abatement"), dict) else {}
    ids = [
        r.get("id")
        for key in ("measures", "projects")
        for r in (ab.get(key) if isinstance(ab.get(key), list) else [])
        if isinstance(r, dict)
    ]
    dup = sorted({str(i) for i in ids if i is not None and ids.count(i) > 1})
    if dup:
        problems.append(("abatement", f"duplicate measure/project ids {dup}"))
    lots = [r.get("id") for r in _rows(data, "opening.ccer_lots") if isinstance(r, dict)]
    dup = sorted({str(i) for i in lots if i is not None and lots.count(i) > 1})
    if dup:
        problems.append(("opening.ccer_lots", f"duplicate lot ids {dup}"))
    for i, m in enumerate(ab.get("measures") if isinstance(ab.get("measures"), list) else []):
        if isinstance(m, dict) and isinstance(m.get("cost_cny_per_t"), dict):
            keys = set()
            for k in m["cost_cny_per_t"]:
                try:
                    keys.add(int(k))
                except (TypeError, ValueError):
                    pass
            missing = [y for y in years if y not in keys]
            if missing:
                problems.append((f"abatement.measures[{i}].cost_cny_per_t", f"no cost for years {missing}"))
    return problems


def _cover(problems: list[tuple[str, str]], name: str, got: list[int], years: list[int]) -> None:
    missing = [y for y in years if y not in got]
    extra = sorted({y for y in got if y not in years})
    if missing:
        problems.append((name, f"no row for years {missing}"))
    if extra:
        problems.append((name, f"rows for years {extra} outside the horizon"))
    _unique(problems, name, got)


def _prior(problems: list[tuple[str, str]], name: str, got: list[int], first: int) -> None:
    late = sorted({y for y in got if y >= first})
    if late:
        problems.append((name, f"rows for years {late} are not before the first compliance year {first} (give them under activity)"))
    _unique(problems, name, got)


def _unique(problems: list[tuple[str, str]], name: str, got: list[int]) -> None:
    dup = sorted({y for y in got if got.count(y) > 1})
    if dup:
        problems.append((name, f"years {dup} appear more than once"))
