"""Sweeps over group cases: a hand-checked group sweep, cheap price variants equal to the full
validation and preparation, warm re-solves equal to rebuilds (links included), and repeatable
result files with 1 and 2 worker processes."""

import copy
import random

import pandas as pd
import pytest

from models import build_model, extract_links, extract_results
from planner.api import options_for
from planner.errors import CaseValidationError
from planner.input.group_schema import GroupCaseSpec
from planner.input.read import parse_case
from planner.plan.check import check_group
from planner.plan.group import assemble_group_plan
from planner.prepare.entity import prepare
from planner.prepare.group import prepare_group
from planner.prepare.reprice import PRICE_FIELDS, reprice_entity, reprice_group
from planner.solve.highs import compile_model, solve_model
from planner.solve.warm import GROUP_ROW, WarmSolver
from planner.studies.sweep import prepared_variant, sweep
from planner.studies.variants import Variant, apply_variant, variant_case, variant_group_full
from planner.studies.warm_plans import plan_group_variant
from planner.testing.fleet import fleet_group
from tests.solver.helpers import case_dict

approx = pytest.approx


def _hand_group():
    """2025 only, no discounting, no terminal value, CCERs at 1,000 CNY/t (never used), hard compliance.
    A: emissions 100,000, allocation 90,000 (short 10,000); measure m at 80 CNY/t up to 4,000 t.
    B: emissions 100,000, allocation 103,000 (long 3,000).
    Free transfers at an internal price of 70 CNY/t; the group may buy at most 5,000 t on the market.
    CEA buy price 100 (sell 99) in the base case."""
    a = case_dict(buy=100.0, ccer=1_000.0)
    a["entity"]["id"] = "A"
    a["abatement"] = {"measures": [{"id": "m", "cost_cny_per_t": 80, "potential_t_per_year": 4_000}]}
    b = case_dict(allocation=103_000, buy=100.0, ccer=1_000.0)
    b["entity"]["id"] = "B"
    for d in (a, b):
        d["policy"] = {"compliance": "hard"}
    return GroupCaseSpec.model_validate(
        {
            "group": {"id": "G", "horizon": {"first_year": 2025, "last_year": 2025}, "finance": {"discount_rate": 0.0}},
            "entities": [parse_case(a), parse_case(b)],
            "transfers": {"mode": "free", "price_cny_per_t": 70},
            "limits": [{"year": 2025, "buy_limit_t": 5_000}],
            "value_of_pooling": False,
        }
    )


def _hand(p):
    """Hand derivation at CEA price p (price_factor f = p / 100; the sell price 0.99 p is never used:
    B's 3,000 t go to A as a transfer, which saves the spread). The group is short 7,000 t.
    p < 80: buying is cheaper than m, but the group buys at most 5,000 t: abate 2,000 at 80:
        group cost 5,000 p + 160,000; A buys 5,000 on the market.
    p > 80: abate the full 4,000 t at 80, buy 3,000: group cost 3,000 p + 320,000.
    The lines meet at p = 80 (5,000 x 80 + 160,000 = 560,000 = 3,000 x 80 + 320,000): the kink is
    at the measure's cost. Settlement at 70: B's cost is -3,000 x 70 = -210,000 at every price; A's
    is the group cost + 210,000."""
    if p < 80:
        return 5_000 * p + 160_000, 5_000, 2_000
    return 3_000 * p + 320_000, 3_000, 4_000


