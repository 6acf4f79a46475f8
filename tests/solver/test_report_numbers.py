"""Every number a person reads in report.html and on plan.xlsx's own sheets is read back and compared
with the CSV it comes from, to the precision its quantity needs (issue 20 item 1): tonnes and yuan
to the unit, prices to the fen, shares, factors and rule-pack values exactly (0.05 is not shown as
0, 1.5 not as 2), years without a thousands separator."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from planner.cli import main
from planner.report import numbers
from planner.report.html import HEADLINE
from planner.report.labels import label, unit_label

pytestmark = pytest.mark.solver
ROOT = Path(__file__).parents[2]

# the precision a kind needs: the largest difference allowed between the shown and the stored value
NEED = {"t": 0.5, "cny": 0.5, "amount": 0.5, "price": 0.005, "year": 0.0}


class _Tables(HTMLParser):
    """The tables of an HTML page by id: the header row (in thead) and the body rows, as cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self._t = self._row = self._cell = None
        self._thead = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._t = {"head": [], "rows": []}
            self.tables[dict(attrs).get("id") or f"table{len(self.tables)}"] = self._t
        elif tag == "thead":
            self._thead = True
        elif tag == "tr" and self._t is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            (self._t["head"].extend if self._thead else self._t["rows"].append)(self._row)
            self._row = None
        elif tag == "thead":
            self._thead = False
        elif tag == "table":
            self._t = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _html_tables(path: Path) -> dict[str, dict]:
    p = _Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p.tables


def _shown(text: str, units: str) -> float:
    """A displayed number back to t / CNY (万 numbers times 10,000)."""
    assert re.fullmatch(r"-?[\d,]*\.?\d+(e-?\d+)?", text), text
    return float(text.replace(",", ""))


def _assert_shown(text: str, want: float, col: str, units: str, where) -> None:
    """``text`` shows ``want`` with the precision that ``col``'s quantity needs."""
    if want is None or (isinstance(want, float) and math.isnan(want)):
        assert text in ("-", ""), where
        return
    if isinstance(want, float) and math.isinf(want):
        assert text == "none", where
        return
    kind = numbers.kind_of(col)
    got = _shown(text, units) * numbers.scale(col, units)
    if kind == "year":
        assert "," not in text and got == want, where
    elif kind in NEED:
        tol = NEED[kind] if numbers.scale(col, units) == 1 else 50.0 + 1e-6  # 万 with two decimals: 0.005 x 10,000
        assert abs(got - want) <= tol + 1e-9 * abs(want), (where, text, want)
    else:  # shares, factors, exact values: six significant digits at least
        assert got == pytest.approx(want, rel=1e-6, abs=1e-12), (where, text, want)


def _columns(labels: list[str], candidates, lang: str, units: str) -> list[str]:
    by_label = {unit_label(c, lang, units): c for c in candidates}
    cols = [by_label.get(x) for x in labels]
    assert None not in cols, (labels, list(by_label))
    return cols


