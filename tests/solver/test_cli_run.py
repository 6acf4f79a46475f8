"""`planner run`: writes a complete plan folder, or nothing, with meaningful exit codes."""

import copy
import json

import pytest
import yaml

import planner.api
import planner.plan.check
from planner.cli import main

CASE = {
    "entity": {"id": "CLI1", "sector": "power", "unit_class": "coal_gt300"},
    "horizon": {"first_year": 2025, "last_year": 2026},
    "allocation": {"method": "given", "coal_floor": "off", "given": [{"year": 2025, "allocation_t": 90_000}, {"year": 2026, "allocation_t": 90_000}]},
    "activity": [{"year": y, "output": 100_000, "emissions_t": 100_000} for y in (2025, 2026)],
    "market": [{"year": y, "cea_buy_cny_per_t": 60, "cea_sell_cny_per_t": 59, "ccer_cny_per_t": 50, "ccer_available_t": 1e9}
               for y in (2025, 2026)],
    "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
}
# Each year: gap 10,000 t; CCER (50) is cheaper than CEA (60) up to 5% x 100,000 = 5,000 t,
# the other 5,000 t are bought: 5,000 x 50 + 5,000 x 60 = 550,000 CNY a year, undiscounted.


def _write(tmp_path, data):
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def test_run_writes_every_output(tmp_path, capsys):
    out = tmp_path / "plan"
    assert main(["run", str(_write(tmp_path, CASE)), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"annual.csv", "costs.csv", "bindings.csv", "assumptions.csv", "plan.json", "summary.md"} <= names
    body = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert body["audit"]["checker"] == "passed" and len(body["audit"]["input_sha256"]) == 64
    assert body["summary"]["rule_pack"] == "cn-national@2026.11"
    text = capsys.readouterr().out
    assert "CCER cap binds in 2025" in text
    assert "Assumptions to verify" in text


def test_infeasible_hard_compliance_exits_2_and_writes_nothing(tmp_path, capsys):
    bad = copy.deepcopy(CASE)
    bad["policy"] = {"compliance": "hard"}
    for row in bad["market"]:
        row.update(buy_limit_t=1_000, ccer_available_t=0)
    out = tmp_path / "plan"
    assert main(["run", str(_write(tmp_path, bad)), "--out", str(out)]) == 2
    assert "infeasible" in capsys.readouterr().err
    assert not out.exists()


def test_checker_failure_refuses_to_write(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(planner.plan.check, "check_plan", lambda *a, **k: ["stock balance broken (injected)"])
    out = tmp_path / "plan"
    out.mkdir()
    (out / "plan.json").write_text("old plan", encoding="utf-8")  # a previous plan (before manifests)
    assert main(["run", str(_write(tmp_path, CASE)), "--out", str(out)]) == 4
    assert "injected" in capsys.readouterr().err
    assert (out / "plan.json").read_text(encoding="utf-8") == "old plan"  # previous plan left intact


def test_doctor_reports_solver(capsys):
    assert main(["doctor"]) == 0
    assert "HiGHS" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["direct", "pyomo"])
def test_backends_agree(backend):
    from planner.api import build, solve
    from planner.input.read import parse_case
    from planner.solve.highs import SolveOptions

    case = parse_case(copy.deepcopy(CASE))
    res = solve(build(case), SolveOptions(backend=backend))
    assert res.plan.summary["objective_cny"] == pytest.approx(550_000 * 2, rel=1e-9)
    assert res.plan.annual["shadow_price_cny_per_t"].tolist() == pytest.approx([60.0, 60.0])


def test_time_limit_without_a_plan_is_reported_not_returned(tmp_path, capsys):
    """A 1 microsecond limit stops HiGHS before any plan: typed status, exit code 2, nothing written."""
    from planner.api import build, solve
    from planner.errors import NonOptimalError
    from planner.input.read import parse_case
    from planner.solve.highs import SolveOptions, SolveStatus

    d = copy.deepcopy(CASE)
    d["abatement"] = {"projects": [{"id": f"p{i}", "capex_cny": 10_000 * (i + 1), "reduction_t_per_year": 1_000, "lifetime_years": 5} for i in range(4)]}
    with pytest.raises(NonOptimalError) as exc:
        solve(build(parse_case(d)), SolveOptions(time_limit_s=1e-6))
    assert exc.value.result.status in (SolveStatus.NO_SOLUTION, SolveStatus.FEASIBLE)
    out = tmp_path / "plan"
    assert main(["run", str(_write(tmp_path, d)), "--out", str(out), "--time-limit", "0.000001"]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


def test_solver_log_goes_to_the_logger(caplog):
    import logging

    from planner.api import build, solve
    from planner.input.read import parse_case

    with caplog.at_level(logging.DEBUG, logger="planner.solve.highs"):
        solve(build(parse_case(copy.deepcopy(CASE))))
    assert any(r.name == "planner.solve.highs" and "HiGHS" in r.getMessage() for r in caplog.records)