def test_hand_checked_group_sweep_with_a_kink_at_the_measure_cost():
    factors = [0.5, 0.6, 0.7, 0.79, 0.81, 0.9, 1.0, 1.2]
    res = sweep(_hand_group(), {"include_base": False, "grid": {"price_factor.2025": factors}})
    f = res.frame
    assert set(res.scenarios["status"]) == {"optimal"}
    assert set(res.stats["prepare"]) == {"reprice"}  # price-only variants: repriced, not prepared again
    for sid, fac in zip(res.scenarios["scenario"], factors, strict=True):
        p = round(100 * fac, 2)
        cost, market_buy, abate = _hand(p)
        s = f[f["scenario"] == sid].set_index(["entity", "level"])
        assert s.loc[(GROUP_ROW, "group"), "total_cost_cny"] == approx(cost, abs=1e-3)
        assert s.loc[(GROUP_ROW, "group"), "npv_cost_cny"] == approx(cost, abs=1e-3)
        assert s.loc[(GROUP_ROW, "group-year"), "market_buy_t"] == approx(market_buy, abs=1e-6)
        a, b = s.loc[("A", "entity-year")], s.loc[("B", "entity-year")]
        assert a["cea_buy_cny_per_t"] == approx(p)
        assert a["abatement_measures_t"] == approx(abate, abs=1e-6)
        assert (a["market_buy_t"], a["transfer_in_t"]) == (approx(market_buy, abs=1e-6), approx(3_000, abs=1e-6))
        assert (b["transfer_out_t"], b["market_sell_t"]) == (approx(3_000, abs=1e-6), approx(0, abs=1e-6))
        assert b["total_cost_cny"] == approx(-210_000, abs=1e-3)
        assert s.loc[("A", "entity"), "total_cost_cny"] == approx(cost + 210_000, abs=1e-3)
    # linear between the kinks: the cost rises 5,000 CNY per CNY/t below 80 and 3,000 above
    g = f[f["level"] == "group"].set_index("scenario")["total_cost_cny"].to_numpy()
    assert (g[1] - g[0]) / 10 == approx(5_000) and (g[-1] - g[-2]) / 20 == approx(3_000)


# ------------------------------------------------------------------------------- cheap variants
def _small_group(**kw):
    """Three plants, unlimited banking: the group's purchases are limited so that price paths rising
    faster than the discount rate stay bounded (the limit binds only in such scenarios)."""
    return fleet_group(3, seed=11, binaries=False, value_of_pooling=False, last_year=2028, group_buy_limit_t=2.0e6, **kw)


def _price_variant(rng, spec, i):
    """Generated price-only variants: factors on some fields, single entity prices, pool prices;
    every 7th makes a sell price exceed the buy price (invalid)."""
    ids = [c.entity.id for c in spec.entities]
    years = spec.group.horizon.years
    ov = {}
    fields = rng.sample(list(PRICE_FIELDS[:2] + ("ccer_cny_per_t", "fee_cny_per_t")), rng.randint(1, 3))
    if i % 2 == 0:
        ov = {f"price_factor.{y}": rng.uniform(0.4, 2.0) for y in rng.sample(years, rng.randint(1, len(years)))}
        ov["price_factor_fields"] = ",".join(fields)
    for _ in range(rng.randint(0, 3)):
        e, y = rng.choice(ids), rng.choice(years)
        ov[f"entities.{e}.market.{y}.{rng.choice(('cea_buy_cny_per_t', 'ccer_cny_per_t', 'fee_cny_per_t', 'penalty_reference_cny_per_t'))}"] = round(rng.uniform(40, 200), 2)
    if i % 3 == 0:
        ov[f"ccer_pool.rows.{rng.choice(years)}.ccer_cny_per_t"] = round(rng.uniform(30, 150), 2)
    if i % 7 == 3:
        e, y = rng.choice(ids), rng.choice(years)
        ov[f"entities.{e}.market.{y}.cea_spread_cny_per_t"] = None
        ov[f"entities.{e}.market.{y}.cea_sell_cny_per_t"] = 10_000.0
    return ov


def _same_case(got, full, i) -> None:
    """``got`` equals the fully validated ``full``, market row by row, with the same field types
    (a row copied with floats instead of validated again must be the row validation makes)."""
    assert got == full, i
    for a, b in zip(got.market, full.market, strict=True):
        assert a.model_dump() == b.model_dump(), i
        assert [type(x) for x in a.__dict__.values()] == [type(x) for x in b.__dict__.values()], i


