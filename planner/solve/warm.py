"""Warm re-solves for sweeps: one Pyomo model, one compiled model and one HiGHS object, changed in place.

``WarmSolver.solve(prep)`` plans one prepared variant. Three paths, chosen robustly:

1. **Objective only** (prices, fees, fines, measure costs, terminal values): the variant's model data
   equal the current model's once those fields are masked. The model was built with those fields
   as mutable Pyomo parameters, so only their values change; the objective is re-walked into a
   cost vector and handed to HiGHS with ``changeColsCost``; HiGHS starts from the previous basis.
2. **Same structure**: anything else changed (bounds, allocation, emissions, limits...). The model is
   rebuilt and compiled; when its column/row identities, sparsity pattern and integrality equal the
   current ones, costs, column bounds, row bounds and changed matrix values are changed in place
   (``changeColsCost``, ``changeColsBounds``, ``changeRowsBounds``, ``changeCoeff``), warm.
3. **New structure**: the compiled model is passed to the same HiGHS object afresh.

The solution is mapped back to the same plan tables as ``planner.api.solve`` (``models.extract``,
``planner.plan.entity``) and checked by the independent checker (``planner.plan.check``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from models import Results, build_model, extract_results
from models.arrays.assemble import carry_limits
from models.data import EntityData, MeasureData, ModelData
from planner.errors import NonOptimalError, PlanCheckError
from planner.plan.check import check_plan
from planner.plan.entity import Plan, assemble_plan
from planner.prepare.entity import PreparedCase
from planner.prepare.group import PreparedGroup
from planner.solve.highs import (
    CompiledModel,
    SolveOptions,
    SolveResult,
    SolveStatus,
    _highs,
    _new_highs,
    _raise_unless_allowed,
    _unbounded_or_infeasible,
    break_ties,
    compile_model,
    read_outcome,
)
from planner.solve.ties import item_bounds

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
"""Per-year entity fields that enter only the objective (checked by the warm-vs-rebuild test)."""
OBJECTIVE_SCALARS = (
    "terminal_cea_value_cny_per_t",
    "terminal_ccer_value_cny_per_t",
    "terminal_deduction_cny_per_t",
    "borrow_terminal_cny_per_t",
)


GROUP_OBJECTIVE_TUPLES = ("transfer_price_cny_per_t", "pool_price_cny_per_t", "pool_fee_cny_per_t")
"""Per-year group-link fields that enter only the objective (without a group budget)."""
GROUP_OBJECTIVE_SCALARS = ("pool_terminal_cny_per_t",)


def has_budget(data: ModelData) -> bool:
    """A group budget puts every cost (prices included) into a constraint: prices are no longer
    objective-only, so such a model never takes the objective-only path."""
    g = data.group
    return g is not None and any(np.isfinite(b) for b in g.budget_cny)


_STRUCT_FIELDS: tuple[str, ...] | None = None


def _struct_fields() -> tuple[str, ...]:
    global _STRUCT_FIELDS
    if _STRUCT_FIELDS is None:
        skip = set(OBJECTIVE_TUPLES + OBJECTIVE_SCALARS) | {"measures", "price_auction_cny_per_t"}
        _STRUCT_FIELDS = tuple(f.name for f in dataclasses.fields(EntityData) if f.name not in skip)
    return _STRUCT_FIELDS


def structure_key(data: ModelData) -> tuple:
    """``data`` with every objective-only field masked: equal keys mean equal constraints and bounds.

    With a group budget nothing is masked (costs are constrained): only identical data share a key.
    Price-tier premiums are never masked (``ModelData`` checks that they increase)."""
    if has_budget(data):
        return ("budget", data)
    fields = _struct_fields()
    ents = tuple(
        (
            tuple(getattr(e, f) for f in fields),
            tuple((m.id, m.potential_t, m.allocation_loss_t_per_t) for m in e.measures),
            bool(e.price_auction_cny_per_t),
        )
        for e in data.entities
    )
    g = data.group
    if g is not None:
        g = dataclasses.replace(
            g,
            **{f: bool(getattr(g, f)) for f in GROUP_OBJECTIVE_TUPLES},
            **{f: None for f in GROUP_OBJECTIVE_SCALARS},
        )
    return (data.years, data.discount_factor, ents, g)


def _objective_values(data: ModelData) -> list[float]:
    """The objective-only numbers of ``data`` in a fixed order (the order of the parameters)."""
    out: list[float] = []
    for e in data.entities:
        for f in OBJECTIVE_TUPLES:
            out.extend(getattr(e, f))
        out.extend(getattr(e, f) for f in OBJECTIVE_SCALARS)
        for m in e.measures:
            out.extend(m.cost_cny_per_t)
    g = data.group
    if g is not None:
        for f in GROUP_OBJECTIVE_TUPLES:
            out.extend(getattr(g, f))
        out.extend(getattr(g, f) for f in GROUP_OBJECTIVE_SCALARS)
    return out


def _parametrise(data: ModelData) -> tuple[ModelData, pyo.ConcreteModel]:
    """A copy of ``data`` whose objective-only numbers are mutable Pyomo parameters (in ``holder``)."""
    values = _objective_values(data)
    holder = pyo.ConcreteModel(name="sweep_parameters")
    holder.p = pyo.Param(range(len(values)), mutable=True, initialize=dict(enumerate(values)))
    it = iter(holder.p[i] for i in range(len(values)))
    ents = []
    for e in data.entities:
        rep: dict[str, Any] = {f: tuple(next(it) for _ in getattr(e, f)) for f in OBJECTIVE_TUPLES}
        rep.update({f: next(it) for f in OBJECTIVE_SCALARS})
        rep["measures"] = tuple(
            MeasureData(
                m.id,
                tuple(next(it) for _ in m.cost_cny_per_t),
                m.potential_t,
                m.allocation_loss_t_per_t,
            )
            for m in e.measures
        )
        ents.append(dataclasses.replace(e, **rep))
    g = data.group
    if g is not None:
        grep: dict[str, Any] = {f: tuple(next(it) for _ in getattr(g, f)) for f in GROUP_OBJECTIVE_TUPLES}
        grep.update({f: next(it) for f in GROUP_OBJECTIVE_SCALARS})
        g = dataclasses.replace(g, **grep)
    return dataclasses.replace(data, entities=tuple(ents), group=g), holder


GROUP_ROW = "(group)"
"""Entity label of a group's own rows in sweep tables."""


