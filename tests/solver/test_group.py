"""Group portfolio: hand-solved link cases, a group of one, and the checker on the links."""

import copy
from pathlib import Path

import pandas as pd
import pytest

from planner.api import run, run_group
from planner.errors import InfeasibleError
from planner.input.group_schema import GroupCaseSpec
from planner.input.read import load_case, parse_case
from planner.plan.check import check_group
from planner.report.statements import statement
from tests.solver.helpers import case_dict

approx = pytest.approx
ROOT = Path(__file__).resolve().parents[2]


def entity(eid, allocation, measures=(), buy=100.0, sell=10.0, ccer=500.0, **extra):
    """A one-year (2025) power entity: emissions 100,000 t, given allocation, no discounting."""
    d = case_dict(emissions=100_000, allocation=allocation, buy=buy, sell=sell, ccer=ccer, **extra)
    d["entity"]["id"] = eid
    d["abatement"] = {
        "measures": [
            {"id": f"{eid}-{k}", "cost_cny_per_t": c, "potential_t_per_year": p} for k, (c, p) in enumerate(measures)
        ]
    }
    return d


def group(entities, **links):
    return GroupCaseSpec.model_validate(
        {
            "group": {"id": "G", "horizon": {"first_year": 2025, "last_year": 2025},
                      "finance": {"discount_rate": 0.0, "terminal_value": "zero"}},
            "entities": [parse_case(copy.deepcopy(e)) for e in entities],
            **links,
        }
    )


def solved(spec):
    res = run_group(spec)
    assert check_group(res.prep.data, res.plan, objective=res.solve.objective) == []
    return res.plan


def ann(plan, e):
    return plan.entities.annual.set_index("entity").loc[e]


def test_free_transfers_equalise_marginal_abatement_costs():
    """A: allocation = emissions (balanced), MAC steps 30 (10,000 t) and 50 (20,000 t).
    B: 25,000 t short, MAC steps 40 (10,000 t) and 70 (20,000 t). Market: buy 100, sell 10
    (a wide spread), CCERs too dear (500).

    Alone: A abates nothing (a tonne abated at 30 sells for 10), so its marginal cost lies between
    10 (a tonne less sold) and 30 (a tonne more abated) - degenerate; B abates 10,000 at 40 and 15,000 at 70 = 1,450,000, marginal cost 70.
    Sum 1,450,000, marginal costs at most 30 and exactly 70.

    Group with free transfers: the group's 25,000 t come from the merit order over both curves:
    10,000 at 30 (A), 10,000 at 40 (B), 5,000 at 50 (A) = 300,000 + 400,000 + 250,000 = 950,000.
    A abates 15,000 and transfers 15,000 to B. A's 50-step is partly used, so both entities'
    cost of one more tonne of obligation is 50: equalised. Value of pooling 1,450,000 - 950,000 =
    500,000. At the internal price 55, A's cost is 550,000 - 15,000 x 55 = -275,000 and B's
    400,000 + 825,000 = 1,225,000 (they sum to the group's 950,000)."""
    p = solved(group([entity("A", 100_000, [(30, 10_000), (50, 20_000)]), entity("B", 75_000, [(40, 10_000), (70, 20_000)])],
                     transfers={"mode": "free", "price_cny_per_t": 55}))
    a, b = ann(p, "A"), ann(p, "B")
    assert p.summary["objective_cny"] == approx(950_000)
    assert a.abatement_measures_t == approx(15_000)
    assert b.abatement_measures_t == approx(10_000)
    assert a.shadow_price_cny_per_t == approx(50)
    assert b.shadow_price_cny_per_t == approx(50)
    assert (a.market_buy_t, b.market_buy_t) == (approx(0), approx(0))
    t = p.transfers
    assert len(t) == 1 and (t.iloc[0].seller, t.iloc[0].buyer) == ("A", "B")
    assert t.iloc[0].transfer_t == approx(15_000)
    assert p.summary["value_of_pooling_cny"] == approx(500_000)
    pv = p.pooling_value.set_index("entity")
    assert pv.loc["A", "standalone_npv_cny"] == approx(0)
    assert pv.loc["B", "standalone_npv_cny"] == approx(1_450_000)
    assert pv.loc["A", "group_npv_cny"] == approx(-275_000)
    assert pv.loc["B", "group_npv_cny"] == approx(1_225_000)
    # no pool or tiers: no group costs to share; A's saving 0 - (-275,000), B's 1,450,000 - 1,225,000,
    # adding up to the value of pooling; before the settlement at 55 (825,000 from B to A) A loses
    # 550,000 (the abatement it does for B) and B saves 1,050,000
    assert pv.loc[["A", "B"], "group_cost_share_cny"].tolist() == [approx(0), approx(0)]
    assert pv.loc[["A", "B"], "saving_cny"].tolist() == [approx(275_000), approx(225_000)]
    assert pv.loc[["A", "B"], "internal_settlement_cny"].tolist() == [approx(-825_000), approx(825_000)]
    assert pv.loc[["A", "B"], "saving_before_settlement_cny"].tolist() == [approx(-550_000), approx(1_050_000)]
    assert pv.loc["(group)", "saving_cny"] == approx(500_000)
    # transfers count as the seller's sales in its net sales (rules.md R2.5, the pack default)
    assert a.net_sales_t == approx(15_000)
    assert p.transfer_matrix.set_index("seller").loc["A", "B"] == approx(15_000)


