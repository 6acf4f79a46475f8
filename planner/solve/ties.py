"""Exact tie-breaking: of the plans with the optimal cost, the one that trades the fewest tonnes.

Tied prices leave many plans with the same cost: with a CEA buy price equal to the sell price and
no fee, buying and selling the same tonne in a year costs nothing, and the simplex method stops at
whichever optimal vertex it reaches first, often one that buys and sells hundreds of thousands of
tonnes at the trade bounds. Such trades do not lower the cost; a plan must not hold them.

``least_traded`` works on the HiGHS object of the solve, after it. The optimal plans are those that
keep every column whose reduced cost is not zero at its bound and every row whose dual is not zero
at its bound (complementary slackness with the duals just found): the optimal face, described
without a cost row, so every plan in it has the optimal cost exactly, up to the reduced costs taken
for zero. Among them the plan that trades the fewest tonnes (``trade_weights``: the trade variables
of ``models``, weighted by the scenario's probability in a stochastic extensive form) is found:

1. **Pricing first** (cheap, sound): the reduced costs of the tonnes traded at the current basis
   (one solve with the basis transpose). If no movable non-basic column or row can lower them, the
   plan already trades the least of all optimal plans and nothing is re-solved.
2. **Otherwise a re-solve** from the optimal basis with the face's bounds and the tonnes traded as
   the objective; then bounds, costs and basis are put back.

Integer decisions stay as the first solve left them (for a MIP the caller has fixed them): a MIP's
cost is optimal only within its gap, a second branch and bound would cost as much as the first,
and with the integers fixed every same-year round trip can still be dropped (the rows that hold
purchases and sales see only their difference). The first solve's duals stay the plan's shadow
prices: they pair with every optimal plan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.solve.clock import run_highs

TRADED_TOL_T = 1e-6
"""Tonnes traded below which a plan counts as trading nothing (nothing to drop)."""
DUAL_TOL = 1e-7
"""A reduced cost or dual of at most this size (CNY per tonne, discounted) counts as zero: HiGHS's
dual feasibility tolerance. Prices are given to the fen, so a real difference is far larger."""
PRICE_TOL = 1e-9
"""A reduced cost of the tonnes traded within this of zero does not lower them (round-off)."""
COST_TOL = 1e-9
"""Relative change of the objective beyond which a re-solved plan is rejected (it must not be
costlier than the first: only round-off may differ)."""


@dataclass
class TieBreak:
    """What the tie-break found: the tonnes traded and the cost (the objective as the solver states
    it) before and after, the seconds it took, and how it decided (``how``): "no trades" (nothing to
    drop), "priced" (the basis already trades the least), "re-solved"; or not decided, the plan
    being the first solve's: "no duals", "failed" (the re-solve ended without an optimal plan of
    the same cost)."""

    traded_before_t: float
    traded_after_t: float
    objective_before: float
    objective_after: float
    seconds: float
    how: str = "re-solved"

    @property
    def removed_t(self) -> float:
        """Tonnes of trades the tie-break dropped (weighted by probability in an extensive form)."""
        return self.traded_before_t - self.traded_after_t

    @property
    def broke_tie(self) -> bool:
        """The first optimal plan held trades that did not lower its cost, and they were dropped."""
        return self.removed_t > max(1e-3, 1e-9 * self.traded_before_t)

    @property
    def least(self) -> bool:
        """The plan trades the fewest tonnes of the optimal plans."""
        return self.how in ("no trades", "priced", "re-solved")


def trade_weights_pyomo(columns: list) -> np.ndarray | None:
    """Weight of each column of a compiled Pyomo model in the tonnes traded: 1 for a trade
    variable (``models.TRADE_VARIABLES``), times the scenario's probability inside a stochastic
    extensive form (``models.stochastic.scenario_probability``); None when no column is a trade."""
    from models import TRADE_VARIABLES
    from models.stochastic import scenario_probability

    w = np.zeros(len(columns))
    weight: dict[int, float] = {}  # per component
    for j, v in enumerate(columns):
        comp = v.parent_component()
        k = id(comp)
        if k not in weight:
            weight[k] = scenario_probability(comp.parent_block()) if comp.local_name in TRADE_VARIABLES else 0.0
        w[j] = weight[k]
    return w if w.any() else None


def trade_weights_assembled(a: Any) -> np.ndarray | None:
    """``trade_weights_pyomo`` for a model of ``models.arrays.assemble`` (its column map)."""
    from models import TRADE_VARIABLES

    w = np.zeros(a.n_col)
    for name in TRADE_VARIABLES:
        ids = a.col_of.get(name)
        if ids is not None:
            ids = np.asarray(ids).ravel()
            w[ids[ids >= 0]] = 1.0
    return w if w.any() else None


def least_traded(h, x: np.ndarray, objective: float, weights: np.ndarray, bounds: tuple | None = None,
                 cost: np.ndarray | None = None, time_limit_s: float | None = None) -> tuple[np.ndarray, TieBreak]:
    """The optimal plan of the LP loaded in ``h`` that trades the fewest tonnes (``weights . x``),
    given its optimal solution ``x`` (objective ``objective``, HiGHS minimising). Returns the
    solution (``x`` itself unless trades were dropped) and what happened. ``h`` is left as it was
    found: bounds, costs and basis restored (a sweep's next variant starts where it would have
    started without this). ``bounds``: the LP's (lower, upper) bounds of its columns then its rows
    (``item_bounds``), ``cost``: its cost vector, when the caller holds them (read from ``h``
    otherwise, which takes longer); ``time_limit_s``: the re-solve's own time limit."""
    t0 = time.perf_counter()
    traded = float(weights @ x)

    def done(how: str, x2: np.ndarray = x, after: float = traded, obj: float = objective) -> tuple[np.ndarray, TieBreak]:
        return x2, TieBreak(traded, after, objective, obj, time.perf_counter() - t0, how)

    if traded <= TRADED_TOL_T:
        return done("no trades")
    sol = h.getSolution()
    if not sol.dual_valid:  # no duals to tell the optimal plans apart: keep the plan
        return done("no duals")
    n = len(x)
    low, upp = bounds if bounds is not None else _bounds_of(h)
    # columns then rows, as one list of items: value and dual (reduced cost; a row's dual)
    val = np.concatenate([x, sol.row_value])
    dual = np.concatenate([sol.col_dual, sol.row_dual])
    if _least_at_basis(h, weights, val, dual, low, upp):
        return done("priced")
    # the optimal face: an item whose dual is not zero stays at its bound; every plan left has the
    # same cost, whatever it trades
    fixed = np.flatnonzero(np.abs(dual) > DUAL_TOL)
    at = _nearest_bound(val[fixed], low[fixed], upp[fixed])
    keep = np.isfinite(at)
    fixed, at = fixed[keep], at[keep]
    c_idx, c_val = fixed[fixed < n].astype(np.int32), at[fixed < n]
    r_idx, r_val = (fixed[fixed >= n] - n).astype(np.int32), at[fixed >= n]
    cols = np.arange(n, dtype=np.int32)
    if cost is None:
        cost = h.getCols(n, cols)[2]
    basis = h.getBasis()
    h.changeColsBounds(len(c_idx), c_idx, c_val, c_val)
    h.changeRowsBounds(len(r_idx), r_idx, r_val, r_val)
    h.changeColsCost(n, cols, weights)
    try:
        run_highs(h, time_limit_s)
        sol = h.getSolution()
        ok = h.getModelStatus().name == "kOptimal" and sol.value_valid
        x2 = np.asarray(sol.col_value) if ok else x
    finally:
        h.changeColsBounds(len(c_idx), c_idx, low[c_idx], upp[c_idx])
        h.changeRowsBounds(len(r_idx), r_idx, low[n + r_idx], upp[n + r_idx])
        h.changeColsCost(n, cols, cost)
        h.setBasis(basis)
    if not ok:
        return done("failed")
    change = float(cost @ x2) - float(cost @ x)
    if abs(change) > COST_TOL * max(1.0, abs(objective)):
        return done("failed")  # a reduced cost within the tolerance taken for zero moved the cost
    after = float(weights @ x2)
    if after < traded - max(1e-3, 1e-9 * traded):
        return done("re-solved", x2, after, objective + change)
    return done("re-solved")  # the first plan trades no more: keep it


