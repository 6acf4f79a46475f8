"""Benchmark: a generated market (planner.testing.fleet), ours vs HiGHS alone on the same LP.

Usage: python bench/bench_market.py [--sizes 100 1000 3600] [--repeats 1] [--time-limit 600]
Each size runs in a fresh process. "Ours" = ``planner.market.engine``: the prepared fleet turned into a
market (``market_data``: no outside market, free transfers, trades at no price of their own), assembled
without Pyomo, solved by HiGHS in our adapter with duals, and read back: the plan tables
(``models.Results``, ``LinkResults``) and the price path (the clearing rows' duals). Not timed: generating
and validating the fleet and preparing it (the group benchmark times those), the group plan tables and
the checks. "HiGHS alone" = a fresh process that reads the same LP (MPS written from our arrays after
the timed run) and runs HiGHS with the same options (``bench_group.highs_alone``).
Instances: ``fleet_group(n, seed=11, binaries=False)``, 8 years (2025-2032): the 'unlimited' 2025+
banking scenario and gas plants without measures, so the market is an LP.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_group import _hwm_mb, highs_alone  # noqa: E402


def one(n: int, time_limit: float, mps: str) -> dict:
    from planner.market.engine import market_data, solve_prices
    from planner.prepare.group import prepare_group
    from planner.solve.highs import SolveOptions, compile_assembled
    from planner.testing.fleet import fleet_group

    spec = fleet_group(n, seed=11, binaries=False, value_of_pooling=False, pool=False)
    prep = prepare_group(spec)
    import highspy  # imported before the timer: module imports are not timed
    import pandas  # noqa: F401

    import models.arrays.assemble  # noqa: F401
    import planner.plan.group  # noqa: F401

    opts = SolveOptions(time_limit_s=time_limit, allow_nonoptimal=True, mip_rel_gap=1e-6, tie_break=False)
    t0 = time.perf_counter()
    data = market_data(prep)
    t1 = time.perf_counter()
    res, results, links, prices, tm = solve_prices(data, opts)
    t2 = time.perf_counter()
    assert len(results.annual) == n * len(data.years) and prices["cea_price_cny_per_t"].notna().all()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(compile_assembled(data).lp)
    h.writeModel(mps)
    return {"n": n, "market_data_s": t1 - t0, "assemble_s": tm["assemble_s"], "solve_s": tm["solve_s"], "extract_s": tm["extract_s"],
            "total_s": t2 - t0, "status": str(res.status), "size": res.size, "peak_mb": _hwm_mb(),
            "prices": [round(float(p), 2) for p in prices["cea_price_cny_per_t"]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 3600])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=600.0)
    ap.add_argument("--child", nargs=3, metavar=("KIND", "N", "MPS"))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    if a.child:
        kind, n, mps = a.child
        out = highs_alone(mps, False, a.time_limit) if kind == "alone" else one(int(n), a.time_limit, mps)
        print(json.dumps(out))
        return
    rows = []
    for n in a.sizes:
        ours, alone = [], []
        for _ in range(a.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                mps = str(Path(tmp) / "market.mps")
                cmd = [sys.executable, __file__, "--time-limit", str(a.time_limit), "--child"]
                ours.append(json.loads(subprocess.run(cmd + ["ours", str(n), mps], check=True, capture_output=True, text=True).stdout))
                alone.append(json.loads(subprocess.run(cmd + ["alone", str(n), mps], check=True, capture_output=True, text=True).stdout))
        med = {k: statistics.median(r[k] for r in ours) for k in ("market_data_s", "assemble_s", "solve_s", "extract_s", "total_s", "peak_mb")}
        al = statistics.median(r["solve_s"] for r in alone)
        outside = statistics.median(r["total_s"] - r["solve_s"] for r in ours)
        row = {"n": n, **med, "alone_solve_s": al, "outside_s": outside, "status": ours[-1]["status"],
               "alone_status": alone[-1]["status"], "size": ours[-1]["size"], "prices": ours[-1]["prices"],
               "runs": {"ours_total_s": [r["total_s"] for r in ours], "alone_solve_s": [r["solve_s"] for r in alone]}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    print("\n| entities | rows x cols | market data s | assemble s | solve s | extract + prices s | total s | HiGHS alone s | total / alone | (outside + alone) / alone | status (ours; alone) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        sz = r["size"]
        print(f"| {r['n']:,} | {sz['rows']:,} x {sz['columns']:,} | {r['market_data_s']:.2f} | {r['assemble_s']:.2f} | {r['solve_s']:.2f} | "
              f"{r['extract_s']:.2f} | {r['total_s']:.2f} | {r['alone_solve_s']:.2f} | {r['total_s'] / max(r['alone_solve_s'], 1e-9):.2f}x | "
              f"{(r['outside_s'] + r['alone_solve_s']) / max(r['alone_solve_s'], 1e-9):.2f}x | {r['status']}; {r['alone_status']} |")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
