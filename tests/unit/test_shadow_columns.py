"""A plan solved without duals keeps a numeric shadow-price column (all empty), so that sweep
tables can concatenate it with the plans that have one."""

import pandas as pd

from planner.plan.entity import annual_derived


def test_a_plan_without_duals_has_a_float_shadow_price_column():
    ann = pd.DataFrame({
        "entity": ["E", "E"], "year": [2025, 2026], "discount_factor": [1.0, 0.95],
        "cost_buy_cny": [10.0, 0.0], "cost_sales_cny": [0.0, -5.0],
        "buy_t": [1.0, 0.0], "cea_buy_cny_per_t": [10.0, 10.0], "sell_t": [0.0, 0.5],
        "cea_sell_cny_per_t": [10.0, 10.0], "ccer_buy_t": [0.0, 0.0], "ccer_cny_per_t": [5.0, 5.0],
        "allocation_t": [9.0, 9.0], "obligation_t": [10.0, 8.5],
    })
    out, shadow = annual_derived(ann, pd.DataFrame(), ann)
    assert shadow.empty
    assert out["shadow_price_cny_per_t"].dtype == float
    assert out["shadow_price_cny_per_t"].isna().all()
    assert out["total_cost_cny"].tolist() == [10.0, -5.0]
