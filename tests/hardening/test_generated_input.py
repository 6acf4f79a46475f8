"""Thousands of generated bad and random cases: a checked plan or a structured error, never a crash.

Three streams share the budget ``HARDEN_EXAMPLES`` (default 2,000; the nightly run is
``HARDEN_EXAMPLES=10000 .venv/bin/python -m pytest -q tests/hardening``):

- 60 %: mutated cases validated in-process (``parse_case`` + ``prepare``, what `planner validate`
  does): valid, or a ``CaseValidationError`` whose every problem names its field or row;
- 35 %: broken files through `planner validate` in-process: exit 0, or exit 1 with a message that
  starts with the file name; never exit 70 (internal error) and never a traceback;
- 5 %: valid (and rescaled valid) small cases through `planner run`: exit 0 with a plan folder that
  passed the independent checker, exit 1 (input refused) or 2 (infeasible, unbounded); never 4
  (checker failed) or 70.

Every example runs under a hard wall-clock alarm, so a hang fails the test instead of stalling CI.
Random locally, derandomised under CI (CI=true) so that a failure can be rerun from the log.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.cli import main
from planner.errors import CaseValidationError
from planner.input.read import parse_case
from planner.prepare.entity import prepare
from planner.solve.numerics import input_warnings
from tests.hardening.strategies import _mutate, broken_files, mutated_cases, small_valid_cases

TOTAL = int(os.environ.get("HARDEN_EXAMPLES", "2000"))
N_VALIDATE = TOTAL * 60 // 100
N_FILES = TOTAL * 35 // 100
N_SOLVE = TOTAL - N_VALIDATE - N_FILES
HANG_S = 20.0  # no single validation or small solve comes anywhere near this

# problems that concern the whole file and so have no field to name
FILE_LEVEL = ("not UTF-8", "must be a mapping", "unknown case file type", "file not found", "not valid JSON",
              "not a usable case file", "the limit is")


def _settings(n: int):
    return settings(
        max_examples=n,
        deadline=None,  # hangs are caught by the alarm below, not by timing noise on a shared machine
        derandomize=bool(os.environ.get("CI")),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        database=None,
    )


class Hang(Exception):
    pass


@contextlib.contextmanager
def alarm(seconds: float):
    def _raise(signum, frame):
        raise Hang(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _assert_names_places(exc: CaseValidationError, what) -> None:
    assert exc.problems, what
    for loc, msg in exc.problems:
        assert isinstance(msg, str) and msg.strip(), (what, loc)
        assert loc or any(s in msg for s in FILE_LEVEL), (what, msg)


def test_mutated_cases_are_valid_or_name_every_problem():
    seen: Counter = Counter()

    @_settings(N_VALIDATE)
    @given(mutated_cases())
    def one(case_and_what):
        d, what = case_and_what
        with alarm(HANG_S):
            try:
                case = parse_case(d, "case.yaml")
                prepare(case)
                input_warnings(case)
            except CaseValidationError as exc:
                _assert_names_places(exc, what)
                seen["refused"] += 1
            else:
                seen["valid"] += 1

    one()
    assert sum(seen.values()) == N_VALIDATE
    assert seen["refused"] > N_VALIDATE // 2 and seen["valid"] > 0, seen  # the mutations do bite
    print(f"\nmutated cases validated: {dict(seen)}")


def test_broken_files_end_in_exit_0_or_a_file_named_error(capsys):
    seen: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:

        @_settings(N_FILES)
        @given(broken_files())
        def one(file):
            raw, suffix, how = file
            p = Path(tmp) / f"case{suffix}"
            p.write_bytes(raw)
            capsys.readouterr()
            with alarm(HANG_S):
                rc = main(["validate", str(p)])
            out, err = capsys.readouterr()
            assert rc in (0, 1), (how, rc, err[-2000:])
            assert "Traceback" not in err and "internal error" not in err, (how, err[-2000:])
            if rc == 1:
                assert err.startswith(f"error: {p}: "), (how, err[:300])
            else:
                assert out.startswith(f"{p}: valid case"), (how, out[:300])
            seen[(how, rc)] += 1

        one()
    runs = sum(seen.values())
    assert runs == N_FILES
    assert sum(n for (_, rc), n in seen.items() if rc == 1) > runs // 2, seen
    print(f"\nbroken files validated: {runs}, exit 1: {sum(n for (_, rc), n in seen.items() if rc == 1)}")


@st.composite
def solvable_cases(draw):
    """Mostly plain small cases; some with one number rescaled by up to 1e300 (may stay valid).
    Returns (case dict, rescaled?)."""
    d = draw(small_valid_cases())
    rescaled = draw(st.integers(0, 3)) == 0
    if rescaled:
        _mutate(draw, d, "scale")
    return d, rescaled


@pytest.mark.parametrize("fmt", ["yaml"])
def test_valid_and_rescaled_cases_end_in_a_checked_plan_or_a_clear_refusal(capsys, fmt):
    seen: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:

        @_settings(N_SOLVE)
        @given(solvable_cases())
        def one(case_and_rescaled):
            d, rescaled = case_and_rescaled
            p = Path(tmp) / f"case.{fmt}"
            p.write_text(yaml.safe_dump(d), encoding="utf-8")
            out = Path(tmp) / "plan"
            capsys.readouterr()
            with alarm(HANG_S):
                rc = main(["run", str(p), "--out", str(out), "--time-limit", "10"])
            _, err = capsys.readouterr()
            assert rc in (0, 1, 2), (rc, err[-3000:], d)
            if rc == 0:
                assert (out / "plan.json").is_file() and (out / "annual.csv").is_file()
            elif rc == 1:
                assert err.startswith(f"error: {p}: "), err[:300]
            else:
                assert err.startswith("error: "), err[:300]
            seen[rc] += 1
            if not rescaled and d["policy"]["compliance"] == "penalty":
                # a plain small case that may pay the fine for a shortfall is always feasible: it must
                # end in a checked plan (the others may be infeasible under "hard", or refused)
                assert rc == 0, (err[-3000:], d)
                seen["plain, penalty"] += 1

        one()
    assert sum(n for k, n in seen.items() if k in (0, 1, 2)) == N_SOLVE
    assert seen["plain, penalty"] > 0, seen
    print(f"\ncases run through `planner run`: {dict(seen)} (exit code: count)")


N_WORKBOOKS = max(20, TOTAL * 3 // 200)


def test_broken_workbooks_end_in_a_checked_plan_or_a_cell_named_error(capsys):
    """Case workbooks broken as people break spreadsheets (merged cells, formulas, missing sheets,
    wrong types, ...): `planner run` ends in exit 0 with a checked plan, exit 1 whose every problem
    names its sheet (and row and column where there is one) or exit 2; never a crash or a hang."""
    from tests.hardening.strategies import broken_workbooks

    seen: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:

        @_settings(N_WORKBOOKS)
        @given(broken_workbooks())
        def one(book):
            raw, how = book
            p = Path(tmp) / "case.xlsx"
            p.write_bytes(raw)
            out = Path(tmp) / "plan"
            capsys.readouterr()
            with alarm(HANG_S):
                rc = main(["run", str(p), "--out", str(out), "--time-limit", "10", "--no-html", "--no-xlsx"])
            _, err = capsys.readouterr()
            assert rc in (0, 1, 2), (how, rc, err[-3000:])
            assert "Traceback" not in err and "internal error" not in err, (how, err[-2000:])
            if rc == 0:
                assert (out / "plan.json").is_file() and (out / "annual.csv").is_file()
            elif rc == 1:
                assert err.startswith(f"error: {p}: "), (how, err[:300])
                lines = [ln for ln in err.splitlines()[1:] if ln.startswith("  - ")]
                assert lines, (how, err[:500])
                for ln in lines:  # every problem names a sheet, or a field for rule-pack checks
                    assert "sheet '" in ln or "policy." in ln or "not a readable" in ln or "allocation" in ln, (how, ln)
            seen[rc] += 1

        one()
    assert sum(seen.values()) == N_WORKBOOKS
    assert seen[1] > 0, seen  # the mutations do bite
    print(f"\nbroken workbooks through `planner run`: {dict(seen)} (exit code: count)")
