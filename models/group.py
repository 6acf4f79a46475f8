"""The only model entry point: one or more entity blocks over common years, one objective.

A single entity is a group of one, so the corporate CLI and the group desk run the same math.
Group links (transfers, pooled CCERs, group limits) are added here as ``link_*`` constraints; the
entity blocks are built by ``models.entity.add_entity`` unchanged.

With transfers, an entity block's ``buy``/``sell`` are all its exchange trades: intra-group
transfers are exchange trades (rules.md R2.5), split here into market and intra-group parts
(``link_buy``, ``link_sell``). The block prices every purchase at its market price; ``cost_transfer``
corrects the intra-group part to the internal transfer price, so the group objective is exact.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from models.bounds import block_bound, net_sales_range
from models.data import GroupLinks, ModelData
from models.entity import COST_COMPONENTS, add_entity, pyomo_bound

if TYPE_CHECKING:
    import pyomo.environ as pyo  # imported by the functions that build: see models/__init__.py

LINK_COST_COMPONENTS: tuple[str, ...] = ("transfer", "pool", "tiers")
"""Group-level cost expressions ``cost_<name>[y]`` added to the objective (0 without links)."""


def build_model(data: ModelData, relax: float = 1.0) -> pyo.ConcreteModel:
    """Build the compliance model for ``data``: entity blocks, group links and the discounted-cost objective.

    ``relax`` widens every bound the model derives from the data by that factor (``models.bounds``;
    tests use it to show that the derived bounds never change the optimum)."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel(name="cn_ets_compliance")
    years = tuple(data.years)
    m.YEARS = pyo.Set(initialize=years, ordered=True, doc="Compliance years")
    m.ENTITIES = pyo.Set(initialize=[e.id for e in data.entities], ordered=True, doc="Covered entities")
    by_id = {e.id: e for e in data.entities}
    m._entity_data = by_id  # read by models.extract (the rules behind the reported limits)
    df = dict(zip(years, data.discount_factor, strict=True))

    rng = net_sales_range(data, relax)
    k_of = {e.id: k for k, e in enumerate(data.entities)}

    def _entity(b: pyo.Block, e: str) -> None:
        k = k_of[e]
        add_entity(b, by_id[e], years, (tuple(rng.lo[k].tolist()), tuple(rng.hi[k].tolist())))

    m.entity = pyo.Block(m.ENTITIES, rule=_entity, doc="One block per covered entity")

    link_cost = None
    if data.group is not None:
        link_cost = add_links(m, data, data.group, relax)

    @m.Expression(m.YEARS, doc="Discounted cost of all entities (and group links) in a year [CNY]")
    def total_discounted_cost(m, y):
        extra = sum(getattr(m, f"cost_{c}")[y] for c in LINK_COST_COMPONENTS) if link_cost else 0.0
        return df[y] * (sum(m.entity[e].total_cost[y] for e in m.ENTITIES) + extra)

    obj = sum(
        df[y] * getattr(m.entity[e], f"cost_{c}")[y]
        for e in m.ENTITIES
        for y in m.YEARS
        for c in COST_COMPONENTS
    )
    if link_cost:
        obj += sum(df[y] * getattr(m, f"cost_{c}")[y] for y in m.YEARS for c in LINK_COST_COMPONENTS)
    m.objective = pyo.Objective(
        expr=obj,
        sense=pyo.minimize,
        doc="Net present cost of compliance: sum of discounted cost components (entities and group links)",
    )
    return m


def _years(data: ModelData) -> tuple[tuple[int, ...], dict[int, int]]:
    """The model years and each year's position (the index of the per-year data)."""
    years = tuple(data.years)
    return years, {y: i for i, y in enumerate(years)}


def add_links(m: pyo.ConcreteModel, data: ModelData, g: GroupLinks, relax: float = 1.0) -> bool:
    """Add the group's variables, ``link_*`` constraints and ``cost_*`` link expressions to ``m``.

    The declaration order is the model's row order (and so its columns' order): keep it."""
    t_in, t_out = _add_transfers(m, data, g, relax)
    mbuy, msell = _add_trade_links(m, data, g, t_in, t_out)
    _add_ccer_pool(m, data, g)
    _add_group_limits(m, data, g, mbuy, msell)
    return True


