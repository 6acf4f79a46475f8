"""The report layout of groups with many entities (``planner.report.many``): ranked entity tables,
the costliest entities' statements, and a workbook of people's sheets that names the plan folder's
full long tables instead of copying them. Tested on a small group with the threshold lowered; the
example group (30 plants) keeps the full layout (its pins are unchanged)."""

import re

import openpyxl
import pandas as pd
import pytest

from planner.cli import main
from planner.report import many
from planner.report.labels import label
from tests.solver.helpers import assert_workbook_matches_csvs, small_group

pytestmark = pytest.mark.solver


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("many")
    g = small_group(tmp / "case", n=6)
    assert main(["run", str(g), "--out", str(tmp / "full")]) == 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(many, "MANY_ENTITIES", 4)
        mp.setattr(many, "TOP_ENTITIES", 2)
        assert main(["run", str(g), "--out", str(tmp / "many")]) == 0
    return tmp


def test_many_entity_workbook(runs):
    full = openpyxl.load_workbook(runs / "full" / "plan.xlsx", data_only=True)
    wb = openpyxl.load_workbook(runs / "many" / "plan.xlsx", data_only=True)
    assert "annual.csv" in full.sheetnames and "transfer_matrix.csv" in full.sheetnames
    # no copies of the entity tables nor the wide transfer matrix; the group's tables stay
    for name in ("annual.csv", "costs.csv", "bindings.csv", "transfer_matrix.csv", "entity_summary.csv", "trades.csv"):
        assert name not in wb.sheetnames
    for name in ("group_annual.csv", "pooling_value.csv", "transfers.csv"):
        assert name in wb.sheetnames
    data = [r[0] for r in wb[label("data_files", "en")].iter_rows(values_only=True) if r[0]]
    es = pd.read_csv(runs / "many" / "entity_summary.csv")
    assert f"annual.csv: {len(pd.read_csv(runs / 'many' / 'annual.csv')):,} rows, columns entity, year" in " ".join(data)
    # the entities sheet: every entity, largest NPV cost first
    rows = list(wb[label("entities_sheet", "en")].iter_rows(values_only=True))
    ids = [r[0] for r in rows[1:]]
    assert ids == list(es.sort_values("npv_cost_cny", ascending=False, kind="stable")["entity"])
    assert sorted(ids) == sorted(es["entity"])
    # the data sheets kept read back with the CSV numbers
    for name in wb.sheetnames:
        if name.endswith(".csv"):
            df = pd.read_csv(runs / "many" / name)
            assert len(list(wb[name].iter_rows())) - 1 == len(df), name


def test_many_entity_why_lists_the_costliest(runs):
    wb = openpyxl.load_workbook(runs / "many" / "plan.xlsx", data_only=True)
    lines = [r[0] for r in wb[label("why", "en")].iter_rows(values_only=True)][1:]
    es = pd.read_csv(runs / "many" / "entity_summary.csv").sort_values("npv_cost_cny", ascending=False, kind="stable")
    top = list(es["entity"].head(2))
    named = {m.group(1) for t in lines if (m := re.match(r"^([A-Z]{2}-\d+): ", str(t)))}
    assert named and named <= set(top)
    assert lines[-1] == label("why_many", "en").format(n=2, entities=len(es))
    html = (runs / "many" / "report.html").read_text(encoding="utf-8")
    assert label("ranked_npv", "en") in html and label("why_many", "en").format(n=2, entities=len(es)) in html
    # the full layout names every entity with statements, and has no ranking line
    assert label("ranked_npv", "en") not in (runs / "full" / "report.html").read_text(encoding="utf-8")


def test_full_layout_below_the_threshold(runs):
    assert_workbook_matches_csvs(runs / "full")
