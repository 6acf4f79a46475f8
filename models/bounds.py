"""Bounds the model derives from the data, the price paths that make it unbounded, and whether a
solved plan sits on a derived bound.

Only two places of the model need a finite value that no input gives: the big-M of the carry-over
floor (a range for each entity's cumulative net sales, ``net_sales_range``) and the big-M of a block
transfer (the tonnes one block can move, ``block_bound``). Everything else is bounded by a limit
the case gives, or not at all: purchases without a market limit and free transfers have no upper
bound. A price path that rewards buying without limit then makes the model unbounded, and
``unbounded_arbitrage`` names it before the solve.

Every derived bound is valid for the model it is in, a group (a single entity is a group of one):
``models/FORMULATION.md`` ("Derived bounds") gives the argument for each. Two kinds:

- *structural* bounds hold for every feasible plan (holdings never go negative, given limits);
- *argued* bounds hold for some optimal plan (an optimal plan can be changed, at no extra cost,
  into one that satisfies them). Each argued bound is widened by a margin (``MARGIN``) beyond what
  the argument proves, so a plan that reaches one is outside the argument: ``bound_hits`` reports
  it, and the orchestration does not call such a plan optimal.

All bounds depend on quantities only (emissions, allocation, limits, rules), never on prices, so a
sweep that re-solves a built model with new prices keeps valid bounds.

This module imports only NumPy and the model data (no Pyomo): the array assembler uses it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.data import ModelData

INF = math.inf

MARGIN_REL = 1e-3
MARGIN_ABS_T = 1.0
"""An argued bound lies this far (relative to its size, and at least ``MARGIN_ABS_T`` tonnes)
beyond the value the argument proves, so that reaching it means the argument does not hold."""


def _margin(x: np.ndarray) -> np.ndarray:
    return MARGIN_ABS_T + MARGIN_REL * np.abs(x)


@dataclass(frozen=True)
class NetSalesRange:
    """Bounds on each entity's cumulative net sales (entity x year arrays) and what they are."""

    lo: np.ndarray
    hi: np.ndarray
    lo_argued: np.ndarray
    """True where ``lo`` comes from the optimality argument (limited years), not from given limits."""
    hi_argued: np.ndarray
    """True where ``hi`` comes from the optimality argument (transfers kept out of net sales)."""


def _per_entity(data: ModelData, name: str, default: float = 0.0) -> np.ndarray:
    n = len(data.years)
    rows = [getattr(e, name) or (default,) * n for e in data.entities]
    return np.array(rows, dtype=float).reshape(len(data.entities), n)


def _rules(data: ModelData):
    ents = data.entities
    E, n = len(ents), len(data.years)
    limited = np.array([[r.limited for r in e.carry_rules] for e in ents], dtype=bool).reshape(E, n)
    floor = np.array([[float(r.floor_t) for r in e.carry_rules] for e in ents]).reshape(E, n)
    mult = np.array([[float(r.multiplier) for r in e.carry_rules] for e in ents]).reshape(E, n)
    thr = np.array([[float(r.threshold_t) for r in e.carry_rules] for e in ents]).reshape(E, n)
    return limited, floor, mult, thr


def _group_links(data: ModelData):
    g = data.group
    mode = g.transfers if g is not None else "none"
    in_ns = g.transfers_in_net_sales if (g is not None and mode != "none") else True
    return g, mode, in_ns


def _pair_count(data: ModelData) -> int:
    g = data.group
    if g is None or g.transfers != "block":
        return 0
    E = len(data.entities)
    return len(g.transfer_pairs) if g.transfer_pairs else E * (E - 1)


def _group_limit(values: tuple[float, ...], n: int) -> np.ndarray:
    return np.array(values, dtype=float) if values else np.full(n, INF)


def own_resources(data: ModelData, alloc_up: np.ndarray | None = None) -> np.ndarray:
    """Per entity and year: everything the entity can hold without buying on the market, cumulated
    (opening holdings, allocation with relief and pre-draws at their bounds, auctions) [t]."""
    if alloc_up is None:
        alloc_up = allocation_upper_array(data)
    return _opening(data) + np.cumsum(alloc_up + _per_entity(data, "auction_max_t"), axis=1)


def _opening(data: ModelData) -> np.ndarray:
    """Per entity (a column): the opening holdings that can enter the first year, after the lapse at
    the opening transitions the data decide (holdings above a limit and at it give the same bounds)."""
    from models.entity import opening_usable

    return np.array([opening_usable(e) for e in data.entities], dtype=float).reshape(-1, 1)