def _add_transfers(m: pyo.ConcreteModel, data: ModelData, g: GroupLinks, relax: float):
    """Market trades and intra-group transfers (free or in blocks): returns the functions giving
    the transfers an entity receives and passes on in a year (None without transfers)."""
    import pyomo.environ as pyo

    years, pos = _years(data)
    ents = [e.id for e in data.entities]
    idx = {e: i for i, e in enumerate(ents)}
    t_in = t_out = None

    if g.transfers != "none":
        m.market_buy = pyo.Var(
            m.ENTITIES, m.YEARS,
            bounds=lambda _, e, y: (0, pyomo_bound(g.market_buy_max_t[idx[e]][pos[y]])),
            doc="CEA an entity buys on the market (outside the group) [t]",
        )
        m.market_sell = pyo.Var(
            m.ENTITIES, m.YEARS,
            bounds=lambda _, e, y: (0, pyomo_bound(g.market_sell_max_t[idx[e]][pos[y]])),
            doc="CEA an entity sells on the market (outside the group) [t]",
        )
    if g.transfers == "free":
        m.transfer_in = pyo.Var(
            m.ENTITIES, m.YEARS, within=pyo.NonNegativeReals,
            doc="CEA an entity receives from other group entities (free transfers) [t]",
        )
        m.transfer_out = pyo.Var(
            m.ENTITIES, m.YEARS, within=pyo.NonNegativeReals,
            doc="CEA an entity passes to other group entities (free transfers) [t]",
        )

        @m.Constraint(m.YEARS, doc="Free transfers net to zero over the group in each year")
        def link_transfer_balance(m, y):
            return sum(m.transfer_in[e, y] for e in m.ENTITIES) == sum(m.transfer_out[e, y] for e in m.ENTITIES)

        def t_in(e, y):
            return m.transfer_in[e, y]

        def t_out(e, y):
            return m.transfer_out[e, y]

    elif g.transfers == "block":
        lot = g.transfer_min_lot_t
        pairs = list(g.transfer_pairs) or [(s, d) for s in ents for d in ents if s != d]
        u = block_bound(data, relax).tolist()  # the most one block (or one entity's blocks) moves in a year

        def cap(s, d, y):
            return u[pos[y]]

        open_pairs = [(s, d, y) for (s, d) in pairs for y in years]
        m.PAIR_YEARS = pyo.Set(
            dimen=3, ordered=True, initialize=open_pairs,
            doc="(seller, buyer, year) in which a block transfer is allowed",
        )
        m.transfer = pyo.Var(
            m.PAIR_YEARS, bounds=lambda _, s, d, y: (0, cap(s, d, y)),
            doc="CEA transferred from seller to buyer in a year as a block trade [t]",
        )
        m.block_on = pyo.Var(m.PAIR_YEARS, within=pyo.Binary, doc="1 if the pair trades a block in the year")

        @m.Constraint(m.PAIR_YEARS, doc="A block transfer is at least the minimum lot when it happens")
        def link_block_min(m, s, d, y):
            return m.transfer[s, d, y] >= lot * m.block_on[s, d, y]

        @m.Constraint(m.PAIR_YEARS, doc="No block transfer unless the pair trades (bound from the data)")
        def link_block_max(m, s, d, y):
            return m.transfer[s, d, y] <= cap(s, d, y) * m.block_on[s, d, y]

        into: dict[tuple[str, int], list] = {}
        outof: dict[tuple[str, int], list] = {}
        for s, d, y in open_pairs:
            outof.setdefault((s, y), []).append((s, d, y))
            into.setdefault((d, y), []).append((s, d, y))

        # Option (off by default; not a rule: rules.md R7.1 sets only the minimum lot): an entity either
        # passes blocks on or receives them in a year, never both. Without it, two opposite blocks of
        # at least the lot may move a small net amount, and a plant may route a block on in the year
        # it receives it.
        both = [(e, y) for e in ents for y in years if (e, y) in into and (e, y) in outof] if g.block_one_way else []
        m.SEND_YEARS = pyo.Set(
            dimen=2, ordered=True, initialize=both,
            doc="(entity, year) in which the entity could both send and receive blocks, with the one-way option (one binary each)",
        )
        m.sends = pyo.Var(m.SEND_YEARS, within=pyo.Binary, doc="1 if the entity passes blocks on in the year (0: receives)")

        @m.Constraint(m.SEND_YEARS, doc="Blocks passed on only by a sender (derived bound)")
        def link_block_sender(m, e, y):
            return sum(m.transfer[k] for k in outof[e, y]) <= u[pos[y]] * m.sends[e, y]

        @m.Constraint(m.SEND_YEARS, doc="Blocks received only by a receiver (derived bound)")
        def link_block_receiver(m, e, y):
            return sum(m.transfer[k] for k in into[e, y]) <= u[pos[y]] * (1 - m.sends[e, y])

        def t_in(e, y):
            return sum(m.transfer[k] for k in into.get((e, y), []))

        def t_out(e, y):
            return sum(m.transfer[k] for k in outof.get((e, y), []))

    return t_in, t_out


