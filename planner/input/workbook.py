"""Excel case workbooks: the template (written with XlsxWriter) and filled workbooks read with openpyxl.

Layout, generated from the pydantic schema so that it cannot drift from it:

- ``case``: one row per scalar field of the case sections (``entity.id``, ``horizon.first_year``,
  ``finance.discount_rate``, ...): field | value | description.
- one sheet per input table (``market``, ``activity``, ``units``, ``measures``, ...): row 1 holds the
  field names (what the reader uses), row 2 a help line starting with ``#``; data from row 3. Rows
  whose first non-empty cell is text starting with ``#`` are comments; empty rows are skipped.
- ``instructions``: how to fill it in (ignored by the reader).

Reading turns a workbook into the same plain data as a YAML case plus a map from every case path
to its cell, so that validation problems name the sheet, row and column. This module works on
bytes; files are read and written by ``planner.input.read``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from planner.errors import CaseValidationError
from planner.input.hints import did_you_mean
from planner.input.numbers import quote, read_number
from planner.input.schema import (
    ActivityRow,
    AllocationRow,
    BenchmarkRow,
    CaseSpec,
    CcerLotSpec,
    MarketRow,
    MeasureSpec,
    PriorActivityRow,
    ProjectSpec,
    UnitSpec,
)

CASE_SHEET = "case"
INSTRUCTIONS_SHEET = "instructions"
SECTIONS = ("entity", "horizon", "allocation", "opening", "finance", "policy", "solver")
"""Case sections whose scalar fields are rows of the ``case`` sheet."""


@dataclass(frozen=True)
class TableSheet:
    """One input table: sheet name, where its rows go in the case, and its columns."""

    sheet: str
    path: tuple[str, ...]
    model: type[BaseModel] | None
    columns: tuple[str, ...]
    help: str


def _model_columns(model: type[BaseModel], skip: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(n for n in model.model_fields if n not in skip)


TABLES: tuple[TableSheet, ...] = (
    TableSheet("market", ("market",), MarketRow, _model_columns(MarketRow),
               "one row per compliance cycle (year): prices in CNY/t, limits in t"),
    TableSheet("activity", ("activity",), ActivityRow, ("unit",) + _model_columns(ActivityRow),
               "one row per year (and unit, when the units sheet lists units): output, heat, baseline emissions"),
    TableSheet("units", ("units",), UnitSpec, _model_columns(UnitSpec, ("activity", "prior_activity")),
               "only for entities with several units; leave empty for a single unit (entity fields on the case sheet)"),
    TableSheet("prior_activity", ("prior_activity",), PriorActivityRow, ("unit",) + _model_columns(PriorActivityRow),
               "optional: activity of years before the horizon that a plan takes as pre-allocation basis (2019-2020: 2018)"),
    TableSheet("benchmarks", ("allocation", "benchmarks"), BenchmarkRow, _model_columns(BenchmarkRow),
               "optional benchmarks per year (and class); power years not listed use the rule pack"),
    TableSheet("allocation_given", ("allocation", "given"), AllocationRow, _model_columns(AllocationRow),
               "allocation per year when allocation.method is 'given'"),
    TableSheet("cea_by_vintage", ("opening", "cea_by_vintage"), None, ("vintage", "quantity_t"),
               "CEA held at the start, by vintage (years before the first compliance year)"),
    TableSheet("ccer_lots", ("opening", "ccer_lots"), CcerLotSpec, _model_columns(CcerLotSpec),
               "CCER lots held at the start"),
    TableSheet("measures", ("abatement", "measures"), MeasureSpec, _model_columns(MeasureSpec),
               "continuous abatement measures (MAC steps); a cost per year goes on the measure_costs sheet"),
    TableSheet("measure_costs", ("abatement", "measures"), None, ("measure", "year", "cost_cny_per_t"),
               "optional: cost per year of a measure (leave its cost_cny_per_t empty on the measures sheet)"),
    TableSheet("projects", ("abatement", "projects"), ProjectSpec, _model_columns(ProjectSpec),
               "discrete abatement projects, built at most once"),
    TableSheet("overrides", ("policy", "overrides"), None, ("parameter", "value"),
               "rule-pack parameters replaced for this case (value: a number, or text in YAML/JSON for lists and tables)"),
)
SHEETS = {t.sheet: t for t in TABLES}


# ---------------------------------------------------------------------------------- field kinds


def _unwrap(ann: Any) -> tuple[Any, list[Any]]:
    """(base type, metadata) of an annotation, Optional and Annotated removed."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            args = typing.get_args(ann)
            ann, meta = args[0], meta + list(args[1:])
            continue
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) == 1:
                ann = args[0]
                continue
            return args[0], meta  # e.g. float | dict: the scalar form
        return ann, meta


def field_kind(model: type[BaseModel] | None, name: str) -> tuple[str, tuple[str, ...]]:
    """('choice', options) | ('bool', ()) | ('int', ()) | ('number', ()) | ('text', ())."""
    if model is None:
        return ("int", ()) if name in ("vintage", "year") else ("number", ()) if name.endswith(("_t", "_per_t")) else ("text", ())
    f = model.model_fields.get(name)
    if f is None:
        return ("text", ())
    base, meta = _unwrap(f.annotation)
    for m in f.metadata:
        meta.append(m)
    if typing.get_origin(base) is typing.Literal:
        return ("choice", tuple(str(a) for a in typing.get_args(base)))
    if base is bool:
        return ("bool", ())
    if base is int:
        return ("int", ())
    if base is float:
        return ("number", ())
    return ("text", ())


