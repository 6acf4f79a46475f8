"""The array assembler (models.arrays.assemble) against the reference: the Pyomo model of models.entity /
models.group compiled by planner.solve.highs.compile_model.

The assembled problem must be the same problem entry by entry: same columns and rows in the same
order (matched by name), same matrix, bounds, costs, offset and integrality; solving it must give
the same plan tables as the Pyomo path. Unsupported features must be refused, never approximated.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models import build_model, extract_links, extract_results
from models.arrays.assemble import UnsupportedModel, assemble, extract_arrays, unsupported
from planner.api import run_group
from planner.input.read import load_case, load_group_case
from planner.plan.check import check_group
from planner.prepare.entity import prepare
from planner.prepare.group import prepare_group
from planner.solve.highs import SolveOptions, compile_assembled, compile_model, solve_compiled
from planner.testing.fleet import fleet_group


def _group_data(n, seed, *, binaries, transfers="free", pool=True, limits=False, last_year=2032, projects=False):
    data = prepare_group(fleet_group(n, seed, binaries=binaries, transfers=transfers, pool=pool, projects=projects,
                                     last_year=last_year, value_of_pooling=False)).data
    if limits:
        # group market limits in some years (finite) and not in others (inf): rows only where finite
        k = len(data.years)
        buy = tuple(2.0e6 * n if i % 2 == 0 else float("inf") for i in range(k))
        sell = tuple(1.0e6 * n if i % 3 == 1 else float("inf") for i in range(k))
        data = replace(data, group=replace(data.group, group_buy_max_t=buy, group_sell_max_t=sell))
    return data


CASES = [
    pytest.param(dict(n=3, seed=1, binaries=True), id="mip-free-pool"),
    pytest.param(dict(n=12, seed=2, binaries=False), id="lp-free-pool"),
    pytest.param(dict(n=12, seed=5, binaries=True, transfers="none", pool=False), id="mip-alone"),
    pytest.param(dict(n=8, seed=9, binaries=False, transfers="none", pool=True, limits=True), id="lp-pool-limits"),
    pytest.param(dict(n=25, seed=13, binaries=True, transfers="free", pool=False, limits=True, last_year=2029), id="mip-free-limits"),
    pytest.param(dict(n=6, seed=21, binaries=False, projects=True, last_year=2030), id="projects-free-pool"),
]


def _assert_same_problem(data, relax=1.0):
    m = build_model(data, relax)  # kept referenced: the variables' names need their model
    cm = compile_model(m)
    a = assemble(data, relax)
    assert a.column_names() == [v.name for v in cm.columns]
    assert a.row_names() == [c.name for c in cm.rows]
    lp = cm.lp
    for name, ref, ours in (
        ("cost", lp.col_cost_, a.cost),
        ("col lower", lp.col_lower_, a.lower),
        ("col upper", lp.col_upper_, a.upper),
        ("row lower", lp.row_lower_, a.row_lower),
        ("row upper", lp.row_upper_, a.row_upper),
        ("start", lp.a_matrix_.start_, a.start),
        ("index", lp.a_matrix_.index_, a.index),
        ("value", lp.a_matrix_.value_, a.value),
    ):
        np.testing.assert_array_equal(np.asarray(ours, dtype=float), np.asarray(ref, dtype=float), err_msg=name)
    is_int = np.zeros(lp.num_col_, dtype=bool)
    is_int[cm.integer_cols] = True
    np.testing.assert_array_equal(a.integer, is_int)
    assert a.offset == lp.offset_
    return m, a


def _assert_frames(ours: pd.DataFrame, ref: pd.DataFrame, name: str):
    assert list(ours.columns) == list(ref.columns), name
    assert len(ours) == len(ref), name
    if ref.empty:
        return
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False,
                                  check_exact=False, rtol=1e-9, atol=1e-6, obj=name)


def _assert_same_plan(data):
    """Solve the Pyomo model and the assembled arrays; every result table must agree."""
    opts = SolveOptions()
    m = build_model(data)
    cm = compile_model(m)
    ref = solve_compiled(cm, opts)
    df = dict(zip(data.years, data.discount_factor, strict=True))
    r_ref = extract_results(m, df, ref.duals)
    cma = compile_assembled(data)
    res = solve_compiled(cma, opts)
    assert res.build == "arrays" and ref.build == "pyomo"
    assert res.status == ref.status
    np.testing.assert_array_equal(res.x, np.array([v.value for v in cm.columns]))
    assert res.objective == ref.objective
    r, links = extract_arrays(cma.assembled, data, res.x, res.row_dual)
    for name in ("annual", "abatement", "builds", "project_years", "ccer_lots", "costs", "duals"):
        _assert_frames(getattr(r, name), getattr(r_ref, name), name)
    assert r.objective_cny == pytest.approx(r_ref.objective_cny, rel=1e-12)
    if data.group is not None:
        l_ref = extract_links(m)
        for name in ("trades", "transfers", "pool", "tiers", "costs"):
            _assert_frames(getattr(links, name), getattr(l_ref, name), f"links.{name}")


@pytest.mark.parametrize("kw", CASES)
def test_assembled_fleet_is_the_pyomo_problem_and_gives_the_same_plan(kw):
    data = _group_data(**kw)
    assert unsupported(data) is None
    _, a = _assert_same_problem(data)
    if kw["binaries"]:
        assert a.integer.any()
    _assert_same_plan(data)


@pytest.mark.parametrize("kw", [CASES[0], CASES[4]])
def test_assembled_fleet_with_relaxed_derived_bounds_is_the_pyomo_problem(kw):
    """``relax`` (every derived bound ten times wider: models.bounds) builds the same problem both
    ways; with group sale limits in some years (CASES[4]) the net-sales bounds of entities that could
    absorb their sisters' allowances are the group's, not their own."""
    data = _group_data(**kw)
    _, a = _assert_same_problem(data, relax=10.0)
    assert not np.array_equal(a.row_upper, assemble(data).row_upper)  # the big-M values did widen


def test_lp_fleet_is_a_pure_lp():
    """binaries=False fleets: no rule binaries and no relief-regime binaries (gas plants without measures)."""
    data = _group_data(60, 3, binaries=False)
    assert not assemble(data).integer.any()
    assert any(e.relief_share[0] >= 1 for e in data.entities)  # gas top-up plants are in the fleet


EXAMPLES = ["abscap_coal_2027", "backtest_coal_2021_2024", "cement_clinker", "chp_300mw_surplus", "coal_2x660",
            "gas_peaker", "multi_unit_power", "group_hn_generation/group"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_cases_supported_are_identical_and_others_refused(name):
    path = f"cases/{name}.yaml"
    data = prepare_group(load_group_case(path)).data if "/" in name else prepare(load_case(path)).data
    why = unsupported(data)
    if why is None:
        _assert_same_problem(data)
        _assert_same_plan(data)
    else:
        # the features not written here (auctions, conditional pre-draws, block transfers, budgets,
        # transfers outside net sales) are refused, never approximated
        assert name in ("abscap_coal_2027", "backtest_coal_2021_2024"), why
        with pytest.raises(UnsupportedModel):
            assemble(data)


def test_group_run_takes_the_array_path_and_passes_the_checker():
    spec = fleet_group(6, 4, binaries=True, value_of_pooling=True, last_year=2028)
    res = run_group(spec)
    assert res.solve.build == "arrays"
    assert res.plan.summary["model_build"].startswith("array assembly")
    assert check_group(res.prep.data, res.plan, objective=res.solve.objective) == []
    # the same group through the Pyomo backend: same objective
    ref = run_group(spec, SolveOptions(backend="pyomo"))
    assert ref.solve.build == "pyomo"
    assert res.solve.objective == pytest.approx(ref.solve.objective, rel=1e-7)
    assert res.plan.summary["value_of_pooling_cny"] == pytest.approx(ref.plan.summary["value_of_pooling_cny"], rel=1e-6, abs=1.0)


def test_unsupported_group_falls_back_to_pyomo():
    spec = fleet_group(3, 2, binaries=False, transfers="block", value_of_pooling=False, last_year=2026)
    res = run_group(spec)
    assert res.solve.build == "pyomo"
    assert res.plan.summary["model_build"].startswith("Pyomo")
    with pytest.raises(UnsupportedModel, match="block transfers"):
        assemble(res.prep.data)


def test_group_prepare_gives_each_entity_what_it_gets_alone():
    """prepare_group shares one loaded rule pack and caches the assumptions table per pack and keys:
    every entity still gets the model data, inputs, allocation detail and assumptions of preparing its
    case alone, and changing one entity's table leaves the others (and the cache) unchanged."""
    spec = fleet_group(4, 8, binaries=True, value_of_pooling=False, last_year=2027)
    prep = prepare_group(spec)
    for case, p in zip(spec.entities, prep.entities, strict=True):
        alone = prepare(case)
        assert p.data == alone.data
        pd.testing.assert_frame_equal(p.inputs, alone.inputs)
        pd.testing.assert_frame_equal(p.allocation_detail, alone.allocation_detail)
        pd.testing.assert_frame_equal(p.assumptions, alone.assumptions)
    a0, a1 = prep.entities[0].assumptions, prep.entities[1].assumptions
    before = a1.copy()
    a0.loc[0, "value"] = "changed"
    a0["extra"] = 1
    pd.testing.assert_frame_equal(a1, before)
    pd.testing.assert_frame_equal(prepare(spec.entities[2]).assumptions, before)


