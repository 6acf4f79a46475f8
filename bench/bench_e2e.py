"""Benchmark: `planner run` end to end on generated fleets written as group cases, against HiGHS alone.

Usage: python bench/bench_e2e.py [--lp 100 1000] [--mip 1000] [--big] [--repeats 3] [--out bench/out/e2e.json]
       (``--big`` adds the 3,600-plant LP; it takes minutes a run on a 2-core machine)

Each instance is a fleet of ``planner.testing.fleet.generate_fleet(n, seed=11)`` written as a user's
group case (plants.csv, measures.csv, group.yaml with the defaults of ``fleet_defaults``, free
transfers, a CCER pool, the value of pooling on): the case ``fleet_group`` validates. "lp" = the
'unlimited' 2025+ banking scenario and gas plants without measures (no binaries); "mip" = the rule
pack default (a net-sales floor binary per plant-year).

"Ours" = `planner run group.yaml --out DIR` in a new process, as a user runs it (imports, reading and
validating the CSVs, the group solve, the stand-alone solves for the value of pooling, plan tables,
checker, writing the plan folder), once with the default outputs and once with ``--no-html
--no-xlsx``; wall time from the shell's point of view, peak memory = the child's ru_maxrss.
"HiGHS alone" = the same solver work in a new process that imports only highspy and numpy: the
group problem and every stand-alone problem, each passed to highspy (``passModel`` + ``run``) from
the arrays our assembler writes (saved by a third, untimed process), with the options the plan's
audit records (threads, random seed, gap, time limit). Medians over ``--repeats``; runs of ours and
of HiGHS alone alternate, so drift of a shared machine hits both. The load average is read before
each row. Prints a Markdown table; figures are recorded in bench/RESULTS.md.
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
PLANNER = [sys.executable, "-m", "planner.cli"]
FIELDS = ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_")


def write_case(n: int, folder: Path, mip: bool, seed: int = 11) -> Path:
    """The group case of ``fleet_group(n, seed, binaries=mip)`` as files a user would write."""
    import pandas as pd
    import yaml

    from planner.testing.fleet import CCER, fleet_defaults, generate_fleet

    fleet = generate_fleet(n, seed, gas_measures=mip)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(fleet.plants).to_csv(folder / "plants.csv", index=False, lineterminator="\n")
    pd.DataFrame(fleet.measures).to_csv(folder / "measures.csv", index=False, lineterminator="\n")
    years = list(range(2025, 2033))
    group = {
        "schema_version": 1,
        "group": {"id": f"FLEET-{n}", "name": f"generated fleet of {n} plants",
                  "horizon": {"first_year": years[0], "last_year": years[-1]}, "finance": {"discount_rate": 0.08}},
        "transfers": {"mode": "free"},
        "ccer_pool": {"rows": [{"year": y, "ccer_cny_per_t": CCER[min(k, len(CCER) - 1)] - 3, "fee_cny_per_t": 0.3,
                                "available_t": 50_000 * n} for k, y in enumerate(years)]},
        "value_of_pooling": True,
        "entity_tables": {"plants": "plants.csv", "measures": "measures.csv", "defaults": fleet_defaults(binaries=mip)},
    }
    path = folder / "group.yaml"
    path.write_text(yaml.safe_dump(group, sort_keys=False), encoding="utf-8")
    return path


def run_ours(case: Path, out: Path, flags: list[str]) -> dict:
    """`planner run` in a new process: wall time, peak memory (MB), and the plan's audit and timings."""
    log = out.parent / (out.name + ".log")
    with open(log, "w") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen([*PLANNER, "run", str(case), "--out", str(out), *flags], stdout=f, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"planner run {case} exited {p.returncode}:\n{log.read_text()[-3000:]}")
    audit = json.loads((out / "plan.json").read_text())["audit"]
    run = json.loads((out / "run.json").read_text())
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_mb": ru.ru_maxrss / 1024, "audit": audit,
            "timings": run["timings_s"]}


