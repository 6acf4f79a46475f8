"""Report charts (matplotlib, inline SVG): the position chart's arithmetic, deterministic bytes,
labels in the report's language. The pictures themselves are checked in Chromium
(tests/solver/test_reports_browser.py)."""

import pandas as pd

from planner.report.charts import position_chart, position_series
from planner.report.labels import label


def _annual() -> pd.DataFrame:
    """Hand-made ledger. 2026: short. Obligation 120 (baseline 130 less 10 abated), allocation 100:
    gap 20, 30 before abatement; covered by 10 abated + 15 bought + 10 CCER, with 5 put aside
    (surrender 110 = 100 + 15 - 5). 2027: long. Obligation 130, allocation 150: gap -20; 25 sold,
    5 drawn from holdings (surrender 130 = 150 - 25 + 5)."""
    return pd.DataFrame({
        "year": [2026, 2027], "allocation_t": [100.0, 150.0], "obligation_t": [120.0, 130.0],
        "abatement_measures_t": [10.0, 0.0], "abatement_projects_t": [0.0, 0.0], "buy_t": [15.0, 0.0],
        "sell_t": [0.0, 25.0], "surrender_t": [110.0, 130.0], "ccer_surrendered_t": [10.0, 0.0],
        "shortfall_t": [0.0, 0.0], "carry_t": [5.0, 0.0], "lapse_t": [0.0, 0.0], "carry_limit_t": [10.0, 10.0],
    })


def test_position_bars_add_up_to_the_gap_before_abatement():
    bars, markers = position_series(_annual())
    assert bars.loc[2026].to_dict() == {"abated": 10, "purchases": 15, "ccer_used": 10, "from_holdings": -5,
                                        "borrow_t": 0, "shortfall_t": 0, "sales_neg": 0}
    assert bars.loc[2027].to_dict() == {"abated": 0, "purchases": 0, "ccer_used": 0, "from_holdings": 5,
                                        "borrow_t": 0, "shortfall_t": 0, "sales_neg": -25}
    assert markers["gap_line"].tolist() == [20, -20]
    assert markers["gap_before_line"].tolist() == [30, -20]
    assert bars.sum(axis=1).tolist() == markers["gap_before_line"].tolist()


def test_position_chart_is_inline_svg_in_the_language_with_the_same_bytes_each_time():
    a = position_chart(_annual(), "zh", "wan")
    assert a == position_chart(_annual(), "zh", "wan")
    assert a.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and 'id="chart-position"' in a and 'class="chart"' in a
    assert 'width="100%"' in a and "<?xml" not in a and "Date" not in a
    for key in ("chart_position", "gap_line", "gap_before_line", "abated", "purchases", "ccer_used", "sales_neg"):
        assert label(key, "zh").removesuffix(" t") in a, key
    assert "万t" in a
    en = position_chart(_annual(), "en", "t")
    assert label("gap_line", "en") in en and label("gap_line", "zh") not in en


def test_element_ids_are_prefixed_with_the_chart_id():
    """Several charts share a page: every id inside one starts with its chart's id, and every
    reference points at an id of the same chart."""
    import re

    svg = position_chart(_annual())
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids[0] == "chart-position" and all(i.startswith("chart-position-") for i in ids[1:])
    assert len(ids) == len(set(ids))
    refs = re.findall(r'href="#([^"]+)"', svg) + re.findall(r"url\(#([^)]+)\)", svg)
    assert refs and set(refs) <= set(ids)
