"""The group plan tables for all entities at once (``planner.plan.entity.entity_plans``, the library's
one table builder) against the per-entity oracle: ``tests.oracles.tables.assemble_plan`` entity by
entity (``assemble_group_plan(..., entity_tables=entity_plans_per_entity)``).

Every table, summary, note and warning must be equal, values and dtypes, on generated fleets (LP
and MIP, free / block / no transfers, CCER pool, group limits, projects, the value of pooling) and
on the group example case.
"""

from pathlib import Path

import pandas as pd
import pytest

from planner.input.group_schema import GroupLimitRow
from planner.input.read import load_group_case
from planner.plan.entity import Plan
from planner.plan.group import GroupPlan, assemble_group_plan
from planner.testing.fleet import fleet_group
from tests.oracles.tables import entity_plans_per_entity
from tests.solver.helpers import solve_group_parts

ROOT = Path(__file__).resolve().parents[2]


FLEETS = [
    pytest.param(dict(n=12, seed=2, binaries=False), id="lp-free-pool-pooling-value"),
    pytest.param(dict(n=3, seed=1, binaries=True, value_of_pooling=False), id="mip-free-pool"),
    pytest.param(dict(n=12, seed=5, binaries=True, transfers="none", pool=False, value_of_pooling=False), id="mip-alone"),
    pytest.param(dict(n=6, seed=21, binaries=False, projects=True, last_year=2030, value_of_pooling=False), id="projects"),
    pytest.param(dict(n=8, seed=3, binaries=False, transfers="block", value_of_pooling=False), id="block-transfers"),
    pytest.param(dict(n=25, seed=13, binaries=False, pool=False, last_year=2029, value_of_pooling=False), id="lp-25"),
]


def assert_same_group_plan(new: GroupPlan, ref: GroupPlan) -> None:
    for name in Plan.TABLES + ("costs",):
        pd.testing.assert_frame_equal(getattr(new.entities, name), getattr(ref.entities, name), check_exact=True, obj=name)
    for name in GroupPlan.TABLES:
        pd.testing.assert_frame_equal(getattr(new, name), getattr(ref, name), check_exact=True, obj=name)
    pd.testing.assert_frame_equal(new.assumptions, ref.assumptions, check_exact=True)
    assert new.entities.summary == ref.entities.summary
    assert new.summary == ref.summary
    assert new.notes == ref.notes
    assert new.warnings == ref.warnings


def _both(spec):
    args = solve_group_parts(spec)
    return assemble_group_plan(*args), assemble_group_plan(*args, entity_tables=entity_plans_per_entity)


@pytest.mark.parametrize("kw", FLEETS)
def test_all_entity_tables_equal_the_per_entity_tables(kw):
    new, ref = _both(fleet_group(**kw))
    assert not ref.entities.bindings.empty and not ref.entities.mac.empty
    assert_same_group_plan(new, ref)


def test_group_example_tables_equal_the_per_entity_tables():
    spec = load_group_case(ROOT / "cases" / "group_hn_generation" / "group.yaml")
    new, ref = _both(spec)
    assert len(ref.entities.bindings["rule"].unique()) > 3  # the example states several rules
    assert_same_group_plan(new, ref)


def test_group_with_market_limits_and_budget_equal_the_per_entity_tables():
    """Group purchase and sale limits in some years and a budget (the Pyomo path: the array
    assembly refuses budgets), on a fleet."""
    spec = fleet_group(10, 4, binaries=False, value_of_pooling=False)
    limits = [GroupLimitRow(year=y, buy_limit_t=1.5e5 if y % 2 else None, sell_limit_t=1.0e5 if y % 3 == 1 else None,
                            budget_cny=5.0e8) for y in range(2025, 2033)]
    new, ref = _both(spec.model_copy(update={"limits": limits}))
    assert_same_group_plan(new, ref)
