"""The math of one covered entity: fills a Pyomo Block from an ``EntityData``.

Every component carries ``doc=``; ``models/FORMULATION.md`` has one row per component and a test
checks the table against a built model. Names follow the grammar of the style guide: sets
UPPER_SNAKE, variables short nouns, ``cost_*`` expressions, ``balance_*`` / ``limit_*`` constraints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from models.data import (
    EntityData,
    allocation_loss_max,
    emissions_bounds,
    relief_bounds,
    relief_regime,
)

if TYPE_CHECKING:
    # imported by the declaring functions, not here: the bounds below serve models.arrays.assemble
    # without Pyomo
    import pyomo.environ as pyo

COST_COMPONENTS: tuple[str, ...] = (
    "abatement",
    "capex",
    "opex",
    "purchase",
    "fees",
    "ccer",
    "penalty",
    "sales",
    "terminal",
)
"""Cost expressions ``cost_<name>[y]`` of every entity block; the objective and the report both
iterate over this tuple. ``sales`` and ``terminal`` are negative (revenue, residual value)."""

TRADE_VARIABLES: tuple[str, ...] = ("buy", "sell", "ccer_buy", "ccer_sell", "auction_buy", "pool_buy")
"""Variables (by name, in entity blocks and the group's links: ``pool_buy``) that are purchases or
sales. Of several plans with the same cost, the plan holds the one with the fewest tonnes of them
(``planner.solve.ties``). A group's market trades and transfers are parts of its entities' ``buy``
and ``sell``, so they are not counted again."""


DUAL_SIGNS: dict[str, float] = {
    "balance_surrender": 1.0,
    "balance_allowances": 1.0,
    "limit_ccer_share": -1.0,
    "limit_carryover": -1.0,
}
"""The entity rows whose duals the results report (``Results.duals``), in the order they are
reported, each with the sign that makes its shadow price a cost per tonne (one more tonne of
obligation costs; one more tonne of a cap or limit saves)."""


def pyomo_bound(x: float) -> float | None:
    """A bound as Pyomo takes it: None for an infinite one."""
    return None if math.isinf(x) else x


def _opening_walk(d: EntityData, steps) -> tuple[float, float]:
    """(holdings of the vintages the ``steps`` cover that pass them, tonnes lapsed at them), each
    step's limit at the opening net sales."""
    held = lapsed = 0.0
    for t in steps:
        held += t.entering_t
        cap = t.rule.limit_at(d.opening_net_sales_t)
        if held > cap:
            lapsed += held - cap
            held = cap
    return held, lapsed


def opening_usable(d: EntityData) -> float:
    """Bound on the opening holdings carried into the first year: all of them less what the
    opening transitions the data decide take (the plan's own lapse before a decided one can only
    lower it). The derived bounds use it, so holdings above a limit and at it give the same model."""
    return d.opening_cea_t - opening_lapse_fixed(d)


def opening_decided(d: EntityData) -> bool:
    """Whether the last opening transition is a decision of the plan (the position is before it)."""
    return d.opening_sell_max_t > 0 and bool(d.opening_transitions)


def opening_lapse_fixed(d: EntityData) -> float:
    """Opening holdings lapsed at the opening transitions the data decide: all of them when the
    opening position is after them, all but the last when it is before the last one."""
    steps = d.opening_transitions[:-1] if opening_decided(d) else d.opening_transitions
    return _opening_walk(d, steps)[1]


def opening_reach(d: EntityData) -> float:
    """Holdings that reach the last opening transition when it is a decision (0 otherwise)."""
    if not opening_decided(d):
        return 0.0
    return _opening_walk(d, d.opening_transitions[:-1])[0] + d.opening_transitions[-1].entering_t


def opening_sell_upper(d: EntityData) -> float:
    """Bound on the sales before the last opening transition (0 when the position is after it)."""
    return min(d.opening_sell_max_t, opening_reach(d))


def opening_carry_limit(d: EntityData, sold: float = 0.0) -> float:
    """The limit of the last opening transition at the opening net sales plus ``sold`` (``inf``
    without opening transitions): what the plan reports next to the opening lapse."""
    if not d.opening_transitions:
        return math.inf
    return d.opening_transitions[-1].rule.limit_at(d.opening_net_sales_t + sold)


def opening_needs_binary(d: EntityData) -> bool:
    """Whether the decided opening limit needs a binary for its zero floor (net sales below the
    threshold at the opening, above it after the largest sale)."""
    if not opening_decided(d):
        return False
    r = d.opening_transitions[-1].rule
    ns0 = d.opening_net_sales_t
    return r.limited and r.multiplier > 0 and ns0 < r.threshold_t < ns0 + opening_sell_upper(d)


def fine_years(d: EntityData) -> list[int]:
    """Year indices with a fixed fine for any shortfall (one binary each)."""
    if not d.shortfall_allowed:
        return []
    return [i for i in range(len(d.emissions_baseline_t)) if d.per_year("fine_fixed_cny", i) > 0]


def shortfall_upper(d: EntityData, i: int) -> float:
    """Bound on the shortfall of year ``i``: the obligation (at most the baseline emissions) plus
    the deducted shortfalls carried into it."""
    if not d.shortfall_deducted_next_year:
        return d.emissions_baseline_t[i]
    return sum(d.emissions_baseline_t[: i + 1])


def relief_upper(d: EntityData, i: int) -> float:
    """Upper bound on the relief of year ``i``: max(0, the upper relief bound), 0 where
    relief_regime is 'off' (share <= 0 or that bound <= 0); the bounds are worked out once."""
    if d.relief_share[i] <= 0:
        return 0.0
    hi = relief_bounds(d, i)[1]
    return hi if hi > 0 else 0.0


def gap_bounds(d: EntityData, i: int) -> tuple[float, float]:
    """Bounds on the gap (obligation - allocation, after relief) of year ``i``."""
    e_lo, e_hi = emissions_bounds(d, i)
    a = d.allocation_t[i]
    return e_lo - a - relief_upper(d, i), e_hi - a + allocation_loss_max(d, i)


def borrow_condition_bounds(d: EntityData, i: int) -> tuple[float, float]:
    """Bounds on ``gap - min_gap_share x emissions`` (the pre-draw is allowed when >= 0)."""
    th = d.borrow_min_gap_share
    e_lo, e_hi = emissions_bounds(d, i)
    a = d.allocation_t[i]
    return (1 - th) * e_lo - a - relief_upper(d, i), (1 - th) * e_hi - a + allocation_loss_max(d, i)


def borrow_regime(d: EntityData, i: int) -> str:
    """'off', 'always' (no binary) or 'switch' (one binary), decided from bounds like relief."""
    if d.per_year("borrow_share", i) <= 0:
        return "off"
    lo, hi = borrow_condition_bounds(d, i)
    if hi < 0 or gap_bounds(d, i)[1] <= 0:
        return "off"
    return "always" if lo >= 0 else "switch"


def borrow_upper(d: EntityData, i: int) -> float:
    """Upper bound on the pre-draw of year ``i``: its share of the largest gap; 0 where the
    pre-draw is off."""
    if borrow_regime(d, i) == "off":
        return 0.0
    return d.borrow_share[i] * max(0.0, gap_bounds(d, i)[1])


def allocation_upper(d: EntityData, i: int) -> float:
    """Upper bound on the allowances received for year ``i`` (allocation, relief, pre-draw)."""
    relief = relief_upper(d, i) if d.relief_to_allocation[i] else 0.0
    return d.allocation_t[i] + relief + borrow_upper(d, i)


@dataclass(frozen=True)
class _EntityScope:
    """One entity's data with its model years and the lookups the declaring functions share."""

    d: EntityData
    years: tuple[int, ...]
    ns_lo: tuple[float, ...]
    """Lower bound on the cumulative net sales of each year (``models.bounds.net_sales_range``)."""
    ns_hi: tuple[float, ...]
    """Upper bound on the cumulative net sales of each year."""
    pos: dict[int, int]
    """Year -> its position in ``years`` (the index of the per-year data)."""
    measures: dict
    projects: dict
    options: dict
    """(project, build year) -> its build option."""
    lots: dict
    loss: dict
    """(measure, year) -> allocation lost per tonne abated (0 for measures without a loss)."""

    @classmethod
    def of(cls, d: EntityData, years: tuple[int, ...], ns_range) -> _EntityScope:
        pos = {y: i for i, y in enumerate(years)}
        return cls(
            d=d,
            years=tuple(years),
            ns_lo=tuple(ns_range[0]),
            ns_hi=tuple(ns_range[1]),
            pos=pos,
            measures={k.id: k for k in d.measures},
            projects={p.id: p for p in d.projects},
            options={(p.id, o.build_year): o for p in d.projects for o in p.options},
            lots={l.id: l for l in d.ccer_lots},
            loss={
                (k.id, y): (k.allocation_loss_t_per_t[pos[y]] if k.allocation_loss_t_per_t else 0.0)
                for k in d.measures
                for y in years
            },
        )

    @property
    def first(self) -> int:
        return self.years[0]

    @property
    def last(self) -> int:
        return self.years[-1]

    def needs_binary(self, i: int) -> bool:
        """Whether year ``i``'s carry-over limit needs a binary for its zero floor: the limit
        floor + k x max(0, NS - threshold) is non-convex only where NS can fall on both sides of
        the threshold, judged from the bounds."""
        r = self.d.carry_rules[i]
        return r.limited and r.multiplier > 0 and self.ns_lo[i] < r.threshold_t < self.ns_hi[i]


def add_entity(b: pyo.Block, d: EntityData, years: tuple[int, ...], ns_range: tuple[tuple[float, ...], tuple[float, ...]]) -> None:
    """Add the variables, expressions and constraints of one entity to block ``b``.

    ``ns_range``: the bounds on the entity's cumulative net sales per year (lower, upper), derived
    for the model the block is in (``models.bounds.net_sales_range``: they depend on the group).
    The declaration order is the model's row order (and so its columns' order): keep it."""
    scope = _EntityScope.of(d, years, ns_range)

    _declare_sets(b, scope)
    _declare_variables(b, scope)
    _declare_ledger(b, scope)
    _declare_stock_balances(b, scope)
    _declare_relief_limits(b, scope)
    _declare_borrow_limits(b, scope)
    _declare_ccer_rows(b, scope)
    _declare_abatement_limits(b, scope)
    _declare_carryover_limits(b, scope)
    _declare_opening_limits(b, scope)
    _declare_fine_limit(b, scope)
    _declare_costs(b, scope)


def _declare_sets(b: pyo.Block, scope: _EntityScope) -> None:
    """The index sets: measures, projects, lots and the years in which each rule or regime applies."""
    import pyomo.environ as pyo

    d, years, pos, first = scope.d, scope.years, scope.pos, scope.first

    b.MEASURES = pyo.Set(initialize=[k.id for k in d.measures], ordered=True, doc="Abatement measures")
    b.PROJECTS = pyo.Set(initialize=[p.id for p in d.projects], ordered=True, doc="Discrete projects")
    b.BUILD_OPTIONS = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[(p.id, o.build_year) for p in d.projects for o in p.options],
        doc="(project, year in which its build starts)",
    )
    b.OPERATING = pyo.Set(
        dimen=3,
        ordered=True,
        initialize=[
            (p.id, o.build_year, y)
            for p in d.projects
            for o in p.options
            for y in years
            if o.operating[pos[y]]
        ],
        doc="(project, build year, model year) in which that build option reduces emissions",
    )
    b.CCER_LOTS = pyo.Set(initialize=[l.id for l in d.ccer_lots], ordered=True, doc="Opening CCER lots")
    b.LOT_YEARS = pyo.Set(
        dimen=2,
        ordered=True,
        initialize=[(l.id, y) for l in d.ccer_lots for y in years if l.eligible[pos[y]]],
        doc="(lot, compliance year in which the lot may be surrendered)",
    )
    b.LIMITED_YEARS = pyo.Set(
        initialize=[y for y in years if d.carry_rules[pos[y]].limited],
        ordered=True,
        doc="Years whose transition to the next cycle has a carry-over limit",
    )
    b.FLOOR_YEARS = pyo.Set(
        initialize=[y for y in years if scope.needs_binary(pos[y])],
        ordered=True,
        doc="Limited years where the zero floor on net sales can bite (one binary each)",
    )
    b.RELIEF_YEARS = pyo.Set(
        initialize=[y for y in years if relief_regime(d, pos[y]) != "off"],
        ordered=True,
        doc="Years in which relief (coal floor, gas top-up, verified-emissions allocation) can be positive",
    )
    b.RELIEF_SWITCH_YEARS = pyo.Set(
        initialize=[y for y in years if relief_regime(d, pos[y]) == "switch"],
        ordered=True,
        doc="Relief years where abatement can switch the regime (one binary each)",
    )
    b.BORROW_YEARS = pyo.Set(
        initialize=[y for y in years if borrow_regime(d, pos[y]) != "off"],
        ordered=True,
        doc="Years in which the conditional pre-draw from a later allocation is possible",
    )
    b.BORROW_SWITCH_YEARS = pyo.Set(
        initialize=[y for y in years if borrow_regime(d, pos[y]) == "switch"],
        ordered=True,
        doc="Pre-draw years where the gap condition can go either way (one binary each)",
    )
    b.AUCTION_YEARS = pyo.Set(
        initialize=[y for y in years if d.per_year("auction_max_t", pos[y]) > 0],
        ordered=True,
        doc="Years with an auctioned share the entity may buy (absolute-cap scenario)",
    )
    b.OPENING_DECISION = pyo.Set(
        initialize=[first] if opening_decided(d) else [],
        ordered=True,
        doc="The first year, when the opening position is before its last transition (sales before it are a decision)",
    )
    b.OPENING_FLOOR = pyo.Set(
        initialize=[first] if opening_needs_binary(d) else [],
        ordered=True,
        doc="The first year, when the zero floor of the decided opening limit can bite (one binary)",
    )
    b.FINE_YEARS = pyo.Set(
        initialize=[years[i] for i in fine_years(d)],
        ordered=True,
        doc="Years whose shortfall costs a fixed fine, whatever its size (one binary each)",
    )


