"""Sensitivity and scenario sweeps: ``sweep(case, variants)`` -> one long tidy DataFrame.

Variants (``planner.studies.variants``) are re-validated through the schema, prepared, and planned by a
``planner.solve.warm.WarmSolver`` that keeps one model and one HiGHS object per worker and re-solves
warm. Execution: in-process (``workers=0``), local worker processes (``workers=N``, chunked tasks,
one persistent model per worker), or Dask distributed (``scheduler="local"`` for a LocalCluster on
loopback, or a scheduler address). With ``out``, finished chunks are streamed to disk and
``resume=True`` completes an interrupted sweep without re-solving finished scenarios.

The tidy frame has one row per (scenario, entity, year): the scenario id, kind, probability and
override values as columns, the scenario's headline results (status, NPV, nominal cost, path
taken by the warm solver) and the year's positions, trades and costs.
"""

from __future__ import annotations

import errno
import gc
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import CaseValidationError, PlannerError
from planner.input.schema import CaseSpec
from planner.prepare.entity import prepare
from planner.prepare.group import collector_paused
from planner.prepare.reprice import can_reprice, reprice_entity, reprice_group
from planner.solve.highs import SolveOptions
from planner.solve.warm import GROUP_ROW, LedgerRows
from planner.studies.variants import (
    Variant,
    apply_variant,
    as_variants,
    is_group,
    validate_variants,
)
from planner.studies.warm_plans import plan_group_variant, plan_variant

logger = logging.getLogger(__name__)

YEAR_COLUMNS = (
    "cea_buy_cny_per_t",
    "cea_sell_cny_per_t",
    "ccer_cny_per_t",
    "emissions_t",
    "abatement_measures_t",
    "abatement_projects_t",
    "allocation_t",
    "obligation_t",
    "position_before_trading_t",
    "buy_t",
    "sell_t",
    "ccer_buy_t",
    "ccer_surrendered_t",
    "surrender_t",
    "carry_t",
    "carry_limit_t",
    "lapse_t",
    "shortfall_t",
    "total_cost_cny",
    "discounted_cost_cny",
    "cost_terminal_cny",
    "shadow_price_cny_per_t",
)


@dataclass
class SweepResult:
    """The tidy frame, one row per scenario, and how the sweep ran."""

    frame: pd.DataFrame
    scenarios: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def to_parquet(self, path: str | os.PathLike) -> None:
        """Write the tidy frame as one Parquet file (atomically)."""
        from planner.studies.sweepio import write_parquet

        write_parquet(path, self.frame)


LINK_COLUMNS = ("market_buy_t", "market_sell_t", "transfer_in_t", "transfer_out_t")
"""Entity-year columns of group sweeps: each entity's trades split into market and intra-group parts."""
GROUP_COLUMNS = ("pool_buy_t", "pool_hold_t", "link_cost_cny")
"""Group-year columns: the CCER pool and the link costs (pool purchases, price tiers), nominal CNY."""
FLOW_COLUMNS = (
    "emissions_t", "abatement_measures_t", "abatement_projects_t", "allocation_t", "obligation_t",
    "position_before_trading_t", "buy_t", "sell_t", "ccer_buy_t", "ccer_surrendered_t", "surrender_t",
    "lapse_t", "shortfall_t", "total_cost_cny", "discounted_cost_cny", "cost_terminal_cny",
) + LINK_COLUMNS + ("pool_buy_t", "link_cost_cny")
"""Columns summed over the years in a group sweep's total rows (stocks and prices are left empty)."""

_WORKER: dict[str, Any] = {}


def _load(case_json: str, kind: str):
    if kind == "group":
        from planner.input.group_schema import GroupCaseSpec

        return GroupCaseSpec.model_validate_json(case_json)
    return CaseSpec.model_validate_json(case_json)


def _solver(case_json: str, opts: SolveOptions, check: bool, kind: str = "entity"):
    """The persistent (case, WarmSolver, state) of this process for this base case."""
    from planner.solve.warm import WarmSolver

    key = (hash(case_json), kind, opts, check)
    st = _WORKER.get("state")
    if st is None or st[0] != key:
        st = (key, _load(case_json, kind), WarmSolver(opts, check=check), {})
        _WORKER["state"] = st
    return st[1], st[2], st[3]


def prepared_variant(case: Any, v: Variant, state: dict | None = None, *, inputs: bool = True,
                     validated: bool = False):
    """The variant validated (``planner.studies.variants.apply_variant``) and prepared: price-only variants
    are repriced from the base case's preparation (``planner.prepare.reprice``), others prepared in full.
    ``inputs=False``: a repriced variant keeps no inputs table (``None``; for the fast ledger only).
    ``validated=True``: the sweep validated ``v`` before (see ``apply_variant``).
    Returns (prepared case or group, "reprice" | "prepare")."""
    state = state if state is not None else {}
    app = apply_variant(case, v, validated=validated)
    group = is_group(case)
    if app.reprice:
        if "base" not in state:
            if group:
                from planner.prepare.group import prepare_group

                base = prepare_group(case)
                ok = all(can_reprice(p) for p in base.entities)
            else:
                base = prepare(case)
                ok = can_reprice(base)
            state["base"] = (base, ok)
        base, ok = state["base"]
        if ok:
            if group:
                return reprice_group(base, app.case, app.changed, inputs=inputs), "reprice"
            return (base if app.case is case else reprice_entity(base, app.case, inputs=inputs)), "reprice"
    if group:
        from planner.prepare.group import prepare_group

        return prepare_group(app.case), "prepare"
    return prepare(app.case), "prepare"


