"""Sensitivity and scenario sweeps: ``sweep(case, variants)`` -> one long tidy DataFrame.

Variants (``planner.variants``) are re-validated through the schema, prepared, and planned by a
``planner.resolve.WarmSolver`` that keeps one model and one HiGHS object per worker and re-solves
warm. Execution: in-process (``workers=0``), local worker processes (``workers=N``, chunked tasks,
one persistent model per worker), or Dask distributed (``scheduler="local"`` for a LocalCluster on
loopback, or a scheduler address). With ``out``, finished chunks are streamed to disk and
``resume=True`` completes an interrupted sweep without re-solving finished scenarios.

The tidy frame has one row per (scenario, entity, year): the scenario id, kind, probability and
override values as columns, the scenario's headline results (status, NPV, nominal cost, path
taken by the warm solver) and the year's positions, trades and costs.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.errors import CaseValidationError, PlannerError
from planner.schema import CaseSpec
from planner.solve import SolveOptions
from planner.variants import Variant, as_variants, validate_variants, variant_case

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
        from planner.sweepio import write_parquet

        write_parquet(path, self.frame)


# ---------------------------------------------------------------------------------------- worker
_WORKER: dict[str, Any] = {}


def _solver(case_json: str, opts: SolveOptions, check: bool):
    """The persistent (case, WarmSolver) of this process for this base case."""
    from planner.resolve import WarmSolver

    key = (hash(case_json), opts, check)
    st = _WORKER.get("state")
    if st is None or st[0] != key:
        case = CaseSpec.model_validate_json(case_json)
        st = (key, case, WarmSolver(opts, check=check))
        _WORKER["state"] = st
    return st[1], st[2]


def solve_chunk(
    case_json: str, chunk: list[Variant], opts: SolveOptions, check: bool = True, tables: str = "plan"
) -> tuple[pd.DataFrame, dict]:
    """Plan a chunk of variants in this process (worker entry point of every backend).

    ``tables="fast"``: the first variant of the chunk is planned in full (plan tables, checker)
    and its ledger from the compiled report map is compared with the plan's; the others get
    their ledger rows from the map only (no plan tables, no checker, no shadow prices).
    """
    from planner.prepare import prepare

    case, ws = _solver(case_json, opts, check)
    frames = []
    paths: dict[str, int] = {}
    t0 = time.perf_counter()
    per: list[float] = []
    for k, v in enumerate(chunk):
        t1 = time.perf_counter()
        try:
            c = variant_case(case, v)
            prep = prepare(c)
        except CaseValidationError as exc:
            frames.append(_rows(v, None, "invalid", str(exc), None))
            continue
        try:
            if tables == "fast" and k > 0:
                path, res, rows, err = ws.solve_fast(prep)
                paths[path] = paths.get(path, 0) + 1
                frames.append(_fast_rows(v, rows, res, path, err))
            else:
                vr = ws.solve(prep)
                paths[vr.path] = paths.get(vr.path, 0) + 1
                frames.append(_rows(v, vr.plan, str(vr.solve.status), vr.error, vr))
                if tables == "fast" and vr.plan is not None:
                    _compare_fast(ws.fast_rows(prep), vr.plan.annual, v.id)
        except PlannerError as exc:  # e.g. the checker refused the plan
            frames.append(_rows(v, None, "error", str(exc), None))
            continue
        per.append(time.perf_counter() - t1)
    info = {
        "pid": os.getpid(),
        "wall_s": time.perf_counter() - t0,
        "paths": paths,
        "per_scenario_s": per,
        "highs_s": list(ws.stats.timings.get("solve_s", [])[-len(per) :]) if per else [],
    }
    return pd.concat(frames, ignore_index=True), info


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


def _fast_rows(v: Variant, rows: pd.DataFrame | None, res, path: str, error: str | None) -> pd.DataFrame:
    if rows is None:
        return _rows(v, None, str(res.status), error, None)
    head = {
        "scenario": v.id,
        "kind": v.kind,
        "probability": v.probability if v.probability is not None else math.nan,
        "status": str(res.status),
        "error": "",
        "overrides": json.dumps(v.overrides, sort_keys=True, default=str),
        "solver_path": path,
        "npv_cost_cny": float(res.objective),
        "nominal_cost_cny": float(rows["total_cost_cny"].sum()),
    }
    cols = ["entity", "year"] + [c for c in YEAR_COLUMNS if c in rows.columns]
    df = rows[cols].copy()
    for k, val in reversed(list(head.items())):
        df.insert(0, k, val)
    return df


def _rows(v: Variant, plan, status: str, error: str | None, vr) -> pd.DataFrame:
    head: dict[str, Any] = {
        "scenario": v.id,
        "kind": v.kind,
        "probability": v.probability if v.probability is not None else math.nan,
        "status": status,
        "error": error or "",
        "overrides": json.dumps(v.overrides, sort_keys=True, default=str),
        "solver_path": vr.path if vr is not None else "",
        "npv_cost_cny": math.nan,
        "nominal_cost_cny": math.nan,
    }
    if plan is None:
        return pd.DataFrame([{**head, "entity": "", "year": -1}])
    head["npv_cost_cny"] = float(plan.summary["npv_cost_cny"])
    head["nominal_cost_cny"] = float(plan.summary["nominal_cost_cny"])
    ann = plan.annual
    cols = ["entity", "year"] + [c for c in YEAR_COLUMNS if c in ann.columns]
    df = ann[cols].copy()
    for k, val in reversed(list(head.items())):
        df.insert(0, k, val)
    return df


# ---------------------------------------------------------------------------------------- runners
def _chunks(items: list[Variant], size: int) -> list[list[Variant]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _default_chunk(n: int, workers: int) -> int:
    # about 4 tasks per worker, 2..50 scenarios each: tasks of roughly a second or more
    return max(2, min(50, math.ceil(n / max(1, 4 * max(1, workers)))))


def _run_local(case_json, chunks, opts, check, tables, workers, on_done) -> None:
    if workers <= 0:
        for ch in chunks:
            on_done(ch, *solve_chunk(case_json, ch, opts, check, tables))
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # forkserver: workers fork from a clean server process that has imported the planner once
    # (safe with threads in the caller, unlike fork; much quicker to start than spawn)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["planner.sweep", "planner.resolve", "planner.prepare"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending = {pool.submit(solve_chunk, case_json, ch, opts, check, tables): ch for ch in chunks}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                ch = pending.pop(fut)
                on_done(ch, *fut.result())


def _run_dask(case_json, chunks, opts, check, tables, workers, scheduler, on_done) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler in (None, "", "local"):
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
            client.submit(solve_chunk, case_json, ch, opts, check, tables, pure=False): i
            for i, ch in enumerate(chunks)
        }
        for fut in as_completed(list(futs)):
            on_done(chunks[futs[fut]], *fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def sweep(
    case: CaseSpec,
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
    progress: bool | None = False,
    case_sha256: str | None = None,
    on_chunk: Callable[[list[Variant], pd.DataFrame], None] | None = None,
) -> SweepResult:
    """Plan every variant of ``case``; see the module docstring.

    ``variants``: a ``SweepSpec`` (or its dict form), or a list of override dicts / ``Variant``s.
    ``tables``: "plan" = every scenario a full, checked plan; "fast" = ledger rows from a compiled
    linear map of the solution (the first scenario of each chunk planned in full, checked and
    compared with the map; no shadow prices).
    ``scheduler``: None = local processes (``workers`` of them; 0 = in this process); ``"local"`` =
    a Dask LocalCluster on loopback with ``workers`` workers; else a Dask scheduler address.
    """
    from planner import sweepio

    t_setup = time.perf_counter()
    if tables not in ("plan", "fast"):
        raise ValueError(f"tables must be 'plan' or 'fast', not {tables!r}")
    vs = as_variants(case, variants)
    validate_variants(case, vs)
    opts = opts or SolveOptions(duals=True)
    case_json = case.model_dump_json()
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
        }
        done = sweepio.open_out_dir(out, manifest, resume=resume)
    todo = [v for v in vs if v.id not in done]
    size = chunk_size or _default_chunk(len(todo), workers)
    chunks = _chunks(todo, size)
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
        if scheduler is None:
            _run_local(case_json, chunks, opts, check, tables, workers, on_done)
        else:
            _run_dask(case_json, chunks, opts, check, tables, workers, scheduler, on_done)
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
        "paths": _sum_paths(infos),
        "worker_pids": sorted({i["pid"] for i in infos}),
    }
    return SweepResult(frame=frame, scenarios=scen, stats=stats)


def _sum_paths(infos: Iterable[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in infos:
        for k, v in i["paths"].items():
            out[k] = out.get(k, 0) + v
    return out


def _order(frame: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    if frame.empty:
        return frame
    rank = {s: i for i, s in enumerate(ids)}
    frame = frame[frame["scenario"].isin(rank)].copy()
    frame["_r"] = frame["scenario"].map(rank)
    frame = frame.sort_values(["_r", "entity", "year"], kind="stable").drop(columns="_r")
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
    extra = pd.DataFrame(
        {f"set:{k}": frame["scenario"].map(lambda s, k=k: vals.get(s, {}).get(k)) for k in keys},
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
        if c
        in (
            "scenario",
            "kind",
            "probability",
            "status",
            "error",
            "overrides",
            "solver_path",
            "npv_cost_cny",
            "nominal_cost_cny",
        )
        or c.startswith("set:")
    ]
    return frame[head].drop_duplicates("scenario").reset_index(drop=True)