def _declare_variables(b: pyo.Block, scope: _EntityScope) -> None:
    """The decision variables, with the bounds the data and the derived bounds give."""
    import pyomo.environ as pyo

    d, years, pos, measures = scope.d, scope.years, scope.pos, scope.measures

    b.abate = pyo.Var(
        b.MEASURES,
        years,
        within=pyo.NonNegativeReals,
        bounds=lambda _, k, y: (0, measures[k].potential_t[pos[y]]),
        doc="Tonnes abated by a measure in a year [t]",
    )
    b.build = pyo.Var(b.BUILD_OPTIONS, within=pyo.Binary, doc="1 if a project's build starts in a year")
    b.buy = pyo.Var(
        years, bounds=lambda _, y: (0, pyomo_bound(d.buy_max_t[pos[y]])), doc="CEA bought in the cycle [t]"
    )
    b.sell = pyo.Var(
        years, bounds=lambda _, y: (0, pyomo_bound(d.sell_max_t[pos[y]])), doc="CEA sold in the cycle [t]"
    )
    b.surrender = pyo.Var(years, within=pyo.NonNegativeReals, doc="CEA surrendered for the year [t]")
    b.carry = pyo.Var(
        years, within=pyo.NonNegativeReals, doc="CEA carried after the surrender into the next cycle [t]"
    )
    b.lapse = pyo.Var(
        b.LIMITED_YEARS,
        within=pyo.NonNegativeReals,
        doc="CEA above the carry-over limit, unusable after the transition [t]",
    )
    b.shortfall = pyo.Var(
        years,
        within=pyo.NonNegativeReals,
        bounds=(0, None if d.shortfall_allowed else 0),
        doc="Obligation not surrendered (penalised) [t]",
    )
    b.ccer_buy = pyo.Var(
        years,
        bounds=lambda _, y: (0, pyomo_bound(d.ccer_buy_max_t[pos[y]])),
        doc="CCER bought in the cycle [t]",
    )
    b.ccer_sell = pyo.Var(
        years,
        bounds=lambda _, y: (0, pyomo_bound(d.ccer_sell_max_t[pos[y]])),
        doc="CCER sold from the unrestricted pool [t]",
    )
    b.ccer_use = pyo.Var(
        years, within=pyo.NonNegativeReals, doc="CCER surrendered from the unrestricted pool [t]"
    )
    b.ccer_use_lot = pyo.Var(
        b.LOT_YEARS, within=pyo.NonNegativeReals, doc="CCER surrendered from an opening lot [t]"
    )
    b.ccer_hold = pyo.Var(
        years, within=pyo.NonNegativeReals, doc="Unrestricted CCER held after the surrender [t]"
    )
    b.ns_pos = pyo.Var(
        b.FLOOR_YEARS,
        within=pyo.NonNegativeReals,
        doc="max(0, net sales - threshold) in years where the floor can bite [t]",
    )
    b.floor_off = pyo.Var(
        b.FLOOR_YEARS,
        within=pyo.Binary,
        doc="1 if net sales exceed the threshold (the floor does not bite)",
    )

    b.relief = pyo.Var(
        b.RELIEF_YEARS,
        within=pyo.NonNegativeReals,
        bounds=lambda _, y: (0, relief_upper(d, pos[y])),
        doc="Relief: max(0, share x emissions - allocation), as allowances or an obligation cap [t]",
    )
    b.relief_on = pyo.Var(
        b.RELIEF_SWITCH_YEARS, within=pyo.Binary, doc="1 if the relief regime applies (share x E > allocation)"
    )
    b.borrow = pyo.Var(
        b.BORROW_YEARS,
        within=pyo.NonNegativeReals,
        bounds=lambda _, y: (0, borrow_upper(d, pos[y])),
        doc="Allowances pre-drawn from a later vintage's allocation [t]",
    )
    b.borrow_on = pyo.Var(
        b.BORROW_SWITCH_YEARS, within=pyo.Binary, doc="1 if the gap condition of the pre-draw is met"
    )
    b.auction_buy = pyo.Var(
        b.AUCTION_YEARS,
        within=pyo.NonNegativeReals,
        bounds=lambda _, y: (0, d.auction_max_t[pos[y]]),
        doc="Allowances bought at auction (absolute-cap scenario) [t]",
    )
    b.opening_sell = pyo.Var(
        b.OPENING_DECISION,
        within=pyo.NonNegativeReals,
        bounds=(0, opening_sell_upper(d)),
        doc="Opening allowances sold before the last opening transition (they count in net sales) [t]",
    )
    b.opening_lapse = pyo.Var(
        b.OPENING_DECISION,
        within=pyo.NonNegativeReals,
        doc="Opening allowances above the decided opening limit, unusable after the transition [t]",
    )
    b.opening_ns_pos = pyo.Var(
        b.OPENING_FLOOR,
        within=pyo.NonNegativeReals,
        doc="max(0, opening net sales + sales before the transition - threshold) [t]",
    )
    b.opening_floor_off = pyo.Var(
        b.OPENING_FLOOR, within=pyo.Binary, doc="1 if those net sales exceed the threshold"
    )
    b.fined = pyo.Var(b.FINE_YEARS, within=pyo.Binary, doc="1 if any obligation of the year is not surrendered (fixed fine)")


