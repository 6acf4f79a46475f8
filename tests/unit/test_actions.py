"""This cycle's actions (issue 20 item 2): hand-made plan tables and the actions they give, with the
dates they fall due."""

import math

import pandas as pd

from planner.plan.actions import cycle_actions, month_end


def _tables():
    """One entity, vintages 2025-2026. In 2025 it abates 1,000 t with measure m1 at 30 CNY/t, starts
    project p1, buys 2,000 t CEA at 80 CNY/t (160,000 CNY), buys 500 t CCER at 60 CNY/t and
    surrenders 300 of them, keeps 200, surrenders 9,700 t CEA against an obligation of 10,000 t,
    and carries 1,500 t (limit 10,000 t). Vintage 2025's pre-allocation (6,300 t) arrives in
    2026-04, its true-up (2,900 t) in 2026-10, and its surrender is due by the end of 2026-12."""
    annual = pd.DataFrame({
        "entity": ["E", "E"], "year": [2025, 2026],
        "buy_t": [2000.0, 0.0], "cea_buy_cny_per_t": [80.0, 90.0], "sell_t": [0.0, 0.0], "cea_sell_cny_per_t": [79.0, 89.0],
        "auction_buy_t": [0.0, 0.0], "ccer_buy_t": [500.0, 0.0], "ccer_cny_per_t": [60.0, 60.0], "ccer_sell_t": [0.0, 0.0],
        "ccer_surrendered_t": [300.0, 200.0], "ccer_hold_t": [200.0, 0.0], "surrender_t": [9700.0, 9800.0],
        "obligation_t": [10000.0, 10000.0], "shortfall_t": [0.0, 0.0], "carry_t": [1500.0, 0.0],
        "carry_limit_t": [10000.0, 10000.0],
    })
    builds = pd.DataFrame({"entity": ["E"], "project": ["p1"], "build_year": [2025]})
    abatement = pd.DataFrame({"entity": ["E", "E"], "year": [2025, 2026], "measure": ["m1", "m1"],
                              "abate_t": [1000.0, 1000.0], "cost_cny_per_t": [30.0, 30.0], "cost_cny": [30000.0, 30000.0]})
    schedule = pd.DataFrame({
        "entity": ["E", "E"], "vintage": [2025, 2026], "pre_allocation_t": [6300.0, 6300.0],
        "pre_allocation_month": ["2026-04", "2027-04"], "pre_allocation_share": [0.7, 0.7],
        "basis_source": ["2024 emissions", "2025 plan"], "basis_t": [9000.0, 9000.0], "true_up_t": [2900.0, 2900.0],
        "true_up_month": ["2026-10", "2027-10"], "final_allocation_t": [9200.0, 9200.0], "deadline_month": ["2026-12", "2027-12"],
    })
    return annual, builds, abatement, schedule


def test_first_cycle_actions_with_their_due_dates():
    acts = cycle_actions(*_tables())
    got = [(r.action, r.subject, None if math.isnan(r.quantity_t) else r.quantity_t, r.due) for r in acts.itertuples()]
    assert got == [
        ("measure", "m1", 1000.0, "2025-12-31"),
        ("project_start", "p1", None, "2025-12-31"),
        ("pre_allocation", "", 6300.0, "2026-04"),
        ("true_up", "", 2900.0, "2026-10"),
        ("cea_buy", "", 2000.0, "2026-12-31"),
        ("ccer_buy", "", 500.0, "2026-12-31"),
        ("cea_surrender", "", 9700.0, "2026-12-31"),
        ("ccer_surrender", "", 300.0, "2026-12-31"),
        ("carry", "", 1500.0, "2026-12-31"),
        ("ccer_hold", "", 200.0, "2026-12-31"),
    ]
    buy = acts[acts["action"] == "cea_buy"].iloc[0]
    assert (buy["price_cny_per_t"], buy["amount_cny"]) == (80.0, 160000.0)
    ccer = acts[acts["action"] == "ccer_buy"].iloc[0]
    assert (ccer["price_cny_per_t"], ccer["amount_cny"]) == (60.0, 30000.0)
    assert set(acts["cycle"]) == {2025}
    assert "limit 10,000 t" in acts[acts["action"] == "carry"].iloc[0]["what"]


def test_a_later_cycle_and_a_sale():
    annual, builds, abatement, schedule = _tables()
    annual.loc[1, ["sell_t", "ccer_hold_t", "carry_t"]] = [400.0, 0.0, 0.0]
    acts = cycle_actions(annual, builds, abatement, schedule, cycle=2026)
    assert list(acts["action"]) == ["measure", "pre_allocation", "true_up", "cea_sell", "cea_surrender", "ccer_surrender"]
    sale = acts[acts["action"] == "cea_sell"].iloc[0]
    assert (sale["quantity_t"], sale["amount_cny"], sale["due"]) == (400.0, 400.0 * 89.0, "2027-12-31")


def test_month_end():
    assert month_end("2026-12") == "2026-12-31"
    assert month_end("2028-02") == "2028-02-29" and month_end("2027-02") == "2027-02-28"