def dump_problems(case: str, npz: str) -> None:
    """(Child, not timed.) The group problem and each stand-alone problem as our assembler writes them."""
    from dataclasses import replace

    import numpy as np

    from planner.input.read import load_group_case
    from planner.prepare.group import prepare_group
    from planner.solve.highs import compile_assembled

    prep = prepare_group(load_group_case(case))
    arrays: dict[str, np.ndarray] = {}

    def put(key: str, data) -> None:
        lp = compile_assembled(data).lp
        for f in FIELDS:
            arrays[f"{key}.{f}"] = np.asarray(getattr(lp, f), dtype=float)
        arrays[f"{key}.start"] = np.asarray(lp.a_matrix_.start_, dtype=np.int32)
        arrays[f"{key}.index"] = np.asarray(lp.a_matrix_.index_, dtype=np.int32)
        arrays[f"{key}.value"] = np.asarray(lp.a_matrix_.value_, dtype=float)
        arrays[f"{key}.integer"] = np.array([int(v) for v in lp.integrality_], dtype=np.int8)
        arrays[f"{key}.offset"] = np.array([lp.offset_])

    put("group", prep.data)
    for k, e in enumerate(prep.standalone.entities):
        put(f"alone{k}", replace(prep.standalone, entities=(e,)))
    np.savez(npz, **arrays)


def highs_alone(npz: str, options: str) -> dict:
    """(Child, timed.) passModel + run of the group problem and of every stand-alone problem."""
    import highspy
    import numpy as np

    opts = json.loads(options)
    data = np.load(npz)
    keys = sorted({k.split(".")[0] for k in data.files}, key=lambda k: (k != "group", len(k), k))
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in opts.items():
        h.setOptionValue(k, v)
    times: dict[str, float] = {"group_s": 0.0, "standalone_s": 0.0}
    cpu0 = time.process_time()
    gap = None
    for key in keys:
        lp = highspy.HighsLp()
        cost = data[f"{key}.col_cost_"]
        lp.num_col_, lp.num_row_ = len(cost), len(data[f"{key}.row_lower_"])
        for f in FIELDS:
            setattr(lp, f, data[f"{key}.{f}"])
        lp.offset_ = float(data[f"{key}.offset"][0])
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = data[f"{key}.start"]
        lp.a_matrix_.index_ = data[f"{key}.index"]
        lp.a_matrix_.value_ = data[f"{key}.value"]
        ints = data[f"{key}.integer"]
        if ints.any():
            lp.integrality_ = [highspy.HighsVarType.kInteger if f else highspy.HighsVarType.kContinuous for f in ints]
        t0 = time.perf_counter()
        h.passModel(lp)
        h.run()
        dt = time.perf_counter() - t0
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise SystemExit(f"HiGHS alone: {key} ended {h.modelStatusToString(h.getModelStatus())}")
        if key == "group":
            times["group_s"] = dt
            gap = h.getInfo().mip_gap if ints.any() else 0.0
        else:
            times["standalone_s"] += dt
    hwm = next(int(line.split()[1]) / 1024 for line in Path("/proc/self/status").read_text().splitlines()
               if line.startswith("VmHWM:"))
    return {**times, "total_s": times["group_s"] + times["standalone_s"], "gap": gap, "n_problems": len(keys),
            "cpu_s": time.process_time() - cpu0,
            "peak_mb": hwm}


