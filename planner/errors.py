"""Typed exceptions; the CLI maps them to exit codes.

Every failure the planner expects has its own exit code (``EXIT_CODES``, printed in README.md and
docs/hardening.md); exit 70 is left for defects (an exception nobody foresaw).
"""

from __future__ import annotations

EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "invalid input: case, tables, sweep file or command-line options (also a limit exceeded)",
    2: "no proven optimal plan: infeasible, unbounded, stopped by the time limit; a sweep with such scenarios",
    3: "solver unavailable",
    4: "the plan failed the independent checker (nothing written)",
    5: "output not written: the output folder is refused or cannot be written (nothing was changed)",
    6: "the output was written but the summary could not be printed (standard output closed)",
    7: "the machine refused resources: worker processes or threads cannot start, out of memory",
    70: "internal error (a defect: please report it with the --debug traceback)",
    130: "interrupted",
}
"""What each exit code of the ``planner`` command means."""


class PlannerError(Exception):
    """Base class of every error the planner raises on purpose."""

    exit_code = 1


class CaseValidationError(PlannerError):
    """Bad input. ``problems`` lists every problem at once as (location, message)."""

    exit_code = 1

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s)"]
        lines += [f"  - {loc}: {msg}" if loc else f"  - {msg}" for loc, msg in problems]
        super().__init__("\n".join(lines))

    def in_file(self, path: str) -> CaseValidationError:
        """The same problems reported against the case file they came from (errors raised after
        reading, e.g. by the rule-pack lookup, know only the field)."""
        if self.source == path or self.source.startswith("rule pack"):
            return self
        return CaseValidationError(path, self.problems)


class NonOptimalError(PlannerError):
    """The solve did not prove an optimal plan (and the caller did not allow that)."""

    exit_code = 2

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class InfeasibleError(NonOptimalError):
    """No plan satisfies the constraints (with hard compliance, or contradictory data)."""


class UnboundedError(NonOptimalError):
    """The objective is unbounded: prices allow riskless arbitrage the limits do not stop."""


class SolverUnavailableError(PlannerError):
    """HiGHS (highspy) cannot be imported or run."""

    exit_code = 3


class PlanCheckError(PlannerError):
    """The independent checker found a solved plan that breaks a ledger identity or a rule."""

    exit_code = 4

    def __init__(self, failures: list[str]):
        self.failures = failures
        super().__init__(
            "plan failed the independent check:\n" + "\n".join(f"  - {f}" for f in failures)
        )


class OutputError(PlannerError):
    """The output (a plan or sweep folder, a workbook) is refused or cannot be written; nothing was
    changed. The message names the path and the reason in one line."""

    exit_code = 5


class StdoutClosedError(PlannerError):
    """Standard output was closed before the summary was printed (the output files are written)."""

    exit_code = 6


class ResourceError(PlannerError):
    """The machine cannot provide what the run needs (processes, threads, memory)."""

    exit_code = 7
