"""Benchmark: the plan tables and the checker of one-entity sweeps (``tables: plan``).

Usage: python bench/bench_plan_tables.py [--n 200] [--cases lp,coal] [--out bench/out/plan_tables.json]

For each case, ``--n`` seeded price paths (CEA buy and CCER prices) are prepared and solved warm in
this process (``WarmSolver.solve_results``: objective update, HiGHS, the LP re-solve for duals of a
MIP, extraction to the result frames). On the same result frames, interleaved so that noise hits
both, it times:

- reference: the per-entity oracles ``tests.oracles.tables.assemble_plan`` + ``tests.oracles.check.check_plan``
  (what every scenario of a ``tables: plan`` sweep cost before ``planner.plan.entity_tables``);
- fast: ``EntityTables.assemble`` + the library checker ``planner.plan.check.check_plan`` (what a sweep runs now), its plans
  asserted equal to the reference's (every table exactly, outside the timing);

then warm HiGHS alone on the same cost vectors (``bench_sweep.highs_alone``: ``changeColsCost`` +
``run``; the compiled model keeps its integrality, so for a MIP case that is the MIP solve alone,
at HiGHS' default gap), and the public API ``sweep(case, paths,
tables="plan")`` in this process (``workers=0``) with the fast tables and with the reference
tables (``planner.studies.sweep._entity_tables`` replaced by one that returns None), whose frames are
asserted equal.

Cases: ``lp`` = the LP bench entity of ``bench_sweep.py`` (``lp_case()``: 8 years, 20 measures, no
projects; the model of the issue's 1 x 1,000 study); ``coal`` = ``cases/coal_2x660.yaml`` (a MIP:
integer projects).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_sweep import highs_alone, loadavg, lp_case, machine, write_result  # noqa: E402


def med(xs) -> float:
    return statistics.median(xs) if xs else float("nan")


def load(name: str):
    from planner.input.read import load_case, parse_case

    return parse_case(lp_case()) if name == "lp" else load_case(ROOT / "cases" / "coal_2x660.yaml")


def study(name: str, n: int) -> dict:
    import pandas as pd

    import planner.studies.sweep as sw
    from planner.plan.check import check_plan as check_plan_arrays
    from planner.plan.entity import Plan
    from planner.plan.entity_tables import EntityTables
    from planner.solve.highs import SolveOptions
    from planner.solve.warm import WarmSolver
    from planner.studies.variants import as_variants
    from tests.oracles.check import check_plan
    from tests.oracles.tables import assemble_plan

    case = load(name)
    spec = {"include_base": False, "price_paths": {"n": n, "seed": 1, "volatility": 0.281,
                                                   "fields": ["cea_buy_cny_per_t", "ccer_cny_per_t"]}}
    vs = as_variants(case, spec)
    ws = WarmSolver(SolveOptions(duals=True))
    et = EntityTables()
    state: dict = {}
    t = {"engine": [], "reference": [], "fast": [], "ref_tables": [], "ref_check": [], "fast_tables": [], "fast_check": []}
    costs = []
    for k, v in enumerate(vs):
        prep, _ = sw.prepared_variant(case, v, state)
        t0 = time.perf_counter()
        _, res, results, _ = ws.solve_results(prep)
        t["engine"].append(time.perf_counter() - t0)
        costs.append(np.array(ws._cost))
        order = ("reference", "fast") if k % 2 == 0 else ("fast", "reference")
        for which in order:
            t0 = time.perf_counter()
            if which == "reference":
                ref = assemble_plan(prep, results, res)
                t1 = time.perf_counter()
                f_ref = check_plan(prep.data, ref, objective=res.objective)
                t2 = time.perf_counter()
                t["ref_tables"].append(t1 - t0)
                t["ref_check"].append(t2 - t1)
            else:
                new = et.assemble(prep, results, res)
                t1 = time.perf_counter()
                f_new = check_plan_arrays(prep.data, new, objective=res.objective)
                t2 = time.perf_counter()
                t["fast_tables"].append(t1 - t0)
                t["fast_check"].append(t2 - t1)
            t[which].append(t2 - t0)
        assert f_ref == f_new == []
        for tab in Plan.TABLES:
            pd.testing.assert_frame_equal(getattr(new, tab), getattr(ref, tab), check_exact=True)
    alone = highs_alone(ws._cm.lp, costs)
    # the public API in this process, fast tables vs the reference tables (interleaved runs)
    api: dict[str, list] = {"fast": [], "reference": []}
    frames = {}
    real = sw._entity_tables
    for which in ("fast", "reference", "fast", "reference"):
        sw._entity_tables = real if which == "fast" else (lambda state: None)
        try:
            r = sw.sweep(case, spec, tables="plan")
        finally:
            sw._entity_tables = real
        api[which] += r.stats["per_scenario_s"]
        frames[which] = r.frame
    pd.testing.assert_frame_equal(frames["fast"], frames["reference"], check_exact=True)
    ms = {k: 1e3 * med(x) for k, x in t.items()}
    out = {
        "case": name,
        "scenarios": n,
        "mip": bool(len(ws._cm.integer_cols)),
        "layout_stats": dict(et.stats),
        "median_ms": {**{k: round(x, 3) for k, x in ms.items()}, "highs_alone": round(1e3 * med(alone), 3),
                      "api_fast_per_scenario": round(1e3 * med(api["fast"]), 3),
                      "api_reference_per_scenario": round(1e3 * med(api["reference"]), 3)},
        "tables_and_checker_speedup": round(ms["reference"] / ms["fast"], 2),
        "api_speedup": round(med(api["reference"]) / med(api["fast"]), 2),
        "api_fast_vs_highs_alone": round(med(api["fast"]) / med(alone), 2),
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--cases", default="lp,coal")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "plan_tables.json")
    args = ap.parse_args()
    before = loadavg()
    res = [study(c, args.n) for c in args.cases.split(",")]
    write_result(args.out, {"machine": machine(before), "studies": res})


if __name__ == "__main__":
    main()