def solve_chunk(
    case_json: str, chunk: list[Variant], opts: SolveOptions, check: bool = True, tables: str = "plan",
    kind: str = "entity", validated: bool = False, warm_backend: str = "arrays",
) -> tuple[pd.DataFrame, dict]:
    """Plan a chunk of variants in this process (worker entry point of every backend).

    ``tables="fast"``: every variant gets its ledger rows from the compiled report map of its
    model (no plan tables, no checker, no shadow prices). Each map is verified once per worker
    (``_verify_fast``): the first variant solved on it is solved again and planned in full (plan
    tables, checker) and the map's ledger of that solution must equal the plan's; rows whose map
    fails that say "error". The rows do not depend on which chunk verified the map.
    ``kind``: "entity" or "group" (``case_json`` is a ``CaseSpec`` or a ``GroupCaseSpec``).
    ``validated``: every variant of the chunk passed ``validate_variants`` on this case in the
    sweep's process (``sweep`` does that before any chunk): market rows given floats are then not
    validated a second time here (``planner.studies.variants.apply_variant``).
    ``warm_backend``: the warm solver's backend for a group's fast variants (``sweep``).
    """
    # a fast chunk's scenarios make no reference cycles (tested: test_fast_scenarios_make_no_reference_cycles),
    # but their many small objects would start collections that walk all the worker holds (model,
    # ledger map, base preparation); what a worker's first model build and map verification leave
    # in cycles is collected after the chunk
    with collector_paused(tables == "fast"):
        return _solve_chunk(case_json, chunk, opts, check, tables, kind, validated, warm_backend)


def _solve_chunk(case_json: str, chunk: list[Variant], opts: SolveOptions, check: bool, tables: str, kind: str,
                 validated: bool, warm_backend: str = "arrays") -> tuple[pd.DataFrame, dict]:
    case, ws, state = _solver(case_json, opts, check, kind)
    ws.cold_start()  # repeatable: the chunk's results do not depend on what this worker solved before
    group = kind == "group"
    alone = _standalone_solver(state, opts) if group and case.value_of_pooling else None
    blocks: list[dict[str, np.ndarray]] = []
    paths: dict[str, int] = {}
    preps: dict[str, int] = {}
    t0 = time.perf_counter()
    per: list[float] = []
    prep_s: list[float] = []
    batch: list[tuple[int, Variant, Any, float]] = []  # fast variants: (block place, variant, prepared, seconds)
    for v in chunk:
        t1 = time.perf_counter()
        fast = tables == "fast"
        try:
            # fast scenarios read prices from the model data: no inputs table is needed
            prep, how = prepared_variant(case, v, state, inputs=not fast, validated=validated)
            preps[how] = preps.get(how, 0) + 1
            prep_s.append(time.perf_counter() - t1)
        except CaseValidationError as exc:
            blocks.append(_empty_block(v, "invalid", str(exc)))
            continue
        if fast:  # solved together below, in this order, after the chunk's variants are prepared
            blocks.append({})
            batch.append((len(blocks) - 1, v, prep, prep_s[-1]))
            continue
        cold = ws.is_cold
        try:
            vr = plan_group_variant(ws, prep) if group else plan_variant(ws, prep, _entity_tables(state))
            paths[vr.path] = paths.get(vr.path, 0) + 1
            if cold:  # the chunk's first solve starts cold (see WarmSolver.cold_start)
                vr.path = "cold"
            if vr.plan is None:
                blocks.append(_empty_block(v, str(vr.solve.status), vr.error, vr.path))
            else:
                ann = vr.plan.entities.annual if group else vr.plan.annual
                link = _plan_link_arrays(vr.plan) if group else None
                ent = {c: ann[c].to_numpy() for c in ("entity", "year", *YEAR_COLUMNS, *LINK_COLUMNS) if c in ann.columns}
                blocks.append(_block(v, ent, link, prep.data, str(vr.solve.status), vr.path,
                                     float(vr.plan.summary["npv_cost_cny"])))
                if alone is not None:
                    _add_pooling(blocks[-1], alone, prep)
        except PlannerError as exc:  # e.g. the checker refused the plan
            blocks.append(_empty_block(v, "error", str(exc)))
            continue
        per.append(time.perf_counter() - t1)
    highs_s = list(ws.stats.timings.get("solve_s", [])[-len(per) :]) if per else []
    calls_s: list[float] = []  # fast scenarios: time in HiGHS's own calls (new costs, run, solution read)
    verified = 0  # report maps verified by this chunk (fast tables)
    if batch:
        per, highs_s, calls_s, verified = _solve_batch(case, ws, state, batch, blocks, paths, alone, group, warm_backend)
    if _WORKER.get("freeze") and not _WORKER.get("frozen"):
        # a worker process: what its first chunk built (model, ledger map, base preparation) lives
        # as long as the worker; frozen, the collector no longer walks it on every full collection
        gc.freeze()
        _WORKER["frozen"] = True
    t1 = time.perf_counter()
    frame = _frame(blocks, group)
    if per:  # the chunk's table, shared evenly: part of each scenario's time
        share = (time.perf_counter() - t1) / len(per)
        per = [x + share for x in per]
    info = {
        "pid": os.getpid(),
        "wall_s": time.perf_counter() - t0,
        "paths": paths,
        "prepare": preps,
        "per_scenario_s": per,
        "variant_s": prep_s,
        "verified": verified,
        "highs_s": highs_s,
        "highs_calls_s": calls_s,
    }
    return frame, info