def item_bounds(col_lower, col_upper, row_lower, row_upper) -> tuple[np.ndarray, np.ndarray]:
    """The (lower, upper) bounds of an LP's columns then its rows, as ``least_traded`` reads them."""
    return (np.concatenate([np.asarray(col_lower, dtype=float), np.asarray(row_lower, dtype=float)]),
            np.concatenate([np.asarray(col_upper, dtype=float), np.asarray(row_upper, dtype=float)]))


def _bounds_of(h) -> tuple[np.ndarray, np.ndarray]:
    n, m = h.getNumCol(), h.getNumRow()
    _, _, _, lo, up, _ = h.getCols(n, np.arange(n, dtype=np.int32))
    _, _, rlo, rup, _ = h.getRows(m, np.arange(m, dtype=np.int32))
    return item_bounds(lo, up, rlo, rup)


def _least_at_basis(h, w: np.ndarray, val: np.ndarray, dual: np.ndarray, low: np.ndarray, upp: np.ndarray) -> bool:
    """Whether the basis of ``h`` is optimal for the tonnes traded ``w`` over the optimal face: no
    non-basic item (column, then row, as in ``least_traded``) that may move in the face (zero
    dual, bounds apart) lowers them. Sufficient, not necessary (a degenerate basis may answer no;
    the re-solve decides).

    HiGHS's duals satisfy ``d = c - A'y`` with ``y`` solving ``B'y = c_B`` (0 for a basic row), and
    moving a non-basic row's activity by t changes the objective by ``y_i t``; the same with ``w``
    for the costs gives the reduced costs of the tonnes traded."""
    n = len(w)
    _, basic = h.getBasicVariables()
    is_col = basic >= 0
    _, yw = h.getBasisTransposeSolve(w[basic.clip(0)] * is_col)
    movable = np.abs(dual) <= DUAL_TOL
    movable &= low < upp
    movable[np.where(is_col, basic, n - 1 - basic)] = False  # a basic row -(1 + i) is item n + i
    k = np.flatnonzero(movable)
    if not len(k):
        return True
    v, lo, up = val[k], low[k], upp[k]
    if np.isinf(lo).any() and (np.isinf(lo) & np.isinf(up)).any():
        return False  # a free non-basic item: let the re-solve decide
    nc = int(np.searchsorted(k, n))
    rc = np.empty(len(k))
    rc[nc:] = yw[k[nc:] - n]  # a row's reduced cost of w: its entry of y_w
    if nc:
        kc = k[:nc].astype(np.int32)
        _, start, index, value = h.getColsEntries(nc, kc)
        # w_j - a_j'y_w per column (a column without entries sums to nothing)
        col = np.searchsorted(start, np.arange(len(index)), side="right") - 1
        rc[:nc] = w[kc] - np.bincount(col, weights=value * yw[index], minlength=nc)
    # off the lower bound upwards, off the upper bound downwards: no descent
    return bool(np.where(v - lo <= up - v, rc >= -PRICE_TOL, rc <= PRICE_TOL).all())


def _nearest_bound(v: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray:
    """The bound nearest each value (an item whose dual is not zero sits at one)."""
    return np.where(np.abs(v - lo) <= np.abs(v - up), lo, up)
