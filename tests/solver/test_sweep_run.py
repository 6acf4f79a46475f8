"""Sweep execution: local worker processes, Dask LocalCluster, streaming to disk, kill and resume, CLI."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from planner.errors import CaseValidationError
from planner.input.read import parse_case
from planner.studies.sweep import sweep
from tests.solver.helpers import case_dict

approx = pytest.approx
PLANNER = str(Path(sys.executable).with_name("planner"))


def _case():
    d = case_dict(years=(2026, 2027), emissions=[100_000, 102_000], allocation=[95_000, 93_000], buy=[80.0, 90.0], ccer=[70.0, 75.0])
    d["abatement"] = {"measures": [{"id": "m", "cost_cny_per_t": 85, "potential_t_per_year": 3_000}]}
    return d


SPEC = {"price_paths": {"n": 5, "seed": 4, "volatility": 0.28}, "tornado": {"market.*.ccer_cny_per_t": [40, 120]}}


def test_local_processes_and_dask_localcluster_match_in_process():
    """The same sweep in this process, on two worker processes and on a Dask LocalCluster (two
    workers on loopback) gives the same scenarios and numbers; each worker keeps its own model."""
    case = parse_case(_case())
    ref = sweep(case, SPEC, workers=0)
    assert len(ref.scenarios) == 1 + 5 + 2
    assert set(ref.scenarios["status"]) == {"optimal"}
    pool = sweep(case, SPEC, workers=2, chunk_size=2)
    assert len(pool.stats["worker_pids"]) == 2 and os.getpid() not in pool.stats["worker_pids"]
    dask = sweep(case, SPEC, workers=2, scheduler="local", chunk_size=2)
    assert os.getpid() not in dask.stats["worker_pids"]
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        remote = sweep(case, SPEC, scheduler=cluster.scheduler_address, chunk_size=3)  # an existing scheduler
    for other in (pool, dask, remote):
        pd.testing.assert_frame_equal(
            other.frame.drop(columns=["solver_path"]), ref.frame.drop(columns=["solver_path"]), check_exact=False, atol=1e-6
        )
        # one model per worker: at most one build per worker, everything else re-used
        assert other.stats["paths"].get("new_structure", 0) <= 2


def _write(tmp_path, n=23):
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump(_case()))
    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump({"price_paths": {"n": n, "seed": 9, "volatility": 0.28}, "plots": False}))
    return case, spec


def _parts(out):
    return {p.name: (p.stat().st_mtime_ns, set(pd.read_parquet(p)["scenario"])) for p in (out / "parts").glob("part-*.parquet")}


def test_kill_and_resume_completes_without_redoing_any(tmp_path):
    """A sweep killed (SIGKILL to it and its workers) after its first chunks were streamed keeps
    them; --resume solves only the rest; the result equals an uninterrupted sweep."""
    case, spec = _write(tmp_path)
    out = tmp_path / "out"
    cmd = [PLANNER, "sweep", str(case), str(spec), "--out", str(out), "--workers", "2", "--chunk-size", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list((out / "parts").glob("part-*.parquet"))) < 3:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _parts(out)
    done = set().union(*(ids for _, ids in before.values()))
    assert 0 < len(done) < 24
    assert not (out / "results.parquet").exists()
    # without --resume the folder is refused
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 5 and "--resume" in again.stderr
    res = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"({len(done)} already done, {24 - len(done)} solved now)" in res.stdout
    after = _parts(out)
    for name, (mtime, ids) in before.items():  # the parts of the killed run are untouched
        assert after[name] == (mtime, ids)
    new_ids = [i for name, (_, ids) in after.items() if name not in before for i in ids]
    assert len(new_ids) == len(set(new_ids)) == 24 - len(done)
    assert not set(new_ids) & done
    full = pd.read_parquet(out / "results.parquet")
    assert full["scenario"].nunique() == 24 and len(full) == 24 * 2
    # the resumed sweep solved the chunks an uninterrupted one solves: the same table, to the bit
    ref = sweep(parse_case(_case()), {"price_paths": {"n": 23, "seed": 9, "volatility": 0.28}}, chunk_size=2)
    cols = [c for c in ref.frame.columns if c != "solver_path"]  # a chunk's first scenario is "cold"
    pd.testing.assert_frame_equal(full[cols], ref.frame[cols], check_exact=True)
    assert (full["solver_path"] == ref.frame["solver_path"]).all()
    assert json.loads((out / "sweep.json").read_text())["scenarios"] == 24
    assert (out / "scenarios.csv").exists()


def test_a_resumed_sweep_solves_the_chunks_of_an_uninterrupted_one(tmp_path):
    """Default chunks are cut from the whole sweep, not from what is left: 20 scenarios are chunks
    of 5 (a quarter), and a sweep stopped after its first chunk resumes with 5, 5, 5 (15 left
    alone would be cut in 4s). Each chunk starts cold, so the resumed table equals the
    uninterrupted one to the bit, its cold starts included (``solver_path``)."""
    case = parse_case(_case())
    spec = {"include_base": False, "price_paths": {"n": 20, "seed": 9, "volatility": 0.28}}
    ref = sweep(case, spec)
    assert ref.stats["chunk_size"] == 5 and (ref.frame["solver_path"] == "cold").sum() == 4 * 2  # 2 years a scenario

    def stop(_chunk, _frame):
        raise KeyboardInterrupt

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        sweep(case, spec, out=out, on_chunk=stop)
    res = sweep(case, spec, out=out, resume=True)
    assert res.stats["resumed"] == 5 and res.stats["chunks"] == 3 and res.stats["chunk_size"] == 5
    pd.testing.assert_frame_equal(res.frame, ref.frame, check_exact=True)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize("scheduler", [None, "local"])
def test_workers_end_when_only_the_sweeps_process_is_killed(tmp_path, scheduler):
    """SIGKILL to the sweep's process alone (as the OOM killer does): its workers and their
    forkserver notice within seconds and end, instead of blocking forever on the result pipe; a
    Dask LocalCluster's nannies and workers likewise (measured: gone within a second)."""
    case, spec = _write(tmp_path, n=200)
    out = tmp_path / "out"
    cmd = [PLANNER, "sweep", str(case), str(spec), "--out", str(out), "--workers", "2", "--chunk-size", "2"]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "parts").glob("part-*.parquet"))) < 2:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        kids = _descendants(proc.pid)
        assert len(kids) >= 3, kids  # the forkserver and two workers (and the resource tracker), or two nannies and their workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_running(k) for k in kids):
            time.sleep(0.2)
        assert not [k for k in kids if _running(k)]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()


