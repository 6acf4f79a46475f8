"""Benchmark: one entity, 8 years, 20 measures, 5 projects. Ours vs HiGHS alone on the same arrays.

Usage: python bench/bench_entity.py [--repeats 15] [--out bench/out/entity.json]
Prints a Markdown table; see bench/RESULTS.md for recorded figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_case(seed: int = 7) -> dict:
    rng = random.Random(seed)
    years = list(range(2025, 2033))
    price = [83, 88, 95, 105, 115, 125, 130, 135]
    return {
        "entity": {"id": "BENCH", "name": "benchmark coal plant", "sector": "power", "unit_class": "coal_gt300"},
        "horizon": {"first_year": 2025, "last_year": 2032},
        "activity": [{"year": y, "output": 7_500_000, "intensity_t_per_unit": 0.845} for y in years],
        "allocation": {"method": "benchmark"},
        "opening": {
            "cea_by_vintage": {2024: 25_000},
            "net_sales_since_2019_t": -20_000,
            "ccer_lots": [{"id": "lot-a", "quantity_t": 40_000}, {"id": "lot-b", "quantity_t": 20_000, "eligible_to_year": 2027}],
        },
        "market": [
            {"year": y, "cea_buy_cny_per_t": p, "cea_spread_cny_per_t": 0.8, "ccer_cny_per_t": p - 3 + rng.uniform(-4, 4),
             "fee_cny_per_t": 0.15, "ccer_available_t": 200_000}
            for y, p in zip(years, price, strict=True)
        ],
        "finance": {"discount_rate": 0.07, "capex_method": "annuity"},
        "abatement": {
            "measures": [
                {"id": f"m{i:02d}", "cost_cny_per_t": round(rng.uniform(-50, 400), 1),
                 "potential_t_per_year": rng.randint(2_000, 40_000), "first_year": rng.choice(years[:4])}
                for i in range(20)
            ],
            "projects": [
                {"id": f"p{i}", "capex_cny": rng.randint(20, 200) * 1_000_000, "opex_cny_per_year": rng.randint(0, 5) * 500_000,
                 "reduction_t_per_year": rng.randint(10, 80) * 1_000, "lead_time_years": rng.randint(0, 2),
                 "lifetime_years": rng.randint(10, 25)}
                for i in range(5)
            ],
        },
    }


def _median(xs):
    return statistics.median(xs)


def highs_alone(lp, repeats: int) -> tuple[list[float], float]:
    import highspy

    times, obj = [], None
    for _ in range(repeats):
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        for k, v in {"threads": 1, "mip_rel_gap": 1e-6, "random_seed": 0}.items():
            h.setOptionValue(k, v)
        t0 = time.perf_counter()
        h.passModel(lp)
        h.run()
        times.append(time.perf_counter() - t0)
        obj = h.getInfo().objective_function_value
    return times, obj


def peak_rss_mb(code: str) -> float:
    # VmHWM, not ru_maxrss: ru_maxrss survives exec, so a child forked from this (large) process
    # would report the parent's high-water mark.
    probe = "\nprint([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])"
    out = subprocess.run([sys.executable, "-c", code + probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "entity.json")
    args = ap.parse_args()

    import pyomo.environ as pyo

    from models import build_model
    from planner.api import build, run, solve
    from planner.input.read import parse_case
    from planner.prepare.entity import prepare
    from planner.solve.highs import SolveOptions, compile_model

    case = parse_case(make_case())
    run(case)  # warm imports
    t_build, t_compile, t_solve, t_post, t_total, t_appsi, t_sf = [], [], [], [], [], [], []
    t_highs: list[float] = []
    objs = {}
    cm = compile_model(build_model(prepare(case).data))
    for _ in range(args.repeats):  # interleaved, so that machine noise hits every path alike
        th, obj_h = highs_alone(cm.lp, 1)
        t_highs += th
        t0 = time.perf_counter()
        res = run(case)
        t_total.append(time.perf_counter() - t0)
        tm = res.solve.timings
        t_build.append(tm["build_s"])
        t_compile.append(tm["compile_s"])
        t_solve.append(tm["solve_s"] + tm.get("duals_s", 0.0))
        t_post.append(t_total[-1] - tm["build_s"] - tm["compile_s"] - tm["solve_s"] - tm.get("duals_s", 0.0))
        objs["ours"] = res.solve.objective
        t0 = time.perf_counter()
        r2 = solve(build(case), SolveOptions(backend="pyomo"))
        t_appsi.append(time.perf_counter() - t0)
        objs["pyomo_appsi"] = r2.solve.objective
        try:
            m = build_model(prepare(case).data)
            t0 = time.perf_counter()
            sf = pyo.SolverFactory("highs")
            sf.solve(m)
            t_sf.append(time.perf_counter() - t0)
            objs["pyomo_solverfactory_highs"] = pyo.value(m.objective)
        except Exception as exc:  # not every Pyomo build registers 'highs'
            objs["pyomo_solverfactory_highs"] = f"n/a ({type(exc).__name__})"
    objs["highs_alone"] = obj_h + cm.obj_offset
    for k, v in objs.items():
        if isinstance(v, float):
            assert abs(v - objs["highs_alone"]) <= 1e-6 * max(1.0, abs(v)), (k, v, objs)

    with tempfile.TemporaryDirectory() as tmp:
        import highspy

        mps = Path(tmp) / "model.mps"
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.passModel(cm.lp)
        h.writeModel(str(mps))
        case_yaml = Path(tmp) / "bench_case.yaml"
        case_yaml.write_text(yaml.safe_dump(make_case()), encoding="utf-8")
        base_ours = peak_rss_mb("import planner.api")
        ours = peak_rss_mb(f"import planner.api as a; a.run({str(case_yaml)!r})")
        base_h = peak_rss_mb("import highspy")
        alone = peak_rss_mb(f"import highspy; h=highspy.Highs(); h.setOptionValue('output_flag', False); h.readModel({str(mps)!r}); h.run()")
        cold = []
        exe = str(Path(sys.executable).with_name("planner"))
        for i in range(5):
            t0 = time.perf_counter()
            subprocess.run([exe, "run", str(case_yaml), "--out", str(Path(tmp) / f"p{i}")], check=True, capture_output=True)
            cold.append(time.perf_counter() - t0)

    size = res.solve.size
    rows = {
        "prepare + build (Pyomo)": _median(t_build),
        "compile to arrays": _median(t_compile),
        "HiGHS solve in adapter (+ duals re-solve)": _median(t_solve),
        "extract + plan + checker": _median(t_post),
        "ours, in-process total (api.run)": _median(t_total),
        "HiGHS alone (passModel + run)": _median(t_highs),
        "Pyomo appsi_highs path, build + solve + extract": _median(t_appsi),
        "Pyomo SolverFactory('highs'), solve only": _median(t_sf) if t_sf else float("nan"),
        "cold `planner run` (subprocess)": _median(cold),
    }
    ratio = rows["ours, in-process total (api.run)"] / rows["HiGHS alone (passModel + run)"]
    result = {
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "repeats": args.repeats,
        "size": size,
        "median_s": rows,
        "ratio_total_vs_highs": ratio,
        "ratio_appsi_vs_highs": rows["Pyomo appsi_highs path, build + solve + extract"] / rows["HiGHS alone (passModel + run)"],
        "peak_rss_mb": {"ours": ours, "ours_baseline_imports": base_ours, "highs_alone": alone, "highs_baseline_import": base_h},
        "objectives": objs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"model: {size}")
    print("| stage | median ms |\n|---|---:|")
    for k, v in rows.items():
        print(f"| {k} | {v * 1000:,.1f} |")
    print(f"\nratio ours/HiGHS alone: {ratio:.2f}x; appsi/HiGHS alone: {result['ratio_appsi_vs_highs']:.2f}x")
    print(f"peak RSS MB: ours {ours:.0f} (imports only {base_ours:.0f}, +{ours - base_ours:.0f}); "
          f"HiGHS alone {alone:.0f} (import only {base_h:.0f}, +{alone - base_h:.0f})")


if __name__ == "__main__":
    main()