def _section_rows() -> list[tuple[str, type[BaseModel], str]]:
    """(dotted key, section model, field) of every scalar field of the case sections."""
    out = []
    for sec in SECTIONS:
        model = CaseSpec.model_fields[sec].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, f in model.model_fields.items():
            base, _ = _unwrap(f.annotation)
            if typing.get_origin(base) in (list, dict) or base in (list, dict):
                continue  # tables have their own sheets
            out.append((f"{sec}.{name}", model, name))
    return out


def _description(model: type[BaseModel] | None, name: str, lang: str = "en", sheet: str = "") -> str:
    """The help of a field: English from the schema, Chinese from ``planner.input.template_zh``."""
    if lang == "zh":
        from planner.input import template_zh as zh

        text = zh.FIELDS.get(f"{model.__name__ if model is not None else sheet}.{name}")
        f = model.model_fields.get(name) if model is not None else None
        if text is None:  # a field without its Chinese yet (tests/unit/test_template_zh.py fails): English
            return _description(model, name)
        if f is None:
            return text
        return f"{zh.REQUIRED['required' if f.is_required() else 'optional']}；{text}"
    if model is None:
        return {"vintage": "vintage year", "quantity_t": "t", "measure": "measure id (measures sheet)",
                "year": "compliance year", "cost_cny_per_t": "CNY per t abated",
                "parameter": "rule-pack parameter id, e.g. penalty.multiple", "value": "new value",
                "unit": "unit id (units sheet); empty for a single-unit entity"}.get(name, "")
    f = model.model_fields.get(name)
    if name == "unit":
        return "unit id (units sheet); empty for a single-unit entity"
    if f is None:
        return ""
    text = (f.description or "").replace("\n", " ")
    req = "required" if f.is_required() else "optional"
    return f"{req}; {text}" if text else req


# ---------------------------------------------------------------------------------- writing


INSTRUCTIONS = (
    "cn-ets-planner case workbook / 案例输入工作簿",
    "",
    "1. Fill in the 'case' sheet: one value per field (column B). Leave optional fields empty for the default.",
    "   在 'case' 工作表的 B 列填写各字段；可选字段留空即用默认值。",
    "2. Fill in the table sheets (market, activity, ...): row 1 holds the field names (do not change them),",
    "   row 2 is a help line (starts with #); data starts at row 3, one row per year or item.",
    "   表格工作表第 1 行为字段名（请勿修改），第 2 行为说明（以 # 开头），数据从第 3 行开始。",
    "3. Units: tonnes CO2 (t), CNY, MWh, GJ, as the field names say (…_t, …_cny_per_t). Do not type 万.",
    "   单位：吨 CO2、元、MWh、GJ，以字段名为准；请勿以“万”为单位输入。",
    "4. Type values, not formulas (formulas are read only with the value Excel saved). Do not merge cells.",
    "   请输入数值而非公式；不要合并单元格。",
    "5. Run: planner run THIS_FILE.xlsx --out plans/NAME   (errors name the sheet, row and column).",
    "   运行：planner run 本文件.xlsx --out plans/名称（错误信息会指出工作表、行和列）。",
)


def template_bytes(data: dict[str, Any] | None = None, lang: str = "en") -> bytes:
    """The case template as .xlsx bytes; filled with ``data`` (a case as plain data) when given.
    ``lang`` 'zh': every help text in Chinese (sheet and field names unchanged: the reader's format)."""
    import xlsxwriter

    from planner.input import template_zh as zh

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    wb.set_properties({"title": "cn-ets-planner case", "created": dt.datetime(2000, 1, 1)})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    helpf = wb.add_format({"italic": True, "font_color": "#666666", "text_wrap": True, "valign": "top"})
    sect = wb.add_format({"bold": True, "font_color": "#1F4E79"})

    ins = wb.add_worksheet(INSTRUCTIONS_SHEET)
    ins.set_column(0, 0, 110)
    lines = zh.INSTRUCTIONS if lang == "zh" else INSTRUCTIONS
    for i, line in enumerate(lines):
        ins.write_string(i, 0, line, sect if i == 0 else None)
    ins.write_string(len(lines) + 1, 0, zh.SHEETS_HEADING if lang == "zh" else "Sheets / 工作表:", sect)
    for i, t in enumerate(TABLES):
        ins.write_string(len(lines) + 2 + i, 0, f"{t.sheet}: {zh.SHEETS[t.sheet] if lang == 'zh' else t.help}")

    data = data or {}
    ws = wb.add_worksheet(CASE_SHEET)
    ws.write_row(0, 0, ["field", "value", "description"], head)
    ws.freeze_panes(1, 0)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 2, 100)
    r = 1
    last_sec = None
    for key, model, name in _section_rows():
        sec = key.split(".")[0]
        if sec != last_sec:
            ws.write_string(r, 0, f"# {sec} {zh.SECTIONS[sec]}" if lang == "zh" else f"# {sec}", sect)
            r += 1
            last_sec = sec
        ws.write_string(r, 0, key)
        sec_data = data.get(sec) if isinstance(data.get(sec), dict) else {}
        if name in sec_data:
            _write_value(ws, r, 1, sec_data[name])
        ws.write_string(r, 2, _description(model, name, lang), helpf)
        _validate(ws, r, 1, *field_kind(model, name), lang=lang)
        r += 1

    for t in TABLES:
        ws = wb.add_worksheet(t.sheet)
        ws.write_row(0, 0, list(t.columns), head)
        ws.set_row(1, 45)
        for c, name in enumerate(t.columns):
            ws.write_string(1, c, ("# " if c == 0 else "") + _description(t.model, name, lang, t.sheet), helpf)
            ws.set_column(c, c, max(12, min(28, len(name) + 2)))
            kind, opts = field_kind(t.model, name)
            _validate(ws, (2, 1000), c, kind, opts, lang=lang)
        ws.freeze_panes(2, 0)
        for i, row in enumerate(_table_rows(t, data)):
            for c, name in enumerate(t.columns):
                if row.get(name) is not None:
                    _write_value(ws, 2 + i, c, row[name])
    wb.close()
    return buf.getvalue()


