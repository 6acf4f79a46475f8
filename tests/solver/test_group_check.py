"""The library checker on all entities at once (``planner.plan.check``) against the reference, the
per-entity checker (``tests.oracles.check``): the same failures, in the same
order, on solved plans and on plans corrupted in one entity-year out of many; and the corruptions
are caught, naming the entity and the year.

The checker's tolerance is 1e-8 of the entity's largest baseline emissions plus 1e-4 t
(``planner.plan.check.REL_TOL``, ``ABS_TOL_T``: 0.06 t on a 5.8 Mt plant), so a one-tonne error in the
ledger of the largest plant is caught.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from planner.input.read import load_group_case
from planner.plan.check import check_group
from planner.plan.group import assemble_group_plan
from planner.testing.fleet import fleet_group
from tests.oracles.check import check_group as check_group_per_entity
from tests.oracles.tables import entity_plans_per_entity
from tests.solver.helpers import solve_group_parts

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fleet():
    prep, results, links, res, _ = solve_group_parts(fleet_group(12, 2, binaries=False, value_of_pooling=False))
    return prep.data, assemble_group_plan(prep, results, links, res, None), res.objective


def _copy(gp):
    e = gp.entities
    ent = replace(e, annual=e.annual.copy(), abatement=e.abatement.copy(), costs=e.costs.copy())
    return replace(gp, entities=ent, transfers=gp.transfers.copy(), group_annual=gp.group_annual.copy())


def _bump(gp, col: str, entity: str, year: int, by: float):
    a = gp.entities.annual
    a.loc[(a["entity"] == entity) & (a["year"] == year), col] += by


def _both(data, gp, objective):
    new = check_group(data, gp, objective=objective)
    assert new == check_group_per_entity(data, gp, objective=objective)
    return new


@pytest.mark.parametrize("kw", [
    pytest.param(dict(n=3, seed=1, binaries=True), id="mip-free-pool"),
    pytest.param(dict(n=12, seed=5, binaries=True, transfers="none", pool=False), id="mip-alone"),
    pytest.param(dict(n=6, seed=21, binaries=False, projects=True, last_year=2030), id="projects"),
    pytest.param(dict(n=8, seed=3, binaries=False, transfers="block"), id="block-transfers"),
])
def test_solved_fleets_pass_both_checkers(kw):
    prep, results, links, res, _ = solve_group_parts(fleet_group(**kw, value_of_pooling=False))
    gp = assemble_group_plan(prep, results, links, res, None)
    assert _both(prep.data, gp, res.objective) == []
    # a plan broken everywhere: every abatement row 50% over, every net-sales figure off
    bad = _copy(gp)
    bad.entities.abatement["abate_t"] = bad.entities.abatement["abate_t"] * 1.5 + 10.0
    bad.entities.annual["net_sales_t"] += 100.0
    assert len(_both(prep.data, bad, res.objective)) > 10


def test_group_example_passes_both_checkers():
    prep, results, links, res, alone = solve_group_parts(load_group_case(ROOT / "cases" / "group_hn_generation" / "group.yaml"))
    gp = assemble_group_plan(prep, results, links, res, alone)
    assert _both(prep.data, gp, res.objective) == []


def test_a_bank_off_by_50_t_in_one_entity_is_caught(fleet):
    data, gp, obj = fleet
    e, y = data.entities[6].id, 2028
    bad = _copy(gp)
    _bump(bad, "carry_t", e, y, 50.0)
    fails = _both(data, bad, obj)
    assert any(f.startswith(f"{e} {y}: allowance stock balance") for f in fails), fails
    assert all(f.startswith(e) or f.startswith("objective") for f in fails), fails


def test_one_tonne_in_the_bank_of_the_largest_plant_is_caught(fleet):
    """A multi-Mt plant's stock balance off by 1 t (1.7e-7 of 5.8 Mt: the tolerance is 1e-8 of
    it): both group checkers and the entity checker on a real entity case name it."""
    from planner.api import run
    from planner.input.read import load_case
    from planner.plan.check import check_plan

    data, gp, obj = fleet
    big = max(data.entities, key=lambda e: max(e.emissions_baseline_t))
    assert max(big.emissions_baseline_t) > 1e6
    bad = _copy(gp)
    _bump(bad, "carry_t", big.id, 2027, 1.0)
    fails = _both(data, bad, obj)
    assert any(f.startswith(f"{big.id} 2027: allowance stock balance") for f in fails), fails

    res = run(load_case(ROOT / "cases" / "coal_2x660.yaml"))  # 5.8 Mt a year
    assert check_plan(res.prep.data, res.plan) == []
    y = int(res.plan.annual["year"].iloc[1])
    res.plan.annual.loc[res.plan.annual["year"] == y, "carry_t"] += 1.0
    fails = check_plan(res.prep.data, res.plan)
    assert any(f"{y}: allowance stock balance" in f for f in fails), fails


def test_a_transfer_that_does_not_net_to_zero_is_caught(fleet):
    data, gp, obj = fleet
    e, y = data.entities[4].id, 2026
    bad = _copy(gp)
    _bump(bad, "transfer_in_t", e, y, 500.0)
    fails = _both(data, bad, obj)
    assert f"group {y}: transfers net to zero (in = out)" in " ".join(fails)
    assert any(f.startswith(f"{e} {y}: CEA bought = market + transfers in") for f in fails), fails
    assert any(f.startswith(f"{e} {y}: transfer matrix vs net transfers") for f in fails), fails


def test_a_ccer_use_over_the_cap_is_caught(fleet):
    data, gp, obj = fleet
    k, i = 9, 3
    d, y = data.entities[k], data.years[3]
    a = gp.entities.annual
    row = a[(a["entity"] == d.id) & (a["year"] == y)].iloc[0]
    over = d.ccer_cap_share[i] * row["obligation_t"] - row["ccer_surrendered_t"] + 1_000.0
    bad = _copy(gp)
    for col in ("ccer_use_pool_t", "ccer_surrendered_t", "ccer_buy_t"):
        _bump(bad, col, d.id, y, over)
    _bump(bad, "surrender_t", d.id, y, -over)
    fails = _both(data, bad, obj)
    assert any(f.startswith(f"{d.id} {y}: CCER within 5.0% cap") for f in fails), fails


def test_missing_years_and_negative_quantities_are_named(fleet):
    data, gp, obj = fleet
    bad = _copy(gp)
    a = bad.entities.annual
    e2, e5 = data.entities[2].id, data.entities[5].id
    a.loc[(a["entity"] == e5) & (a["year"] == 2030), "buy_t"] = -1_000.0
    bad = replace(bad, entities=replace(bad.entities, annual=a[~((a["entity"] == e2) & (a["year"] == 2027))].reset_index(drop=True)))
    fails = _both(data, bad, obj)
    assert f"{e2}: the annual table lacks some years" in fails
    assert any(f.startswith(f"{e5} 2030: buy_t is negative") for f in fails), fails
    assert np.isfinite(obj)


def test_entity_features_beyond_the_fleets_tables_and_checkers_agree():
    """The fleet of test_assemble with entity features switched on entity by entity (relief as an
    obligation cap, output losses, CCER cap on emissions, old-CCER expiry, undeducted and forbidden
    shortfalls, constant and linear carry-over limits) and opening CCER lots on some entities: both
    table builders agree, the plan passes both checkers, and broken lots are caught alike."""
    from models.data import CcerLotData
    from planner.api import options_for, solve_arrays
    from planner.prepare.group import prepare_group
    from tests.solver.test_assemble import _group_data, _variant
    from tests.solver.test_group_tables import assert_same_group_plan

    spec = fleet_group(10, 17, binaries=False, last_year=2029, value_of_pooling=False)
    prep = prepare_group(spec)
    data = _group_data(10, 17, binaries=False, last_year=2029, limits=True)
    n = len(data.years)
    ents = []
    for k, e in enumerate(data.entities):
        e = _variant(e, k, n)
        if k % 3 == 2:
            lot = CcerLotData(id=f"L{k}", quantity_t=30_000.0, eligible=tuple(i < 3 for i in range(n)), terminal_value_cny_per_t=0.0)
            e = replace(e, ccer_lots=(lot,))
        ents.append(e)
    prep = replace(prep, data=replace(data, entities=tuple(ents)))
    res, results, links = solve_arrays(prep.data, options_for(spec))
    assert not results.ccer_lots.empty
    new = assemble_group_plan(prep, results, links, res, None)
    assert_same_group_plan(new, assemble_group_plan(prep, results, links, res, None, entity_tables=entity_plans_per_entity))
    assert _both(prep.data, new, res.objective) == []
    bad = _copy(new)
    bad = replace(bad, entities=replace(bad.entities, ccer_lots=bad.entities.ccer_lots.assign(
        ccer_use_lot_t=bad.entities.ccer_lots["ccer_use_lot_t"] + 10_000.0)))
    fails = _both(prep.data, bad, res.objective)
    assert any("CCER lot L2 used over all years vs its quantity" in f for f in fails), fails
    lots = new.entities.ccer_lots.copy()
    j = lots.index[lots["lot"] == "L2"][0]
    lots.loc[j, "year"] = 2029  # a lot eligible in 2025-2027 only
    fails = _both(prep.data, replace(new, entities=replace(new.entities, ccer_lots=lots)), res.objective)
    assert any(f.endswith("2029: CCER lot L2 used outside its eligible years") for f in fails), fails


def test_an_opening_lapse_and_a_reported_limit_off_are_caught(fleet):
    """The opening holdings cross the 2024 -> 2025 transition (rules.md §14): the fleet's long plants
    hold more than their limit, and the lapse is recomputed from the data; a reported carry-over
    limit must be the rule's value at the plan's net sales."""
    data, gp, obj = fleet
    a = gp.entities.annual
    first = a[a["year"] == data.years[0]]
    lapsed = first[first["opening_lapse_t"] > 1.0]
    assert len(lapsed), "the fleet should hold some opening allowances above the limit"
    e = lapsed["entity"].iloc[0]
    bad = _copy(gp)
    _bump(bad, "opening_lapse_t", e, data.years[0], -500.0)
    fails = _both(data, bad, obj)
    assert any(f.startswith(f"{e} {data.years[0]}: opening lapse = the opening holdings above the transition limits") for f in fails), fails
    assert any(f.startswith(f"{e} {data.years[0]}: allowance stock balance") for f in fails), fails
    # this fleet banks without limits after 2025 (carryover.post_legacy.mode 'unlimited'): a finite
    # limit reported there is not the rule's
    k, y = 3, data.years[2]
    d = data.entities[k]
    assert not d.carry_rules[2].limited
    bad = _copy(gp)
    a = bad.entities.annual
    a.loc[(a["entity"] == d.id) & (a["year"] == y), "carry_limit_t"] = 50_000.0
    fails = _both(data, bad, obj)
    assert fails == [f"{d.id} {y}: a carry-over limit of 50,000 t is reported at a transition without one"], fails
