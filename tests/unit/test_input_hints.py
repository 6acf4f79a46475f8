"""Errors people make in case files: every problem listed even when a key is misspelt, a
did-you-mean for unknown keys, fields and column headers, the offending value quoted with the
likely fix (a unit written into a number, a percentage where a share is expected), no line twice."""

from pathlib import Path

import openpyxl
import pytest
import yaml

from planner.cli import main
from planner.input.hints import did_you_mean, share_hint, unit_hint

CASES = Path(__file__).parents[2] / "cases"


def test_hints():
    assert did_you_mean("discount_rat", ["discount_rate", "terminal_value"]) == "; did you mean 'discount_rate'?"
    assert did_you_mean("Discount Rate", ["discount_rate"]) == "; did you mean 'discount_rate'?"
    assert did_you_mean("zzz", ["discount_rate"]) == ""
    assert unit_hint("80元") == "; drop the unit: write 80"
    assert unit_hint("95 CNY/t") == "; drop the unit: write 95"
    assert unit_hint("5%") == "; a share is a fraction: write 0.05 for 5%"
    assert unit_hint("12万") == "; numbers are in t and CNY, not 万 (10,000): write 120000 without the unit"
    assert unit_hint("abc") == ""
    assert share_hint(5, 1.0) == "; a share or rate is a fraction, not a percentage: write 0.05 for 5%"
    assert share_hint(63, 1.5) == "; a share or rate is a fraction, not a percentage: write 0.63 for 63%"
    assert share_hint(0.5, 1.0) == "" and share_hint(500, 1.0) == "" and share_hint(5, 1e9) == ""


def _validate(path, capsys) -> list[str]:
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("  - ")]
    assert len(lines) == len(set(lines)), "a problem is listed twice"
    return lines


def test_a_misspelt_key_hides_no_other_problem_of_a_yaml_case(tmp_path, capsys):
    d = yaml.safe_load((CASES / "coal_2x660.yaml").read_text(encoding="utf-8"))
    d["entity"]["sectr"] = d["entity"].pop("sector")
    d["finance"]["discount_rat"] = 0.08
    d["finance"]["discount_rate"] = 8
    d["market"][1]["cea_buy_cny_per_t"] = "80元"
    d["activity"][0]["load_rate"] = 63
    case = tmp_path / "bad.yaml"
    case.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
    lines = _validate(case, capsys)
    text = "\n".join(lines)
    assert "entity.sectr: unknown key (not part of the case schema; did you mean 'sector'?)" in text
    assert "finance.discount_rat: unknown key (not part of the case schema; did you mean 'discount_rate'?)" in text
    assert "market[1] (year 2026).cea_buy_cny_per_t: expected a number, got '80元'; drop the unit: write 80" in text
    assert "finance.discount_rate: Input should be less than or equal to 1, got 8; a share or rate is a fraction" in text
    assert "activity[0] (year 2025).load_rate" in text and "write 0.63 for 63%" in text


@pytest.mark.solver
def test_a_misspelt_header_or_field_in_a_workbook_hides_no_other_problem(tmp_path, capsys):
    """A workbook reading problem (unknown column, unknown field) used to stop before the values
    were validated; now both are listed, and the fields the misspelt names stood for are not
    reported missing in every row on top."""
    xlsx = tmp_path / "case.xlsx"
    assert main(["template", "--xlsx", str(xlsx), "--from", str(CASES / "coal_2x660.yaml")]) == 0
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["market"]
    head = [c.value for c in ws[1]]
    ws.cell(row=1, column=head.index("ccer_cny_per_t") + 1).value = "ccer_cny_pr_t"
    ws.cell(row=3, column=head.index("cea_buy_cny_per_t") + 1).value = "80元"
    for row in wb["case"].iter_rows():
        if row[0].value == "finance.discount_rate":
            row[1].value = 8
        elif row[0].value == "entity.sector":
            row[0].value = "entity.sectr"
    wb.save(xlsx)
    capsys.readouterr()
    lines = _validate(xlsx, capsys)
    text = "\n".join(lines)
    assert "unknown field 'entity.sectr'; did you mean 'entity.sector'?" in text
    assert "unknown column 'ccer_cny_pr_t'; did you mean 'ccer_cny_per_t'?" in text
    assert "(cea_buy_cny_per_t): expected a number, got '80元'; drop the unit: write 80" in text
    assert "(finance.discount_rate): Input should be less than or equal to 1, got 8; a share or rate is a fraction" in text
    assert "required field is missing" not in text
    assert len(lines) == 4
