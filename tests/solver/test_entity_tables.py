"""The library's plan tables of an entity (``planner.plan.entity.assemble_plan``: a group of one)
and the fast tables of sweeps (planner.plan.entity_tables) against the per-entity oracle
(``tests.oracles.tables.assemble_plan``; the checker ``planner.plan.check.check_plan`` against the
per-entity oracle ``tests.oracles.check.check_plan``): every table of every variant's
plan exactly equal (pandas ``assert_frame_equal``, no tolerance), the same summary, notes and
warnings, the same checker findings; on a MIP case with integer projects, on generated cases (with
shortfalls, project and lot warnings, binding limits), and on plans corrupted after assembly,
which the array checker must fail exactly as the reference does.
"""

import copy
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.bounds import unbounded_arbitrage
from planner.input.read import load_case, parse_case
from planner.plan.check import check_plan as check_plan_arrays
from planner.plan.entity import Plan, assemble_plan
from planner.plan.entity_tables import EntityTables
from planner.solve.highs import SolveOptions
from planner.solve.warm import WarmSolver
from planner.studies.sweep import prepared_variant, sweep
from planner.studies.variants import as_variants
from tests.oracles.check import check_plan
from tests.oracles.tables import assemble_plan as reference_plan
from tests.solver.test_properties import cases

ROOT = Path(__file__).resolve().parents[2]
PATHS = {
    "include_base": True,
    "price_paths": {
        "n": 5,
        "seed": 3,
        "volatility": 0.35,
        "fields": ["cea_buy_cny_per_t", "ccer_cny_per_t"],
    },
}


def assert_plans_equal(new: Plan, ref: Plan) -> None:
    for name in Plan.TABLES:
        pd.testing.assert_frame_equal(
            getattr(new, name), getattr(ref, name), check_exact=True, obj=name
        )
    assert new.summary == ref.summary
    assert (new.notes, new.warnings) == (ref.notes, ref.warnings)


def plan_both(case, spec, opts=None):
    """Every variant planned by the per-entity reference (``tests.oracles.tables``), by the
    library's builder (``assemble_plan``: a group of one) and by one EntityTables (in order, as a
    sweep does); asserts equal plans and equal checker findings. Returns the EntityTables and the
    (prepared case, fast plan, objective) of each variant with a plan. A variant without a plan
    must be one whose prices reward unbounded arbitrage (``models.bounds``): the solver says
    "unbounded"."""
    ws = WarmSolver(opts or SolveOptions(duals=True))
    et = EntityTables()
    state: dict = {}
    out = []
    for v in as_variants(case, spec):
        prep, _ = prepared_variant(case, v, state)
        _, res, results, _ = ws.solve_results(prep)
        if results is None:
            assert str(res.status) == "unbounded" and unbounded_arbitrage(prep.data), (v, res.status)
            continue
        ref = reference_plan(prep, results, res)
        assert_plans_equal(assemble_plan(prep, results, res), ref)
        new = et.assemble(prep, results, res)
        assert_plans_equal(new, ref)
        found = check_plan_arrays(prep.data, new, objective=res.objective)
        assert found == check_plan(prep.data, ref, objective=res.objective)
        out.append((prep, new, res.objective))
    return et, out


def test_mip_case_with_integer_projects_equal_on_price_paths():
    case = load_case(ROOT / "cases" / "coal_2x660.yaml")
    et, plans = plan_both(case, PATHS)
    assert len(plans) == 6
    assert all(p.summary["is_mip"] for _, p, _ in plans) and any(len(p.builds) for _, p, _ in plans)
    # all but the first from the layout: the fast path is what was compared
    assert et.stats == {"reference": 1, "layout": 5}
    assert all(check_plan_arrays(prep.data, p, objective=o) == [] for prep, p, o in plans)


def test_structure_change_falls_back_to_the_reference_and_relayouts():
    """Variants whose result rows differ (here: no abatement measures) are planned by the reference."""
    case = load_case(ROOT / "cases" / "coal_2x660.yaml")
    assert case.abatement.measures
    spec = [
        {},
        {"market.*.cea_buy_cny_per_t": 90.0},
        {"abatement.measures": []},
        {"abatement.measures": [], "market.*.cea_buy_cny_per_t": 95.0},
    ]
    et, plans = plan_both(case, spec)
    assert len(plans) == 4
    assert et.stats == {"reference": 2, "layout": 2}


GEN = settings(
    max_examples=12,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)


@GEN
@given(cases(), st.integers(0, 10_000))
def test_generated_cases_equal_on_price_paths(d, seed):
    d = copy.deepcopy(d)
    d["policy"]["compliance"] = "penalty"  # always feasible: every variant has a plan
    spec = {
        "include_base": True,
        "price_paths": {
            "n": 3,
            "seed": seed,
            "volatility": 0.5,
            "fields": ["cea_buy_cny_per_t", "cea_sell_cny_per_t", "ccer_cny_per_t"],
        },
    }
    case = parse_case(d)
    et, plans = plan_both(case, spec)
    bounded = [v for v in as_variants(case, spec) if unbounded_arbitrage(prepared_variant(case, v, {})[0].data) is None]
    assert len(plans) == len(bounded)
    assert et.stats["layout"] >= 1 or len(bounded) < 2