def _write_value(ws, r: int, c: int, v: Any) -> None:
    if isinstance(v, bool):
        ws.write_boolean(r, c, v)
    elif isinstance(v, int | float):
        ws.write_number(r, c, v)
    elif isinstance(v, dict | list):
        ws.write_string(r, c, json.dumps(v, ensure_ascii=False))
    elif v is not None:
        ws.write_string(r, c, str(v))


def _validate(ws, rows: int | tuple[int, int], c: int, kind: str, opts: tuple[str, ...], lang: str = "en") -> None:
    """A dropdown (choices, TRUE/FALSE) or a number check on a cell range; its message in ``lang``
    (English: Excel's own message for the dropdowns, as before)."""
    from planner.input.template_zh import VALIDATION

    r0, r1 = (rows, rows) if isinstance(rows, int) else rows
    msg = {"error_message": VALIDATION[kind]} if lang == "zh" and kind in VALIDATION else {}
    if kind == "choice":
        ws.data_validation(r0, c, r1, c, {"validate": "list", "source": list(opts), **msg})
    elif kind == "bool":
        ws.data_validation(r0, c, r1, c, {"validate": "list", "source": ["TRUE", "FALSE"], **msg})
    elif kind == "int":
        ws.data_validation(r0, c, r1, c, {"validate": "integer", "criteria": "between", "minimum": 0, "maximum": 10**9,
                                          "error_message": "a whole number", **msg})
    elif kind == "number":
        ws.data_validation(r0, c, r1, c, {"validate": "decimal", "criteria": "between", "minimum": -1e15, "maximum": 1e15,
                                          "error_message": "a number", **msg})


