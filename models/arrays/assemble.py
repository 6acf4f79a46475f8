"""Array assembly of the compliance model: ``ModelData`` -> standard-form arrays, without Pyomo.

``models.entity`` and ``models.group`` stay the reference formulation. This module writes the same
rows and columns for repeated entity blocks with NumPy, vectorised over entities x years, for the
features listed in ``unsupported``'s complement; anything else is refused (``unsupported`` gives the
reason) and the caller builds the Pyomo model instead - never a silently different model.

The result is the problem ``planner.solve.highs.compile_model(build_model(data))`` produces: the same
columns and rows in the same order (Pyomo's: rows block by block in declaration order, columns by
the first row that mentions their component), the same coefficients, bounds, costs and
integrality. ``tests/solver/test_assemble.py`` checks the equivalence on a canonical form (rows and
columns keyed by name, sorted) and, apart, the order: HiGHS may return another optimal vertex of the
same problem written in another order, and a group's plan must not depend on the path that built it.

A change to ``models.entity`` or ``models.group`` needs the same change here: the equivalence test
fails until both write the same problem.

Row orientation follows Pyomo: ``a <= b`` and ``a == b`` are stored as ``a - b``, ``a >= b`` as
``b - a``. Each term carries its position in the walk of the row's expression, from which the
order of first appearance of the columns' components is derived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from models.bounds import net_sales_range
from models.data import ModelData
from models.entity import (
    COST_COMPONENTS,
    DUAL_SIGNS,
    fine_years,
    opening_carry_limit,
    opening_decided,
    opening_lapse_fixed,
)

INF = math.inf


def unsupported(data: ModelData) -> str | None:
    """Why ``data`` cannot be assembled here (the Pyomo path must build it), or None."""
    for e in data.entities:
        if any(x > 0 for x in e.borrow_share):
            return f"entity {e.id}: conditional pre-draw"
        if any(x > 0 for x in e.auction_max_t):
            return f"entity {e.id}: auctions"
        if opening_decided(e):
            return f"entity {e.id}: opening position before a transition (sales before it are decided)"
        if fine_years(e):
            return f"entity {e.id}: fixed fines (Order 19 vintages)"
    g = data.group
    if g is not None:
        if g.transfers == "block":
            return "block transfers"
        if g.budget_cny and any(math.isfinite(x) for x in g.budget_cny):
            return "group budget"
        if g.transfers != "none" and not g.transfers_in_net_sales:
            return "transfers outside net sales"
    return None


def carry_limits(ents, net_sales: np.ndarray) -> np.ndarray:
    """The carry-over rules' limits of entities ``ents`` at cumulative net sales ``net_sales`` (any
    leading axes, then entity x year): ``CarryRule.limit_at`` element-wise, ``inf`` where a
    transition has no limit. What a plan reports as ``carry_limit_t``: the rule's value, not the
    model's expression of it (which sits below the rule where the limit does not bind)."""
    limited = np.array([[r.limited for r in e.carry_rules] for e in ents], dtype=bool)
    floor = np.array([[float(r.floor_t) for r in e.carry_rules] for e in ents], dtype=float)
    mult = np.array([[float(r.multiplier) for r in e.carry_rules] for e in ents], dtype=float)
    thr = np.array([[float(r.threshold_t) for r in e.carry_rules] for e in ents], dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(limited, floor + mult * np.maximum(0.0, net_sales - thr), np.inf)


class UnsupportedModel(ValueError):
    """The data uses a feature the array assembler does not write."""


# ---- the builder -----------------------------------------------------------------------------------


@dataclass
class _Family:
    """Variables (or constraints) of one Pyomo component name over entity blocks."""

    name: str
    offset: int
    size: int
    comp: np.ndarray
    """Component (block) of each item: the entity index, or -1 for a model-level component."""
    labels: list
    """Per item: the index tuple (for names), filled lazily by ``_names``."""


class _Builder:
    def __init__(self, n_ent: int):
        self.n_ent = n_ent
        self.cols: list[_Family] = []
        self.rows: list[_Family] = []
        self.lb: list[np.ndarray] = []
        self.ub: list[np.ndarray] = []
        self.integer: list[np.ndarray] = []
        self.cost: list[np.ndarray] = []
        self.row_lo: list[np.ndarray] = []
        self.row_up: list[np.ndarray] = []
        self.row_key: list[np.ndarray] = []
        self.t_row: list[np.ndarray] = []
        self.t_col: list[np.ndarray] = []
        self.t_val: list[np.ndarray] = []
        self.t_pos: list[np.ndarray] = []
        self.n_col = 0
        self.n_row = 0

    def var(self, name, comp, labels, lb, ub, integer=False) -> np.ndarray:
        k = len(comp)
        fam = _Family(name, self.n_col, k, np.asarray(comp, dtype=np.int64), labels)
        self.cols.append(fam)
        self.lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (k,)).copy())
        self.ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (k,)).copy())
        self.integer.append(np.full(k, bool(integer)))
        self.cost.append(np.zeros(k))
        ids = np.arange(self.n_col, self.n_col + k, dtype=np.int64)
        self.n_col += k
        return ids

    def con(self, name, comp, labels, decl: int, lo, up) -> np.ndarray:
        k = len(comp)
        comp = np.asarray(comp, dtype=np.int64)
        fam = _Family(name, self.n_row, k, comp, labels)
        self.rows.append(fam)
        self.row_lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (k,)).copy())
        self.row_up.append(np.broadcast_to(np.asarray(up, dtype=float), (k,)).copy())
        # rows: the model's own constraints first, then block by block; declaration order inside
        self.row_key.append(np.stack([comp + 1, np.full(k, decl), np.arange(self.n_row, self.n_row + k)]))
        ids = np.arange(self.n_row, self.n_row + k, dtype=np.int64)
        self.n_row += k
        return ids

    def terms(self, rows, cols, vals, pos: int) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        shape = np.broadcast_shapes(rows.shape, cols.shape)
        rows = np.broadcast_to(rows, shape).ravel()
        cols = np.broadcast_to(cols, shape).ravel()
        vals = np.broadcast_to(np.asarray(vals, dtype=float), shape).ravel()
        keep = (rows >= 0) & (cols >= 0)
        if not keep.all():
            rows, cols, vals = rows[keep], cols[keep], vals[keep]
        self.t_row.append(rows)
        self.t_col.append(cols)
        self.t_val.append(np.broadcast_to(np.asarray(vals, dtype=float), rows.shape).copy())
        self.t_pos.append(np.full(rows.shape, pos, dtype=np.int64))


@dataclass
class Assembled:
    """Standard-form arrays (column-wise matrix) in Pyomo's row and column order."""

    n_col: int
    n_row: int
    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    offset: float
    col_of: dict
    """Family name -> final column index of each item (in the family's own item order)."""
    row_of: dict
    """Family name -> final row index of each item."""
    col_fams: list = field(default_factory=list)
    row_fams: list = field(default_factory=list)
    col_perm: np.ndarray | None = None
    row_perm: np.ndarray | None = None
    layout: object = None
    lots: tuple = ()
    cost_columns: CostColumns | None = None
    """What ``objective`` needs to write the cost vector of data with this structure."""
    cost_used: np.ndarray | None = None

    def column_names(self) -> list[str]:
        """Every column's name, in the final column order (Pyomo's names, e.g. ``entity[a].buy[2025]``)."""
        return _names(self.col_fams, self.col_perm, self.n_col)

    def row_names(self) -> list[str]:
        """Every row's name, in the final row order."""
        return _names(self.row_fams, self.row_perm, self.n_row)

    def column_name(self, i: int) -> str:
        """The name of final column ``i``, worked out alone (no list of every name)."""
        return _name_at(self.col_fams, int(self.col_perm[i]))

    def row_name(self, i: int) -> str:
        """The name of final row ``i``, worked out alone."""
        return _name_at(self.row_fams, int(self.row_perm[i]))


def _label(fam: _Family, k: int) -> str:
    from pyomo.core.base.component_namer import index_repr

    block, idx = fam.labels[k]
    local = f"{fam.name}{index_repr(idx)}" if idx is not None else fam.name
    return local if block is None else f"entity{index_repr(block)}.{local}"


def _name_at(fams: list[_Family], prov: int) -> str:
    for f in fams:
        if f.offset <= prov < f.offset + f.size:
            return _label(f, prov - f.offset)
    raise IndexError(prov)


def _names(fams: list[_Family], perm: np.ndarray, n: int) -> list[str]:
    prov = [""] * n
    for f in fams:
        for k in range(f.size):
            prov[f.offset + k] = _label(f, k)
    return [prov[int(p)] for p in perm]


# ---- bounds decided before solving (vectorised twins of models.entity's helpers) ------------------


