"""The only way to the solver: options, availability, typed status, exceptions, duals.

Default backend ``direct``: Pyomo's standard-form compiler turns the model into sparse arrays that
are handed to highspy, so HiGHS reads the problem once and Pyomo's per-expression solver interface
is skipped (measured in bench/RESULTS.md). Backend ``pyomo`` goes through ``appsi_highs`` and is kept
for cross-checks. Duals are always d objective / d constraint bound (HiGHS's sign convention, which
is the same for both backends); for a MIP they come from an LP re-solve with the integers fixed.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from planner.errors import (
    InfeasibleError,
    NonOptimalError,
    SolverUnavailableError,
    UnboundedError,
)
from planner.solve.clock import run_highs
from planner.solve.ties import (
    TieBreak,
    item_bounds,
    least_traded,
    trade_weights_assembled,
    trade_weights_pyomo,
)

if TYPE_CHECKING:
    import pyomo.environ as pyo  # imported where a Pyomo model is compiled or solved: the array path needs no Pyomo

logger = logging.getLogger(__name__)
highs_logger = logging.getLogger("planner.solve.highs")


class SolveStatus(StrEnum):
    """Outcome of a solve, independent of the solver's own codes."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a plan exists but optimality is not proven (time limit, gap)
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION = "no_solution"  # stopped (time limit) before any feasible plan
    ERROR = "error"


DEFAULT_TIME_LIMIT_S = 600.0
"""Seconds a plan's solve may take when neither the case (``solver.time_limit_s``) nor the caller
(``--time-limit``) sets a limit. Far above what the example cases need (seconds), it turns a MIP
that does not close into an error that says how to raise the limit, instead of a run that never
ends. Every plan's audit records the limit and the MIP gap asked for (``solver_options``) and the
gap reached (``mip_gap``)."""
SWEEP_TIME_LIMIT_S = 60.0
"""The same default for one scenario of a sweep: a sweep solves many, and a scenario that takes
more than a minute where its base case takes seconds is a MIP that HiGHS does not close (seeded
price paths of the example group case: a dual bound far below the plan after minutes). Such a
scenario is reported as not proven optimal, with how to raise the limit, and the sweep goes on."""


@dataclass(frozen=True)
class SolveOptions:
    """Canonical solver options; mapped to HiGHS names in this module only."""

    time_limit_s: float | None = DEFAULT_TIME_LIMIT_S
    """Seconds; None: no limit."""
    mip_rel_gap: float = 1e-6
    threads: int | None = 1
    tee: bool = False
    allow_nonoptimal: bool = False
    duals: bool = True
    backend: Literal["direct", "pyomo"] = "direct"
    highs_options: dict[str, Any] = field(default_factory=dict)
    tie_break: bool = True
    """Of the plans with the optimal cost, return the one that trades the fewest tonnes
    (``planner.solve.ties``; backend ``direct`` only). Off where only the cost is read."""

    def highs(self) -> dict[str, Any]:
        """HiGHS option names and values."""
        opts: dict[str, Any] = {"mip_rel_gap": self.mip_rel_gap, "random_seed": 0}
        if self.time_limit_s is not None:
            opts["time_limit"] = float(self.time_limit_s)
        if self.threads is not None:
            opts["threads"] = usable_threads(int(self.threads))
        opts.update(self.highs_options)
        return opts


def usable_threads(n: int) -> int:
    """``n`` solver threads, at most one per processor this process may run on: more give HiGHS no
    speed, and a machine that limits threads (a container's process limit) may refuse to start them,
    which HiGHS cannot report (the process would end). The audit records the number used."""
    import os

    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(n, cpus))


