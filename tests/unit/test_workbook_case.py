"""Excel case workbooks: the template's layout, the example cases through a filled template, and
workbooks with errors whose problems name the sheet, row and column."""

import copy
import io
from pathlib import Path

import openpyxl
import pytest
import yaml

from planner.cli import main
from planner.errors import CaseValidationError
from planner.input.read import parse_case, read_case
from planner.input.workbook import CASE_SHEET, INSTRUCTIONS_SHEET, SHEETS, template_bytes

pytestmark = pytest.mark.unit
CASES = sorted((Path(__file__).parents[2] / "cases").glob("*.yaml"))


def _yaml(p):
    return yaml.safe_load(p.read_text(encoding="utf-8"))


def _save(wb, tmp_path, name="case.xlsx"):
    p = tmp_path / name
    wb.save(p)
    return p


def _problems(path):
    with pytest.raises(CaseValidationError) as exc:
        read_case(path)
    return exc.value.problems


def test_template_has_a_sheet_per_table_with_field_names_help_and_validation(tmp_path):
    out = tmp_path / "t.xlsx"
    assert main(["template", "--xlsx", str(out)]) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == [INSTRUCTIONS_SHEET, CASE_SHEET, *SHEETS]
    m = wb["market"]
    assert [c.value for c in m[1]][:2] == ["year", "cea_buy_cny_per_t"]
    assert str(m["B2"].value).startswith("required; Price at which the entity can buy CEAs")
    assert m.freeze_panes == "A3"
    keys = [wb[CASE_SHEET].cell(row=r, column=1).value for r in range(1, wb[CASE_SHEET].max_row + 1)]
    assert {"entity.id", "entity.sector", "horizon.first_year", "finance.discount_rate", "policy.compliance"} <= set(keys)
    dv = {str(v.sqref): v.formula1 for v in wb[CASE_SHEET].data_validations.dataValidation}
    sector_row = keys.index("entity.sector") + 1
    assert dv[f"B{sector_row}"] == '"power,industry"'
    assert template_bytes() == out.read_bytes()  # the same bytes every time


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_example_case_through_a_filled_template_is_the_same_case(tmp_path, case):
    out = tmp_path / "filled.xlsx"
    assert main(["template", "--xlsx", str(out), "--from", str(case)]) == 0
    from_xlsx, sha = read_case(out)
    assert from_xlsx.model_dump() == parse_case(_yaml(case)).model_dump()
    assert len(sha) == 64


def test_blank_template_filled_by_hand_reads_back(tmp_path):
    """Fill the empty template as a person would (cells under the headers, numbers as text too)."""
    wb = openpyxl.load_workbook(io.BytesIO(template_bytes()))
    c = wb[CASE_SHEET]
    values = {"entity.id": "XL-1", "entity.sector": "power", "entity.unit_class": "coal_gt300",
              "horizon.first_year": 2025, "horizon.last_year": 2026, "allocation.method": "given",
              "finance.discount_rate": "0.05"}
    for r in range(1, c.max_row + 1):
        if c.cell(row=r, column=1).value in values:
            c.cell(row=r, column=2).value = values[c.cell(row=r, column=1).value]
    a = wb["activity"]
    a.append([None, 2025, 1_000_000, None, None, None, None, 850_000])
    a.append([None, 2026, 1_000_000, None, None, None, None, 840_000])
    m = wb["market"]
    m.append([2025, 80, None, 1, 75])
    m.append([2026, "85", None, 1, 78])
    g = wb["allocation_given"]
    g.append([2025, 800_000])
    g.append([2026, 790_000])
    o = wb["overrides"]
    o.append(["penalty.multiple", 6])
    case, _ = read_case(_save(wb, tmp_path))
    assert case.entity.id == "XL-1" and case.finance.discount_rate == 0.05
    assert [r.cea_buy_cny_per_t for r in case.market] == [80, 85]
    assert [r.allocation_t for r in case.allocation.given] == [800_000, 790_000]
    assert case.policy.overrides == {"penalty.multiple": 6}


GOOD = {
    "entity": {"id": "E1", "sector": "power", "unit_class": "coal_gt300"},
    "horizon": {"first_year": 2025, "last_year": 2027},
    "activity": [{"year": y, "output": 1_000_000, "emissions_t": 850_000} for y in (2025, 2026, 2027)],
    "market": [{"year": y, "cea_buy_cny_per_t": 80, "cea_spread_cny_per_t": 1, "ccer_cny_per_t": 75} for y in (2025, 2026, 2027)],
    "abatement": {"measures": [{"id": "m1", "cost_cny_per_t": {2025: 10, 2026: 11, 2027: 12}, "potential_t_per_year": 1000}]},
}