def test_without_transfers_each_entity_keeps_its_own_marginal_cost():
    """The same two entities without transfers: the stand-alone plans, 1,450,000, marginal costs
    in [10, 30] for A and 70 for B (see above): not equalised; the value of pooling is 0."""
    p = solved(group([entity("A", 100_000, [(30, 10_000), (50, 20_000)]), entity("B", 75_000, [(40, 10_000), (70, 20_000)])],
                     transfers={"mode": "none"}))
    assert p.summary["objective_cny"] == approx(1_450_000)
    assert 10 - 1e-6 <= ann(p, "A").shadow_price_cny_per_t <= 30 + 1e-6
    assert ann(p, "B").shadow_price_cny_per_t == approx(70)
    assert p.summary["value_of_pooling_cny"] == approx(0)


def test_block_transfers_move_at_least_the_minimum_lot():
    """A balanced with MAC 30 (200,000 t); B 60,000 t short with MAC 70 (300,000 t); buy 100, sell 10,
    no fees. Free transfers: A abates 60,000 for B: 1,800,000.

    Block trades (lot 100,000 t, rule pack), each block at least the lot (rules.md R7.1) and nothing
    more: A -> B and B -> A are each a block, so A sends 160,000 t and B sends 100,000 t back, a net
    60,000 t as with free transfers (the trades cost no fees here): 1,800,000.

    With the one-way option (an entity only sends or only receives blocks in a year): either no
    transfer (B abates 60,000 at 70 = 4,200,000) or one block of at least 100,000 t: A abates 100,000
    at 30 = 3,000,000 and B sells its 40,000 t surplus at 10 (400,000) = 2,600,000, the optimum."""
    ents = [entity("A", 100_000, [(30, 200_000)]), entity("B", 40_000, [(70, 300_000)])]
    p = solved(group(ents, transfers={"mode": "free", "price_cny_per_t": 60}))
    assert p.summary["objective_cny"] == approx(1_800_000)
    p = solved(group(ents, transfers={"mode": "block", "price_cny_per_t": 60}))
    assert p.summary["objective_cny"] == approx(1_800_000)
    t = p.transfers.set_index(["seller", "buyer"])["transfer_t"]
    assert (t >= 100_000 - 1e-3).all()
    assert t.loc[("A", "B")] - t.loc[("B", "A")] == approx(60_000)
    p = solved(group(ents, transfers={"mode": "block", "price_cny_per_t": 60, "one_way_per_year": True}))
    assert p.summary["objective_cny"] == approx(2_600_000)
    t = p.transfers
    assert len(t) == 1 and t.iloc[0].transfer_t == approx(100_000)
    assert ann(p, "B").market_sell_t == approx(40_000)
    assert ann(p, "A").abatement_measures_t == approx(100_000)


