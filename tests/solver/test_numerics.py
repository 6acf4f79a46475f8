"""Scale checks before solving name the inputs; results are rounded only when displayed."""

import copy
from pathlib import Path

import pytest
import yaml

from planner.api import build, run
from planner.cli import main
from planner.input.read import load_case, parse_case
from planner.solve.highs import compile_model
from planner.solve.numerics import input_warnings, scale_warnings
from tests.solver.helpers import case_dict, row, solve

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "cases").glob("*.yaml"))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_example_cases_raise_no_scale_warning(case):
    c = load_case(case)
    assert input_warnings(c) == []
    assert scale_warnings(compile_model(build(c).model)) == []


def test_emissions_in_the_wrong_unit_are_named():
    """1e15 t in one year next to 1,000 t in another: the case input and the matrix entries are named."""
    d = case_dict(years=(2025, 2026), emissions=[1000, 1e15], allocation=1000)
    c = parse_case(d)
    (w,) = input_warnings(c)
    assert "activity[1] (year 2026).emissions_t" in w and "1e+15" in w
    m = scale_warnings(compile_model(build(c).model))
    assert m and all("badly scaled" in x for x in m)
    assert any("limit_floor_net_sales[2026]" in x for x in m)  # the big-M the emissions feed


def test_scale_warnings_reach_the_plan_and_the_error(tmp_path, capsys, caplog):
    d = case_dict(years=(2025, 2026), emissions=1000, allocation=1000, buy=[1e-9, 1e6], sell=[0.0, 1e6])
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(d), encoding="utf-8")
    rc = main(["run", str(p), "--out", str(tmp_path / "plan")])
    out, err = capsys.readouterr()
    logged = [r.getMessage() for r in caplog.records if r.name == "planner.solve.numerics"]
    assert any(m.startswith("badly scaled costs") for m in logged)  # before solving, whatever the outcome
    assert any("market[0] (year 2025).cea_buy_cny_per_t" in m for m in logged)
    if rc == 0:
        assert "Warning: badly scaled costs" in out
        assert "badly scaled costs" in (tmp_path / "plan" / "summary.md").read_text(encoding="utf-8")
    else:
        assert rc == 2 and "badly scaled" in err


def test_results_are_not_rounded_before_display(tmp_path):
    """Emissions 100,000.1234567891 t, allocation 90,000 t, CCER (50) cheaper than CEA (60):
    CCER = 5% x obligation = 5,000.006172839455 t, buy = the rest = 5,000.117283949645 t."""
    d = case_dict(emissions=100_000.1234567891, allocation=90_000)
    plan = solve(copy.deepcopy(d))
    assert row(plan, 2025).buy_t == pytest.approx(5_000.117283949645, abs=1e-8)
    assert row(plan, 2025).ccer_surrendered_t == pytest.approx(5_000.006172839455, abs=1e-8)
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(d), encoding="utf-8")
    assert main(["run", str(p), "--out", str(tmp_path / "plan")]) == 0
    csv = (tmp_path / "plan" / "annual.csv").read_text(encoding="utf-8")
    assert "5000.117284" in csv  # six decimals in the file, full precision in the checked plan
    assert run(parse_case(copy.deepcopy(d))).plan.summary["objective_cny"] == pytest.approx(
        5_000.006172839455 * 50 + 5_000.117283949645 * 60, rel=1e-12)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_numbers_the_solver_cannot_represent_are_input_errors(tmp_path, capsys, command):
    """Found by the 10,000-case run: a measure costing -1e300 CNY/t reached HiGHS, which treats
    magnitudes of 1e20 as infinite; the objective came back -inf and the checker refused (exit 4)."""
    d = case_dict()
    d["abatement"] = {"measures": [{"id": "m", "cost_cny_per_t": -1e300, "potential_t_per_year": 1}]}
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(d), encoding="utf-8")
    args = [command, str(p)] + (["--out", str(tmp_path / "plan")] if command == "run" else [])
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {p}: 1 problem(s)")
    assert "abatement.measures[0].cost_cny_per_t: 1e+300 is larger than 1e+15 in magnitude" in err


def test_carry_floor_big_m_stays_near_the_entity_size():
    """The floor's big-M comes from the lower bound on cumulative net sales. Bounded by a derived
    purchase bound (1.8e8 t a year in the coal case) it reached 1.45e9 and HiGHS's presolve returned
    a wrong 'optimal' plan (below); from the stock balances it is at most the emissions so far plus
    the floor (and its margin, models.bounds), i.e. under 8 x 5.82e6 + 10,000 t (+0.1%) for the coal case."""
    from models.bounds import net_sales_range

    data = build(load_case(ROOT / "cases" / "coal_2x660.yaml")).prep.data
    d = data.entities[0]
    total = sum(d.emissions_baseline_t)
    lo = net_sales_range(data).lo[0]
    assert (-lo <= (-d.opening_net_sales_t + total + 10_000) * 1.001 + 1.0).all()


def test_presolve_on_and_off_agree_on_a_price_path_that_fooled_presolve():
    """Scenario path-00043 of cases/studies/price_study.yaml on the coal case: HiGHS with presolve
    reported 609.9 M CNY 'optimal' (shortfalls fined at 330-675 CNY/t) when presolve off found
    208.3 M. With data-derived big-M values both agree: 223,537,024 CNY on the case as it is now (its
    opening holdings at their limit, CCERs at its share of the issuance)."""
    from planner.solve.highs import SolveOptions
    from planner.studies.variants import SweepSpec, generate, variant_case

    case = load_case(ROOT / "cases" / "coal_2x660.yaml")
    spec = SweepSpec.model_validate(yaml.safe_load((ROOT / "cases" / "studies" / "price_study.yaml").read_text()))
    v = next(v for v in generate(case, spec) if v.id == "path-00043")
    objs = [run(variant_case(case, v), SolveOptions(highs_options={"presolve": p})).solve.objective for p in ("on", "off")]
    assert objs[0] == pytest.approx(objs[1], rel=1e-7)
    assert objs[0] == pytest.approx(223_537_024, abs=1.0)


def test_a_row_of_fixed_variables_may_carry_round_off_of_its_terms_size():
    """A row whose variables are all fixed (e.g. a stochastic plan's first year fixed for the EEV)
    is dropped when it holds; the round-off of fixing values of tens of Mt is about 1e-9 of them:
    x = 34,771,754.354597 t, y = x - w with w = 0.449491 t leave x - y - w = -3.5e-9, which must
    compile, while a real violation of 1e-6 of the terms' size must still be refused."""
    import pyomo.environ as pyo

    x, w = 34771754.35459705, 0.4494910647887381
    y = x - w
    assert abs(x - y - w) > 1e-9  # the round-off this test is about

    def model(shift: float):
        m = pyo.ConcreteModel()
        m.x, m.y, m.z = pyo.Var(), pyo.Var(), pyo.Var(bounds=(0, 1))
        m.x.fix(x)
        m.y.fix(y)
        m.c = pyo.Constraint(expr=m.x - m.y - (w + shift) == 0)
        m.o = pyo.Objective(expr=m.z)
        return m

    cm = compile_model(model(0.0))
    assert cm.lp.num_row_ == 0  # the fixed row holds and is dropped
    with pytest.raises(ValueError, match="trivially infeasible"):
        compile_model(model(1e-6 * 2 * x))