def _opening_net_sales_pos(data: ModelData) -> float:
    """The group's positive opening net sales, sales before a decided opening transition included."""
    ons = np.array([e.opening_net_sales_t for e in data.entities], dtype=float).reshape(-1, 1)
    return float(np.maximum(0.0, ons + _opening_sales(data)).sum())


def _opening_sales(data: ModelData) -> np.ndarray:
    """Per entity (a column): the most it can sell before a decided opening transition (such sales
    raise net sales and are bounded by the holdings that reach the transition, not by market limits)."""
    from models.entity import opening_sell_upper

    return np.array([opening_sell_upper(e) for e in data.entities], dtype=float).reshape(-1, 1)


def allocation_upper_array(data: ModelData) -> np.ndarray:
    """``allocation_upper`` of every entity-year, an E x n array."""
    from models.entity import allocation_upper

    n = len(data.years)
    rows = [[allocation_upper(e, i) for i in range(n)] for e in data.entities]
    return np.array(rows, dtype=float).reshape(len(data.entities), n)


def _sale_restricted(data: ModelData) -> np.ndarray:
    """Entity-years in which a lapse cannot be replaced by a market sale: a sale limit (the entity's
    or the group's). The argument also needs a sale price at least the trading fee; prices are not
    read here, so that a sweep can re-price a built model."""
    g, mode, _ = _group_links(data)
    n = len(data.years)
    if g is not None and mode != "none":
        sell = np.array(g.market_sell_max_t, dtype=float).reshape(len(data.entities), n)
    else:
        sell = _per_entity(data, "sell_max_t")
    gsell = _group_limit(g.group_sell_max_t, n) if g is not None else np.full(n, INF)
    return np.isfinite(sell) | np.isfinite(gsell)[None, :]


def net_sales_range(data: ModelData, relax: float = 1.0, *, base: np.ndarray | None = None,
                    alloc_up: np.ndarray | None = None) -> NetSalesRange:
    """Bounds on the cumulative net sales NS of every entity and year, valid for the group
    (models/FORMULATION.md, "Derived bounds"). ``relax`` widens every bound's distance from the
    opening net sales by that factor (tests show that this never lowers the optimum); ``base`` and
    ``alloc_up``: baseline emissions and ``allocation_upper`` per entity and year when the caller
    has them."""
    ents = data.entities
    E, n = len(ents), len(data.years)
    g, mode, in_ns = _group_links(data)
    if base is None:
        base = _per_entity(data, "emissions_baseline_t")
    if alloc_up is None:
        alloc_up = allocation_upper_array(data)
    limited, floor, mult, thr = _rules(data)
    ons = np.array([e.opening_net_sales_t for e in ents], dtype=float).reshape(E, 1)
    opening = _opening(data)
    auction = _per_entity(data, "auction_max_t")
    counted = np.array([e.auction_in_net_sales for e in ents], dtype=bool).reshape(E, 1)
    bought_auction = np.where(counted, np.cumsum(auction, axis=1), 0.0)
    if in_ns:
        # holdings never go negative: NS <= NS0 + everything the entity can get without the market
        # (auctioned allowances only where they do not count as purchases)
        hi = ons + opening + np.cumsum(alloc_up + np.where(counted, 0.0, auction), axis=1)
        hi = np.minimum(hi, ons + _opening_sales(data) + np.cumsum(_per_entity(data, "sell_max_t"), axis=1))
        hi_argued = np.zeros((E, n), dtype=bool)
        lo = ons - np.cumsum(_per_entity(data, "buy_max_t"), axis=1) - bought_auction
    else:
        # net sales count market trades only: sales of allowances received from sisters raise them
        mbuy = np.array(g.market_buy_max_t, dtype=float).reshape(E, n)
        msell = np.array(g.market_sell_max_t, dtype=float).reshape(E, n)
        lo = ons - np.cumsum(mbuy, axis=1) - bought_auction
        hi_given = ons + _opening_sales(data) + np.cumsum(msell, axis=1)
        own = own_resources(data, alloc_up)
        group_own = own.sum(axis=0)
        pump = _pump(data, base, group_own, limited, mult)
        argued = ons + group_own[None, :] + pump
        argued = argued + _margin(argued - ons)
        hi = np.minimum(hi_given, argued)
        hi_argued = argued < hi_given
    # limited years: an optimal plan has NS >= min(threshold, NS0 - emissions so far - floor - extra)
    argued = ons - np.cumsum(base, axis=1) - floor - _group_extra(data, base, alloc_up, limited, floor, mult, in_ns, mode)
    # at or above the threshold the argument proves NS >= threshold: the linear regime, exact there
    arg = np.where(argued < thr, argued - _margin(ons - argued), thr)
    lo_argued = limited & (arg > lo)
    lo = np.where(lo_argued, arg, lo)
    if relax != 1.0:
        lo = ons - relax * (ons - lo)
        hi = ons + relax * (hi - ons)
    return NetSalesRange(lo=lo, hi=hi, lo_argued=lo_argued, hi_argued=hi_argued)