def child(args: list[str]) -> dict:
    r = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(r.stdout) if r.stdout.strip() else {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lp", type=int, nargs="*", default=[100, 1000])
    ap.add_argument("--mip", type=int, nargs="*", default=[1000])
    ap.add_argument("--big", action="store_true", help="add the 3,600-plant LP")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--outputs", nargs="*", default=["default", "none"], choices=("default", "none"),
                    help="default outputs and/or --no-html --no-xlsx")
    ap.add_argument("--out", type=Path, default=None, help="JSON of every run")
    ap.add_argument("--keep", type=Path, default=None, help="write the cases and plan folders here (kept)")
    ap.add_argument("--dump", nargs=2, metavar=("CASE", "NPZ"), help=argparse.SUPPRESS)
    ap.add_argument("--alone", nargs=2, metavar=("NPZ", "OPTIONS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.dump:
        dump_problems(*a.dump)
        return
    if a.alone:
        print(json.dumps(highs_alone(*a.alone)))
        return
    work = [("lp", n) for n in a.lp + ([3600] if a.big and 3600 not in a.lp else [])] + [("mip", n) for n in a.mip]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = a.keep or Path(tmp)
        for kind, n in work:
            folder = base / f"{kind}{n}"
            case = write_case(n, folder, kind == "mip")
            npz = str(Path(tmp) / f"{kind}{n}.npz")
            child(["--dump", str(case), npz])
            load = os.getloadavg()
            runs: dict[str, list[dict]] = {o: [] for o in a.outputs}
            alone: list[dict] = []
            for _ in range(a.repeats):
                for o in a.outputs:
                    runs[o].append(run_ours(case, folder / f"plan_{o}", [] if o == "default" else ["--no-html", "--no-xlsx"]))
                opts = runs[a.outputs[0]][-1]["audit"]["solver_options"]
                alone.append(child(["--alone", npz, json.dumps(opts)]))
            os.unlink(npz)
            al = {k: statistics.median(r[k] for r in alone) for k in ("group_s", "standalone_s", "total_s", "cpu_s", "peak_mb")}
            for o in a.outputs:
                rs = runs[o]
                t = {k: statistics.median(r["timings"].get(k, 0.0) for r in rs)
                     for k in ("prepare_s", "solve_s", "duals_s", "standalone_s", "plan_tables_s", "check_s")}
                # imports, reading and validating the case, writing the plan folder
                t["other_s"] = statistics.median(r["wall_s"] - sum(r["timings"].get(k, 0.0) for k in t) for r in rs)
                row = {"kind": kind, "n": n, "outputs": o, "wall_s": statistics.median(r["wall_s"] for r in rs),
                       "cpu_s": statistics.median(r["cpu_s"] for r in rs),
                       "peak_mb": statistics.median(r["peak_mb"] for r in rs), "stages": t,
                       "gap": rs[-1]["audit"]["mip_gap"], "status": rs[-1]["audit"]["status"],
                       "alone": al, "alone_gap": alone[-1]["gap"], "load_1m": load[0], "load_5m": load[1],
                       "runs_wall_s": [r["wall_s"] for r in rs], "runs_alone_s": [r["total_s"] for r in alone],
                       "runs_cpu_s": [r["cpu_s"] for r in rs], "runs_alone_cpu_s": [r["cpu_s"] for r in alone],
                       "options": rs[-1]["audit"]["solver_options"]}
                rows.append(row)
                print(json.dumps(row), flush=True)
    import highspy
    import pandas

    print(f"\nPython {sys.version.split()[0]}, highspy {highspy.Highs().version()}, pandas {pandas.__version__}; "
          f"{os.cpu_count()} CPUs; load average at the end {os.getloadavg()[0]:.2f}; repeats {a.repeats}\n")
    print("| instance | outputs | `planner run` s | HiGHS alone s (group + stand-alone) | ratio | CPU s ours / alone (ratio) | "
          "stages: prepare / solve / stand-alone / tables + check / other (imports, reading, writing) s | peak MB ours / alone (ratio) | gap ours; alone | load 1m |")
    print("|---|---|---:|---:|---:|---|---|---|---|---:|")
    for r in rows:
        s, al = r["stages"], r["alone"]
        print(f"| {r['kind']} {r['n']:,} | {'default' if r['outputs'] == 'default' else '--no-html --no-xlsx'} | "
              f"{r['wall_s']:.1f} | {al['total_s']:.1f} ({al['group_s']:.1f} + {al['standalone_s']:.1f}) | "
              f"**{r['wall_s'] / max(al['total_s'], 1e-9):.2f}x** | {r['cpu_s']:.1f} / {al['cpu_s']:.1f} "
              f"({r['cpu_s'] / max(al['cpu_s'], 1e-9):.2f}x) | {s['prepare_s']:.1f} / {s['solve_s'] + s['duals_s']:.1f} / "
              f"{s['standalone_s']:.1f} / {s['plan_tables_s'] + s['check_s']:.1f} / {s['other_s']:.1f} | "
              f"{r['peak_mb']:.0f} / {al['peak_mb']:.0f} ({r['peak_mb'] / max(al['peak_mb'], 1e-9):.2f}x) | "
              f"{r['gap'] or 0:.2g}; {r['alone_gap'] or 0:.2g} | {r['load_1m']:.2f} |")
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