@dataclass
class SolveResult:
    """What a solve produced. ``duals`` maps Pyomo constraint data to d objective / d bound."""

    status: SolveStatus
    termination: str
    objective: float | None
    bound: float | None
    gap: float | None
    is_mip: bool
    wall_s: float
    timings: dict[str, float]
    solver: str
    solver_version: str
    options: dict[str, Any]
    duals: dict = field(default_factory=dict)
    duals_basis: str | None = None
    log: str = ""
    size: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    """Scale warnings about the compiled model (``planner.solve.numerics``)."""
    build: str = "pyomo"
    """How the model reached HiGHS: ``pyomo`` (Pyomo model compiled to arrays) or ``arrays``
    (``models.arrays.assemble``: assembled from the model data without Pyomo)."""
    x: Any = field(default=None, repr=False)
    """Primal values per column (array-assembled models only: there are no Pyomo variables to load)."""
    row_dual: Any = field(default=None, repr=False)
    """d objective / d row bound per row (array-assembled models, when duals were computed)."""
    tie_break: TieBreak | None = None
    """What the tie-break did (``planner.solve.ties``); None when it was not run (option off,
    backend ``pyomo``, no optimal LP to start from)."""

    @property
    def ok(self) -> bool:
        """Whether the solve is proven optimal."""
        return self.status is SolveStatus.OPTIMAL


def check_solver() -> tuple[bool, str]:
    """Is HiGHS usable? Returns (available, version or reason)."""
    try:
        import highspy

        h = highspy.Highs()
        return True, f"HiGHS {h.version()} (highspy)"
    except Exception as exc:  # pragma: no cover - depends on the environment
        return False, f"highspy cannot be used: {exc}"


def highs_module():
    """The ``highspy`` module; a clear error when it is not installed."""
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SolverUnavailableError(
            f"HiGHS is not available ({exc}); install the project with `pip install -e .` "
            "(it pins highspy) and run `planner doctor`"
        ) from exc
    return highspy


@dataclass
class CompiledModel:
    """A model compiled to arrays, ready to be handed to HiGHS (and kept for re-solves)."""

    lp: Any
    columns: list
    rows: list
    integer_cols: np.ndarray
    obj_offset: float
    obj_sign: float
    compile_s: float
    assembled: Any = None
    """The ``models.arrays.assemble.Assembled`` arrays when the model was assembled without Pyomo
    (``columns`` and ``rows`` are then None)."""
    trade_weight: np.ndarray | None = None
    """Weight of each column in the tonnes traded (``planner.solve.ties``); None: no trade column."""

    def column_name(self, i: int) -> str:
        """The name of column ``i`` (Pyomo's, or the assembler's for an assembled model)."""
        return self.assembled.column_name(i) if self.columns is None else self.columns[i].name

    def row_name(self, i: int) -> str:
        """The name of row ``i`` (Pyomo's, or the assembler's for an assembled model)."""
        return self.assembled.row_name(i) if self.rows is None else self.rows[i].name


def compile_assembled(data) -> CompiledModel:
    """Standard form of ``build_model(data)`` assembled from the arrays (``models.arrays.assemble``), without
    Pyomo; raises ``models.arrays.assemble.UnsupportedModel`` for features it does not write."""
    from models.arrays.assemble import assemble

    highs_module()
    t0 = time.perf_counter()
    a = assemble(data)
    lp = to_highs(a)
    # HighsLp holds its own copies: keep only what extraction and names need
    a.lower = a.upper = a.row_lower = a.row_upper = a.start = a.index = a.value = None
    return CompiledModel(
        lp=lp,
        columns=None,
        rows=None,
        integer_cols=np.flatnonzero(a.integer),
        obj_offset=a.offset,
        obj_sign=1.0,
        compile_s=time.perf_counter() - t0,
        assembled=a,
        trade_weight=trade_weights_assembled(a),
    )


def _terms_size(body) -> float:
    """Sum of the absolute values of the terms of a constraint body whose variables are all fixed."""
    from pyomo.core.expr.numeric_expr import SumExpression
    from pyomo.environ import value

    terms = body.args if isinstance(body, SumExpression) else (body,)
    return sum(abs(float(value(t))) for t in terms)


