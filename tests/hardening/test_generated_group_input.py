"""Generated bad group cases: a group YAML and its CSV entity tables, broken on purpose.

Seed: the example group (``cases/group_hn_generation``) cut to its first three plants. Each example
breaks the YAML (the mutations of ``strategies._mutate``: deleted keys, unknown keys, wrong types,
NaN / infinite / huge numbers, duplicated or dropped rows, shifted years...), a CSV table (deleted,
renamed, duplicated or extra columns, bad cells, duplicated or dropped rows, unknown entities,
empty files, non-UTF-8 bytes, a BOM, another separator, ragged rows; or the table as an .xlsx sheet
with text, formulas, Excel errors, dates or booleans in cells, merged cells, extra or renamed
sheets, a blank header, comment rows), or the file references
(missing files, paths outside the case folder, a folder instead of a file). Every one goes through
`planner validate` in-process and ends in exit 0 (``valid group case``) or exit 1 with an error
that starts with the group file's name; never a traceback, never an internal error, never a hang.
A share of the still-valid ones is solved by `planner run`: exit 0 with a checked plan folder, or
exit 1/2 (refused, infeasible); never 4 (the independent checker failed) or 70.

``HARDEN_GROUP_EXAMPLES`` sets the count (default 250; derandomised under CI).
"""

from __future__ import annotations

import copy
import csv
import io
import os
import tempfile
from collections import Counter
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from planner.cli import main
from tests.hardening.strategies import BAD_SCALARS, _mutate
from tests.hardening.test_generated_input import HANG_S, _settings, alarm

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "cases" / "group_hn_generation"
TOTAL = int(os.environ.get("HARDEN_GROUP_EXAMPLES", "250"))
N_PLANTS = 3


def _rows(name: str) -> tuple[list[str], list[list[str]]]:
    with open(EXAMPLE / name, encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    return table[0], table[1:]


BASE_YAML = yaml.safe_load((EXAMPLE / "group.yaml").read_text(encoding="utf-8"))
PLANTS_HEAD, PLANTS = _rows("plants.csv")
PLANTS = PLANTS[:N_PLANTS]
KEEP = {r[0] for r in PLANTS}
MEAS_HEAD, MEAS = _rows("measures.csv")
MEAS = [r for r in MEAS if r[0] in KEEP]

CSV_MUTATIONS = (
    "drop_column", "rename_column", "duplicate_column", "extra_column", "bad_cell", "duplicate_row", "drop_all_rows",
    "unknown_entity", "empty_file", "non_utf8", "bom", "semicolons", "ragged_row", "blank_lines", "swap_columns",
)
REF_MUTATIONS = ("missing_file", "outside_folder", "folder_not_file", "absolute_path", "wrong_suffix")
XLSX_MUTATIONS = ("text_in_number", "formula", "excel_error", "date", "bool", "merged", "extra_sheet", "rename_sheet",
                  "blank_header", "comment_row", "none")


def _xlsx_bytes(draw, name: str, head: list[str], rows: list[list[str]]) -> tuple[bytes, str]:
    """The table as sheet ``name`` of a workbook (numbers as numbers), with one cell-level mutation."""
    import datetime as dt
    import io as _io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = name
    ws.append(head)
    for r in rows:
        ws.append([_num(v) for v in r])
    kind = draw(st.sampled_from(XLSX_MUTATIONS))
    r = draw(st.integers(2, max(2, len(rows) + 1)))
    c = draw(st.integers(1, len(head)))
    cell = ws.cell(row=r, column=c)
    if kind == "text_in_number":
        cell.value = draw(st.sampled_from(["lots", "1,2", "", " ", "NaN", "1e999"]))
    elif kind == "formula":
        cell.value = "=1/0"
    elif kind == "excel_error":
        cell.value = "#DIV/0!"
    elif kind == "date":
        cell.value = dt.datetime(2025, 1, 1)
    elif kind == "bool":
        cell.value = True
    elif kind == "merged":
        ws.merge_cells(start_row=r, start_column=c, end_row=r, end_column=min(c + 1, len(head)))
    elif kind == "extra_sheet":
        wb.create_sheet("notes")
    elif kind == "rename_sheet":
        ws.title = "Sheet1"
        wb.create_sheet("other")
    elif kind == "blank_header":
        ws.cell(row=1, column=c).value = None
    elif kind == "comment_row":
        ws.insert_rows(2)
        ws.cell(row=2, column=1).value = "# a comment"
    buf = _io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), kind


def _num(v: str):
    try:
        return float(v)
    except ValueError:
        return v