@dataclass
class _Layout:
    """Entity data as arrays: E entities x n years, M measures x n years."""

    ids: list
    years: tuple
    base: np.ndarray
    alloc: np.ndarray
    share: np.ndarray
    to_alloc: np.ndarray
    buy_max: np.ndarray
    sell_max: np.ndarray
    m_ent: np.ndarray
    m_ids: list
    m_pot: np.ndarray
    m_loss: np.ndarray
    m_has_loss: np.ndarray
    m_cost: np.ndarray
    e_lo: np.ndarray
    e_hi: np.ndarray
    relief_regime: np.ndarray
    """0 off, 1 always, 2 switch."""
    relief_lo: np.ndarray
    relief_up: np.ndarray
    limited: np.ndarray
    floor: np.ndarray
    mult: np.ndarray
    thr: np.ndarray
    floor_years: np.ndarray
    carry_kind: np.ndarray
    """0 unlimited, 1 constant limit, 2 linear in net sales, 3 floor binary."""
    ns_lo: np.ndarray
    ns_hi: np.ndarray
    o_ent: np.ndarray = None
    """Build options (project, build year): entity index of each."""
    o_proj: list = None
    o_year: list = None
    o_red: np.ndarray = None
    o_oper: np.ndarray = None
    o_capex: np.ndarray = None
    o_opex: np.ndarray = None
    p_ent: np.ndarray = None
    """Projects: entity index, id and options (indices into the option arrays)."""
    p_ids: list = None
    p_opts: list = None


def _seq_sum_rows(values: np.ndarray, owner: np.ndarray, n_owner: int) -> np.ndarray:
    """Sum rows of ``values`` per owner, in order (Python's ``sum`` over a list, from 0)."""
    out = np.zeros((n_owner, values.shape[1]))
    np.add.at(out, owner, values)
    return out


def layout(data: ModelData, relax: float = 1.0) -> _Layout:
    """The entity data of ``data`` as arrays (``_Layout``), with what is derived from them: the
    relief regimes and bounds, and each carry-over rule's kind on the net-sales range
    (``net_sales_range``; ``relax`` widens it)."""
    ents = data.entities
    n = len(data.years)
    E = len(ents)

    def arr(name, dtype=float):
        return np.array([getattr(e, name) for e in ents], dtype=dtype).reshape(E, n)

    base = arr("emissions_baseline_t")
    alloc = arr("allocation_t")
    share = arr("relief_share")
    to_alloc = arr("relief_to_allocation", bool)
    buy_max = arr("buy_max_t")
    sell_max = arr("sell_max_t")
    m_ent, m_ids, pot, loss, has_loss, mcost = [], [], [], [], [], []
    for k, e in enumerate(ents):
        for m in e.measures:
            m_ent.append(k)
            m_ids.append(m.id)
            pot.append(m.potential_t)
            mcost.append(m.cost_cny_per_t)
            has_loss.append(bool(m.allocation_loss_t_per_t))
            loss.append(m.allocation_loss_t_per_t or (0.0,) * n)
    M = len(m_ent)
    m_ent = np.asarray(m_ent, dtype=np.int64)
    pot = np.asarray(pot, dtype=float).reshape(M, n)
    loss = np.asarray(loss, dtype=float).reshape(M, n)
    mcost = np.asarray(mcost, dtype=float).reshape(M, n)
    most = _seq_sum_rows(pot, m_ent, E)
    # projects: build options in the order of BUILD_OPTIONS (project, then its options)
    o_ent, o_proj, o_year, o_red, o_oper, o_capex, o_opex = [], [], [], [], [], [], []
    p_ent, p_ids, p_opts, p_red_any = [], [], [], []
    for k, e in enumerate(ents):
        for pr in e.projects:
            p_ent.append(k)
            p_ids.append(pr.id)
            opts = []
            for o in pr.options:
                opts.append(len(o_ent))
                o_ent.append(k)
                o_proj.append(pr.id)
                o_year.append(o.build_year)
                o_red.append(pr.reduction_t_per_year)
                o_oper.append(o.operating)
                o_capex.append(o.capex_cny)
                o_opex.append(o.opex_cny)
            p_opts.append(opts)
            p_red_any.append([pr.reduction_t_per_year if any(o.operating[i] for o in pr.options) else 0.0 for i in range(n)])
    O = len(o_ent)
    if p_ent:
        most = most + _seq_sum_rows(np.asarray(p_red_any, dtype=float).reshape(len(p_ent), n), np.asarray(p_ent, dtype=np.int64), E)
    e_hi = base
    e_lo = np.maximum(0.0, base - most)
    loss_max = _seq_sum_rows(pot * loss, m_ent, E)
    r_lo = share * e_lo - alloc
    r_hi = share * e_hi - alloc + loss_max
    regime = np.where(share <= 0, 0, np.where(r_hi <= 0, 0, np.where(r_lo >= 0, 1, 2)))
    r_up = np.where(regime != 0, np.maximum(0.0, r_hi), 0.0)
    alloc_up = alloc + np.where(to_alloc, r_up, 0.0) + 0.0
    limited = np.array([[r.limited for r in e.carry_rules] for e in ents], dtype=bool).reshape(E, n)
    floor = np.array([[float(r.floor_t) for r in e.carry_rules] for e in ents]).reshape(E, n)
    mult = np.array([[float(r.multiplier) for r in e.carry_rules] for e in ents]).reshape(E, n)
    thr = np.array([[float(r.threshold_t) for r in e.carry_rules] for e in ents]).reshape(E, n)
    rng = net_sales_range(data, relax, base=base, alloc_up=alloc_up)
    lo, hi = rng.lo, rng.hi
    floor_years = limited & (mult > 0) & (lo < thr) & (thr < hi)
    kind = np.where(~limited, 0, np.where(floor_years, 3, np.where((hi <= thr) | (mult == 0), 1, 2)))
    lay = _Layout(
        ids=[e.id for e in ents], years=tuple(data.years), base=base, alloc=alloc, share=share,
        to_alloc=to_alloc, buy_max=buy_max, sell_max=sell_max, m_ent=m_ent, m_ids=m_ids, m_pot=pot,
        m_loss=loss, m_has_loss=np.asarray(has_loss, dtype=bool), m_cost=mcost, e_lo=e_lo, e_hi=e_hi,
        relief_regime=regime, relief_lo=r_lo, relief_up=r_up, limited=limited, floor=floor, mult=mult,
        thr=thr, floor_years=floor_years, carry_kind=kind, ns_lo=lo, ns_hi=hi,
        o_ent=np.asarray(o_ent, dtype=np.int64), o_proj=o_proj, o_year=o_year, o_red=np.asarray(o_red, dtype=float),
        o_oper=np.asarray(o_oper, dtype=bool).reshape(O, n), o_capex=np.asarray(o_capex, dtype=float).reshape(O, n),
        o_opex=np.asarray(o_opex, dtype=float).reshape(O, n), p_ent=np.asarray(p_ent, dtype=np.int64), p_ids=p_ids,
        p_opts=p_opts,
    )
    return lay


# ---- assembly ---------------------------------------------------------------------------------------


def _on_grid(L: _Layout, mask: np.ndarray, lo, up, add) -> np.ndarray:
    """Rows or columns on the (entity, year) cells of ``mask``: ``add(entities, labels, lower,
    upper)`` returns their ids; the result is an E x n array of ids (-1 where ``mask`` is false)."""
    ee, ii = np.nonzero(mask)
    labels = _LazyLabels(lambda k: (L.ids[ee[k]], L.years[ii[k]]), len(ee))
    lov = np.broadcast_to(np.asarray(lo, dtype=float), mask.shape)[mask]
    upv = np.broadcast_to(np.asarray(up, dtype=float), mask.shape)[mask]
    out = np.full(mask.shape, -1, dtype=np.int64)
    out[mask] = add(ee, labels, lov, upv)
    return out


def _grid_var(bld: _Builder, L: _Layout, name: str, mask: np.ndarray, lb, ub, integer=False) -> np.ndarray:
    """A per-entity variable indexed by (a subset of) years: returns an E x n array of column ids (-1 absent)."""
    return _on_grid(L, mask, lb, ub, lambda ee, labels, lo, up: bld.var(name, ee, labels, lo, up, integer))


def _grid_con(bld: _Builder, L: _Layout, name: str, mask: np.ndarray, decl: int, lo, up) -> np.ndarray:
    """A per-entity constraint indexed by (a subset of) years: an E x n array of row ids (-1 absent)."""
    return _on_grid(L, mask, lo, up, lambda ee, labels, lo_, up_: bld.con(name, ee, labels, decl, lo_, up_))