def compile_model(m: pyo.ConcreteModel) -> CompiledModel:
    """Compile a linear Pyomo model to a ``highspy.HighsLp``: one row per constraint, bounds kept.

    Uses Pyomo's linear-representation visitor (the engine of its standard-form compiler) and
    assembles the column-wise matrix with NumPy. Pyomo's own compiler would do the same but resolves
    its deferred SciPy import, which loads scipy.stats and costs about a second on a cold start.
    """
    import pyomo.environ as pyo
    from pyomo.core.base.enums import SortComponents
    from pyomo.repn.linear import LinearRepnVisitor
    from pyomo.repn.util import VarRecorder

    highspy = highs_module()
    t0 = time.perf_counter()
    var_map: dict[int, Any] = {}
    visitor = LinearRepnVisitor({}, var_recorder=VarRecorder(var_map, SortComponents.deterministic))
    inf = highspy.kHighsInf
    rows, row_lo, row_up = [], [], []
    r_idx: list[int] = []
    c_ids: list[int] = []
    vals: list[float] = []
    for con in m.component_data_objects(pyo.Constraint, active=True, descend_into=True, sort=SortComponents.deterministic):
        lb, body, ub = con.to_bounded_expression(evaluate_bounds=True)
        if lb is None and ub is None:
            continue
        repn = visitor.walk_expression(body)
        if repn.nonlinear is not None:
            raise ValueError(f"constraint {con.name} is not linear")
        const = float(repn.constant)
        if not repn.linear:
            # every variable fixed: the row must hold to 1e-9, relative to the size of its terms
            # (values fixed from a solution, e.g. a stochastic plan's first year, carry round-off of
            # that size: 3.5e-9 on a row of 35 Mt)
            tol = 1e-9
            if not ((lb is None or lb <= const + tol) and (ub is None or ub >= const - tol)):
                tol *= max(1.0, _terms_size(body))
            if (lb is None or lb <= const + tol) and (ub is None or ub >= const - tol):
                continue
            raise ValueError(f"constraint {con.name} is trivially infeasible")
        k = len(rows)
        rows.append(con)
        row_lo.append(-inf if lb is None else float(lb) - const)
        row_up.append(inf if ub is None else float(ub) - const)
        r_idx.extend([k] * len(repn.linear))
        c_ids.extend(repn.linear.keys())
        vals.extend(repn.linear.values())
    objs = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objs) != 1:
        raise ValueError(f"expected one active objective, found {len(objs)}")
    obj = objs[0]
    orepn = visitor.walk_expression(obj.expr)
    if orepn.nonlinear is not None:
        raise ValueError("the objective is not linear")
    sign = 1.0 if obj.sense == pyo.minimize else -1.0
    columns = list(var_map.values())
    pos = {vid: i for i, vid in enumerate(var_map)}
    n, nr = len(columns), len(rows)
    cost = np.zeros(n)
    for vid, coef in orepn.linear.items():
        cost[pos[vid]] += sign * coef
    col = np.fromiter((pos[v] for v in c_ids), np.int64, len(c_ids))
    row = np.asarray(r_idx, dtype=np.int64)
    val = np.asarray(vals, dtype=float)
    order = np.lexsort((row, col))
    col, row, val = col[order], row[order], val[order]
    start = np.zeros(n + 1, dtype=np.int64)
    np.add.at(start, col + 1, 1)
    start = np.cumsum(start)
    lower = np.fromiter((-inf if v.lb is None else v.lb for v in columns), float, n)
    upper = np.fromiter((inf if v.ub is None else v.ub for v in columns), float, n)
    is_int = np.fromiter((v.is_integer() for v in columns), bool, n)

    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = nr
    lp.col_cost_ = cost
    lp.col_lower_ = lower
    lp.col_upper_ = upper
    lp.row_lower_ = np.asarray(row_lo, dtype=float)
    lp.row_upper_ = np.asarray(row_up, dtype=float)
    lp.offset_ = sign * float(orepn.constant)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = start.astype(np.int32)
    lp.a_matrix_.index_ = row.astype(np.int32)
    lp.a_matrix_.value_ = val
    if is_int.any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in is_int
        ]
    return CompiledModel(
        lp=lp,
        columns=columns,
        rows=rows,
        integer_cols=np.flatnonzero(is_int),
        obj_offset=lp.offset_,
        obj_sign=sign,
        compile_s=time.perf_counter() - t0,
        trade_weight=trade_weights_pyomo(columns),
    )


def options_from_section(s: Any, *, default_time_limit_s: float = DEFAULT_TIME_LIMIT_S, **overrides: Any) -> SolveOptions:
    """Solver options from a case's ``solver`` section (``planner.input.schema.SolverSpec``), with
    caller overrides; a section without a time limit gets ``default_time_limit_s``."""
    limit = default_time_limit_s if s.time_limit_s is None else s.time_limit_s
    opts = SolveOptions(time_limit_s=limit, mip_rel_gap=s.mip_rel_gap, threads=s.threads)
    return replace(opts, **overrides) if overrides else opts


