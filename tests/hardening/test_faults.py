"""Faults: a run killed mid-write, a solver stopped early, a solver missing; and repeatable output."""

from __future__ import annotations

import copy
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

import planner.api
from planner.cli import main
from planner.report.write import OutputFolderError, _plain_name, write_atomic_dir
from tests.solver.helpers import case_dict

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

CASE = case_dict(years=(2025, 2026), emissions=100_000, allocation=90_000)
NEW_CASE = case_dict(years=(2025, 2026), emissions=100_000, allocation=80_000, buy=70.0)

# A subprocess that runs `planner run` and announces every step of the plan writer on stdout; at the
# step named by KILL_AT it stops and waits to be killed.
RUNNER = textwrap.dedent(
    """
    import os, sys, time, pathlib
    import pandas as pd
    import planner.report.write as io
    from planner.cli import main

    KILL_AT = os.environ["KILL_AT"]

    def event(name):
        print("EVENT", name, flush=True)
        if name == KILL_AT:
            time.sleep(600)

    to_csv = pd.DataFrame.to_csv
    def csv(self, path, *a, **k):
        event("csv:" + pathlib.Path(path).stem)
        return to_csv(self, path, *a, **k)
    pd.DataFrame.to_csv = csv

    write_text = pathlib.Path.write_text
    def text(self, *a, **k):
        event("write:" + self.name)
        return write_text(self, *a, **k)
    pathlib.Path.write_text = text

    exchange = io._rename_exchange
    def swap(a, b):
        event("swap")
        done = exchange(a, b)
        event("swapped")
        return done
    io._rename_exchange = swap

    sys.exit(main(sys.argv[1:]))
    """
)


def _write_case(path: Path, d: dict) -> Path:
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    return path


def _files(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name not in skip}


@pytest.fixture(scope="module")
def plans(tmp_path_factory):
    """The previous plan (case A) and, for comparison, a complete plan of case B."""
    base = tmp_path_factory.mktemp("plans")
    a = _write_case(base / "a.yaml", CASE)
    b = _write_case(base / "b.yaml", NEW_CASE)
    assert main(["run", str(a), "--out", str(base / "prev")]) == 0
    assert main(["run", str(b), "--out", str(base / "new")]) == 0
    prev, new = _files(base / "prev"), _files(base / "new", skip=("run.json",))
    assert prev["annual.csv"] != new["annual.csv"]  # the two plans can be told apart
    return a, b, prev, new


# (kill point, which plan the folder must hold afterwards)
KILL_POINTS = [
    ("csv:annual", "previous"),  # first file of the new plan
    ("csv:costs", "previous"),  # halfway
    ("write:plan.json", "previous"),  # last file
    ("swap", "previous"),  # complete, not yet swapped in
    ("swapped", "new"),  # swapped in, previous not yet removed
]


@pytest.mark.parametrize(("kill_at", "expect"), KILL_POINTS, ids=[k for k, _ in KILL_POINTS])
def test_killed_run_leaves_previous_or_new_plan_never_a_mix(tmp_path, plans, kill_at, expect):
    a, b, prev, new = plans
    work = tmp_path / "work"
    out = work / "plan"
    out.mkdir(parents=True)
    for name, data in prev.items():
        (out / name).write_bytes(data)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(runner), "run", str(b), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**ENV, "KILL_AT": kill_at},
    )
    seen = []
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            seen.append(line.strip())
            if line.strip() == f"EVENT {kill_at}":
                break
            assert time.monotonic() < deadline
        else:
            pytest.fail(f"the run ended before {kill_at}: {seen}\n{proc.stderr.read()}")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    # only the plan folder is visible; whatever the kill left is a hidden, named temporary folder
    assert [p.name for p in work.iterdir() if not p.name.startswith(".")] == ["plan"]
    leftovers = [p.name for p in work.iterdir() if p.name.startswith(".")]
    assert all(n.startswith(f".plan.tmp-{proc.pid}-") for n in leftovers), leftovers
    if expect == "previous":
        assert _files(out) == prev
    else:
        assert _files(out, skip=("run.json",)) == new

    # the next run writes the new plan and removes the leftovers of the killed one
    assert main(["run", str(b), "--out", str(out)]) == 0
    assert _files(out, skip=("run.json",)) == new
    assert [p.name for p in work.iterdir()] == ["plan"]