def _pump(data, base, group_own, limited, mult) -> float:
    """With transfers kept out of net sales, tonnes one entity buys and a sister sells raise the
    sister's net sales. That is worth doing only for the carry-over room it creates, and the room a
    group can use is at most what it will still surrender or could otherwise lapse: (S + G) / k."""
    k = mult[limited & (mult > 0)]
    if k.size == 0:
        return 0.0
    return float((base.sum() + group_own[-1]) / k.min())


def _group_extra(data, base, alloc_up, limited, floor, mult, in_ns, mode) -> np.ndarray:
    """What the group adds to an entity's own lower-bound argument on net sales (0 alone)."""
    E, n = base.shape
    if mode == "none":
        return np.zeros((E, n))
    own = own_resources(data, alloc_up)
    group_own = own.sum(axis=0)
    if in_ns:
        # allowances a sister passes on only to raise its net sales, lapsed here: only where this
        # entity could not sell them instead (a sale limit, its own or the group's)
        flag = np.logical_or.accumulate(limited & _sale_restricted(data), axis=1)
        stuck = data.group.transfer_min_lot_t * _pair_count(data) * np.arange(1, n + 1)
        return np.where(flag, group_own[None, :] - own + stuck[None, :], 0.0)
    # transfers outside net sales: tonnes bought here and passed on to sisters (their obligations,
    # their carry-over room, and what they sell to raise their net sales) never come back into NS
    pump = _pump(data, base, group_own, limited, mult)
    kmax = float(mult[limited].max()) if limited.any() else 0.0
    ons_pos = _opening_net_sales_pos(data)
    room = (floor * limited).sum(axis=0) + kmax * (ons_pos + 2.0 * group_own + pump)
    return np.broadcast_to(base.sum() + room + pump, (E, n)).copy()


def carry_room(data: ModelData, rng: NetSalesRange | None = None) -> np.ndarray:
    """Per entity and year: the most an entity can carry over a limited transition (inf where the
    transition is unlimited), from the upper bound on its net sales."""
    limited, floor, mult, thr = _rules(data)
    if rng is None:
        rng = net_sales_range(data)
    plain = floor + mult * np.maximum(0.0, rng.hi - thr)
    _, _, in_ns = _group_links(data)
    if in_ns:
        # carrying h lowers the most net sales can be by h (holdings never go negative), so
        # h <= F + k (NS_max - h - theta): h <= (F + k (NS_max - theta)) / (1 + k)
        alloc_up = allocation_upper_array(data)
        ident = own_resources(data, alloc_up) + np.array([e.opening_net_sales_t for e in data.entities]).reshape(-1, 1)
        tight = np.maximum(floor, (floor + mult * np.maximum(0.0, ident - thr)) / (1.0 + mult))
        plain = np.minimum(plain, tight)
    return np.where(limited, plain, INF)