RAISE_LIMIT = "raise the limit with --time-limit SECONDS or the case's solver.time_limit_s"
"""How to give a solve more time (every message about a time limit says it)."""


def release_freed_memory() -> None:
    """Hand the heap memory freed so far back to the operating system (glibc's ``malloc_trim``; a
    no-op elsewhere). glibc keeps what HiGHS frees after a solve in the process (measured: ~130 MB
    after a 1,000-plant LP), so whatever is loaded next (pandas for the plan tables) would add to
    it; trimmed, the process stays below the solver's own peak."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError, TypeError):
        pass


def to_highs(a):
    """A ``highspy.HighsLp`` of the assembled arrays (as ``planner.solve.highs.compile_model`` fills it)."""
    highspy = highs_module()
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = a.n_col
    lp.num_row_ = a.n_row
    lp.col_cost_ = a.cost
    lp.col_lower_ = np.where(np.isinf(a.lower), -inf, a.lower)
    lp.col_upper_ = np.where(np.isinf(a.upper), inf, a.upper)
    lp.row_lower_ = np.where(np.isneginf(a.row_lower), -inf, a.row_lower)
    lp.row_upper_ = np.where(np.isposinf(a.row_upper), inf, a.row_upper)
    lp.offset_ = a.offset
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.start.astype(np.int32)
    lp.a_matrix_.index_ = a.index.astype(np.int32)
    lp.a_matrix_.value_ = a.value
    if a.integer.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in a.integer]
    return lp


_STATUS = {
    "kOptimal": SolveStatus.OPTIMAL,
    "kInfeasible": SolveStatus.INFEASIBLE,
    "kUnbounded": SolveStatus.UNBOUNDED,
    "kUnboundedOrInfeasible": SolveStatus.INFEASIBLE,
    "kModelEmpty": SolveStatus.OPTIMAL,
}


def unbounded_or_infeasible(h, time_limit_s: float | None) -> str:
    """Which of the two HiGHS could not tell (its presolve stops at "unbounded or infeasible"): the
    same constraints with a zero objective are feasible exactly when the model is unbounded. The
    model is left as it was given (costs restored, not solved)."""
    import highspy

    n = h.getNumCol()
    cost = np.asarray(h.getLp().col_cost_, dtype=float)
    idx = np.arange(n, dtype=np.int32)
    h.changeColsCost(n, idx, np.zeros(n))
    run_highs(h, time_limit_s)
    found = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    h.changeColsCost(n, idx, cost)
    h.clearSolver()
    return "kUnbounded" if found else "kInfeasible"


def new_highs(opts: SolveOptions, log_lines: list[str] | None):
    """A HiGHS object with ``opts``. Its log goes to ``log_lines`` (and the ``highs`` logger); with
    ``log_lines=None`` and no ``tee`` HiGHS logs nothing (``output_flag`` off: warm re-solves skip
    the ~20 log messages per run, each a call back into Python)."""
    highspy = highs_module()
    h = highspy.Highs()
    if log_lines is None and not opts.tee:
        h.setOptionValue("output_flag", False)
    else:
        h.setOptionValue("log_to_console", bool(opts.tee))

        def _log(event) -> None:
            msg = event.message.rstrip("\n")
            if log_lines is not None:
                log_lines.append(msg)
            highs_logger.debug(msg)

        h.cbLogging.subscribe(_log)
    for k, v in opts.highs().items():
        h.setOptionValue(k, v)
    return h


def new_quiet_highs(opts: SolveOptions):
    """A HiGHS object with ``opts`` that logs nothing, for ``solve_compiled(..., highs=)``."""
    return new_highs(replace(opts, tee=False), None)


BLOCK_MIP_FEASIBILITY_TOLERANCE = 1e-9
"""HiGHS's ``mip_feasibility_tolerance`` for a model with block transfers. With the default (1e-6) HiGHS
returned a block-transfer group's plan as optimal (gap 0) at -8.68 M CNY when a plan of -22.22 M CNY
met every constraint of the same model (found with presolve off or this tolerance; the generated case
of tests/solver/test_group_bounds.py): the block big-Ms are large against the lots."""


def block_transfer_options(m, opts: SolveOptions) -> SolveOptions:
    """``opts`` with ``BLOCK_MIP_FEASIBILITY_TOLERANCE`` where ``m`` moves block transfers and the
    caller did not set the tolerance."""
    if getattr(m, "block_on", None) is None or "mip_feasibility_tolerance" in opts.highs_options:
        return opts
    return replace(opts, highs_options={**opts.highs_options, "mip_feasibility_tolerance": BLOCK_MIP_FEASIBILITY_TOLERANCE})


def solve_model(m: pyo.ConcreteModel, opts: SolveOptions | None = None) -> SolveResult:
    """Solve ``m``; load the primal values into it; return a typed result.

    Raises ``InfeasibleError``, ``UnboundedError`` or ``NonOptimalError`` unless
    ``opts.allow_nonoptimal``; with it, a plan that exists but is not proven optimal comes back with
    status FEASIBLE and its gap.
    """
    opts = opts or SolveOptions()
    opts = block_transfer_options(m, opts)
    if opts.backend == "pyomo":
        return _solve_pyomo(m, opts)
    from planner.solve.numerics import scale_warnings

    t_start = time.perf_counter()
    cm = compile_model(m)
    warnings = scale_warnings(cm)
    try:
        result = solve_compiled(cm, opts, t_start=t_start)
    except NonOptimalError as exc:
        if exc.result is not None:
            exc.result.warnings = warnings
        if warnings:
            exc.args = (f"{exc}\n(the model is badly scaled: {warnings[0]})",)
        raise
    result.warnings = warnings
    return result


def solve_compiled(cm: CompiledModel, opts: SolveOptions, t_start: float | None = None, *, highs=None) -> SolveResult:
    """Solve an already compiled model (the path re-solves and benchmarks share). ``highs``: a HiGHS
    object made by ``new_quiet_highs(opts)`` to reuse (many small solves in a row: no object to make,
    no log to keep); None: a new one whose log the result keeps."""
    highspy = highs_module()
    t_start = time.perf_counter() if t_start is None else t_start
    log_lines: list[str] = []
    h = new_highs(opts, log_lines) if highs is None else highs
    t0 = time.perf_counter()
    h.passModel(cm.lp)
    size = {
        "columns": cm.lp.num_col_,
        "rows": cm.lp.num_row_,
        "nonzeros": len(cm.lp.a_matrix_.value_),
        "integers": len(cm.integer_cols),
    }
    # the bounds and costs the tie-break reads (HiGHS's own are slower to read back; the array path
    # frees ours)
    lp_arrays = None
    if opts.tie_break and cm.trade_weight is not None:
        lp_arrays = (*item_bounds(cm.lp.col_lower_, cm.lp.col_upper_, cm.lp.row_lower_, cm.lp.row_upper_),
                     np.array(cm.lp.col_cost_, dtype=float))
    if cm.columns is None:
        # array-assembled: HiGHS now holds the model, nothing re-solves ours; free it for the solve
        cm.lp = None
    run_highs(h, opts.time_limit_s)
    solve_s = time.perf_counter() - t0
    status_name = h.modelStatusToString(h.getModelStatus())
    raw = h.getModelStatus().name
    if raw == "kUnboundedOrInfeasible":
        raw = unbounded_or_infeasible(h, opts.time_limit_s)
    info = h.getInfo()
    is_mip = len(cm.integer_cols) > 0
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    status, objective, bound, gap = read_outcome(raw, has_solution, info, cm.obj_sign, is_mip)
    result = SolveResult(
        status=status,
        termination=status_name,
        objective=objective,
        bound=bound,
        gap=gap,
        is_mip=is_mip,
        wall_s=0.0,
        timings={"compile_s": cm.compile_s, "solve_s": solve_s},
        solver="highs-direct",
        solver_version=f"HiGHS {h.version()}",
        options=opts.highs(),
        size=size,
    )
    if has_solution:
        x = np.asarray(h.getSolution().col_value)
        row_dual = None
        t1 = time.perf_counter()
        if is_mip:
            # Re-solve the LP with the integer decisions fixed at their rounded values. Its primal
            # values replace the MIP's: HiGHS accepts integers within 1e-6 of integral, and in a big-M
            # row (net-sales floor, M up to the trade bound) 1e-6 x M tonnes would otherwise leak into
            # the plan. Its duals are the shadow prices of the fixed plan.
            idx = cm.integer_cols
            xi = np.round(x[idx])
            h.changeColsIntegrality(len(idx), idx, np.full(len(idx), highspy.HighsVarType.kContinuous))
            h.changeColsBounds(len(idx), idx, xi, xi)
            run_highs(h, opts.time_limit_s)
            sol = h.getSolution()
            if h.getModelStatus().name == "kOptimal" and sol.value_valid:
                x = np.asarray(sol.col_value)
                result.objective = cm.obj_sign * float(h.getInfo().objective_function_value)
                if sol.dual_valid:
                    row_dual = np.asarray(sol.row_dual)
                    result.duals_basis = "LP re-solve with integer decisions fixed"
                if lp_arrays is not None:  # the integers as fixed
                    lp_arrays[0][idx] = lp_arrays[1][idx] = xi
                x = break_ties(h, x, cm, result, opts, lp_arrays)
            x[idx] = xi
        else:
            if opts.duals:
                sol = h.getSolution()
                if sol.dual_valid:
                    row_dual = np.asarray(sol.row_dual)
                    result.duals_basis = "LP"
            if status is SolveStatus.OPTIMAL:
                x = break_ties(h, x, cm, result, opts, lp_arrays)
        if cm.columns is None:
            result.build = "arrays"
            result.x = x
        else:
            for v, val in zip(cm.columns, x, strict=True):
                v.set_value(float(val), skip_validation=True)
        if opts.duals and row_dual is not None and status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE) and cm.rows is None:
            result.row_dual = cm.obj_sign * row_dual
        elif opts.duals and row_dual is not None and status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            duals: dict = {}
            for con, yv in zip(cm.rows, row_dual, strict=True):
                duals[con] = duals.get(con, 0.0) + cm.obj_sign * float(yv)
            result.duals = duals
        else:
            result.duals_basis = None
        result.timings["duals_s"] = time.perf_counter() - t1
    result.log = "\n".join(log_lines)
    result.wall_s = time.perf_counter() - t_start
    raise_unless_allowed(result, opts)
    return result


def break_ties(h, x: np.ndarray, cm: CompiledModel, result: SolveResult, opts: SolveOptions, lp_arrays: tuple | None = None) -> np.ndarray:
    """The least-traded plan at the optimal cost (``planner.solve.ties.least_traded``) of the optimal
    LP loaded in ``h`` with solution ``x`` (for a MIP: its integers fixed); ``result`` gets what
    happened and, when trades were dropped, the objective of the new solution. ``lp_arrays``: the
    LP's (lower, upper) bounds (``planner.solve.ties.item_bounds``) and cost vector if the caller
    holds them."""
    if not opts.tie_break or cm.trade_weight is None or result.objective is None:
        return x
    bounds, cost = (lp_arrays[:2], lp_arrays[2]) if lp_arrays is not None else (None, None)
    x, tb = least_traded(h, x, cm.obj_sign * result.objective, cm.trade_weight, bounds, cost, opts.time_limit_s)
    result.tie_break = tb
    result.objective = cm.obj_sign * tb.objective_after
    result.timings["tie_break_s"] = tb.seconds
    return x


def read_outcome(raw: str, has_solution: bool, info, obj_sign: float, is_mip: bool):
    """(status, objective, bound, gap) of a HiGHS run from its model status name and info."""
    status = _STATUS.get(raw)
    if status is None:
        status = SolveStatus.FEASIBLE if has_solution else SolveStatus.NO_SOLUTION
        if raw in ("kModelError", "kLoadError", "kSolveError", "kPresolveError", "kPostsolveError"):
            status = SolveStatus.ERROR
    objective = bound = gap = None
    if has_solution:
        objective = obj_sign * float(info.objective_function_value)
        if is_mip:
            bound = obj_sign * float(info.mip_dual_bound)
            gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
        else:
            bound, gap = objective, 0.0
    return status, objective, bound, gap


def raise_unless_allowed(result: SolveResult, opts: SolveOptions) -> None:
    """Raise ``NonOptimalError`` (``InfeasibleError`` ...) unless ``result`` is optimal or ``opts``
    accept what it is."""
    s = result.status
    if s is SolveStatus.OPTIMAL:
        return
    if s is SolveStatus.INFEASIBLE:
        raise InfeasibleError(
            "the model is infeasible: no plan meets every constraint "
            f"(solver: {result.termination})",
            result,
        )
    if s is SolveStatus.UNBOUNDED:
        raise UnboundedError(
            "the model is unbounded: the prices allow profit without limit; "
            "set market volume limits or a carry-over rule",
            result,
        )
    if opts.allow_nonoptimal and s is SolveStatus.FEASIBLE:
        return
    timed_out = "time limit" in result.termination.lower() and opts.time_limit_s is not None
    if s is SolveStatus.FEASIBLE:
        gap = (f"gap {'unknown' if result.gap is None else f'{result.gap:.2%}'} reached, "
               f"{opts.mip_rel_gap:g} asked for")
        if timed_out:
            raise NonOptimalError(
                f"the solver stopped at its time limit of {opts.time_limit_s:g} s before proving optimality "
                f"({gap}); {RAISE_LIMIT}, or allow non-optimal plans to receive it anyway",
                result,
            )
        raise NonOptimalError(
            f"the solver stopped before proving optimality ({result.termination}; {gap}); "
            "allow non-optimal plans to receive it anyway",
            result,
        )
    if timed_out:
        raise NonOptimalError(f"the solver found no plan within its time limit of {opts.time_limit_s:g} s; {RAISE_LIMIT}", result)
    raise NonOptimalError(f"the solver found no plan ({result.termination})", result)


def _solve_pyomo(m: pyo.ConcreteModel, opts: SolveOptions) -> SolveResult:
    """Cross-check backend through Pyomo's appsi_highs interface."""
    import pyomo.environ as pyo
    from pyomo.contrib.appsi.base import TerminationCondition as TC
    from pyomo.contrib.appsi.solvers import Highs

    t0 = time.perf_counter()
    opt = Highs()
    opt.config.stream_solver = bool(opts.tee)
    opt.config.load_solution = False
    if opts.time_limit_s is not None:
        opt.config.time_limit = opts.time_limit_s
    opt.config.mip_gap = opts.mip_rel_gap
    for k, v in opts.highs().items():
        if k not in ("time_limit", "mip_rel_gap"):
            opt.highs_options[k] = v
    res = opt.solve(m)
    solve_s = time.perf_counter() - t0
    tc = res.termination_condition
    is_mip = any(v.is_integer() for v in m.component_data_objects(pyo.Var, active=True))
    if tc == TC.optimal:
        status = SolveStatus.OPTIMAL
    elif tc == TC.infeasible:
        status = SolveStatus.INFEASIBLE
    elif tc == TC.unbounded:
        status = SolveStatus.UNBOUNDED
    elif res.best_feasible_objective is not None:
        status = SolveStatus.FEASIBLE
    else:
        status = SolveStatus.NO_SOLUTION
    result = SolveResult(
        status=status,
        termination=str(tc),
        objective=res.best_feasible_objective,
        bound=res.best_objective_bound,
        gap=None,
        is_mip=is_mip,
        wall_s=0.0,
        timings={"solve_s": solve_s},
        solver="highs-appsi",
        solver_version=str(opt.version()),
        options=opts.highs(),
    )
    if status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        res.solution_loader.load_vars()
        if opts.duals and not is_mip:
            result.duals = dict(res.solution_loader.get_duals())
            result.duals_basis = "LP"
        elif opts.duals:
            ints = [v for v in m.component_data_objects(pyo.Var) if v.is_integer() and not v.fixed]
            domains = [v.domain for v in ints]
            for v in ints:
                v.fix(round(v.value))
                v.domain = pyo.Reals
            try:
                r2 = opt.solve(m)
                if r2.termination_condition == TC.optimal:
                    result.duals = dict(r2.solution_loader.get_duals())
                    result.duals_basis = "LP re-solve with integer decisions fixed"
            finally:
                for v, dom in zip(ints, domains, strict=True):
                    v.domain = dom
                    v.unfix()
    result.wall_s = time.perf_counter() - t0
    raise_unless_allowed(result, opts)
    return result