def _same_prep(fast, full):
    assert fast.data == full.data
    assert fast.standalone == full.standalone
    assert fast.warnings == full.warnings and fast.notes == full.notes
    for a, b in zip(fast.entities, full.entities, strict=True):
        assert a.case == b.case and a.data == b.data
        assert a.warnings == b.warnings and a.notes == b.notes
        pd.testing.assert_frame_equal(a.inputs, b.inputs, check_exact=True)


def test_cheap_group_variants_equal_the_full_validation_and_preparation():
    """Hundreds of generated price-only group variants: the changed-subtree validation gives the
    same case as validating everything (or the same errors), and repricing the base preparation
    gives exactly the full ``prepare_group`` (model data, stand-alone data, inputs, warnings)."""
    spec = _small_group()
    base = prepare_group(spec)
    rng = random.Random(3)
    n_ok = n_bad = 0
    for i in range(150):
        v = Variant(f"v{i}", _price_variant(rng, spec, i))
        expected = None
        try:
            full = variant_group_full(spec, v)
        except CaseValidationError as exc:
            expected = [m for _, m in exc.problems]
        if expected is not None:
            with pytest.raises(CaseValidationError) as got:
                apply_variant(spec, v)
            assert [m for _, m in got.value.problems] == expected, i
            n_bad += 1
            continue
        app = apply_variant(spec, v)
        assert app.reprice and app.case == full, i
        again = apply_variant(spec, v, validated=True)  # a sweep's worker, after validate_variants
        assert again.reprice and again.changed.keys() == app.changed.keys(), i
        for got, ref_case in zip(again.case.entities, full.entities, strict=True):
            _same_case(got, ref_case, i)
        ref = prepare_group(full)
        _same_prep(reprice_group(base, app.case, app.changed), ref)
        lean = reprice_group(base, app.case, app.changed, inputs=False)  # a fast sweep's: warnings on reading
        assert lean.data == ref.data and lean.standalone == ref.standalone and lean.warnings == ref.warnings, i
        n_ok += 1
    assert n_ok >= 100 and n_bad >= 15


RANGES = {
    "cea_buy_cny_per_t": (75, 160), "cea_sell_cny_per_t": (20, 72), "cea_spread_cny_per_t": (0, 5),
    "ccer_cny_per_t": (20, 160), "fee_cny_per_t": (0, 3), "ccer_fee_cny_per_t": (0, 3),
    "penalty_reference_cny_per_t": (20, 160),
}
"""Mostly valid values; a sell price given with a spread, or above the buy price, is invalid."""


def test_cheap_entity_variants_equal_the_full_validation_and_preparation():
    """The same for entity cases (a case with measures, a project, CCER lots and arbitrage warnings)."""
    from tests.solver.test_sweep import _generated_base

    case = parse_case(_generated_base())
    base = prepare(case)
    rng = random.Random(8)
    n_ok = n_bad = 0
    for i in range(200):
        ov = {}
        for y in rng.sample([2026, 2027, 2028], rng.randint(1, 3)):
            for fld in rng.sample(PRICE_FIELDS, rng.randint(1, 3)):
                optional = fld in ("cea_sell_cny_per_t", "cea_spread_cny_per_t", "penalty_reference_cny_per_t")
                ov[f"market.{y}.{fld}"] = None if (optional and rng.random() < 0.3) else round(rng.uniform(*RANGES[fld]), 2)
        v = Variant(f"v{i}", ov)
        expected = None
        try:
            full = variant_case(case, v)
        except CaseValidationError as exc:
            expected = exc.problems
        if expected is not None:
            with pytest.raises(CaseValidationError) as got:
                apply_variant(case, v)
            assert got.value.problems == expected, i
            n_bad += 1
            continue
        app = apply_variant(case, v)
        assert app.reprice and app.case == full, i
        _same_case(apply_variant(case, v, validated=True).case, full, i)  # a sweep's worker, after validate_variants
        fast, ref = reprice_entity(base, app.case), prepare(full)
        assert fast.data == ref.data and fast.warnings == ref.warnings and fast.notes == ref.notes, i
        pd.testing.assert_frame_equal(fast.inputs, ref.inputs, check_exact=True)
        lean = reprice_entity(base, app.case, inputs=False)  # a fast sweep's: warnings worked out on reading
        assert lean.inputs is None and lean.data == ref.data and lean.warnings == ref.warnings, i
        n_ok += 1
    assert n_ok >= 100 and n_bad >= 10


