"""`planner compare PLAN_A PLAN_B` (issue 20 item 6) on two hand-made plan folders whose differences
are known: costs by component, decisions by year, the rules that bind, what changed and by how much."""

import json

import pandas as pd
import pytest

from planner.cli import main
from planner.report.compare import (
    bindings_frame,
    changes,
    cost_frame,
    decisions_frame,
    read_plan_folder,
    summary_frame,
)


def _folder(path, *, buy, abate, terminal, bindings, builds):
    """A two-year plan of entity E. Costs: purchase = buy x 80 CNY/t each year, abatement = abate x
    30 CNY/t, and in 2026 the terminal value (negative cost); discount factor 1 then 0.9."""
    path.mkdir()
    years, df = [2025, 2026], [1.0, 0.9]
    annual = pd.DataFrame({"entity": "E", "year": years, "abatement_measures_t": abate, "abatement_projects_t": [0.0, 0.0],
                           "buy_t": buy, "sell_t": [0.0, 0.0], "ccer_buy_t": [0.0, 0.0], "ccer_surrendered_t": [0.0, 0.0],
                           "carry_t": [0.0, 0.0], "shortfall_t": [0.0, 0.0],
                           "total_cost_cny": [b * 80 + a * 30 + t for b, a, t in zip(buy, abate, [0.0, terminal], strict=True)]})
    annual.to_csv(path / "annual.csv", index=False)
    rows = []
    for i, y in enumerate(years):
        for comp, v in (("purchase", buy[i] * 80.0), ("abatement", abate[i] * 30.0), ("terminal", terminal if i == 1 else 0.0)):
            rows.append({"entity": "E", "year": y, "component": comp, "nominal_cny": v, "discount_factor": df[i], "discounted_cny": v * df[i]})
    costs = pd.DataFrame(rows)
    costs.to_csv(path / "costs.csv", index=False)
    npv = float(costs["discounted_cny"].sum())
    term = float(costs.loc[costs["component"] == "terminal", "discounted_cny"].sum())
    pd.DataFrame(bindings, columns=["entity", "year", "rule", "subject", "statement", "saving_cny_per_t"]).to_csv(path / "bindings.csv", index=False)
    pd.DataFrame(builds, columns=["entity", "project", "build_year"]).to_csv(path / "builds.csv", index=False)
    summary = {"npv_cost_cny": npv, "compliance_npv_cny": npv - term, "terminal_value_cny": -term,
               "nominal_cost_cny": float(costs["nominal_cny"].sum()), "total_obligation_t": 2000.0, "total_shortfall_t": 0.0,
               "terminal_valuation": "sell_price (the default)", "compliance_mode": "penalty", "years": years}
    (path / "plan.json").write_text(json.dumps({"summary": summary, "audit": {"input_sha256": path.name}}), encoding="utf-8")
    return path


@pytest.fixture
def plans(tmp_path):
    """A buys 100 t in 2025 and 200 t in 2026, abates 50 t a year, and holds nothing at the end.
    B buys 100 t and 150 t, abates 50 t and 100 t, starts project p1 in 2025, and holds allowances
    worth 1,000 CNY at the end. NPV A = 8,000 + 1,500 + 0.9 x (16,000 + 1,500) = 25,250.
    NPV B = 8,000 + 1,500 + 0.9 x (12,000 + 3,000 - 1,000) = 22,100; B's cost of compliance
    23,000 (22,100 + 0.9 x 1,000)."""
    a = _folder(tmp_path / "A", buy=[100.0, 200.0], abate=[50.0, 50.0], terminal=0.0,
                bindings=[("E", 2025, "ccer_cap", "", "CCER cap binds in 2025", 1.0),
                          ("E", 2026, "ccer_cap", "", "CCER cap binds in 2026", 1.0)], builds=[])
    b = _folder(tmp_path / "B", buy=[100.0, 150.0], abate=[50.0, 100.0], terminal=-1000.0,
                bindings=[("E", 2025, "ccer_cap", "", "CCER cap binds in 2025", 1.0),
                          ("E", 2026, "measure_potential", "m1", "measure m1 used to its full potential in 2026", None)],
                builds=[("E", "p1", 2025)])
    return read_plan_folder(a), read_plan_folder(b)