def link_expressions(m: pyo.ConcreteModel, pdata: ModelData) -> list[tuple[str, int, str, object]]:
    """(entity, year, column, expression) of a group's links, for the compiled report map: per
    entity and year the market / intra-group split of its trades and the settlement of its
    transfers at the internal price (``cost_transfer``: what ``planner.plan.group.settle_costs``
    adds to the entity's costs); per year (entity ``GROUP_ROW``) the CCER pool and the link costs.
    ``pdata``: the model data the model was built from (prices as parameters)."""
    g = pdata.group
    assert g is not None
    years = list(m.YEARS)
    free, block = hasattr(m, "transfer_in"), hasattr(m, "transfer")
    into: dict[tuple, list] = {}
    outof: dict[tuple, list] = {}
    if block:
        for s, d, y in m.PAIR_YEARS:
            outof.setdefault((s, y), []).append(m.transfer[s, d, y])
            into.setdefault((d, y), []).append(m.transfer[s, d, y])
    by_id = {e.id: e for e in pdata.entities}
    out: list[tuple[str, int, str, object]] = []
    for e in m.ENTITIES:
        b, ed = m.entity[e], by_id[e]
        for i, y in enumerate(years):
            if free:
                ti, to = m.transfer_in[e, y], m.transfer_out[e, y]
            elif block:
                ti, to = sum(into.get((e, y), [])), sum(outof.get((e, y), []))
            else:
                ti = to = 0.0
            if hasattr(m, "market_buy"):
                mb, ms = m.market_buy[e, y], m.market_sell[e, y]
            else:
                mb, ms = b.buy[y], b.sell[y]
            settle: object = 0.0
            if g.transfers != "none":
                p = g.transfer_price_cny_per_t[i]
                settle = (p - ed.price_buy_cny_per_t[i]) * ti - (p - ed.price_sell_cny_per_t[i]) * to
            out += [
                (e, y, "market_buy_t", mb),
                (e, y, "market_sell_t", ms),
                (e, y, "transfer_in_t", ti),
                (e, y, "transfer_out_t", to),
                (e, y, "cost_transfer", settle),
            ]
    pool = hasattr(m, "pool_buy")
    for y in years:
        out += [
            (GROUP_ROW, y, "pool_buy_t", m.pool_buy[y] if pool else 0.0),
            (GROUP_ROW, y, "pool_hold_t", m.pool_hold[y] if pool else 0.0),
            (GROUP_ROW, y, "cost_pool", m.cost_pool[y]),
            (GROUP_ROW, y, "cost_tiers", m.cost_tiers[y]),
        ]
    return out


def _group_inputs(prep: PreparedGroup) -> pd.DataFrame:
    return pd.concat([p.inputs for p in prep.entities], ignore_index=True)


def _affine(expr, pidx: dict[int, int]) -> tuple[float, list[tuple[int, float]]]:
    """``expr`` (a number or an expression of mutable parameters) as ``c0 + sum g_i theta_i``:
    evaluated with its parameters at 0, then each at 1 (exact for the affine coefficients that
    the model's expressions have). Leaves the parameters at 0: the caller restores them.

    An expression with many parameters (the objective's constant holds every entity's terminal
    values and fines: 1,700 parameters at 100 plants) is split first into the terms of its sums
    (and the parameter-free factors of its products), each term evaluated alone: linear in the size
    of the expression instead of parameters x size (17 s -> well under a second at 100 plants)."""
    from pyomo.core.expr.visitor import identify_mutable_parameters

    if isinstance(expr, int | float):
        return float(expr), []
    ps = list(identify_mutable_parameters(expr))
    if len(ps) > _SPLIT_PARAMS:
        return _affine_split(expr, pidx)
    return _affine_eval(expr, pidx, ps)


_SPLIT_PARAMS = 8
"""Above this many parameters ``_affine`` splits an expression into terms."""


def _affine_split(expr, pidx: dict[int, int]) -> tuple[float, list[tuple[int, float]]]:
    """``_affine`` term by term: sums are opened and parameter-free factors of products carried
    as weights (an explicit stack: the sums are nested thousands deep)."""
    from pyomo.core.expr.numeric_expr import ProductExpression, SumExpression
    from pyomo.core.expr.visitor import identify_mutable_parameters

    c0 = 0.0
    grads: dict[int, float] = {}
    stack = [(expr, 1.0)]
    while stack:
        e, w = stack.pop()
        if isinstance(e, SumExpression):
            stack.extend((a, w) for a in reversed(e.args))
            continue
        if isinstance(e, ProductExpression):
            a, b = e.args
            if not any(True for _ in identify_mutable_parameters(a)):
                stack.append((b, w * float(pyo.value(a))))
                continue
            if not any(True for _ in identify_mutable_parameters(b)):
                stack.append((a, w * float(pyo.value(b))))
                continue
        base, gs = _affine_eval(e, pidx)
        c0 += w * base
        for i, g in gs:
            grads[i] = grads.get(i, 0.0) + w * g
    return c0, list(grads.items())