# -------------------------------------------------------------------------- warm vs rebuild
def _group_variant(rng, spec, i):
    """Mostly prices (objective only), some limits, budgets and potentials (same structure), a few
    structural changes (no pool, no transfers, a tier more)."""
    years = spec.group.horizon.years
    ov = {f"price_factor.{y}": rng.uniform(0.6, 1.6) for y in years}
    ov["price_factor_fields"] = "cea_buy_cny_per_t,ccer_cny_per_t"
    # distinct trading fees per entity: otherwise the entities' identical prices make many group
    # plans equally good (which entity buys on the market, which receives pooled CCERs)
    for c in spec.entities:
        ov[f"entities.{c.entity.id}.market.*.fee_cny_per_t"] = round(rng.uniform(0.05, 2.0), 3)
        ov[f"entities.{c.entity.id}.market.*.ccer_fee_cny_per_t"] = round(rng.uniform(0.05, 2.0), 3)
    k = i % 12
    if k in (2, 3, 8):  # the base case limits every year's group purchases: new limits, same rows
        ov["limits"] = [{"year": y, "buy_limit_t": rng.choice([2.0e5, 6.0e5, 1.0e7])} for y in years]
    if k == 9:
        ov["transfers.price_cny_per_t"] = round(rng.uniform(50, 120), 2)
    if k == 4:
        e = spec.entities[rng.randrange(len(spec.entities))].entity.id
        ov[f"entities.{e}.abatement.measures.0.potential_t_per_year"] = round(rng.uniform(0, 50_000))
    if k == 5:
        ov["limits"] = [{"year": y, "buy_limit_t": 1.0e7, "budget_cny": 1.0e9 if y == years[0] else None} for y in years]
    if k == 7:
        ov["ccer_pool"] = None
    if k == 11:
        ov["transfers.mode"] = "none"
        ov["price_tiers"] = [{"up_to_t": 1.0e5, "premium_cny_per_t": 0.0}, {"premium_cny_per_t": round(rng.uniform(0, 5), 2)}]
    return ov


def _rebuild(spec, opts):
    prep = prepare_group(spec)
    m = build_model(prep.data)
    cm = compile_model(m)
    res = solve_model(m, opts)
    df = dict(zip(prep.data.years, prep.data.discount_factor, strict=True))
    plan = assemble_group_plan(prep, extract_results(m, df, res.duals), extract_links(m), res, None)
    return prep, cm, res, plan


def _same_lp(h, lp):
    """The LP HiGHS holds after the warm update equals the rebuilt model's compiled LP."""
    import numpy as np

    got = h.getLp()
    assert (got.num_col_, got.num_row_) == (lp.num_col_, lp.num_row_)
    for f in ("col_lower_", "col_upper_", "row_lower_", "row_upper_"):
        assert np.array_equal(np.asarray(getattr(got, f)), np.asarray(getattr(lp, f))), f
    np.testing.assert_allclose(np.asarray(got.col_cost_), np.asarray(lp.col_cost_), rtol=1e-12, atol=1e-12)
    assert got.offset_ == approx(lp.offset_, rel=1e-12, abs=1e-6)
    # dense comparison: HiGHS may hold the matrix row-wise after a solve, and drops a coefficient
    # changed to 0 (the rebuilt model keeps it as an explicit 0)
    np.testing.assert_allclose(_dense(got.a_matrix_, got), _dense(lp.a_matrix_, lp), rtol=1e-12, atol=1e-9)


