"""Small case dicts for hand-solved tests, and a solve-and-check helper."""

import copy
import csv
import math
from pathlib import Path

from planner.api import run
from planner.input.read import parse_case
from planner.plan.check import check_plan

UNLIMITED_CCER_T = 1e9
"""CCER availability of the small cases: none of them could use so many (a case that gives no
availability gets the rule pack's scarce default, with a warning)."""


def case_dict(years=(2025,), emissions=100_000, allocation=90_000, buy=60.0, sell=None, ccer=50.0, **market_extra):
    """A power entity with given allocation, no discounting, no terminal value, no relief; CCERs
    available without a practical limit unless ``ccer_available_t`` is given."""
    ys = list(years)
    market_extra.setdefault("ccer_available_t", UNLIMITED_CCER_T)
    per = lambda v, i: v[i] if isinstance(v, list | tuple) else v  # noqa: E731
    return {
        "entity": {"id": "T", "sector": "power", "unit_class": "coal_gt300"},
        "horizon": {"first_year": ys[0], "last_year": ys[-1]},
        "activity": [{"year": y, "output": 100_000, "emissions_t": per(emissions, i)} for i, y in enumerate(ys)],
        "allocation": {
            "method": "given",
            "coal_floor": "off",
            "given": [{"year": y, "allocation_t": per(allocation, i)} for i, y in enumerate(ys)],
        },
        "market": [
            {
                "year": y,
                "cea_buy_cny_per_t": per(buy, i),
                "cea_sell_cny_per_t": per(sell, i) if sell is not None else per(buy, i) - 1.0,
                "ccer_cny_per_t": per(ccer, i),
                **{k: per(v, i) for k, v in market_extra.items()},
            }
            for i, y in enumerate(ys)
        ],
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
    }


def solve(d):
    """Validate, solve, check independently; return the plan."""
    res = run(parse_case(copy.deepcopy(d)))
    assert check_plan(res.prep.data, res.plan, objective=res.solve.objective) == []
    return res.plan


def row(plan, year):
    return plan.annual.set_index("year").loc[year]


def _num(v):
    return float(v) if v not in (None, "") else math.nan


def assert_workbook_matches_csvs(folder):
    """plan.xlsx of a plan folder holds, sheet ``<name>.csv`` by sheet, the CSV files' columns and
    numbers; returns the opened workbook."""
    import openpyxl
    import pandas as pd
    import pytest

    wb = openpyxl.load_workbook(folder / "plan.xlsx", data_only=True)
    for path in sorted(folder.glob("*.csv")):
        df = pd.read_csv(path, keep_default_na=False)
        ws = wb[path.name]
        rows = list(ws.iter_rows(values_only=True))
        assert list(rows[0][: len(df.columns)]) == list(df.columns), path.name
        assert len(rows) - 1 == len(df), path.name
        for i, rec in enumerate(df.itertuples(index=False), start=1):
            for col, want, got in zip(df.columns, rec, rows[i], strict=False):
                if isinstance(want, int | float) and not isinstance(want, bool):
                    if math.isinf(want):
                        assert got in ("inf", "-inf"), (path.name, col)
                    else:
                        assert _num(got) == pytest.approx(want, abs=1e-6), (path.name, i, col)
                elif want in ("", "nan"):
                    assert got in (None, ""), (path.name, i, col)
                else:
                    assert str(got) == str(want) or _num(got) == pytest.approx(float(want), abs=1e-6), (path.name, i, col)
    return wb


GROUP_EXAMPLE = Path(__file__).parents[2] / "cases" / "group_hn_generation"


def small_group(folder: Path, n: int = 3, pool_t: int | None = None) -> Path:
    """The example group cut to its first ``n`` plants (and their measures); ``pool_t``: CCERs
    available to the group pool per year instead of the example's 1,200,000 t."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (GROUP_EXAMPLE / "group.yaml").read_text(encoding="utf-8")
    if pool_t is not None:
        assert "available_t: 1200000}" in text
        text = text.replace("available_t: 1200000}", f"available_t: {pool_t}}}")
    (folder / "group.yaml").write_text(text, encoding="utf-8")
    with open(GROUP_EXAMPLE / "plants.csv", encoding="utf-8", newline="") as f:
        plants = list(csv.reader(f))[: n + 1]
    keep = {r[0] for r in plants[1:]}
    with open(GROUP_EXAMPLE / "measures.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    measures = [rows[0]] + [r for r in rows[1:] if r[0] in keep]
    for name, table in (("plants.csv", plants), ("measures.csv", measures)):
        with open(folder / name, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, lineterminator="\n").writerows(table)
    return folder / "group.yaml"


def solve_group_parts(spec):
    """``run_group``'s steps up to the plan tables: (prep, results, links, SolveResult, stand-alone
    Results or None), on the array path where the group supports it, else the Pyomo path."""
    from models import build_model, extract_links, extract_results
    from planner.api import fast_path, options_for, solve_arrays, solve_standalone
    from planner.prepare.group import prepare_group
    from planner.solve.highs import solve_model

    opts = options_for(spec)
    prep = prepare_group(spec)
    if fast_path(prep.data, opts) is None:
        res, results, links = solve_arrays(prep.data, opts)
    else:
        m = build_model(prep.data)
        res = solve_model(m, opts)
        results = extract_results(m, dict(zip(prep.data.years, prep.data.discount_factor, strict=True)), res.duals)
        links = extract_links(m)
    alone = solve_standalone(prep, opts)[1] if spec.value_of_pooling else None
    return prep, results, links, res, alone
