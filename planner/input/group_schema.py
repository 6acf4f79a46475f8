"""The group case schema: group settings, links, and the entities as full entity cases.

A group file names its entities inline (full entity cases), by file reference
(``{file: plant.yaml}``) or as rows of entity tables (``entity_tables``: a plants CSV, optional
activity and measures CSVs, and defaults shared by every row). ``planner.input.read.load_group_case``
resolves files and rows into ``CaseSpec`` objects; this module validates the group's own settings.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from planner.input.schema import CaseSpec, FinanceSpec, HorizonSpec, NonNeg, PlannerModel, Year


class GroupInfo(PlannerModel):
    """The group (集团) and its common horizon, discounting and rule pack."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    name: str = ""
    horizon: HorizonSpec
    finance: FinanceSpec = FinanceSpec()
    """Discount rate and base year of the group NPV (the entities' own rates are used for annuities only)."""
    rule_pack: str = "cn-national"
    overrides: dict[str, Any] = Field(default_factory=dict)
    """Rule-pack parameters replaced for the group links (e.g. group.transfers_count_in_net_sales)."""


class TransferSpec(PlannerModel):
    """Intra-group transfers: exchange trades between group entities at an internal price."""

    mode: Literal["none", "free", "block"] = "free"
    """none: no transfers; free: any volume; block: each (seller, buyer, year) transfer is 0 or at
    least the block-trade minimum lot of the rule pack (trading.block.min_lot_t)."""
    price_cny_per_t: NonNeg | dict[Year, NonNeg] | None = None
    """Internal transfer price (constant or per year); default each year's mean buy price of the entities."""
    pairs: list[tuple[str, str]] = Field(default_factory=list)
    """Block mode: the (seller, buyer) pairs allowed to trade; empty = every ordered pair."""
    one_way_per_year: bool = False
    """Block mode: an entity only sends or only receives blocks in a year. Not a rule of the exchange
    (rules.md R7.1 sets only the minimum lot), an option for desks that do not trade both ways in a
    year; off, a plant may pass a block on in the year it receives one."""


class PoolRow(PlannerModel):
    """The group's CCER purchases of one compliance cycle."""

    year: Year
    ccer_cny_per_t: NonNeg
    fee_cny_per_t: NonNeg = 0.0
    available_t: NonNeg | Literal["unlimited"] | None = None
    """CCERs the group can buy in the cycle; omitted = no limit."""


class PoolSpec(PlannerModel):
    """A shared CCER pool: bought by the group, surrendered by entities within their own caps."""

    rows: list[PoolRow]
    opening_t: NonNeg = 0.0
    terminal_cny_per_t: NonNeg = 0.0
    """Value per tonne left in the pool after the last year."""


class GroupLimitRow(PlannerModel):
    """Group-level limits of one compliance cycle (sums over the entities)."""

    year: Year
    buy_limit_t: NonNeg | None = None
    """Market purchases by all entities together."""
    sell_limit_t: NonNeg | None = None
    budget_cny: float | None = None
    """Group cash cost of the year (nominal, before terminal values)."""


class TierSpec(PlannerModel):
    """One tier of the group's market purchase price: a premium per tonne over the entity price."""

    up_to_t: NonNeg | None = None
    """Group purchases of a year up to this cumulative volume are priced in this tier; None = no end."""
    premium_cny_per_t: NonNeg


class EntityTables(PlannerModel):
    """Entities written as table rows: one plant per row, defaults shared by every row."""

    plants: str
    """CSV: id, unit_class, output, intensity_t_per_unit or emissions_t (+ optional name, sector,
    capacity_mw (rated capacity of one of the plant's units, for the coal class check), unit_count (identical
    units the row covers), cooling, heat_gj, heat_intensity_t_per_gj, output_growth, opening_cea_t, net_sales_since_2019_t,
    compliance)."""
    activity: str | None = None
    """Optional CSV of per-year rows (entity, year, output, emissions_t or intensity_t_per_unit, heat_gj)
    replacing the constant activity of the plants table."""
    measures: str | None = None
    """Optional CSV of abatement measures (entity, id, cost_cny_per_t, potential_t_per_year,
    first_year, last_year, kind)."""
    defaults: dict[str, Any] = Field(default_factory=dict)
    """Entity-case sections shared by every row (market, finance, policy, allocation, opening, abatement)."""


