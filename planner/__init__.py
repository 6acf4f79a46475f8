"""China national ETS compliance planner: case file in, checked compliance plan out.

Importing this package defines objects only; it configures no logging and touches no files.
"""

from planner.errors import (
    CaseValidationError,
    InfeasibleError,
    NonOptimalError,
    PlanCheckError,
    PlannerError,
    SolverUnavailableError,
)

__version__ = "0.1.0"

__all__ = [
    "CaseValidationError",
    "InfeasibleError",
    "NonOptimalError",
    "PlanCheckError",
    "PlannerError",
    "SolverUnavailableError",
    "__version__",
]