@pytest.fixture(scope="module")
def coal(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("numbers")
    for name, extra in (("en", []), ("zh", ["--lang", "zh", "--units", "wan"])):
        assert main(["run", str(ROOT / "cases" / "coal_2x660.yaml"), "--out", str(tmp / name), *extra]) == 0
    return tmp


@pytest.mark.parametrize(("name", "lang", "units"), [("en", "en", "t"), ("zh", "zh", "wan")])
def test_html_numbers_are_the_csv_numbers(coal, name, lang, units):
    folder = coal / name
    tables = _html_tables(folder / "report.html")
    annual = pd.read_csv(folder / "annual.csv")
    annual["abatement_t"] = annual["abatement_measures_t"] + annual["abatement_projects_t"]

    plan = tables["plan-table"]
    cols = _columns(plan["head"], HEADLINE, lang, units)
    assert "ccer_buy_t" in cols and "ccer_surrendered_t" in cols
    assert len(plan["rows"]) == len(annual)
    checked = 0
    for row, (_, want) in zip(plan["rows"], annual.iterrows(), strict=True):
        for col, text in zip(cols, row, strict=True):
            _assert_shown(text, float(want[col]), col, units, ("plan-table", want["year"], col))
            checked += 1
    assert checked == len(annual) * len(cols)

    # rule-pack values exactly as assumptions.csv holds them (0.05, 1.5, 0.005, 0.2, 2024, 10,000)
    asm = pd.read_csv(folder / "assumptions.csv", keep_default_na=False, dtype=str)
    t = tables["assumptions"]
    i_par, i_val = t["head"].index(label("parameter", lang)), t["head"].index(label("value", lang))
    shown = {r[i_par]: r[i_val] for r in t["rows"]}
    numeric = 0
    for r in asm.itertuples():
        try:
            want = float(r.value)
        except ValueError:
            continue
        if r.value in ("True", "False"):
            continue
        numeric += 1
        text = shown[r.parameter]
        assert float(text.replace(",", "")) == want, (r.parameter, text, r.value)
        if numbers.kind_of_unit(r.unit) == "year":
            assert "," not in text, (r.parameter, text)
    assert numeric >= 8
    expect = {"ccer.cap_share": "0.05", "carryover.legacy.multiplier": "1.5", "benchmarks.power.tightening_per_year": "0.005",
              "relief.coal_shortfall_cap_share.generation_2023_2024": "0.2", "ccer.old_last_compliance_year": "2023",
              "carryover.legacy.base_t.power": "10,000"}
    assert {k: shown[k] for k in expect} == expect

    # the costs table: components summed from costs.csv, the cost of compliance without the terminal
    # value, the terminal value, the total = the plan's NPV and nominal cost
    costs = pd.read_csv(folder / "costs.csv")
    by = costs.groupby("component")[["nominal_cny", "discounted_cny"]].sum()
    t = tables["cost-split"]
    cols = _columns(t["head"], ("component", "nominal_cny", "discounted_cny"), lang, units)
    rows = {r[0]: dict(zip(cols, r, strict=True)) for r in t["rows"]}
    comp = by.drop(index="terminal")
    want = {**{label(c, lang): by.loc[c] for c in comp.index}, label("compliance", lang): comp.sum(),
            label("terminal", lang): by.loc["terminal"], label("total", lang): by.sum()}
    assert set(rows) == set(want)
    for name, w in want.items():
        for col in ("nominal_cny", "discounted_cny"):
            _assert_shown(rows[name][col], float(w[col]), col, units, ("cost-split", name, col))
    body = json.loads((folder / "plan.json").read_text(encoding="utf-8"))["summary"]
    assert float(by["discounted_cny"].sum()) == pytest.approx(body["npv_cost_cny"], abs=1e-3)
    assert float(comp["discounted_cny"].sum()) == pytest.approx(body["compliance_npv_cny"], abs=1e-3)

    # this cycle's actions: quantities, prices and amounts of actions.csv
    acts = pd.read_csv(folder / "actions.csv")
    t = tables["actions-table"]
    cols = _columns(t["head"], ("due", "action", "quantity_t", "price_cny_per_t", "amount_cny", "what"), lang, units)
    assert len(t["rows"]) == len(acts)
    for row, (_, want) in zip(t["rows"], acts.iterrows(), strict=True):
        cells = dict(zip(cols, row, strict=True))
        assert cells["due"] == str(want["due"])
        for col in ("quantity_t", "price_cny_per_t", "amount_cny"):
            _assert_shown(cells[col], float(want[col]), col, units, ("actions", want["action"], col))


@pytest.mark.parametrize(("name", "lang", "units"), [("en", "en", "t"), ("zh", "zh", "wan")])
def test_workbook_sheets_hold_the_csv_numbers_with_formats_of_their_kind(coal, name, lang, units):
    folder = coal / name
    wb = openpyxl.load_workbook(folder / "plan.xlsx")
    annual = pd.read_csv(folder / "annual.csv")
    annual["abatement_t"] = annual["abatement_measures_t"] + annual["abatement_projects_t"]
    assert wb.sheetnames[0] == label("actions_sheet", lang)

    def check(ws, frame, key, candidates, row0=0):
        rows = list(ws.iter_rows(min_row=row0 + 1))
        cols = _columns([c.value for c in rows[0] if c.value is not None], candidates, lang, units)
        body = rows[1:]
        assert len(body) == len(frame), ws.title
        for cells, (_, want) in zip(body, frame.iterrows(), strict=True):
            for col, cell in zip(cols, cells, strict=False):
                v = want[col]
                if isinstance(v, str) or v is None or (isinstance(v, float) and math.isnan(v)):
                    continue
                assert cell.value == pytest.approx(float(v), abs=1e-6), (ws.title, want.get(key), col)
                if units == "t":
                    assert cell.number_format == numbers.EXCEL_FORMATS[numbers.kind_of(col)], (ws.title, col, cell.number_format)
        return cols

    cols = check(wb[label("plan", lang)], annual, "year", HEADLINE)
    assert "ccer_buy_t" in cols
    check(wb[label("trades", lang)], annual, "year", list(annual.columns))
    check(wb[label("carryover", lang)], annual, "year", list(annual.columns))
    acts = pd.read_csv(folder / "actions.csv")
    check(wb[label("actions_sheet", lang)], acts, "action", ("due", "action", "quantity_t", "price_cny_per_t", "amount_cny", "what"), row0=2)

    asm = pd.read_csv(folder / "assumptions.csv", keep_default_na=False, dtype=str)
    ws = wb[label("assumptions", lang)]
    rows = list(ws.iter_rows(values_only=True))
    i_par, i_val = rows[0].index(label("parameter", lang)), rows[0].index(label("value", lang))
    got = {r[i_par]: r[i_val] for r in rows[1:]}
    for r in asm.itertuples():
        if r.value in ("True", "False"):
            continue
        try:
            want = float(r.value)
        except ValueError:
            continue
        assert float(got[r.parameter]) == want, r.parameter


def test_formatter_by_kind():
    """Hand-made expectations of each kind."""
    f = numbers.fmt_col
    assert f(0.05, "ccer_cap_share") == "0.05"
    assert f(0.934579439, "discount_factor") == "0.934579"
    assert f(2024, "year") == "2024" and f(2024.0, "build_year") == "2024"
    assert f(1234567.49, "buy_t") == "1,234,567" and f(1234567.49, "buy_t", "wan") == "123.46"
    assert f(-1e-10, "buy_t") == "0" and f(-1e-10, "shadow_price_cny_per_t") == "0.00"
    assert f(83.149, "cea_buy_cny_per_t") == "83.15" and f(83.149, "cea_buy_cny_per_t", "wan") == "83.15"
    assert f(7000000.0, "output") == "7,000,000" and f(7000000.0, "output", "wan") == "7,000,000"
    assert f(float("inf"), "carry_limit_t") == "none" and f(float("nan"), "carry_t") == "-"
    assert numbers.fmt(1.5, numbers.kind_of_unit("t per t of net sales")) == "1.5"
    assert numbers.fmt(10000, numbers.kind_of_unit("t")) == "10,000"
    assert numbers.fmt(2023, numbers.kind_of_unit("vintage year")) == "2023"
    assert numbers.fmt(0.005, numbers.kind_of_unit("share per year")) == "0.005"


def test_terminal_output_is_headed_by_the_cycle_and_shows_ccer_purchases(tmp_path, capsys):
    """The coal example buys 7,000 t CCER every year (its availability binds) and keeps them to 2030:
    the actions box says so first, the per-year table shows the purchases and the holdings."""
    assert main(["run", str(ROOT / "cases" / "coal_2x660.yaml"), "--out", str(tmp_path / "p"), "--no-html", "--no-xlsx"]) == 0
    out = capsys.readouterr().out
    box, table = out.index("This cycle (vintage 2025)"), out.index("CCER buy t")
    assert box < table
    assert re.search(r"2026-12-31\s+buy CCER\s+7,000\s+85\.00\s+595,000", out)
    assert re.search(r"2026-04\s+pre-allocation\s+4,074,000", out)
    assert re.search(r"2025-12-31\s+start project turbine-flowpath", out)
    lines = out.splitlines()
    i = next(k for k, line in enumerate(lines) if "CCER buy t" in line)
    head = [h.strip() for h in lines[i].split("  ") if h.strip()]
    row2025 = next(line for line in lines[i:] if line.startswith("2025")).split()
    cells = dict(zip(head, row2025, strict=True))
    assert (cells["CCER buy t"], cells["CCER used t"], cells["CCER held t"]) == ("7,000", "0", "7,000")