def _declare_ledger(b: pyo.Block, scope: _EntityScope) -> None:
    """The ledger expressions: emissions, allocation, obligation, net sales and the carry-over limit."""
    d, years, pos, ns_hi, projects, loss = scope.d, scope.years, scope.pos, scope.ns_hi, scope.projects, scope.loss

    @b.Expression(years, doc="Emission reduction by built projects in a year [t]")
    def project_reduction(b, y):
        return sum(
            projects[p].reduction_t_per_year * b.build[p, s]
            for (p, s, yy) in b.OPERATING
            if yy == y
        )

    @b.Expression(years, doc="Verified emissions after abatement [t]")
    def emissions(b, y):
        return (
            d.emissions_baseline_t[pos[y]]
            - sum(b.abate[k, y] for k in b.MEASURES)
            - b.project_reduction[y]
        )

    @b.Expression(years, doc="Free allocation before relief: formula allocation less what output cuts lose [t]")
    def allocation_benchmark(b, y):
        return d.allocation_t[pos[y]] - sum(loss[k, y] * b.abate[k, y] for k in b.MEASURES if loss[k, y])

    @b.Expression(years, doc="Relief of the year (0 outside RELIEF_YEARS) [t]")
    def relief_t(b, y):
        return b.relief[y] if y in b.RELIEF_YEARS else 0.0

    @b.Expression(years, doc="Allowances of the vintage received: allocation + relief (allowance mechanism) - pre-draws repaid [t]")
    def allocation(b, y):
        i = pos[y]
        repaid = sum(b.borrow[t] for t in b.BORROW_YEARS) if i == d.borrow_source_index else 0.0
        relief = b.relief_t[y] if d.relief_to_allocation[i] else 0.0
        return b.allocation_benchmark[y] + relief - repaid

    @b.Expression(years, doc="Surrender obligation: emissions less relief (obligation-cap mechanism) [t]")
    def obligation(b, y):
        return b.emissions[y] - (0.0 if d.relief_to_allocation[pos[y]] else b.relief_t[y])

    @b.Expression(b.BORROW_YEARS, doc="Gap: obligation - allocation after relief [t]")
    def gap(b, y):
        return b.emissions[y] - b.allocation_benchmark[y] - b.relief_t[y]

    @b.Expression(years, doc="CCER surrendered for the year, pool and lots [t]")
    def ccer_surrendered(b, y):
        return b.ccer_use[y] + sum(b.ccer_use_lot[l, yy] for (l, yy) in b.LOT_YEARS if yy == y)

    @b.Expression(years, doc="Cumulative net CEA sales (opening + modelled, auction purchases if counted) at the end of a cycle [t]")
    def net_sales(b, y):
        auction = sum(b.auction_buy[t] for t in b.AUCTION_YEARS if t <= y) if d.auction_in_net_sales else 0.0
        before = sum(b.opening_sell[t] for t in b.OPENING_DECISION)
        return d.opening_net_sales_t + before + sum(b.sell[t] - b.buy[t] for t in years if t <= y) - auction

    @b.Expression(b.LIMITED_YEARS, doc="Carry-over limit in force at the transition after the year [t]")
    def carry_limit(b, y):
        r = d.carry_rules[pos[y]]
        if y in b.FLOOR_YEARS:
            return r.floor_t + r.multiplier * b.ns_pos[y]
        if ns_hi[pos[y]] <= r.threshold_t or r.multiplier == 0:
            return r.floor_t
        return r.floor_t + r.multiplier * (b.net_sales[y] - r.threshold_t)

    @b.Expression(b.OPENING_DECISION, doc="Opening allowances carried into the first year through the decided opening transition [t]")
    def opening_carry(b, y):
        return opening_reach(d) - b.opening_sell[y] - b.opening_lapse[y]


