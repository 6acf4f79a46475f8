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


def _assert_not_blank(png: bytes) -> None:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    small = img.resize((200, max(1, img.height * 200 // img.width)))
    colours = small.getcolors(maxcolors=1_000_000) or []
    non_white = sum(n for n, c in colours if sum(c) < 3 * 235)
    assert len(colours) > 20, "the screenshot has almost no colours: blank page?"
    assert non_white / (small.width * small.height) > 0.03, "the screenshot is almost all white"


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
        charts = page.locator("svg.chart")
        assert charts.count() == n_charts  # position, costs, carry-over (, MAC curve)
        for i in range(n_charts):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 200
        assert page.locator("svg.chart rect").count() > 30  # bars were drawn
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
        charts = page.locator("svg.chart")
        assert charts.count() == 4  # position, costs, carry-over, saving per entity from pooling
        for i in range(4):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 200
        assert page.locator("#group-table tbody tr").count() == 8  # 2025-2032
        assert page.locator("#entity-table tbody tr").count() == 4
        assert page.locator("#pooling tbody tr").count() == 4 + 2  # entities, group links, group
        assert "CCER pool availability binds" in page.locator("#why").inner_text()
        png = page.screenshot(full_page=True)
    finally:
        page.close()
    _assert_not_blank(png)