def test_writer_failure_keeps_the_previous_folder(tmp_path):
    out = tmp_path / "plan"
    out.mkdir()
    (out / "plan.json").write_text("previous", encoding="utf-8")

    def fill(tmp):
        (tmp / "annual.csv").write_text("half", encoding="utf-8")
        raise OSError(errno.ENOSPC, "No space left on device (simulated)")

    with pytest.raises(OutputFolderError, match="no space left on the device [(]nothing was changed[)]"):
        write_atomic_dir(out, fill)
    assert _files(out) == {"plan.json": b"previous"}
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]


@pytest.mark.parametrize("what", ["not_a_plan", "file", "subfolder", "symlink"])
def test_output_confined_to_a_plan_folder(tmp_path, what):
    """A run never replaces a folder that is not a plan (``--out ~`` used to move the whole folder
    aside and delete it), and a plan folder holds plain files only."""
    out = tmp_path / "out"
    fill = lambda tmp: (tmp / "plan.json").write_text("{}", encoding="utf-8")  # noqa: E731
    if what == "not_a_plan":
        out.mkdir()
        (out / "thesis.docx").write_text("precious", encoding="utf-8")
    elif what == "file":
        out.write_text("a file", encoding="utf-8")
    elif what == "subfolder":
        fill = lambda tmp: (tmp / "sub").mkdir()  # noqa: E731
    else:
        fill = lambda tmp: (tmp / "link.csv").symlink_to(tmp_path / "elsewhere.csv")  # noqa: E731
    with pytest.raises(OutputFolderError):
        write_atomic_dir(out, fill)
    if what == "not_a_plan":
        assert (out / "thesis.docx").read_text(encoding="utf-8") == "precious"
    elif what == "file":
        assert out.read_text(encoding="utf-8") == "a file"
    else:
        assert not out.exists()
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".")]  # no temporary folder left


@pytest.mark.parametrize("name", ["../annual.csv", "/etc/x.csv", "a/b.csv", "..", ".hidden.csv", "", "a\\b.csv", "a\0b"])
def test_plan_file_names_cannot_escape_the_folder(name):
    with pytest.raises(OutputFolderError):
        _plain_name(name)
    assert _plain_name("annual.csv") == "annual.csv"


def test_cli_refuses_a_non_plan_output_folder(tmp_path, capsys):
    out = tmp_path / "home"
    out.mkdir()
    (out / "notes.txt").write_text("keep me", encoding="utf-8")
    case = _write_case(tmp_path / "case.yaml", CASE)
    assert main(["run", str(case), "--out", str(out)]) == 5
    assert "files this program did not write: notes.txt" in capsys.readouterr().err
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_same_input_gives_byte_identical_plan_files(tmp_path):
    """Two runs of an example case (a MIP with projects): every file but run.json is identical."""
    case = ROOT / "cases" / "coal_2x660.yaml"
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["run", str(case), "--out", str(one)]) == 0
    assert main(["run", str(case), "--out", str(two)]) == 0
    a, b = _files(one), _files(two)
    assert set(a) == set(b) and {"annual.csv", "plan.json", "summary.md", "run.json"} <= set(a)
    for name in a:
        if name != "run.json":
            assert a[name] == b[name], name
    run = json.loads(a["run.json"])
    assert set(run) == {"timestamp", "timings_s"}
    assert "timestamp" not in a["plan.json"].decode() and "timings" not in a["plan.json"].decode()