def _declare_stock_balances(b: pyo.Block, scope: _EntityScope) -> None:
    """The allowance stock and the surrender of each year."""
    d, years, pos, first = scope.d, scope.years, scope.pos, scope.first

    @b.Constraint(years, doc="Allowance stock: carried in + allocation + buy + auction + pre-draw - sell = surrender + carried out + lapse")
    def balance_allowances(b, y):
        i = pos[y]
        if y == first:  # the opening holdings less what the opening transitions take (fixed or decided)
            incoming = d.opening_cea_t - opening_lapse_fixed(d)
            if y in b.OPENING_DECISION:
                incoming = incoming - b.opening_sell[y] - b.opening_lapse[y]
        else:
            incoming = b.carry[years[i - 1]]
        outgoing = b.surrender[y] + b.carry[y] + (b.lapse[y] if y in b.LIMITED_YEARS else 0.0)
        extra = (b.auction_buy[y] if y in b.AUCTION_YEARS else 0.0) + (b.borrow[y] if y in b.BORROW_YEARS else 0.0)
        return incoming + b.allocation[y] + b.buy[y] + extra - b.sell[y] == outgoing

    @b.Constraint(years, doc="Surrender + CCER + shortfall - last year's deducted shortfall = obligation")
    def balance_surrender(b, y):
        i = pos[y]
        # the tonnes not surrendered last year are deducted from this year's allocation: they
        # must be surrendered now on top of this year's obligation (or fall short again)
        deduction = (
            b.shortfall[years[i - 1]] if (y != first and d.shortfall_deducted_next_year) else 0.0
        )
        return b.surrender[y] + b.ccer_surrendered[y] + b.shortfall[y] - deduction == b.obligation[y]


