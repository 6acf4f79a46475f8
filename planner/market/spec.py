"""The market case: the fleet, the market settings, the scenarios and the back-test.

A scenario changes the central settings: rule-pack overrides (benchmark tightening, the absolute cap
and its auction share, each reading of the 2025+ carry-over rule, penalty levels), the CCER supply
and price, the fine's reference price, output growth and the value of the bank after the horizon.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import Field, ValidationError, model_validator

from planner.errors import CaseValidationError
from planner.input.schema import HorizonSpec, NonNeg, PlannerModel, Year

PerYear = NonNeg | dict[Year, NonNeg]
"""A constant, or one value per year (every year of the horizon)."""


class SectorSpec(PlannerModel):
    """One sector's calibration target: covered entities and first-year emissions, with their source."""

    entities: Annotated[int, Field(ge=1, le=100_000)]
    """Covered entities of the sector."""
    emissions_t: Annotated[float, Field(gt=0)]
    """Covered emissions of the sector in the first year, t CO2 a year."""
    source: str = ""
    """Where the figures come from (shown in the report)."""


class FleetSpec(PlannerModel):
    """The national fleet: sector targets the generated entities are calibrated to."""

    power: SectorSpec
    steel: SectorSpec | None = None
    cement: SectorSpec | None = None
    aluminium: SectorSpec | None = None
    cluster: Annotated[int, Field(ge=1, le=1000)] = 10
    """Identical covered entities each representative entity stands for (see planner.market.fleet)."""
    seed: int = 0
    output_growth: Annotated[float, Field(ge=-0.2, le=0.2)] = 0.0
    """Output growth a year added to every entity's own."""


class CcerSpec(PlannerModel):
    """The new CCERs covered entities can buy: price and supply per year."""

    price_cny_per_t: PerYear = 80.0
    """Price of new CCERs to covered entities (the CCER market is outside the model)."""
    supply_t: PerYear = 10_000_000.0
    """New CCERs the covered entities can buy in each year, all together."""


class MarketSolverSpec(PlannerModel):
    """Solver settings of each scenario's market solve."""

    time_limit_s: Annotated[float, Field(gt=0)] = 300.0
    """Seconds each scenario's solve may take; a scenario that does not solve in time has no prices (said
    in scenarios.csv), the others are still reported."""
    mip_rel_gap: Annotated[float, Field(ge=0, le=0.1)] = 1e-4
    """Relative MIP gap (the net-sales floor makes a market a MIP); the check allows each entity to gain
    alone up to what the gap leaves unproven."""
    threads: Annotated[int, Field(ge=1, le=256)] = 1


class MarketSection(PlannerModel):
    """The central market settings: id, horizon, discounting, terminal value, fine reference
    price, CCERs, rule-pack overrides and solver."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    name: str = ""
    horizon: HorizonSpec
    discount_rate: Annotated[float, Field(ge=0, le=1)] = 0.08
    terminal_value_cny_per_t: NonNeg = 0.0
    """Value of one CEA banked after the last year (0: worthless; the last years' prices then understate)."""
    reference_price_cny_per_t: PerYear = 80.0
    """Base of the per-tonne fine (penalty.multiple x this), the average price of the deadline month."""
    ccer: CcerSpec = CcerSpec()
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Rule-pack overrides for every entity."""
    solver: MarketSolverSpec = MarketSolverSpec()


class ScenarioSpec(PlannerModel):
    """One scenario: what it changes from the central settings (``planner.market.simulate.describe`` words it)."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    label: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Rule-pack overrides added to the market's."""
    ccer: CcerSpec | None = None
    reference_price_cny_per_t: PerYear | None = None
    terminal_value_cny_per_t: NonNeg | None = None
    output_growth: Annotated[float, Field(ge=-0.2, le=0.2)] | None = None


class ObservedRow(PlannerModel):
    """The observed CEA price of one compliance year, for the back-test."""

    year: Year
    """Compliance year (vintage)."""
    window_year: Year
    """Calendar year of its trading window (the year of its surrender deadline)."""
    cea_cny_per_t: NonNeg
    """Observed mean daily CEA close over the window year."""


class BacktestSpec(PlannerModel):
    """The 2021-2024 cycles on the rules of their time, against the observed prices."""

    horizon: HorizonSpec
    terminal_value_cny_per_t: NonNeg = 0.0
    reference_price_cny_per_t: PerYear = 80.0
    ccer: CcerSpec = CcerSpec()
    power: SectorSpec
    observed: list[ObservedRow]
    observed_source: str = ""
    overrides: dict[str, Any] = Field(default_factory=dict)


class MarketCaseSpec(PlannerModel):
    """A market case file: the market settings, the fleet, the scenarios and the back-test."""

    schema_version: int = 1
    market: MarketSection
    fleet: FleetSpec
    scenarios: list[ScenarioSpec] = Field(default_factory=lambda: [ScenarioSpec(id="central")])
    backtest: BacktestSpec | None = None
    notes: str = ""

    @model_validator(mode="after")
    def _cross(self) -> Self:
        problems = []
        ids = [s.id for s in self.scenarios]
        if len(set(ids)) != len(ids):
            problems.append("scenarios: scenario ids must be unique")
        years = self.market.horizon.years
        for where, v in [("market.reference_price_cny_per_t", self.market.reference_price_cny_per_t),
                         ("market.ccer.price_cny_per_t", self.market.ccer.price_cny_per_t),
                         ("market.ccer.supply_t", self.market.ccer.supply_t)] + [
                (f"scenarios ({s.id}).ccer.supply_t", s.ccer.supply_t) for s in self.scenarios if s.ccer] + [
                (f"scenarios ({s.id}).ccer.price_cny_per_t", s.ccer.price_cny_per_t) for s in self.scenarios if s.ccer]:
            if isinstance(v, dict) and sorted(v) != years:
                problems.append(f"{where}: give one value for each year {years[0]}-{years[-1]} (or one constant)")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def per_year(v: PerYear, years: list[int]) -> tuple[float, ...]:
    """A ``PerYear`` value as one number per year of ``years``."""
    if isinstance(v, dict):
        return tuple(float(v[y]) for y in years)
    return tuple(float(v) for _ in years)


def load_market_case(path: str | Path) -> MarketCaseSpec:
    """Read and validate a market case file; every problem named with its field."""
    from planner.input.messages import friendly_message, location
    from planner.input.read import read_case_data

    src = str(path)
    data = read_case_data(Path(path))
    try:
        return MarketCaseSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            for line in msg.split("\n"):
                problems.append((location(err["loc"], data), friendly_message(line, err, MarketCaseSpec)))
        raise CaseValidationError(src, problems) from None
