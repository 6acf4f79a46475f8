"""Benchmark: generated groups (planner.testing.fleet), ours vs HiGHS alone on the same problem.

Usage: python bench/bench_group.py [--lp 10 100 1000 3600] [--mip 100 1000] [--repeats 1] [--time-limit 60]
       [--path arrays|pyomo]
Each size runs in a fresh process (peak memory = VmHWM of that process). "Ours" = the group solve
path of ``planner.api.run_group``: prepare (validated entity cases -> model data), then with
``--path arrays`` (what run_group uses when the features are supported) ``planner.api.solve_arrays``:
assemble the standard form with NumPy (models.arrays.assemble), HiGHS in our adapter (with the
integer-fixed LP re-solve of a MIP), extract to the plan tables (models.Results, LinkResults); with
``--path pyomo`` the Pyomo build, compile and extraction. Not timed: generating and validating the
fleet (it stands in for reading the case files), the per-entity plan assembly and the checker, and
module imports (pandas is imported after the solve, on first use: its time is printed, not counted).
"HiGHS alone" = a fresh process that reads the same problem (MPS written from our arrays after the
timed run) and runs HiGHS with the same options.
LP instances: ``fleet_group(..., binaries=False)``: the 'unlimited' 2025+ banking scenario and gas
plants without measures (no binaries at all); MIP instances: the rule pack default ('same' rule at
every transition: one net-sales floor binary per plant-year).
Prints a Markdown table; figures are recorded in bench/RESULTS.md.
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


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one(n: int, mip: bool, time_limit: float, mps: str, path: str) -> dict:
    from planner.api import solve_arrays
    from planner.prepare.group import prepare_group
    from planner.solve.highs import SolveOptions, compile_assembled, compile_model, solve_compiled
    from planner.testing.fleet import fleet_group

    ts = time.perf_counter()
    spec = fleet_group(n, seed=11, binaries=mip, value_of_pooling=False)
    spec_s = time.perf_counter() - ts
    opts = SolveOptions(time_limit_s=time_limit, allow_nonoptimal=True, mip_rel_gap=1e-3 if mip else 1e-6)
    t0 = time.perf_counter()
    prep = prepare_group(spec)
    t1 = time.perf_counter()
    if path == "arrays":
        res, results, links = solve_arrays(prep.data, opts)
        t4 = time.perf_counter()
        # solve_arrays imports pandas after the solve (first use): module imports are not timed (the
        # others happen before t0, and HiGHS alone's import and model read are not timed either)
        import_s = res.timings["import_tables_s"]
        stages = {"assemble_s": res.timings["compile_s"], "solve_s": res.timings["solve_s"] + res.timings.get("duals_s", 0.0),
                  "extract_s": res.timings["extract_arrays_s"]}
        peak = _hwm_mb()
        lp = compile_assembled(prep.data).lp
    else:
        ti = time.perf_counter()
        # Pyomo and pandas, imported as run_group imports them
        from models import build_model, extract_links, extract_results

        import_s = time.perf_counter() - ti
        m = build_model(prep.data)
        t2 = time.perf_counter()
        cm = compile_model(m)
        res = solve_compiled(cm, opts, t_start=time.perf_counter())
        t3 = time.perf_counter()
        df = dict(zip(prep.data.years, prep.data.discount_factor, strict=True))
        results = extract_results(m, df, res.duals)
        links = extract_links(m)
        t4 = time.perf_counter()
        stages = {"assemble_s": (t2 - t1 - import_s) + cm.compile_s, "solve_s": res.timings["solve_s"] + res.timings.get("duals_s", 0.0),
                  "extract_s": t4 - t3}
        peak = _hwm_mb()
        lp = cm.lp
    assert len(results.annual) == n * len(prep.data.years) and len(links.trades) == len(results.annual)
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    h.writeModel(mps)
    return {
        "n": n, "mip": mip, "path": path, "spec_s": spec_s, "prepare_s": t1 - t0, **stages,
        "total_s": t4 - t0 - import_s, "import_s": import_s, "status": str(res.status), "gap": res.gap, "size": res.size, "peak_mb": peak,
    }


def highs_alone(mps: str, mip: bool, time_limit: float) -> dict:
    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", 1e-3 if mip else 1e-6)  # the same options as ours
    h.setOptionValue("random_seed", 0)
    h.readModel(mps)
    t0 = time.perf_counter()
    h.run()
    dt = time.perf_counter() - t0
    info = h.getInfo()
    return {"solve_s": dt, "status": h.modelStatusToString(h.getModelStatus()), "gap": info.mip_gap if mip else 0.0, "peak_mb": _hwm_mb()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lp", type=int, nargs="*", default=[10, 100, 1000, 3600])
    ap.add_argument("--mip", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--path", choices=("arrays", "pyomo"), default="arrays")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "N", "MPS"))
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    if a.child:
        kind, n, mps = a.child
        if kind == "alone":
            print(json.dumps(highs_alone(mps, n == "mip", a.time_limit)))
        else:
            print(json.dumps(one(int(n), kind == "mip", a.time_limit, mps, a.path)))
        return
    rows = []
    for kind, sizes in (("lp", a.lp), ("mip", a.mip)):
        for n in sizes:
            ours, alone = [], []
            for _ in range(a.repeats):
                with tempfile.TemporaryDirectory() as tmp:
                    mps = str(Path(tmp) / "group.mps")
                    cmd = [sys.executable, __file__, "--time-limit", str(a.time_limit), "--path", a.path, "--child"]
                    ours.append(json.loads(subprocess.run(cmd + [kind, str(n), mps], check=True, capture_output=True, text=True).stdout))
                    alone.append(json.loads(subprocess.run(cmd + ["alone", kind, mps], check=True, capture_output=True, text=True).stdout))
            med = {k: statistics.median(r[k] for r in ours)
                   for k in ("spec_s", "prepare_s", "assemble_s", "solve_s", "extract_s", "total_s", "import_s", "peak_mb")}
            hal = {k: statistics.median(r[k] for r in alone) for k in ("solve_s", "peak_mb")}
            # our stages outside HiGHS added to HiGHS alone's time: the same problem and options give
            # the same iterations in both (the solver's run-to-run spread on a shared machine is not ours)
            outside = statistics.median(r["total_s"] - r["solve_s"] for r in ours)
            row = {"kind": kind, "n": n, **med, "status": ours[-1]["status"], "gap": ours[-1]["gap"], "size": ours[-1]["size"],
                   "alone_solve_s": hal["solve_s"], "alone_peak_mb": hal["peak_mb"], "alone_status": alone[-1]["status"],
                   "alone_gap": alone[-1]["gap"], "outside_s": outside,
                   "runs": {"ours_solve_s": [r["solve_s"] for r in ours], "ours_total_s": [r["total_s"] for r in ours],
                            "alone_solve_s": [r["solve_s"] for r in alone]}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"\npath: {a.path}; load average {os.getloadavg()[0]:.2f} at the end; "
          "imports during the run (not timed): " + ", ".join(f"{r['import_s']:.2f} s" for r in rows))
    print("\n| kind | entities | rows x cols (ints) | prepare s | assemble s | solve s | extract s | total s | HiGHS alone s | total / alone | (outside + alone) / alone | peak MB (ours / alone) | status, gap (ours; alone) |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        sz = r["size"]
        print(f"| {r['kind']} | {r['n']:,} | {sz['rows']:,} x {sz['columns']:,} ({sz['integers']:,}) | {r['prepare_s']:.2f} | {r['assemble_s']:.2f} | "
              f"{r['solve_s']:.2f} | {r['extract_s']:.2f} | {r['total_s']:.2f} | {r['alone_solve_s']:.2f} | "
              f"{r['total_s'] / max(r['alone_solve_s'], 1e-9):.2f}x | {(r['outside_s'] + r['alone_solve_s']) / max(r['alone_solve_s'], 1e-9):.2f}x | "
              f"{r['peak_mb']:.0f} / {r['alone_peak_mb']:.0f} "
              f"({r['peak_mb'] / max(r['alone_peak_mb'], 1e-9):.1f}x) | "
              f"{r['status']}, {r['gap']}; alone {r['alone_status']}, {r['alone_gap']} |")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