def _declare_relief_limits(b: pyo.Block, scope: _EntityScope) -> None:
    """Relief = max(0, share x emissions - allocation), linear or switched by a binary."""
    d, pos = scope.d, scope.pos

    @b.Constraint(b.RELIEF_YEARS, doc="Relief >= share x emissions - allocation")
    def limit_relief_floor(b, y):
        return b.relief[y] >= d.relief_share[pos[y]] * b.emissions[y] - b.allocation_benchmark[y]

    @b.Constraint(b.RELIEF_YEARS, doc="Relief <= share x emissions - allocation while the regime applies (big-M from bounds)")
    def limit_relief_regime(b, y):
        i = pos[y]
        x = d.relief_share[i] * b.emissions[y] - b.allocation_benchmark[y]
        if y not in b.RELIEF_SWITCH_YEARS:
            return b.relief[y] <= x
        return b.relief[y] <= x - relief_bounds(d, i)[0] * (1 - b.relief_on[y])

    @b.Constraint(b.RELIEF_SWITCH_YEARS, doc="Relief = 0 outside the regime (big-M from bounds)")
    def limit_relief_switch(b, y):
        return b.relief[y] <= relief_upper(d, pos[y]) * b.relief_on[y]


def _declare_borrow_limits(b: pyo.Block, scope: _EntityScope) -> None:
    """The conditional pre-draw from a later allocation: its share of the gap and its condition."""
    d, pos = scope.d, scope.pos

    @b.Constraint(b.BORROW_YEARS, doc="Pre-draw <= share of the gap while the condition holds (big-M from bounds)")
    def limit_borrow_share(b, y):
        i = pos[y]
        if y not in b.BORROW_SWITCH_YEARS:
            return b.borrow[y] <= d.borrow_share[i] * b.gap[y]
        big_m = max(0.0, -d.borrow_share[i] * gap_bounds(d, i)[0])
        return b.borrow[y] <= d.borrow_share[i] * b.gap[y] + big_m * (1 - b.borrow_on[y])

    @b.Constraint(b.BORROW_SWITCH_YEARS, doc="Pre-draw = 0 unless the condition holds (big-M from bounds)")
    def limit_borrow_switch(b, y):
        return b.borrow[y] <= borrow_upper(d, pos[y]) * b.borrow_on[y]

    @b.Constraint(b.BORROW_SWITCH_YEARS, doc="Condition: gap >= min share x emissions when borrow_on = 1")
    def limit_borrow_condition(b, y):
        i = pos[y]
        lo = borrow_condition_bounds(d, i)[0]
        return b.gap[y] - d.borrow_min_gap_share * b.emissions[y] >= lo * (1 - b.borrow_on[y])


