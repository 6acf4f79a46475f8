"""Sweep plots drawn for people: the base case visible, legends on the path plots, tornado bars
labelled with their parameter values and costs, and no probability distribution drawn for a grid
(a grid is a set of what-ifs, not a sample). Synthetic sweep frames; no solver."""

import json

import pandas as pd

from planner.studies.plots import all_figures, cost_vs_price, paths, tornado, tornado_table


def _frame(kinds: dict[str, tuple[str, float, dict]]) -> pd.DataFrame:
    """Two years per scenario: (kind, NPV cost, overrides); the CEA price grows with the cost."""
    rows = []
    for sid, (kind, npv, ov) in kinds.items():
        for i, y in enumerate((2026, 2027)):
            rows.append({"scenario": sid, "kind": kind, "probability": 0.5 if kind == "price_path" else None,
                         "status": "optimal", "overrides": json.dumps(ov), "npv_cost_cny": npv, "entity": "E",
                         "year": y, "cea_buy_cny_per_t": npv / 1e5 + i, "buy_t": 1000.0 * (i + 1), "sell_t": 0.0,
                         "carry_t": 500.0 * i})
    return pd.DataFrame(rows)


GRID = {"base": ("base", 9e6, {}), "grid-00000": ("grid", 8e6, {"market.*.cea_buy_cny_per_t": 60}),
        "grid-00001": ("grid", 10e6, {"market.*.cea_buy_cny_per_t": 120})}
TORNADO = {"tornado-penalty.multiple-low": ("tornado", 8.5e6, {"penalty.multiple": 5}),
           "tornado-penalty.multiple-high": ("tornado", 9.75e6, {"penalty.multiple": 10})}


def test_a_grid_gets_no_probability_distribution_but_price_paths_do():
    assert "cost_distribution" not in all_figures(_frame(GRID))
    assert "cost_distribution" not in all_figures(_frame(GRID | TORNADO))
    with_paths = GRID | {"path-00000": ("price_path", 7e6, {}), "path-00001": ("price_path", 11e6, {})}
    figs = all_figures(_frame(with_paths))
    assert "cost_distribution" in figs
    ax = figs["cost_distribution"].axes[0]
    # weights are probabilities that add up to 1 (two paths of 0.5): the bars' heights sum to 1
    assert abs(sum(p.get_height() for p in ax.patches) - 1.0) < 1e-9
    assert "base case 9.000" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_the_base_case_is_marked_and_named_in_cost_against_price():
    ax = cost_vs_price(_frame(GRID)).axes[0]
    base = [ln for ln in ax.get_lines() if ln.get_label() == "base case"]
    assert len(base) == 1 and base[0].get_marker() == "*" and base[0].get_zorder() > max(
        ln.get_zorder() for ln in ax.get_lines() if ln is not base[0])
    assert list(base[0].get_xdata()) == [90.5] and list(base[0].get_ydata()) == [9.0]  # mean price (90+91)/2, 9 M
    assert "base case" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_path_plots_have_a_legend_naming_the_base_and_each_kind():
    fig = paths(_frame(GRID | TORNADO))
    names = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert names == ["base case", "grid points", "tornado ends"]


def test_tornado_bars_are_labelled_with_their_low_and_high_values_and_costs():
    """penalty.multiple 5 -> 8.5 M, 10 -> 9.75 M, base 9 M: labels '5: 8.500' and '10: 9.750'."""
    w = tornado_table(_frame(GRID | TORNADO))
    assert w[["low_value", "high_value", "low", "high"]].iloc[0].tolist() == [5, 10, 8.5e6, 9.75e6]
    ax = tornado(_frame(GRID | TORNADO)).axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "5: 8.500" in texts and "10: 9.750" in texts
    assert "base case 9.000 M" in [t.get_text() for t in ax.get_legend().get_texts()]
