"""Deliverables of `planner run`: a case workbook gives the YAML case's plan, the Excel plan reads
back with the CSV numbers, every file but run.json is byte-identical across runs, the audit record
is complete, labels follow --lang and 万 units are shown on request."""

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from planner.cli import main
from planner.report.labels import label
from tests.solver.helpers import assert_workbook_matches_csvs

pytestmark = pytest.mark.solver
CASES = sorted((Path(__file__).parents[2] / "cases").glob("*.yaml"))


def _csvs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_template_round_trip_gives_the_yaml_plan(tmp_path, case):
    """template -> workbook filled from the YAML case -> planner run: the same plan tables, byte for byte."""
    xlsx = tmp_path / "case.xlsx"
    assert main(["template", "--xlsx", str(xlsx), "--from", str(case)]) == 0
    assert main(["run", str(case), "--out", str(tmp_path / "from_yaml"), "--no-html", "--no-xlsx"]) == 0
    assert main(["run", str(xlsx), "--out", str(tmp_path / "from_xlsx"), "--no-html", "--no-xlsx"]) == 0
    a, b = _csvs(tmp_path / "from_yaml"), _csvs(tmp_path / "from_xlsx")
    assert a.keys() == b.keys() and "annual.csv" in a
    assert a == b
    ja = json.loads((tmp_path / "from_yaml" / "plan.json").read_text(encoding="utf-8"))
    jb = json.loads((tmp_path / "from_xlsx" / "plan.json").read_text(encoding="utf-8"))
    assert ja["summary"] == jb["summary"]
    assert jb["audit"]["input_format"] == "xlsx" and ja["audit"]["input_format"] == "yaml"


def test_workbook_with_errors_exits_1_and_writes_nothing(tmp_path, capsys):
    xlsx = tmp_path / "case.xlsx"
    assert main(["template", "--xlsx", str(xlsx), "--from", str(CASES[0])]) == 0
    wb = openpyxl.load_workbook(xlsx)
    wb["market"]["B3"] = "eighty"
    wb.save(xlsx)
    out = tmp_path / "plan"
    assert main(["run", str(xlsx), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "sheet 'market' row 3 column B (cea_buy_cny_per_t)" in err and "Traceback" not in err
    assert not out.exists()


@pytest.fixture(scope="module")
def coal_runs(tmp_path_factory):
    """The coal case run twice in English and once in Chinese with 万 units."""
    tmp = tmp_path_factory.mktemp("coal")
    case = next(c for c in CASES if c.stem == "coal_2x660")
    for name, extra in (("en1", []), ("en2", []), ("zh", ["--lang", "zh"])):
        assert main(["run", str(case), "--out", str(tmp / name), *extra]) == 0
    return tmp


def test_excel_plan_reads_back_with_the_csv_numbers(coal_runs):
    folder = coal_runs / "en1"
    wb = assert_workbook_matches_csvs(folder)
    # people's sheets: the per-year plan and the carry-over sheet hold the same numbers
    annual = pd.read_csv(folder / "annual.csv")
    plan_ws = wb[label("plan", "en")]
    head = [c.value for c in plan_ws[1]]
    col = head.index(label("buy_t", "en"))
    got = [r[col] for r in plan_ws.iter_rows(min_row=2, values_only=True)]
    assert got == pytest.approx(annual["buy_t"].tolist(), abs=1e-6)
    carry_ws = wb[label("carryover", "en")]
    head = [c.value for c in carry_ws[1]]
    got = [r[head.index(label("carry_limit_t", "en"))] for r in carry_ws.iter_rows(min_row=2, values_only=True)]
    assert got == pytest.approx(annual["carry_limit_t"].tolist(), abs=1e-6)
    summary = {r[0]: r[1] for r in wb[label("summary", "en")].iter_rows(values_only=True) if r[0]}
    body = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    assert summary[label("npv_cost_cny", "en")] == pytest.approx(body["summary"]["npv_cost_cny"])
    assert summary["input_sha256"] == body["audit"]["input_sha256"]


def test_every_file_but_run_json_is_byte_identical(coal_runs):
    a, b = coal_runs / "en1", coal_runs / "en2"
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert {"plan.xlsx", "report.html", "run.json", "plan.json"} <= set(names)
    differ = [n for n in names if (a / n).read_bytes() != (b / n).read_bytes()]
    assert differ in ([], ["run.json"])


def test_audit_record_is_complete(coal_runs):
    audit = json.loads((coal_runs / "en1" / "plan.json").read_text(encoding="utf-8"))["audit"]
    for key in ("input_sha256", "input_format", "rule_pack", "rule_pack_sha256", "rule_pack_overrides", "versions",
                "solver", "solver_options", "status", "mip_gap", "checker", "report_options"):
        assert key in audit, key
    assert len(audit["rule_pack_sha256"]) == 64
    assert {"cn-ets-planner", "highspy", "pyomo", "openpyxl", "xlsxwriter"} <= set(audit["versions"])
    assert audit["solver_options"]["mip_rel_gap"] == 1e-6
    run = json.loads((coal_runs / "en1" / "run.json").read_text(encoding="utf-8"))
    assert "timestamp" in run  # the timestamp lives in run.json only
    html = (coal_runs / "en1" / "report.html").read_text(encoding="utf-8")
    assert audit["input_sha256"] in html and audit["rule_pack_sha256"] in html
    md = (coal_runs / "en1" / "summary.md").read_text(encoding="utf-8")
    assert f"- input_sha256: {audit['input_sha256']}" in md and "- rule_pack_sha256: " in md
    wb = openpyxl.load_workbook(coal_runs / "en1" / "plan.xlsx")
    cells = {r[0]: r[1] for r in wb[label("summary", "en")].iter_rows(values_only=True) if r[0]}
    assert cells["rule_pack_sha256"] == audit["rule_pack_sha256"] and cells["versions.highspy"] == audit["versions"]["highspy"]


def test_chinese_labels_and_wan_units(coal_runs):
    zh, en = coal_runs / "zh", coal_runs / "en1"
    assert _csvs(zh) == _csvs(en)  # the data do not depend on the language
    wb = openpyxl.load_workbook(zh / "plan.xlsx")
    assert {"概要", "年度计划", "交易计划", "结转", "成本", "方案说明"} <= set(wb.sheetnames)
    ws = wb["年度计划"]
    head = [c.value for c in ws[1]]
    assert "购入配额 万t" in head
    j = head.index("购入配额 万t")
    annual = pd.read_csv(en / "annual.csv")
    assert ws.cell(row=2, column=j + 1).value == pytest.approx(annual["buy_t"][0])  # stored in t
    assert ws.cell(row=2, column=j + 1).number_format == '0!.0000"万"'
    html = (zh / "report.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "履约方案" in html and "万t" in html
    assert "[结转上限] 2026年结转上限约束生效" in html  # statements in Chinese too
    wan = f"{annual['buy_t'][0] / 1e4:,.2f}"
    assert f">{wan}<" in html
    audit = json.loads((zh / "plan.json").read_text(encoding="utf-8"))["audit"]
    assert audit["report_options"] == {"lang": "zh", "units": "wan", "html": True, "xlsx": True}


def test_template_refuses_an_invalid_case(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"entity": {"id": "X"}}), encoding="utf-8")
    assert main(["template", "--xlsx", str(tmp_path / "t.xlsx"), "--from", str(bad)]) == 1
    assert not (tmp_path / "t.xlsx").exists()
