"""Warm re-solves for sweeps: one model and one HiGHS object per worker, changed in place.

``WarmSolver.prime(data)`` brings the loaded model to a variant's model data. Three paths, chosen
robustly:

1. **Objective only** (prices, fees, fines, measure costs, terminal values): the variant's model data
   equal the current model's once those fields are masked (``structure_key``). Only the cost vector
   and offset change (``changeColsCost``); HiGHS starts from the previous basis.
2. **Same structure**: anything else changed (bounds, allocation, emissions, limits...). The model is
   rebuilt and compiled; when its columns, rows, sparsity pattern and integrality equal the current
   ones, costs, column bounds, row bounds and changed matrix values are changed in place
   (``changeColsCost``, ``changeColsBounds``, ``changeRowsBounds``, ``changeCoeff``), warm.
3. **New structure**: the compiled model is passed to the same HiGHS object afresh.

How a model is built, priced and read is the backend's (``WarmBackend``), chosen by the caller:

- ``"pyomo"`` (``planner.solve.warm_pyomo.PyomoBackend``): the Pyomo model, its prices as mutable
  parameters; every case.
- ``"arrays"`` (``planner.solve.warm_arrays.ArrayBackend``): the array assembler's standard form,
  no Pyomo model; group cases the assembler writes (``warm_arrays.supports``).

The solver returns result frames (``solve_results``) and fast ledgers (``solve_fast_many``); plans
are made from them above this stage (``planner.studies.warm_plans``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from models import LinkResults, Results
from models.data import (
    GROUP_OBJECTIVE_SCALARS,
    GROUP_OBJECTIVE_TUPLES,
    GROUP_ROW,
    OBJECTIVE_SCALARS,
    OBJECTIVE_TUPLES,
    EntityData,
    ModelData,
)
from planner.errors import NonOptimalError
from planner.prepare.entity import PreparedCase
from planner.prepare.group import PreparedGroup
from planner.solve.clock import run_highs
from planner.solve.highs import (
    CompiledModel,
    SolveOptions,
    SolveResult,
    SolveStatus,
    break_ties,
    highs_module,
    new_highs,
    raise_unless_allowed,
    read_outcome,
    unbounded_or_infeasible,
)
from planner.solve.ties import item_bounds
from planner.solve.warm_arrays import ArrayBackend
from planner.solve.warm_pyomo import LedgerRows, PyomoBackend

__all__ = [
    "GROUP_OBJECTIVE_SCALARS",
    "GROUP_OBJECTIVE_TUPLES",
    "GROUP_ROW",
    "OBJECTIVE_SCALARS",
    "OBJECTIVE_TUPLES",
    "LedgerRows",
    "WarmBackend",
    "WarmSolver",
    "WarmStats",
    "has_budget",
    "same_sparsity",
    "structure_key",
]

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


class _InfoView:
    """The HiGHS info fields a run's outcome needs, read one by one (``getInfoValue``) rather than
    copying the whole info record (``getInfo``) on every warm re-solve."""

    __slots__ = ("_h",)

    def __init__(self, h) -> None:
        self._h = h

    def __getattr__(self, name: str):
        return self._h.getInfoValue(name)[1]


@dataclass
class WarmStats:
    """How each variant was solved."""

    objective_only: int = 0
    in_place: int = 0
    new_structure: int = 0
    timings: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        """Record ``seconds`` spent in ``stage`` by one variant."""
        self.timings.setdefault(stage, []).append(seconds)


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


class WarmBackend(Protocol):
    """How one kind of model reaches HiGHS and how its solution is read: all that differs between
    the warm re-solves of the Pyomo model and of the array assembler's standard form. The solver
    (``WarmSolver``) keeps the HiGHS object, chooses the path and runs HiGHS."""

    name: str
    """"pyomo" or "arrays" (what ``WarmSolver(backend=...)`` names)."""

    def build(self, data: ModelData) -> CompiledModel:
        """The compiled structure of ``data``; the backend keeps what it built for ``adopt``."""
        ...

    def same_pattern(self, old: CompiledModel, new: CompiledModel) -> bool:
        """Besides the same sparsity (the solver checks it), ``new`` means what ``old`` meant
        column by column and row by row, so its numbers can be written over ``old`` in HiGHS."""
        ...

    def adopt(self, cm: CompiledModel) -> None:
        """``cm``, the model last built, is now the loaded one."""
        ...

    def objective(self, data: ModelData) -> tuple[np.ndarray, float]:
        """The cost vector and objective offset of ``data`` on the loaded model (whose structure
        ``data`` shares)."""
        ...

    def ready_objective(self) -> None:
        """Do now the per-model work ``objective`` would do on its first call (sweeps time it apart)."""
        ...

    def ledger_map(self) -> object:
        """The loaded model's ledger map: a new object per loaded model (sweeps verify each once)."""
        ...

    def ledger_inputs(self) -> Any:
        """What the fast ledger of the last solution needs besides the solution."""
        ...

    def ledgers(
        self, rep: Any, preps: list, xs: np.ndarray, inputs: list
    ) -> list[tuple[Mapping[str, np.ndarray], dict[str, np.ndarray] | None]]:
        """The fast ledgers (entity rows, group rows or None) of solutions ``xs`` of the model whose
        map is ``rep``, one per prepared variant, with their ``ledger_inputs``."""
        ...

    def results(
        self, prep: PreparedCase | PreparedGroup, x: np.ndarray, row_dual: np.ndarray | None, res: SolveResult
    ) -> tuple[Results, LinkResults | None]:
        """The result frames (and a group's link frames) of solution ``x`` of the loaded model;
        what the reading adds to the solve result (duals) goes into ``res``."""
        ...


