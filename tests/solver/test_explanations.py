"""'Why this plan': each known binding rule is found and named, in words and by its label in both
languages; the marginal cost is set against the market prices; measures and projects say what they save.

The cases are the hand-solved ones of test_hand_solved.py and test_relief.py (derivations there,
repeated briefly here).
"""

from pathlib import Path

import pytest

from planner.report.html import why_items
from planner.report.labels import note_zh, rule_label, statement_zh
from planner.report.statements import facts_of, statement
from tests.solver.helpers import case_dict, row, solve

pytestmark = pytest.mark.solver
approx = pytest.approx


def _rules(plan, year):
    b = plan.bindings
    return {r.rule: r for r in b[b["year"] == year].itertuples(index=False)}


def test_ccer_cap_is_named():
    """Gap 10,000 t; CCER (50) is cheaper than CEA (60) up to 5% x 100,000 = 5,000 t: the cap binds;
    the other 5,000 t are bought, so the marginal tonne is bought at 60 and one more tonne of cap saves
    60 - 50 = 10 CNY."""
    plan = solve(case_dict())
    r = _rules(plan, 2025)["ccer_cap"]
    assert r.statement.startswith("CCER cap binds in 2025: 5,000 t CCER = 5% of the obligation")
    assert r.saving_cny_per_t == approx(10.0)
    mc = _rules(plan, 2025)["marginal_cost"].statement
    assert "marginal cost of compliance in 2025: 60.00 CNY/t" in mc and "set by buying CEA" in mc
    assert any(t.startswith("[CCER cap] CCER cap binds") for t in why_items(plan.bindings, "en"))
    assert any(t.startswith(f"[{rule_label('ccer_cap', 'zh')}]") for t in why_items(plan.bindings, "zh"))


def test_carry_over_limit_is_named():
    """Holdings 100,000 t; carrying is worth 80 next year > 60 now, so the entity sells just enough
    (30,000 t) to lift the limit to 10,000 + 1.5 x (10,000 + 30,000) = 70,000 t and carries that."""
    d = case_dict(years=(2024, 2025), emissions=50_000, allocation=50_000, buy=[61.0, 81.0], sell=[60.0, 80.0], ccer=500.0)
    d["opening"] = {"cea_by_vintage": {2023: 100_000}, "net_sales_since_2019_t": 10_000}
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": "unlimited"}}
    plan = solve(d)
    assert row(plan, 2024).carry_t == approx(70_000)
    r = _rules(plan, 2024)["carryover_limit"]
    assert r.statement.startswith("carry-over limit binds in 2024: 70,000 t carried into 2025")
    assert "selling 30,000 t in the plan up to 2024 helped raise it" in r.statement
    assert rule_label("carryover_limit", "zh") == "结转上限"
    assert "[结转上限] 2024年结转上限约束生效：结转至2025年 70,000 t" in " ".join(why_items(plan.bindings, "zh"))
    assert "截至2024年计划出售 30,000 t" in statement_zh(r.statement)


def test_volume_limit_is_named_with_its_saving():
    """Gap 10,000 t, CCER 3,000 t available, CEA purchases limited to 4,000 t: 3,000 t shortfall at
    5 x 60 = 300 plus the deduction valued at 60 = 360 CNY/t. One more tonne of purchase limit replaces
    a tonne of shortfall: saves 360 - 60 = 300 CNY. The shortfall names the limits that force it."""
    plan = solve(case_dict(buy_limit_t=4_000, ccer_available_t=3_000))
    rules = _rules(plan, 2025)
    assert rules["buy_limit"].statement.startswith("CEA purchase limit binds in 2025: 4,000 t")
    assert rules["buy_limit"].saving_cny_per_t == approx(300.0)
    assert "CCER availability binds in 2025: all 3,000 t bought" == rules["ccer_availability"].statement
    assert "forced by buy_limit, ccer_availability" in rules["shortfall"].statement
    assert "set by the shortfall" in rules["marginal_cost"].statement


def test_relief_regime_is_named():
    """E = 100,000, A = 60,000: the 40% gap exceeds 20%, the coal relief tops A up to 80,000 t; a tonne
    abated is worth only 20% of the allowance price."""
    d = case_dict(emissions=100_000, allocation=60_000, buy=100.0, ccer=1_000.0)
    d["allocation"]["coal_floor"] = "on"
    plan = solve(d)
    s = _rules(plan, 2025)["relief_regime"].statement
    assert s.startswith("coal relief applies in 2025: allocation raised to 80% of verified emissions (+20,000 t)")
    assert "worth only 20% of the allowance price" in s
    assert rule_label("relief_regime", "en") == "relief regime"


