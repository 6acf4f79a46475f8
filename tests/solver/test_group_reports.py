"""Deliverables of `planner run` on a group case: report.html and plan.xlsx next to the CSV
tables, the workbook reads back with the CSV numbers, every file but run.json is byte-identical
across runs, the audit record hashes every input file, labels and statements follow --lang.
(The report in a real browser: tests/solver/test_reports_browser.py.)"""

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

from planner.cli import main
from planner.input.read import file_sha256
from planner.report.labels import label, note_zh
from planner.report.statements import statement
from tests.solver.helpers import assert_workbook_matches_csvs, small_group

pytestmark = pytest.mark.solver


@pytest.fixture(scope="module")
def group_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("group")
    g = small_group(tmp / "case", pool_t=20_000)  # a pool small enough to bind
    for name, extra in (("en1", []), ("en2", []), ("zh", ["--lang", "zh"])):
        assert main(["run", str(g), "--out", str(tmp / name), *extra]) == 0
    return tmp


def test_group_workbook_reads_back_with_the_csv_numbers(group_runs):
    folder = group_runs / "en1"
    wb = assert_workbook_matches_csvs(folder)
    for name in ("group_annual.csv", "entity_summary.csv", "transfer_matrix.csv", "group_bindings.csv", "annual.csv"):
        assert name in wb.sheetnames
    body = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    summary = {r[0]: r[1] for r in wb[label("summary", "en")].iter_rows(values_only=True) if r[0]}
    assert summary[label("npv_cost_cny", "en")] == pytest.approx(body["summary"]["npv_cost_cny"])
    assert summary[label("value_of_pooling_cny", "en")] == pytest.approx(body["summary"]["value_of_pooling_cny"])
    # the people's sheet of the group per year holds the group_annual numbers
    import pandas as pd

    ga = pd.read_csv(folder / "group_annual.csv")
    ws = wb[label("group_plan", "en")]
    head = [c.value for c in ws[1]]
    got = [r[head.index(label("market_buy_t", "en"))] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert got == pytest.approx(ga["market_buy_t"].tolist(), abs=1e-6)


def test_group_files_but_run_json_are_byte_identical(group_runs):
    a, b = group_runs / "en1", group_runs / "en2"
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {"plan.xlsx", "report.html", "run.json", "plan.json", "summary.md", "group_bindings.csv"} <= set(names)
    assert [n for n in names if (a / n).read_bytes() != (b / n).read_bytes()] == ["run.json"]


def test_group_audit_hashes_every_input_file(group_runs):
    audit = json.loads((group_runs / "en1" / "plan.json").read_text(encoding="utf-8"))["audit"]
    case = group_runs / "case"
    assert audit["input_sha256"] == file_sha256(case / "group.yaml")
    assert audit["input_files_sha256"] == {n: file_sha256(case / n) for n in ("plants.csv", "measures.csv")}
    for key in ("rule_pack", "rule_pack_sha256", "versions", "solver", "solver_options", "status", "mip_gap", "checker",
                "report_options"):
        assert key in audit, key
    md = (group_runs / "en1" / "summary.md").read_text(encoding="utf-8")
    assert f"- input_sha256: {audit['input_sha256']}" in md
    html = (group_runs / "en1" / "report.html").read_text(encoding="utf-8")
    assert audit["input_files_sha256"]["plants.csv"] in html
    wb = openpyxl.load_workbook(group_runs / "en1" / "plan.xlsx")
    cells = {r[0]: r[1] for r in wb[label("summary", "en")].iter_rows(values_only=True) if r[0]}
    assert cells["input_files_sha256.plants.csv"] == audit["input_files_sha256"]["plants.csv"]


def test_group_reports_in_chinese(group_runs):
    zh, en = group_runs / "zh", group_runs / "en1"
    for p in sorted(en.glob("*.csv")):
        assert (zh / p.name).read_bytes() == p.read_bytes(), p.name  # data do not depend on the language
    html = (zh / "report.html").read_text(encoding="utf-8")
    assert label("group_report_title", "zh") in html and label("group_plan", "zh") in html
    gb = list(csv.DictReader(open(zh / "group_bindings.csv", encoding="utf-8")))
    assert gb and {r["rule"] for r in gb} >= {"pool_availability"}
    for r in gb:
        assert r["facts"], r["statement"]  # the group's own limits carry their record too
        zh_text = statement(SimpleNamespace(**r), "zh", "wan")  # the report's default units for zh: 万t
        assert zh_text != r["statement"] and "万t" in zh_text
        assert zh_text in html
    notes = json.loads((zh / "plan.json").read_text(encoding="utf-8"))["notes"]
    assert notes and all(note_zh(n) in html for n in notes)  # notes in Chinese (plan.json keeps English)
    wb = openpyxl.load_workbook(zh / "plan.xlsx", read_only=True)
    assert label("group_plan", "zh") in wb.sheetnames and label("entities_sheet", "zh") in wb.sheetnames


def test_group_notes_state_no_derived_purchase_bound(group_runs):
    """Market purchases without a given limit and transfers have no bound (a price path that rewards
    buying without limit is refused instead of capped), so no note speaks of one."""
    notes = json.loads((group_runs / "en1" / "plan.json").read_text(encoding="utf-8"))["notes"]
    assert notes and not any("bounded by" in n or "derived from the data" in n for n in notes)


def test_entity_notes_are_listed_once_with_their_entities():
    from planner.plan.group import entity_notes

    got = entity_notes([("A", ["x", "y"]), ("B", ["x"]), ("C", ["x", "z"]), ("D", ["x"])], shown=2)
    assert got == ["A, B and 2 more: x", "A: y", "C: z"]


def _tables_workbook(case_dir: Path, out: Path, break_cell: tuple[str, int, str, object] | None = None) -> None:
    """plants.csv and measures.csv of a group folder as the sheets of one workbook (numbers as numbers)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in ("plants", "measures"):
        ws = wb.create_sheet(name)
        with open(case_dir / f"{name}.csv", encoding="utf-8", newline="") as f:
            for i, row in enumerate(csv.reader(f)):
                ws.append([_num_or_text(v) if i else v for v in row])
    if break_cell:
        sheet, r, col, v = break_cell
        wb[sheet][f"{col}{r}"] = v
    wb.save(out)


def _num_or_text(v: str):
    try:
        return float(v)
    except ValueError:
        return v


def _assert_same_plan_from_workbook_tables(case: Path, x: Path, out: Path, reference: Path) -> None:
    """The group case in ``x`` with plants and measures from ``x/tables.xlsx`` plans like ``reference``."""
    text = (case / "group.yaml").read_text(encoding="utf-8")
    text = text.replace("plants: plants.csv", "plants: tables.xlsx").replace("measures: measures.csv", "measures: tables.xlsx")
    (x / "group.yaml").write_text(text, encoding="utf-8")
    assert main(["run", str(x / "group.yaml"), "--out", str(out), "--no-html", "--no-xlsx"]) == 0
    for p in sorted(reference.glob("*.csv")):
        assert (out / p.name).read_bytes() == p.read_bytes(), p.name


def test_entity_tables_from_a_workbook_give_the_csv_plan(tmp_path, group_runs):
    """The same plants and measures as sheets of tables.xlsx: every CSV of the plan is byte-identical
    to the plan from the CSV tables."""
    case = group_runs / "case"
    x = tmp_path / "x"
    x.mkdir()
    _tables_workbook(case, x / "tables.xlsx")
    _assert_same_plan_from_workbook_tables(case, x, tmp_path / "plan", group_runs / "en1")


def test_entity_table_workbook_errors_name_file_sheet_row_and_column(tmp_path, group_runs, capsys):
    case = group_runs / "case"
    _tables_workbook(case, tmp_path / "tables.xlsx", break_cell=("plants", 3, "F", "lots"))
    text = (case / "group.yaml").read_text(encoding="utf-8").replace("plants: plants.csv", "plants: tables.xlsx")
    (tmp_path / "group.yaml").write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "group.yaml")]) == 1
    err = capsys.readouterr().err
    assert "tables.xlsx sheet 'plants' row 3 column F (output): expected a number, got 'lots'" in err
    # a workbook without a sheet of that name and with several sheets
    text = text.replace("plants: tables.xlsx", "plants: tables.xlsx").replace("measures: measures.csv", "measures: other.xlsx")
    wb = openpyxl.Workbook()
    wb.create_sheet("x")
    wb.save(tmp_path / "other.xlsx")
    (tmp_path / "group.yaml").write_text(text, encoding="utf-8")
    assert main(["validate", str(tmp_path / "group.yaml")]) == 1
    assert "other.xlsx: no sheet named 'measures' (sheets: Sheet, x)" in capsys.readouterr().err


def test_tables_template_round_trip(tmp_path, group_runs):
    """`planner template --tables --from GROUP` writes the group's tables into a workbook (help row
    skipped by the reader); the group case pointed at it gives the same plan CSVs; the blank
    template has every column the readers know, and the same bytes every time."""
    from planner.input.read import TABLE_SPECS
    from planner.input.workbook import TABLE_COLUMNS, tables_template_bytes

    assert {k: {n for n, _ in v} for k, v in TABLE_COLUMNS.items()} == {k: v[0] for k, v in TABLE_SPECS.items()}
    assert tables_template_bytes() == tables_template_bytes()
    case = group_runs / "case"
    x = tmp_path / "x"
    x.mkdir()
    assert main(["template", "--xlsx", str(x / "tables.xlsx"), "--tables", "--from", str(case / "group.yaml")]) == 0
    _assert_same_plan_from_workbook_tables(case, x, tmp_path / "plan", group_runs / "en1")
    assert main(["template", "--xlsx", str(tmp_path / "blank.xlsx"), "--tables"]) == 0
    wb = openpyxl.load_workbook(tmp_path / "blank.xlsx")
    assert wb.sheetnames == ["plants", "measures", "activity", "instructions"]
    assert [c.value for c in wb["plants"][1]][:3] == ["id", "name", "sector"]


def test_pooling_is_explained_and_the_savings_add_up(group_runs):
    """Three plants and a pool that binds: the pool's CCER costs are shared out, so the entities'
    savings add up to the group's value of pooling; the report explains pooling in a paragraph."""
    import pandas as pd

    folder = group_runs / "en1"
    body = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    pv = pd.read_csv(folder / "pooling_value.csv").set_index("entity")
    ents = pv.drop(index="(group)")
    assert "(group links)" not in pv.index
    assert ents["saving_cny"].sum() == pytest.approx(body["summary"]["value_of_pooling_cny"], abs=1e-3)
    assert ents["internal_settlement_cny"].sum() == pytest.approx(0.0, abs=1e-3)
    gc = pd.read_csv(folder / "group_costs.csv")
    assert ents["group_cost_share_cny"].sum() == pytest.approx(gc["discounted_cny"].sum(), abs=1e-3)
    assert gc["discounted_cny"].sum() > 0  # the pool bought CCERs: there is something to share
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="pooling-explained"' in html and "the value of pooling is" in html
    ws = openpyxl.load_workbook(folder / "plan.xlsx")[label("pooling_value", "en")]
    assert "the value of pooling is" in ws["A1"].value
    head = [c.value for c in ws[3]]
    got = {r[0]: r[head.index(label("saving_cny", "en"))] for r in ws.iter_rows(min_row=4, values_only=True)}
    assert got == pytest.approx(pv["saving_cny"].to_dict(), abs=1e-6)
    es = pd.read_csv(folder / "entity_summary.csv")
    assert set(es["side"]) <= {"long", "short", "balanced"}
    assert (es.loc[es["position_t"].abs() < 0.5, "side"] == "balanced").all()
