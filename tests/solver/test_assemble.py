"""The array assembler (models.arrays.assemble) against the reference: the Pyomo model of models.entity /
models.group compiled by planner.solve.highs.compile_model.

The assembled problem must be the same problem: compared on a canonical form (columns and rows keyed
by their component name and index, sorted), the same matrix, bounds, costs, offset and integrality;
solving it must give the same plan tables as the Pyomo path. Unsupported features must be refused,
never approximated. The assembler also keeps Pyomo's row and column order, tested on its own
(``test_assembled_order_is_pyomos``): see that test for why.

The equality runs on the fleets, the example cases, entity variants beyond the fleets and generated
groups over every carry-over mode, relief regime and mechanism, CCER cap base, deduction rule, group
transfers, pool, tiers and group limits (``_generated_group``); the features the assembler does not
write (README "Known limits") are each shown refused, so the orchestration builds them with Pyomo.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from models import build_model, extract_links, extract_results
from models.arrays.assemble import UnsupportedModel, assemble, extract_arrays, unsupported
from models.data import CarryRule, OpeningTransition, PriceTier
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


def _canonical(col_names, row_names, cost, lower, upper, integer, row_lower, row_upper, start, index, value):
    """The problem keyed by names: {column: (cost, lower, upper, integer)}, {row: (lower, upper)},
    {(row, column): coefficient}. Independent of the order in which a builder writes rows and columns."""
    assert len(set(col_names)) == len(col_names), "duplicate column names"
    assert len(set(row_names)) == len(row_names), "duplicate row names"
    cols = {n: (float(c), float(lo), float(up), bool(i))
            for n, c, lo, up, i in zip(col_names, cost, lower, upper, integer, strict=True)}
    rows = {n: (float(lo), float(up)) for n, lo, up in zip(row_names, row_lower, row_upper, strict=True)}
    start = np.asarray(start)
    entries = {}
    for j, cname in enumerate(col_names):
        for k in range(start[j], start[j + 1]):
            entries[(row_names[index[k]], cname)] = float(value[k])
    return cols, rows, entries


def _assert_same_canonical(a_form, ref_form):
    for what, ours, ref in zip(("columns", "rows", "matrix"), a_form, ref_form, strict=True):
        missing, extra = sorted(set(ref) - set(ours)), sorted(set(ours) - set(ref))
        assert not missing and not extra, f"{what}: missing {missing[:5]}, extra {extra[:5]}"
        differ = sorted(k for k in ref if ours[k] != ref[k])
        assert not differ, f"{what} differ at {differ[:5]}: {[(ours[k], ref[k]) for k in differ[:5]]}"


def _pyomo_problem(data, relax=1.0):
    m = build_model(data, relax)  # kept referenced: the variables' names need their model
    cm = compile_model(m)
    return m, cm


def _assert_same_problem(data, relax=1.0):
    """The assembled problem equals the Pyomo one on the canonical form (names, bounds, costs,
    integrality, coefficients, offset), whatever order each writes them in."""
    m, cm = _pyomo_problem(data, relax)
    a = assemble(data, relax)
    lp = cm.lp
    is_int = np.zeros(lp.num_col_, dtype=bool)
    is_int[cm.integer_cols] = True
    ref = _canonical([v.name for v in cm.columns], [c.name for c in cm.rows], lp.col_cost_, lp.col_lower_,
                     lp.col_upper_, is_int, lp.row_lower_, lp.row_upper_, lp.a_matrix_.start_,
                     lp.a_matrix_.index_, lp.a_matrix_.value_)
    ours = _canonical(a.column_names(), a.row_names(), a.cost, a.lower, a.upper, a.integer, a.row_lower,
                      a.row_upper, a.start, a.index, a.value)
    _assert_same_canonical(ours, ref)
    assert a.offset == lp.offset_
    return m, a


def _assert_same_order(data):
    """The assembled arrays are Pyomo's entry by entry, in Pyomo's row and column order."""
    m, cm = _pyomo_problem(data)
    a = assemble(data)
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
    ours_x = dict(zip(cma.assembled.column_names(), res.x, strict=True))
    assert ours_x == {v.name: v.value for v in cm.columns}  # the same vertex (see test_assembled_order_is_pyomos)
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


@pytest.mark.parametrize("kw", [CASES[0], CASES[3], CASES[5]])
def test_assembled_order_is_pyomos(kw):
    """The assembler writes Pyomo's row and column order, not only the same problem: HiGHS's answer
    to a problem with several optimal vertices depends on that order, and the group's plan must
    not depend on which path built its model (the orchestration takes the arrays for the features
    they support and Pyomo for the rest; warm sweeps re-solve either). A Pyomo release that changes
    its order fails this test alone; the canonical equality above still holds."""
    _assert_same_order(_group_data(**kw))


# ---- generated groups: every carry-over mode, relief regime and mechanism ---------------------------

RULE_CHOICES = (
    {"carryover.post_legacy.mode": "same"},
    {"carryover.post_legacy.mode": "unlimited"},
    {"carryover.post_legacy.mode": "custom", "carryover.post_legacy.multiplier": 0.0},
    {"carryover.post_legacy.mode": "custom", "carryover.post_legacy.base_t.power": 50_000,
     "carryover.post_legacy.multiplier": 3.0},
    {"carryover.net_sales_floor_at_zero": False},
)
"""Carry-over rules after 2024: the legacy formula, no limit, a constant limit, another base and
multiplier, and the limit without the zero floor on net sales (rule pack ``carryover.*``)."""

OTHER_CHOICES = (
    {"relief.mechanism.generation_2023_2024": "obligation_cap"},
    {"relief.coal_shortfall_cap_share.generation_2023_2024": 0.0},
    {"relief.coal_shortfall_cap_share.generation_2023_2024": 0.05,
     "relief.mechanism.generation_2023_2024": "obligation_cap"},
    {"ccer.cap_base": "emissions"},
    {"penalty.next_year_deduction": False},
)
"""Relief (shares that make it apply always or switch with abatement, as allowances or as an
obligation cap), the CCER cap on emissions, no next-year deduction."""


def _generated_group(seed, *, transfers="free", pool=True, tiers=False, limits=False, n=6):
    """A seeded fleet whose plants each take a carry-over rule (in turn) and up to two other rule
    choices (at random) through their rule-pack overrides; some start far above a limit's threshold
    (opening net sales), so that limits linear in net sales occur besides constant ones and ones
    with a floor binary."""
    rng = np.random.default_rng(seed)
    spec = fleet_group(n, seed, binaries=True, transfers=transfers, pool=pool, last_year=2029,
                       value_of_pooling=False, projects=bool(seed % 2))
    ents = []
    for k, e in enumerate(spec.entities):
        ov = dict(e.policy.overrides)
        ov.update(RULE_CHOICES[(k + seed) % len(RULE_CHOICES)])
        for j in rng.choice(len(OTHER_CHOICES), size=int(rng.integers(0, 3)), replace=False):
            ov.update(OTHER_CHOICES[j])
        ents.append(e.with_overrides({"policy.overrides": ov}))
    data = prepare_group(spec.model_copy(update={"entities": ents})).data
    entities = tuple(replace(e, opening_net_sales_t=5.0e7) if rng.random() < 0.3 else e for e in data.entities)
    g = data.group
    if tiers:
        g = replace(g, tiers=(PriceTier(width_t=20_000.0 * n, premium_cny_per_t=0.0),
                              PriceTier(width_t=float("inf"), premium_cny_per_t=4.0)))
    if limits:
        k = len(data.years)
        g = replace(g, group_buy_max_t=tuple(3.0e5 * n if i % 2 else float("inf") for i in range(k)),
                    group_sell_max_t=tuple(2.0e5 * n if i % 3 == 1 else float("inf") for i in range(k)))
    return replace(data, entities=entities, group=g)


GENERATED = [
    pytest.param(dict(seed=0), id="free-pool"),
    pytest.param(dict(seed=1, transfers="none", pool=False), id="alone-projects"),
    pytest.param(dict(seed=2, tiers=True, limits=True), id="free-pool-tiers-limits"),
    pytest.param(dict(seed=3, transfers="none", pool=True, limits=True), id="pool-limits-projects"),
    pytest.param(dict(seed=4, pool=False, tiers=True), id="free-tiers"),
    pytest.param(dict(seed=5, transfers="none", pool=False, tiers=True, limits=True), id="alone-tiers-limits"),
]


def test_generated_groups_reach_every_carry_over_kind_and_relief_regime():
    """The generator is worth its name: over the generated groups, every kind of carry-over row
    (none, constant, linear in net sales, floor binary), every relief regime (off, always, switch)
    and both relief mechanisms occur."""
    from models.arrays.assemble import layout

    kinds, regimes, mechanisms = set(), set(), set()
    for p in GENERATED:
        lay = layout(_generated_group(**p.values[0]))
        kinds |= set(lay.carry_kind.ravel().tolist())
        regimes |= set(lay.relief_regime.ravel().tolist())
        mechanisms |= set(lay.to_alloc[lay.relief_regime > 0].tolist())
    assert kinds == {0, 1, 2, 3}
    assert regimes == {0, 1, 2}
    assert mechanisms == {True, False}


@pytest.mark.parametrize("kw", GENERATED)
def test_generated_group_is_the_pyomo_problem_and_gives_the_same_plan(kw):
    data = _generated_group(**kw)
    assert unsupported(data) is None
    _, a = _assert_same_problem(data)
    assert a.integer.any()
    _assert_same_plan(data)


def _with_entity(data, k=0, **changes):
    ents = list(data.entities)
    ents[k] = replace(ents[k], **changes)
    return replace(data, entities=tuple(ents))


def _opening_before_transition(data):
    e = data.entities[0]
    rule = CarryRule(limited=True, floor_t=10_000.0, multiplier=1.5, base_t=10_000.0)
    return _with_entity(data, opening_cea_t=50_000.0, opening_sell_max_t=50_000.0,
                        opening_transitions=(OpeningTransition(year=data.years[0] - 1, entering_t=50_000.0, rule=rule),),
                        price_opening_sell_cny_per_t=e.price_sell_cny_per_t[0])


UNSUPPORTED = [
    pytest.param(lambda d: _with_entity(d, borrow_share=(0.5,) + (0.0,) * (len(d.years) - 1), borrow_source_index=1),
                 "conditional pre-draw", id="borrowing"),
    pytest.param(lambda d: _with_entity(d, auction_max_t=(1.0e5,) * len(d.years),
                                        price_auction_cny_per_t=(80.0,) * len(d.years)), "auctions", id="auctions"),
    pytest.param(_opening_before_transition, "opening position before a transition", id="opening-decided"),
    pytest.param(lambda d: _with_entity(d, fine_fixed_cny=(30_000.0,) + (0.0,) * (len(d.years) - 1)),
                 "fixed fines", id="fixed-fines"),
    pytest.param(lambda d: replace(d, group=replace(d.group, budget_cny=(5.0e9,) * len(d.years))), "group budget",
                 id="budget"),
    pytest.param(lambda d: replace(d, group=replace(d.group, transfers_in_net_sales=False)),
                 "transfers outside net sales", id="transfers-outside-net-sales"),
]


@pytest.mark.parametrize(("change", "reason"), UNSUPPORTED)
def test_features_the_assembler_does_not_write_are_refused_and_built_with_pyomo(change, reason):
    """Each feature of the README's list ("Known limits": what the array assembly does not write),
    on a generated group: ``unsupported`` names it (the orchestration then builds the model with
    Pyomo), ``assemble`` refuses it, and the Pyomo model has the feature's components."""
    data = change(_generated_group(0, n=3))
    assert reason in (unsupported(data) or "")
    with pytest.raises(UnsupportedModel, match=reason):
        assemble(data)
    m = build_model(data)
    b = m.entity[data.entities[0].id]
    present = {
        "conditional pre-draw": lambda: len(b.BORROW_YEARS) > 0,
        "auctions": lambda: len(b.AUCTION_YEARS) > 0,
        "opening position before a transition": lambda: len(b.OPENING_DECISION) > 0,
        "fixed fines": lambda: len(b.FINE_YEARS) > 0,
        "group budget": lambda: len(m.BUDGET_YEARS) > 0,
        "transfers outside net sales": lambda: hasattr(m, "transfer_in"),
    }[reason]
    assert present()
    # block transfers: test_unsupported_group_falls_back_to_pyomo runs such a group end to end