def _declare_ccer_rows(b: pyo.Block, scope: _EntityScope) -> None:
    """The unrestricted CCER stock, the expiry of old-system CCERs, opening lots and the offset cap."""
    import pyomo.environ as pyo

    d, years, pos, first, lots = scope.d, scope.years, scope.pos, scope.first, scope.lots

    @b.Constraint(years, doc="Unrestricted CCER stock: held in + bought - sold = used + held out")
    def balance_ccer(b, y):
        i = pos[y]
        incoming = d.opening_ccer_t if y == first else b.ccer_hold[years[i - 1]]
        return incoming + b.ccer_buy[y] - b.ccer_sell[y] == b.ccer_use[y] + b.ccer_hold[y]

    @b.Constraint(doc="Old-system market CCERs expire: the pool held out of their last year is new CCERs")
    def limit_ccer_old_expiry(b):
        k = d.ccer_old_expiry_index
        if k < 0:
            return pyo.Constraint.Skip
        new = [b.ccer_buy[years[i]] for i in range(k + 1) if not d.ccer_buy_old[i]]
        return b.ccer_hold[years[k]] <= d.opening_ccer_t + sum(new)

    @b.Constraint(b.CCER_LOTS, doc="CCER surrendered from a lot over all years <= its quantity")
    def limit_ccer_lot(b, l):
        used = [b.ccer_use_lot[ll, y] for (ll, y) in b.LOT_YEARS if ll == l]
        if not used:
            return pyo.Constraint.Skip
        return sum(used) <= lots[l].quantity_t

    @b.Constraint(years, doc="CCER surrendered <= cap share x obligation (or emissions)")
    def limit_ccer_share(b, y):
        i = pos[y]
        base = b.obligation[y] if d.ccer_cap_on_obligation else b.emissions[y]
        return b.ccer_surrendered[y] <= d.ccer_cap_share[i] * base


