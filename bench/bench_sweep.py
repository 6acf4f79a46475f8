"""Benchmark: price sweeps. Warm re-solves (planner.solve.warm) vs warm HiGHS alone, 1 vs 2 workers.

Usage: python bench/bench_sweep.py [--n1 1000] [--ne 100] [--n100 100] [--workers 1,2] [--pairs 5]
       [--studies one,group,group_api] [--out bench/out/sweep.json]

Two studies (LP models: the bench entity of bench_entity.py without its projects and with the
post-2024 carry-over unlimited, so no integer decisions):

1. one entity x ``--n1`` price paths through the public API ``planner.studies.sweep.sweep`` (every variant
   validated, prepared, warm re-solved; ``tables="plan"``: extracted to the plan tables and checked;
   ``tables="fast"``: ledger rows from the compiled map), with 1 and 2 local worker processes; and the warm engine alone (``WarmSolver.prime`` + HiGHS + loading the
   solution), and warm HiGHS alone (one ``highspy.Highs``: ``changeColsCost`` + ``run``) on the
   same cost vectors; then ``--pairs`` rounds of (API on 1 worker, fast tables; HiGHS alone),
   each round's ratio from two medians taken seconds apart (``paired_rounds``).
2. ``--ne`` entities in one model (``models.build_model`` over a seeded fleet) x ``--n100`` price
   paths: the warm engine (objective update + HiGHS + values loaded) vs warm HiGHS alone vs a
   rebuild (Pyomo build + compile + new HiGHS) per scenario (independent entities, no links).
3. ``--ne`` generated plants as one group case (free transfers, a CCER pool) x ``--n100`` price
   paths through the API (``sweep``, ``tables="fast"``) with 1 and 2 workers, the warm engine and
   warm HiGHS alone on the same variants (``study_group_api``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_entity import make_case  # noqa: E402


def lp_case(seed: int = 7, eid: str = "BENCH") -> dict:
    d = make_case(seed)
    d["entity"]["id"] = eid
    d["abatement"]["projects"] = []
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}}
    return d


def med(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


def highs_alone(lp, costs: list[np.ndarray]) -> list[float]:
    """Warm HiGHS alone: one object, the model passed once, then per scenario new costs + run."""
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in {"threads": 1, "random_seed": 0}.items():
        h.setOptionValue(k, v)
    h.passModel(lp)
    h.run()
    n = lp.num_col_
    idx = np.arange(n, dtype=np.int32)
    out = []
    for c in costs:
        t0 = time.perf_counter()
        h.changeColsCost(n, idx, c)
        h.run()
        np.asarray(h.getSolution().col_value)  # a user of HiGHS reads the solution too
        out.append(time.perf_counter() - t0)
        assert h.getModelStatus().name == "kOptimal"
    return out


def scaled(data, factors: list[float]):
    """Model data with every entity's CEA/CCER prices scaled by the year's factor (engine studies)."""
    ents = []
    for e in data.entities:
        f = factors
        ents.append(
            dataclasses.replace(
                e,
                price_buy_cny_per_t=tuple(p * k for p, k in zip(e.price_buy_cny_per_t, f, strict=True)),
                price_sell_cny_per_t=tuple(p * k for p, k in zip(e.price_sell_cny_per_t, f, strict=True)),
                price_ccer_buy_cny_per_t=tuple(p * k for p, k in zip(e.price_ccer_buy_cny_per_t, f, strict=True)),
                penalty_cny_per_t=tuple(p * k for p, k in zip(e.penalty_cny_per_t, f, strict=True)),
            )
        )
    return dataclasses.replace(data, entities=tuple(ents))


def engine_run(datas) -> tuple[list[float], list[np.ndarray], list[float], object]:
    """Warm engine per scenario: objective update + HiGHS + solution loaded into the model."""
    from planner.solve.warm import WarmSolver

    ws = WarmSolver()
    ws.prime(datas[0])
    ws._run()
    times, costs, objs = [], [], []
    for d in datas:
        t0 = time.perf_counter()
        path = ws.prime(d)
        r = ws._run()
        times.append(time.perf_counter() - t0)
        assert path == "objective_only" and r.status == "optimal", (path, r.status)
        costs.append(np.array(ws._cost))
        objs.append(r.objective)
    return times, costs, objs, ws


def study_one(n: int, workers: list[int], tables_list: tuple[str, ...] = ("plan", "fast"), pairs: int = 5) -> dict:
    from planner.input.read import parse_case
    from planner.studies.sweep import sweep

    case = parse_case(lp_case())
    spec = {"include_base": False, "price_paths": {"n": n, "seed": 1, "volatility": 0.281, "fields": ["cea_buy_cny_per_t", "ccer_cny_per_t"]}}
    out: dict = {"scenarios": n}
    # the session's first sweep with workers starts multiprocessing's forkserver (it imports the
    # planner once for every later worker): timed here, outside the studies
    t0 = time.perf_counter()
    sweep(case, {"include_base": True}, workers=1, tables="fast")
    out["first_sweep_with_workers_s"] = time.perf_counter() - t0
    for tables in tables_list:
        for w in workers:
            t0 = time.perf_counter()
            res = sweep(case, spec, workers=w, tables=tables)
            wall = time.perf_counter() - t0
            st = res.stats
            assert set(res.scenarios["status"]) == {"optimal"}
            out[f"api_{tables}_workers_{w}"] = {
                "wall_s": wall,
                "setup_s": st["setup_s"],
                "run_s": st["run_s"],
                "per_scenario_median_ms": 1e3 * med(st["per_scenario_s"]),
                "highs_in_engine_median_ms": 1e3 * med(st["highs_s"]),
                "scenarios_per_s": n / st["run_s"],
                "run_per_scenario_ms": 1e3 * st["run_s"] / n,  # everything after setup, amortised
                "variant_median_ms": 1e3 * med(st["variant_s"]),
                # the same HiGHS calls as "HiGHS alone", timed inside the sweep on its own scenarios
                "highs_calls_median_ms": 1e3 * med(st["highs_calls_s"]),
                "in_place_ratio": med(st["per_scenario_s"]) / med(st["highs_calls_s"]) if st["highs_calls_s"] else None,
                "verified_maps": st.get("verified_maps"),
                "paths": st["paths"],
            }
    # engine and HiGHS alone on the API's own variants (validated and repriced once, outside the
    # timing): the same LPs. (Until 2026-11-23, fourth session, these were the base model data with
    # every price scaled by the path's factor, ``scaled``: other LPs than the API's, whose price
    # paths move the CEA buy and CCER prices only; HiGHS needed ~0.29 ms on those and ~0.36 ms on
    # the API's.)
    from planner.studies.sweep import prepared_variant
    from planner.studies.variants import as_variants

    state: dict = {}
    datas = [prepared_variant(case, v, state, inputs=False)[0].data for v in as_variants(case, spec)]
    t0 = time.perf_counter()
    times, costs, objs, ws = engine_run(datas)
    out["engine_total_s"] = time.perf_counter() - t0
    out["engine_median_ms"] = 1e3 * med(times)
    alone = highs_alone(ws._cm.lp, costs)
    out["highs_alone_median_ms"] = 1e3 * med(alone)
    out["size"] = {"columns": ws._cm.lp.num_col_, "rows": ws._cm.lp.num_row_}
    # rebuild per scenario (prepare is not included: Pyomo build + compile + new HiGHS), sampled
    from models import build_model
    from planner.api import build, solve  # noqa: F401
    from planner.solve.highs import SolveOptions, compile_model, solve_compiled

    rb = []
    for d in datas[: min(30, n)]:
        t0 = time.perf_counter()
        solve_compiled(compile_model(build_model(d)), SolveOptions(duals=False))
        rb.append(time.perf_counter() - t0)
    out["rebuild_median_ms"] = 1e3 * med(rb)
    if "fast" in tables_list and pairs:
        out["paired_fast_workers_1"] = paired_rounds(case, spec, ws._cm.lp, costs, pairs)
    return out


def paired_rounds(case, spec: dict, lp, costs: list[np.ndarray], rounds: int) -> dict:
    """The API on one worker (``tables="fast"``) and warm HiGHS alone on the same LPs, one after
    the other, ``rounds`` times: each round's ratio (per-scenario median / HiGHS alone median) has
    its two medians taken seconds apart, so a machine that drifts between the studies (this one is
    shared) moves both; the median of the rounds' ratios is the figure quoted."""
    from planner.studies.sweep import sweep

    per, alone, ratio = [], [], []
    for _ in range(rounds):
        st = sweep(case, spec, workers=1, tables="fast").stats
        p = 1e3 * med(st["per_scenario_s"])
        a = 1e3 * med(highs_alone(lp, costs))
        per.append(round(p, 4))
        alone.append(round(a, 4))
        ratio.append(round(p / a, 3))
    return {"rounds": rounds, "per_scenario_median_ms": per, "highs_alone_median_ms": alone,
            "ratio": ratio, "median_ratio": med(ratio)}