def test_headline_and_costs_by_component(plans):
    a, b = plans
    s = summary_frame(a, b).set_index("item")
    assert s.loc["npv_cost_cny", ["a", "b", "change"]].tolist() == pytest.approx([25250.0, 22100.0, -3150.0])
    assert s.loc["compliance_npv_cny", ["a", "b"]].tolist() == pytest.approx([25250.0, 23000.0])
    assert s.loc["terminal_value_cny", ["a", "b"]].tolist() == pytest.approx([0.0, 900.0])
    assert s.loc["npv_cost_cny", "change_share"] == pytest.approx(-3150.0 / 25250.0)
    c = cost_frame(a, b).set_index("component")
    assert c.loc["purchase", "change_discounted_cny"] == pytest.approx(-0.9 * 4000.0)
    assert c.loc["abatement", "change_discounted_cny"] == pytest.approx(0.9 * 1500.0)
    assert c.loc["terminal", "change_discounted_cny"] == pytest.approx(-900.0)
    assert c.loc["compliance", ["a_discounted_cny", "b_discounted_cny"]].tolist() == pytest.approx([25250.0, 23000.0])
    # nominal: A 8,000 + 16,000 + 1,500 + 1,500 = 27,000; B 8,000 + 12,000 + 1,500 + 3,000 - 1,000 = 23,500
    assert c.loc["total", ["a_nominal_cny", "b_nominal_cny", "change_nominal_cny"]].tolist() == pytest.approx([27000.0, 23500.0, -3500.0])


def test_decisions_bindings_and_what_changed(plans):
    a, b = plans
    d = decisions_frame(a, b).set_index(["year", "decision"])
    assert d.loc[(2026, "buy_t"), ["a", "b", "change"]].tolist() == [200.0, 150.0, -50.0]
    assert d.loc[(2026, "abatement_t"), "change"] == 50.0 and d.loc[(2025, "buy_t"), "change"] == 0.0
    bf = bindings_frame(a, b)
    sides = {(r.year, r.rule): r.binds for r in bf.itertuples()}
    assert sides == {(2025, "ccer_cap"): "both", (2026, "ccer_cap"): "A only", (2026, "measure_potential"): "B only"}
    text = changes(a, b)
    assert "NPV cost: 25,250 -> 22,100 (-3,150 (-12.5%))" in text
    assert "CEA bought in 2026: 200 -> 150 t (-50 t)" in text
    assert "abated in 2026: 50 -> 100 t (+50 t)" in text
    assert "project p1: not built -> starts 2025" in text
    assert "binds in A only: CCER cap binds in 2026" in text
    assert "binds in B only: measure m1 used to its full potential in 2026" in text
    assert not any("in 2025" in t and "bought" in t for t in text)  # unchanged decisions are not listed


def test_cli_prints_and_writes_the_page(plans, tmp_path, capsys):
    a, b = plans
    page = tmp_path / "compare.html"
    assert main(["compare", str(a.path), str(b.path), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    for part in ("Headline (change = B - A):", "Cost by component", "Decisions by year:", "Rules that bind:", "What changed"):
        assert part in out
    html = page.read_text(encoding="utf-8")
    assert 'id="changes"' in html and 'id="decisions"' in html and "<script" not in html
    assert "-3,150" in html
    assert main(["compare", str(a.path), str(a.path)]) == 0
    assert "nothing: the plans are the same" in capsys.readouterr().out


def test_cli_refuses_a_folder_that_is_no_plan(plans, tmp_path, capsys):
    a, _ = plans
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(a.path), str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert "not a plan folder" in err and "plan.json" in err and "Traceback" not in err
    assert main(["compare", str(a.path), str(tmp_path / "missing")]) == 1