def _add_trade_links(m: pyo.ConcreteModel, data: ModelData, g: GroupLinks, t_in, t_out):
    """Each entity's exchange trades as market trades plus transfers, the transfers' settlement
    at the internal price (``cost_transfer``); returns the functions giving an entity's market
    purchases and sales in a year."""
    import pyomo.environ as pyo

    years, pos = _years(data)
    ents = [e.id for e in data.entities]
    by_id = {e.id: e for e in data.entities}
    has_transfers = g.transfers != "none"

    if has_transfers:

        @m.Constraint(m.ENTITIES, m.YEARS, doc="Entity CEA bought = market purchases + transfers received")
        def link_buy(m, e, y):
            return m.entity[e].buy[y] == m.market_buy[e, y] + t_in(e, y)

        @m.Constraint(m.ENTITIES, m.YEARS, doc="Entity CEA sold = market sales + transfers passed on")
        def link_sell(m, e, y):
            return m.entity[e].sell[y] == m.market_sell[e, y] + t_out(e, y)

        if not g.transfers_in_net_sales:
            # the carry-over rule counts market trades only: take the transfers out of the block's
            # named net-sales expression (every constraint using it sees the change)
            for e in ents:
                b = m.entity[e]
                for y in years:
                    moved = sum(t_out(e, t) - t_in(e, t) for t in years if t <= y)
                    b.net_sales[y].set_value(b.net_sales[y].expr - moved)

        @m.Expression(m.YEARS, doc="Transfers settled at the internal price instead of the market prices the blocks charge [CNY]")
        def cost_transfer(m, y):
            i = pos[y]
            p = g.transfer_price_cny_per_t[i]
            return sum(
                (p - by_id[e].price_buy_cny_per_t[i]) * t_in(e, y) - (p - by_id[e].price_sell_cny_per_t[i]) * t_out(e, y)
                for e in ents
            )

        def mbuy(e, y):
            return m.market_buy[e, y]

        def msell(e, y):
            return m.market_sell[e, y]
    else:
        m.cost_transfer = pyo.Expression(m.YEARS, rule=lambda m, y: 0.0, doc="Transfers settled at the internal price (no transfers: 0) [CNY]")

        def mbuy(e, y):
            return m.entity[e].buy[y]

        def msell(e, y):
            return m.entity[e].sell[y]

    return mbuy, msell