def _dense(a, lp):
    import numpy as np

    out = np.zeros((lp.num_row_, lp.num_col_))
    start, index, value = np.asarray(a.start_), np.asarray(a.index_), np.asarray(a.value_)
    rowwise = "row" in str(a.format_).lower()
    for k in range(len(start) - 1):
        for p in range(start[k], start[k + 1]):
            if rowwise:
                out[k, index[p]] += value[p]
            else:
                out[index[p], k] += value[p]
    return out


def test_warm_group_resolves_equal_rebuilds_and_pass_the_group_checker():
    """Generated group variants through one WarmSolver (all three paths). A group plan is seldom
    unique (entities with the same prices can swap purchases, surrenders can move between years at
    the same cost), so "the same plan" is checked where it is defined: the LP the warm solver hands
    to HiGHS equals the rebuilt model's (costs, bounds, matrix), the optimal objectives are equal,
    and both plans pass the group checker for every entity and the links; the warm plan's own tables
    are the full group plan tables (``assemble_group_plan``)."""
    spec = _small_group(transfers="free")
    spec = variant_group_full(spec, Variant("limited", {"limits": [{"year": y, "buy_limit_t": 1.0e7} for y in spec.group.horizon.years]}))
    opts = options_for(spec)
    ws = WarmSolver(opts)
    rng = random.Random(21)
    paths = {}
    state = {}
    for i in range(18):
        v = Variant(f"v{i}", _group_variant(rng, spec, i))
        prep, _how = prepared_variant(spec, v, state)
        vr = plan_group_variant(ws, prep)
        paths[vr.path] = paths.get(vr.path, 0) + 1
        cprep, cm, cres, cplan = _rebuild(variant_group_full(spec, v), opts)
        assert cprep.data == prep.data, i
        _same_lp(ws._h, cm.lp)
        assert vr.plan is not None, i
        assert check_group(prep.data, vr.plan, objective=vr.solve.objective) == [], i
        assert check_group(cprep.data, cplan, objective=cres.objective) == [], i
        assert vr.solve.objective == approx(cres.objective, rel=1e-9, abs=1e-6), i
        assert vr.plan.summary["npv_cost_cny"] == approx(cplan.summary["npv_cost_cny"], rel=1e-9), i
    assert min(paths.get(k, 0) for k in ("objective_only", "in_place", "new_structure")) >= 3, paths


def test_group_fast_tables_equal_the_plan_tables():
    spec = _small_group()
    rng = random.Random(4)
    variants = [_group_variant(rng, spec, i) for i in range(8)]
    plan = sweep(spec, variants, chunk_size=4)
    fast = sweep(spec, variants, chunk_size=4, tables="fast")
    assert set(plan.scenarios["status"]) == {"optimal"}
    cols = [c for c in plan.frame.columns if c not in ("shadow_price_cny_per_t", "solver_path")]
    pd.testing.assert_frame_equal(plan.frame[cols], fast.frame[cols], check_exact=False, rtol=1e-9, atol=1e-5)
    levels = plan.frame[plan.frame["scenario"] == "v00000"]["level"].value_counts().to_dict()
    assert levels == {"entity-year": 3 * 4, "group-year": 4, "entity": 3, "group": 1}


def test_invalid_group_variant_names_scenario_entity_and_field():
    spec = _small_group()
    e = spec.entities[1].entity.id
    with pytest.raises(CaseValidationError, match=rf"scenario v00001: entities \({e}\)\.market\[0\] \(year 2025\)\.cea_buy_cny_per_t"):
        sweep(spec, [{}, {f"entities.{e}.market.2025.cea_buy_cny_per_t": -5}], )
    with pytest.raises(CaseValidationError, match=r"scenario v00001: .*no entity of the group matches"):
        sweep(spec, [{}, {"entities.NOPE.market.2025.cea_buy_cny_per_t": 5}])
    with pytest.raises(CaseValidationError, match=r"scenario v00001: .*years outside the horizon"):
        sweep(spec, [{}, {"limits": [{"year": 2040, "buy_limit_t": 1}]}])


