"""Generated groups (seeded fleet generator): every group plan passes the checker for every entity
and the links, and pooling never costs the group more than its entities alone."""

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.api import run_group
from planner.plan.check import check_group
from planner.testing.fleet import fleet_group

SETTINGS = settings(
    max_examples=6,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)


@SETTINGS
@given(
    n=st.integers(2, 5),
    seed=st.integers(0, 10_000),
    transfers=st.sampled_from(["none", "free", "block"]),
    pool=st.booleans(),
    last_year=st.integers(2025, 2027),
)
def test_generated_groups_pass_the_checker_and_pooling_never_costs(n, seed, transfers, pool, last_year):
    spec = fleet_group(n, seed, transfers=transfers, pool=pool, last_year=last_year, binaries=False)
    res = run_group(spec)
    assert check_group(res.prep.data, res.plan, objective=res.solve.objective) == []
    s = res.plan.summary
    assert s["value_of_pooling_cny"] >= -1e-6 * max(1.0, abs(s["standalone_npv_cny"]))
    if transfers == "none" and not pool:
        assert abs(s["value_of_pooling_cny"]) <= 1e-6 * max(1.0, abs(s["standalone_npv_cny"]))