def block_bound(data: ModelData, relax: float = 1.0) -> np.ndarray:
    """Per year: the most one block transfer (or all the blocks one entity sends) moves in some
    optimal plan, for the group (models/FORMULATION.md, "Derived bounds"): the tonnes the year's
    blocks move on net (what their receivers surrender, carry, or sell or lapse of their senders'
    own allowances) plus a lot for each pair (blocks kept at the lot)."""
    g, mode, in_ns = _group_links(data)
    n = len(data.years)
    if mode != "block":
        return np.full(n, INF)
    ents = data.entities
    base = _per_entity(data, "emissions_baseline_t")
    alloc_up = allocation_upper_array(data)
    limited, floor, mult, _ = _rules(data)
    own = own_resources(data, alloc_up)
    group_own = own.sum(axis=0)
    inflow = alloc_up + _per_entity(data, "auction_max_t")
    # surrendered by the receivers in the year: their obligations, and last year's shortfall where
    # it is deducted (it rolls: at most every earlier obligation)
    rolls = np.array([e.shortfall_allowed and e.shortfall_deducted_next_year for e in ents], dtype=bool).reshape(-1, 1)
    earlier = np.cumsum(base, axis=1) - base
    surrender = base.sum(axis=0) + np.where(rolls, earlier, 0.0).sum(axis=0)
    # carried by the receivers out of the year: their carry-over room (all of it, with transfers out
    # of net sales: what the group's net sales can raise), or where a transition is unlimited what the
    # group will still surrender, its own allowances and every limited room of the horizon
    room = carry_room(data)
    if in_ns:
        held = np.where(limited, room, 0.0).sum(axis=0)
    else:
        kmax = float(mult[limited].max()) if limited.any() else 0.0
        ons_pos = _opening_net_sales_pos(data)
        held = (floor * limited).sum(axis=0) + kmax * (ons_pos + group_own)
    everything = base.sum() + np.where(rolls, base, 0.0).sum() + held.sum()
    held = np.where(limited.all(axis=0), held, everything + group_own)
    # sold or lapsed by the receivers beyond their own stock: their senders' own allowances of the
    # year (carried in within the senders' room, or received)
    carried_in = np.concatenate([_opening(data),
                                 np.where(limited[:, :-1] & in_ns, room[:, :-1], own[:, :-1])], axis=1)
    stock = np.minimum(own, carried_in + inflow).sum(axis=0)
    lot = g.transfer_min_lot_t
    u = surrender + held + stock + 2.0 * lot * _pair_count(data)
    if not in_ns:
        u = u + _pump(data, base, group_own, limited, mult)
    u = u + _margin(u)
    return relax * u


# ---- unbounded price paths ------------------------------------------------------------------------


def unbounded_arbitrage(data: ModelData) -> str | None:
    """A price path on which buying without limit and selling later (or holding to the horizon's
    end) earns money with nothing to stop it (no market limit, no carry-over limit on the way), in
    words naming the years and prices; None when there is none. The model then has no optimum."""
    for find in (_cea_path, _ccer_path, _pool_path):
        why = find(data)
        if why:
            return why
    return None


def _tol(x: float) -> float:
    return 1e-9 * max(1.0, abs(x))


def _cea_path(data: ModelData) -> str | None:
    ents = data.entities
    years = list(data.years)
    n, E = len(years), len(ents)
    g, mode, _ = _group_links(data)
    df = data.discount_factor
    linked = g is not None and mode != "none"
    prem = g.tiers[-1].premium_cny_per_t if (g is not None and g.tiers) else 0.0
    gbuy = _group_limit(g.group_buy_max_t, n) if g is not None else np.full(n, INF)
    gsell = _group_limit(g.group_sell_max_t, n) if g is not None else np.full(n, INF)
    budget = _group_limit(g.budget_cny, n) if g is not None else np.full(n, INF)
    if linked:
        mbuy = [tuple(r) for r in g.market_buy_max_t]
        msell = [tuple(r) for r in g.market_sell_max_t]
    else:
        mbuy = [e.buy_max_t for e in ents]
        msell = [e.sell_max_t for e in ents]
    pairs = None
    if mode == "block" and g.transfer_pairs:
        idx = {e.id: k for k, e in enumerate(ents)}
        pairs = [(idx[s], idx[d]) for s, d in g.transfer_pairs]
    # best[k]: least present cost of one tonne held by entity k in the current year, and where it came from
    best = [INF] * E
    origin: list[tuple[int, int] | None] = [None] * E
    for i in range(n):
        for k, e in enumerate(ents):
            if math.isinf(mbuy[k][i]) and math.isinf(gbuy[i]) and math.isinf(budget[i]):
                c = df[i] * (e.price_buy_cny_per_t[i] + e.fee_cea_cny_per_t[i] + prem)
                if c < best[k]:
                    best[k], origin[k] = c, (k, i)
        if linked:
            fee = [df[i] * e.fee_cea_cny_per_t[i] for e in ents]
            if pairs is None:  # free (or every pair): one move is never dearer than several
                j = min(range(E), key=lambda k: best[k] + fee[k])
                via = best[j] + fee[j]
                for k in range(E):
                    if via + fee[k] < best[k]:
                        best[k], origin[k] = via + fee[k], origin[j]
            else:
                for _ in range(E):
                    changed = False
                    for s, d in pairs:
                        c = best[s] + fee[s] + fee[d]
                        if c < best[d] - _tol(c):
                            best[d], origin[d], changed = c, origin[s], True
                    if not changed:
                        break
        for k, e in enumerate(ents):
            if origin[k] is None or not (math.isinf(msell[k][i]) and math.isinf(gsell[i])):
                continue
            rev = df[i] * (e.price_sell_cny_per_t[i] - e.fee_cea_cny_per_t[i])
            if rev - best[k] > _tol(rev):
                return _cea_text(data, origin[k], (k, i), rev - best[k], prem)
        for k, e in enumerate(ents):
            if e.carry_rules[i].limited:
                best[k], origin[k] = INF, None
    for k, e in enumerate(ents):
        if origin[k] is None:
            continue
        rev = df[-1] * e.terminal_cea_value_cny_per_t
        if rev - best[k] > _tol(rev):
            return _cea_text(data, origin[k], (k, None), rev - best[k], prem)
    return None