def test_an_invalid_variant_is_an_input_error_naming_scenario_and_path(tmp_path):
    case = parse_case(_case())
    with pytest.raises(CaseValidationError) as e:
        sweep(case, {"scenarios": [{"id": "neg", "overrides": {"market.2027.cea_buy_cny_per_t": -5}}]})
    assert "scenario neg" in str(e.value) and "cea_buy_cny_per_t" in str(e.value)
    c, _ = _write(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"grid": {"market.2031.ccer_cny_per_t": [10]}}))
    r = subprocess.run([PLANNER, "sweep", str(c), str(bad), "--out", str(tmp_path / "o"), "--workers", "0"], capture_output=True, text=True)
    assert r.returncode == 1
    assert "bad.yaml" in r.stderr and "no row for year 2031" in r.stderr
    assert not (tmp_path / "o" / "results.parquet").exists()


def test_cli_writes_tables_and_plots(tmp_path):
    case, _ = _write(tmp_path)
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"grid": {"market.*.cea_buy_cny_per_t": [60, 100], "market.*.cea_sell_cny_per_t": [None]}, "tornado": {"policy.overrides.penalty.multiple": [5, 10]}, "price_paths": {"n": 5, "seed": 1, "volatility": 0.3}}))
    out = tmp_path / "out"
    r = subprocess.run([PLANNER, "sweep", str(case), str(spec), "--out", str(out), "--workers", "0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sc = pd.read_csv(out / "scenarios.csv")
    assert len(sc) == 1 + 2 + 2 + 5 and set(sc["status"]) == {"optimal"}
    for name in ("cost_vs_price", "tornado", "paths", "cost_distribution"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_infeasible_scenario_is_a_row_with_its_status_and_the_cli_exits_2(tmp_path):
    """Hard compliance with no CEA or CCER to buy in 2027: 2,000 t short with nothing to cover it
    (no holdings, no measure big enough), so that scenario is infeasible; the others are planned."""
    d = _case()
    d["policy"] = {"compliance": "hard"}
    case = parse_case(d)
    bad = {"market.2027.buy_limit_t": 0, "market.2027.ccer_available_t": 0, "market.2026.buy_limit_t": 0, "market.2026.ccer_available_t": 0}
    res = sweep(case, [{}, bad, {"market.2027.cea_buy_cny_per_t": 95}], tables="fast", chunk_size=3)
    st = dict(zip(res.scenarios["scenario"], res.scenarios["status"], strict=True))
    assert st == {"v00000": "optimal", "v00001": "infeasible", "v00002": "optimal"}
    assert "infeasible" in res.scenarios.set_index("scenario").loc["v00001", "error"]
    res.to_parquet(tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), res.frame)
    c = tmp_path / "c.yaml"
    c.write_text(yaml.safe_dump(d))
    s = tmp_path / "s.yaml"
    s.write_text(yaml.safe_dump({"scenarios": [{"id": "short", "overrides": bad}], "plots": False}))
    r = subprocess.run([PLANNER, "sweep", str(c), str(s), "--out", str(tmp_path / "o"), "--workers", "0"], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "1 scenario(s) without an optimal plan: short" in r.stdout
    assert set(pd.read_csv(tmp_path / "o" / "scenarios.csv")["status"]) == {"optimal", "infeasible"}


def test_example_study_script_runs(tmp_path):
    """cases/studies/run_study.py (the study a new user copies), at its smallest size."""
    script = Path(__file__).resolve().parents[2] / "cases" / "studies" / "run_study.py"
    r = subprocess.run([sys.executable, str(script), "--out", str(tmp_path), "--paths", "2", "--workers", "0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "VSS" in r.stdout and "flat CEA price" in r.stdout
    frame = pd.read_parquet(tmp_path / "sweep" / "results.parquet")
    assert frame["scenario"].nunique() == 1 + 8 + 10 + 2
    assert (tmp_path / "sweep" / "plots" / "tornado.png").exists()
    st = pd.read_csv(tmp_path / "stochastic.csv")
    assert st["probability"].sum() == approx(1.0)


def test_group_sweep_on_dask_localcluster_matches_in_process():
    """A group case (4 generated plants, free transfers, a CCER pool) swept over price paths on a
    Dask LocalCluster (two workers on loopback) gives the same table as in this process, fast
    tables and full plans alike (every full plan group-checked in its worker)."""
    from planner.testing.fleet import fleet_group

    spec = fleet_group(4, seed=3, binaries=False, value_of_pooling=False, group_buy_limit_t=3.0e6)
    sw = {"include_base": True, "price_paths": {"n": 5, "seed": 2, "volatility": 0.28, "fields": ["cea_buy_cny_per_t", "ccer_cny_per_t"]}}
    for tables in ("fast", "plan"):
        ref = sweep(spec, sw, workers=0, chunk_size=3, tables=tables)
        assert set(ref.scenarios["status"]) == {"optimal"} and len(ref.scenarios) == 6
        dask = sweep(spec, sw, workers=2, scheduler="local", chunk_size=3, tables=tables)
        assert os.getpid() not in dask.stats["worker_pids"]
        pd.testing.assert_frame_equal(dask.frame, ref.frame)


SCRIPT = """
from planner.input.read import load_case
from planner.studies.sweep import sweep
from planner.studies.variants import SweepSpec

case = load_case({case!r})
spec = SweepSpec.model_validate({{"grid": {{"market.*.cea_buy_cny_per_t": [95, 100, 140]}}}})
res = sweep(case, spec, workers=2)
print("scenarios", res.frame["scenario"].nunique(), "statuses", sorted(set(res.frame["status"])))
"""


def test_sweep_with_workers_from_a_plain_script_without_a_main_guard(tmp_path):
    """The documented ``sweep(case, spec, workers=2)`` at the top level of a plain script (no
    ``if __name__ == "__main__":``): worker start-up must not run the script again (it used to
    start the sweep anew inside every worker and fail with a broken process pool)."""
    case = tmp_path / "case.yaml"
    case.write_text(yaml.safe_dump(_case()), encoding="utf-8")
    script = tmp_path / "study.py"
    script.write_text(SCRIPT.format(case=str(case)), encoding="utf-8")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "scenarios 4 statuses ['optimal']" in r.stdout  # base + 3 grid points, all solved
    assert "bootstrapping" not in r.stderr