def _table_rows(t: TableSheet, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of one table sheet from a case as plain data (for a filled template)."""
    node: Any = data
    for p in t.path:
        node = node.get(p) if isinstance(node, dict) else None
    if t.sheet in UNIT_TABLES:
        if data.get("units"):
            return [{"unit": u.get("id"), **r} for u in data["units"] for r in (u.get(t.sheet) or [])]
        return list(node or [])
    if t.sheet == "units":
        return [{k: v for k, v in u.items() if k not in UNIT_TABLES} for u in (node or [])]
    if t.sheet == "cea_by_vintage":
        return [{"vintage": k, "quantity_t": v} for k, v in (node or {}).items()]
    if t.sheet == "overrides":
        return [{"parameter": k, "value": v} for k, v in (node or {}).items()]
    if t.sheet == "measures":
        return [{**m, "cost_cny_per_t": None} if isinstance(m.get("cost_cny_per_t"), dict) else m for m in (node or [])]
    if t.sheet == "measure_costs":
        return [{"measure": m.get("id"), "year": y, "cost_cny_per_t": c}
                for m in (node or []) if isinstance(m.get("cost_cny_per_t"), dict)
                for y, c in m["cost_cny_per_t"].items()]
    return list(node or [])


# ---------------------------------------------------------------------------------- reading


@dataclass
class CellMap:
    """Where each case path came from: exact paths (as ``planner.input.read`` prints them) to cell names."""

    cells: dict[str, str] = field(default_factory=dict)
    paths: list[tuple[tuple, str]] = field(default_factory=list)  # (loc tuple, cell text), resolved later
    notes: dict[str, str] = field(default_factory=dict)
    """The reader's own message for a cell (text where a number is expected), by cell name: it
    replaces the schema's message for that cell."""

    def note(self, where: str) -> str | None:
        """The reader's message for the cell a located problem names, if any."""
        if not self.notes:
            return None
        head = where.split(":", 1)[0].split(" (", 1)[0]
        return self.notes.get(head)

    def add(self, loc: tuple, where: str) -> None:
        """Record that case path ``loc`` (a location tuple) came from cell ``where``; ``resolve``
        turns it into a path."""
        self.paths.append((loc, where))

    def resolve(self, data: dict[str, Any]) -> None:
        """Turn the noted location tuples into the paths of ``data`` (the case read), the first cell
        of a path kept."""
        from planner.input.messages import location

        for loc, where in self.paths:
            self.cells.setdefault(location(loc, data), where)

    def where(self, loc: str) -> str:
        """The cell (or row, or sheet) of a problem path, with the path itself."""
        best = ""
        for k in self.cells:
            if (loc == k or loc.startswith(k + ".") or loc.startswith(k + "[") or loc.startswith(k + " ")) and len(k) > len(best):
                best = k
        if not best:
            return loc
        rest = loc[len(best):].lstrip(". ")
        return f"{self.cells[best]}: {rest}" if rest else self.cells[best]


def _col(c: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(c)


def cell_label(sheet: str, r: int, c: int | None = None, name: str = "") -> str:
    """Where in a workbook: the sheet and row, and the column (and its field name) if given."""
    if c is None:
        return f"sheet '{sheet}' row {r}"
    return f"sheet '{sheet}' row {r} column {_col(c)}" + (f" ({name})" if name else "")


class Unread:
    """A cell's text that is not a number where a number is expected. It stays in the case data,
    which the schema then refuses at that cell, so that every other problem of the workbook is
    reported with it; the reader's message (which quotes the text) replaces the schema's there."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return quote(self.text)


class SheetReader:
    """Reads the cells of one workbook, collecting problems that name each cell."""

    def __init__(self, src: str, numbers: str = "defer") -> None:
        """``numbers``: what becomes of text where a number is expected: "defer" (case workbooks)
        an ``Unread`` with its message noted; "keep": the text, for the caller to read (group
        tables read every cell with ``planner.input.numbers.read_number``)."""
        self.src = src
        self.problems: list[tuple[str, str]] = []
        self.map = CellMap()
        self.numbers = numbers

    def problem(self, where: str, msg: str) -> None:
        """Record the problem ``msg`` at ``where`` (a cell, row or sheet)."""
        self.problems.append((where, msg))

    def value(self, ws, wsf, r: int, c: int, kind: str) -> Any:
        """A cell's value as plain data; formulas without a saved value and error values are problems."""
        from openpyxl.cell.cell import ERROR_CODES

        v = ws.cell(row=r, column=c).value
        f = wsf.cell(row=r, column=c).value if wsf is not None else None
        where = cell_label(ws.title, r, c)
        if v is None and isinstance(f, str) and f.startswith("="):
            shown = f if len(f) <= 60 and f.isprintable() else quote(f, 60)
            self.problem(where, f"formula {shown} has no saved value (type the value, or open and save the workbook in Excel)")
            return None
        if isinstance(v, str):
            if v in ERROR_CODES:
                self.problem(where, f"the cell holds the Excel error {v}")
                return None
            v = v.strip()
            if v == "":
                return None
            if kind == "number" and v == "unlimited":
                return v  # the fields that allow it say so (market.ccer_available_t); others refuse it
            if kind in ("int", "number") and self.numbers == "defer":
                # text where a number is expected: the one strict reader of numbers ("83,5" is refused)
                n, why = read_number(v, integer=kind == "int")
                if why is not None:
                    self.map.notes[where] = why
                    return Unread(v)
                return n
        if isinstance(v, dt.datetime | dt.date | dt.time):
            self.problem(where, f"a date/time ({v}) where a {'number' if kind in ('int', 'number') else 'value'} is expected")
            return None
        if isinstance(v, bool) and kind in ("int", "number"):
            self.problem(where, f"{'TRUE' if v else 'FALSE'} where a number is expected")
            return None
        if kind == "text" and isinstance(v, int | float) and not isinstance(v, bool):
            return str(int(v)) if float(v).is_integer() else str(v)
        if kind == "int" and isinstance(v, float) and v.is_integer():
            return int(v)
        return v


def is_comment_row(values: list[Any]) -> bool:
    """The first non-empty cell of the row starts with ``#``."""
    first = next((v for v in values if v is not None and not (isinstance(v, str) and not v.strip())), None)
    return isinstance(first, str) and first.lstrip().startswith("#")


def is_empty_row(values: list[Any]) -> bool:
    """Every cell of the row is empty or blank."""
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def open_workbook(raw: bytes, src: str):
    """A workbook's bytes opened twice with openpyxl: (saved values, formulas). The package is
    checked first (``package_problem``); whatever openpyxl raises on a broken part is an input
    error naming the file."""
    import openpyxl

    problem = package_problem(raw)
    if problem:
        raise CaseValidationError(src, [("", problem)])
    try:
        wb = openpyxl.load_workbook(io.BytesIO(raw), data_only=True)
        wbf = openpyxl.load_workbook(io.BytesIO(raw), data_only=False)
    except Exception as exc:  # broken parts raise many kinds (ParseError, KeyError, ValueError, TypeError, ...)
        why = " ".join(str(exc).split())[:120]
        raise CaseValidationError(src, [("", f"not a readable .xlsx workbook ({type(exc).__name__}: {why})")]) from None
    return wb, wbf


_XML_PARTS = (".xml", ".rels", ".vml")


def package_problem(raw: bytes) -> str | None:
    """Why the bytes are not a workbook package this reader opens, or None. Checked before any XML
    is parsed: a ZIP archive within the limits on parts and uncompressed size (a small file may
    expand a thousandfold), XML parts in UTF-8 without a document type declaration (Excel never
    writes one; its entities can expand without bound)."""
    import zipfile

    from planner.input.limits import over

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            infos = zf.infolist()
            problem = over("workbook_parts", len(infos), "parts (files) inside the workbook")
            if problem:
                return problem
            # the declared sizes bound what is read: zipfile stops each part at its declared size
            problem = over("workbook_unpacked_bytes", sum(i.file_size for i in infos), "bytes of the workbook once uncompressed")
            if problem:
                return problem
            for info in infos:
                if not info.filename.lower().endswith(_XML_PARTS):
                    continue
                part = zf.read(info)
                if b"\x00" in part:
                    return f"not a readable .xlsx workbook (part {info.filename[:60]} is not UTF-8 XML)"
                if b"<!DOCTYPE" in part or b"<!ENTITY" in part:
                    return (f"not a readable .xlsx workbook (part {info.filename[:60]} declares XML entities, "
                            "which Excel never writes; save the workbook again from Excel)")
    except Exception as exc:  # not a ZIP, a damaged part (CRC), an encrypted part, ...
        why = " ".join(str(exc).split())[:120]
        return f"not a readable .xlsx workbook ({type(exc).__name__}: {why})"
    return None


def used_range(ws, wsf, rd: SheetReader, name: str) -> tuple[int, int]:
    """(rows, columns) of a sheet up to its last cell that holds something (a value or a formula),
    whatever the sheet's stated dimension or formatted empty cells say; beyond the limits on rows and
    columns a problem naming the far-away cell, and (0, 0)."""
    from planner.input.limits import over

    rows = cols = 0
    far_r = far_c = (0, 0)
    for sheet in (ws, wsf):
        for (r, c), cell in sheet._cells.items():  # the cells the file holds, not its whole range
            if cell.value is None:
                continue
            if r > rows:
                rows, far_r = r, (r, c)
            if c > cols:
                cols, far_c = c, (r, c)
    for n, far, key, what in ((rows, far_r, "table_rows", "rows"), (cols, far_c, "table_columns", "columns")):
        problem = over(key, n, f"the sheet's used {what} (up to cell {_col(far[1])}{far[0]})")
        if problem:
            rd.problem(f"sheet '{name}'", problem + "; delete the far-away cells")
            return 0, 0
    return rows, cols


def read_workbook(raw: bytes, src: str) -> tuple[dict[str, Any], CellMap]:
    """A filled case workbook as plain case data and the map of paths to cells.

    Problems found while reading (unknown sheets or columns, merged cells, formulas without values,
    Excel error values, rows for unknown units) are raised together as one ``CaseValidationError``.
    """
    wb, wbf = open_workbook(raw, src)
    rd = SheetReader(src)
    data: dict[str, Any] = {}
    known = {CASE_SHEET, INSTRUCTIONS_SHEET, *SHEETS}
    for name in wb.sheetnames:
        if name not in known:
            rd.problem(f"sheet '{name}'", f"unknown sheet{did_you_mean(name, known)}; expected {', '.join(sorted(known))}")
    for name in wb.sheetnames:
        ws = wb[name]
        if name in known and name != INSTRUCTIONS_SHEET:
            for rng in ws.merged_cells.ranges:
                rd.problem(f"sheet '{name}' cells {rng.coord}", "merged cells; unmerge them and give a value in each cell")
    if CASE_SHEET in wb.sheetnames:
        _read_case_sheet(rd, wb[CASE_SHEET], wbf[CASE_SHEET], data)
    else:
        rd.problem(f"sheet '{CASE_SHEET}'", "the sheet is missing (write a new template with `planner template --xlsx FILE`)")
    tables: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for t in TABLES:
        if t.sheet in wb.sheetnames:
            tables[t.sheet] = _read_table(rd, t, wb[t.sheet], wbf[t.sheet])
        elif t.sheet == "market":
            rd.problem(f"sheet '{t.sheet}'", "the sheet is missing; the case needs one market row per year")
        else:
            rd.map.add(t.path, f"sheet '{t.sheet}' (missing)")
    _assemble(rd, data, tables)
    rd.map.resolve(data)
    if rd.problems:
        # what could be read goes with the problems: a misspelt header or field must not hide the
        # problems of the values that were read (``planner.input.read.read_case`` validates them too)
        exc = CaseValidationError(src, rd.problems)
        exc.partial = (data, rd.map)
        raise exc
    return data, rd.map


def _read_case_sheet(rd: SheetReader, ws, wsf, data: dict[str, Any]) -> None:
    keys = {k: (model, name) for k, model, name in _section_rows()}
    seen: dict[str, int] = {}
    nrow, _ = used_range(ws, wsf, rd, ws.title)
    for r in range(2, nrow + 1):
        key_v = ws.cell(row=r, column=1).value
        vals = [ws.cell(row=r, column=c).value for c in (1, 2)]
        if is_empty_row(vals) or is_comment_row(vals):
            continue
        key = str(key_v).strip() if key_v is not None else ""
        if key not in keys:
            rd.problem(cell_label(ws.title, r, 1), f"unknown field {key!r}{did_you_mean(key, keys)}" if key else "a value without a field name in column A")
            continue
        if key in seen:
            rd.problem(cell_label(ws.title, r, 1), f"field {key} given twice (first in row {seen[key]})")
            continue
        seen[key] = r
        model, name = keys[key]
        v = rd.value(ws, wsf, r, 2, field_kind(model, name)[0])
        sec = key.split(".")[0]
        rd.map.add((sec,), f"sheet '{ws.title}' ({sec}.* rows)")
        rd.map.add((sec, name), cell_label(ws.title, r, 2, key))
        if v is not None:
            data.setdefault(sec, {})[name] = v


def _read_table(rd: SheetReader, t: TableSheet, ws, wsf) -> list[tuple[int, dict[str, Any]]]:
    nrow, ncol = used_range(ws, wsf, rd, t.sheet)
    header: dict[int, str] = {}
    named: set[int] = set()  # columns whose header is a problem already (unknown or twice): their values are not
    for c in range(1, ncol + 1):
        h = ws.cell(row=1, column=c).value
        if h is None or (isinstance(h, str) and not h.strip()):
            continue
        h = str(h).strip()
        named.add(c)
        if h not in t.columns:
            rd.problem(cell_label(t.sheet, 1, c), f"unknown column {h!r}{did_you_mean(h, t.columns)}; expected {', '.join(t.columns)}")
        elif h in header.values():
            rd.problem(cell_label(t.sheet, 1, c), f"column {h!r} appears twice")
        else:
            header[c] = h
    rows = []
    headless: set[int] = set()  # one problem per column without a header, at its first value
    for r in range(2, nrow + 1):
        vals = [ws.cell(row=r, column=c).value for c in range(1, ncol + 1)]
        if is_empty_row(vals) or is_comment_row(vals):
            continue
        row: dict[str, Any] = {}
        for c in range(1, ncol + 1):
            raw = vals[c - 1]
            if c not in header:
                if not is_empty_row([raw]) and c not in named and c not in headless:
                    headless.add(c)
                    rd.problem(cell_label(t.sheet, r, c), "values in a column without a field name in row 1 (from this row on)")
                continue
            v = rd.value(ws, wsf, r, c, field_kind(t.model, header[c])[0])
            row[header[c]] = v
        row["__cols__"] = {name: c for c, name in header.items()}
        rows.append((r, row))
    return rows


def _put(rd: SheetReader, t: TableSheet, r: int, row: dict[str, Any], loc: tuple) -> dict[str, Any]:
    """A table row as case data (empty cells left out), its cells recorded under ``loc``."""
    cols = row.get("__cols__", {})
    rd.map.add(loc, cell_label(t.sheet, r))
    out = {}
    for name in t.columns:
        if name in ("unit",):
            continue
        if name in cols:
            rd.map.add(loc + (name,), cell_label(t.sheet, r, cols[name], name))
        if row.get(name) is not None:
            out[name] = row[name]
    return out


UNIT_TABLES = ("activity", "prior_activity")
"""Year tables of a unit: rows name their unit when the units sheet lists units."""


def _unit_table(rd: SheetReader, data: dict[str, Any], tables: dict[str, list[tuple[int, dict[str, Any]]]],
                unit_rows: list[dict[str, Any]], name: str) -> None:
    """Rows of a unit year table (``activity``, ``prior_activity``) into each unit named, or into the
    case's own table for a single-unit entity."""
    act = SHEETS[name]
    if unit_rows:
        ids = [u.get("id") for u in unit_rows]
        got = tables.get(name, [])
        if name == "activity" or got:
            for u in unit_rows:
                u[name] = []
        for r, row in got:
            uid = row.get("unit")
            if uid not in ids:
                col = row.get("__cols__", {}).get("unit")
                rd.problem(cell_label(act.sheet, r, col, "unit") if col else cell_label(act.sheet, r),
                           f"unit {uid!r} is not on the units sheet (expected one of {', '.join(map(str, ids))})")
                continue
            k = ids.index(uid)
            j = len(unit_rows[k][name])
            unit_rows[k][name].append(_put(rd, act, r, row, ("units", k, name, j)))
        if name == "activity" or got:
            for k in range(len(unit_rows)):
                rd.map.add(("units", k, name), f"sheet '{name}'")
    elif name in tables and (name == "activity" or tables[name]):
        rows = []
        for i, (r, row) in enumerate(tables[name]):
            if row.get("unit") is not None:
                rd.problem(cell_label(act.sheet, r, row["__cols__"]["unit"], "unit"),
                           "a unit is named but the units sheet is empty (leave unit empty for a single-unit entity)")
            rows.append(_put(rd, act, r, row, (name, i)))
        data[name] = rows
        rd.map.add((name,), f"sheet '{name}'")


def _assemble(rd: SheetReader, data: dict[str, Any], tables: dict[str, list[tuple[int, dict[str, Any]]]]) -> None:
    def section(*path: str) -> dict[str, Any]:
        node = data
        for p in path:
            node = node.setdefault(p, {})
        return node

    for name in ("market", "benchmarks", "allocation_given", "ccer_lots", "projects"):
        t = SHEETS[name]
        if name not in tables or (not tables[name] and name != "market"):
            continue
        rows = [_put(rd, t, r, row, t.path + (i,)) for i, (r, row) in enumerate(tables[name])]
        (section(*t.path[:-1]) if len(t.path) > 1 else data)[t.path[-1]] = rows
        rd.map.add(t.path, f"sheet '{t.sheet}'")

    units = tables.get("units", [])
    unit_rows = [_put(rd, SHEETS["units"], r, row, ("units", i)) for i, (r, row) in enumerate(units)]
    if unit_rows:
        data["units"] = unit_rows
        rd.map.add(("units",), "sheet 'units'")
    for name in UNIT_TABLES:
        _unit_table(rd, data, tables, unit_rows, name)

    vint = tables.get("cea_by_vintage", [])
    if vint:
        out: dict[Any, Any] = {}
        for r, row in vint:
            y = row.get("vintage")
            if y in out:
                rd.problem(cell_label("cea_by_vintage", r, row["__cols__"].get("vintage"), "vintage"), f"vintage {y} appears twice")
            out[y] = row.get("quantity_t")
            rd.map.add(("opening", "cea_by_vintage", y), cell_label("cea_by_vintage", r, row["__cols__"].get("quantity_t"), "quantity_t"))
        section("opening")["cea_by_vintage"] = out
        rd.map.add(("opening", "cea_by_vintage"), "sheet 'cea_by_vintage'")

    ms = tables.get("measures", [])
    if ms:
        mt = SHEETS["measures"]
        measures = [_put(rd, mt, r, row, ("abatement", "measures", i)) for i, (r, row) in enumerate(ms)]
        ids = [m.get("id") for m in measures]
        for r, row in tables.get("measure_costs", []):
            cols = row["__cols__"]
            mid = row.get("measure")
            if mid not in ids:
                rd.problem(cell_label("measure_costs", r, cols.get("measure"), "measure"),
                           f"measure {mid!r} is not on the measures sheet")
                continue
            k = ids.index(mid)
            m = measures[k]
            if not isinstance(m.get("cost_cny_per_t"), dict):
                if m.get("cost_cny_per_t") is not None:
                    rd.problem(cell_label("measure_costs", r), f"measure {mid} has a single cost on the measures sheet; leave it empty to give costs per year")
                    continue
                m["cost_cny_per_t"] = {}
            y = row.get("year")
            if y in m["cost_cny_per_t"]:
                rd.problem(cell_label("measure_costs", r, cols.get("year"), "year"), f"year {y} of measure {mid} appears twice")
            m["cost_cny_per_t"][y] = row.get("cost_cny_per_t")
            rd.map.add(("abatement", "measures", k, "cost_cny_per_t", y), cell_label("measure_costs", r, cols.get("cost_cny_per_t"), "cost_cny_per_t"))
        section("abatement")["measures"] = measures
        rd.map.add(("abatement", "measures"), "sheet 'measures'")
    elif tables.get("measure_costs"):
        r, _ = tables["measure_costs"][0]
        rd.problem(cell_label("measure_costs", r), "costs per year given but the measures sheet is empty")

    ov = tables.get("overrides", [])
    if ov:
        out_ov: dict[str, Any] = {}
        for r, row in ov:
            cols = row["__cols__"]
            key = row.get("parameter")
            if not key:
                rd.problem(cell_label("overrides", r, cols.get("parameter"), "parameter"), "a value without a parameter id")
                continue
            key = str(key)
            if key in out_ov:
                rd.problem(cell_label("overrides", r, cols.get("parameter"), "parameter"), f"parameter {key} given twice")
            v = row.get("value")
            if isinstance(v, str):
                v = _parse_text_value(rd, v, cell_label("overrides", r, cols.get("value"), "value"))
            out_ov[key] = v
            rd.map.add(("policy", "overrides", key), cell_label("overrides", r, cols.get("value"), "value"))
        section("policy")["overrides"] = out_ov
        rd.map.add(("policy", "overrides"), "sheet 'overrides'")


def _parse_text_value(rd: SheetReader, text: str, where: str) -> Any:
    """A text cell of the overrides sheet: YAML/JSON for numbers, lists and tables (safe reader)."""
    from planner.input.safe_yaml import load_yaml

    try:
        return load_yaml(text, where)
    except CaseValidationError as exc:
        rd.problem(where, "; ".join(m for _, m in exc.problems))
        return None


_UNION_BRANCH = re.compile(r"\.dict\[[^\[\]]*\]")


def locate(exc: CaseValidationError, cells: CellMap, src: str) -> CaseValidationError:
    """The same problems with their case paths replaced by sheet, row and column.

    A value that may be a number or a table per year (a measure's cost) fails both ways; when the
    workbook gave the table (measure_costs sheet), only the table's problems are kept."""
    probs = exc.problems
    keyed = re.compile(r"\.dict\[[^\[\]]*\]\[")
    tables = {loc.split(".dict[")[0] for loc, _ in probs if keyed.search(loc)}
    out = []
    for loc, msg in probs:
        if loc in tables:
            continue  # the scalar branch of a value given as a table
        if ".dict[" in loc and not keyed.search(loc) and loc.split(".dict[")[0] not in tables:
            continue  # the table branch of a value given as a scalar
        loc = _UNION_BRANCH.sub("", loc)
        where = cells.where(loc) if loc else loc
        item = (where, cells.note(where) or msg)
        if item not in out:
            out.append(item)
    return CaseValidationError(src, out)


# ------------------------------------------------------------------------ group entity tables

TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "plants": (
        ("id", "entity id (unique) [required]"),
        ("name", "display name"),
        ("sector", "power (default) | steel | cement | aluminium | other"),
        ("unit_class", "coal_gt300 | coal_le300 | coal_unconventional | gas | cement_clinker | steel_bf_bof | aluminium_electrolysis | other_industry [required]"),
        ("capacity_mw", "rated capacity of one unit, MW (checks the coal class: coal_gt300 = at least 400 MW)"),
        ("unit_count", "identical units the row covers (2 for a 2 x 660 MW plant), default 1"),
        ("cooling", "water | air"),
        ("output", "first-year output: MWh (power) or t product [required]"),
        ("intensity_t_per_unit", "t CO2 per MWh or t product (or give emissions_t)"),
        ("emissions_t", "first-year baseline emissions, t CO2 (or give the intensity)"),
        ("heat_gj", "heat supplied, GJ a year"),
        ("heat_intensity_t_per_gj", "t CO2 per GJ of heat"),
        ("output_growth", "output change a year, share (0.01 = +1%)"),
        ("opening_cea_t", "allowances held at the start, t"),
        ("net_sales_since_2019_t", "cumulative net sales since 2019 (for the carry-over limit), t"),
        ("compliance", "penalty | hard"),
    ),
    "measures": (
        ("entity", "plant id [required]"),
        ("id", "measure id [required]"),
        ("name", "display name"),
        ("cost_cny_per_t", "cost per tonne abated, CNY/t [required]"),
        ("potential_t_per_year", "tonnes a year at most [required]"),
        ("first_year", "first year available"),
        ("last_year", "last year available"),
        ("kind", "measure kind (e.g. output for output cuts)"),
    ),
    "activity": (
        ("entity", "plant id [required]"),
        ("year", "compliance year [required]"),
        ("output", "output: MWh or t product [required]"),
        ("emissions_t", "baseline emissions, t CO2"),
        ("intensity_t_per_unit", "t CO2 per MWh or t product"),
        ("heat_gj", "heat supplied, GJ"),
        ("heat_intensity_t_per_gj", "t CO2 per GJ of heat"),
    ),
}
"""Columns of a group's entity tables with their help text (the readers' columns: ``planner.input.read``)."""


def tables_template_bytes(tables: dict[str, list[dict[str, Any]]] | None = None, lang: str = "en") -> bytes:
    """A workbook for a group's entity tables: sheets plants, measures and activity (row 1 the
    column names, row 2 a '#' help row the reader skips), filled with ``tables`` rows when given,
    and an instructions sheet. Same bytes for the same rows (XlsxWriter, fixed document date).
    ``lang`` 'zh': the help rows and instructions in Chinese (``planner.input.template_zh``)."""
    import xlsxwriter

    from planner.input import template_zh as zh

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    wb.set_properties({"title": "cn-ets-planner entity tables", "created": dt.datetime(2000, 1, 1)})
    head = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    helpf = wb.add_format({"italic": True, "font_color": "#666666", "text_wrap": True, "valign": "top"})
    for sheet, cols in TABLE_COLUMNS.items():
        ws = wb.add_worksheet(sheet)
        for c, (name, help_text) in enumerate(cols):
            ws.write_string(0, c, name, head)
            if lang == "zh":
                help_text = zh.GROUP_COLUMNS.get((sheet, name), help_text)
            ws.write_string(1, c, ("# " if c == 0 else "") + help_text, helpf)
            ws.set_column(c, c, max(12, min(40, len(name) + 4)))
        ws.freeze_panes(2, 1)
        names = [n for n, _ in cols]
        for r, row in enumerate((tables or {}).get(sheet, []), start=2):
            for c, name in enumerate(names):
                if row.get(name) is not None:
                    _write_value(ws, r, c, row[name])
    ws = wb.add_worksheet("instructions")
    ws.set_column(0, 0, 120)
    lines = [
        "Entity tables of a group case / 集团案例的企业数据表",
        "One row per plant on 'plants'; MAC steps on 'measures'; per-year activity on 'activity' (optional: without it "
        "each plant's first-year output grows by output_growth a year).",
        "每个电厂在 'plants' 表占一行；减排措施在 'measures' 表；逐年活动数据在 'activity' 表（可选）。",
        "Row 2 of each sheet is help (it starts with #) and is skipped, as is any row whose first cell starts with #.",
        "In the group YAML: entity_tables: {plants: tables.xlsx, measures: tables.xlsx, activity: tables.xlsx}",
        "Errors name the file, sheet, row and column; `planner validate GROUP.yaml` lists every problem.",
    ]
    if lang == "zh":
        lines = list(zh.GROUP_INSTRUCTIONS)
    for r, t in enumerate(lines):
        ws.write_string(r, 0, t, head if r == 0 else None)
    wb.close()
    return buf.getvalue()