def _affine_eval(expr, pidx: dict[int, int], ps: list | None = None) -> tuple[float, list[tuple[int, float]]]:
    """``_affine`` by evaluation (``ps``: its parameters, if known): with every parameter at 0,
    then each at 1."""
    from pyomo.core.expr.visitor import identify_mutable_parameters

    if ps is None:
        ps = list(identify_mutable_parameters(expr))
    for p in ps:
        p.set_value(0.0)
    c0 = float(pyo.value(expr))
    grads = []
    for p in ps:
        p.set_value(1.0)
        grads.append((pidx[id(p)], float(pyo.value(expr)) - c0))
        p.set_value(0.0)
    return c0, grads


def _steps(terms: tuple[np.ndarray, ...]) -> list[tuple[np.ndarray, ...]]:
    """Terms (value index first, then their other arrays) as steps: step k holds the k-th term of
    each value, in term order, so that no value is added to twice in one step."""
    rows = terms[0]
    if not len(rows):
        return []
    order = np.argsort(rows, kind="stable")
    r = rows[order]
    first = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    rank = np.empty(len(r), dtype=np.int64)
    rank[order] = np.arange(len(r)) - np.repeat(first, np.diff(np.r_[first, len(r)]))
    return [tuple(t[rank == k] for t in terms) for k in range(int(rank.max()) + 1)]


class _InfoView:
    """The HiGHS info fields a run's outcome needs, read one by one (``getInfoValue``) rather than
    copying the whole info record (``getInfo``) on every warm re-solve."""

    __slots__ = ("_h",)

    def __init__(self, h) -> None:
        self._h = h

    def __getattr__(self, name: str):
        return self._h.getInfoValue(name)[1]


class LedgerRows(Mapping):
    """One scenario's fast ledger rows, column -> array, inside its batch's arrays: column ``c`` is
    ``columns[c][k]`` where ``columns[c]`` holds every scenario of the batch (2-D: scenarios x
    rows), else ``columns[c]`` itself (1-D, the same for the whole batch: entity, year, ...).
    A sweep's chunk table takes a run of a batch's scenarios as slices of its 2-D arrays
    (``planner.studies.sweep._frame``) instead of one small array per scenario and column."""

    __slots__ = ("columns", "k")

    def __init__(self, columns: dict[str, np.ndarray], k: int) -> None:
        self.columns, self.k = columns, k

    def __getitem__(self, c: str) -> np.ndarray:
        a = self.columns[c]
        return a[self.k] if a.ndim == 2 else a

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


@dataclass
class WarmStats:
    """How each variant was solved."""

    objective_only: int = 0
    in_place: int = 0
    new_structure: int = 0
    timings: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.timings.setdefault(stage, []).append(seconds)


@dataclass
class VariantResult:
    """A planned variant: the plan (None when infeasible etc.), the solve result and the path taken."""

    plan: Plan | None
    solve: SolveResult
    path: str
    error: str | None = None


def same_sparsity(old: CompiledModel, new: CompiledModel) -> bool:
    """The same numbers of columns and rows, integer columns and sparsity pattern: every cost,
    bound and changed coefficient of ``new`` can be written over ``old`` in HiGHS."""
    a, b = old.lp, new.lp
    if (a.num_col_, a.num_row_) != (b.num_col_, b.num_row_):
        return False
    if not np.array_equal(old.integer_cols, new.integer_cols):
        return False
    return np.array_equal(np.asarray(a.a_matrix_.start_), np.asarray(b.a_matrix_.start_)) and np.array_equal(
        np.asarray(a.a_matrix_.index_), np.asarray(b.a_matrix_.index_)
    )


