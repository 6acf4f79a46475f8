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

_API = {
    "load_case": ("planner.input.read", "load_case"),
    "run": ("planner.api", "run"),
    "run_group": ("planner.api", "run_group"),
    "sweep": ("planner.studies.sweep", "sweep"),
    "stochastic_plan": ("planner.studies.stochastic", "stochastic_plan"),
}


def __getattr__(name: str):
    """The public functions, imported on first use so that ``import planner`` stays cheap
    (the stages import Pyomo, pandas and HiGHS)."""
    if name not in _API:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    import importlib

    module, attr = _API[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


__all__ = [
    "CaseValidationError",
    "InfeasibleError",
    "NonOptimalError",
    "PlanCheckError",
    "PlannerError",
    "SolverUnavailableError",
    "__version__",
    "load_case",
    "run",
    "run_group",
    "stochastic_plan",
    "sweep",
]