def _cea_text(data: ModelData, bought: tuple[int, int], sold: tuple[int, int | None], gain: float, prem: float) -> str:
    ents, years = data.entities, data.years
    b, i = bought
    s, j = sold
    eb, es = ents[b], ents[s]
    group = len(ents) > 1
    who_b = f"{eb.id} " if group else ""
    who_s = f"{es.id} " if group and s != b else ""
    buy = eb.price_buy_cny_per_t[i] + prem
    fee_b = eb.fee_cea_cny_per_t[i]
    head = (f"the prices reward unbounded arbitrage: CEA {who_b}bought in {years[i]} at {buy:,.2f} CNY/t"
            + (f" (+{fee_b:,.2f} fee)" if fee_b else ""))
    if j is None:
        tail = (f" and held to the horizon end at its terminal value {es.terminal_cea_value_cny_per_t:,.2f} CNY/t "
                f"in {years[-1]}")
    else:
        fee_s = es.fee_cea_cny_per_t[j]
        tail = (f" and {who_s}sold in {years[j]} at {es.price_sell_cny_per_t[j]:,.2f} CNY/t"
                + (f" (-{fee_s:,.2f} fee)" if fee_s else ""))
    return (head + tail + f" earn {gain:,.2f} CNY per tonne in present value, and no market limit or carry-over "
            "limit stops it, so the plan would buy without end; set market.buy_limit_t / sell_limit_t for these "
            "years, a carry-over rule, or other prices")


def _ccer_path(data: ModelData) -> str | None:
    g = data.group
    if g is not None and g.pool:
        return None  # the entities' CCERs come from the pool (no sales): _pool_path
    years, df = data.years, data.discount_factor
    n = len(years)
    for e in data.entities:
        k = e.ccer_old_expiry_index
        for i in range(n):
            if not math.isinf(e.ccer_buy_max_t[i]):
                continue
            cost = df[i] * (e.price_ccer_buy_cny_per_t[i] + e.fee_ccer_cny_per_t[i])
            old = bool(e.ccer_buy_old) and e.ccer_buy_old[i] and k >= 0
            last = k if old else n - 1
            for j in range(i, last + 1):
                if math.isinf(e.ccer_sell_max_t[j]):
                    rev = df[j] * (e.price_ccer_sell_cny_per_t[j] - e.fee_ccer_cny_per_t[j])
                    if rev - cost > _tol(rev):
                        return _ccer_text(e, years, i, j, rev - cost, len(data.entities) > 1)
            if not old:
                rev = df[-1] * e.terminal_ccer_value_cny_per_t
                if rev - cost > _tol(rev):
                    return _ccer_text(e, years, i, None, rev - cost, len(data.entities) > 1)
    return None


