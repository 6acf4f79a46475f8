"""Plain, frozen model input: the only thing the math builders read.

Base units are tonnes CO2e (t) and yuan (CNY), without prefixes. Every per-year field is a tuple
aligned with ``ModelData.years``. Unlimited quantities are ``math.inf``; there are no Optionals.
Everything here is already resolved: rule-pack values, defaults, allocation and relief are computed
in ``planner.prepare.entity`` so that the math never decides policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

INF = math.inf


def evolve(obj, **changes):
    """``dataclasses.replace(obj, **changes)`` without running ``__init__`` and ``__post_init__``
    again, for a frozen dataclass whose changed fields keep its invariants by construction (a
    repriced sweep variant's prices: one per year, as before). ``replace`` re-runs the checks and
    takes 5-15 us for the 60-field ``EntityData``; a sweep makes one per scenario and entity."""
    cls = type(obj)
    setters = _setters(cls)
    new = object.__new__(cls)
    d = new.__dict__
    d.update(obj.__dict__)
    for name, value in changes.items():
        if name not in setters:
            raise TypeError(f"{cls.__name__} has no field {name!r}")
        setter = setters[name]
        if setter is None:
            d[name] = value
        else:  # a field behind a property (e.g. built on first use): its own setter stores it
            setter(new, value)
    return new


_SETTERS: dict[type, dict[str, Any]] = {}


def _setters(cls) -> dict[str, Any]:
    """Field name -> the setter of the property behind it, or None (stored in ``__dict__``)."""
    out = _SETTERS.get(cls)
    if out is None:
        out = _SETTERS[cls] = {}
        for f in fields(cls):
            attr = getattr(cls, f.name, None)
            out[f.name] = attr.fset if isinstance(attr, property) else None
    return out


@dataclass(frozen=True)
class MeasureData:
    """A continuous abatement measure (one MAC-curve step)."""

    id: str
    cost_cny_per_t: tuple[float, ...]
    """Cost per tonne abated, per year."""
    potential_t: tuple[float, ...]
    """Maximum abatement per year; 0 before the measure's first year."""
    allocation_loss_t_per_t: tuple[float, ...] = ()
    """Free allocation lost per tonne abated, per year (output cuts under output-based allocation);
    empty = 0."""


@dataclass(frozen=True)
class ProjectOption:
    """One possible build year of a discrete project, with its cash flows and effect per model year."""

    build_year: int
    operating: tuple[bool, ...]
    """True in the model years in which the project reduces emissions."""
    capex_cny: tuple[float, ...]
    """Capital cash flow per model year if built in ``build_year`` (upfront or annuity)."""
    opex_cny: tuple[float, ...]
    """Fixed operating cost per model year if built in ``build_year``."""


@dataclass(frozen=True)
class ProjectData:
    """A discrete abatement project, built at most once."""

    id: str
    reduction_t_per_year: float
    options: tuple[ProjectOption, ...]


@dataclass(frozen=True)
class CcerLotData:
    """An opening CCER lot, surrenderable only in its eligible compliance years."""

    id: str
    quantity_t: float
    eligible: tuple[bool, ...]
    """True in the model years whose surrender may use this lot."""
    terminal_value_cny_per_t: float
    """Value per tonne left at the horizon end (0 when the lot is not usable after the horizon)."""


@dataclass(frozen=True)
class CarryRule:
    """Carry-over limit applied at the transition after the surrender of one compliance year.

    The limit is ``floor_t + multiplier * max(0, net_sales - threshold_t)``, where ``net_sales`` is the
    cumulative net CEA sales (opening + modelled) at the end of that cycle. With the national rule
    ``base + k * max(0, NS)`` this is floor = base and threshold = 0; without the zero floor on net
    sales it is ``max(0, base + k * NS)``, i.e. floor = 0 and threshold = -base / k.
    """

    limited: bool
    floor_t: float = 0.0
    multiplier: float = 0.0
    threshold_t: float = 0.0
    base_t: float = 0.0
    """The rule's base as published (for reporting)."""

    def limit_at(self, net_sales_t: float) -> float:
        """The rule's limit at cumulative net sales ``net_sales_t`` (``inf`` when not limited): what a
        plan reports, whatever slack the model's own expression of it has where it does not bind."""
        if not self.limited:
            return math.inf
        return self.floor_t + self.multiplier * max(0.0, net_sales_t - self.threshold_t)


@dataclass(frozen=True)
class OpeningTransition:
    """A transition between the opening holdings and the first planned year (rules.md §14: a plan whose
    first year is after a limited transition holds its opening vintages after it).

    At the transition after the surrender of ``year``, the holdings of vintages up to ``year`` (what
    earlier transitions left, plus ``entering_t``) are limited by ``rule`` at the opening net sales;
    the excess lapses (worthless from then on)."""

    year: int
    entering_t: float
    """Opening holdings of the vintages that reach this transition first (vintages after the previous
    transition's year, up to this one's)."""
    rule: CarryRule

    def limit_at(self, net_sales_t: float) -> float:
        """The limit of this transition's rule at cumulative net sales ``net_sales_t`` (``CarryRule.limit_at``)."""
        return self.rule.limit_at(net_sales_t)


@dataclass(frozen=True)
class EntityData:
    """Everything the entity block needs, resolved to base units."""

    id: str
    emissions_baseline_t: tuple[float, ...]
    allocation_t: tuple[float, ...]
    """Free allocation of the vintage of each year before relief (benchmark formula, or the free part
    of an absolute cap). Output measures lower it (``MeasureData.allocation_loss_t_per_t``)."""
    relief_share: tuple[float, ...]
    """Relief R = max(0, share x emissions - allocation) per year: 0.8 coal floor, 1 gas top-up or
    industrial verified-emissions years, 0 none. Emissions are after abatement (exact regime)."""
    relief_to_allocation: tuple[bool, ...]
    """Relief is issued as allowances (True) or caps the obligation (False)."""
    price_buy_cny_per_t: tuple[float, ...]
    price_sell_cny_per_t: tuple[float, ...]
    fee_cea_cny_per_t: tuple[float, ...]
    price_ccer_buy_cny_per_t: tuple[float, ...]
    price_ccer_sell_cny_per_t: tuple[float, ...]
    fee_ccer_cny_per_t: tuple[float, ...]
    buy_max_t: tuple[float, ...]
    sell_max_t: tuple[float, ...]
    ccer_buy_max_t: tuple[float, ...]
    ccer_sell_max_t: tuple[float, ...]
    ccer_cap_share: tuple[float, ...]
    ccer_cap_on_obligation: bool
    """CCER cap base: the obligation (True) or verified emissions (False)."""
    penalty_cny_per_t: tuple[float, ...]
    """Fine per tonne not surrendered (multiple x reference price)."""
    shortfall_allowed: bool
    shortfall_deducted_next_year: bool
    terminal_deduction_cny_per_t: float
    """Cost per tonne of a last-year shortfall deducted beyond the horizon."""
    opening_cea_t: float
    opening_net_sales_t: float
    carry_rules: tuple[CarryRule, ...]
    terminal_cea_value_cny_per_t: float
    terminal_ccer_value_cny_per_t: float
    measures: tuple[MeasureData, ...] = ()
    projects: tuple[ProjectData, ...] = ()
    ccer_lots: tuple[CcerLotData, ...] = ()
    opening_ccer_t: float = 0.0
    """Opening CCERs without an eligibility restriction (the purchased pool)."""
    ccer_buy_old: tuple[bool, ...] = ()
    """Market CCERs bought in that year are old-system (usable up to ``ccer_old_expiry_index``)."""
    ccer_old_expiry_index: int = -1
    """Index of the last year old-system CCERs may be surrendered; -1 = no old purchases expire in
    the horizon. The pool held out of that year must then be new-system CCERs."""
    borrow_share: tuple[float, ...] = ()
    """Conditional pre-draw: at most this share of the year's gap may be drawn from a later
    allocation, when the gap is at least ``borrow_min_gap_share`` of emissions; empty/0 = none."""
    borrow_min_gap_share: float = 0.0
    borrow_source_index: int = -1
    """Model-year index whose allocation repays the pre-draw; -1 = beyond the horizon."""
    borrow_terminal_cny_per_t: float = 0.0
    """Value per tonne of a pre-draw repaid beyond the horizon (a liability in the last year)."""
    auction_max_t: tuple[float, ...] = ()
    """Allowances the entity may buy at auction per year (absolute-cap scenario); empty = none."""
    price_auction_cny_per_t: tuple[float, ...] = ()
    auction_in_net_sales: bool = True
    """Auction purchases count as purchases in the carry-over rule's net sales."""
    opening_transitions: tuple[OpeningTransition, ...] = ()
    """Limited transitions between the opening vintages and the first year, in order; empty = the
    opening holdings are all carried into the first year."""
    opening_sell_max_t: float = 0.0
    """The opening position is before the last opening transition: up to this many tonnes may still be
    sold before it (raising net sales and so its limit); 0 = the position is after it (the lapse is
    fixed by the data)."""
    price_opening_sell_cny_per_t: float = 0.0
    """Price of those sales (booked in the first year)."""
    fee_opening_cny_per_t: float = 0.0
    fine_fixed_cny: tuple[float, ...] = ()
    """A fine per year in which any obligation is not surrendered, whatever the tonnes (Order 19 for
    vintages up to 2022: CNY 20,000-30,000 per failure); empty/0 = none."""

    def per_year(self, name: str, i: int, default: float = 0.0) -> float:
        """Value ``i`` of an optional per-year field (``default`` when the field is empty)."""
        values = getattr(self, name)
        return values[i] if values else default


@dataclass(frozen=True)
class PriceTier:
    """One step of the group's convex purchase-price curve: a premium over each entity's buy price."""

    width_t: float
    """Tonnes of the group's market purchases in a year priced in this tier (``inf`` for the last)."""
    premium_cny_per_t: float


@dataclass(frozen=True)
class GroupLinks:
    """What ties the entity blocks of a group together (``models.group`` adds these as ``link_*``).

    Per-entity tuples follow the order of ``ModelData.entities``; per-year tuples follow
    ``ModelData.years``. With transfers, an entity block's ``buy``/``sell`` are all its exchange
    trades (market and intra-group); its market limits live here, not in ``EntityData``.
    """

    market_buy_max_t: tuple[tuple[float, ...], ...]
    """Each entity's own market purchase limit per year (``inf``: none given)."""
    market_sell_max_t: tuple[tuple[float, ...], ...]
    transfers: str = "none"
    """none | free (any volume) | block (each pair's transfer is 0 or at least ``transfer_min_lot_t``)."""
    transfer_price_cny_per_t: tuple[float, ...] = ()
    """Internal transfer price per year (an internal settlement: it nets out of the group cost)."""
    transfer_min_lot_t: float = 0.0
    transfer_pairs: tuple[tuple[str, str], ...] = ()
    """Block mode: (seller, buyer) pairs allowed; empty = every ordered pair."""
    block_one_way: bool = False
    """Block mode: an entity only sends or only receives blocks in a year (an option, not a rule:
    rules.md R7.1 sets only the minimum lot; off, two opposite blocks may move a small net amount)."""
    transfers_in_net_sales: bool = True
    """Transfers count as sales and purchases in each entity's net sales (carry-over rule)."""
    pool: bool = False
    """Shared CCER pool: the group buys CCERs; entities' ``ccer_buy`` are allocations from it."""
    pool_price_cny_per_t: tuple[float, ...] = ()
    pool_fee_cny_per_t: tuple[float, ...] = ()
    pool_max_t: tuple[float, ...] = ()
    pool_opening_t: float = 0.0
    pool_terminal_cny_per_t: float = 0.0
    group_buy_max_t: tuple[float, ...] = ()
    """Group market purchases per year (sum over entities); empty or ``inf`` = no limit."""
    group_sell_max_t: tuple[float, ...] = ()
    tiers: tuple[PriceTier, ...] = ()
    """Convex price tiers on the group's market purchases (premiums non-decreasing)."""
    budget_cny: tuple[float, ...] = ()
    """Group cash cost per year (nominal, before terminal values); empty or ``inf`` = none."""


@dataclass(frozen=True)
class ModelData:
    """The whole model input: one or more entities over common compliance years."""

    years: tuple[int, ...]
    discount_factor: tuple[float, ...]
    entities: tuple[EntityData, ...] = field(default_factory=tuple)
    group: GroupLinks | None = None
    """Links between the entities (transfers, CCER pool, group limits); None = independent blocks."""

    def __post_init__(self) -> None:
        n = len(self.years)
        if n == 0:
            raise ValueError("ModelData needs at least one year")
        if len(self.discount_factor) != n:
            raise ValueError("discount_factor must have one value per year")
        ids = [e.id for e in self.entities]
        if len(set(ids)) != len(ids):
            raise ValueError("entity ids must be unique")
        per_year = (
            "emissions_baseline_t allocation_t relief_share relief_to_allocation price_buy_cny_per_t "
            "price_sell_cny_per_t fee_cea_cny_per_t price_ccer_buy_cny_per_t "
            "price_ccer_sell_cny_per_t fee_ccer_cny_per_t buy_max_t sell_max_t ccer_buy_max_t "
            "ccer_sell_max_t ccer_cap_share penalty_cny_per_t carry_rules"
        ).split()
        for e in self.entities:
            for name in per_year:
                if len(getattr(e, name)) != n:
                    raise ValueError(f"entity {e.id}: {name} must have {n} values")
            for name in ("borrow_share", "auction_max_t", "price_auction_cny_per_t", "fine_fixed_cny"):
                if getattr(e, name) and len(getattr(e, name)) != n:
                    raise ValueError(f"entity {e.id}: {name} must be empty or have {n} values")
            for m in e.measures:
                if m.allocation_loss_t_per_t and len(m.allocation_loss_t_per_t) != n:
                    raise ValueError(f"entity {e.id}: measure {m.id} allocation_loss_t_per_t must have {n} values")
        g = self.group
        if g is not None:
            if len(g.market_buy_max_t) != len(ids) or len(g.market_sell_max_t) != len(ids):
                raise ValueError("group market limits need one row per entity")
            if g.transfers not in ("none", "free", "block"):
                raise ValueError(f"unknown transfer mode {g.transfers!r}")
            for name in ("transfer_price_cny_per_t", "pool_price_cny_per_t",
                         "pool_fee_cny_per_t", "pool_max_t", "group_buy_max_t", "group_sell_max_t", "budget_cny"):
                if getattr(g, name) and len(getattr(g, name)) != n:
                    raise ValueError(f"group {name} must be empty or have {n} values")
            premia = [t.premium_cny_per_t for t in g.tiers]
            if premia != sorted(premia):
                raise ValueError("price tiers must have non-decreasing premiums (a convex price curve)")
            if g.tiers and not math.isinf(g.tiers[-1].width_t):
                raise ValueError("the last price tier must be open-ended (a cap on purchases is a group limit)")


OBJECTIVE_TUPLES = (
    "price_buy_cny_per_t",
    "price_sell_cny_per_t",
    "fee_cea_cny_per_t",
    "price_ccer_buy_cny_per_t",
    "price_ccer_sell_cny_per_t",
    "fee_ccer_cny_per_t",
    "penalty_cny_per_t",
    "price_auction_cny_per_t",
)
"""Per-year ``EntityData`` fields that enter only the objective (without a group budget): a variant
that changes only these keeps the model's constraints (warm re-solves, repricing)."""
OBJECTIVE_SCALARS = (
    "terminal_cea_value_cny_per_t",
    "terminal_ccer_value_cny_per_t",
    "terminal_deduction_cny_per_t",
    "borrow_terminal_cny_per_t",
)
"""Scalar ``EntityData`` fields that enter only the objective."""
GROUP_OBJECTIVE_TUPLES = ("transfer_price_cny_per_t", "pool_price_cny_per_t", "pool_fee_cny_per_t")
"""Per-year ``GroupLinks`` fields that enter only the objective (without a group budget)."""
GROUP_OBJECTIVE_SCALARS = ("pool_terminal_cny_per_t",)
"""Scalar ``GroupLinks`` fields that enter only the objective."""
GROUP_ROW = "(group)"
"""Entity label of a group's own rows (links, pool, group totals) in tables of entity rows."""


# --- bounds of an entity's data (what the model's regimes and big-Ms are decided from) ---------------


def emissions_bounds(d: EntityData, i: int) -> tuple[float, float]:
    """Bounds on the verified emissions of year ``i``: baseline, less every abatement at its bound."""
    base = d.emissions_baseline_t[i]
    most = sum(m.potential_t[i] for m in d.measures) + sum(
        p.reduction_t_per_year for p in d.projects if any(o.operating[i] for o in p.options)
    )
    return max(0.0, base - most), base


def allocation_loss_max(d: EntityData, i: int) -> float:
    """The most allocation abatement can cost in year ``i`` (every measure at its potential)."""
    return sum(m.potential_t[i] * (m.allocation_loss_t_per_t[i] if m.allocation_loss_t_per_t else 0.0) for m in d.measures)


def relief_bounds(d: EntityData, i: int) -> tuple[float, float]:
    """Bounds on ``share x emissions - allocation`` of year ``i`` (the relief before its zero floor)."""
    s = d.relief_share[i]
    e_lo, e_hi = emissions_bounds(d, i)
    a = d.allocation_t[i]
    return s * e_lo - a, s * e_hi - a + allocation_loss_max(d, i)


def relief_regime(d: EntityData, i: int) -> str:
    """'off' (no relief possible), 'always' (relief = share x E - A, linear) or 'switch' (one binary).

    Decided from bounds before solving, so a binary appears only where abatement can move the
    entity across the relief threshold.
    """
    if d.relief_share[i] <= 0:
        return "off"
    lo, hi = relief_bounds(d, i)
    if hi <= 0:
        return "off"
    return "always" if lo >= 0 else "switch"