def study_group(ne: int, n: int) -> dict:
    from models import build_model
    from models.data import ModelData
    from planner.input.read import parse_case
    from planner.prepare.entity import prepare
    from planner.solve.highs import SolveOptions, compile_model, solve_compiled
    from planner.studies.variants import PricePathSpec, price_path_factors

    t0 = time.perf_counter()
    preps = [prepare(parse_case(lp_case(seed=100 + i, eid=f"E{i:03d}"))) for i in range(ne)]
    d0 = preps[0].data
    data = ModelData(years=d0.years, discount_factor=d0.discount_factor, entities=tuple(p.data.entities[0] for p in preps))
    facs = price_path_factors(list(d0.years), PricePathSpec(n=n, seed=2, volatility=0.281))
    datas = [scaled(data, f) for f in facs]
    prep_s = time.perf_counter() - t0
    from planner.solve.warm import WarmSolver

    t0 = time.perf_counter()
    ws = WarmSolver()
    ws.prime(data)
    ws._run()
    setup_s = time.perf_counter() - t0
    times, costs, objs = [], [], []
    for d in datas:
        t1 = time.perf_counter()
        assert ws.prime(d) == "objective_only"
        r = ws._run()
        times.append(time.perf_counter() - t1)
        costs.append(np.array(ws._cost))
        objs.append(r.objective)
    alone = highs_alone(ws._cm.lp, costs)
    rb = []
    for i, d in enumerate(datas[:5]):
        t1 = time.perf_counter()
        r = solve_compiled(compile_model(build_model(d)), SolveOptions(duals=False))
        rb.append(time.perf_counter() - t1)
        assert abs(r.objective - objs[i]) <= 1e-6 * max(1.0, abs(objs[i])), (r.objective, objs[i])
    return {
        "entities": ne,
        "scenarios": n,
        "size": {"columns": ws._cm.lp.num_col_, "rows": ws._cm.lp.num_row_},
        "prepare_fleet_s": prep_s,
        "setup_s (build + compile + first solve)": setup_s,
        "engine_median_ms": 1e3 * med(times),
        "engine_scenarios_per_s": n / sum(times),
        "highs_alone_median_ms": 1e3 * med(alone),
        "rebuild_median_ms (5 sampled)": 1e3 * med(rb),
    }