# --------------------------------------------------------------------------------- repeatable
def test_one_and_two_workers_write_byte_identical_result_files(tmp_path):
    """The same sweep (a group case, plan tables; an entity case, fast tables) with 1 and with 2
    worker processes: results.parquet and scenarios.csv are the same bytes."""
    from tests.solver.test_sweep import _generated_base, _variant

    spec = _small_group()
    rng = random.Random(9)
    gvars = [_group_variant(rng, spec, i) for i in range(8)]
    case = parse_case(_generated_base())
    evars = [_variant(rng, i) for i in range(12)]
    for name, c, vs, tables in (("g", spec, gvars, "plan"), ("e", case, evars, "fast")):
        outs = []
        for w in (1, 2):
            out = tmp_path / f"{name}{w}"
            sweep(c, copy.deepcopy(vs), workers=w, out=out, tables=tables, chunk_size=3)
            outs.append(out)
        for f in ("results.parquet", "scenarios.csv"):
            assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), (name, f)


def test_cli_sweeps_a_group_case_file_and_resumes(tmp_path):
    """``planner sweep GROUP.yaml SWEEP.yaml``: a group case file (inline entities), a price grid
    and price paths; the results hold the group rows; a second run with --resume solves nothing."""
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    planner = str(Path(sys.executable).with_name("planner"))
    case = tmp_path / "group.yaml"
    case.write_text(yaml.safe_dump(_hand_group().model_dump(mode="json"), sort_keys=False))
    spec = tmp_path / "sweep.yaml"
    spec.write_text(yaml.safe_dump({"grid": {"price_factor.2025": [0.7, 0.9]},
                                    "price_paths": {"n": 3, "seed": 2, "volatility": 0.3}}))
    out = tmp_path / "out"
    cmd = [planner, "sweep", str(case), str(spec), "--out", str(out), "--workers", "0"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "6 scenarios (0 already done, 6 solved now)" in res.stdout
    f = pd.read_parquet(out / "results.parquet")
    g = f[f["level"] == "group"].set_index("scenario")["total_cost_cny"]
    assert g["grid-00000"] == approx(_hand(70.0)[0], abs=1e-3) and g["grid-00001"] == approx(_hand(90.0)[0], abs=1e-3)
    assert {p.name for p in (out / "plots").glob("*.png")} >= {"cost_vs_price.png", "paths.png"}
    again = subprocess.run(cmd + ["--resume"], capture_output=True, text=True)
    assert again.returncode == 0 and "(6 already done, 0 solved now)" in again.stdout, again.stderr


def test_group_study_example_validates():
    """The example sweep file of the 30-plant group case: every variant validates."""
    from pathlib import Path

    from planner.input.read import load_group_case, read_case_data
    from planner.studies.variants import SweepSpec, as_variants, validate_variants

    root = Path(__file__).resolve().parents[2]
    spec = load_group_case(root / "cases/group_hn_generation/group.yaml")
    sw = SweepSpec.model_validate(read_case_data(root / "cases/studies/group_price_study.yaml"))
    vs = as_variants(spec, sw)
    validate_variants(spec, vs)
    assert len(vs) == 1 + 4 + 20
    assert all(apply_variant(spec, v).reprice for v in vs if v.kind == "price_path")


def test_value_of_pooling_per_scenario_by_hand():
    """The two plants of tests/solver/test_group.py (A balanced, MAC 30 for 10,000 t then 50 for
    20,000 t; B 25,000 t short, MAC 40 for 10,000 t then 70; sell 10; free transfers) with the
    CEA buy price P of both swept over 100, 60 and 45:
    - alone: A does nothing (0); B abates 10,000 at 40 and covers 15,000 at min(P, 70):
      P = 100 -> 400,000 + 1,050,000 = 1,450,000; 60 -> 400,000 + 900,000 = 1,300,000;
      45 -> 400,000 + 675,000 = 1,075,000;
    - group: the merit order over both curves and the market for 25,000 t: 10,000 at 30, 10,000 at
      40, then 5,000 at min(50, P): 950,000 for P = 100 and 60, 925,000 for P = 45;
    - value of pooling: 500,000, 350,000, 150,000.
    Fast tables and full plans give the same columns; each equals run_group's value of pooling."""
    from planner.api import run_group
    from planner.studies.variants import as_variants, variant_group_full
    from tests.solver.test_group import entity, group

    spec = group([entity("A", 100_000, [(30, 10_000), (50, 20_000)]), entity("B", 75_000, [(40, 10_000), (70, 20_000)])],
                 transfers={"mode": "free", "price_cny_per_t": 55})
    vs = [{"entities.*.market.2025.cea_buy_cny_per_t": p} for p in (100.0, 60.0, 45.0)]
    want = {"v00000": (1_450_000, 950_000, 500_000), "v00001": (1_300_000, 950_000, 350_000), "v00002": (1_075_000, 925_000, 150_000)}
    for tables in ("fast", "plan"):
        sc = sweep(spec, vs, tables=tables, chunk_size=3).scenarios.set_index("scenario")
        for sid, (alone, grp, pool) in want.items():
            assert sc.loc[sid, "standalone_npv_cny"] == pytest.approx(alone), (tables, sid)
            assert sc.loc[sid, "npv_cost_cny"] == pytest.approx(grp), (tables, sid)
            assert sc.loc[sid, "pooling_value_cny"] == pytest.approx(pool), (tables, sid)
    for v in as_variants(spec, vs):
        ref = run_group(variant_group_full(spec, v)).plan.summary["value_of_pooling_cny"]
        assert ref == pytest.approx(want[v.id][2])
    # a group case that does not ask for it leaves the columns empty
    off = sweep(spec.model_copy(update={"value_of_pooling": False}), vs[:1], tables="fast").scenarios
    assert off["pooling_value_cny"].isna().all() and off["standalone_npv_cny"].isna().all()


def test_the_objective_constant_split_into_terms_equals_its_evaluation():
    """``planner.solve.warm_pyomo._affine`` splits an expression with many parameters into the terms of its
    sums (the objective constant of a group holds every entity's terminal values and fines) instead
    of evaluating it once per parameter; on a 12-plant group both give the same constant and the
    same gradient (to rounding), and the split is what the objective gradient uses."""
    from pyomo.core.expr.visitor import identify_mutable_parameters
    from pyomo.repn.standard_repn import generate_standard_repn

    from planner.prepare.group import prepare_group
    from planner.solve.warm import WarmSolver
    from planner.solve.warm_pyomo import _SPLIT_PARAMS, _affine, _affine_eval, _affine_split

    ws = WarmSolver()
    ws.prime(prepare_group(fleet_group(12, seed=4)).data)
    holder = ws.backend._holder
    pidx = {id(holder.p[i]): i for i in holder.p}
    const = generate_standard_repn(ws.backend._model.objective.expr, compute_values=False, quadratic=False).constant
    assert len(list(identify_mutable_parameters(const))) > _SPLIT_PARAMS
    saved = [holder.p[i].value for i in holder.p]
    c_split, g_split = _affine_split(const, pidx)
    c_eval, g_eval = _affine_eval(const, pidx)
    for i, v in enumerate(saved):
        holder.p[i].set_value(v)
    assert c_split == pytest.approx(c_eval, rel=1e-12, abs=1e-6)
    a, b = dict(g_split), dict(g_eval)
    assert a.keys() == b.keys() and len(a) > _SPLIT_PARAMS
    for i in a:
        assert a[i] == pytest.approx(b[i], rel=1e-12, abs=1e-9), i
    assert _affine(const, pidx) == (c_split, g_split)
    for i, v in enumerate(saved):
        holder.p[i].set_value(v)
