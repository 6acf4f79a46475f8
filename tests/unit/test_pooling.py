"""The value of pooling per entity (issue 20 item 5): the group's own costs shared out so that the
entities' savings add up to the group's value of pooling; the internal settlement shown apart; a
plant with a zero balance is neither long nor short."""

import pandas as pd
import pytest

from planner.plan.pooling import group_cost_shares, pooling_paragraph, pooling_value_table, side

IDS = ["E", "F"]


def _tables():
    """Two entities, 2025-2026. The pool hands out 100 t (E) and 300 t (F) in 2025 and nothing in
    2026; E buys 30 t on the market in 2026, F 10 t. Group costs (discounted): pool 4,000 in 2025
    (by 2025's CCERs: E 1,000, F 3,000), pool 1,000 in 2026 when it hands out nothing (by the
    horizon's CCERs, 1/4 and 3/4: E 250, F 750), tiers 200 in 2026 (by market purchases, 3/4 and
    1/4: E 150, F 50). Shares: E 1,400, F 3,800, together 5,200.

    Own costs (discounted): E purchases 5,000 and is paid 600 for transfers, F purchases 8,000 and
    pays 600: E 4,400, F 8,600. Alone: E 7,000, F 13,000 (20,000). Group NPV 4,400 + 8,600 + 5,200
    = 18,200; value of pooling 1,800. Savings: E 7,000 - 4,400 - 1,400 = 1,200, F 13,000 - 8,600 -
    3,800 = 600 (sum 1,800). Before settlement: E 1,200 - 600 = 600, F 600 + 600 = 1,200."""
    annual = pd.DataFrame({"entity": ["E", "E", "F", "F"], "year": [2025, 2026, 2025, 2026],
                           "ccer_buy_t": [100.0, 0.0, 300.0, 0.0], "market_buy_t": [0.0, 30.0, 0.0, 10.0],
                           "obligation_t": [1000.0, 1000.0, 3000.0, 3000.0]})
    gc = pd.DataFrame({"year": [2025, 2026, 2025, 2026], "component": ["pool", "pool", "tiers", "tiers"],
                       "discounted_cny": [4000.0, 1000.0, 0.0, 200.0]})
    costs = pd.DataFrame({"entity": ["E", "E", "F", "F"], "year": [2025, 2025, 2025, 2025],
                          "component": ["purchase", "transfer", "purchase", "transfer"],
                          "discounted_cny": [5000.0, -600.0, 8000.0, 600.0]})
    return annual, costs, gc


def test_group_costs_are_shared_by_what_each_entity_takes():
    annual, _, gc = _tables()
    assert group_cost_shares(annual, gc, IDS).tolist() == pytest.approx([1400.0, 3800.0])


def test_savings_add_up_to_the_value_of_pooling():
    annual, costs, gc = _tables()
    pv = pooling_value_table(annual, costs, gc, IDS, pd.Series({"E": 7000.0, "F": 13000.0}), 20000.0, 18200.0).set_index("entity")
    assert pv.loc["E", ["group_npv_cny", "group_cost_share_cny", "internal_settlement_cny", "saving_cny", "saving_before_settlement_cny"]].tolist() \
        == pytest.approx([4400.0, 1400.0, -600.0, 1200.0, 600.0])
    assert pv.loc["F", ["group_npv_cny", "group_cost_share_cny", "internal_settlement_cny", "saving_cny", "saving_before_settlement_cny"]].tolist() \
        == pytest.approx([8600.0, 3800.0, 600.0, 600.0, 1200.0])
    assert pv.loc["(group)", "saving_cny"] == pytest.approx(1800.0)
    assert pv.loc[IDS, "saving_cny"].sum() == pytest.approx(pv.loc["(group)", "saving_cny"])
    assert "(group links)" not in pv.index


def test_zero_balance_is_neither_long_nor_short():
    assert side(pd.Series([0.0, 0.2, -0.4, 5.0, -5.0])).tolist() == ["balanced", "balanced", "balanced", "long", "short"]


def test_paragraph_names_the_value_and_the_entities_that_lose():
    annual, costs, gc = _tables()
    pv = pooling_value_table(annual, costs, gc, IDS, pd.Series({"E": 4000.0, "F": 13000.0}), 17000.0, 18200.0)
    es = pd.DataFrame({"entity": IDS, "side": ["long", "short"]})
    text = pooling_paragraph(pv, es, 85.0)
    assert "the value of pooling is -1,200 CNY" in text and "internal price of 85.00 CNY/t" in text
    assert "1 entity would be better off alone (E); 1 of them long" in text  # E: 4,000 - 4,400 - 1,400 = -1,800
