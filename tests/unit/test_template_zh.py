"""`planner template --lang zh`: every help text of the case and entity-tables templates in Chinese
(sheet and field names unchanged), and the filled zh workbooks still read as the same case; a zh
report without a CJK font warns once and is written all the same (issue 20 item 8)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml

from planner.cli import main
from planner.input.read import load_group_case, parse_case, read_case
from planner.input.workbook import CASE_SHEET, INSTRUCTIONS_SHEET, SHEETS, TABLE_COLUMNS

pytestmark = pytest.mark.unit
ROOT = Path(__file__).parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _help_texts(wb) -> list[tuple[str, str]]:
    """(where, text) of every help a person reads: instructions, case descriptions and section
    rows, each table's help row, the data validations' messages."""
    out = []
    for ws in wb.worksheets:
        if ws.title == INSTRUCTIONS_SHEET or ws.title == "instructions":
            out += [(f"{ws.title}!A{c.row}", c.value) for c in ws["A"] if c.value]
        elif ws.title == CASE_SHEET:
            for r in range(2, ws.max_row + 1):
                a, desc = ws.cell(row=r, column=1).value, ws.cell(row=r, column=3).value
                if isinstance(a, str) and a.startswith("#"):
                    out.append((f"{ws.title}!A{r}", a))
                else:
                    out.append((f"{ws.title}!C{r}", desc))
        else:
            out += [(f"{ws.title}!{c.coordinate}", c.value) for c in ws[2] if ws.cell(row=1, column=c.column).value]
        out += [(f"{ws.title} validation {dv.sqref}", dv.error) for dv in ws.data_validations.dataValidation
                if dv.error is not None]
        for row in ws.iter_rows():
            out += [(f"{ws.title}!{c.coordinate} comment", c.comment.text) for c in row if c.comment]
    return out


def test_zh_case_template_has_chinese_help_everywhere_and_the_same_format(tmp_path):
    en, zh = tmp_path / "en.xlsx", tmp_path / "zh.xlsx"
    assert main(["template", "--xlsx", str(en)]) == 0
    assert main(["template", "--xlsx", str(zh), "--lang", "zh"]) == 0
    wen, wzh = openpyxl.load_workbook(en), openpyxl.load_workbook(zh)
    assert wzh.sheetnames == wen.sheetnames == [INSTRUCTIONS_SHEET, CASE_SHEET, *SHEETS]
    for name in SHEETS:  # field names are the file format
        assert [c.value for c in wzh[name][1]] == [c.value for c in wen[name][1]]
    assert [c.value for c in wzh[CASE_SHEET]["A"] if not str(c.value).startswith("#")] == \
        [c.value for c in wen[CASE_SHEET]["A"] if not str(c.value).startswith("#")]
    helps = _help_texts(wzh)
    assert len(helps) > 150
    english_only = [(w, t) for w, t in helps if not t or not CJK.search(str(t))]
    assert english_only == []
    # dropdowns stay the values the reader takes, with a Chinese message
    dv = {str(v.sqref): v for v in wzh[CASE_SHEET].data_validations.dataValidation}
    keys = [wzh[CASE_SHEET].cell(row=r, column=1).value for r in range(1, wzh[CASE_SHEET].max_row + 1)]
    sector = dv[f"B{keys.index('entity.sector') + 1}"]
    assert sector.formula1 == '"power,industry"' and CJK.search(sector.error)
    # the English template keeps its English help
    assert str(wen["market"]["B2"].value).startswith("required; Price at which the entity can buy CEAs")
    assert str(wzh["market"]["B2"].value).startswith("必填；企业可购买配额 CEA 的价格")


def test_every_field_and_sheet_has_its_chinese_help():
    """Keys, not only CJK characters: an English help that happens to quote a Chinese term (供热比)
    does not pass for a translation."""
    from planner.input import template_zh as zh
    from planner.input.workbook import TABLES, _section_rows

    keys = {f"{m.__name__}.{n}" for _, m, n in _section_rows()}
    keys |= {f"{t.model.__name__ if t.model else t.sheet}.{c}" for t in TABLES for c in t.columns}
    assert sorted(keys - set(zh.FIELDS)) == [] and sorted(set(zh.FIELDS) - keys) == []
    assert set(zh.SHEETS) == {t.sheet for t in TABLES}
    assert set(zh.GROUP_COLUMNS) == {(s, n) for s, cols in TABLE_COLUMNS.items() for n, _ in cols}


@pytest.mark.parametrize("case", ["coal_2x660.yaml", "multi_unit_power.yaml", "steel_bf_bof.yaml"])
def test_filled_zh_template_reads_as_the_same_case(tmp_path, case):
    path = ROOT / "cases" / case
    out = tmp_path / "filled.xlsx"
    assert main(["template", "--xlsx", str(out), "--from", str(path), "--lang", "zh"]) == 0
    from_xlsx, _ = read_case(out)
    assert from_xlsx.model_dump() == parse_case(yaml.safe_load(path.read_text(encoding="utf-8"))).model_dump()


def test_zh_tables_template_has_chinese_help_and_reads_back(tmp_path):
    src = ROOT / "cases" / "group_hn_generation"
    blank = tmp_path / "blank.xlsx"
    assert main(["template", "--xlsx", str(blank), "--tables", "--lang", "zh"]) == 0
    wb = openpyxl.load_workbook(blank)
    assert wb.sheetnames == ["plants", "measures", "activity", "instructions"]
    for sheet, cols in TABLE_COLUMNS.items():
        assert [c.value for c in wb[sheet][1]] == [n for n, _ in cols]
    assert [(w, t) for w, t in _help_texts(wb) if not t or not CJK.search(str(t))] == []
    # filled from the example group: the group case pointed at it is the same case
    x = tmp_path / "x"
    shutil.copytree(src, x)
    assert main(["template", "--xlsx", str(x / "tables.xlsx"), "--tables", "--from", str(x / "group.yaml"),
                 "--lang", "zh"]) == 0
    text = (x / "group.yaml").read_text(encoding="utf-8")
    (x / "group_xlsx.yaml").write_text(text.replace("plants: plants.csv", "plants: tables.xlsx")
                                       .replace("measures: measures.csv", "measures: tables.xlsx"), encoding="utf-8")
    a = load_group_case(x / "group.yaml", None)
    b = load_group_case(x / "group_xlsx.yaml", None)
    assert [e.model_dump() for e in b.entities] == [e.model_dump() for e in a.entities]


def test_zh_report_without_a_cjk_font_warns_once_and_writes_the_plan(tmp_path, monkeypatch, capsys):
    import planner.report.charts as charts

    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    out = tmp_path / "plan"
    assert main(["run", str(ROOT / "cases" / "gas_peaker.yaml"), "--out", str(out), "--lang", "zh"]) == 0
    err = capsys.readouterr().err
    assert err.count("no CJK font") == 1 and "fonts-noto-cjk" in err
    assert (out / "report.html").is_file() and (out / "plan.xlsx").is_file()
    # English reports, and a zh run with a font, say nothing about fonts
    assert main(["run", str(ROOT / "cases" / "gas_peaker.yaml"), "--out", str(tmp_path / "en")]) == 0
    monkeypatch.setattr(charts, "cjk_font", lambda: "Noto Sans CJK SC")
    assert main(["run", str(ROOT / "cases" / "gas_peaker.yaml"), "--out", str(tmp_path / "zh"), "--lang", "zh"]) == 0
    assert "CJK" not in capsys.readouterr().err