def test_same_input_is_identical_in_a_fresh_process(tmp_path):
    """The in-process runs above could share state; a separate interpreter must agree with them."""
    case = _write_case(tmp_path / "case.yaml", CASE)
    assert main(["run", str(case), "--out", str(tmp_path / "here")]) == 0
    r = subprocess.run([sys.executable, "-m", "planner.cli", "run", str(case), "--out", str(tmp_path / "there")],
                       env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _files(tmp_path / "here", skip=("run.json",)) == _files(tmp_path / "there", skip=("run.json",))


# ---- solver stopped early -----------------------------------------------------------------------

MIP = case_dict(years=(2025, 2026, 2027), emissions=1_000_000, allocation=700_000, buy=[60.0, 80.0, 100.0],
                ccer=50.0, ccer_available_t=0)
MIP["abatement"] = {"projects": [
    {"id": f"p{i}", "capex_cny": 1_000_000 + 137_911 * ((i * 7919) % 23),
     "reduction_t_per_year": 10_000 + 1_733 * ((i * 104729) % 17), "lifetime_years": 5, "lead_time_years": i % 2}
    for i in range(30)
]}
# 30 projects of different cost per tonne: a knapsack that HiGHS does not close at the root node. A
# node limit of 1 stops it with a plan and a large gap, the deterministic stand-in for a time limit.
NODE_LIMIT = {"mip_max_nodes": 1}


@pytest.fixture
def node_limited(monkeypatch):
    orig = planner.api.options_for
    monkeypatch.setattr(planner.api, "options_for", lambda case, **kw: orig(case, highs_options=NODE_LIMIT, **kw))


def test_stopped_with_a_plan_writes_it_marked_not_proven_optimal_with_its_gap(tmp_path, capsys, node_limited):
    case = _write_case(tmp_path / "mip.yaml", MIP)
    out = tmp_path / "plan"
    assert main(["run", str(case), "--out", str(out), "--allow-nonoptimal"]) == 0
    body = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    gap = body["summary"]["mip_gap"]
    assert body["summary"]["status"] == "feasible" and gap > 1e-3
    assert body["audit"]["status"] == "feasible" and body["audit"]["checker"] == "passed"
    assert body["notes"][0].startswith("NOT PROVEN OPTIMAL") and str(gap) in body["notes"][0]
    assert "MIP gap" in (out / "summary.md").read_text(encoding="utf-8")
    assert "NOT PROVEN OPTIMAL" in capsys.readouterr().out


def test_stopped_with_a_plan_is_refused_unless_allowed(tmp_path, capsys, node_limited):
    case = _write_case(tmp_path / "mip.yaml", MIP)
    out = tmp_path / "plan"
    assert main(["run", str(case), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "stopped before proving optimality" in err and "gap" in err and "%" in err
    assert not out.exists()


def test_the_same_case_is_solved_to_optimality_without_the_limit():
    """The limit, not the case, is what stops the solver above."""
    from planner.input.read import parse_case

    res = planner.api.run(parse_case(copy.deepcopy(MIP)))
    assert str(res.solve.status) == "optimal" and res.solve.is_mip


# ---- solver missing -----------------------------------------------------------------------------

@pytest.fixture
def no_highspy(tmp_path):
    """An environment in which ``import highspy`` fails, as when it is not installed."""
    shim = tmp_path / "shim" / "highspy"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("No module named highspy (simulated)")\n', encoding="utf-8")
    return {**ENV, "PYTHONPATH": f"{shim.parent}{os.pathsep}{ROOT}"}


def _cli(env, *args):
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], env=env, capture_output=True, text=True, timeout=120)


def test_doctor_says_how_to_install_the_solver(no_highspy):
    r = _cli(no_highspy, "doctor")
    assert r.returncode == 3
    assert "highspy cannot be used" in r.stdout and "pip install" in r.stdout and "highspy==" in r.stdout


def test_run_without_solver_exits_3_and_writes_nothing(tmp_path, no_highspy):
    case = _write_case(tmp_path / "case.yaml", CASE)
    r = _cli(no_highspy, "run", str(case), "--out", str(tmp_path / "plan"))
    assert r.returncode == 3, r.stderr
    assert r.stderr.startswith("error: HiGHS is not available") and "planner doctor" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "plan").exists()
    assert _cli(no_highspy, "validate", str(case)).returncode == 0  # validation needs no solver


def test_plan_csv_never_prints_negative_zero(tmp_path):
    """Solver noise such as -3e-8 t or an exact -0.0 prints as 0.000000; real values keep 6 decimals."""
    import pandas as pd

    from planner.report.write import write_table_csv

    df = pd.DataFrame({"entity": ["A", "A", "A"], "t": [-0.0, -3e-8, -1.25], "n": [1, 2, 3]})
    write_table_csv(df, tmp_path / "x.csv")
    text = (tmp_path / "x.csv").read_text()
    assert text == "entity,t,n\nA,0.000000,1\nA,0.000000,2\nA,-1.250000,3\n"
    assert df["t"].iloc[1] == -3e-8  # the plan's own frame is left as it is
