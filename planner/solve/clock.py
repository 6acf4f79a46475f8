"""One HiGHS run with its own time limit.

HiGHS compares ``time_limit`` with the run time of the ``Highs`` object summed over all its runs, not
with the current run's (ERGO-Code/HiGHS#1477, to change in HiGHS 2.0; highspy has no
``zeroAllClocks``). A warm solver re-runs one object for every scenario of a chunk, and a MIP is
followed on the same object by the LP re-solve with integers fixed and the tie-break: without this,
a later run inherits what the earlier ones used and stops early (a scenario then loses its shadow
prices, or its plan, depending on how busy the machine was)."""

from __future__ import annotations

from typing import Any


def run_highs(h: Any, time_limit_s: float | None) -> None:
    """``h.run()`` with ``time_limit_s`` seconds counted from now (no limit when None)."""
    if time_limit_s is not None:
        h.setOptionValue("time_limit", h.getRunTime() + float(time_limit_s))
    h.run()