def _solve_batch(case, ws, state: dict, batch: list, blocks: list, paths: dict[str, int], alone, group: bool,
                 warm_backend: str = "arrays"):
    """Solve a chunk's fast variants together (``WarmSolver.solve_fast_many``; one at a time if that
    raises, so only the failing ones are lost), fill their row blocks and verify the ledger maps
    they used (``_verify_batch``). Returns each variant's seconds (its validation, solve, its share
    of priming and ledgers, its block; the model's gradient and the verification in the first),
    the HiGHS times (``solve_s``, ``highs_calls_s``) and the number of maps verified."""
    ws = _fast_solver(ws, state, batch, warm_backend) if group else ws
    cold = ws.is_cold
    t1 = time.perf_counter()
    ws.ready_objective()  # once per model: counted in the first variant's time, not spread
    model_s = time.perf_counter() - t1
    t1 = time.perf_counter()
    timings = ws.stats.timings
    n_solved, n_calls = len(timings.get("solve_s", [])), len(timings.get("highs_calls_s", []))
    try:
        solved = ws.solve_fast_many([p for _, _, p, _ in batch])
    except PlannerError:
        solved = []
        for _, _, p, _ in batch:
            try:
                solved.append(ws.solve_fast(p))
            except PlannerError as exc:
                solved.append(("", _Failed(), None, None, str(exc)))
    spent = time.perf_counter() - t1
    highs_s = timings.get("solve_s", [])[n_solved:]
    calls_s = timings.get("highs_calls_s", [])[n_calls:]
    # solved again one at a time: HiGHS's time shared evenly with the rest
    solve_s = highs_s if len(highs_s) == len(batch) else [0.0] * len(batch)
    after = (spent - sum(solve_s)) / len(batch)  # priming and the ledgers, shared evenly
    per: list[float] = []
    for j, ((place, v, prep, pv), (path, res, ent, link, err)) in enumerate(zip(batch, solved, strict=True)):
        tb = time.perf_counter()
        paths[path] = paths.get(path, 0) + 1
        path = "cold" if cold and j == 0 else path
        if ent is None:
            blocks[place] = _empty_block(v, str(res.status), err, path)
        else:
            blocks[place] = _block(v, ent, link, prep.data, str(res.status), path, float(res.objective))
            if alone is not None:
                _add_pooling(blocks[place], alone, prep)
        per.append(pv + solve_s[j] + after + (model_s if j == 0 else 0.0) + time.perf_counter() - tb)
    t1 = time.perf_counter()
    verified = _verify_batch(case, ws, state, batch, solved, blocks, group)
    if verified:  # the chunk's share of verifying maps: in its first variant's time
        per[0] += time.perf_counter() - t1
    return per, highs_s[-len(batch) :], calls_s[-len(batch) :], verified


def _fast_solver(ws, state: dict, batch: list, warm_backend: str):
    """The solver of a fast group batch: with ``warm_backend="arrays"``, this worker's warm solver
    on the array backend (``planner.solve.warm_arrays``: no Pyomo; cold, as ``ws`` at the chunk's
    start) when the array assembler writes every variant of the batch, else ``ws`` (Pyomo backend).
    ``warm_backend="pyomo"`` keeps ``ws``."""
    from planner.solve.warm import WarmSolver
    from planner.solve.warm_arrays import supports

    if warm_backend == "pyomo" or not all(supports(p.data, ws.opts) for _, _, p, _ in batch):
        return ws
    aws = state.get("arrays")
    if aws is None:
        aws = state["arrays"] = WarmSolver(ws.opts, check=ws.check, backend="arrays")
    aws.cold_start()
    return aws


def _entity_tables(state: dict):
    """This worker's plan-table builder of an entity case (``planner.plan.entity_tables``: the tables
    equal ``assemble_plan``'s, from the layout of the structure last planned)."""
    from planner.plan.entity_tables import EntityTables

    et = state.get("tables")
    if et is None:
        et = state["tables"] = EntityTables()
    return et


def _standalone_solver(state: dict, opts: SolveOptions):
    """This worker's warm solver of a group's stand-alone model (every entity without links, one
    block-diagonal LP/MIP: its optimum is the sum of the entities' own optima), cold at each chunk."""
    from planner.solve.warm import WarmSolver

    ws = state.get("standalone")
    if ws is None:
        ws = state["standalone"] = WarmSolver(replace(opts, duals=False), check=False)
    ws.cold_start()
    return ws


def _add_pooling(block: dict[str, Any], alone, prep) -> None:
    """The scenario's value of pooling: its entities planned alone (``prep.standalone``, warm) minus
    the group's NPV cost. A stand-alone solve without an optimal plan leaves both columns empty
    and says so in the scenario's error column."""
    from planner.errors import NonOptimalError
    from planner.solve.highs import raise_unless_allowed

    alone.prime(prep.standalone)
    res = alone._run(duals=False)
    try:
        raise_unless_allowed(res, alone.opts)
    except NonOptimalError as exc:
        block["_head"]["error"] = f"stand-alone plans (value of pooling): {exc}"
        return
    block["_head"]["standalone_npv_cny"] = float(res.objective)
    block["_head"]["pooling_value_cny"] = float(res.objective) - block["_head"]["npv_cost_cny"]


