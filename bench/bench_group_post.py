"""Benchmark: the post-solve stages of a group run (plan tables and checker) on generated LP fleets.

Usage: python bench/bench_group_post.py [--n 300 1000 3600] [--repeats 1] [--reference]
Each size and repeat runs in a fresh process. The fleet is ``fleet_group(n, seed=11,
binaries=False, value_of_pooling=False)`` (as in bench_group.py's LP rows), solved on the array path
(``planner.api.solve_arrays``); then, timed one by one, what ``run_group`` does after the solve:

- ``deferred_s``: each entity's report tables that preparation builds on first use (inputs and
  allocation detail, ``planner.prepare.entity``), read once here so that the next stage times our work only;
- ``plan_s``: ``assemble_group_plan`` (entity plan tables for all entities at once, group tables);
- ``check_s``: ``check_group`` (the independent checker, all entities at once);
- with ``--reference``, the per-entity reference path of the same process (``tests.oracles.tables.entity_plans_per_entity``
  and ``tests.oracles.check.check_group``; the deferred tables are already built by then), and whether its
  tables and failures equal ours.

Prints a Markdown table of medians (seconds); figures are recorded in bench/RESULTS.md (Groups).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one(n: int, reference: bool) -> dict:
    import pandas as pd

    from planner.api import options_for, solve_arrays
    from planner.plan.check import check_group
    from planner.plan.entity import Plan
    from planner.plan.group import GroupPlan, assemble_group_plan
    from planner.prepare.group import prepare_group
    from planner.testing.fleet import fleet_group
    from tests.oracles.check import check_group as check_group_per_entity
    from tests.oracles.tables import entity_plans_per_entity

    spec = fleet_group(n, seed=11, binaries=False, value_of_pooling=False)
    opts = options_for(spec)
    t0 = time.perf_counter()
    prep = prepare_group(spec)
    t1 = time.perf_counter()
    res, results, links = solve_arrays(prep.data, opts)
    t2 = time.perf_counter()
    for p in prep.entities:
        p.inputs, p.allocation_detail  # noqa: B018  (built on first use: timed here, on their own)
    t3 = time.perf_counter()
    plan = assemble_group_plan(prep, results, links, res, None)
    t4 = time.perf_counter()
    fails = check_group(prep.data, plan, objective=res.objective)
    t5 = time.perf_counter()
    out = {"n": n, "prepare_s": t1 - t0, "solve_s": t2 - t1, "deferred_s": t3 - t2, "plan_s": t4 - t3, "check_s": t5 - t4,
           "post_s": t5 - t2, "failures": len(fails), "status": str(res.status)}
    if reference:
        ref = assemble_group_plan(prep, results, links, res, None, entity_tables=entity_plans_per_entity)
        t6 = time.perf_counter()
        ref_fails = check_group_per_entity(prep.data, plan, objective=res.objective)
        t7 = time.perf_counter()
        same = ref_fails == fails and ref.entities.summary == plan.entities.summary and ref.notes == plan.notes
        for name in Plan.TABLES + ("costs",):
            same = same and getattr(ref.entities, name).equals(getattr(plan.entities, name))
        for name in GroupPlan.TABLES:
            same = same and getattr(ref, name).equals(getattr(plan, name))
        out.update(ref_plan_s=t6 - t5, ref_check_s=t7 - t6, same=bool(same), pandas=pd.__version__)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="*", default=[300, 1000])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--reference", action="store_true", help="also time the per-entity reference path (slow)")
    ap.add_argument("--child", type=int, default=None)
    a = ap.parse_args()
    if a.child is not None:
        print(json.dumps(one(a.child, a.reference)))
        return
    rows = []
    for n in a.n:
        runs = []
        for _ in range(a.repeats):
            cmd = [sys.executable, __file__, "--child", str(n)] + (["--reference"] if a.reference else [])
            runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
            print(json.dumps(runs[-1]), flush=True)
        keys = [k for k in runs[0] if k.endswith("_s")]
        row = {"n": n, **{k: statistics.median(r[k] for r in runs) for k in keys}, "failures": runs[-1]["failures"],
               "same": all(r.get("same", True) for r in runs), "runs": len(runs)}
        rows.append(row)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    ref = a.reference
    print("\n| entities | prepare s | solve s | deferred tables s | plan tables s | checker s | post-solve s |"
          + (" reference plan tables s | reference checker s | equal |" if ref else ""))
    print("|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---|" if ref else ""))
    for r in rows:
        line = (f"| {r['n']:,} | {r['prepare_s']:.2f} | {r['solve_s']:.2f} | {r['deferred_s']:.2f} | {r['plan_s']:.2f} | "
                f"{r['check_s']:.2f} | {r['post_s']:.2f} |")
        if ref:
            line += f" {r['ref_plan_s']:.2f} | {r['ref_check_s']:.2f} | {'yes' if r['same'] else 'NO'} |"
        print(line)


if __name__ == "__main__":
    main()