def _good_wb():
    return openpyxl.load_workbook(io.BytesIO(template_bytes(copy.deepcopy(GOOD))))


def test_workbook_with_errors_names_sheet_row_and_column(tmp_path, capsys):
    wb = _good_wb()
    wb["market"]["B4"] = "lots"  # cea_buy_cny_per_t of 2026 (data starts at row 3)
    wb["activity"]["C5"] = -5  # output of 2027
    wb["market"].delete_rows(5)  # no 2027 market row
    case_sheet = wb[CASE_SHEET]
    for r in range(1, case_sheet.max_row + 1):
        if case_sheet.cell(row=r, column=1).value == "entity.id":
            case_sheet.cell(row=r, column=2).value = "E 1"
            id_row = r
    wb["measure_costs"]["C4"] = "eleven"
    path = _save(wb, tmp_path)
    probs = dict(_problems(path))
    assert "String should match pattern" in probs[f"sheet 'case' row {id_row} column B (entity.id)"]
    assert probs["sheet 'market' row 4 column B (cea_buy_cny_per_t)"] == "expected a number, got 'lots'"
    assert "greater than or equal to 0" in probs["sheet 'activity' row 5 column C (output)"]
    assert probs["sheet 'market'"] == "no row for years [2027]"
    assert probs["sheet 'measure_costs' row 4 column C (cost_cny_per_t)"] == "expected a number, got 'eleven'"
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(path) in err and "5 problem(s)" in err


def test_structural_problems_are_listed_together(tmp_path):
    wb = _good_wb()
    wb["market"]["B3"] = "=1+2"  # a formula saved without a value (not by Excel)
    wb["market"].merge_cells("C4:D4")
    wb["market"]["Z1"] = "colour"
    wb["market"]["B5"] = True
    wb.create_sheet("notes")
    wb["activity"]["A3"] = "U9"  # a unit, but no units sheet rows
    path = _save(wb, tmp_path)
    probs = _problems(path)
    text = "\n".join(f"{loc}: {msg}" for loc, msg in probs)
    assert "sheet 'notes': unknown sheet" in text
    assert "sheet 'market' cells C4:D4: merged cells" in text
    assert "sheet 'market' row 1 column Z: unknown column 'colour'" in text
    assert "sheet 'market' row 3 column B: formula =1+2 has no saved value" in text
    assert "sheet 'market' row 5 column B: TRUE where a number is expected" in text
    assert "sheet 'activity' row 3 column A (unit): a unit is named but the units sheet is empty" in text


def test_missing_sheets_are_named(tmp_path):
    wb = _good_wb()
    del wb["activity"]
    probs = dict(_problems(_save(wb, tmp_path, "a.xlsx")))
    assert probs["sheet 'activity' (missing)"] == "no row for years [2025, 2026, 2027]"
    wb = _good_wb()
    del wb["market"]
    del wb[CASE_SHEET]
    probs = dict(_problems(_save(wb, tmp_path, "b.xlsx")))
    assert "the sheet is missing" in probs["sheet 'market'"] and "the sheet is missing" in probs["sheet 'case'"]


def test_not_a_workbook_is_an_input_error(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_bytes(b"PK\x03\x04 not really a zip")
    ((loc, msg),) = _problems(p)
    assert "not a readable .xlsx workbook" in msg


def test_multi_unit_case_round_trips():
    d = copy.deepcopy(GOOD)
    act = d.pop("activity")
    d["entity"].pop("unit_class")
    d["units"] = [{"id": "U1", "unit_class": "coal_gt300", "activity": act},
                  {"id": "U2", "unit_class": "coal_le300", "cooling": "air", "activity": act}]
    from planner.input.workbook import read_workbook

    data, _ = read_workbook(template_bytes(d), "m.xlsx")
    assert parse_case(data).model_dump() == parse_case(d).model_dump()


def test_a_bad_single_cost_is_reported_once_at_its_cell(tmp_path):
    d = copy.deepcopy(GOOD)
    d["abatement"]["measures"][0]["cost_cny_per_t"] = 10
    wb = openpyxl.load_workbook(io.BytesIO(template_bytes(d)))
    wb["measures"]["C3"] = "ten"
    ((loc, msg),) = _problems(_save(wb, tmp_path))
    assert loc == "sheet 'measures' row 3 column C (cost_cny_per_t)" and msg == "expected a number, got 'ten'"