def _verify_batch(case, ws, state: dict, batch: list, solved: list, blocks: list, group: bool) -> int:
    """Verify the report map of every model a fast batch used, unless this worker verified it
    before. A batch's variants use one model from the first and from each variant whose solve
    changed the model (path not "objective_only") up to the next; the first variant of each run
    with rows checks the map (``_verify_fast``). When that fails, the run's rows say "error" (the
    map they come from is wrong). Returns the number of maps verified."""
    seen = state.setdefault("verified_maps", [])
    runs: list[list[int]] = []
    for j, (path, *_rest) in enumerate(solved):
        if j == 0 or path != "objective_only":
            runs.append([])
        runs[-1].append(j)
    n = 0
    for run in runs:
        ok = [j for j in run if solved[j][2] is not None]
        if not ok:
            continue
        place, v, prep, _ = batch[ok[0]]
        ws.prime(prep.data)
        if any(r is ws.ledger_map() for r in seen):
            continue
        try:
            full, _how = prepared_variant(case, v, state)  # validated again, with the inputs table: planned in full
            _verify_fast(ws, full, group, v.id)
        except PlannerError as exc:
            for j in ok:
                pl, vj, _p, _ = batch[j]
                blocks[pl] = _empty_block(vj, "error", f"fast tables not verified on this model (scenario {v.id}): {exc}",
                                          blocks[pl]["_head"]["solver_path"])
            continue
        seen.append(ws.ledger_map())
        n += 1
    return n


def _verify_fast(ws, prep, group: bool, sid: str) -> None:
    """Solve ``prep`` again (warm, from the batch's last solution: whichever optimal vertex it
    lands on, the map and the plan read the same one) and plan it in full (plan tables, checker);
    the compiled report map must give the same ledger for that solution (``_compare_fast``). The
    chunk's rows are already taken, and the next chunk starts cold, so no result depends on it."""
    from planner.errors import PlanCheckError

    vr = plan_group_variant(ws, prep) if group else plan_variant(ws, prep)
    if vr.plan is None:
        raise PlanCheckError([f"scenario {sid}: no plan when solved again in full: {vr.error}"])
    ann = vr.plan.entities.annual if group else vr.plan.annual
    _compare_fast(ws.fast_rows(prep), ann, sid)
    if group:
        link = _plan_link_arrays(vr.plan)
        _compare_fast(ws.fast_group_rows(prep), pd.DataFrame({"entity": GROUP_ROW, **link}), sid)


class _Failed:
    """The result stand-in of a fast variant whose solve raised (its block says "error")."""

    status = "error"
    objective = math.nan


def _plan_link_arrays(gplan) -> dict[str, np.ndarray]:
    ga = gplan.group_annual
    out = {"year": ga["year"].to_numpy(dtype=np.int64)}
    for c in ("pool_buy_t", "pool_hold_t"):
        out[c] = ga[c].to_numpy(dtype=float) if c in ga.columns else np.zeros(len(ga))
    out["link_cost_cny"] = ga["link_cost_cny"].to_numpy(dtype=float)
    return out


def _compare_fast(fast: pd.DataFrame, annual: pd.DataFrame, sid: str) -> None:
    """The compiled report map must reproduce the plan's ledger (guards the fast tables)."""
    import numpy as np

    from planner.errors import PlanCheckError

    a = annual.set_index(["entity", "year"])
    f = fast.set_index(["entity", "year"]).reindex(a.index)
    bad = []
    for c in f.columns:
        if c == "shadow_price_cny_per_t" or c not in a.columns:
            continue
        x, y = f[c].to_numpy(dtype=float), a[c].to_numpy(dtype=float)
        if not np.allclose(x, y, rtol=1e-9, atol=1e-6, equal_nan=True):
            bad.append(c)
    if bad:
        raise PlanCheckError([f"scenario {sid}: fast ledger differs from the plan in {bad}"])


HEAD_COLUMNS = ("scenario", "kind", "probability", "status", "error", "overrides", "solver_path",
                "npv_cost_cny", "compliance_npv_cny", "terminal_value_cny", "nominal_cost_cny")
"""Scenario columns: NPV cost = cost of compliance - value of holdings left at the end (both NPV;
``planner.plan.costsplit``), and the nominal cost."""
_TEXT = {"scenario", "kind", "status", "error", "overrides", "solver_path", "entity", "level"}


GROUP_HEAD = ("standalone_npv_cny", "pooling_value_cny")
"""Scenario columns of group sweeps: the entities' NPV cost when each plans alone, and the value of
pooling (that minus the group's NPV cost); empty unless the group case asks for the value of
pooling (``value_of_pooling``)."""


def _columns(group: bool) -> list[str]:
    """The tidy frame's columns, in order (every chunk writes exactly these)."""
    cols = [*HEAD_COLUMNS, *(GROUP_HEAD if group else ()), "entity", "year"] + (["level"] if group else []) + list(YEAR_COLUMNS)
    return cols + (list(LINK_COLUMNS) + list(GROUP_COLUMNS) if group else [])


_OVERRIDES_JSON = json.JSONEncoder(sort_keys=True, default=str)
"""``json.dumps(overrides, sort_keys=True, default=str)``, its encoder made once (not per scenario)."""


def _head(v: Variant, status: str, error: str | None, path: str, npv: float, nominal: float,
          terminal_npv: float = math.nan) -> dict[str, Any]:
    return {
        "scenario": v.id,
        "kind": v.kind,
        "probability": v.probability if v.probability is not None else math.nan,
        "status": status,
        "error": error or "",
        "overrides": _OVERRIDES_JSON.encode(v.overrides),
        "solver_path": path,
        "npv_cost_cny": npv,
        "compliance_npv_cny": npv - terminal_npv,
        "terminal_value_cny": 0.0 - terminal_npv + 0.0,
        "nominal_cost_cny": nominal,
    }


