"""plan.xlsx as people print it: page setup read back with openpyxl (everywhere), and the workbook
converted to PDF by LibreOffice (headless), as report.html is opened in Chromium.

Without LibreOffice (soffice) and poppler's pdftotext / pdfinfo the conversion test is skipped,
except under CI (env CI set), where `.ci/run` installs them (Debian: libreoffice-calc, poppler-utils)
and a missing program is a failure.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from planner.cli import main

pytestmark = pytest.mark.solver
CASES = Path(__file__).parents[2] / "cases"
PEOPLE = ("Summary", "Plan per year", "Trades", "Carry-over", "Costs")


@pytest.fixture(scope="module")
def coal_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("print") / "plan"
    assert main(["run", str(CASES / "coal_2x660.yaml"), "--out", str(out), "--no-html"]) == 0
    return out


def test_every_sheet_prints_landscape_one_page_wide_with_its_header_row_repeated(coal_plan):
    wb = openpyxl.load_workbook(coal_plan / "plan.xlsx")
    for ws in wb.worksheets:
        ps = ws.page_setup
        assert ps.orientation == "landscape", ws.title
        assert ps.paperSize == 9, ws.title  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage and (ps.fitToWidth or 1, ps.fitToHeight) == (1, 0), ws.title  # (1 is the default width)
        assert ws.print_title_rows == "$1:$1", ws.title
        assert "&A" in ws.oddFooter.left.text and "&P" in ws.oddFooter.right.text
    summary = wb["Summary"]
    notes = [c for c in summary["A"] if isinstance(c.value, str) and c.value.startswith("Relief (coal floor")]
    assert notes and notes[0].alignment.wrap_text  # notes wrap, across the two columns, in a row as high as they are
    assert any(str(notes[0].coordinate) in str(r) for r in summary.merged_cells.ranges)
    assert summary.row_dimensions[notes[0].row].height >= 30


def _tools() -> tuple[str, str, str]:
    exes = tuple(shutil.which(n) for n in ("soffice", "pdftotext", "pdfinfo"))
    if None in exes:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice or poppler-utils is missing: .ci/run installs libreoffice-calc and poppler-utils")
        pytest.skip("LibreOffice (soffice) or poppler-utils (pdftotext, pdfinfo) is not installed")
    return exes  # type: ignore[return-value]


def test_libreoffice_prints_the_coal_plan_on_few_landscape_pages_with_nothing_cut(coal_plan, tmp_path):
    """LibreOffice gave 60 pages for this workbook before it had a page setup, the summary's title
    split across pages and notes cut between columns."""
    soffice, pdftotext, pdfinfo = _tools()
    r = subprocess.run([soffice, "--headless", "--norestore", f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
                        "--convert-to", "pdf", "--outdir", str(tmp_path), str(coal_plan / "plan.xlsx")],
                       capture_output=True, text=True, timeout=600)
    pdf = tmp_path / "plan.pdf"
    assert r.returncode == 0 and pdf.exists(), r.stderr
    info = subprocess.run([pdfinfo, str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    w, h = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert w > h  # landscape
    assert pages <= 30
    texts = [subprocess.run([pdftotext, "-layout", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True,
                            text=True, check=True).stdout for i in range(1, pages + 1)]
    # the footer names each page's sheet: people's sheets take a page or two each
    sheet_of = [re.sub(r"\s+\d+ / \d+$", "", [ln for ln in t.splitlines() if ln.strip()][-1].strip()) for t in texts]
    for name in PEOPLE:
        assert 1 <= sheet_of.count(name) <= 2, (name, sheet_of)
    # the title is whole on the first line of the summary's pages (the header row repeats)
    title = "Compliance plan: HN-COAL-2x660 2 x 660 MW supercritical coal plant"
    for t, name in zip(texts, sheet_of, strict=True):
        if name == "Summary":
            assert [ln for ln in t.splitlines() if ln.strip()][0].strip() == title
    # every note is printed whole (wrapped inside the page, not cut at a column or page edge)
    import json

    notes = json.loads((coal_plan / "plan.json").read_text(encoding="utf-8"))["notes"]
    flat = " ".join(" ".join(texts[i].split()) for i, n in enumerate(sheet_of) if n == "Summary")
    for n in notes:
        assert " ".join(n.split()) in flat, n[:60]