def _add_ccer_pool(m: pyo.ConcreteModel, data: ModelData, g: GroupLinks) -> None:
    """The group's shared CCER pool: its stock and its cost (``cost_pool``, 0 without a pool)."""
    import pyomo.environ as pyo

    years, pos = _years(data)
    last = years[-1]

    if g.pool:
        m.pool_buy = pyo.Var(
            m.YEARS, bounds=lambda _, y: (0, pyomo_bound(g.pool_max_t[pos[y]])),
            doc="CCER bought by the group for its pool [t]",
        )
        m.pool_hold = pyo.Var(m.YEARS, within=pyo.NonNegativeReals, doc="CCER left in the group pool after the year's allocations [t]")

        @m.Constraint(m.YEARS, doc="Pool: held in + bought = allocated to entities (their ccer_buy) + held out")
        def link_ccer_pool(m, y):
            i = pos[y]
            incoming = g.pool_opening_t if i == 0 else m.pool_hold[years[i - 1]]
            return incoming + m.pool_buy[y] == sum(m.entity[e].ccer_buy[y] for e in m.ENTITIES) + m.pool_hold[y]

        @m.Expression(m.YEARS, doc="Pool purchases with fees, less the pool's terminal value in the last year [CNY]")
        def cost_pool(m, y):
            i = pos[y]
            c = (g.pool_price_cny_per_t[i] + g.pool_fee_cny_per_t[i]) * m.pool_buy[y]
            if y == last:
                c -= g.pool_terminal_cny_per_t * m.pool_hold[y]
            return c
    else:
        m.cost_pool = pyo.Expression(m.YEARS, rule=lambda m, y: 0.0, doc="Pool purchases (no pool: 0) [CNY]")



def _add_group_limits(m: pyo.ConcreteModel, data: ModelData, g: GroupLinks, mbuy, msell) -> None:
    """The group's market limits, the price tiers of its market purchases and its budget."""
    import pyomo.environ as pyo

    years, pos = _years(data)
    ents = [e.id for e in data.entities]
    last = years[-1]

    limited_buy = [y for y in years if g.group_buy_max_t and math.isfinite(g.group_buy_max_t[pos[y]])]
    limited_sell = [y for y in years if g.group_sell_max_t and math.isfinite(g.group_sell_max_t[pos[y]])]
    m.GROUP_BUY_YEARS = pyo.Set(initialize=limited_buy, ordered=True, doc="Years with a group market purchase limit")
    m.GROUP_SELL_YEARS = pyo.Set(initialize=limited_sell, ordered=True, doc="Years with a group market sale limit")

    @m.Constraint(m.GROUP_BUY_YEARS, doc="Group market purchases <= group limit")
    def link_group_buy(m, y):
        return sum(mbuy(e, y) for e in ents) <= g.group_buy_max_t[pos[y]]

    @m.Constraint(m.GROUP_SELL_YEARS, doc="Group market sales <= group limit")
    def link_group_sell(m, y):
        return sum(msell(e, y) for e in ents) <= g.group_sell_max_t[pos[y]]

    m.TIERS = pyo.Set(initialize=list(range(len(g.tiers))), ordered=True, doc="Price tiers of the group's market purchases")
    m.tier_buy = pyo.Var(
        m.TIERS, m.YEARS, bounds=lambda _, k, y: (0, pyomo_bound(g.tiers[k].width_t)),
        doc="Group market purchases priced in a tier [t]",
    )

    @m.Constraint(m.YEARS, doc="Tier volumes add up to the group's market purchases")
    def link_tiers(m, y):
        if not g.tiers:
            return pyo.Constraint.Skip
        return sum(m.tier_buy[k, y] for k in m.TIERS) == sum(mbuy(e, y) for e in ents)

    @m.Expression(m.YEARS, doc="Premium of the price tiers over the entities' buy prices [CNY]")
    def cost_tiers(m, y):
        return sum(g.tiers[k].premium_cny_per_t * m.tier_buy[k, y] for k in m.TIERS)

    budget_years = [y for y in years if g.budget_cny and math.isfinite(g.budget_cny[pos[y]])]
    m.BUDGET_YEARS = pyo.Set(initialize=budget_years, ordered=True, doc="Years with a group budget")

    @m.Constraint(m.BUDGET_YEARS, doc="Group cash cost of the year (before terminal values) <= budget")
    def link_budget(m, y):
        cash = sum(m.entity[e].total_cost[y] - m.entity[e].cost_terminal[y] for e in ents)
        pool_terminal = (g.pool_terminal_cny_per_t * m.pool_hold[y]) if (g.pool and y == last) else 0.0
        cash += m.cost_transfer[y] + m.cost_pool[y] + pool_terminal + m.cost_tiers[y]
        return cash <= g.budget_cny[pos[y]]