def test_cases_with_warnings_shortfalls_and_bindings():
    """A lot never eligible and a project that cannot start (prepare's warnings), a hard purchase
    limit (a shortfall, binding statements), CCER at its cap."""
    case = {
        "entity": {"id": "W", "sector": "power", "unit_class": "coal_gt300"},
        "horizon": {"first_year": 2025, "last_year": 2028},
        "activity": [
            {"year": y, "output": 1, "emissions_t": 100_000 + 5_000 * k}
            for k, y in enumerate(range(2025, 2029))
        ],
        "allocation": {
            "method": "given",
            "given": [{"year": y, "allocation_t": 80_000} for y in range(2025, 2029)],
        },
        "opening": {
            "cea_by_vintage": {2024: 5_000},
            "ccer_lots": [
                {"id": "old", "quantity_t": 3_000, "system": "old"},
                {"id": "new", "quantity_t": 4_000, "system": "new"},
            ],
        },
        "market": [
            {
                "year": y,
                "cea_buy_cny_per_t": 90.0 + 5 * k,
                "ccer_cny_per_t": 60.0,
                "buy_limit_t": 8_000,
                "ccer_available_t": 2_000,
            }
            for k, y in enumerate(range(2025, 2029))
        ],
        "abatement": {
            "measures": [
                {"id": "m1", "cost_cny_per_t": 40.0, "potential_t_per_year": 3_000},
                {"id": "m2", "cost_cny_per_t": 400.0, "potential_t_per_year": 3_000},
            ],
            "projects": [
                {
                    "id": "late",
                    "capex_cny": 1_000_000,
                    "reduction_t_per_year": 2_000,
                    "lead_time_years": 6,
                    "lifetime_years": 10,
                },
                {
                    "id": "p",
                    "capex_cny": 500_000,
                    "reduction_t_per_year": 3_000,
                    "lead_time_years": 1,
                    "lifetime_years": 10,
                },
            ],
        },
        "policy": {"compliance": "penalty"},
    }
    spec = [
        {},
        {"market.*.cea_buy_cny_per_t": 150.0},
        {"market.*.cea_buy_cny_per_t": 30.0},
        {"market.*.ccer_cny_per_t": 200.0},
    ]
    et, plans = plan_both(parse_case(case), spec)
    assert len(plans) == 4 and et.stats["layout"] == 3
    assert any(p.warnings for _, p, _ in plans)
    assert any(p.summary["total_shortfall_t"] > 0 for _, p, _ in plans)
    rules = set().union(*(set(p.bindings["rule"]) for _, p, _ in plans))
    assert {"buy_limit", "shortfall", "marginal_cost"} <= rules


def _copy(p: Plan) -> Plan:
    return replace(
        p,
        annual=p.annual.copy(),
        abatement=p.abatement.copy(),
        costs=p.costs.copy(),
        ccer_lots=p.ccer_lots.copy(),
        builds=p.builds.copy(),
        project_years=p.project_years.copy(),
    )


@pytest.fixture(scope="module")
def coal_plans():
    _, plans = plan_both(load_case(ROOT / "cases" / "coal_2x660.yaml"), PATHS)
    return plans


def _bump(df: pd.DataFrame, col: str, where, by: float) -> None:
    df.loc[where, col] = df.loc[where, col] + by


@pytest.mark.parametrize(
    "what",
    [
        "buy",
        "surrender",
        "net_sales",
        "emissions",
        "abatement",
        "cost",
        "lot",
        "build",
        "missing_year",
        "objective",
    ],
)
def test_corrupted_plans_fail_the_library_checker_as_the_oracle(coal_plans, what):
    prep, plan, objective = coal_plans[2]
    data = prep.data
    bad = _copy(plan)
    y = int(data.years[1])
    a = bad.annual
    if what == "buy":
        _bump(a, "buy_t", a["year"] == y, 5_000.0)
    elif what == "surrender":
        _bump(a, "surrender_t", a["year"] == y, -5_000.0)
    elif what == "net_sales":
        _bump(a, "net_sales_t", a["year"] >= y, 1_000.0)
    elif what == "emissions":
        _bump(a, "emissions_t", a["year"] == y, 250.0)
    elif what == "abatement":
        bad.abatement["abate_t"] = bad.abatement["abate_t"] * 1.5 + 10.0
    elif what == "cost":
        c = bad.costs
        _bump(c, "nominal_cny", (c["year"] == y) & (c["component"] == "purchase"), 1e6)
    elif what == "lot":
        assert len(bad.ccer_lots)
        bad.ccer_lots["ccer_use_lot_t"] = bad.ccer_lots["ccer_use_lot_t"] + 1e6
    elif what == "build":
        assert len(bad.builds)
        bad.builds = pd.concat([bad.builds, bad.builds], ignore_index=True)
    elif what == "missing_year":
        bad.annual = a[a["year"] != y].reset_index(drop=True)
    elif what == "objective":
        objective = objective + 1e6
    found = check_plan_arrays(data, bad, objective=objective)
    assert found, what
    assert found == check_plan(data, bad, objective=objective)
    if what not in ("objective", "abatement", "lot", "build", "cost"):
        assert any(str(y) in f for f in found)


def test_sweep_frames_equal_with_the_reference_tables(monkeypatch):
    """``sweep(tables="plan")`` through the fast tables gives the frame the reference gives."""
    import planner.studies.sweep as sw

    case = load_case(ROOT / "cases" / "coal_2x660.yaml")
    spec = {
        "include_base": True,
        "price_paths": {"n": 4, "seed": 5, "volatility": 0.3, "fields": ["cea_buy_cny_per_t"]},
    }
    fast = sweep(case, spec, tables="plan", chunk_size=3)
    monkeypatch.setattr(sw, "_entity_tables", lambda state: None)
    ref = sweep(case, spec, tables="plan", chunk_size=3)
    assert set(fast.frame["status"]) == {"optimal"}
    pd.testing.assert_frame_equal(fast.frame, ref.frame, check_exact=True)