def test_shared_ccer_pool_goes_where_it_saves_most():
    """A and B are 10,000 t short each; each may surrender CCERs up to 5% of its 100,000 t
    obligation = 5,000 t. A's alternative is buying at 100, B's is abating at 60. Alone they buy CCERs
    at 90: A 5,000 x 90 + 5,000 x 100 = 950,000; B abates 10,000 x 60 = 600,000 (90 > 60): 1,550,000.
    The group pool buys 8,000 t at 40: a pool CCER saves A 60 and B 20, so A gets its cap of 5,000
    and B the other 3,000: pool 320,000; A buys 5,000 (500,000); B abates 7,000 (420,000); total
    1,240,000, value of pooling 310,000."""
    ents = [entity("A", 90_000, ccer=90.0), entity("B", 90_000, [(60, 50_000)], ccer=90.0)]
    p = solved(group(ents, transfers={"mode": "none"},
                     ccer_pool={"rows": [{"year": 2025, "ccer_cny_per_t": 40, "available_t": 8_000}]}))
    assert p.summary["objective_cny"] == approx(1_240_000)
    assert p.summary["value_of_pooling_cny"] == approx(310_000)
    alloc = p.ccer_pool.set_index("entity")
    assert alloc.loc["A", "allocated_t"] == approx(5_000)
    assert alloc.loc["B", "allocated_t"] == approx(3_000)
    assert alloc.loc["(pool)", "bought_t"] == approx(8_000)
    assert ann(p, "A").ccer_surrendered_t == approx(5_000)


def test_group_limit_and_price_tiers():
    """A and B are 10,000 t short each; B can abate at 105 (10,000 t); buy 100, CCER too dear.
    Tiers: the group's first 12,000 t a year at the entity price, beyond that +10 (110 > 105): the
    group buys 12,000 and B abates 8,000: 1,200,000 + 840,000 = 2,040,000.
    With a group purchase limit of 10,000 t: 1,000,000 + 10,000 x 105 = 2,050,000."""
    ents = [entity("A", 90_000), entity("B", 90_000, [(105, 10_000)])]
    tiers = [{"up_to_t": 12_000, "premium_cny_per_t": 0}, {"premium_cny_per_t": 10}]
    p = solved(group(ents, transfers={"mode": "free", "price_cny_per_t": 100}, price_tiers=tiers))
    assert p.summary["objective_cny"] == approx(2_040_000)
    assert p.group_annual.iloc[0].market_buy_t == approx(12_000)
    assert ann(p, "B").abatement_measures_t == approx(8_000)
    p = solved(group(ents, transfers={"mode": "free", "price_cny_per_t": 100}, price_tiers=tiers,
                     limits=[{"year": 2025, "buy_limit_t": 10_000}]))
    assert p.summary["objective_cny"] == approx(2_050_000)
    assert p.group_annual.iloc[0].market_buy_t == approx(10_000)


def test_group_budget_below_the_cheapest_plan_is_infeasible_under_hard_compliance():
    """The tier case costs at least 2,040,000 in 2025 (above); a budget of 2,000,000 with hard
    compliance leaves no plan. A budget of 2,040,000 is met exactly."""
    ents = [entity("A", 90_000), entity("B", 90_000, [(105, 10_000)])]
    for e in ents:
        e["policy"] = {"compliance": "hard"}
    tiers = [{"up_to_t": 12_000, "premium_cny_per_t": 0}, {"premium_cny_per_t": 10}]
    with pytest.raises(InfeasibleError):
        run_group(group(ents, transfers={"mode": "free", "price_cny_per_t": 100}, price_tiers=tiers,
                        limits=[{"year": 2025, "budget_cny": 2_000_000}]))
    p = solved(group(ents, transfers={"mode": "free", "price_cny_per_t": 100}, price_tiers=tiers,
                     limits=[{"year": 2025, "budget_cny": 2_040_000}]))
    assert p.summary["objective_cny"] == approx(2_040_000)


