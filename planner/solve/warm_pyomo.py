"""The Pyomo backend of ``planner.solve.warm.WarmSolver``: the readable model, parametrised.

``PyomoBackend`` builds the model of a variant with its objective-only numbers (prices, fees,
fines, measure costs, terminal values: ``models.data.OBJECTIVE_TUPLES`` and friends) as mutable
Pyomo parameters, so that a price change is a new cost vector ``c0 + G theta`` without a rebuild
(``_objective_gradient``: found once per model from Pyomo's standard representation). Its fast
ledger is the compiled report map (``_compile_report``): every ledger column an exact function of
(solution, parameters), evaluated with NumPy for a run of solutions at once. Its full results are
read from the Pyomo model (``models.extract``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyomo.environ as pyo

from models import LinkResults, Results, build_model, extract_links, extract_results
from models.arrays.assemble import carry_limits
from models.data import (
    GROUP_OBJECTIVE_SCALARS,
    GROUP_OBJECTIVE_TUPLES,
    GROUP_ROW,
    OBJECTIVE_SCALARS,
    OBJECTIVE_TUPLES,
    MeasureData,
    ModelData,
)
from planner.prepare.group import PreparedGroup
from planner.solve.highs import CompiledModel, SolveResult, compile_model


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


def _affine(expr, pidx: dict[int, int]) -> tuple[float, list[tuple[int, float]]]:
    """``expr`` (a number or an expression of mutable parameters) as ``c0 + sum g_i theta_i``:
    evaluated with its parameters at 0, then each at 1 (exact for the affine coefficients that
    the model's expressions have). Leaves the parameters at 0: the caller restores them.

    An expression with many parameters (the objective's constant holds every entity's terminal
    values and fines: 1,700 parameters at 100 plants) is split first into the terms of its sums
    (and the parameter-free factors of its products), each term evaluated alone: linear in the size
    of the expression instead of parameters x size."""
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



class PyomoBackend:
    """The Pyomo model of each variant, parametrised (``WarmBackend``; see the module docstring)."""

    name = "pyomo"

    def __init__(self) -> None:
        self._model: pyo.ConcreteModel | None = None
        self._holder: pyo.ConcreteModel | None = None
        self._cm: CompiledModel | None = None
        self._pdata: ModelData | None = None
        self._built: tuple | None = None
        self._grad = None
        self._theta = None
        self._params_dirty = False
        self._report: dict | None = None

    # ------------------------------------------------------------------ model state
    def build(self, data: ModelData) -> CompiledModel:
        """The Pyomo model of ``data`` with its objective-only numbers as parameters, compiled."""
        pdata, holder = _parametrise(data)
        m = build_model(pdata)
        cm = compile_model(m)
        self._built = (m, holder, pdata, cm)
        return cm

    def same_pattern(self, old: CompiledModel, new: CompiledModel) -> bool:
        """The same Pyomo components behind the columns and rows (the sparsity is the solver's check)."""
        return [v.name for v in old.columns] == [v.name for v in new.columns] and [
            c.name for c in old.rows
        ] == [c.name for c in new.rows]

    def adopt(self, cm: CompiledModel) -> None:
        """The model last built (``cm``) is the loaded one: its parameters are the current prices."""
        assert self._built is not None and self._built[3] is cm
        m, holder, pdata, _ = self._built
        self._built = None
        self._model, self._holder, self._cm, self._pdata = m, holder, cm, pdata
        self._grad = None  # found again on the first objective-only change
        self._params_dirty = False
        self._report = None
        self._theta = np.asarray([pyo.value(holder.p[i]) for i in range(len(holder.p))], dtype=float)

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


    def objective(self, data: ModelData) -> tuple[np.ndarray, float]:
        """Objective-only path: new parameter values -> the cost vector and offset for HiGHS."""
        if self._grad is None:
            self._objective_gradient()
        theta = np.asarray(_objective_values(data), dtype=float)
        rows, cols, vals = self._grad
        cost = self._c0.copy()
        np.add.at(cost, rows, vals * theta[cols])
        self._theta = theta
        self._params_dirty = True
        return cost, self._off0 + float(self._ograd @ theta)

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


    def _current_theta(self) -> np.ndarray:
        """The parameter values the current objective was built with (a new array whenever they
        change: ``objective`` and ``adopt`` replace it, nothing writes into it)."""
        if self._theta is None:
            return np.asarray([pyo.value(p) for p in self._holder.p.values()], dtype=float)
        return self._theta

    def ledger_map(self) -> dict:
        """The current model's ledger map (``_compile_report``), compiled on first use."""
        if self._report is None:
            self._compile_report()
        return self._report

    def _report_values_many(self, xs: np.ndarray, thetas: np.ndarray, rep: dict | None = None) -> tuple[list[tuple], np.ndarray]:
        """``report_values`` of several solutions of one model at once (``rep``: its ledger map,
        default the current model's): row ``s`` of the result from ``xs[s]`` and ``thetas[s]``,
        each value summed in the same order as for one solution."""
        rep = rep if rep is not None else self.ledger_map()
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


    # ------------------------------------------------------------------ fast ledger
    def ledger_inputs(self) -> np.ndarray:
        """What the ledger of the last solution needs besides the solution: the parameters its
        objective was built with (the ledger map is bilinear in solution and parameters)."""
        return self._current_theta()

    def ledgers(self, rep: dict, preps: list, xs: np.ndarray, inputs: list) -> list:
        """The fast ledgers (``_fast_arrays_many``) of solutions ``xs`` of the model ``rep`` maps,
        one per prepared variant, with their ``ledger_inputs``."""
        _, vals = self._report_values_many(xs, np.stack(inputs), rep)
        return self._fast_arrays_many(preps, vals, rep)


    def _fast_arrays_many(self, preps: list, vals: np.ndarray, rep: dict | None = None) -> list[tuple[LedgerRows, dict[str, np.ndarray] | None]]:
        """``fast_arrays`` of several solutions of one model (``vals``: their report values, one
        row per prepared variant in ``preps``; ``rep``: the model's ledger map, default the current
        model's)."""
        rep = rep if rep is not None else self.ledger_map()
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


    # ------------------------------------------------------------------ full results
    def results(self, prep, x: np.ndarray, row_dual: np.ndarray | None, res: SolveResult) -> tuple[Results, LinkResults | None]:
        """The result frames of solution ``x`` read from the Pyomo model (``models.extract``), and
        a group's link frames; the duals go into ``res.duals``."""
        self._load_solution(x, row_dual, res)
        df = dict(zip(prep.data.years, prep.data.discount_factor, strict=True))
        results = extract_results(self._model, df, res.duals)
        return results, (extract_links(self._model) if prep.data.group is not None else None)

    def _load_solution(self, x: np.ndarray, row_dual: np.ndarray | None, result: SolveResult) -> None:
        """Put solution ``x`` into the Pyomo model and its duals into ``result``."""
        cm = self._cm
        assert cm is not None
        for v, val in zip(cm.columns, x.tolist(), strict=True):
            v.set_value(val, skip_validation=True)
        if row_dual is not None:
            duals: dict = {}
            for con, yv in zip(cm.rows, row_dual.tolist(), strict=True):
                duals[con] = duals.get(con, 0.0) + cm.obj_sign * yv
            result.duals = duals
        self._sync_params()