def study_group_api(ne: int, n: int, workers: list[int], chunk: int | None = None) -> dict:
    """``ne`` generated plants as one group case (``planner.testing.fleet.fleet_group``: free transfers, a
    CCER pool; LP) x ``n`` price paths through ``planner.studies.sweep.sweep`` with ``tables="fast"``, in
    the sweep's default chunks (``chunk``: another size); chunks do not depend on the workers, so 1
    and 2 workers solve the same chunks and must write the same table. Then the warm
    engine in this process on the same variants (its cost vectors) and warm HiGHS alone on them."""
    import pandas as pd

    from planner.solve.highs import SolveOptions
    from planner.solve.warm import WarmSolver
    from planner.studies.sweep import prepared_variant, sweep
    from planner.studies.variants import as_variants
    from planner.testing.fleet import fleet_group

    t0 = time.perf_counter()
    spec = fleet_group(ne, seed=5, binaries=False, value_of_pooling=False)
    gen_s = time.perf_counter() - t0
    sw = {"include_base": False, "price_paths": {"n": n, "seed": 3, "volatility": 0.281,
                                                 "fields": ["cea_buy_cny_per_t", "ccer_cny_per_t"]}}
    out: dict = {"entities": ne, "scenarios": n, "generate_case_s": gen_s, "chunk_size": chunk or "default"}
    frames = {}
    for w in workers:
        t0 = time.perf_counter()
        res = sweep(spec, sw, workers=w, tables="fast", chunk_size=chunk)
        wall = time.perf_counter() - t0
        st = res.stats
        assert set(res.scenarios["status"]) == {"optimal"}, res.scenarios["status"].value_counts()
        per = st["per_scenario_s"]
        out[f"api_fast_workers_{w}"] = {
            "wall_s": wall,
            "setup_s": st["setup_s"],
            "run_s": st["run_s"],
            "chunks": st["chunks"],
            "chunk_size": st["chunk_size"],
            "first_of_chunk_s": [round(x, 2) for x in per[:: st["chunk_size"]]] if w == 0 else None,
            "per_scenario_median_ms": 1e3 * med(per),
            "variant_median_ms": 1e3 * med(st["variant_s"]),
            "highs_in_engine_median_ms": 1e3 * med(st["highs_s"]),
            "highs_calls_median_ms": 1e3 * med(st["highs_calls_s"]),
            "in_place_ratio": med(per) / med(st["highs_calls_s"]) if st["highs_calls_s"] else None,
            "scenarios_per_s": n / st["run_s"],
            "run_per_scenario_ms": 1e3 * st["run_s"] / n,
            "verified_maps": st.get("verified_maps"),
            "paths": st["paths"],
            "prepare": st["prepare"],
        }
        frames[w] = res.frame
    if len(frames) > 1:
        a, *rest = frames.values()
        for b in rest:
            pd.testing.assert_frame_equal(a, b)  # the same table with any number of workers
        out["same_table_all_workers"] = True
    # the warm engine on the same variants (prepared outside the timing), then HiGHS alone
    vs = as_variants(spec, sw)
    ws = WarmSolver(SolveOptions(duals=True))
    state: dict = {}
    t0 = time.perf_counter()
    preps = [prepared_variant(spec, v, state, inputs=False)[0] for v in vs]
    out["variants_prepare_total_s"] = time.perf_counter() - t0
    ws.prime(preps[0].data)
    ws._run()
    times, costs = [], []
    for p in preps:
        t1 = time.perf_counter()
        assert ws.prime(p.data) == "objective_only"
        r = ws._run()
        times.append(time.perf_counter() - t1)
        assert r.status == "optimal"
        costs.append(np.array(ws._cost))
    out["engine_median_ms"] = 1e3 * med(times)
    alone = highs_alone(ws._cm.lp, costs)
    out["highs_alone_median_ms"] = 1e3 * med(alone)
    out["size"] = {"columns": ws._cm.lp.num_col_, "rows": ws._cm.lp.num_row_}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n1", type=int, default=1000)
    ap.add_argument("--ne", type=int, default=100)
    ap.add_argument("--n100", type=int, default=100)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--studies", default="one,group,group_api", help="comma list of: one, group, group_api")
    ap.add_argument("--tables", default="plan,fast", help="one-entity study: comma list of plan, fast")
    ap.add_argument("--pairs", type=int, default=5, help="one-entity study: paired rounds of the API (1 worker, fast) and HiGHS alone")
    ap.add_argument("--group-chunk", type=int, default=None, help="group_api study: scenarios per chunk (default: the sweep's)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "sweep.json")
    args = ap.parse_args()
    load_before = loadavg()
    studies = set(args.studies.split(","))
    workers = [int(w) for w in args.workers.split(",")]
    one = study_one(args.n1, workers, tuple(args.tables.split(",")), args.pairs) if "one" in studies else None
    grp = study_group(args.ne, args.n100) if "group" in studies else None
    gapi = study_group_api(args.ne, args.n100, workers, args.group_chunk) if "group_api" in studies else None
    write_result(args.out, {"machine": machine(load_before), "one_entity": one, "group": grp, "group_api": gapi})


def loadavg() -> list[str]:
    with open("/proc/loadavg") as fh:
        return fh.read().split()[:3]


def machine(load_before: list[str]) -> dict:
    """CPU count, Python, the load average before the studies and now, and the library versions."""
    import highspy
    import pandas
    import pyomo

    versions = {"highspy": highspy.Highs().version(), "pyomo": pyomo.version.version, "pandas": pandas.__version__,
                "numpy": np.__version__}
    return {"nproc": os.cpu_count(), "python": platform.python_version(), "loadavg_before": load_before,
            "loadavg_after": loadavg(), "versions": versions}


def write_result(out: Path, result: dict) -> None:
    """The JSON written to ``out`` and printed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