def test_what_a_measure_and_a_project_save():
    """Measure: 3,000 t at 40 CNY/t (cost 120,000). Project: capex 100,000, 2,000 t a year from its
    build year 2025 (upfront capex). The marginal cost is the dual of the surrender balance: one more
    tonne of obligation with the CCER cap held fixed is bought at 60 CNY/t. (A tonne abated also
    lowers the cap by 0.05 t, worth 0.05 x 10 = 0.5 CNY: the statement values tonnes at the dual and
    leaves that out.) Measure: worth 3,000 x 60 = 180,000, saves 60,000. Project: worth
    2,000 x 60 = 120,000, saves 20,000."""
    d = case_dict()
    d["abatement"] = {
        "measures": [{"id": "m", "cost_cny_per_t": 40, "potential_t_per_year": 3_000}],
        "projects": [{"id": "p", "capex_cny": 100_000, "reduction_t_per_year": 2_000, "lifetime_years": 10}],
    }
    plan = solve(d)
    assert row(plan, 2025).shadow_price_cny_per_t == approx(60.0)
    rules = _rules(plan, 2025)
    assert rules["measure_value"].statement == (
        "measure m abates 3,000 t in 2025-2025 for 120,000 CNY; at the marginal cost of compliance "
        "those tonnes are worth 180,000 CNY (saves 60,000 CNY, nominal)"
    )
    assert "project p (build starts 2025) reduces 2,000 t in 2025-2025 for 100,000 CNY" in rules["project_value"].statement
    assert "(saves 20,000 CNY, nominal)" in rules["project_value"].statement
    mac = plan.mac.set_index("name")
    assert mac.loc["m", "cost_cny_per_t"] == approx(40) and mac.loc["m", "used_t"] == approx(3_000)
    assert mac.loc["p", "cost_cny_per_t"] == approx(100_000 / 10 / 2_000)  # discount rate 0: capex / lifetime / t
    assert mac.loc["p", "used_t"] == approx(2_000)


def test_infeasible_solve_names_the_conflicting_inputs():
    """Hard compliance, gap 10,000 t, at most 4,000 t CEA and 3,000 t CCER: at most
    90,000 + 4,000 + 3,000 = 97,000 t against 100,000 t, 3,000 t short."""
    from planner.errors import InfeasibleError

    d = case_dict(buy_limit_t=4_000, ccer_available_t=3_000)
    d["policy"] = {"compliance": "hard"}
    with pytest.raises(InfeasibleError) as exc:
        solve(d)
    text = str(exc.value)
    assert "which inputs conflict:" in text
    assert "by 2025 the obligations are at least 100,000 t" in text and "at most 97,000 t can be surrendered" in text
    assert "market.buy_limit_t (4,000 t in all)" in text and "3,000 t short" in text


@pytest.mark.parametrize("case", sorted((Path(__file__).parents[2] / "cases").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_statement_of_the_example_cases_has_a_chinese_version(case):
    from planner.api import run

    plan = run(case).plan
    missing = [s for s in plan.bindings.statement if statement_zh(s) is None]
    assert missing == []
    _worded_from_facts(plan.bindings)
    assert [n for n in plan.notes + plan.warnings if note_zh(n) is None] == []


def test_every_note_of_the_group_example_has_a_chinese_version():
    from planner.api import run_group

    plan = run_group(Path(__file__).parents[2] / "cases" / "group_hn_generation" / "group.yaml").plan
    assert [n for n in plan.notes + plan.warnings if note_zh(n) is None] == []
    assert [s for s in plan.group_bindings.statement if statement_zh(s) is None] == []
    assert [s for s in plan.entities.bindings.statement if statement_zh(s) is None] == []
    _worded_from_facts(plan.group_bindings)
    _worded_from_facts(plan.entities.bindings)


def _worded_from_facts(bindings):
    """Every binding row carries facts, and the Chinese worded from them says what the translation
    of its English statement says (the carry-over rule's formula now reads 净卖出 for 'net sales')."""
    assert [(r.rule, r.statement) for r in bindings.itertuples(index=False) if facts_of(r) is None] == []
    for r in bindings.itertuples(index=False):
        assert statement(r, "zh") == statement_zh(r.statement).replace("max(0, net sales)", "max(0, 净卖出)")


def test_chinese_notes():
    """Numbers, years and entity lists carry over; untranslated text stays None (shown in English)."""
    assert note_zh("Conditional pre-draw in 2021, 2022: with a gap of at least 10% of verified emissions, up to 50% "
                   "of the gap may be drawn from the 2023 allocation.") == (
        "2021, 2022年有条件预支：缺口不低于核查排放量的10%时，最多可从2023年配额中预支缺口的50%。")
    assert note_zh("A, B and 3 more: project p cannot start operating within the horizon and is ignored") == (
        "A, B 等3家：项目 p 无法在规划期内投运，已忽略")
    assert note_zh("Absolute cap from 2027: cap = 1,000 t (the 2026 allocation) x (1 - 0.02)^(t - 2027); 5% auctioned "
                   "at the market price less 0%; allocation no longer follows output, so cutting output creates "
                   "surplus. Coal and gas relief end with the cap.").endswith("燃煤与燃气补足机制随总量控制结束。")
    assert note_zh("a note nobody translated") is None


def test_chinese_statements_of_the_hand_cases():
    plan = solve(case_dict(buy_limit_t=4_000, ccer_available_t=3_000))
    zh = {r.rule: statement_zh(r.statement) for r in plan.bindings.itertuples(index=False)}
    assert zh["buy_limit"] == "2025年配额购买量上限约束生效：4,000 t；购买上限每放宽一吨可节省 300.00 元"
    assert zh["shortfall"] == ("2025年履约缺口 3,000 t，按 300.00 元/t 罚款并在下一年度配额中扣减；"
                               "由以下约束导致：配额购买量上限、CCER可购量")
    assert statement_zh("an explanation nobody translated") is None