def test_transfers_not_counted_in_net_sales_by_override():
    """With group.transfers_count_in_net_sales = false, A's 15,000 t transfer (first test) is not
    a sale and B's receipt not a purchase: both net sales stay 0, and the checker recomputes net sales from market trades only."""
    p = solved(group([entity("A", 100_000, [(30, 10_000), (50, 20_000)]), entity("B", 75_000, [(40, 10_000), (70, 20_000)])],
                     transfers={"mode": "free", "price_cny_per_t": 55},
                     group={"id": "G", "horizon": {"first_year": 2025, "last_year": 2025},
                            "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
                            "overrides": {"group.transfers_count_in_net_sales": False}}))
    assert p.summary["objective_cny"] == approx(950_000)
    assert ann(p, "A").net_sales_t == approx(0)
    assert ann(p, "B").net_sales_t == approx(0)


@pytest.mark.parametrize("mode", ["none", "free"])
def test_group_of_one_is_the_entity_plan(mode):
    """A group of one (the example coal plant, the group discounting its own way) gives exactly
    the entity plan: same objective, same annual ledger."""
    case = load_case(ROOT / "cases" / "coal_2x660.yaml")
    alone = run(case).plan
    fin = case.finance
    spec = GroupCaseSpec.model_validate({
        "group": {"id": "G1", "horizon": case.horizon.model_dump(), "finance": fin.model_dump()},
        "entities": [case],
        "transfers": {"mode": mode},
        "value_of_pooling": False,
    })
    p = solved(spec)
    assert p.summary["objective_cny"] == approx(alone.summary["objective_cny"], rel=1e-9)
    cols = ["emissions_t", "allocation_t", "buy_t", "sell_t", "surrender_t", "ccer_surrendered_t", "carry_t", "total_cost_cny"]
    got = p.entities.annual[cols].reset_index(drop=True)
    want = alone.annual[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, rtol=1e-7, atol=1e-3)


def test_one_run_plans_an_entity_case_and_a_group_case(tmp_path):
    """``planner.api.run`` (and ``planner.run``) takes either kind of case, as a spec or a file, and
    plans it the way the entity or group path does: the group file gives the group plan of
    ``run_group`` on its spec, the entity file the entity plan."""
    import yaml

    import planner
    from planner.api import GroupRunResult, RunResult

    a = entity("A", 90_000, [(30, 20_000)])
    b = entity("B", 110_000, [(80, 20_000)])
    spec = group([a, b], transfers={"mode": "free"}, value_of_pooling=False)
    path = tmp_path / "group.yaml"
    path.write_text(yaml.safe_dump(spec.model_dump(mode="json"), allow_unicode=True), encoding="utf-8")
    by_file, by_spec = planner.run(path), run(spec)
    assert isinstance(by_file, GroupRunResult) and isinstance(by_spec, GroupRunResult)
    assert by_file.plan.summary["objective_cny"] == approx(run_group(spec).plan.summary["objective_cny"], rel=1e-12)
    assert by_file.plan.summary["objective_cny"] == approx(by_spec.plan.summary["objective_cny"], rel=1e-12)
    one = run(ROOT / "cases" / "coal_2x660.yaml")
    assert isinstance(one, RunResult) and one.plan.summary["entity"] == one.prep.case.entity.id