def _declare_abatement_limits(b: pyo.Block, scope: _EntityScope) -> None:
    """Abatement within the baseline; each project built at most once."""
    import pyomo.environ as pyo

    d, years, pos = scope.d, scope.years, scope.pos

    @b.Constraint(years, doc="Abatement cannot exceed baseline emissions")
    def limit_abatement_total(b, y):
        if not d.measures and not d.projects:
            return pyo.Constraint.Skip
        return (
            sum(b.abate[k, y] for k in b.MEASURES) + b.project_reduction[y]
            <= d.emissions_baseline_t[pos[y]]
        )

    @b.Constraint(b.PROJECTS, doc="A project is built at most once")
    def limit_project_once(b, p):
        opts = [b.build[pp, s] for (pp, s) in b.BUILD_OPTIONS if pp == p]
        return sum(opts) <= 1 if len(opts) > 1 else pyo.Constraint.Skip


def _declare_carryover_limits(b: pyo.Block, scope: _EntityScope) -> None:
    """The carry-over limit at each limited transition and the zero floor on net sales."""
    d, pos, ns_lo, ns_hi = scope.d, scope.pos, scope.ns_lo, scope.ns_hi

    @b.Constraint(b.LIMITED_YEARS, doc="Carried CEA <= carry-over limit at the transition")
    def limit_carryover(b, y):
        return b.carry[y] <= b.carry_limit[y]

    @b.Constraint(b.FLOOR_YEARS, doc="ns_pos <= net sales - threshold when the floor is off (big-M from bounds)")
    def limit_floor_net_sales(b, y):
        r = d.carry_rules[pos[y]]
        big_m = r.threshold_t - ns_lo[pos[y]]
        return b.ns_pos[y] <= b.net_sales[y] - r.threshold_t + big_m * (1 - b.floor_off[y])

    @b.Constraint(b.FLOOR_YEARS, doc="ns_pos = 0 when the floor is on (big-M from bounds)")
    def limit_floor_switch(b, y):
        r = d.carry_rules[pos[y]]
        return b.ns_pos[y] <= (ns_hi[pos[y]] - r.threshold_t) * b.floor_off[y]


def _declare_opening_limits(b: pyo.Block, scope: _EntityScope) -> None:
    """The limit of a decided opening transition and its zero floor."""
    import pyomo.environ as pyo

    d = scope.d

    @b.Constraint(b.OPENING_DECISION, doc="Opening allowances carried through the decided transition <= its limit at the opening net sales plus the sales before it")
    def limit_opening_carryover(b, y):
        r = d.opening_transitions[-1].rule
        ns0 = d.opening_net_sales_t
        if y in b.OPENING_FLOOR:
            limit = r.floor_t + r.multiplier * b.opening_ns_pos[y]
        elif not r.limited:
            return pyo.Constraint.Skip
        elif ns0 + opening_sell_upper(d) <= r.threshold_t or r.multiplier == 0:
            limit = r.floor_t
        else:  # net sales at or above the threshold whatever is sold (sales only raise them)
            limit = r.floor_t + r.multiplier * (ns0 + b.opening_sell[y] - r.threshold_t)
        return b.opening_carry[y] <= limit

    @b.Constraint(b.OPENING_FLOOR, doc="opening_ns_pos <= opening net sales + sales - threshold when the floor is off (big-M from bounds)")
    def limit_opening_floor_net_sales(b, y):
        r = d.opening_transitions[-1].rule
        ns0 = d.opening_net_sales_t
        return b.opening_ns_pos[y] <= ns0 + b.opening_sell[y] - r.threshold_t + (r.threshold_t - ns0) * (1 - b.opening_floor_off[y])

    @b.Constraint(b.OPENING_FLOOR, doc="opening_ns_pos = 0 when the floor is on (big-M from bounds)")
    def limit_opening_floor_switch(b, y):
        r = d.opening_transitions[-1].rule
        hi = d.opening_net_sales_t + opening_sell_upper(d)
        return b.opening_ns_pos[y] <= (hi - r.threshold_t) * b.opening_floor_off[y]