def _ccer_text(e, years, i: int, j: int | None, gain: float, group: bool) -> str:
    who = f"{e.id}: " if group else ""
    fee = e.fee_ccer_cny_per_t[i]
    head = (f"{who}the prices reward unbounded arbitrage: CCERs bought in {years[i]} at "
            f"{e.price_ccer_buy_cny_per_t[i]:,.2f} CNY/t" + (f" (+{fee:,.2f} fee)" if fee else ""))
    if j is None:
        tail = f" and held to the horizon end at their terminal value {e.terminal_ccer_value_cny_per_t:,.2f} CNY/t in {years[-1]}"
    else:
        tail = f" and sold in {years[j]} at {e.price_ccer_sell_cny_per_t[j]:,.2f} CNY/t" + (
            f" (-{e.fee_ccer_cny_per_t[j]:,.2f} fee)" if e.fee_ccer_cny_per_t[j] else "")
    return (head + tail + f" earn {gain:,.2f} CNY per tonne in present value with no limit on the volume; set "
            "market.ccer_available_t for these years, or other prices")


def _pool_path(data: ModelData) -> str | None:
    g = data.group
    if g is None or not g.pool:
        return None
    years, df = data.years, data.discount_factor
    worth = max([g.pool_terminal_cny_per_t] + [e.terminal_ccer_value_cny_per_t for e in data.entities])
    rev = df[-1] * worth
    for i in range(len(years)):
        if g.pool_max_t and not math.isinf(g.pool_max_t[i]):
            continue
        cost = df[i] * (g.pool_price_cny_per_t[i] + g.pool_fee_cny_per_t[i])
        if rev - cost > _tol(rev):
            return (f"the prices reward unbounded arbitrage: the CCER pool buys in {years[i]} at "
                    f"{g.pool_price_cny_per_t[i]:,.2f} CNY/t (+{g.pool_fee_cny_per_t[i]:,.2f} fee) what is worth "
                    f"{worth:,.2f} CNY/t at the horizon end ({years[-1]}), {rev - cost:,.2f} CNY per tonne in present "
                    "value with no limit on the volume; set ccer_pool.rows[].available_t, or other prices")
    return None


# ---- a solved plan on a derived bound -----------------------------------------------------------------


def bound_hits(data: ModelData, net_sales: np.ndarray, blocks: list[tuple[int, int, int, float]] | None = None,
               sent: np.ndarray | None = None) -> list[str]:
    """The derived bounds a solved plan reaches, in words (empty: none). ``net_sales``: the plan's
    cumulative net sales per entity and year; ``blocks``: its block transfers as (seller index,
    buyer index, year index, tonnes); ``sent``: per entity and year, the blocks it passes on (for
    the one-way option's bound). A plan that reaches an argued bound (or leaves the regime a bound
    decided) is outside what the argument behind the bound proves, so it is not proven optimal."""
    out: list[str] = []
    ids, years = [e.id for e in data.entities], data.years
    rng = net_sales_range(data)
    limited, _, mult, thr = _rules(data)
    ns = np.asarray(net_sales, dtype=float)
    tol = 1e-6 * np.maximum(1.0, np.abs(ns))
    floor_years = limited & (mult > 0) & (rng.lo < thr) & (thr < rng.hi)
    linear = limited & (mult > 0) & ~floor_years & (rng.lo >= thr) & (rng.hi > thr)
    constant = limited & ~floor_years & ~linear
    checks = (
        (floor_years & rng.lo_argued & (ns <= rng.lo + tol), "lower", rng.lo),
        (floor_years & rng.hi_argued & (ns >= rng.hi - tol), "upper", rng.hi),
        (linear & (ns < thr - tol), "lower", thr),
        (constant & (mult > 0) & (ns > thr + tol), "upper", thr),
    )
    for mask, side, bound in checks:
        for k, i in zip(*np.nonzero(mask), strict=True):
            out.append(f"{ids[k]}: net sales in {years[i]} ({ns[k, i]:,.0f} t) reach the {side} bound derived for "
                       f"the carry-over floor ({bound[k, i]:,.0f} t)")
    u = block_bound(data)
    for s, d, i, t in blocks or []:
        if t >= u[i] - 1e-6 * u[i]:
            out.append(f"block transfer {ids[s]} -> {ids[d]} in {years[i]} ({t:,.0f} t) reaches the bound derived "
                       f"for one block ({u[i]:,.0f} t)")
    if sent is not None and data.group is not None and data.group.block_one_way:
        for k, i in zip(*np.nonzero(np.asarray(sent) >= u[None, :] * (1 - 1e-6)), strict=True):
            out.append(f"{ids[k]} passes on {sent[k, i]:,.0f} t in blocks in {years[i]}, the bound derived for its "
                       f"blocks ({u[i]:,.0f} t)")
    return out