def _terminal_npv(ent, data) -> float:
    """The discounted terminal cost component of entity-major rows (negative: a value left)."""
    term = np.asarray(ent["cost_terminal_cny"], dtype=float)
    df = np.tile(np.asarray(data.discount_factor, dtype=float), len(term) // len(data.years))
    return float(np.sum(term * df))


def _empty_block(v: Variant, status: str, error: str | None, path: str = "") -> dict[str, Any]:
    return {"_head": _head(v, status, error, path, math.nan, math.nan), "_n": 1,
            "entity": np.asarray([""], dtype=object), "year": np.asarray([-1], dtype=np.int64)}


def _block(v: Variant, ent: dict[str, np.ndarray], link: dict[str, np.ndarray] | None, data, status: str,
           path: str, npv: float) -> dict[str, Any]:
    """A scenario's rows as column arrays. Entity case: one row per (entity, year). Group case
    (``link`` given): ``level`` = entity-year rows, group-year rows (entity ``(group)``: sums over the
    entities plus the link costs and the pool), one total row per entity and one for the group
    (year 0: flows summed over the years; stocks and prices empty). Entity rows come entity-major."""
    n = len(ent["year"])
    term = _terminal_npv(ent, data)
    if link is None:
        nominal = float(np.sum(ent["total_cost_cny"]))
        if isinstance(ent, LedgerRows):  # its columns stay in the batch's arrays (see ``_frame``)
            return {"_head": _head(v, status, None, path, npv, nominal, term), "_n": n, "_rows": ent}
        return {"_head": _head(v, status, None, path, npv, nominal, term), "_n": n, **ent}
    years = np.asarray(data.years, dtype=np.int64)
    ny, ne = len(years), n // len(years)
    if not np.array_equal(np.asarray(ent["year"], dtype=np.int64), np.tile(years, ne)):
        raise ValueError("group ledger rows are not entity-major")
    ids = np.asarray(ent["entity"], dtype=object)[::ny]
    flows = [c for c in FLOW_COLUMNS if c in ent]
    gy: dict[str, np.ndarray] = {c: np.asarray(ent[c], dtype=float).reshape(ne, ny).sum(axis=0) for c in flows}
    for c in GROUP_COLUMNS:
        gy[c] = np.asarray(link[c], dtype=float)
    gy["total_cost_cny"] = gy["total_cost_cny"] + gy["link_cost_cny"]
    gy["discounted_cost_cny"] = gy["discounted_cost_cny"] + gy["link_cost_cny"] * np.asarray(data.discount_factor)
    et = {c: np.asarray(ent[c], dtype=float).reshape(ne, ny).sum(axis=1) for c in flows}
    gt = {c: np.asarray([gy[c].sum()]) for c in gy if c in FLOW_COLUMNS}
    parts = [(ent, n, ent["entity"], ent["year"], "entity-year"),
             (gy, ny, np.full(ny, GROUP_ROW, dtype=object), years, "group-year"),
             (et, ne, ids, np.zeros(ne, dtype=np.int64), "entity"),
             (gt, 1, np.asarray([GROUP_ROW], dtype=object), np.zeros(1, dtype=np.int64), "group")]
    cols = [c for c in _columns(True)[len(HEAD_COLUMNS) + len(GROUP_HEAD) + 3 :]]
    out: dict[str, Any] = {
        "entity": np.concatenate([p[2] for p in parts]),
        "year": np.concatenate([np.asarray(p[3], dtype=np.int64) for p in parts]),
        "level": np.concatenate([np.full(p[1], p[4], dtype=object) for p in parts]),
    }
    for c in cols:
        out[c] = np.concatenate([np.asarray(p[0][c], dtype=float) if c in p[0] else np.full(p[1], np.nan) for p in parts])
    out["_n"] = n + ny + ne + 1
    out["_head"] = _head(v, status, None, path, npv, float(gt["total_cost_cny"][0]), term)
    return out


def _frame(blocks: list[dict[str, Any]], group: bool) -> pd.DataFrame:
    """One frame from the scenarios' column arrays (one DataFrame per chunk, not per scenario).
    A run of blocks whose rows lie in one batch's arrays, scenario after scenario (``_rows``:
    ``planner.solve.warm.LedgerRows``), is taken as one slice of each column."""
    cols = _columns(group)
    sizes = [b["_n"] for b in blocks]
    total = sum(sizes)
    data: dict[str, Any] = {}
    per_block = np.repeat(np.arange(len(blocks)), sizes)
    pieces = _pieces(blocks)
    for c in cols:
        if c in HEAD_COLUMNS or c in GROUP_HEAD:
            vals = [b["_head"].get(c, math.nan) for b in blocks]
            if c in _TEXT:  # one text per scenario: converted once, then repeated
                data[c] = _text(np.asarray(vals, dtype=object)).take(per_block)
            else:
                data[c] = np.repeat(np.asarray(vals, dtype=float), sizes)
            continue
        text = c in _TEXT
        kind = object if text else (np.int64 if c == "year" else float)
        fill = "" if text else np.nan
        parts: list[tuple[np.ndarray, int]] = []  # (array, times in a row)
        for b, rows, n in pieces:
            a = b.get(c) if rows is None else rows[0].get(c)
            if a is None:
                parts.append((np.full(n, fill, dtype=object if text else float), 1))
            elif rows is None:
                parts.append((a, 1))
            elif a.ndim == 2:
                _, k0, k1 = rows
                parts.append((a[k0:k1].reshape(-1), 1))
            else:  # the same rows for every scenario of the batch
                parts.append((a, rows[2] - rows[1]))
        if not text:
            # one conversion per column (not per scenario); "same_kind" keeps numbers from turning into text
            arrays = [np.tile(a, r) if r > 1 else a for a, r in parts]
            data[c] = np.concatenate(arrays, dtype=kind, casting="same_kind") if arrays else np.empty(0, dtype=kind)
            continue
        # few distinct texts (entity ids, levels): each converted once; each array's codes found once
        seen: dict[Any, int] = {}
        memo: dict[int, np.ndarray] = {}
        codes = []
        for a, r in parts:
            cs = memo.get(id(a))
            if cs is None:
                cs = memo[id(a)] = np.fromiter((seen.setdefault(x, len(seen)) for x in a.astype(object, copy=False)),
                                               dtype=np.intp, count=len(a))
            codes.append(np.tile(cs, r) if r > 1 else cs)
        data[c] = _text(np.asarray(list(seen), dtype=object)).take(np.concatenate(codes) if codes else np.empty(0, np.intp))
    return pd.DataFrame(data, index=pd.RangeIndex(total))


def _pieces(blocks: list[dict[str, Any]]) -> list[tuple[dict[str, Any], tuple | None, int]]:
    """(block, None, rows) per block, except runs of blocks whose rows are consecutive scenarios of
    one batch's arrays: (first block, (columns, first scenario, end), rows of the run)."""
    out: list[tuple[dict[str, Any], tuple | None, int]] = []
    for b in blocks:
        r = b.get("_rows")
        if r is None:
            out.append((b, None, b["_n"]))
            continue
        if out and out[-1][1] is not None:
            first, (columns, k0, k1), n = out[-1]
            if columns is r.columns and k1 == r.k:
                out[-1] = (first, (columns, k0, k1 + 1), n + b["_n"])
                continue
        out.append((b, (r.columns, r.k, r.k + 1), b["_n"]))
    return out


def _text(values: np.ndarray):
    """Texts as pandas' str dtype, as ``Series.astype(str)`` makes them."""
    return pd.array(values.astype(str), dtype="str")


# ---------------------------------------------------------------------------------------- runners
def _chunks(items: list[Variant], size: int) -> list[list[Variant]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


TASK_S = (1.0, 30.0)
"""Seconds of work a task (chunk) should hold: at least about 1 s (less and the per-task costs,
i.e. sending the task, a cold start and building the chunk's table, weigh on every scenario), at
most about 30 s (what a killed sweep loses per worker, and the progress bar's step)."""


def _scenario_s(tables: str, entities: int) -> float:
    """Rough seconds per scenario: a warm re-solve of a small LP per entity (fast tables); plan
    tables and the checker (about 0.15 s for an entity; a group's are built for all at once)."""
    return 1e-3 * entities if tables == "fast" else 0.15 + 5e-3 * (entities - 1)


def _default_chunk(n: int, tables: str = "plan", entities: int = 1) -> int:
    """Scenarios per task: at least n/16 and about ``TASK_S[0]`` of work, at most about
    ``TASK_S[1]`` of work and a quarter of the sweep (so that up to four workers share it), and 2 or
    more. Not a function of the workers: every chunk starts cold (``WarmSolver.cold_start``), so a
    chunk's results do not depend on which worker ran it or what it ran before, and the same sweep
    gives byte-identical result files with any number of workers."""
    est = _scenario_s(tables, max(1, entities))
    lo, hi = math.ceil(TASK_S[0] / est), math.ceil(TASK_S[1] / est)
    return max(2, min(max(lo, math.ceil(n / 16)), hi, math.ceil(n / 4)))


def _run_local(case_json, chunks, opts, check, tables, workers, on_done, kind="entity", warm_backend="arrays") -> None:
    if workers <= 0:
        for ch in chunks:
            on_done(ch, *solve_chunk(case_json, ch, opts, check, tables, kind, True, warm_backend))
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # forkserver: workers fork from a clean server process that has imported the planner once
    # (safe with threads in the caller, unlike fork; much quicker to start than spawn)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["planner.studies.sweep", "planner.solve.warm", "planner.prepare.entity"])
    with _main_module_hidden(), ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                                    initargs=(os.getpid(),)) as pool:
        pending = {pool.submit(solve_chunk, case_json, ch, opts, check, tables, kind, True, warm_backend): ch
                   for ch in chunks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                ch = pending.pop(fut)
                on_done(ch, *fut.result())


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While worker processes start, show them no main module to import.

    multiprocessing's forkserver and spawn start-ups import the caller's script (``__main__``) in
    every new worker; a plain script that calls ``sweep(..., workers=2)`` at its top level, without
    an ``if __name__ == "__main__":`` guard, would then start the sweep again inside each worker
    and fail at start-up. The workers need nothing from the caller's script (their tasks are this
    module's functions and plain data), so the script's file and module spec are hidden from the
    start-up, as they are for an interactive session (multiprocessing then imports no main module)."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def _alive(pid: int) -> bool:
    """The process ``pid`` runs (a zombie, killed but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel (a zombie then counts as alive)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _worker_init(pid: int) -> None:
    """Initializer of a local worker process: mark it as one (``solve_chunk`` then freezes the
    garbage collector's view of what its first chunk built; never in a caller's own process) and
    watch the sweep's process ``pid`` (``_watch_parent``)."""
    _WORKER["freeze"] = True
    _watch_parent(pid)


def _watch_parent(pid: int, every_s: float = 1.0) -> None:
    """End this worker when the sweep's process ``pid`` is gone. A sweep killed with SIGKILL (or
    by the OOM killer) cannot stop its workers, which would otherwise finish their chunk and then
    block forever writing the result to a pipe nobody reads (the forkserver, their parent, lives on
    too while they do)."""
    import threading

    def watch() -> None:
        while _alive(pid):
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="watch-sweep-parent", daemon=True).start()


def _run_dask(case_json, chunks, opts, check, tables, workers, scheduler, on_done, kind="entity",
              warm_backend="arrays") -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler in (None, "", "local"):
        with _main_module_hidden():  # (its worker processes start like the local ones: see there)
            cluster = LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futs = {
            client.submit(solve_chunk, case_json, ch, opts, check, tables, kind, True, warm_backend, pure=False): i
            for i, ch in enumerate(chunks)
        }
        for fut in as_completed(list(futs)):
            on_done(chunks[futs[fut]], *fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def sweep(
    case: Any,
    variants: Any,
    *,
    opts: SolveOptions | None = None,
    workers: int = 0,
    scheduler: str | None = None,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    chunk_size: int | None = None,
    check: bool = True,
    tables: str = "plan",
    warm_backend: str = "arrays",
    progress: bool | None = False,
    case_sha256: str | None = None,
    on_chunk: Callable[[list[Variant], pd.DataFrame], None] | None = None,
) -> SweepResult:
    """Plan every variant of ``case``; see the module docstring.

    ``variants``: a ``SweepSpec`` (or its dict form), or a list of override dicts / ``Variant``s.
    ``tables``: "plan" = every scenario a full, checked plan; "fast" = ledger rows from a compiled
    linear map of the solution (no shadow prices; each map verified once per worker against a
    full, checked plan: ``solve_chunk``).
    ``warm_backend``: "arrays" = a group's fast variants are re-solved on the array assembler's
    model where it writes them (``planner.solve.warm_arrays.supports``), else on the Pyomo model;
    "pyomo" = always on the Pyomo model (the same rows; for comparisons).
    ``scheduler``: None = local processes (``workers`` of them; 0 = in this process); ``"local"`` =
    a Dask LocalCluster on loopback with ``workers`` workers; else a Dask scheduler address.
    """
    from planner.studies import sweepio

    t_setup = time.perf_counter()
    if tables not in ("plan", "fast"):
        raise ValueError(f"tables must be 'plan' or 'fast', not {tables!r}")
    if warm_backend not in ("arrays", "pyomo"):
        raise ValueError(f"warm_backend must be 'arrays' or 'pyomo', not {warm_backend!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1):
        raise CaseValidationError("command line", [("--chunk-size", f"expected a whole number of scenarios, 1 or more, got {chunk_size!r}")])
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise CaseValidationError("command line", [("--workers", f"expected a whole number, 0 or more, got {workers!r}")])
    kind = "group" if is_group(case) else "entity"
    vs = as_variants(case, variants)
    if out is not None:
        sweepio.check_out_dir(out, resume=resume)  # before the variants are validated (and long before any solve)
    validate_variants(case, vs)
    opts = opts or case_options(case)
    case_json = case.model_dump_json()
    # chunks of the whole sweep, then what is left of them: a resumed sweep solves the chunks an
    # uninterrupted one would (each starts cold), so it writes the same rows (parts are whole chunks)
    size = chunk_size or _default_chunk(len(vs), tables, len(case.entities) if kind == "group" else 1)
    done: set[str] = set()
    if out is not None:
        manifest = {
            "case_sha256": case_sha256 or sweepio.digest(case_json),
            "sweep_sha256": sweepio.digest(
                [(v.id, v.overrides, v.kind, v.probability) for v in vs]
            ),
            "scenarios": len(vs),
            "workers": workers,
            "scheduler": scheduler or "processes",
            "tables": tables,
            # what the rows depend on: a resume with other settings would mix two kinds of rows
            "settings": {"tables": tables, "chunk_size": size, "check": check, "solver": opts.highs(),
                         "duals": opts.duals, "allow_nonoptimal": opts.allow_nonoptimal, "backend": opts.backend},
        }
        done = sweepio.open_out_dir(out, manifest, resume=resume)
    todo = [v for v in vs if v.id not in done]
    chunks = [rest for ch in _chunks(vs, size) if (rest := [v for v in ch if v.id not in done])]
    setup_s = time.perf_counter() - t_setup
    frames: list[pd.DataFrame] = []
    infos: list[dict] = []
    bar = None
    if progress is not False:
        from tqdm import tqdm

        bar = tqdm(
            total=len(vs),
            initial=len(vs) - len(todo),
            unit="scen",
            desc="sweep",
            disable=None if progress is None else not progress,
        )

    def on_done(ch: list[Variant], frame: pd.DataFrame, info: dict) -> None:
        if out is not None:
            sweepio.write_part(out, frame, ch[0].id)
        else:
            frames.append(frame)
        infos.append(info)
        if on_chunk is not None:
            on_chunk(ch, frame)
        if bar is not None:
            bar.update(len(ch))

    t0 = time.perf_counter()
    try:
        with _resources(workers):
            if scheduler is None:
                _run_local(case_json, chunks, opts, check, tables, workers, on_done, kind, warm_backend)
            else:
                _run_dask(case_json, chunks, opts, check, tables, workers, scheduler, on_done, kind, warm_backend)
    finally:
        if bar is not None:
            bar.close()
    run_s = time.perf_counter() - t0
    frame = (
        sweepio.read_parts(out)
        if out is not None
        else (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())
    )
    frame = _order(frame, [v.id for v in vs])
    frame = _add_override_columns(frame, vs)
    scen = scenario_table(frame)
    if out is not None:
        sweepio.write_results(out, frame, scen)
    per = [x for i in infos for x in i["per_scenario_s"]]
    stats = {
        "scenarios": len(vs),
        "solved_now": len(todo),
        "resumed": len(done),
        "chunks": len(chunks),
        "chunk_size": size,
        "setup_s": setup_s,
        "run_s": run_s,
        "per_scenario_s": per,
        "highs_s": [x for i in infos for x in i["highs_s"]],
        # fast tables: per scenario, the HiGHS calls a user of HiGHS alone makes too (changeColsCost,
        # run, reading the primal solution), timed inside the sweep: the in-place reference for
        # the per-scenario time on a shared, noisy machine
        "highs_calls_s": [x for i in infos for x in i.get("highs_calls_s", [])],
        "variant_s": [x for i in infos for x in i.get("variant_s", [])],
        "paths": _sum_paths(infos),
        "prepare": _sum_paths(infos, "prepare"),
        "verified_maps": sum(i.get("verified", 0) for i in infos),
        "worker_pids": sorted({i["pid"] for i in infos}),
    }
    return SweepResult(frame=frame, scenarios=scen, stats=stats)


def case_options(case: Any) -> SolveOptions:
    """The solver options of a case's ``solver`` section (a group: its first entity's, as
    ``planner.api.options_for``), with duals: every scenario is solved as a run of it would
    be, within the case's time limit or else ``planner.solve.highs.SWEEP_TIME_LIMIT_S``."""
    from planner.solve.highs import SWEEP_TIME_LIMIT_S, options_from_section

    section = case.entities[0].solver if is_group(case) else case.solver
    return options_from_section(section, default_time_limit_s=SWEEP_TIME_LIMIT_S, duals=True)


@contextmanager
def _resources(workers: int) -> Iterator[None]:
    """Failures to start worker processes or threads (the machine's process or thread limit,
    memory) become ``ResourceError`` (exit 7) with what to do."""
    from concurrent.futures.process import BrokenProcessPool

    from planner.errors import ResourceError

    hint = "use fewer --workers (0 solves in this process)" if workers else "free memory or processes on the machine"
    try:
        yield
    except BrokenProcessPool as exc:
        raise ResourceError(f"a sweep worker process ended abruptly (killed by the system, out of memory?): {exc}; "
                            f"finished scenarios are kept: run again with --resume, and {hint}") from None
    except MemoryError:
        raise ResourceError(f"out of memory; finished scenarios are kept: run again with --resume, and {hint}") from None
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.ENOMEM, errno.EMFILE, errno.ENFILE):
            raise
        raise ResourceError(f"the machine cannot start {workers} worker process(es) ({exc.strerror or exc}); {hint}") from None
    except RuntimeError as exc:
        if "thread" not in str(exc) and "start" not in str(exc):
            raise
        raise ResourceError(f"the machine cannot start the sweep's workers ({exc}); {hint}") from None


def _sum_paths(infos: Iterable[dict], key: str = "paths") -> dict[str, int]:
    out: dict[str, int] = {}
    for i in infos:
        for k, v in i.get(key, {}).items():
            out[k] = out.get(k, 0) + v
    return out


def _order(frame: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    if frame.empty:
        return frame
    rank = {s: i for i, s in enumerate(ids)}
    frame = frame[frame["scenario"].isin(rank)].copy()
    frame["_r"] = frame["scenario"].map(rank)
    # stable: the rows of a scenario keep the order its worker wrote them in
    frame = frame.sort_values("_r", kind="stable").drop(columns="_r")
    return frame.drop_duplicates(["scenario", "entity", "year"]).reset_index(drop=True)


def _add_override_columns(frame: pd.DataFrame, vs: list[Variant]) -> pd.DataFrame:
    """One column per overridden path (wide enough for grids and tornados; price paths get theirs)."""
    if frame.empty:
        return frame
    keys: list[str] = []
    for v in vs:
        for k in v.overrides:
            if k not in keys:
                keys.append(k)
    if not keys or len(keys) > 200:
        return frame
    vals = {v.id: v.overrides for v in vs}
    # one value per scenario, then repeated to its rows (the same values and dtypes as mapping each row)
    codes, ids = pd.factorize(frame["scenario"])
    ids = pd.Series(ids)
    extra = pd.DataFrame(
        {f"set:{k}": ids.map(lambda s, k=k: vals.get(s, {}).get(k)).to_numpy()[codes] for k in keys},
        index=frame.index,
    )
    pos = list(frame.columns).index("overrides") + 1
    return pd.concat([frame.iloc[:, :pos], extra, frame.iloc[:, pos:]], axis=1)


def scenario_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario: headline results and override values."""
    if frame.empty:
        return frame
    head = [
        c
        for c in frame.columns
        if c in HEAD_COLUMNS or c in GROUP_HEAD or c.startswith("set:")
    ]
    return frame[head].drop_duplicates("scenario").reset_index(drop=True)