def _model_var(bld: _Builder, L: _Layout, name: str, shape, lb, ub) -> np.ndarray:
    """A model-level variable indexed by years (shape (n,)) or by entities x years (shape (E, n))."""
    k = int(np.prod(shape))
    if len(shape) == 1:
        labels = _LazyLabels(lambda j: (None, L.years[j]), k)
    else:
        n = shape[1]
        labels = _LazyLabels(lambda j: (None, (L.ids[j // n], L.years[j % n])), k)
    lbv = np.broadcast_to(np.asarray(lb, dtype=float), shape).ravel()
    ubv = np.broadcast_to(np.asarray(ub, dtype=float), shape).ravel()
    return bld.var(name, np.full(k, -1), labels, lbv, ubv).reshape(shape)


def _model_con(bld: _Builder, L: _Layout, name: str, shape, decl: int, lo, up, mask=None) -> np.ndarray:
    full = np.ones(shape, dtype=bool) if mask is None else mask
    flat = np.flatnonzero(full.ravel())
    if len(shape) == 1:
        labels = _LazyLabels(lambda j: (None, L.years[flat[j]]), len(flat))
    else:
        n = shape[1]
        labels = _LazyLabels(lambda j: (None, (L.ids[flat[j] // n], L.years[flat[j] % n])), len(flat))
    lov = np.broadcast_to(np.asarray(lo, dtype=float), shape).ravel()[flat]
    upv = np.broadcast_to(np.asarray(up, dtype=float), shape).ravel()[flat]
    ids = bld.con(name, np.full(len(flat), -1), labels, decl, lov, upv)
    out = np.full(shape, -1, dtype=np.int64)
    out.ravel()[flat] = ids
    return out


class _LazyLabels:
    """(block id or None, index) of item k, computed on demand (names are for tests and warnings)."""

    def __init__(self, fn, n):
        self.fn, self.n = fn, n

    def __getitem__(self, k):
        block, idx = self.fn(k)
        return (block, idx)

    def __len__(self):
        return self.n


def assemble(data: ModelData, relax: float = 1.0) -> Assembled:
    """The standard form of ``build_model(data, relax)``; raises ``UnsupportedModel`` for unsupported features.

    Columns are declared first, then the rows in Pyomo's order (the model's link rows, then each
    entity block's rows in ``models.entity``'s declaration order); ``_finish`` orders them."""
    why = unsupported(data)
    if why:
        raise UnsupportedModel(why)
    L = layout(data, relax)
    bld = _Builder(len(L.ids))
    x = _entity_columns(bld, L, data)
    lk = _link_columns(bld, L, data.group)
    _link_rows(bld, L, data.group, x, lk)
    rows = _entity_rows(bld, L, data, x)
    cc = CostColumns(
        n_col=bld.n_col, abate=x.abate, build=x.build, buy=x.buy, sell=x.sell, shortfall=x.shortfall,
        ccer_buy=x.ccer_buy, ccer_sell=x.ccer_sell, carry=x.carry, ccer_hold=x.ccer_hold, use_lot=x.use_lot,
        lots=x.lots, o_capex=L.o_capex, o_opex=L.o_opex, t_in=lk.t_in, t_out=lk.t_out,
        pool_buy=lk.pool_buy, pool_hold=lk.pool_hold, tier_buy=lk.tier_buy,
    )
    # ``objective``: the one definition of the cost vector, also used by warm re-solves
    cost, offset = objective(data, cc)
    out = _finish(bld, cost)
    out.offset = offset
    out.layout = L
    out.cost_columns = cc
    out.lots = x.lots
    out.col_of = {name: getattr(x, name) for name in _ENTITY_COLUMNS}
    out.col_of.update({name: ids for name, ids in lk.present().items()})
    out.row_of = rows
    _renumber(out)
    return out


_ENTITY_COLUMNS = (
    "build", "abate", "buy", "sell", "surrender", "carry", "lapse", "shortfall", "ccer_buy", "ccer_sell",
    "ccer_use", "ccer_hold", "ccer_use_lot", "ns_pos", "floor_off", "relief", "relief_on",
)
"""The entity blocks' variables by Pyomo name, as ``Assembled.col_of`` keys them."""


@dataclass
class _EntityColumns:
    """Provisional column ids of the entity blocks' variables: E x n grids (-1 where a variable is
    absent), measures M x n, build options and lot years flat."""

    abate: np.ndarray
    build: np.ndarray
    buy: np.ndarray
    sell: np.ndarray
    surrender: np.ndarray
    carry: np.ndarray
    lapse: np.ndarray
    shortfall: np.ndarray
    ccer_buy: np.ndarray
    ccer_sell: np.ndarray
    ccer_use: np.ndarray
    ccer_hold: np.ndarray
    ccer_use_lot: np.ndarray
    ns_pos: np.ndarray
    floor_off: np.ndarray
    relief: np.ndarray
    relief_on: np.ndarray
    lots: tuple
    """(entity of each lot, lot ids, quantities, terminal values, lot of each lot year, year index of each lot year)."""

    @property
    def use_lot(self) -> np.ndarray:
        return self.ccer_use_lot

    @property
    def lot_year_entity(self) -> np.ndarray:
        lot_e, _, _, _, ly_lot, _ = self.lots
        return lot_e[ly_lot]


@dataclass
class _LinkColumns:
    """Provisional column ids of the group's variables (None where the group has none)."""

    market_buy: np.ndarray | None = None
    market_sell: np.ndarray | None = None
    t_in: np.ndarray | None = None
    t_out: np.ndarray | None = None
    pool_buy: np.ndarray | None = None
    pool_hold: np.ndarray | None = None
    tier_buy: np.ndarray | None = None

    def present(self) -> dict[str, np.ndarray]:
        """The group's variables by Pyomo name, as ``Assembled.col_of`` keys them."""
        names = {"market_buy": self.market_buy, "market_sell": self.market_sell, "transfer_in": self.t_in,
                 "transfer_out": self.t_out, "pool_buy": self.pool_buy, "pool_hold": self.pool_hold,
                 "tier_buy": self.tier_buy}
        return {k: v for k, v in names.items() if v is not None}


def _ent_vec(ents, name: str) -> np.ndarray:
    """A per-entity number of every entity, as an E x 1 column."""
    return np.array([getattr(e, name) for e in ents], dtype=float).reshape(len(ents), 1)


def _per_year(ents, name: str, n: int) -> np.ndarray:
    """A per-year series of every entity, as an E x n array."""
    return np.array([getattr(e, name) for e in ents], dtype=float).reshape(len(ents), n)


def _lot_years(ents, n: int) -> tuple:
    """Opening CCER lots and LOT_YEARS (lot, eligible year) per entity, in lot order: (entity of
    each lot, lot ids, quantities, terminal values, lot of each lot year, year index of each)."""
    lot_e, lot_id, lot_q, lot_tv, ly_lot, ly_i = [], [], [], [], [], []
    for k, e in enumerate(ents):
        for lot in e.ccer_lots:
            j = len(lot_e)
            lot_e.append(k)
            lot_id.append(lot.id)
            lot_q.append(lot.quantity_t)
            lot_tv.append(lot.terminal_value_cny_per_t)
            for i in range(n):
                if lot.eligible[i]:
                    ly_lot.append(j)
                    ly_i.append(i)
    return (np.asarray(lot_e, dtype=np.int64), lot_id, lot_q, lot_tv, np.asarray(ly_lot, dtype=np.int64),
            np.asarray(ly_i, dtype=np.int64))


def _entity_columns(bld: _Builder, L: _Layout, data: ModelData) -> _EntityColumns:
    """The entity blocks' variables (declaration order does not matter for columns: first appearance does)."""
    ents = data.entities
    E, n = L.base.shape
    years = L.years
    yes = np.ones((E, n), dtype=bool)
    M = len(L.m_ent)
    m_labels = _LazyLabels(lambda j: (L.ids[L.m_ent[j // n]], (L.m_ids[j // n], years[j % n])), M * n)
    abate = bld.var("abate", np.repeat(L.m_ent, n), m_labels, 0.0, L.m_pot.ravel()).reshape(M, n)
    O = len(L.o_ent)
    o_labels = _LazyLabels(lambda j: (L.ids[L.o_ent[j]], (L.o_proj[j], L.o_year[j])), O)
    build = bld.var("build", L.o_ent, o_labels, 0.0, 1.0, integer=True)
    buy = _grid_var(bld, L, "buy", yes, 0.0, L.buy_max)
    sell = _grid_var(bld, L, "sell", yes, 0.0, L.sell_max)
    surrender = _grid_var(bld, L, "surrender", yes, 0.0, INF)
    carry = _grid_var(bld, L, "carry", yes, 0.0, INF)
    lapse = _grid_var(bld, L, "lapse", L.limited, 0.0, INF)
    sf_allowed = np.array([e.shortfall_allowed for e in ents], dtype=bool).reshape(E, 1)
    shortfall = _grid_var(bld, L, "shortfall", yes, 0.0, np.where(sf_allowed, INF, 0.0))
    ccer_buy = _grid_var(bld, L, "ccer_buy", yes, 0.0, _per_year(ents, "ccer_buy_max_t", n))
    ccer_sell = _grid_var(bld, L, "ccer_sell", yes, 0.0, _per_year(ents, "ccer_sell_max_t", n))
    ccer_use = _grid_var(bld, L, "ccer_use", yes, 0.0, INF)
    ccer_hold = _grid_var(bld, L, "ccer_hold", yes, 0.0, INF)
    lots = _lot_years(ents, n)
    lot_e, lot_id, _, _, ly_lot, ly_i = lots
    ly_e = lot_e[ly_lot]
    ly_labels = _LazyLabels(lambda j: (L.ids[ly_e[j]], (lot_id[ly_lot[j]], years[ly_i[j]])), len(ly_lot))
    use_lot = bld.var("ccer_use_lot", ly_e, ly_labels, 0.0, INF)
    ns_pos = _grid_var(bld, L, "ns_pos", L.floor_years, 0.0, INF)
    floor_off = _grid_var(bld, L, "floor_off", L.floor_years, 0.0, 1.0, integer=True)
    relief = _grid_var(bld, L, "relief", L.relief_regime != 0, 0.0, L.relief_up)
    relief_on = _grid_var(bld, L, "relief_on", L.relief_regime == 2, 0.0, 1.0, integer=True)
    return _EntityColumns(
        abate=abate, build=build, buy=buy, sell=sell, surrender=surrender, carry=carry, lapse=lapse,
        shortfall=shortfall, ccer_buy=ccer_buy, ccer_sell=ccer_sell, ccer_use=ccer_use, ccer_hold=ccer_hold,
        ccer_use_lot=use_lot, ns_pos=ns_pos, floor_off=floor_off, relief=relief, relief_on=relief_on, lots=lots,
    )


def _link_columns(bld: _Builder, L: _Layout, g) -> _LinkColumns:
    """The group's variables: market trades and free transfers, the CCER pool, price tiers."""
    lk = _LinkColumns()
    if g is None:
        return lk
    E, n = L.base.shape
    if g.transfers != "none":
        lk.market_buy = _model_var(bld, L, "market_buy", (E, n), 0.0, np.asarray(g.market_buy_max_t, dtype=float).reshape(E, n))
        lk.market_sell = _model_var(bld, L, "market_sell", (E, n), 0.0, np.asarray(g.market_sell_max_t, dtype=float).reshape(E, n))
        lk.t_in = _model_var(bld, L, "transfer_in", (E, n), 0.0, INF)
        lk.t_out = _model_var(bld, L, "transfer_out", (E, n), 0.0, INF)
    if g.pool:
        lk.pool_buy = _model_var(bld, L, "pool_buy", (n,), 0.0, np.asarray(g.pool_max_t, dtype=float))
        lk.pool_hold = _model_var(bld, L, "pool_hold", (n,), 0.0, INF)
    if g.tiers:
        K = len(g.tiers)
        t_labels = _LazyLabels(lambda j: (None, (j // n, L.years[j % n])), K * n)
        widths = np.array([t.width_t for t in g.tiers], dtype=float)
        lk.tier_buy = bld.var("tier_buy", np.full(K * n, -1), t_labels, 0.0, np.repeat(widths, n)).reshape(K, n)
    return lk


def _link_rows(bld: _Builder, L: _Layout, g, x: _EntityColumns, lk: _LinkColumns) -> None:
    """The group's ``link_*`` rows (declared before the entity blocks' rows in Pyomo's order)."""
    if g is None:
        return
    E, n = L.base.shape
    has_tr = lk.t_in is not None
    if has_tr:
        r = _model_con(bld, L, "link_transfer_balance", (n,), 0, 0.0, 0.0)
        rr = np.broadcast_to(r, (E, n))
        bld.terms(rr, lk.t_in, 1.0, 0)
        bld.terms(rr, lk.t_out, -1.0, 1)
        r = _model_con(bld, L, "link_buy", (E, n), 2, 0.0, 0.0)
        bld.terms(r, x.buy, 1.0, 0)
        bld.terms(r, lk.market_buy, -1.0, 1)
        bld.terms(r, lk.t_in, -1.0, 2)
        r = _model_con(bld, L, "link_sell", (E, n), 3, 0.0, 0.0)
        bld.terms(r, x.sell, 1.0, 0)
        bld.terms(r, lk.market_sell, -1.0, 1)
        bld.terms(r, lk.t_out, -1.0, 2)
    if lk.pool_buy is not None:
        opening = np.zeros(n)
        opening[0] = g.pool_opening_t
        r = _model_con(bld, L, "link_ccer_pool", (n,), 4, -opening, -opening)
        bld.terms(r[1:], lk.pool_hold[:-1], 1.0, 0)
        bld.terms(r, lk.pool_buy, 1.0, 1)
        bld.terms(np.broadcast_to(r, (E, n)), x.ccer_buy, -1.0, 2)
        bld.terms(r, lk.pool_hold, -1.0, 3)
    mbuy, msell = (lk.market_buy, lk.market_sell) if has_tr else (x.buy, x.sell)
    for decl, name, lim, var in ((5, "link_group_buy", g.group_buy_max_t, mbuy), (6, "link_group_sell", g.group_sell_max_t, msell)):
        if not lim:
            continue
        lim_a = np.asarray(lim, dtype=float)
        mask = np.isfinite(lim_a)
        if not mask.any():
            continue
        r = _model_con(bld, L, name, (n,), decl, -INF, np.where(mask, lim_a, 0.0), mask=mask)
        bld.terms(np.broadcast_to(r, (E, n)), var, 1.0, 0)
    if lk.tier_buy is not None:
        # link_tiers: sum of tier volumes - group market purchases == 0
        r = _model_con(bld, L, "link_tiers", (n,), 7, 0.0, 0.0)
        bld.terms(np.broadcast_to(r, lk.tier_buy.shape), lk.tier_buy, 1.0, 0)
        bld.terms(np.broadcast_to(r, (E, n)), mbuy, -1.0, 1)


class _AbatementTerms:
    """Terms on the abatement of a row's entity in the row's year: each measure's ``abate`` and
    each operating build option's reduction (``project_reduction``)."""

    def __init__(self, bld: _Builder, L: _Layout, x: _EntityColumns):
        self.bld, self.L, self.x = bld, L, x
        self.op_o, self.op_i = np.nonzero(L.o_oper)  # OPERATING: (option, year) in which a build reduces emissions
        self.op_e = L.o_ent[self.op_o]

    def measures(self, rows_grid, coef_mn, pos, where=None):
        """Coefficient x abate on every measure of the row's entity in the row's year (``where``: M x n mask)."""
        rows = rows_grid[self.L.m_ent]  # M x n
        ok = rows >= 0
        if where is not None:
            ok &= where
        self.bld.terms(rows[ok], self.x.abate[ok], np.broadcast_to(coef_mn, rows.shape)[ok], pos)

    def projects(self, rows_grid, coef_en, pos):
        """Coefficient x project_reduction of the row's entity and year: the coefficient x reduction
        on each operating build."""
        E, n = self.L.base.shape
        rows = rows_grid[self.op_e, self.op_i]
        coef = np.broadcast_to(np.asarray(coef_en, dtype=float), (E, n))[self.op_e, self.op_i] * self.L.o_red[self.op_o]
        self.bld.terms(rows, self.x.build[self.op_o], coef, pos)


def _entity_rows(bld: _Builder, L: _Layout, data: ModelData, x: _EntityColumns) -> dict[str, np.ndarray]:
    """The entity blocks' rows, in the declaration order of ``models.entity.add_entity``; returns
    the row ids (E x n) of the rows whose duals the plan reports."""
    ab = _AbatementTerms(bld, L, x)
    r_ba, r_bs = _stock_balance_rows(bld, L, data, x, ab)
    _relief_rows(bld, L, x, ab)
    r_cs = _ccer_rows(bld, L, data, x, ab)
    _abatement_limit_rows(bld, L, x, ab)
    r_co = _carryover_rows(bld, L, data, x)
    rows = {"balance_allowances": r_ba, "balance_surrender": r_bs, "limit_ccer_share": r_cs, "limit_carryover": r_co}
    return {name: rows[name] for name in DUAL_SIGNS}


def _stock_balance_rows(bld: _Builder, L: _Layout, data: ModelData, x: _EntityColumns, ab: _AbatementTerms):
    """``balance_allowances`` and ``balance_surrender``: returns their row ids."""
    ents = data.entities
    E, n = L.base.shape
    yes = np.ones((E, n), dtype=bool)
    first = np.zeros((E, n), dtype=bool)
    first[:, 0] = True
    loss_on = L.m_has_loss[:, None] & (L.m_loss != 0)
    # the opening holdings less what the opening transitions take (fixed by the data here)
    opening_cea = np.array([e.opening_cea_t - opening_lapse_fixed(e) for e in ents], dtype=float).reshape(E, 1)
    # balance_allowances: (surrender + carry + lapse) - (carry_prev + (A - loss*abate) + relief + buy - sell) == 0
    # (Pyomo stores it in this orientation: the right-hand side is a linear sum, whose class takes
    # precedence in Python's reflected ``==``)
    const = np.where(first, opening_cea + L.alloc, L.alloc)
    r_ba = _grid_con(bld, L, "balance_allowances", yes, 0, const, const)
    bld.terms(r_ba, x.surrender, 1.0, 0)
    bld.terms(r_ba, x.carry, 1.0, 1)
    bld.terms(r_ba, x.lapse, 1.0, 2)
    bld.terms(r_ba[:, 1:], x.carry[:, :-1], -1.0, 3)
    ab.measures(r_ba, L.m_loss, 4, where=loss_on)
    bld.terms(np.where(L.to_alloc, r_ba, -1), x.relief, -1.0, 5)
    bld.terms(r_ba, x.buy, -1.0, 6)
    bld.terms(r_ba, x.sell, 1.0, 7)

    # balance_surrender: surrender + ccer_use + shortfall - shortfall_prev - obligation == 0
    _, _, _, _, ly_lot, ly_i = x.lots
    deducted = np.array([e.shortfall_deducted_next_year for e in ents], dtype=bool).reshape(E, 1)
    r_bs = _grid_con(bld, L, "balance_surrender", yes, 1, L.base, L.base)
    bld.terms(r_bs, x.surrender, 1.0, 0)
    bld.terms(r_bs, x.ccer_use, 1.0, 1)
    bld.terms(r_bs[x.lot_year_entity, ly_i], x.use_lot, 1.0, 1)
    bld.terms(r_bs, x.shortfall, 1.0, 2)
    bld.terms(np.where(deducted, r_bs, -1)[:, 1:], x.shortfall[:, :-1], -1.0, 3)
    ab.measures(r_bs, 1.0, 4)
    ab.projects(r_bs, 1.0, 4)
    bld.terms(np.where(~L.to_alloc, r_bs, -1), x.relief, 1.0, 5)
    return r_ba, r_bs


def _relief_rows(bld: _Builder, L: _Layout, x: _EntityColumns, ab: _AbatementTerms) -> None:
    """``limit_relief_floor``, ``limit_relief_regime`` and ``limit_relief_switch``."""
    relief_years = L.relief_regime != 0
    switch = L.relief_regime == 2
    loss_on = L.m_has_loss[:, None] & (L.m_loss != 0)
    # limit_relief_floor: (share*E - Abench) - relief <= 0
    s = L.share
    x_const = s * L.base - L.alloc
    r_rf = _grid_con(bld, L, "limit_relief_floor", relief_years, 2, -INF, -x_const)
    s_m = s[L.m_ent]
    ab.measures(r_rf, -s_m, 0)
    ab.projects(r_rf, -s, 0)
    ab.measures(r_rf, L.m_loss, 1, where=loss_on)
    bld.terms(r_rf, x.relief, -1.0, 2)
    # limit_relief_regime: relief - x (+ lo*(1 - on)) <= 0
    lo_r = L.relief_lo
    up_rr = np.where(switch, x_const - lo_r, x_const)
    r_rr = _grid_con(bld, L, "limit_relief_regime", relief_years, 3, -INF, up_rr)
    bld.terms(r_rr, x.relief, 1.0, 0)
    ab.measures(r_rr, s_m, 1)
    ab.projects(r_rr, s, 1)
    ab.measures(r_rr, -L.m_loss, 2, where=loss_on)
    bld.terms(r_rr, x.relief_on, -lo_r, 3)
    # limit_relief_switch: relief - U*on <= 0
    r_rs = _grid_con(bld, L, "limit_relief_switch", switch, 4, -INF, 0.0)
    bld.terms(r_rs, x.relief, 1.0, 0)
    bld.terms(r_rs, x.relief_on, -L.relief_up, 1)


def _ccer_rows(bld: _Builder, L: _Layout, data: ModelData, x: _EntityColumns, ab: _AbatementTerms) -> np.ndarray:
    """``balance_ccer``, ``limit_ccer_old_expiry``, ``limit_ccer_lot`` and ``limit_ccer_share``:
    returns the row ids of ``limit_ccer_share``."""
    ents = data.entities
    E, n = L.base.shape
    yes = np.ones((E, n), dtype=bool)
    first = np.zeros((E, n), dtype=bool)
    first[:, 0] = True
    lot_e, lot_id, lot_q, _, ly_lot, ly_i = x.lots
    # balance_ccer: hold_prev + buy - sell - use - hold == 0
    c_const = np.where(first, _ent_vec(ents, "opening_ccer_t"), 0.0)
    r_bc = _grid_con(bld, L, "balance_ccer", yes, 8, -c_const, -c_const)
    bld.terms(r_bc[:, 1:], x.ccer_hold[:, :-1], 1.0, 0)
    bld.terms(r_bc, x.ccer_buy, 1.0, 1)
    bld.terms(r_bc, x.ccer_sell, -1.0, 2)
    bld.terms(r_bc, x.ccer_use, -1.0, 3)
    bld.terms(r_bc, x.ccer_hold, -1.0, 4)

    # limit_ccer_old_expiry (scalar): hold[k] - sum(new purchases) <= opening
    expiry = [(k, e) for k, e in enumerate(ents) if e.ccer_old_expiry_index >= 0]
    if expiry:
        ek = np.array([k for k, _ in expiry], dtype=np.int64)
        labels = _LazyLabels(lambda j: (L.ids[ek[j]], None), len(ek))
        rows = bld.con("limit_ccer_old_expiry", ek, labels, 9, np.full(len(ek), -INF), [float(e.opening_ccer_t) for _, e in expiry])
        for j, (k, e) in enumerate(expiry):
            idx = e.ccer_old_expiry_index
            bld.terms([rows[j]], [x.ccer_hold[k, idx]], 1.0, 0)
            new = [i for i in range(idx + 1) if not e.ccer_buy_old[i]]
            bld.terms(np.full(len(new), rows[j]), x.ccer_buy[k, new], -1.0, 1)

    # limit_ccer_lot: a lot's surrenders over the years <= its quantity (lots eligible in some year)
    used_lots = np.unique(ly_lot)
    if len(used_lots):
        le = lot_e[used_lots]
        labels = _LazyLabels(lambda j: (L.ids[le[j]], lot_id[used_lots[j]]), len(used_lots))
        rows = bld.con("limit_ccer_lot", le, labels, 10, np.full(len(used_lots), -INF), np.asarray(lot_q, dtype=float)[used_lots])
        row_of_lot = np.full(len(lot_e), -1, dtype=np.int64)
        row_of_lot[used_lots] = rows
        bld.terms(row_of_lot[ly_lot], x.use_lot, 1.0, 0)

    # limit_ccer_share: ccer_use - cap * base <= 0
    cap = _per_year(ents, "ccer_cap_share", n)
    on_obl = np.array([e.ccer_cap_on_obligation for e in ents], dtype=bool).reshape(E, 1)
    r_cs = _grid_con(bld, L, "limit_ccer_share", yes, 11, -INF, cap * L.base)
    bld.terms(r_cs, x.ccer_use, 1.0, 0)
    bld.terms(r_cs[x.lot_year_entity, ly_i], x.use_lot, 1.0, 0)
    ab.measures(r_cs, cap[L.m_ent], 1)
    ab.projects(r_cs, cap, 1)
    bld.terms(np.where(on_obl & ~L.to_alloc, r_cs, -1), x.relief, cap, 2)
    return r_cs


def _abatement_limit_rows(bld: _Builder, L: _Layout, x: _EntityColumns, ab: _AbatementTerms) -> None:
    """``limit_abatement_total`` and ``limit_project_once``."""
    E, n = L.base.shape
    # limit_abatement_total: sum(abate) <= baseline (entities with measures)
    has_m = np.zeros((E, 1), dtype=bool)
    has_m[np.unique(L.m_ent)] = True
    has_m[np.unique(L.p_ent)] = True
    r_at = _grid_con(bld, L, "limit_abatement_total", np.broadcast_to(has_m, (E, n)), 12, -INF, L.base)
    ab.measures(r_at, 1.0, 0)
    ab.projects(r_at, 1.0, 0)

    # limit_project_once: sum of a project's build options <= 1 (projects with more than one option)
    multi = [j for j, opts in enumerate(L.p_opts) if len(opts) > 1]
    if multi:
        pe = L.p_ent[multi]
        labels = _LazyLabels(lambda j: (L.ids[pe[j]], L.p_ids[multi[j]]), len(multi))
        rows = bld.con("limit_project_once", pe, labels, 13, np.full(len(multi), -INF), np.ones(len(multi)))
        rr = np.concatenate([np.full(len(L.p_opts[j]), rows[k]) for k, j in enumerate(multi)])
        cc = np.concatenate([x.build[L.p_opts[j]] for j in multi])
        bld.terms(rr, cc, 1.0, 0)


def _carryover_rows(bld: _Builder, L: _Layout, data: ModelData, x: _EntityColumns) -> np.ndarray:
    """``limit_carryover``, ``limit_floor_net_sales`` and ``limit_floor_switch``: returns the row
    ids of ``limit_carryover``."""
    ons = _ent_vec(data.entities, "opening_net_sales_t")
    # limit_carryover: carry - limit <= 0
    kind = L.carry_kind
    up_co = np.where(kind == 2, L.floor + L.mult * (ons - L.thr), L.floor)
    r_co = _grid_con(bld, L, "limit_carryover", L.limited, 14, -INF, up_co)
    bld.terms(r_co, x.carry, 1.0, 0)
    bld.terms(np.where(kind == 3, r_co, -1), x.ns_pos, -L.mult, 1)
    lin = np.where(kind == 2, r_co, -1)
    _net_sales_terms(bld, lin, x.sell, x.buy, -L.mult, 1)

    # limit_floor_net_sales: ns_pos - (NS - thr + M (1 - off)) <= 0, M = thr - lo
    big_m = L.thr - L.ns_lo
    r_fn = _grid_con(bld, L, "limit_floor_net_sales", L.floor_years, 15, -INF, ons - L.thr + big_m)
    bld.terms(r_fn, x.ns_pos, 1.0, 0)
    _net_sales_terms(bld, r_fn, x.sell, x.buy, -1.0, 1)
    bld.terms(r_fn, x.floor_off, big_m, 3)
    # limit_floor_switch: ns_pos - (hi - thr) off <= 0
    r_fs = _grid_con(bld, L, "limit_floor_switch", L.floor_years, 16, -INF, 0.0)
    bld.terms(r_fs, x.ns_pos, 1.0, 0)
    bld.terms(r_fs, x.floor_off, -(L.ns_hi - L.thr), 1)
    return r_co


@dataclass
class CostColumns:
    """Provisional column ids (before ``_finish`` orders the columns) of every column the objective
    prices, and the structural numbers it reads: with these, ``objective`` writes the cost vector
    of any data with the same structure (``resolve.structure_key``) without assembling it again."""

    n_col: int
    abate: np.ndarray
    build: np.ndarray
    buy: np.ndarray
    sell: np.ndarray
    shortfall: np.ndarray
    ccer_buy: np.ndarray
    ccer_sell: np.ndarray
    carry: np.ndarray
    ccer_hold: np.ndarray
    use_lot: np.ndarray
    lots: tuple
    o_capex: np.ndarray
    o_opex: np.ndarray
    t_in: np.ndarray | None = None
    t_out: np.ndarray | None = None
    pool_buy: np.ndarray | None = None
    pool_hold: np.ndarray | None = None
    tier_buy: np.ndarray | None = None


def lot_offsets(lots: tuple, df_last: float, n_entities: int) -> list[float | None]:
    """Per entity, the constant of the objective: minus the terminal value of its opening CCER lots
    (None: no lot with a terminal value). ``objective`` sums them; an entity solved alone has its own."""
    lot_e, _lot_id, lot_q, lot_tv, _ly_lot, _ly_i = lots
    out: list[float | None] = [None] * n_entities
    for k in range(n_entities):
        lots_k = [j for j in range(len(lot_e)) if lot_e[j] == k and lot_tv[j]]
        if lots_k:
            value = 0.0
            for j in lots_k:
                value += lot_tv[j] * lot_q[j]
            out[k] = df_last * (0.0 - value)
    return out


def objective(data: ModelData, cc: CostColumns) -> tuple[np.ndarray, float]:
    """The objective of ``data`` on the columns ``cc`` (provisional order): (cost vector, offset).
    Sum over entities, years and components of df x cost, then the link costs. Prices, fees, fines,
    measure costs and terminal values are read from ``data``; ``assemble`` and the warm re-solves of
    ``planner.solve.warm_arrays`` both call this (one definition of the cost formulas)."""
    ents = data.entities
    E, n = len(ents), len(data.years)
    df = np.asarray(data.discount_factor, dtype=float)
    g = data.group
    abate, build, buy, sell, shortfall = cc.abate, cc.build, cc.buy, cc.sell, cc.shortfall
    ccer_buy, ccer_sell, carry, ccer_hold, use_lot = cc.ccer_buy, cc.ccer_sell, cc.carry, cc.ccer_hold, cc.use_lot
    lot_e, _lot_id, _lot_q, lot_tv, ly_lot, _ly_i = cc.lots
    has_tr, pool, tiers = cc.t_in is not None, cc.pool_buy is not None, cc.tier_buy is not None
    t_in, t_out, pool_buy, pool_hold, tier_buy = cc.t_in, cc.t_out, cc.pool_buy, cc.pool_hold, cc.tier_buy
    last = np.zeros((E, n), dtype=bool)
    last[:, -1] = True
    deducted = np.array([e.shortfall_deducted_next_year for e in ents], dtype=bool).reshape(E, 1)
    m_cost = np.asarray([m.cost_cny_per_t for e in ents for m in e.measures], dtype=float).reshape(len(abate), n)

    def ent_vec(name):
        return _ent_vec(ents, name)

    def per_year(name):
        return _per_year(ents, name, n)

    dfy = np.broadcast_to(df, (E, n))
    cost = np.zeros(cc.n_col)
    pb, ps = per_year("price_buy_cny_per_t"), per_year("price_sell_cny_per_t")
    fee, fee_c = per_year("fee_cea_cny_per_t"), per_year("fee_ccer_cny_per_t")
    pcb, pcs = per_year("price_ccer_buy_cny_per_t"), per_year("price_ccer_sell_cny_per_t")
    pen = per_year("penalty_cny_per_t")
    tded = ent_vec("terminal_deduction_cny_per_t")
    rate = np.where(last & deducted, pen + tded, pen)
    cost[abate.ravel()] += (df[None, :] * m_cost).ravel()
    for i in range(n):  # the objective's order: year by year, capex then opex
        cost[build] += np.where(cc.o_capex[:, i] != 0, df[i] * cc.o_capex[:, i], 0.0)
        cost[build] += np.where(cc.o_opex[:, i] != 0, df[i] * cc.o_opex[:, i], 0.0)
    cost[buy.ravel()] += (dfy * pb).ravel()
    cost[buy.ravel()] += (dfy * fee).ravel()
    cost[sell.ravel()] += (dfy * fee).ravel()
    cost[ccer_buy.ravel()] += (dfy * fee_c).ravel()
    cost[ccer_sell.ravel()] += (dfy * fee_c).ravel()
    cost[ccer_buy.ravel()] += (dfy * pcb).ravel()
    cost[shortfall.ravel()] += (dfy * rate).ravel()
    cost[sell.ravel()] += (dfy * -ps).ravel()
    cost[ccer_sell.ravel()] += (dfy * -pcs).ravel()
    tcea, tccer = ent_vec("terminal_cea_value_cny_per_t"), ent_vec("terminal_ccer_value_cny_per_t")
    cost[carry[:, -1]] += df[-1] * -tcea[:, 0]
    cost[ccer_hold[:, -1]] += df[-1] * -tccer[:, 0]
    offset = 0.0
    if len(lot_e):
        # terminal value of what is left of a lot: -tv x (quantity - used), discounted with the last year
        tv = np.asarray(lot_tv, dtype=float)
        cost[use_lot] += np.where(tv[ly_lot] != 0, df[-1] * tv[ly_lot], 0.0)
        for value in lot_offsets(cc.lots, df[-1], E):
            if value is not None:
                offset += value
    if has_tr:
        p = np.asarray(g.transfer_price_cny_per_t, dtype=float)[None, :]
        cost[t_in.ravel()] += (dfy * (p - pb)).ravel()
        cost[t_out.ravel()] += (dfy * -(p - ps)).ravel()
    if pool:
        pp = np.asarray(g.pool_price_cny_per_t, dtype=float) + np.asarray(g.pool_fee_cny_per_t, dtype=float)
        cost[pool_buy] += df * pp
        cost[pool_hold[-1]] += df[-1] * -g.pool_terminal_cny_per_t
    if tiers:
        prem = np.array([t.premium_cny_per_t for t in g.tiers], dtype=float)
        cost[tier_buy.ravel()] += (df[None, :] * prem[:, None]).ravel()
    return cost, offset



def objective_costs(a: Assembled, data: ModelData) -> tuple[np.ndarray, float]:
    """The cost vector (final column order) and offset of ``data`` on the assembled model ``a``,
    whose structure ``data`` shares: ``assemble(data).cost`` and ``.offset``, bit for bit, without
    assembling the rows again."""
    cost, offset = objective(data, a.cost_columns)
    used = a.cost_used
    if used is None:
        used = a.cost_used = np.zeros(len(cost), dtype=bool)
        used[a.col_perm] = True
    if np.any(cost[~used] != 0):
        raise UnsupportedModel("a variable appears in the objective only")
    return cost[a.col_perm], offset


def _net_sales_terms(bld: _Builder, rows: np.ndarray, sell: np.ndarray, buy: np.ndarray, coef, pos: int) -> None:
    """Coefficient x (net sales of the row's year): sell[t] - buy[t] for t <= year, in the walk order
    sell[0], buy[0], sell[1], ... (the same component per term type, so one position each)."""
    E, n = rows.shape
    coef = np.broadcast_to(np.asarray(coef, dtype=float), (E, n))
    for t in range(n):
        rr = rows[:, t:]  # rows of years >= t
        cc = coef[:, t:]
        bld.terms(rr, np.broadcast_to(sell[:, t : t + 1], rr.shape), cc, pos)
        bld.terms(rr, np.broadcast_to(buy[:, t : t + 1], rr.shape), -cc, pos + 1)


def _finish(bld: _Builder, cost: np.ndarray) -> Assembled:
    n_col, n_row = bld.n_col, bld.n_row
    rows = np.concatenate(bld.t_row) if bld.t_row else np.zeros(0, np.int64)
    cols = np.concatenate(bld.t_col) if bld.t_col else np.zeros(0, np.int64)
    vals = np.concatenate(bld.t_val) if bld.t_val else np.zeros(0)
    tpos = np.concatenate(bld.t_pos) if bld.t_pos else np.zeros(0, np.int64)
    # final row order: (block, declaration, provisional id)
    key = np.concatenate(bld.row_key, axis=1) if bld.row_key else np.zeros((3, 0), np.int64)
    row_perm = np.lexsort((key[2], key[1], key[0]))  # final position -> provisional row
    row_rank = np.empty(n_row, dtype=np.int64)
    row_rank[row_perm] = np.arange(n_row)
    # components: (family, block); first appearance = min over its terms of (row rank, term position)
    fam_of_col = np.zeros(n_col, dtype=np.int64)
    comp_block = np.zeros(n_col, dtype=np.int64)
    for k, f in enumerate(bld.cols):
        fam_of_col[f.offset : f.offset + f.size] = k
        comp_block[f.offset : f.offset + f.size] = f.comp
    comp_id = fam_of_col * (bld.n_ent + 1) + (comp_block + 1)
    first_key = np.full(len(bld.cols) * (bld.n_ent + 1), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_key, comp_id[cols], row_rank[rows] * 64 + tpos)
    col_key = first_key[comp_id]
    used = col_key != np.iinfo(np.int64).max
    cost_unused = cost[~used]
    if np.any(cost_unused != 0):
        raise UnsupportedModel("a variable appears in the objective only")
    col_perm = np.lexsort((np.arange(n_col), col_key))[: int(used.sum())]  # final -> provisional
    n_used = len(col_perm)
    col_rank = np.full(n_col, -1, dtype=np.int64)
    col_rank[col_perm] = np.arange(n_used)
    fc = col_rank[cols]
    fr = row_rank[rows]
    # aggregate repeated (row, column) entries in walk order, then sort by column, then row
    order = np.lexsort((tpos, fr, fc))
    fc, fr, vals = fc[order], fr[order], vals[order]
    if len(fc):
        new = np.ones(len(fc), dtype=bool)
        new[1:] = (fc[1:] != fc[:-1]) | (fr[1:] != fr[:-1])
        starts = np.flatnonzero(new)
        vals = np.add.reduceat(vals, starts)
        fc, fr = fc[starts], fr[starts]
    start = np.zeros(n_used + 1, dtype=np.int64)
    np.add.at(start, fc + 1, 1)
    start = np.cumsum(start)
    lower = np.concatenate(bld.lb)[col_perm]
    upper = np.concatenate(bld.ub)[col_perm]
    integer = np.concatenate(bld.integer)[col_perm]
    return Assembled(
        n_col=n_used,
        n_row=n_row,
        cost=cost[col_perm],
        lower=lower,
        upper=upper,
        integer=integer,
        row_lower=np.concatenate(bld.row_lo)[row_perm],
        row_upper=np.concatenate(bld.row_up)[row_perm],
        start=start,
        index=fr,
        value=vals,
        offset=0.0,
        col_of={},
        row_of={},
        col_fams=bld.cols,
        row_fams=bld.rows,
        col_perm=col_perm,
        row_perm=row_perm,
    )


def _renumber(a: Assembled) -> None:
    """Map the provisional ids in ``col_of`` / ``row_of`` to final positions (-1 absent)."""
    n_prov_col = sum(f.size for f in a.col_fams)
    col_rank = np.full(n_prov_col + 1, -1, dtype=np.int64)
    col_rank[a.col_perm] = np.arange(a.n_col)
    row_rank = np.full(a.n_row + 1, -1, dtype=np.int64)
    row_rank[a.row_perm] = np.arange(a.n_row)
    a.col_of = {k: np.where(v >= 0, col_rank[v], -1) for k, v in a.col_of.items()}
    a.row_of = {k: np.where(v >= 0, row_rank[v], -1) for k, v in a.row_of.items()}


# ---- extraction: solution arrays -> the tables of models.extract ----------------------------------


def ledger_arrays(a: Assembled, datas: list[ModelData], X: np.ndarray) -> dict[str, np.ndarray]:
    """The annual ledger of solutions ``X`` (one row per solution, columns in ``a``'s order) of the
    assembled model ``a``: entity-year quantities as S x E x n arrays (S solutions), each cost
    component as ``cost_<component>``, a group's links (market and intra-group trades per entity
    and year, the settlement of transfers at the internal price ``settle``, the pool and the link
    costs per year: S x n). ``datas``: each solution's model data (same structure as ``a``'s; the
    prices may differ). The NumPy core that ``extract_arrays`` (plan tables) and the fast sweep
    ledger of ``planner.solve.warm_arrays`` share."""
    L = a.layout
    ents = datas[0].entities
    E, n = L.base.shape
    X = np.asarray(X, dtype=float)
    S = len(X)
    every = slice(None)

    def val(name, default=0.0):
        ids = a.col_of[name]
        return np.where(ids >= 0, X[:, np.maximum(ids, 0)], default)

    def ent_vec(name):
        return np.stack([_ent_vec(d.entities, name) for d in datas])

    def per_year(name):
        return np.stack([_per_year(d.entities, name, n) for d in datas])

    out: dict[str, np.ndarray] = {}
    ab = val("abate")  # S x M x n
    m_ent = L.m_ent
    abated = np.zeros((S, E, n))
    np.add.at(abated, (every, m_ent), ab)
    bv = val("build")  # S x options
    op_o, op_i = np.nonzero(L.o_oper)
    proj = np.zeros((S, E, n))
    np.add.at(proj, (every, L.o_ent[op_o], op_i), L.o_red[op_o] * bv[:, op_o])
    emissions = np.repeat(L.base[None], S, axis=0)
    np.subtract.at(emissions, (every, m_ent), ab)
    emissions = emissions - proj
    abench = np.repeat(L.alloc[None], S, axis=0)
    lossy = np.where(L.m_has_loss[:, None] & (L.m_loss != 0), L.m_loss * ab, 0.0)
    np.subtract.at(abench, (every, m_ent), lossy)
    relief = val("relief")
    relief_years = a.col_of["relief"] >= 0
    buy, sell = val("buy"), val("sell")
    ons = np.array([e.opening_net_sales_t for e in ents], dtype=float).reshape(E, 1)
    net_sales = ons + np.cumsum(sell - buy, axis=2)
    carry_limit = carry_limits(ents, net_sales)
    ccer_use = val("ccer_use")
    lot_e, lot_id, lot_q, lot_tv, ly_lot, ly_i = a.lots
    ul = val("ccer_use_lot")
    ccer_surr = ccer_use.copy()
    np.add.at(ccer_surr, (every, lot_e[ly_lot], ly_i), ul)
    out.update(
        abate=ab, build=bv, ccer_use_lot=ul,
        abatement_measures_t=abated, abatement_projects_t=proj, emissions_t=emissions,
        allocation_benchmark_t=abench, relief_t=np.where(relief_years, relief, 0.0),
        allocation_t=abench + np.where(L.to_alloc, relief, 0.0) - 0.0,
        obligation_t=emissions - np.where(L.to_alloc, 0.0, relief),
        buy_t=buy, sell_t=sell, surrender_t=val("surrender"), ccer_buy_t=val("ccer_buy"),
        ccer_sell_t=val("ccer_sell"), ccer_use_pool_t=ccer_use, ccer_surrendered_t=ccer_surr,
        ccer_hold_t=val("ccer_hold"), shortfall_t=val("shortfall"), carry_t=val("carry"),
        lapse_t=val("lapse"), carry_limit_t=carry_limit, net_sales_t=net_sales,
    )
    pb, ps = per_year("price_buy_cny_per_t"), per_year("price_sell_cny_per_t")
    fee, fee_c = per_year("fee_cea_cny_per_t"), per_year("fee_ccer_cny_per_t")
    pcb, pcs = per_year("price_ccer_buy_cny_per_t"), per_year("price_ccer_sell_cny_per_t")
    pen = per_year("penalty_cny_per_t")
    deducted = np.array([e.shortfall_deducted_next_year for e in ents], dtype=bool).reshape(E, 1)
    last = np.zeros((E, n), dtype=bool)
    last[:, -1] = True
    rate = np.where(last & deducted, pen + ent_vec("terminal_deduction_cny_per_t"), pen)
    m_cost = np.array([[m.cost_cny_per_t for e in d.entities for m in e.measures] for d in datas], dtype=float)
    c_ab = np.zeros((S, E, n))
    np.add.at(c_ab, (every, m_ent), m_cost.reshape(S, len(m_ent), n) * ab)
    ccer_buy, ccer_sell = out["ccer_buy_t"], out["ccer_sell_t"]
    terminal = np.where(
        last, 0.0 - (ent_vec("terminal_cea_value_cny_per_t") * out["carry_t"] + ent_vec("terminal_ccer_value_cny_per_t") * out["ccer_hold_t"]), 0.0
    )
    capex, opex = np.zeros((S, E, n)), np.zeros((S, E, n))
    np.add.at(capex, (every, L.o_ent), L.o_capex * bv[:, :, None])
    np.add.at(opex, (every, L.o_ent), L.o_opex * bv[:, :, None])
    if len(lot_e):
        left = np.repeat(np.asarray(lot_q, dtype=float)[None], S, axis=0)
        np.subtract.at(left, (every, ly_lot), ul)
        lot_value = np.zeros((S, E))
        np.add.at(lot_value, (every, lot_e), np.asarray(lot_tv, dtype=float) * left)
        terminal[:, :, -1] -= lot_value
    comps = {
        "abatement": c_ab,
        "capex": capex,
        "opex": opex,
        "purchase": pb * buy + 0.0,
        "fees": fee * (buy + sell) + fee_c * (ccer_buy + ccer_sell),
        "ccer": pcb * ccer_buy,
        "penalty": rate * out["shortfall_t"],
        "sales": -(ps * sell + pcs * ccer_sell),
        "terminal": terminal,
    }
    for c in COST_COMPONENTS:
        out[f"cost_{c}"] = comps[c]
    g = datas[0].group
    if g is None:
        return out
    has_tr = g.transfers != "none"
    zeros = np.zeros((S, E, n))
    out["market_buy_t"] = val("market_buy") if has_tr else buy
    out["market_sell_t"] = val("market_sell") if has_tr else sell
    out["transfer_in_t"] = val("transfer_in") if has_tr else zeros
    out["transfer_out_t"] = val("transfer_out") if has_tr else zeros
    out["settle"] = zeros
    out["link_transfer"] = out["link_pool"] = out["link_tiers"] = np.zeros((S, n))
    if has_tr:
        p = np.array([d.group.transfer_price_cny_per_t for d in datas], dtype=float)[:, None, :]
        out["settle"] = (p - pb) * out["transfer_in_t"] - (p - ps) * out["transfer_out_t"]
        out["link_transfer"] = out["settle"].sum(axis=1)
    if g.pool:
        pp = np.array([np.asarray(d.group.pool_price_cny_per_t, dtype=float) + np.asarray(d.group.pool_fee_cny_per_t, dtype=float) for d in datas])
        out["pool_buy_t"], out["pool_hold_t"] = val("pool_buy"), val("pool_hold")
        c = pp * out["pool_buy_t"]
        c[:, -1] -= np.array([d.group.pool_terminal_cny_per_t for d in datas], dtype=float) * out["pool_hold_t"][:, -1]
        out["link_pool"] = c
    if g.tiers:
        tb = val("tier_buy")  # S x K x n
        prem = np.array([t.premium_cny_per_t for t in g.tiers], dtype=float)
        out["tier_buy_t"] = tb
        out["link_tiers"] = (prem[:, None] * tb).sum(axis=1)
    return out


def extract_arrays(a: Assembled, data: ModelData, x: np.ndarray, row_dual: np.ndarray | None):
    """``Results`` and ``LinkResults`` of a solved assembled model, as ``models.extract`` reads them
    from the Pyomo model (same rows, columns and order). ``row_dual``: d objective / d row bound, or None.
    The numbers come from ``ledger_arrays``."""
    import pandas as pd

    from models.extract import Results

    L = a.layout
    E, n = L.base.shape
    years = np.asarray(data.years)
    df = np.asarray(data.discount_factor, dtype=float)
    x = np.asarray(x, dtype=float)
    led = {k: v[0] for k, v in ledger_arrays(a, [data], x[None, :]).items()}
    m_ent = L.m_ent
    ab, bv, ul = led["abate"], led["build"], led["ccer_use_lot"]
    op_o, op_i = np.nonzero(L.o_oper)
    lot_e, lot_id, lot_q, lot_tv, ly_lot, ly_i = a.lots

    def flags(name):
        ids = a.col_of[name]
        v = np.round(np.where(ids >= 0, x[np.maximum(ids, 0)], 0.0)).astype(np.int64)
        return [int(v.flat[k]) if ids.flat[k] >= 0 else None for k in range(E * n)]

    ent_col = np.repeat(np.asarray(L.ids, dtype=object), n)
    year_col = np.tile(years, E)
    annual = pd.DataFrame({
        "entity": ent_col,
        "year": year_col,
        "abatement_measures_t": led["abatement_measures_t"].ravel(),
        "abatement_projects_t": led["abatement_projects_t"].ravel(),
        "emissions_t": led["emissions_t"].ravel(),
        "allocation_benchmark_t": led["allocation_benchmark_t"].ravel(),
        "relief_t": led["relief_t"].ravel(),
        "relief_on": flags("relief_on"),
        "allocation_t": led["allocation_t"].ravel(),
        "obligation_t": led["obligation_t"].ravel(),
        "borrow_t": np.zeros(E * n),
        "auction_buy_t": np.zeros(E * n),
        "buy_t": led["buy_t"].ravel(),
        "sell_t": led["sell_t"].ravel(),
        "surrender_t": led["surrender_t"].ravel(),
        "ccer_buy_t": led["ccer_buy_t"].ravel(),
        "ccer_sell_t": led["ccer_sell_t"].ravel(),
        "ccer_use_pool_t": led["ccer_use_pool_t"].ravel(),
        "ccer_surrendered_t": led["ccer_surrendered_t"].ravel(),
        "ccer_hold_t": led["ccer_hold_t"].ravel(),
        "shortfall_t": led["shortfall_t"].ravel(),
        "carry_t": led["carry_t"].ravel(),
        "lapse_t": led["lapse_t"].ravel(),
        "carry_limit_t": led["carry_limit_t"].ravel(),
        "net_sales_t": led["net_sales_t"].ravel(),
        "floor_off": flags("floor_off"),
        "fined": [None] * (E * n),
        "opening_sell_t": np.zeros(E * n),
        "opening_lapse_t": np.array([[opening_lapse_fixed(e) if i == 0 else 0.0 for i in range(n)] for e in data.entities]).ravel(),
        "opening_carry_limit_t": np.array([[opening_carry_limit(e) if i == 0 else np.nan for i in range(n)] for e in data.entities]).ravel(),
    })
    M = len(m_ent)
    abatement = pd.DataFrame({
        "entity": np.repeat(np.asarray(L.ids, dtype=object)[m_ent], n) if M else [],
        "year": np.tile(years, M),
        "measure": np.repeat(np.asarray(L.m_ids, dtype=object), n) if M else [],
        "abate_t": ab.ravel(),
    }, columns=["entity", "year", "measure", "abate_t"])
    # order (entity, year, measure) as models.extract
    if M:
        rank = np.arange(M) - np.searchsorted(m_ent, m_ent)  # measure position inside its entity
        key = np.lexsort((np.repeat(rank, n), np.tile(np.arange(n), M), np.repeat(m_ent, n)))
        abatement = abatement.iloc[key].reset_index(drop=True)

    nominal = np.stack([led[f"cost_{c}"] for c in COST_COMPONENTS], axis=2)  # E x n x C
    C = len(COST_COMPONENTS)
    dfs = np.broadcast_to(df[None, :, None], nominal.shape)
    costs = pd.DataFrame({
        "entity": np.repeat(np.asarray(L.ids, dtype=object), n * C),
        "year": np.tile(np.repeat(years, C), E),
        "component": np.tile(np.asarray(COST_COMPONENTS, dtype=object), E * n),
        "nominal_cny": nominal.ravel(),
        "discount_factor": dfs.ravel(),
        "discounted_cny": (nominal * dfs).ravel(),
    })
    dual_cols = ["entity", "year", "constraint", "dual"]
    if row_dual is not None:
        names = tuple(DUAL_SIGNS)
        grids = np.stack([a.row_of[k] for k in names], axis=2)  # E x n x rows
        present = grids >= 0
        dv = 0.0 + np.asarray(row_dual, dtype=float)[np.maximum(grids, 0)]
        sel = present.ravel()
        duals = pd.DataFrame({
            "entity": np.repeat(np.asarray(L.ids, dtype=object), n * len(names))[sel],
            "year": np.tile(np.repeat(years, len(names)), E)[sel],
            "constraint": np.tile(np.asarray(names, dtype=object), E * n)[sel],
            "dual": dv.ravel()[sel],
        }, columns=dual_cols).reset_index(drop=True)
    else:
        duals = pd.DataFrame(columns=dual_cols)
    results = Results(
        annual=annual,
        abatement=abatement,
        builds=pd.DataFrame(
            [{"entity": L.ids[L.o_ent[o]], "project": L.o_proj[o], "build_year": L.o_year[o]} for o in range(len(bv)) if round(bv[o]) == 1],
            columns=["entity", "project", "build_year"]),
        project_years=pd.DataFrame(
            [{"entity": L.ids[L.o_ent[o]], "year": int(years[i]), "project": L.o_proj[o], "build_year": L.o_year[o]}
             for o, i in zip(op_o, op_i, strict=True) if round(bv[o]) == 1],
            columns=["entity", "year", "project", "build_year"]),
        ccer_lots=pd.DataFrame({
            "entity": [L.ids[lot_e[j]] for j in ly_lot], "lot": [lot_id[j] for j in ly_lot],
            "year": years[ly_i], "ccer_use_lot_t": ul}, columns=["entity", "lot", "year", "ccer_use_lot_t"]),
        costs=costs,
        duals=duals,
        objective_cny=float(a.cost @ x + a.offset),
    )
    return results, _link_results(led, data, L)



def _link_results(led: dict, data: ModelData, L: _Layout):
    """``LinkResults`` of a group from its solved ledger (``ledger_arrays``), as
    ``models.extract.extract_links`` reads them (None without a group)."""
    import pandas as pd

    from models.extract import LinkResults
    from models.group import LINK_COST_COMPONENTS

    g = data.group
    if g is None:
        return None
    E, n = L.base.shape
    years = np.asarray(data.years)
    ent_col = np.repeat(np.asarray(L.ids, dtype=object), n)
    year_col = np.tile(years, E)
    trades = pd.DataFrame({
        "entity": ent_col,
        "year": year_col,
        **{c: led[c].ravel() for c in ("market_buy_t", "market_sell_t", "transfer_in_t", "transfer_out_t")},
    })
    pool_cols = ["year", "pool_buy_t", "pool_hold_t"]
    if g.pool:
        pool = pd.DataFrame({"year": years, "pool_buy_t": led["pool_buy_t"], "pool_hold_t": led["pool_hold_t"]}, columns=pool_cols)
    else:
        pool = pd.DataFrame(columns=pool_cols)
    link = {c: led[f"link_{c}"] for c in LINK_COST_COMPONENTS}
    tier_cols = ["year", "tier", "tier_buy_t"]
    if g.tiers:
        K = len(g.tiers)
        tb = led["tier_buy_t"]  # K x n
        tier_frame = pd.DataFrame({"year": np.tile(years, K), "tier": np.repeat(np.arange(K), n), "tier_buy_t": tb.ravel()},
                                  columns=tier_cols)
    else:
        tier_frame = pd.DataFrame(columns=tier_cols)
    lc = pd.DataFrame({
        "year": np.repeat(years, len(LINK_COST_COMPONENTS)),
        "component": np.tile(np.asarray(LINK_COST_COMPONENTS, dtype=object), n),
        "nominal_cny": np.stack([link[c] for c in LINK_COST_COMPONENTS], axis=1).ravel(),
    }, columns=["year", "component", "nominal_cny"])
    return LinkResults(
        trades=trades,
        transfers=pd.DataFrame(columns=["year", "seller", "buyer", "transfer_t"]),
        pool=pool,
        tiers=tier_frame,
        costs=lc,
    )