def make_backend(backend: Literal["pyomo", "arrays"] | WarmBackend) -> WarmBackend:
    """The backend named (a backend object is returned as it is)."""
    if isinstance(backend, str):
        if backend == "pyomo":
            return PyomoBackend()
        if backend == "arrays":
            return ArrayBackend()
        raise ValueError(f"warm backend must be 'pyomo' or 'arrays', not {backend!r}")
    return backend



class WarmSolver:
    """One persistent model per worker: re-solves variants warm, rebuilds only when needed.

    ``backend``: "pyomo" (every case) or "arrays" (group cases the array assembler writes:
    ``planner.solve.warm_arrays.supports``), or a ``WarmBackend``. ``check``: plans made from its
    solutions are checked by the independent checker (``planner.studies.warm_plans``)."""

    def __init__(
        self,
        opts: SolveOptions | None = None,
        *,
        check: bool = True,
        backend: Literal["pyomo", "arrays"] | WarmBackend = "pyomo",
    ) -> None:
        self.opts = opts or SolveOptions()
        self.check = check
        self.backend = make_backend(backend)
        self.stats = WarmStats()
        self._key: tuple | None = None
        self._cm: CompiledModel | None = None
        self._h: Any = None
        self._lower = self._upper = self._cost = None
        self._solution = None
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
    def _load(self, cm: CompiledModel, key: tuple) -> None:
        if self._h is None:
            self._h = new_highs(self.opts, None)  # no log: nothing reads it per scenario
        self._h.passModel(cm.lp)
        self._adopt(cm, key)

    def _adopt(self, cm: CompiledModel, key: tuple) -> None:
        self._cm, self._key = cm, key
        self._static = None
        self._lower = np.array(cm.lp.col_lower_, dtype=float)
        self._upper = np.array(cm.lp.col_upper_, dtype=float)
        self._cost = np.array(cm.lp.col_cost_, dtype=float)
        self.backend.adopt(cm)

    def _update_in_place(self, cm: CompiledModel, key: tuple) -> None:
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
        self._adopt(cm, key)


    def ready_objective(self) -> None:
        """The backend's per-model objective work done now (see ``WarmBackend.ready_objective``): a
        sweep does it before timing its batch of variants, so that this per-model cost is not
        spread over the variants' times."""
        if self._cm is not None:
            self.backend.ready_objective()

    def _set_objective(self, data: ModelData) -> None:
        """Objective-only path: the backend's cost vector and offset of ``data`` to HiGHS."""
        self._send_objective(*self.backend.objective(data))

    def _send_objective(self, cost: np.ndarray, offset: float) -> None:
        """Give HiGHS a new cost vector and objective offset (timed: ``_cost_s``, HiGHS's part of
        the update, counted in the run's ``highs_calls_s``, see ``_run``)."""
        n = len(cost)
        t0 = time.perf_counter()
        self._h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        self._h.changeObjectiveOffset(offset)
        self._cost_s = time.perf_counter() - t0
        self._cost = cost

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
            cm = self.backend.build(data)
            if self._cm is not None and same_sparsity(self._cm, cm) and self.backend.same_pattern(self._cm, cm):
                self._update_in_place(cm, key)
                self.stats.in_place += 1
                path = "in_place"
            else:
                self._load(cm, key)
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
        highspy = highs_module()
        h, cm, opts = self._h, self._cm, self.opts
        want_duals = opts.duals if duals is None else duals
        assert cm is not None
        t0 = time.perf_counter()
        run_highs(h, opts.time_limit_s)
        solve_s = time.perf_counter() - t0
        calls_s, self._cost_s = solve_s + self._cost_s, 0.0
        ms = h.getModelStatus()
        raw = ms.name if ms.name != "kUnboundedOrInfeasible" else unbounded_or_infeasible(h, opts.time_limit_s)
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
                run_highs(h, opts.time_limit_s)
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

    def solve_results(
        self, prep: PreparedCase | PreparedGroup
    ) -> tuple[str, SolveResult, Results | None, LinkResults | None]:
        """Solve one prepared variant (entity or group): the path, the solve result and the result
        and link frames (a group's; None for an entity, and both None without a solution the
        options accept)."""
        path = self.prime(prep.data)
        res = self._run()
        self.stats.add("solve_s", res.wall_s)
        try:
            raise_unless_allowed(res, self.opts)
        except NonOptimalError:
            return path, res, None, None
        x, row_dual = self._solution
        results, links = self.backend.results(prep, x, row_dual, res)
        return path, res, results, links

    def solve_fast(self, prep: PreparedCase | PreparedGroup):
        """Solve one variant and return its ledger from the backend's ledger map (``fast_arrays``:
        no plan tables, no checker); without an optimal plan: None and the reason.
        Returns (path, solve result, entity arrays, group arrays, error)."""
        return self.solve_fast_many([prep])[0]

    def ledger_map(self) -> object:
        """The loaded model's ledger map (``WarmBackend.ledger_map``)."""
        return self.backend.ledger_map()

    def fast_arrays(
        self, prep: PreparedCase | PreparedGroup
    ) -> tuple[Mapping[str, np.ndarray], dict[str, np.ndarray] | None]:
        """The annual ledger of the last solution as column arrays (numpy only, no pandas): entity
        rows (entity, year, the ledger columns of ``Plan.annual`` that sweeps keep, prices, costs),
        and for a group its own rows (year, pool, link costs; else None). A group's entity costs
        include the settlement of transfers at the internal price, as in the group plan."""
        x, _ = self._solution
        b = self.backend
        return b.ledgers(b.ledger_map(), [prep], x[None, :], [b.ledger_inputs()])[0]

    def solve_fast_many(self, preps: list) -> list[tuple[str, SolveResult, dict | None, dict | None, str | None]]:
        """``solve_fast`` for several variants in turn: the same HiGHS calls in the same order as one
        ``solve_fast`` after the other (so the same solutions), without reading duals (the fast
        ledger has no shadow prices), and the ledgers of each run of variants solved on the same
        model computed together (``WarmBackend.ledgers``: array operations over the variants
        instead of per variant)."""
        out: list = [None] * len(preps)
        todo: list[tuple[int, np.ndarray, Any]] = []  # (place, x, ledger inputs) on the current model
        b = self.backend

        def flush(rep) -> None:
            if not todo:
                return
            xs = np.stack([x for _, x, _ in todo])
            arrays = b.ledgers(rep, [preps[k] for k, _, _ in todo], xs, [t for _, _, t in todo])
            for (k, _, _), (ent, link) in zip(todo, arrays, strict=True):
                path, res = out[k]
                out[k] = (path, res, ent, link, None)
            todo.clear()

        for k, prep in enumerate(preps):
            rep, cm = (b.ledger_map(), self._cm) if todo else (None, None)
            path = self.prime(prep.data)
            if todo and self._cm is not cm:
                flush(rep)  # the earlier variants were solved on the model that map belongs to
            res = self._run(duals=False)
            self.stats.add("solve_s", res.wall_s)
            self.stats.add("highs_calls_s", res.timings["highs_calls_s"])
            try:
                raise_unless_allowed(res, self.opts)
            except NonOptimalError as exc:
                out[k] = (path, res, None, None, str(exc))
                continue
            x, _ = self._solution
            out[k] = (path, res)
            todo.append((k, x, b.ledger_inputs()))
        if todo:
            flush(b.ledger_map())
        return out

    def fast_rows(self, prep: PreparedCase | PreparedGroup) -> pd.DataFrame:
        """``fast_arrays``' entity rows as a frame like ``Plan.annual``'s sweep columns."""
        return pd.DataFrame(dict(self.fast_arrays(prep)[0]))

    def fast_group_rows(self, prep: PreparedGroup) -> pd.DataFrame:
        """A group's link rows of the last solution: (year) pool purchases and holdings and the link
        costs (pool, price tiers) in nominal CNY."""
        link = self.fast_arrays(prep)[1]
        assert link is not None
        return pd.DataFrame({"entity": GROUP_ROW, **link})