def test_checker_catches_broken_links():
    """Tampered result tables fail the link checks: transfers that do not net to zero, and a pool
    that does not add up."""
    res = run_group(group([entity("A", 100_000, [(30, 10_000), (50, 20_000)]), entity("B", 75_000, [(40, 10_000), (70, 20_000)])],
                          transfers={"mode": "free", "price_cny_per_t": 55}))
    ann_ = res.plan.entities.annual
    ann_.loc[ann_["entity"] == "B", "transfer_in_t"] += 1_000
    fails = check_group(res.prep.data, res.plan, objective=res.solve.objective)
    assert any("transfers net to zero" in f for f in fails)
    assert any("CEA bought = market + transfers in" in f for f in fails)
    ents = [entity("A", 90_000, ccer=90.0), entity("B", 90_000, [(60, 50_000)], ccer=90.0)]
    res = run_group(group(ents, transfers={"mode": "none"},
                          ccer_pool={"rows": [{"year": 2025, "ccer_cny_per_t": 40, "available_t": 8_000}]}))
    res.plan.group_annual["pool_buy_t"] += 500
    fails = check_group(res.prep.data, res.plan, objective=res.solve.objective)
    assert any("CCER pool: held + bought" in f for f in fails)


def test_example_group_runs_from_the_cli(tmp_path, capsys):
    """The ~30-plant example of the README: exit 0, entity and group tables, checker passed,
    a group plan no dearer than the plants alone."""
    import json

    from planner.cli import main

    out = tmp_path / "plan"
    assert main(["run", str(ROOT / "cases" / "group_hn_generation" / "group.yaml"), "--out", str(out)]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"annual.csv", "costs.csv", "transfers.csv", "transfer_matrix.csv", "ccer_pool.csv", "group_annual.csv",
            "entity_summary.csv", "pooling_value.csv", "plan.json", "summary.md"} <= names
    body = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert body["audit"]["checker"] == "passed"
    assert body["summary"]["entities"] == 30
    assert body["summary"]["value_of_pooling_cny"] >= -1e-6 * abs(body["summary"]["standalone_npv_cny"])
    es = pd.read_csv(out / "entity_summary.csv")
    # plants whose allocation equals their obligation (HN-02, HN-28) are neither long nor short
    assert set(es["side"]) == {"long", "short", "balanced"}
    assert set(es.loc[es["side"] == "balanced", "entity"]) == set(es.loc[es["position_t"].abs() < 0.5, "entity"])
    assert "Group compliance plan: HN-GEN" in capsys.readouterr().out


def test_entity_table_errors_name_file_row_and_field(tmp_path, capsys):
    """Bad rows of the plants table are reported with file, row, field and what was expected;
    `planner validate` and `planner run` exit 1 and write nothing."""
    from planner.cli import main

    (tmp_path / "plants.csv").write_text(
        "id,unit_class,output,intensity_t_per_unit\nA1,coal_gt300,1000000,0.8\nA2,coal_gt300,lots,0.8\nA3,coal_huge,1000000,0.8\n",
        encoding="utf-8",
    )
    (tmp_path / "g.yaml").write_text(
        "group: {id: G, horizon: {first_year: 2025, last_year: 2026}}\n"
        "entity_tables:\n  plants: plants.csv\n  defaults:\n    market:\n"
        "      - {year: 2025, cea_buy_cny_per_t: 80, ccer_cny_per_t: 80}\n"
        "      - {year: 2026, cea_buy_cny_per_t: 80, ccer_cny_per_t: 80}\n",
        encoding="utf-8",
    )
    assert main(["validate", str(tmp_path / "g.yaml")]) == 1
    err = capsys.readouterr().err
    assert "plants.csv row 3.output: expected a number, got 'lots'" in err
    assert "plants.csv row 4 (id A3).entity.unit_class" in err
    assert main(["run", str(tmp_path / "g.yaml"), "--out", str(tmp_path / "plan")]) == 1
    assert not (tmp_path / "plan").exists()


