"""Hypothesis strategies: valid cases, and the same cases broken on purpose.

Seeds are the example files in ``cases/`` and the small cases of ``tests/solver/helpers.case_dict``.
A mutation picks a place in the nested data (any key, any list row) and breaks it: removes it, adds
an unknown key next to it, gives it a wrong type, a negative, NaN, infinite or huge number, reorders
or duplicates rows, moves years, empties lists. File mutations break the bytes instead: truncation,
non-UTF-8 bytes, YAML tags that try to build objects, alias bombs, tabs, deep nesting.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.solver.helpers import case_dict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILES = sorted((ROOT / "cases").glob("*.yaml"))
EXAMPLES = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in EXAMPLE_FILES]

SMALL = [
    case_dict(),
    case_dict(years=(2025, 2026), allocation=[95_000, 80_000], buy=[60.0, 70.0]),
    case_dict(years=(2025, 2026, 2027), emissions=[100_000, 90_000, 80_000], ccer_available_t=2_000),
]
SEEDS = EXAMPLES + SMALL


# ---- valid cases -----------------------------------------------------------------------------

@st.composite
def small_valid_cases(draw) -> dict[str, Any]:
    """A small solvable case: a ``case_dict`` with drawn sizes, prices, limits and options."""
    n = draw(st.integers(1, 3))
    first = draw(st.sampled_from([2025, 2026]))
    years = tuple(range(first, first + n))
    emissions = [draw(st.integers(1_000, 500_000)) for _ in years]
    buy = [draw(st.integers(30, 150)) for _ in years]
    d = case_dict(
        years=years,
        emissions=emissions,
        allocation=[int(e * draw(st.floats(0.5, 1.2))) for e in emissions],
        buy=[float(b) for b in buy],
        sell=[float(b) - draw(st.sampled_from([0.0, 0.5, 5.0])) for b in buy],
        ccer=[float(draw(st.integers(20, 150))) for _ in years],
    )
    for row in d["market"]:
        if draw(st.booleans()):
            row["buy_limit_t"] = draw(st.integers(0, 600_000))
        if draw(st.booleans()):
            row["ccer_available_t"] = draw(st.integers(0, 50_000))
    if draw(st.booleans()):
        d["abatement"] = {
            "measures": [{"id": "m", "cost_cny_per_t": draw(st.integers(-20, 120)),
                          "potential_t_per_year": draw(st.integers(0, 50_000))}],
            "projects": [{"id": "p", "capex_cny": draw(st.integers(0, 5_000_000)),
                          "reduction_t_per_year": draw(st.integers(0, 30_000)),
                          "lifetime_years": draw(st.integers(1, 10))}] if draw(st.booleans()) else [],
        }
    d["policy"] = {"compliance": draw(st.sampled_from(["penalty", "hard"]))}
    d["finance"] = {"discount_rate": draw(st.sampled_from([0.0, 0.07])),
                    "terminal_value": draw(st.sampled_from(["zero", "sell_price"]))}
    return d


def seeds(examples: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """An example case, a small fixed case, or a drawn small case (always a fresh copy).

    ``examples=False`` leaves out the long example files (for file mutations, where the pure-Python
    YAML reader takes about 40 ms per example file and 5 ms per small case)."""
    pool = SEEDS if examples else SMALL
    return st.one_of(
        st.sampled_from(range(len(pool))).map(lambda i: copy.deepcopy(pool[i])),
        small_valid_cases(),
    )


# ---- broken values and structure -----------------------------------------------------------

BAD_SCALARS = [
    None, "", "abc", "12 t", "二〇二五", -1, -1e-9, -1e12, 0, 1e308, 10**30, -(10**30), 2**63,
    math.nan, math.inf, -math.inf, True, False, [], {}, [1, 2], {"a": 1}, "nan", "inf", "1e999",
    "x" * 5_000, 0.1 + 0.2, 1e-320, 2025.5, "2025", 1899, 2200, -2025,
]


def _places(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path into nested dicts and lists (the root excluded)."""
    out: list[tuple] = []
    if isinstance(node, dict):
        for k, v in node.items():
            out.append(path + (k,))
            out += _places(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.append(path + (i,))
            out += _places(v, path + (i,))
    return out


def _get(root: Any, path: tuple) -> Any:
    for p in path:
        root = root[p]
    return root


def _numbers(node: Any, path: tuple = ()) -> list[tuple]:
    return [p for p in _places(node, path) if _is_number(_get(node, p))]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


MUTATIONS = (
    "delete", "extra_key", "bad_value", "scale", "negate", "nan", "duplicate_row", "reverse_rows",
    "empty_list", "shift_year", "swap_horizon", "drop_row", "wrong_container", "bad_key_type", "override",
)

PACK_PARAMS = sorted(yaml.safe_load((ROOT / "planner" / "rulepacks" / "cn-national@2026.11.yaml").read_text(encoding="utf-8"))["parameters"])
BAD_OVERRIDES = BAD_SCALARS + [
    {"coal_gt300": 5}, {"coal_gt300": {"abc": 1}}, {"coal_gt300": {2024: "x"}}, {"coal_gt300": {2024: -1}},
    {"coal": {2024: math.nan}}, {}, {"gas": {}}, 3, 0.5, 2024, 2024.5, "same", "custom", "unlimited",
]


@st.composite
def mutated_cases(draw, examples: bool = True) -> tuple[dict[str, Any], list[str]]:
    """A seed case with one to three mutations; returns (data, what was done)."""
    d = draw(seeds(examples))
    done: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        done.append(_mutate(draw, d, kind))
    return d, done


def _mutate(draw, d: dict, kind: str) -> str:
    places = _places(d)
    if not places:
        d["entity"] = draw(st.sampled_from(BAD_SCALARS))
        return "root emptied; entity replaced"
    if kind in ("scale", "negate", "nan"):
        nums = _numbers(d)
        if nums:
            path = draw(st.sampled_from(nums))
            parent, key = _get(d, path[:-1]), path[-1]
            v = parent[key]
            if kind == "scale":
                parent[key] = v * draw(st.sampled_from([1e-12, 1e-6, 1e6, 1e12, 1e300]))
            elif kind == "negate":
                parent[key] = -v if v else -1
            else:
                parent[key] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
            return f"{kind} {path}"
        kind = "bad_value"
    if kind in ("duplicate_row", "reverse_rows", "empty_list", "drop_row"):
        lists = [p for p in places if isinstance(_get(d, p), list)]
        if lists:
            path = draw(st.sampled_from(lists))
            rows = _get(d, path)
            if kind == "duplicate_row" and rows:
                rows.insert(draw(st.integers(0, len(rows))), copy.deepcopy(draw(st.sampled_from(rows))))
            elif kind == "reverse_rows":
                rows.reverse()
            elif kind == "drop_row" and rows:
                del rows[draw(st.integers(0, len(rows) - 1))]
            else:
                rows.clear()
            return f"{kind} {path}"
        kind = "bad_value"
    if kind == "shift_year":
        yp = [p for p in places if p[-1] in ("year", "first_year", "last_year") and _is_number(_get(d, p))]
        if yp:
            path = draw(st.sampled_from(yp))
            parent = _get(d, path[:-1])
            parent[path[-1]] += draw(st.sampled_from([-40, -1, 1, 3, 30, 100]))
            return f"shift_year {path}"
        kind = "bad_value"
    if kind == "override":
        policy = d.setdefault("policy", {}) if isinstance(d.get("policy", {}), dict) else {}
        over = policy.setdefault("overrides", {}) if isinstance(policy.get("overrides", {}), dict) else {}
        key = draw(st.sampled_from(PACK_PARAMS + ["no.such.parameter"]))
        over[key] = copy.deepcopy(draw(st.sampled_from(BAD_OVERRIDES)))
        return f"override {key}"
    if kind == "swap_horizon" and isinstance(d.get("horizon"), dict):
        h = d["horizon"]
        h["first_year"], h["last_year"] = h.get("last_year"), h.get("first_year")
        if h["first_year"] == h["last_year"]:
            h["last_year"] = (h["first_year"] or 2025) - 1 if _is_number(h["first_year"]) else None
        return "swap_horizon"
    path = draw(st.sampled_from(places))
    parent, key = _get(d, path[:-1]), path[-1]
    if kind == "delete":
        del parent[key]
    elif kind == "extra_key":
        target = parent if isinstance(parent, dict) else (parent[key] if isinstance(parent[key], dict) else d)
        target[draw(st.sampled_from(["typo_field", "Year", "emission_t", "__class__", "ÿ", "policy "]))] = 1
    elif kind == "wrong_container":
        v = parent[key]
        parent[key] = [v] if not isinstance(v, list) else {"rows": v}
    elif kind == "bad_key_type" and isinstance(parent, dict):
        parent[draw(st.sampled_from([None, 3.5, True, 2025, -1]))] = parent.pop(key)
    else:
        parent[key] = copy.deepcopy(draw(st.sampled_from(BAD_SCALARS)))
    return f"{kind} {path}"


# ---- broken files ---------------------------------------------------------------------------

def _dump(d: Any, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(d, ensure_ascii=False, default=str).encode("utf-8")
    return yaml.safe_dump(d, allow_unicode=True, sort_keys=False).encode("utf-8")


INSERTS = [
    b"\xff", b"\xc3\x28", b"\x00", b"\t", b"\r", b"\xef\xbb\xbf", b": ", b"- ", b"{", b"}", b"[", b"]",
    b"&a ", b"*a ", b"*undefined ", b"!!python/object/apply:os.system ['true'] ",
    b"!!python/name:builtins.eval ", b"!!binary ", b"!!timestamp ", b"!!set ", b"!!omap ", b"!custom ",
    b"<<: *a\n", b"%YAML 1.1\n---\n", b"\n---\n", b"...\n", b"? [a, b]\n: c\n", b"2025-02-30",
    b"0x1F", b"1_000", b".nan", b"-.inf", b"1e400", b"~", b"'", b'"', b"#",
]

BOMBS = [
    # billion laughs, with the bomb placed where the schema takes any value
    "policy:\n  overrides:\n    a: &l0 [1,2,3,4,5,6,7,8,9]\n"
    + "".join(f"    l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 9)),
    "x: &a [*a]\n",
    "a: " + "[" * 5_000 + "]" * 5_000 + "\n",
    "a: " + "{b: " * 200 + "1" + "}" * 200 + "\n",
    "!!python/object/new:os.system [echo pwned]\n",
    "entity: !!python/object/apply:subprocess.check_output [[id]]\n",
]


@st.composite
def broken_files(draw) -> tuple[bytes, str, str]:
    """(file bytes, suffix, what was done) from a valid or mutated case."""
    examples = draw(st.integers(0, 9)) == 0  # one in ten from the long example files
    if draw(st.booleans()):
        d = draw(seeds(examples))
    else:
        d, _ = draw(mutated_cases(examples))
    fmt = draw(st.sampled_from(["yaml", "yaml", "json"]))
    raw = _dump(d, fmt)
    suffix = "." + fmt
    how = draw(st.sampled_from(["truncate", "insert", "flip", "bomb", "suffix", "as_is"]))
    if how == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == "insert":
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.sampled_from(INSERTS)) + raw[at:]
    elif how == "flip":
        b = bytearray(raw)
        for _ in range(draw(st.integers(1, 8))):
            if b:
                b[draw(st.integers(0, len(b) - 1))] = draw(st.integers(0, 255))
        raw = bytes(b)
    elif how == "bomb":
        raw = draw(st.sampled_from(BOMBS)).encode() + (raw if fmt == "yaml" and draw(st.booleans()) else b"")
        suffix = ".yaml"
    elif how == "suffix":
        suffix = draw(st.sampled_from([".yml", ".YAML", ".txt", ".xlsx", ""]))
    return raw, suffix, how


# ---- case workbooks --------------------------------------------------------------------------

WORKBOOK_MUTATIONS = ("merge", "formula", "drop_sheet", "text", "bool", "date", "negative", "huge", "clear",
                      "drop_row", "unknown_column", "unknown_sheet", "blank_rows", "comment_row", "error_value",
                      "rename_header", "none")


@st.composite
def broken_workbooks(draw) -> tuple[bytes, str]:
    """A case workbook filled from a seed case, then broken the way people break spreadsheets:
    merged cells, formulas without saved values, missing sheets, wrong types (text, TRUE, dates,
    Excel errors), negative or huge numbers, cleared cells, deleted rows, renamed headers, extra
    sheets and columns. Some mutations leave a valid case (blank or comment rows)."""
    import datetime as dt
    import io

    import openpyxl

    from planner.input.workbook import template_bytes

    d = draw(seeds(examples=draw(st.integers(0, 4)) == 0))
    wb = openpyxl.load_workbook(io.BytesIO(template_bytes(d)))
    hows = []
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(WORKBOOK_MUTATIONS))
        names = [n for n in wb.sheetnames if n != "instructions"]
        if not names:
            break
        ws = wb[draw(st.sampled_from(names))]
        max_r, max_c = max(ws.max_row, 3), max(ws.max_column, 2)
        r = draw(st.integers(1, max_r + 1))
        c = draw(st.integers(1, max_c))
        cell = ws.cell(row=r, column=c)
        if how == "merge":
            ws.merge_cells(start_row=r, start_column=c, end_row=r + draw(st.integers(0, 1)), end_column=c + 1)
        elif how == "formula":
            cell.value = draw(st.sampled_from(["=1+2", "=SUM(A1:A3)", "=B3*2", "=NOW()"]))
        elif how == "drop_sheet":
            del wb[ws.title]
        elif how == "text":
            cell.value = draw(st.sampled_from(["lots", "1,000", " 12 ", "", "万", "nan", "inf", "1e999"]))
        elif how == "bool":
            cell.value = draw(st.booleans())
        elif how == "date":
            cell.value = dt.datetime(2025, 3, 1)
        elif how == "negative":
            cell.value = -draw(st.integers(1, 10**6))
        elif how == "huge":
            cell.value = draw(st.sampled_from([1e16, 1e300, -1e300, 2**70]))
        elif how == "clear":
            cell.value = None
        elif how == "drop_row" and ws.max_row >= 3:
            ws.delete_rows(draw(st.integers(3, ws.max_row)))
        elif how == "unknown_column":
            ws.cell(row=1, column=ws.max_column + 1).value = "colour"
            ws.cell(row=3, column=ws.max_column).value = 1
        elif how == "unknown_sheet":
            wb.create_sheet(draw(st.sampled_from(["notes", "Sheet1", "market (2)"])))
        elif how == "blank_rows":
            ws.insert_rows(3, draw(st.integers(1, 3)))
        elif how == "comment_row":
            ws.insert_rows(3)
            ws.cell(row=3, column=1).value = "# checked by finance"
        elif how == "error_value":
            cell.value = draw(st.sampled_from(["#DIV/0!", "#N/A", "#VALUE!", "#REF!"]))
        elif how == "rename_header":
            ws.cell(row=1, column=c).value = draw(st.sampled_from(["Year", "price", "", "cea buy"]))
        hows.append(f"{how} {ws.title}!{cell.coordinate}")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), "; ".join(hows)
