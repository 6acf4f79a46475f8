"""Markers by folder (unit, solver, regression, hardening), the --update-golden option and a HiGHS check."""

from pathlib import Path

import pytest

from planner.solve.highs import check_solver

HERE = Path(__file__).parent


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/regression/expected/*.json")


def pytest_collection_modifyitems(config, items):
    ok, why = check_solver()
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in ("unit", "solver", "regression", "hardening"):
            item.add_marker(getattr(pytest.mark, folder))
        if folder in ("solver", "regression", "hardening") and not ok:
            item.add_marker(pytest.mark.skip(reason=f"HiGHS unavailable: {why}"))


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))