class WarmSolver:
    """One persistent model per worker: re-solves variants warm, rebuilds only when needed."""

    def __init__(self, opts: SolveOptions | None = None, *, check: bool = True) -> None:
        self.opts = opts or SolveOptions()
        self.check = check
        self.stats = WarmStats()
        self._key: tuple | None = None
        self._model: pyo.ConcreteModel | None = None
        self._holder: pyo.ConcreteModel | None = None
        self._cm: CompiledModel | None = None
        self._h: Any = None
        self._lower = self._upper = self._cost = None
        self._grad = None
        self._params_dirty = False
        self._solution = None
        self._report = None
        self._theta = None
        self._pdata: ModelData | None = None
        self._built_pdata: ModelData | None = None
        self._cold = False
        self._cost_s = 0.0
        self._static: tuple[str, dict[str, int], dict[str, Any]] | None = None
        self._key_data: ModelData | None = None
        self._bounds: tuple | None = None

    @property
    def is_cold(self) -> bool:
        """The next solve starts cold (no solve since ``cold_start``)."""
        return self._cold

    def cold_start(self) -> None:
        """Forget the previous solution (the basis HiGHS would start from); keep the model. The
        next solve is the same as on a freshly loaded model: results then depend only on the
        sequence of variants since this call."""
        if self._h is not None and self._cm is not None:
            # hand HiGHS the compiled model afresh (``clearSolver`` alone left state that made a
            # degenerate 100-plant group LP end at another optimal vertex than a new worker did)
            self._h.passModel(self._cm.lp)
            self._cost = np.array(self._cm.lp.col_cost_, dtype=float)
        self._cold = True

    # ------------------------------------------------------------------ model state
    def _build(self, data: ModelData) -> tuple[pyo.ConcreteModel, pyo.ConcreteModel, CompiledModel]:
        pdata, holder = _parametrise(data)
        m = build_model(pdata)
        self._built_pdata = pdata
        return m, holder, compile_model(m)

    def _same_pattern(self, cm: CompiledModel) -> bool:
        """``cm`` can be written over the loaded model: the same sparsity (``same_sparsity``) and
        the same Pyomo components behind its columns and rows."""
        old = self._cm
        assert old is not None
        if not same_sparsity(old, cm):
            return False
        return [v.name for v in old.columns] == [v.name for v in cm.columns] and [
            c.name for c in old.rows
        ] == [c.name for c in cm.rows]

    def _load(self, m, holder, cm: CompiledModel, key: tuple) -> None:
        if self._h is None:
            self._h = _new_highs(self.opts, None)  # no log: nothing reads it per scenario
        self._h.passModel(cm.lp)
        self._adopt(m, holder, cm, key)

    def _adopt(self, m, holder, cm: CompiledModel, key: tuple) -> None:
        self._model, self._holder, self._cm, self._key = m, holder, cm, key
        self._static = None
        self._pdata = self._built_pdata
        self._grad = None  # found again on the first objective-only change
        self._params_dirty = False
        self._report = None
        self._theta = np.asarray([pyo.value(holder.p[i]) for i in range(len(holder.p))], dtype=float)
        self._lower = np.array(cm.lp.col_lower_, dtype=float)
        self._upper = np.array(cm.lp.col_upper_, dtype=float)
        self._cost = np.array(cm.lp.col_cost_, dtype=float)

    def _update_in_place(self, m, holder, cm: CompiledModel, key: tuple) -> None:
        h, old = self._h, self._cm
        assert old is not None
        n, nr = cm.lp.num_col_, cm.lp.num_row_
        cols = np.arange(n, dtype=np.int32)
        h.changeColsCost(n, cols, np.asarray(cm.lp.col_cost_, dtype=float))
        h.changeColsBounds(
            n,
            cols,
            np.asarray(cm.lp.col_lower_, dtype=float),
            np.asarray(cm.lp.col_upper_, dtype=float),
        )
        rows = np.arange(nr, dtype=np.int32)
        if nr:
            h.changeRowsBounds(
                nr,
                rows,
                np.asarray(cm.lp.row_lower_, dtype=float),
                np.asarray(cm.lp.row_upper_, dtype=float),
            )
        old_v, new_v = np.asarray(old.lp.a_matrix_.value_), np.asarray(cm.lp.a_matrix_.value_)
        diff = np.flatnonzero(old_v != new_v)
        if len(diff):
            start = np.asarray(cm.lp.a_matrix_.start_)
            index = np.asarray(cm.lp.a_matrix_.index_)
            col_of = np.searchsorted(start, diff, side="right") - 1
            for k, j in zip(diff, col_of, strict=True):
                h.changeCoeff(int(index[k]), int(j), float(new_v[k]))
        h.changeObjectiveOffset(float(cm.lp.offset_))
        self._adopt(m, holder, cm, key)

    def _objective_gradient(self) -> None:
        """The objective's cost vector as an exact affine function of the parameters:
        ``cost = c0 + G @ theta`` (and the offset likewise), found once per model from Pyomo's
        standard representation with the parameters kept symbolic (each coefficient is evaluated
        with its parameters at 0, then each at 1)."""
        from pyomo.repn.standard_repn import generate_standard_repn
        holder, cm, m = self._holder, self._cm, self._model
        assert holder is not None and cm is not None and m is not None
        pidx = {id(holder.p[i]): i for i in holder.p}
        pos = {id(v): j for j, v in enumerate(cm.columns)}
        repn = generate_standard_repn(m.objective.expr, compute_values=False, quadratic=False)
        n, k = len(cm.columns), len(pidx)
        saved = {i: pyo.value(holder.p[i]) for i in holder.p}

        def affine(expr) -> tuple[float, list[tuple[int, float]]]:
            return _affine(expr, pidx)

        c0 = np.zeros(n)
        rows, cols, vals = [], [], []
        for v, coef in zip(repn.linear_vars, repn.linear_coefs, strict=True):
            j = pos[id(v)]
            base, grads = affine(coef)
            c0[j] += cm.obj_sign * base
            for i, g in grads:
                rows.append(j)
                cols.append(i)
                vals.append(cm.obj_sign * g)
        off0, ogr = affine(repn.constant)
        og = np.zeros(k)
        for i, g in ogr:
            og[i] += cm.obj_sign * g
        for i, val in saved.items():
            holder.p[i].set_value(val)
        self._c0, self._off0 = c0, cm.obj_sign * off0
        self._grad = (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=float))
        self._ograd = og
        self._params = [holder.p[i] for i in range(k)]
        self._theta = np.array([saved[i] for i in range(k)], dtype=float)
        self._params_dirty = False

    def ready_objective(self) -> None:
        """Find the current model's objective gradient now if it is not known yet (once per model,
        on its first objective-only change otherwise): a sweep does it before timing its batch of
        variants, so that this per-model cost is not spread over the variants' times."""
        if self._grad is None and self._holder is not None:
            self._objective_gradient()

    def _set_objective(self, data: ModelData) -> None:
        """Objective-only path: new parameter values -> new cost vector and offset for HiGHS."""
        if self._grad is None:
            self._objective_gradient()
        theta = np.asarray(_objective_values(data), dtype=float)
        rows, cols, vals = self._grad
        cost = self._c0.copy()
        np.add.at(cost, rows, vals * theta[cols])
        self._send_objective(cost, self._off0 + float(self._ograd @ theta))
        self._theta = theta
        self._params_dirty = True

    def _send_objective(self, cost: np.ndarray, offset: float) -> None:
        """Give HiGHS a new cost vector and objective offset (timed: ``_cost_s``, HiGHS's part of
        the update, counted in the run's ``highs_calls_s``, see ``_run``)."""
        n = len(cost)
        t0 = time.perf_counter()
        self._h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        self._h.changeObjectiveOffset(offset)
        self._cost_s = time.perf_counter() - t0
        self._cost = cost

    def _compile_report(self) -> None:
        """Ledger columns as exact functions of (solution x, parameters theta), once per model:
        ``value = A x + sum g theta_i x_j + b0 + sum h theta_i`` (``models.extract.annual_expressions``,
        and for a group the link columns of ``link_expressions``). The (row, column) place of every
        value in the result table is fixed here too, so a scenario's table is one array."""
        from pyomo.repn.standard_repn import generate_standard_repn

        from models.extract import annual_expressions

        holder, cm, m = self._holder, self._cm, self._model
        assert holder is not None and cm is not None and m is not None
        pidx = {id(holder.p[i]): i for i in holder.p}
        pos = {id(v): j for j, v in enumerate(cm.columns)}
        saved = {i: pyo.value(holder.p[i]) for i in holder.p}
        items = annual_expressions(m)
        if self._pdata is not None and self._pdata.group is not None:
            items = items + link_expressions(m, self._pdata)
        b0 = np.zeros(len(items))
        lin: list[tuple[int, int, float]] = []
        bil: list[tuple[int, int, int, float]] = []
        const: list[tuple[int, int, float]] = []
        for r, (_e, _y, _c, expr) in enumerate(items):
            if isinstance(expr, int | float):
                b0[r] = float(expr)
                continue
            repn = generate_standard_repn(expr, compute_values=False, quadratic=False)
            if repn.nonlinear_expr is not None or repn.quadratic_vars:
                raise ValueError(f"report column {_c} of {_e} {_y} is not linear")
            for v, coef in zip(repn.linear_vars, repn.linear_coefs, strict=True):
                base, grads = _affine(coef, pidx)
                lin.append((r, pos[id(v)], base))
                bil.extend((r, pos[id(v)], i, g) for i, g in grads)
            base, grads = _affine(repn.constant, pidx)
            b0[r] += base
            const.extend((r, i, g) for i, g in grads)
        for i, val in saved.items():
            holder.p[i].set_value(val)

        def arr(rows, k):
            return tuple(np.asarray([t[j] for t in rows], dtype=float if j == k - 1 else np.int64) for j in range(k))

        # table layout: entity rows (entity, year) with their columns, then the group's (year) rows
        layout = {}
        for part, pick in (("entity", lambda e: e != GROUP_ROW), ("group", lambda e: e == GROUP_ROW)):
            sel = [r for r, (e, _y, _c, _x) in enumerate(items) if pick(e)]
            rows_: dict[tuple, int] = {}
            cols_: dict[str, int] = {}
            for r in sel:
                e, y, c, _ = items[r]
                rows_.setdefault((e, y), len(rows_))
                cols_.setdefault(c, len(cols_))
            layout[part] = (
                np.asarray(sel, dtype=np.int64),
                np.asarray([rows_[(items[r][0], items[r][1])] for r in sel], dtype=np.int64),
                np.asarray([cols_[items[r][2]] for r in sel], dtype=np.int64),
                list(rows_),
                list(cols_),
            )
        self._report = {
            "keys": [(e, y, c) for e, y, c, _ in items],
            "b0": b0,
            "lin": arr(lin, 3),
            "bil": arr(bil, 4),
            "const": arr(const, 3),
            "layout": layout,
        }

    def report_values(self) -> tuple[list[tuple], np.ndarray]:
        """The ledger columns of the last solution (see ``_compile_report``), without Pyomo."""
        x, _ = self._solution
        keys, vals = self._report_values_many(x[None, :], self._current_theta()[None, :])
        return keys, vals[0]

    def _current_theta(self) -> np.ndarray:
        """The parameter values the current objective was built with (a new array whenever they
        change: ``_set_objective`` and ``_adopt`` replace it, nothing writes into it)."""
        if self._theta is None:
            return np.asarray([pyo.value(p) for p in self._holder.p.values()], dtype=float)
        return self._theta

    def _report_map(self) -> dict:
        """The current model's ledger map (``_compile_report``), compiled on first use."""
        if self._report is None:
            self._compile_report()
        return self._report

    def _report_values_many(self, xs: np.ndarray, thetas: np.ndarray, rep: dict | None = None) -> tuple[list[tuple], np.ndarray]:
        """``report_values`` of several solutions of one model at once (``rep``: its ledger map,
        default the current model's): row ``s`` of the result from ``xs[s]`` and ``thetas[s]``,
        each value summed in the same order as for one solution."""
        rep = rep if rep is not None else self._report_map()
        # one row per value, one column per solution: each step below gathers whole rows
        vals = np.repeat(rep["b0"][:, None], len(xs), axis=1)
        xt, tt = np.ascontiguousarray(xs.T), np.ascontiguousarray(thetas.T)
        steps = rep.get("steps")
        if steps is None:
            steps = rep["steps"] = {k: _steps(rep[k]) for k in ("lin", "bil", "const")}
        # each value's terms in their order (linear, bilinear, constant), the k-th of every value
        # at once: the same sums, term by term, as ``np.add.at`` over the terms
        for r, j, a in steps["lin"]:
            vals[r] += a[:, None] * xt[j]
        for r, j, i, g in steps["bil"]:
            vals[r] += g[:, None] * tt[i] * xt[j]
        for r, i, g in steps["const"]:
            vals[r] += g[:, None] * tt[i]
        return rep["keys"], vals.T

    def _sync_params(self) -> None:
        """Give the Pyomo parameters the current values (before reading the model)."""
        if self._params_dirty:
            for p, v in zip(self._params, self._theta, strict=True):
                p.set_value(float(v))
            self._params_dirty = False

    def _shares_structure(self, data: ModelData) -> bool:
        """``data``'s structure fields are the very objects of the data the current key was made
        from (a repriced variant: ``planner.prepare.reprice`` replaces prices only), so its key is equal
        without building it. False means "build the key and compare", not "different"."""
        old = self._key_data
        if old is None or has_budget(data) or len(data.entities) != len(old.entities):
            return False
        if data.years is not old.years or data.discount_factor is not old.discount_factor:
            return False
        fields = _struct_fields()
        for e, o in zip(data.entities, old.entities, strict=True):
            if e is o:
                continue
            if e.measures is not o.measures or bool(e.price_auction_cny_per_t) != bool(o.price_auction_cny_per_t):
                return False
            for f in fields:
                if getattr(e, f) is not getattr(o, f):
                    return False
        g, go = data.group, old.group
        if g is go:
            return True
        if g is None or go is None:
            return False
        masked = set(GROUP_OBJECTIVE_TUPLES) | set(GROUP_OBJECTIVE_SCALARS)
        for f in dataclasses.fields(g):
            if f.name in masked:
                if f.name in GROUP_OBJECTIVE_TUPLES and bool(getattr(g, f.name)) != bool(getattr(go, f.name)):
                    return False
            elif getattr(g, f.name) is not getattr(go, f.name):
                return False
        return True

    def prime(self, data: ModelData) -> str:
        """Bring the persistent model to ``data``; return the path taken."""
        t0 = time.perf_counter()
        same = self._key is not None and self._shares_structure(data)
        key = self._key if same else structure_key(data)
        if self._key is not None and key == self._key:
            self._set_objective(data)
            self.stats.objective_only += 1
            path = "objective_only"
        else:
            m, holder, cm = self._build(data)
            if self._cm is not None and self._same_pattern(cm):
                self._update_in_place(m, holder, cm, key)
                self.stats.in_place += 1
                path = "in_place"
            else:
                self._load(m, holder, cm, key)
                self.stats.new_structure += 1
                path = "new_structure"
            if self._cold:
                # the cost vector as the objective-only path computes it (c0 + G theta), so that the
                # first solve after a cold start does not depend on which path brought the model here
                self._set_objective(data)
        self._cold = False
        self._key_data = data
        self.stats.add("update_s", time.perf_counter() - t0)
        return path

    # ------------------------------------------------------------------ solve
    def _run(self, duals: bool | None = None) -> SolveResult:
        """Run HiGHS on the current model; keep the solution (and the duals when ``duals``,
        default ``self.opts.duals``) for reading."""
        highspy = _highs()
        h, cm, opts = self._h, self._cm, self.opts
        want_duals = opts.duals if duals is None else duals
        assert cm is not None
        t0 = time.perf_counter()
        h.run()
        solve_s = time.perf_counter() - t0
        calls_s, self._cost_s = solve_s + self._cost_s, 0.0
        ms = h.getModelStatus()
        raw = ms.name if ms.name != "kUnboundedOrInfeasible" else _unbounded_or_infeasible(h)
        info = _InfoView(h)
        is_mip = len(cm.integer_cols) > 0
        has_solution = info.primal_solution_status == 2
        status, objective, bound, gap = read_outcome(raw, has_solution, info, cm.obj_sign, is_mip)
        if self._static is None:  # per loaded model: what every result of it repeats
            self._static = (
                f"HiGHS {h.version()}",
                {
                    "columns": cm.lp.num_col_,
                    "rows": cm.lp.num_row_,
                    "nonzeros": len(cm.lp.a_matrix_.value_),
                    "integers": len(cm.integer_cols),
                },
                opts.highs(),
            )
        version, size, options = self._static
        result = SolveResult(
            status=status,
            termination=h.modelStatusToString(ms),
            objective=objective,
            bound=bound,
            gap=gap,
            is_mip=is_mip,
            wall_s=0.0,
            timings={"solve_s": solve_s, "highs_calls_s": calls_s},
            solver="highs-warm",
            solver_version=version,
            options=dict(options),
            size=dict(size),
        )
        if has_solution:
            t1 = time.perf_counter()
            sol = h.getSolution()
            x = np.array(sol.col_value)
            # what a user of HiGHS alone pays per scenario: new costs, run, the primal solution read
            result.timings["highs_calls_s"] += time.perf_counter() - t1
            row_dual = None
            if is_mip:
                # same as planner.solve.highs: primal values and duals from the LP with integers fixed,
                # then integrality and bounds restored for the next variant
                idx = cm.integer_cols.astype(np.int32)
                xi = np.round(x[idx])
                h.changeColsIntegrality(
                    len(idx), idx, np.full(len(idx), highspy.HighsVarType.kContinuous)
                )
                h.changeColsBounds(len(idx), idx, xi, xi)
                h.run()
                sol = h.getSolution()
                if h.getModelStatus().name == "kOptimal" and sol.value_valid:
                    x = np.array(sol.col_value)
                    result.objective = cm.obj_sign * float(h.getInfo().objective_function_value)
                    if sol.dual_valid:
                        row_dual = np.array(sol.row_dual)
                        result.duals_basis = "LP re-solve with integer decisions fixed"
                    x = break_ties(h, x, cm, result, opts)
                x[idx] = xi
                h.changeColsIntegrality(
                    len(idx), idx, np.full(len(idx), highspy.HighsVarType.kInteger)
                )
                h.changeColsBounds(len(idx), idx, self._lower[idx], self._upper[idx])
            else:
                if want_duals and sol.dual_valid:
                    row_dual = np.array(sol.row_dual)
                    result.duals_basis = "LP"
                if status is SolveStatus.OPTIMAL:
                    x = break_ties(h, x, cm, result, opts, (*self._item_bounds(), self._cost))
            self._solution = (x, row_dual if want_duals else None)
            if not (want_duals and row_dual is not None):
                result.duals_basis = None
        else:
            self._solution = None
        result.wall_s = time.perf_counter() - t0
        return result

    def _item_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The loaded model's column and row bounds as HiGHS holds them (``item_bounds``), once per model."""
        if self._bounds is None or self._bounds[0] is not self._cm:
            lp = self._cm.lp
            self._bounds = (self._cm, item_bounds(self._lower, self._upper, lp.row_lower_, lp.row_upper_))
        return self._bounds[1]

    def _load_solution(self, result: SolveResult) -> None:
        """Put the last solution into the Pyomo model and its duals into ``result``."""
        cm = self._cm
        assert cm is not None and self._solution is not None
        x, row_dual = self._solution
        for v, val in zip(cm.columns, x.tolist(), strict=True):
            v.set_value(val, skip_validation=True)
        if row_dual is not None:
            duals: dict = {}
            for con, yv in zip(cm.rows, row_dual.tolist(), strict=True):
                duals[con] = duals.get(con, 0.0) + cm.obj_sign * yv
            result.duals = duals
        self._sync_params()

    def solve_results(self, prep: PreparedCase | PreparedGroup) -> tuple[str, SolveResult, Results | None]:
        """Solve one prepared variant (entity or group); the extracted result frames (None without a plan)."""
        path = self.prime(prep.data)
        res = self._run()
        self.stats.add("solve_s", res.wall_s)
        try:
            _raise_unless_allowed(res, self.opts)
        except NonOptimalError:
            return path, res, None
        return path, res, self._results(prep, res)

    def _results(self, prep: PreparedCase | PreparedGroup, res: SolveResult) -> Results:
        """The result frames of the last solution (optimal or accepted by the options)."""
        self._load_solution(res)
        df = dict(zip(prep.data.years, prep.data.discount_factor, strict=True))
        return extract_results(self._model, df, res.duals)

    def solve_fast(self, prep: PreparedCase | PreparedGroup):
        """Solve one variant and return its ledger from the compiled report map (``fast_arrays``: no
        Pyomo extraction, no plan tables, no checker); without an optimal plan: None and the reason.
        Returns (path, solve result, entity arrays, group arrays, error)."""
        return self.solve_fast_many([prep])[0]

    def fast_arrays(self, prep: PreparedCase | PreparedGroup) -> tuple[Mapping[str, np.ndarray], dict[str, np.ndarray] | None]:
        """The annual ledger of the last solution as column arrays (numpy only, no pandas): entity
        rows (entity, year, the ledger columns of ``Plan.annual`` that sweeps keep, prices, costs),
        and for a group its own rows (year, pool, link costs; else None). A group's entity costs
        include the settlement of transfers at the internal price, as in the group plan."""
        _, vals = self.report_values()
        return self._fast_arrays_many([prep], vals[None, :])[0]

    def _fast_arrays_many(self, preps: list, vals: np.ndarray, rep: dict | None = None) -> list[tuple[LedgerRows, dict[str, np.ndarray] | None]]:
        """``fast_arrays`` of several solutions of one model (``vals``: their report values, one
        row per prepared variant in ``preps``; ``rep``: the model's ledger map, default the current
        model's)."""
        rep = rep if rep is not None else self._report_map()
        data = preps[0].data
        group = isinstance(preps[0], PreparedGroup)

        def own(prep) -> list:  # prices as the plan's inputs table states them: each entity's own (before a CCER pool)
            return [p.data.entities[0] for p in prep.entities] if group else list(prep.data.entities)

        fixed = rep.get("fast")
        if fixed is None:  # what every scenario of this model shares: row labels, column places
            sel, ri, ci, rows, cols = rep["layout"]["entity"]
            alone = own(preps[0])
            years = list(data.years)
            n_y = len(years)
            if [e for e, _ in rows[::n_y]] != [e.id for e in alone] or [y for _, y in rows[:n_y]] != years:
                raise ValueError("fast ledger rows are not entity-major")
            fixed = rep["fast"] = {
                "place": (sel, ri, ci, (len(rows), len(cols))),
                "entity": np.asarray([e for e, _ in rows], dtype=object),
                "year": np.asarray([y for _, y in rows], dtype=np.int64),
                "cost": [j for j, c in enumerate(cols) if c.startswith("cost_")],
                "terminal": [j for j, c in enumerate(cols) if c == "cost_terminal"],
                "other": [(j, c) for j, c in enumerate(cols) if not c.startswith("cost_")],
                "df": np.tile(np.asarray(data.discount_factor, dtype=float), len(alone)),
            }
        sel, ri, ci, shape = fixed["place"]
        n_s = len(preps)
        mat = np.full((n_s, *shape), np.nan)
        mat[:, ri, ci] = vals[:, sel]
        cost = np.zeros((n_s, shape[0]))
        for j in fixed["cost"]:  # in column order, as the costs were always summed
            cost += mat[:, :, j]
        other: dict[str, np.ndarray] = {}
        for j, c in fixed["other"]:
            other[c] = mat[:, :, j]
            if c == "net_sales_t":  # then the rule's limit at those net sales (not linear: not in the map)
                ns = other[c].reshape(n_s, len(data.entities), len(data.years))
                other["carry_limit_t"] = carry_limits(data.entities, ns).reshape(n_s, shape[0])
        disc = cost * fixed["df"]
        before = other["allocation_t"] - other["obligation_t"]
        nan = np.full(shape[0], np.nan)
        link = None
        if group:
            gsel, gri, gci, grows, gcols = rep["layout"]["group"]
            g = np.full((n_s, len(grows), len(gcols)), np.nan)
            g[:, gri, gci] = vals[:, gsel]
            gyear = np.asarray([y for _, y in grows], dtype=np.int64)
            glink = {c: g[:, :, j] for j, c in enumerate(gcols) if not c.startswith("cost_")}
            gcost = g[:, :, gcols.index("cost_pool")] + g[:, :, gcols.index("cost_tiers")]
        # the batch's columns: 2-D (scenarios x rows), or 1-D when the same for every scenario
        cols: dict[str, np.ndarray] = {"entity": fixed["entity"], "year": fixed["year"], **other}
        alones = [own(p) for p in preps]
        for c, f in (("cea_buy_cny_per_t", "price_buy_cny_per_t"), ("cea_sell_cny_per_t", "price_sell_cny_per_t"),
                     ("ccer_cny_per_t", "price_ccer_buy_cny_per_t")):
            cols[c] = np.array([[v for e in alone for v in getattr(e, f)] for alone in alones], dtype=float)
        cols["total_cost_cny"] = cost
        cols["discounted_cost_cny"] = disc
        cols["cost_terminal_cny"] = sum((mat[:, :, j] for j in fixed["terminal"]), np.zeros((n_s, shape[0])))
        cols["position_before_trading_t"] = before
        cols["shadow_price_cny_per_t"] = nan
        out = []
        for k in range(n_s):
            if group:
                link = {"year": gyear, **{c: m[k] for c, m in glink.items()}, "link_cost_cny": gcost[k]}
            out.append((LedgerRows(cols, k), link))
        return out

    def solve_fast_many(self, preps: list) -> list[tuple[str, SolveResult, dict | None, dict | None, str | None]]:
        """``solve_fast`` for several variants in turn: the same HiGHS calls in the same order as one
        ``solve_fast`` after the other (so the same solutions), without reading duals (the fast
        ledger has no shadow prices), and the ledgers of each run of variants solved on the same
        model computed together (``_report_values_many``, ``_fast_arrays_many``: array operations
        over the variants instead of per variant)."""
        out: list = [None] * len(preps)
        todo: list[tuple[int, np.ndarray, Any]] = []  # (place, x, ledger inputs) on the current model

        def flush(rep) -> None:
            if not todo:
                return
            xs = np.stack([x for _, x, _ in todo])
            arrays = self._ledgers(rep, [preps[k] for k, _, _ in todo], xs, [t for _, _, t in todo])
            for (k, _, _), (ent, link) in zip(todo, arrays, strict=True):
                path, res = out[k]
                out[k] = (path, res, ent, link, None)
            todo.clear()

        for k, prep in enumerate(preps):
            rep = self._report_map() if todo else None
            path = self.prime(prep.data)
            if todo and self._report is not rep:
                flush(rep)  # the earlier variants were solved on the model that map belongs to
            res = self._run(duals=False)
            self.stats.add("solve_s", res.wall_s)
            self.stats.add("highs_calls_s", res.timings["highs_calls_s"])
            try:
                _raise_unless_allowed(res, self.opts)
            except NonOptimalError as exc:
                out[k] = (path, res, None, None, str(exc))
                continue
            x, _ = self._solution
            out[k] = (path, res)
            todo.append((k, x, self._ledger_inputs()))
        if todo:
            flush(self._report_map())
        return out

    def _ledger_inputs(self) -> Any:
        """What the ledger of the last solution needs besides the solution: the parameters its
        objective was built with (the ledger map is bilinear in solution and parameters)."""
        return self._current_theta()

    def _ledgers(self, rep: dict, preps: list, xs: np.ndarray, inputs: list) -> list:
        """The fast ledgers (``_fast_arrays_many``) of solutions ``xs`` of the model ``rep`` maps,
        one per prepared variant, with their ``_ledger_inputs``."""
        _, vals = self._report_values_many(xs, np.stack(inputs), rep)
        return self._fast_arrays_many(preps, vals, rep)

    def fast_rows(self, prep: PreparedCase | PreparedGroup) -> pd.DataFrame:
        """``fast_arrays``' entity rows as a frame like ``Plan.annual``'s sweep columns."""
        return pd.DataFrame(dict(self.fast_arrays(prep)[0]))

    def fast_group_rows(self, prep: PreparedGroup) -> pd.DataFrame:
        """A group's link rows of the last solution: (year) pool purchases and holdings and the link
        costs (pool, price tiers) in nominal CNY."""
        link = self.fast_arrays(prep)[1]
        assert link is not None
        return pd.DataFrame({"entity": GROUP_ROW, **link})

    def solve_group(self, prep: PreparedGroup) -> VariantResult:
        """Plan one prepared group variant (a ``planner.group_api``-equivalent plan without the
        stand-alone comparison), checked by ``planner.plan.check.check_group``."""
        from models import extract_links
        from planner.plan.check import check_group
        from planner.plan.group import assemble_group_plan

        return self._plan(
            prep,
            lambda results, res: assemble_group_plan(prep, results, extract_links(self._model), res, None),
            check_group,
        )

    def solve(self, prep: PreparedCase, tables=None) -> VariantResult:
        """Plan one prepared variant (a ``planner.api``-equivalent plan, checked). ``tables``: a
        ``planner.plan.entity_tables.EntityTables`` (the same tables from the layout it keeps between
        variants, checked by ``check_plan_arrays``); None: ``assemble_plan`` and ``check_plan``."""
        if tables is not None:
            from planner.plan.entity_tables import check_plan_arrays

            return self._plan(prep, lambda results, res: tables.assemble(prep, results, res), check_plan_arrays)
        return self._plan(prep, lambda results, res: assemble_plan(prep, results, res), check_plan)

    def _plan(self, prep, assemble, check) -> VariantResult:
        """Solve, then assemble the plan tables and check them (``check(data, plan, objective=)``);
        a solve without a plan the options accept is returned with its error."""
        path, res, results = self.solve_results(prep)
        if results is None:
            try:
                _raise_unless_allowed(res, self.opts)
            except NonOptimalError as exc:
                return VariantResult(plan=None, solve=res, path=path, error=str(exc))
        t0 = time.perf_counter()
        plan = assemble(results, res)
        if self.check:
            failures = check(prep.data, plan, objective=res.objective)
            if failures:
                raise PlanCheckError(failures)
        self.stats.add("plan_s", time.perf_counter() - t0)
        return VariantResult(plan=plan, solve=res, path=path)