def _declare_fine_limit(b: pyo.Block, scope: _EntityScope) -> None:
    """The fixed fine: any shortfall of a fine year switches it on."""
    d, pos = scope.d, scope.pos

    @b.Constraint(b.FINE_YEARS, doc="Shortfall = 0 unless the fixed fine is paid (big-M: the obligation and deducted shortfalls)")
    def limit_fine(b, y):
        return b.shortfall[y] <= shortfall_upper(d, pos[y]) * b.fined[y]


def _declare_costs(b: pyo.Block, scope: _EntityScope) -> None:
    """The nominal cost components of each year (``COST_COMPONENTS``) and their sum."""
    d, years, pos, last, measures, options = scope.d, scope.years, scope.pos, scope.last, scope.measures, scope.options

    @b.Expression(years, doc="Cost of continuous abatement measures [CNY]")
    def cost_abatement(b, y):
        i = pos[y]
        return sum(measures[k].cost_cny_per_t[i] * b.abate[k, y] for k in b.MEASURES)

    @b.Expression(years, doc="Capital cost of projects (upfront or annuity) [CNY]")
    def cost_capex(b, y):
        i = pos[y]
        return sum(options[o].capex_cny[i] * b.build[o] for o in b.BUILD_OPTIONS if options[o].capex_cny[i])

    @b.Expression(years, doc="Fixed operating cost of built projects [CNY]")
    def cost_opex(b, y):
        i = pos[y]
        return sum(options[o].opex_cny[i] * b.build[o] for o in b.BUILD_OPTIONS if options[o].opex_cny[i])

    @b.Expression(years, doc="CEA purchases at the buy price, and auction purchases at the auction price [CNY]")
    def cost_purchase(b, y):
        i = pos[y]
        auction = d.price_auction_cny_per_t[i] * b.auction_buy[y] if y in b.AUCTION_YEARS else 0.0
        return d.price_buy_cny_per_t[i] * b.buy[y] + auction

    @b.Expression(years, doc="Trading fees on CEA and CCER trades (and sales before an opening transition, first year) [CNY]")
    def cost_fees(b, y):
        i = pos[y]
        fees = d.fee_cea_cny_per_t[i] * (b.buy[y] + b.sell[y]) + d.fee_ccer_cny_per_t[i] * (
            b.ccer_buy[y] + b.ccer_sell[y]
        )
        if y in b.OPENING_DECISION:
            fees = fees + d.fee_opening_cny_per_t * b.opening_sell[y]
        return fees

    @b.Expression(years, doc="CCER purchases [CNY]")
    def cost_ccer(b, y):
        return d.price_ccer_buy_cny_per_t[pos[y]] * b.ccer_buy[y]

    @b.Expression(years, doc="Fine on shortfall (per tonne, or fixed), plus the beyond-horizon deduction in the last year [CNY]")
    def cost_penalty(b, y):
        rate = d.penalty_cny_per_t[pos[y]]
        if y == last and d.shortfall_deducted_next_year:
            rate += d.terminal_deduction_cny_per_t
        if y in b.FINE_YEARS:
            return rate * b.shortfall[y] + d.fine_fixed_cny[pos[y]] * b.fined[y]
        return rate * b.shortfall[y]

    @b.Expression(years, doc="CEA and CCER sales revenue (and sales before an opening transition, first year), negative [CNY]")
    def cost_sales(b, y):
        i = pos[y]
        revenue = d.price_sell_cny_per_t[i] * b.sell[y] + d.price_ccer_sell_cny_per_t[i] * b.ccer_sell[y]
        if y in b.OPENING_DECISION:
            revenue = revenue + d.price_opening_sell_cny_per_t * b.opening_sell[y]
        return -revenue

    @b.Expression(years, doc="Value of holdings left at the horizon end (negative), less pre-draws repaid beyond it, last year only [CNY]")
    def cost_terminal(b, y):
        if y != last:
            return 0.0
        owed = 0.0
        if d.borrow_source_index < 0:
            owed = d.borrow_terminal_cny_per_t * sum(b.borrow[t] for t in b.BORROW_YEARS)
        value = d.terminal_cea_value_cny_per_t * b.carry[y] + d.terminal_ccer_value_cny_per_t * b.ccer_hold[y]
        for lot in d.ccer_lots:
            if lot.terminal_value_cny_per_t:
                used = sum(b.ccer_use_lot[ll, yy] for (ll, yy) in b.LOT_YEARS if ll == lot.id)
                value += lot.terminal_value_cny_per_t * (lot.quantity_t - used)
        return owed - value

    @b.Expression(years, doc="Sum of the cost components of the year [CNY]")
    def total_cost(b, y):
        return sum(getattr(b, f"cost_{c}")[y] for c in COST_COMPONENTS)