def _variant(e, k, n):
    """Entity-level features the fleets and examples do not reach, switched on entity by entity."""
    changes = {}
    if k % 2 == 0:  # a full top-up relief that caps the obligation instead of adding allowances
        changes["relief_to_allocation"] = (False,) * n
        changes["relief_share"] = (1.0,) * n
    if k % 3 == 0:  # CCER cap on verified emissions
        changes["ccer_cap_on_obligation"] = False
    if k % 3 == 1 and e.measures:  # an output measure loses allocation
        m0 = replace(e.measures[0], allocation_loss_t_per_t=tuple(0.9 - 0.05 * i for i in range(n)))
        changes["measures"] = (m0, *e.measures[1:])
    if k % 4 == 1:  # old-system market CCERs expire after the second year
        changes.update(ccer_old_expiry_index=1, ccer_buy_old=(True, False) + (False,) * (n - 2), opening_ccer_t=2_000.0)
    if k % 4 == 2:
        changes.update(shortfall_deducted_next_year=False)
    if k % 5 == 3:
        changes.update(shortfall_allowed=False)
    if k % 6 == 5:  # carry-over limits decided from bounds: a constant limit, then linear in net sales
        rules = [replace(r, multiplier=0.0) if i % 2 == 0 else r for i, r in enumerate(e.carry_rules)]
        changes.update(carry_rules=tuple(rules), opening_net_sales_t=5.0e7)
    return replace(e, **changes)


@pytest.mark.parametrize("binaries", [True, False])
def test_assembled_entity_features_beyond_the_fleets(binaries):
    data = _group_data(10, 17, binaries=binaries, last_year=2029, limits=True)
    n = len(data.years)
    data = replace(data, entities=tuple(_variant(e, k, n) for k, e in enumerate(data.entities)))
    assert unsupported(data) is None
    _assert_same_problem(data)
    _assert_same_plan(data)
