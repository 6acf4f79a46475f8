"""The HTML report opened in real headless Chromium (Debian's chromium, driven by Playwright):
it renders its charts and tables, the screenshot is not blank, the console has no errors and the
page asks for nothing over the network.

Without chromium the test is skipped, except under CI (env CI set), where `.ci/run` installs it and
a missing browser is a failure.
"""

import io
import os
import shutil
from pathlib import Path

import pytest

from planner.cli import main
from planner.report.labels import label

pytestmark = [pytest.mark.solver, pytest.mark.browser]
CASES = Path(__file__).parents[2] / "cases"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return exe


@pytest.fixture(scope="module")
def browser():
    exe = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


def _open(browser, report: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    console, errors, requests = [], [], []
    page.on("console", lambda m: console.append((m.type, m.text)))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri(), wait_until="load")
    return page, console, errors, requests


def _assert_charts_readable(page, n: int) -> None:
    """Every chart at the page's full width, drawn (its picture is not blank), and every label of
    it inside the chart and clear of every other label (ticks, titles, legends do not overlap)."""
    charts = page.locator("svg.chart")
    assert charts.count() == n
    body = page.locator("body").bounding_box()
    for i in range(n):
        chart = charts.nth(i)
        box = chart.bounding_box()
        assert box is not None and box["width"] >= 0.95 * body["width"] and box["height"] > 200, box
        _assert_not_blank(chart.screenshot(), min_colours=8, min_ink=0.02)
        # label boxes relative to the chart's own box (one measurement: the screenshot scrolled the page)
        texts = chart.evaluate("""svg => { const c = svg.getBoundingClientRect();
            return [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => {
                const r = t.getBoundingClientRect();
                return [t.textContent, r.left - c.left, r.top - c.top, r.right - c.left, r.bottom - c.top, c.width, c.height]; }); }""")
        assert len(texts) > 5
        tol = 1.0
        for t, left, top, right, bottom, width, height in texts:
            assert -tol <= left and right <= width + tol, f"label {t!r} outside chart {i}"
            assert -tol <= top and bottom <= height + tol, f"label {t!r} outside chart {i}"
        for j, a in enumerate(texts):
            for b in texts[j + 1:]:
                overlap_x = min(a[3], b[3]) - max(a[1], b[1])
                overlap_y = min(a[4], b[4]) - max(a[2], b[2])
                assert overlap_x <= tol or overlap_y <= tol, f"chart {i}: labels {a[0]!r} and {b[0]!r} overlap"


def _assert_not_blank(png: bytes, min_colours: int = 20, min_ink: float = 0.03) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    small = img.resize((200, max(1, img.height * 200 // img.width)))
    colours = small.getcolors(maxcolors=1_000_000) or []
    non_white = sum(n for n, c in colours if sum(c) < 3 * 235)
    assert len(colours) > min_colours, "the screenshot has almost no colours: blank page?"
    assert non_white / (small.width * small.height) > min_ink, "the screenshot is almost all white"


@pytest.mark.parametrize(("case", "lang"), [("coal_2x660", "en"), ("chp_300mw_surplus", "zh")])
def test_report_renders_in_chromium(tmp_path, browser, case, lang):
    out = tmp_path / "plan"
    assert main(["run", str(CASES / f"{case}.yaml"), "--out", str(out), "--lang", lang, "--no-xlsx"]) == 0
    report = out / "report.html"
    page, console, errors, requests = _open(browser, report)
    try:
        assert [m for m in console if m[0] in ("error", "warning")] == []
        assert errors == []
        assert requests == [report.as_uri()]  # the report itself, nothing else
        n_charts = 4 if len((out / "mac.csv").read_text(encoding="utf-8").splitlines()) > 1 else 3
        assert n_charts == (4 if case == "coal_2x660" else 3)  # the CHP case has no abatement options
        _assert_charts_readable(page, n_charts)  # position, costs, carry-over (, MAC curve)
        position = page.locator("#chart-position").text_content()
        # the gap and how it is covered: the coal plant abates and buys; the CHP plant is long and sells
        for key in ("gap_line", "gap_before_line", *(("abated", "purchases") if case == "coal_2x660" else ("sales_neg",))):
            assert label(key, lang) in position, key
        assert page.locator("#plan-table tbody tr").count() == 8  # one row per year 2025-2032
        assert page.locator("#why li").count() > 3
        assert page.locator("#audit").inner_text().count("sha256") >= 2
        png = page.screenshot(full_page=True)
    finally:
        page.close()
    _assert_not_blank(png)


def test_group_report_renders_in_chromium(tmp_path, browser):
    """The group report of the example group cut to 4 plants (pool small enough to bind)."""
    from tests.solver.helpers import small_group

    out = tmp_path / "plan"
    g = small_group(tmp_path / "case", n=4, pool_t=20_000)
    assert main(["run", str(g), "--out", str(out), "--no-xlsx"]) == 0
    report = out / "report.html"
    page, console, errors, requests = _open(browser, report)
    try:
        assert [m for m in console if m[0] in ("error", "warning")] == []
        assert errors == []
        assert requests == [report.as_uri()]
        _assert_charts_readable(page, 4)  # position, costs, carry-over, saving per entity from pooling
        assert page.locator("#group-table tbody tr").count() == 8  # 2025-2032
        assert page.locator("#entity-table tbody tr").count() == 4
        assert page.locator("#pooling tbody tr").count() == 4 + 1  # entities (the group's own costs shared out to them), group
        assert "CCER pool availability binds" in page.locator("#why").inner_text()
        png = page.screenshot(full_page=True)
    finally:
        page.close()
    _assert_not_blank(png)
