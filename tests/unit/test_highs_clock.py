"""HiGHS compares its time limit with the run time of a ``Highs`` object summed over all its runs
(ERGO-Code/HiGHS#1477). A warm solver runs one object for every scenario of a chunk, and a MIP's LP
re-solve and tie-break run on the MIP's object: ``run_highs`` gives each run its own limit, so a
late run is not stopped by what earlier runs used (a sweep lost the shadow prices of its last
scenarios that way when the machine was busy)."""

import math

import numpy as np
import pytest

from planner.solve.clock import run_highs

highspy = pytest.importorskip("highspy")


def _lp(n: int = 120):
    rng = np.random.default_rng(0)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("presolve", "off")
    cols = np.arange(n, dtype=np.int32)
    h.addVars(n, np.zeros(n), np.full(n, highspy.kHighsInf))
    h.changeColsCost(n, cols, -rng.uniform(1, 2, n))
    for row in rng.uniform(0.1, 1.0, (n, n)):
        h.addRow(-highspy.kHighsInf, 1.0, n, cols, row)
    return h


def _runs_until(h, limit_s: float, runs: int, run) -> list[str]:
    out = []
    for _ in range(runs):
        h.clearSolver()  # a cold solve each time: every run does the same work
        run(h)
        out.append(h.getModelStatus().name)
    return out


def test_each_run_gets_its_own_time_limit_where_plain_runs_share_one():
    h = _lp()
    h.clearSolver()
    h.run()
    one = max(h.getRunTime(), 1e-3)  # seconds of one cold solve
    limit = 0.5
    runs = min(400, math.ceil(2.5 * limit / one))  # together well past the limit, each far below it

    plain = _lp()
    plain.setOptionValue("time_limit", limit)
    shared = _runs_until(plain, limit, runs, lambda x: x.run())
    assert "kTimeLimit" in shared, "HiGHS now resets its clock per run: run_highs may no longer be needed"

    own = _lp()
    assert set(_runs_until(own, limit, runs, lambda x: run_highs(x, limit))) == {"kOptimal"}
