"""The MIP gap of large groups: 0.1% above 100 entities unless the case or the command line says
otherwise; the plan of a large MIP group says the gap asked for and the gap proven."""

import pytest

from planner.api import (
    LARGE_GROUP_ENTITIES,
    LARGE_GROUP_MIP_GAP,
    large_group_gap_note,
    options_for,
)
from planner.cli import build_parser
from planner.testing.fleet import fleet_group


@pytest.fixture(scope="module")
def big():
    return fleet_group(LARGE_GROUP_ENTITIES + 1, seed=2)


def test_large_group_default_gap(big):
    assert options_for(big).mip_rel_gap == LARGE_GROUP_MIP_GAP == 1e-3
    assert options_for(big, mip_rel_gap=1e-5).mip_rel_gap == 1e-5  # --mip-gap wins
    small = fleet_group(3, seed=2)
    assert options_for(small).mip_rel_gap == 1e-6  # the entity planner's default


def test_large_group_gap_the_case_sets_is_kept(big):
    entities = [e.model_copy(update={"solver": e.solver.model_validate({"mip_rel_gap": 1e-6})}) for e in big.entities]
    spec = big.model_copy(update={"entities": entities})
    assert "mip_rel_gap" in spec.entities[0].solver.model_fields_set
    assert options_for(spec).mip_rel_gap == 1e-6


def test_exactly_the_threshold_keeps_the_default():
    spec = fleet_group(LARGE_GROUP_ENTITIES, seed=2)
    assert options_for(spec).mip_rel_gap == 1e-6


def test_gap_note():
    assert large_group_gap_note(2.5e-4, 1e-3).startswith("MIP gap proven: 0.03% (asked for: 0.10%;")
    assert large_group_gap_note(None, 1e-3).startswith("MIP gap proven: not proven")


def test_cli_mip_gap():
    from planner.cli import UsageError

    p = build_parser()
    assert p.parse_args(["run", "c.yaml", "--out", "o", "--mip-gap", "1e-3"]).mip_gap == 1e-3
    assert p.parse_args(["run", "c.yaml", "--out", "o"]).mip_gap is None
    for bad in ("abc", "-0.1", "2"):
        with pytest.raises(UsageError, match="expected a number between 0 and 1"):
            p.parse_args(["run", "c.yaml", "--out", "o", "--mip-gap", bad])