def _csv_bytes(head: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(head)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _mutate_csv(draw, head: list[str], rows: list[list[str]]) -> tuple[bytes, str]:
    head, rows = list(head), [list(r) for r in rows]
    kind = draw(st.sampled_from(CSV_MUTATIONS))
    col = draw(st.integers(0, len(head) - 1))
    if kind == "drop_column":
        del head[col]
        for r in rows:
            del r[col]
    elif kind == "rename_column":
        head[col] = draw(st.sampled_from(["", "ID", head[col] + " ", "unit class", "输出", head[(col + 1) % len(head)]]))
    elif kind == "duplicate_column":
        head.append(head[col])
        for r in rows:
            r.append(r[col])
    elif kind == "extra_column":
        head.append(draw(st.sampled_from(["typo_field", "notes", "__class__", "entity.sector"])))
        for r in rows:
            r.append("1")
    elif kind == "bad_cell" and rows:
        r = draw(st.integers(0, len(rows) - 1))
        v = draw(st.sampled_from(BAD_SCALARS))
        rows[r][col] = "" if v is None else str(v)
    elif kind == "duplicate_row" and rows:
        rows.insert(draw(st.integers(0, len(rows))), list(draw(st.sampled_from(rows))))
    elif kind == "drop_all_rows":
        rows = []
    elif kind == "unknown_entity" and rows:
        rows[draw(st.integers(0, len(rows) - 1))][0] = draw(st.sampled_from(["NOPE", "", "hn-01", "HN-01 "]))
    elif kind == "empty_file":
        return b"", kind
    elif kind == "non_utf8":
        raw = _csv_bytes(head, rows)
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + b"\xff\xfe\xc3\x28" + raw[at:], kind
    elif kind == "bom":
        return b"\xef\xbb\xbf" + _csv_bytes(head, rows), kind
    elif kind == "semicolons":
        return _csv_bytes(head, rows).replace(b",", b";"), kind
    elif kind == "ragged_row" and rows:
        r = draw(st.integers(0, len(rows) - 1))
        rows[r] = rows[r][: draw(st.integers(0, len(rows[r]) - 1))] if draw(st.booleans()) else rows[r] + ["1", "2"]
    elif kind == "blank_lines":
        return _csv_bytes(head, rows).replace(b"\n", b"\n\n", 2), kind
    elif kind == "swap_columns" and len(head) > 1:
        other = (col + 1) % len(head)
        head[col], head[other] = head[other], head[col]
    return _csv_bytes(head, rows), kind


@st.composite
def broken_groups(draw) -> tuple[dict, dict[str, bytes], list[str]]:
    """(group YAML data, CSV files by name, what was done)."""
    d = copy.deepcopy(BASE_YAML)
    files = {"plants.csv": _csv_bytes(PLANTS_HEAD, PLANTS), "measures.csv": _csv_bytes(MEAS_HEAD, MEAS)}
    done: list[str] = []
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from(["yaml", "yaml", "plants", "measures", "refs"]))
        if where == "yaml":
            done.append("yaml " + _mutate(draw, d, draw(st.sampled_from(
                ("delete", "extra_key", "bad_value", "scale", "negate", "nan", "duplicate_row", "reverse_rows",
                 "empty_list", "shift_year", "drop_row", "wrong_container", "bad_key_type")))))
        elif where in ("plants", "measures"):
            head, rows = (PLANTS_HEAD, PLANTS) if where == "plants" else (MEAS_HEAD, MEAS)
            tables = d.get("entity_tables")
            if draw(st.booleans()) and isinstance(tables, dict):
                name = f"{where}.xlsx"
                tables[where] = name
                files.pop(f"{where}.csv", None)
                files[name], kind = _xlsx_bytes(draw, where, head, rows)
            else:
                name = f"{where}.csv"
                files[name], kind = _mutate_csv(draw, head, rows)
            done.append(f"{name} {kind}")
        else:
            tables = d.get("entity_tables")
            if not isinstance(tables, dict):
                continue
            key = draw(st.sampled_from(["plants", "measures"]))
            kind = draw(st.sampled_from(REF_MUTATIONS))
            tables[key] = {
                "missing_file": "no_such.csv",
                "outside_folder": "../" * 6 + "etc/passwd",
                "folder_not_file": ".",
                "absolute_path": "/etc/hostname",
                "wrong_suffix": "group.yaml",
            }[kind]
            done.append(f"ref {key} {kind}")
    return d, files, done


def test_broken_group_cases_end_in_a_plan_or_a_named_error(capsys):
    seen: Counter = Counter()
    solved = 0
    with tempfile.TemporaryDirectory() as tmp:

        @_settings(TOTAL)
        @given(broken_groups(), st.integers(0, 9))
        def one(case, pick):
            nonlocal solved
            d, files, done = case
            folder = Path(tempfile.mkdtemp(dir=tmp))
            g = folder / "group.yaml"
            g.write_text(yaml.safe_dump(d, allow_unicode=True, sort_keys=False), encoding="utf-8")
            for name, raw in files.items():
                (folder / name).write_bytes(raw)
            capsys.readouterr()
            with alarm(HANG_S):
                rc = main(["validate", str(g)])
            out, err = capsys.readouterr()
            assert rc in (0, 1), (done, rc, err[-2000:])
            assert "Traceback" not in err and "internal error" not in err, (done, err[-2000:])
            if rc == 1:
                assert err.startswith(f"error: {g}: "), (done, err[:300])
            else:
                assert out.startswith(f"{g}: valid group case"), (done, out[:300])
            seen[("valid" if rc == 0 else "refused", bool(done))] += 1
            if rc == 0 and pick == 0 and solved < max(3, TOTAL // 40):
                solved += 1
                with alarm(6 * HANG_S):
                    rc = main(["run", str(g), "--out", str(folder / "plan"), "--no-html", "--no-xlsx"])
                out, err = capsys.readouterr()
                assert rc in (0, 1, 2), (done, rc, err[-2000:])
                assert "Traceback" not in err, (done, err[-2000:])
                if rc == 0:
                    assert (folder / "plan" / "group_annual.csv").is_file()
                    seen["solved"] += 1

        one()
    refused = sum(v for k, v in seen.items() if isinstance(k, tuple) and k[0] == "refused")
    assert refused > TOTAL // 3 and seen[("valid", True)] + seen[("valid", False)] > 0, seen  # the mutations bite
    assert seen["solved"] > 0, seen
    print(f"\ngroup cases: {dict(seen)}")