def test_group_limits_that_bind_are_named():
    """The tier case above: the group buys 12,000 t at the entity price and B abates 8,000 t at 105,
    which undercuts tier 2 (110): tier 2 stays empty, nothing of the group's binds.
    With a group purchase limit of 10,000 t that limit binds (10,000 t bought), and no entity
    purchase or sale limit is reported: the entities' market trades are judged against their own
    market bounds, not their purchases including transfers. A budget of exactly the cheapest
    cost (2,040,000) binds."""
    ents = [entity("A", 90_000), entity("B", 90_000, [(105, 10_000)])]
    tiers = [{"up_to_t": 12_000, "premium_cny_per_t": 0}, {"premium_cny_per_t": 10}]
    free = {"mode": "free", "price_cny_per_t": 100}
    p = solved(group(ents, transfers=free, price_tiers=tiers))
    assert p.group_bindings.empty
    p = solved(group(ents, transfers=free, price_tiers=tiers, limits=[{"year": 2025, "buy_limit_t": 10_000}]))
    assert p.group_bindings["rule"].tolist() == ["group_buy_limit"]
    assert "10,000 t" in p.group_bindings["statement"].iloc[0]
    assert statement(p.group_bindings.iloc[0], "zh", "wan") == "2025年集团市场购买量上限约束生效：集团内企业共购入 1.00 万t"
    assert not p.entities.bindings["rule"].isin(["buy_limit", "sell_limit"]).any()
    p = solved(group(ents, transfers=free, price_tiers=tiers, limits=[{"year": 2025, "budget_cny": 2_040_000}]))
    assert p.group_bindings["rule"].tolist() == ["group_budget"]
    assert statement(p.group_bindings.iloc[0], "zh") == "2025年集团预算约束生效：现金成本 2,040,000 元，预算 2,040,000 元"


def test_tier_statement_when_the_group_buys_at_a_premium():
    """A and B 10,000 t short each, no abatement: the group must buy 20,000 t; the first 12,000 at
    the entity price, the other 8,000 in tier 2 at +10."""
    ents = [entity("A", 90_000), entity("B", 90_000)]
    tiers = [{"up_to_t": 12_000, "premium_cny_per_t": 0}, {"premium_cny_per_t": 10}]
    p = solved(group(ents, transfers={"mode": "free", "price_cny_per_t": 100}, price_tiers=tiers))
    assert p.summary["objective_cny"] == approx(20_000 * 100 + 8_000 * 10)
    assert p.group_bindings["rule"].tolist() == ["price_tier"]
    assert "tier 2" in p.group_bindings["statement"].iloc[0] and "8,000 t" in p.group_bindings["statement"].iloc[0]


def test_entity_market_limit_is_judged_on_market_purchases_not_transfers():
    """A: 30,000 t short with its own market purchase limit of 20,000 t; B: 10,000 t long. Buy 100,
    sell 10. With free transfers A receives B's 10,000 t (B would sell them for 10, A would pay
    100) and buys the other 20,000 t on the market, where its limit binds:
    group cost = 20,000 x 100 = 2,000,000. The binding statement speaks of A's 20,000 t of market
    purchases, not of its 30,000 t of purchases including the transfer."""
    ents = [entity("A", 70_000, buy_limit_t=20_000), entity("B", 110_000)]
    p = solved(group(ents, transfers={"mode": "free", "price_cny_per_t": 100}))
    assert p.summary["objective_cny"] == approx(2_000_000)
    row = ann(p, "A")
    # net flows: with no fees the solver may cycle allowances through A (received and passed on)
    assert row.market_buy_t == approx(20_000)
    assert row.transfer_in_t - row.transfer_out_t == approx(10_000) and row.buy_t - row.sell_t == approx(30_000)
    b = p.entities.bindings
    stmt = b[(b["entity"] == "A") & (b["rule"] == "buy_limit")]["statement"].tolist()
    assert stmt == ["CEA market purchase limit binds in 2025: 20,000 t"] or (
        len(stmt) == 1 and stmt[0].startswith("CEA market purchase limit binds in 2025: 20,000 t;")
    )
    assert p.group_bindings.empty