class GroupCaseSpec(PlannerModel):
    """A group portfolio case: the entities and what links them."""

    schema_version: Literal[1] = 1
    group: GroupInfo
    entities: list[CaseSpec] = Field(default_factory=list)
    """Entity cases, resolved by ``planner.input.read.load_group_case`` from inline cases, file references
    and entity tables."""
    transfers: TransferSpec = TransferSpec()
    ccer_pool: PoolSpec | None = None
    limits: list[GroupLimitRow] = Field(default_factory=list)
    price_tiers: list[TierSpec] = Field(default_factory=list)
    value_of_pooling: bool = True
    """Also solve every entity alone and report the saving of the group plan."""

    @model_validator(mode="after")
    def _cross(self) -> Self:
        problems = []
        years = self.group.horizon.years
        if not self.entities:
            problems.append("entities: a group needs at least one entity")
        ids = [c.entity.id for c in self.entities]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            problems.append(f"entities: entity ids appear more than once: {', '.join(dup)}")
        for c in self.entities:
            if c.years != years:
                problems.append(
                    f"entities ({c.entity.id}).horizon: {c.years[0]}-{c.years[-1]} differs from the group horizon "
                    f"{years[0]}-{years[-1]}"
                )
        for name, rows in (("limits", self.limits), ("ccer_pool.rows", self.ccer_pool.rows if self.ccer_pool else [])):
            got = [r.year for r in rows]
            if len(set(got)) != len(got):
                problems.append(f"{name}: a year appears more than once")
            extra = sorted(set(got) - set(years))
            if extra:
                problems.append(f"{name}: years outside the horizon: {extra}")
        if self.ccer_pool is not None:
            missing = sorted(set(years) - {r.year for r in self.ccer_pool.rows})
            if missing:
                problems.append(f"ccer_pool.rows: missing years {missing}")
        t = self.transfers
        if isinstance(t.price_cny_per_t, dict):
            missing = sorted(set(years) - set(t.price_cny_per_t))
            if missing:
                problems.append(f"transfers.price_cny_per_t: missing years {missing}")
        known = set(ids)
        for k, (s, d) in enumerate(t.pairs):
            for who in (s, d):
                if who not in known:
                    problems.append(f"transfers.pairs[{k}]: unknown entity {who!r}")
            if s == d:
                problems.append(f"transfers.pairs[{k}]: seller and buyer are the same entity")
        ends = [r.up_to_t for r in self.price_tiers]
        if self.price_tiers:
            if any(e is None for e in ends[:-1]):
                problems.append("price_tiers: only the last tier may be open-ended (up_to_t omitted)")
            if ends[-1] is not None:
                problems.append(
                    f"price_tiers: the last tier ends at {ends[-1]:,.0f} t (up_to_t), which would cap the group's market "
                    "purchases without saying so; omit up_to_t on the last tier (prices beyond it stay at its premium) and "
                    "give a cap as limits[].buy_limit_t, which the plan reports when it binds"
                )
            finite = [e for e in ends if e is not None]
            if finite != sorted(finite) or len(set(finite)) != len(finite):
                problems.append("price_tiers: up_to_t must increase from tier to tier")
            prem = [r.premium_cny_per_t for r in self.price_tiers]
            if prem != sorted(prem):
                problems.append("price_tiers: premiums must not decrease (larger volumes cost more per tonne)")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def case_from_row(
    row: dict[str, Any],
    years: list[int],
    defaults: dict[str, Any],
    activity: list[dict[str, Any]] | None = None,
    measures: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An entity case (plain data, validated later) from one plants-table row and the shared defaults.

    Without activity rows, every year has the row's output (grown by ``output_growth`` a year) and
    its intensity or emissions; ``opening_cea_t`` is held as the vintage before the first year.
    """
    import copy

    r = row
    case = copy.deepcopy(defaults)
    case["entity"] = {k: r[k] for k in ("id", "name", "sector", "unit_class", "capacity_mw", "unit_count", "cooling") if k in r}
    case["entity"].setdefault("sector", "power")
    case["horizon"] = {"first_year": years[0], "last_year": years[-1]}
    if activity:
        case["activity"] = activity
    else:
        g = r.get("output_growth", 0.0)
        rows = []
        for k, y in enumerate(years):
            a: dict[str, Any] = {"year": y, "output": r.get("output", 0.0) * (1 + g) ** k}
            if "emissions_t" in r:
                a["emissions_t"] = r["emissions_t"] * (1 + g) ** k
            elif "intensity_t_per_unit" in r:
                a["intensity_t_per_unit"] = r["intensity_t_per_unit"]
            for h in ("heat_gj", "heat_intensity_t_per_gj"):
                if h in r:
                    a[h] = r[h]
            rows.append(a)
        case["activity"] = rows
    opening = dict(case.get("opening") or {})
    if "opening_cea_t" in r:
        opening["cea_by_vintage"] = {years[0] - 1: r["opening_cea_t"]}
    if "net_sales_since_2019_t" in r:
        opening["net_sales_since_2019_t"] = r["net_sales_since_2019_t"]
    if opening:
        case["opening"] = opening
    if "compliance" in r:
        case["policy"] = {**(case.get("policy") or {}), "compliance": r["compliance"]}
    if measures:
        ab = dict(case.get("abatement") or {})
        ab["measures"] = list(ab.get("measures") or []) + list(measures)
        case["abatement"] = ab
    return case
