"""Reading case files: YAML, JSON and case workbooks, safely and within limits, into validated specs."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from planner.errors import CaseValidationError
from planner.input.limits import limit, over
from planner.input.messages import friendly_message, location
from planner.input.numbers import quote, read_number
from planner.input.safe_yaml import (
    MAX_DEPTH,
    MAX_NODES,
    data_text_problem,
    key_identity,
    load_yaml,
    shorten,
    text_problem,
)
from planner.input.schema import CaseSpec, cross_problems


def _load_json(text: str, src: str) -> Any:
    try:
        data = json.loads(text, object_pairs_hook=_json_pairs, parse_constant=_json_constant, parse_float=_json_float)
    except json.JSONDecodeError as exc:
        raise CaseValidationError(src, [(f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}")]) from None
    except ValueError as exc:  # duplicate key (from _json_pairs), or a number Python cannot read
        raise CaseValidationError(src, [("", f"not valid JSON: {shorten(str(exc), 200)}")]) from None
    except RecursionError:
        data = None
        shape = f"values nested deeper than {MAX_DEPTH} levels"
    else:
        shape = _json_shape_problem(data)
    if shape:
        raise CaseValidationError(src, [("", f"not a usable case file: {shape}")])
    bad = data_text_problem(data)
    if bad:
        raise CaseValidationError(src, [bad])
    return data


def _json_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: dict[Any, str] = {}
    for k, v in pairs:
        ident = key_identity(k)
        if ident in seen:
            same = "" if seen[ident] == k else f" (the same as {seen[ident]!r})"
            raise ValueError(f"duplicate key {quote(k)}{same}")
        seen[ident] = k
        out[k] = v
    return out


def _json_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity: Python's reader takes them, JSON has no such numbers."""
    raise ValueError(f"{name} is not a JSON number")


def _json_float(text: str) -> float:
    x = float(text)
    if not math.isfinite(x):
        raise ValueError(f"the number {shorten(text, 30)} is too large")
    return x


def _json_shape_problem(data: Any) -> str | None:
    """Depth and size limits for JSON data (YAML is checked while it is composed)."""
    stack = [(data, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            return f"values nested deeper than {MAX_DEPTH} levels"
        if nodes > MAX_NODES:
            return f"the file has more than {MAX_NODES:,} values"
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return None


def read_limited(path: str | Path, cap: str = "case_bytes") -> bytes:
    """The bytes of a regular file, at most limit ``cap`` of them (read with that bound, so a file
    that grows or reports no size cannot make the read unbounded). Raises ``CaseValidationError``
    naming the file: not found, a folder, not a regular file (device, pipe, socket), over the limit,
    unreadable."""
    p = Path(path)
    src = str(p)
    try:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise CaseValidationError(src, [("", "is a folder, not a file")])
        if not stat.S_ISREG(st.st_mode):
            raise CaseValidationError(src, [("", "not a regular file (a device, pipe or socket); give a file")])
        problem = over(cap, st.st_size, "file size in bytes")
        if problem:
            raise CaseValidationError(src, [("", problem)])
        n = limit(cap)
        with open(p, "rb") as fh:
            raw = fh.read(n + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise CaseValidationError(src, [("", "file not found")]) from None
    except OSError as exc:
        raise CaseValidationError(src, [("", f"cannot be read ({exc.strerror or type(exc).__name__})")]) from None
    if len(raw) > n:
        raise CaseValidationError(src, [("", over(cap, len(raw), "file size in bytes (at least)") or "")])
    return raw


def _read_bytes(path: str | Path) -> bytes:
    return read_limited(path)


CASE_SUFFIXES = (".yaml", ".yml", ".json", ".xlsx")


def _parse_text_case(raw: bytes, suffix: str, src: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseValidationError(src, [("", f"not UTF-8 text (byte {exc.start})")]) from None
    if suffix == ".json":
        data = _load_json(text, src)
    else:
        data = load_yaml(text, src)
    if not isinstance(data, dict):
        raise CaseValidationError(src, [("", "the case file must be a mapping of sections (entity, horizon, ...)")])
    return data


def _suffix(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in CASE_SUFFIXES:
        raise CaseValidationError(
            str(path), [("", f"unknown case file type {suffix!r}; expected .yaml, .yml, .json or .xlsx")]
        )
    return suffix


def read_case_data(path: str | Path) -> dict[str, Any]:
    """Read a YAML, JSON or Excel (.xlsx) case file into plain data.

    Safe: YAML tags cannot build Python objects; size, nesting depth and the expanded number of
    values (aliases counted at every use) are limited; duplicate keys are errors. Workbooks are read
    by ``planner.input.workbook`` (problems name the sheet, row and column).
    """
    suffix = _suffix(path)
    raw = _read_bytes(path)
    if suffix == ".xlsx":
        from planner.input.workbook import read_workbook

        return read_workbook(raw, str(path))[0]
    return _parse_text_case(raw, suffix, str(path))


_COUNTED = (("measures", ("abatement", "measures")), ("projects", ("abatement", "projects")),
            ("units", ("units",)), ("ccer_lots", ("opening", "ccer_lots")))
"""Lists of a case whose length is limited (``planner.input.limits``), and where they are."""


def count_problems(data: Any) -> list[tuple[str, str]]:
    """The lists of an entity case over their limits (checked before anything else is validated:
    the work of validating and solving grows with them)."""
    out = []
    for name, where in _COUNTED:
        node: Any = data
        for p in where:
            node = node.get(p) if isinstance(node, dict) else None
        if isinstance(node, list) and (problem := over(name, len(node))):
            out.append((".".join(where), problem))
    return out


def parse_case(data: dict[str, Any], source: str = "<case>") -> CaseSpec:
    """Validate plain data into a ``CaseSpec``; every problem is listed with its path."""
    counted = count_problems(data)
    if counted:
        raise CaseValidationError(source, counted)
    problems: list[tuple[str, str]] = list(cross_problems(data))
    seen = {f"{loc}: {msg}" for loc, msg in problems}
    try:
        case = CaseSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = location(err["loc"], data)
            msg = err["msg"].removeprefix("Value error, ")
            for line in msg.split("\n"):
                if line in seen:
                    continue
                if not loc and ": " in line:
                    problems.append(tuple(line.split(": ", 1)))  # type: ignore[arg-type]
                else:
                    problems.append((loc, friendly_message(line, err)))
        raise CaseValidationError(source, _dedupe(problems)) from None
    if problems:
        raise CaseValidationError(source, _dedupe(problems))
    return case


def read_case(path: str | Path) -> tuple[CaseSpec, str]:
    """Read and validate a case file; also the SHA-256 of the bytes that were read (for the audit).

    Problems in a workbook name the sheet, row and column of the cell they come from.
    """
    suffix = _suffix(path)
    raw = _read_bytes(path)
    sha = hashlib.sha256(raw).hexdigest()
    src = str(path)
    if suffix == ".xlsx":
        from planner.input.workbook import locate, read_workbook

        try:
            data, cells = read_workbook(raw, src)
        except CaseValidationError as exc:
            partial = getattr(exc, "partial", None)
            if partial is None:
                raise
            try:  # the values that were read are validated too: every problem is listed at once
                parse_case(partial[0], src)
            except CaseValidationError as more:
                meant = {m.rsplit(".", 1)[-1] for _, msg in exc.problems for m in re.findall(r"did you mean '([^']+)'", msg)}
                # kept: problems of cells that were read (a problem the workbook cannot place, e.g. of a
                # sheet that is missing, follows from the reading problems above); not repeated: a
                # required field that a misspelt name stood for (said once above)
                rest = [(loc, msg) for loc, msg in locate(more, partial[1], src).problems
                        if "sheet '" in loc and not (msg.endswith("required field is missing")
                                                     and any(re.search(rf"\b{re.escape(m)}\b", f"{loc} {msg}") for m in meant))]
                raise CaseValidationError(src, _dedupe([*exc.problems, *rest])) from None
            raise
        try:
            return parse_case(data, src), sha
        except CaseValidationError as exc:
            raise locate(exc, cells, src) from None
    return parse_case(_parse_text_case(raw, suffix, src), src), sha


def load_case(path: str | Path) -> CaseSpec:
    """Read and validate a case file."""
    return read_case(path)[0]


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex (how plans and sweeps record their input files)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _dedupe(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


# ---- group cases -----------------------------------------------------------------------------

PLANT_COLUMNS = {
    "id", "name", "sector", "unit_class", "capacity_mw", "unit_count", "cooling", "output", "intensity_t_per_unit", "emissions_t",
    "heat_gj", "heat_intensity_t_per_gj", "output_growth", "opening_cea_t", "net_sales_since_2019_t",
    "compliance",
}
ACTIVITY_COLUMNS = {"entity", "year", "output", "emissions_t", "intensity_t_per_unit", "heat_gj", "heat_intensity_t_per_gj"}
MEASURE_COLUMNS = {"entity", "id", "name", "cost_cny_per_t", "potential_t_per_year", "first_year", "last_year", "kind"}
_NUMERIC = {
    "capacity_mw", "output", "intensity_t_per_unit", "emissions_t", "heat_gj", "heat_intensity_t_per_gj", "output_growth",
    "opening_cea_t", "net_sales_since_2019_t", "cost_cny_per_t", "potential_t_per_year",
}
_INTEGER = {"year", "first_year", "last_year", "unit_count"}


def is_group_case(path: str | Path) -> bool:
    """Whether a case file is a group case (it has a top-level ``group`` section). Workbooks hold
    entity cases only."""
    if _suffix(path) == ".xlsx":
        return False
    data = read_case_data(path)
    return isinstance(data, dict) and "group" in data


def data_roots(case: str | Path, roots: Sequence[str | Path] | None = None) -> list[Path]:
    """The folders a group case may read files from: its own folder and the ``roots`` the user
    names (``--data-root``), links resolved. A case file never names a root itself: a case from
    someone else must not make the planner read (and quote in its errors) the user's other files."""
    return [Path(case).absolute().parent.resolve()] + [Path(r).resolve() for r in roots or ()]


def resolve_ref(base: Path, name: Any, roots: Sequence[Path]) -> tuple[Path | None, str | None]:
    """The file a group case refers to as ``name`` (relative to the case's folder ``base``), links
    followed: (path, None) when it lies under one of ``roots``, else (None, the problem)."""
    text = str(name)
    if not text or "\0" in text:
        return None, "not a file name"
    try:
        real = (base / text).resolve()
    except (OSError, RuntimeError):  # a loop of links
        return None, "cannot be resolved (a loop of links?)"
    if not any(real == r or real.is_relative_to(r) for r in roots):
        where = "the case folder" if len(roots) == 1 else "the case folder or a --data-root folder"
        return None, (f"lies outside {where} (links followed); put the file there, or name its folder "
                      "with --data-root DIR")
    return real, None


_Rows = tuple[list[str], list[tuple[str, list[Any], dict[str, str] | None]]]
"""A table's header and its rows: (row label, values, cell label per column or None)."""


def _csv_rows(raw: bytes, src: str, problems: list[tuple[str, str]]) -> _Rows | None:
    """Header and rows of a CSV table; None after a problem with the whole file."""
    import csv

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append((src, f"not UTF-8 text (byte {exc.start})"))
        return None
    ncol = limit("table_columns")
    lines = []
    reader = csv.reader(text.splitlines())
    try:
        for row in reader:
            if len(row) > ncol:
                problems.append((f"{src} row {reader.line_num}", over("table_columns", len(row), "fields in the row") or ""))
                return None
            lines.append(row)
    except csv.Error as exc:  # a field over csv's size limit, a NUL byte, ...
        problems.append((f"{src} row {reader.line_num}", f"not a readable CSV row ({exc})"))
        return None
    if not lines:
        return [], []
    return [h.strip() for h in lines[0]], [(f"{src} row {n}", r, None) for n, r in enumerate(lines[1:], start=2) if any(x.strip() for x in r)]


def _xlsx_rows(raw: bytes, src: str, kind: str, columns: set[str], problems: list[tuple[str, str]]) -> _Rows | None:
    """Header and rows of an entity table in a workbook: the sheet named ``kind``
    (plants, activity, measures), or the only sheet. Cells go through the case workbook's reader
    (formulas without a saved value, Excel errors and dates are problems naming the cell)."""
    from planner.input.workbook import (
        SheetReader,
        cell_label,
        is_comment_row,
        is_empty_row,
        open_workbook,
        used_range,
    )

    try:
        wb, wbf = open_workbook(raw, src)
    except CaseValidationError as exc:
        problems += [(src, msg) for _, msg in exc.problems]
        return None
    if kind in wb.sheetnames:
        name = kind
    elif len(wb.sheetnames) == 1:
        name = wb.sheetnames[0]
    else:
        problems.append((src, f"no sheet named {kind!r} (sheets: {_header_names(wb.sheetnames)})"))
        return None
    ws, wsf = wb[name], wbf[name]
    rd = SheetReader(src, numbers="keep")
    for rng in ws.merged_cells.ranges:
        rd.problem(f"sheet '{name}' cells {rng.coord}", "merged cells; unmerge them and give a value in each cell")
    nrow, ncol = used_range(ws, wsf, rd, name)
    header = ["" if (h := ws.cell(row=1, column=c).value) is None else str(h).strip() for c in range(1, ncol + 1)]
    rows: list[tuple[str, list[Any], dict[str, str] | None]] = []
    for r in range(2, nrow + 1):
        vals = [ws.cell(row=r, column=c).value for c in range(1, ncol + 1)]
        if is_empty_row(vals) or is_comment_row(vals):
            continue
        out = []
        for c in range(1, ncol + 1):
            h = header[c - 1]
            k = "int" if h in _INTEGER else "number" if h in _NUMERIC else "text"
            out.append(rd.value(ws, wsf, r, c, k) if h in columns else vals[c - 1])
        rows.append((f"{src} {cell_label(name, r)}", out, {h: f"{src} {cell_label(name, r, c + 1, h)}" for c, h in enumerate(header) if h}))
    problems += [(f"{src} {where}", msg) for where, msg in rd.problems]
    return header, rows


def _header_names(names: list[str]) -> str:
    """Header names for an error message: short printable ones quoted, others only counted (a
    reference to the wrong file must not print its first line)."""
    return ", ".join(h if len(h) <= 40 and h.isprintable() else quote(h) for h in names[:20]) + (
        f" and {len(names) - 20} more" if len(names) > 20 else "")


def read_table(
    path: Path, kind: str, columns: set[str], required: set[str], problems: list[tuple[str, str]],
    label: str | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """Read entity table ``kind`` (plants, activity, measures) from a CSV file or an .xlsx workbook
    (its sheet ``kind``, or its only sheet): (row label, row) pairs with numbers parsed; problems
    name the file (``label``, default its name), the row (sheet and row in a workbook) and the
    column. Numbers are read by ``planner.input.numbers.read_number``; messages quote short values
    only."""
    src = label or path.name
    try:
        raw = read_limited(path, "table_bytes")
    except CaseValidationError as exc:
        problems += [(src, msg) for _, msg in exc.problems]
        return []
    got = _xlsx_rows(raw, src, kind, columns, problems) if path.suffix.lower() == ".xlsx" else _csv_rows(raw, src, problems)
    if got is None:
        return []
    header, raw_rows = got
    named = [h for h in header if h]
    unknown = [h for h in named if h not in columns]
    if unknown:
        from planner.input.hints import did_you_mean

        hints = "".join(f"; {h!r}: {hint[2:]}" for h in unknown[:20] if (hint := did_you_mean(h, columns)))
        problems.append((f"{src} header", f"unknown column(s) {_header_names(unknown)}{hints}; expected some of {', '.join(sorted(columns))}"))
    twice = sorted({h for h in named if named.count(h) > 1})
    if twice:
        problems.append((f"{src} header", f"column(s) given twice: {_header_names(twice)}"))
    missing = sorted(required - set(named))
    if missing:
        problems.append((f"{src} header", f"missing required column(s) {', '.join(missing)}"))
    if unknown or missing or twice:
        return []
    problem = over("table_rows", len(raw_rows), "rows of the table")
    if problem:
        problems.append((src, problem))
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for where, values, cells in raw_rows:
        if len(values) > len(header) and any(str(v).strip() for v in values[len(header):] if v is not None):
            problems.append((where, "more values than columns"))
            continue
        row: dict[str, Any] = {}

        def at(h: str, where=where, cells=cells) -> str:
            return cells[h] if cells and h in cells else f"{where}.{h}"

        bad = set()
        for h, v in zip(header, values, strict=False):
            if not h:
                continue
            if isinstance(v, str):
                v = v.strip()
            if v is None or v == "":
                continue
            if h in _NUMERIC or h in _INTEGER:
                x, why = read_number(v, integer=h in _INTEGER)
                if why is not None:
                    problems.append((at(h), why))
                    bad.add(h)
                    continue
                row[h] = x
            else:
                text = v if isinstance(v, str) else str(v)
                why = text_problem(text)
                if why is not None:
                    problems.append((at(h), why))
                    bad.add(h)
                    continue
                row[h] = text
        for h in sorted(required - bad):
            if h not in row:
                problems.append((at(h), "required value is empty"))
        out.append((where, row))
    return out


def _ref_label(name: Any) -> str:
    text = str(name)
    return text if len(text) <= 80 and text.isprintable() else quote(text)


def _read_ref_table(base: Path, name: Any, kind: str, roots: Sequence[Path],
                    problems: list[tuple[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    """Entity table ``kind`` from the file a group case names ``name``, confined to ``roots``."""
    label = _ref_label(name)
    path, why = resolve_ref(base, name, roots)
    if path is None:
        problems.append((f"entity_tables.{kind} ({label})", why or ""))
        return []
    return read_table(path, kind, *TABLE_SPECS[kind], problems, label=label)


def _table_cases(spec: dict[str, Any], base: Path, years: list[int], problems: list[tuple[str, str]],
                 roots: Sequence[Path]) -> list[tuple[str, dict[str, Any]]]:
    """Entity case dicts built from the rows of entity tables, each with its source label."""
    from planner.input.group_schema import case_from_row

    if not isinstance(spec, dict) or "plants" not in spec:
        problems.append(("entity_tables", "needs at least 'plants' (a CSV file name)"))
        return []
    unknown = sorted(set(spec) - {"plants", "activity", "measures", "defaults"})
    if unknown:
        problems.append(("entity_tables", f"unknown key(s) {', '.join(map(_ref_label, unknown))}"))
    defaults = spec.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(("entity_tables.defaults", "must be a mapping of entity-case sections"))
        defaults = {}
    plants = _read_ref_table(base, spec["plants"], "plants", roots, problems)
    activity: dict[str, list[dict[str, Any]]] = {}
    if spec.get("activity"):
        for _n, r in _read_ref_table(base, spec["activity"], "activity", roots, problems):
            ent = r.pop("entity", None)
            if ent is not None:
                activity.setdefault(str(ent), []).append(r)
    measures: dict[str, list[dict[str, Any]]] = {}
    if spec.get("measures"):
        for _n, r in _read_ref_table(base, spec["measures"], "measures", roots, problems):
            ent = r.pop("entity", None)
            if ent is not None:
                measures.setdefault(str(ent), []).append(r)
    known = {str(r.get("id")) for _, r in plants}
    for name, table in (("activity", activity), ("measures", measures)):
        stray = sorted(set(table) - known)
        if stray and plants:  # without plants (a problem named above) every row would be listed
            problems.append((_ref_label(spec[name]), f"rows for entities not in {_ref_label(spec['plants'])}: "
                             f"{', '.join(map(_ref_label, stray[:10]))}"))
    problem = over("entities", len(plants), "entities (rows of the plants table)")
    if problem:
        problems.append((_ref_label(spec["plants"]), problem))
        return []
    out = []
    for where, r in plants:
        pid = str(r.get("id", ""))
        out.append((f"{where} (id {pid})", case_from_row(r, years, defaults, activity.get(pid), measures.get(pid))))
    return out


def load_group_case(path: str | Path, roots: Sequence[str | Path] | None = None):
    """Read and validate a group case: inline entity cases, file references and entity tables.

    Every problem is listed at once, each naming its file (and row, for tables) and field. Files
    the case refers to must lie under its own folder or one of ``roots`` (``data_roots``), links
    followed, and be regular files.
    """
    from planner.input.group_schema import GroupCaseSpec

    p = Path(path)
    src = str(p)
    data = read_case_data(p)
    base = p.parent
    allowed = data_roots(p, roots)
    problems: list[tuple[str, str]] = []
    unknown = sorted(set(data) - set(GroupCaseSpec.model_fields) - {"entity_tables"}, key=str)
    from planner.input.hints import did_you_mean

    for k in unknown:
        hint = did_you_mean(k, [*GroupCaseSpec.model_fields, "entity_tables"])
        problems.append((_ref_label(k), f"unknown key (not part of the group case schema{hint or '; check the spelling'})"))
    group = data.get("group")
    years: list[int] = []
    if isinstance(group, dict) and isinstance(group.get("horizon"), dict):
        h = group["horizon"]
        if isinstance(h.get("first_year"), int) and isinstance(h.get("last_year"), int) and 0 <= h["last_year"] - h["first_year"] < 30:
            years = list(range(h["first_year"], h["last_year"] + 1))
    if not years:
        problems.append(("group.horizon", "first_year and last_year (whole years, at most 30 apart) are required"))
    sources: list[tuple[str, dict[str, Any]]] = []
    raw_entities = data.get("entities") or []
    if not isinstance(raw_entities, list):
        problems.append(("entities", "must be a list of entity cases or {file: ...} references"))
        raw_entities = []
    problem = over("entities", len(raw_entities), "entities of the group")
    if problem:
        problems.append(("entities", problem))
        raw_entities = []
    for k, item in enumerate(raw_entities):
        if isinstance(item, dict) and set(item) == {"file"}:
            label = str(base / _ref_label(item["file"]))
            ref, why = resolve_ref(base, item["file"], allowed)
            if ref is None:
                problems.append((f"entities[{k}] -> {label}", why or ""))
                continue
            try:
                sources.append((label, read_case_data(ref)))
            except CaseValidationError as exc:
                problems += [(f"entities[{k}] -> {label}" + (f": {loc}" if loc else ""), msg) for loc, msg in exc.problems]
        elif isinstance(item, dict):
            sources.append((f"entities[{k}]", item))
        else:
            problems.append((f"entities[{k}]", "must be an entity case (a mapping) or {file: path}"))
    if "entity_tables" in data and years:
        sources += _table_cases(data["entity_tables"], base, years, problems, allowed)
    problem = over("entities", len(sources), "entities of the group (inline, files and table rows)")
    if problem:
        raise CaseValidationError(src, _dedupe([*problems, ("entities", problem)]))
    cases = []
    for label, raw in sources:
        try:
            cases.append(parse_case(raw, label))
        except CaseValidationError as exc:
            problems += [(f"{label}" + (f".{loc}" if loc and not loc.startswith("[") else loc), msg) for loc, msg in exc.problems]
    if problems:
        raise CaseValidationError(src, _dedupe(problems))
    rest = {k: v for k, v in data.items() if k not in ("entities", "entity_tables")}
    try:
        return GroupCaseSpec.model_validate({**rest, "entities": cases})
    except ValidationError as exc:
        for err in exc.errors():
            loc = location(err["loc"], rest)
            msg = err["msg"].removeprefix("Value error, ")
            for line in msg.split("\n"):
                if not loc and ": " in line:
                    problems.append(tuple(line.split(": ", 1)))  # type: ignore[arg-type]
                else:
                    problems.append((loc, friendly_message(line, err)))
        raise CaseValidationError(src, _dedupe(problems)) from None


TABLE_SPECS: dict[str, tuple[set[str], set[str]]] = {
    "plants": (PLANT_COLUMNS, {"id", "unit_class", "output"}),
    "activity": (ACTIVITY_COLUMNS, {"entity", "year", "output"}),
    "measures": (MEASURE_COLUMNS, {"entity", "id", "cost_cny_per_t", "potential_t_per_year"}),
}
"""Columns and required columns of each entity table."""


def group_table_rows(path: str | Path, roots: Sequence[str | Path] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The rows of a group case's entity tables by table (plants, activity, measures), parsed as the
    case reader parses them (files confined as ``load_group_case`` confines them); problems raise
    one ``CaseValidationError``."""
    p = Path(path)
    data = read_case_data(p)
    tables = data.get("entity_tables")
    if not isinstance(tables, dict):
        raise CaseValidationError(str(p), [("entity_tables", "the group case has no entity tables")])
    problems: list[tuple[str, str]] = []
    out = {}
    allowed = data_roots(p, roots)
    for kind in TABLE_SPECS:
        if tables.get(kind):
            out[kind] = [r for _, r in _read_ref_table(p.parent, tables[kind], kind, allowed, problems)]
    if problems:
        raise CaseValidationError(str(p), problems)
    return out


def group_input_hashes(path: str | Path, roots: Sequence[str | Path] | None = None) -> dict[str, str]:
    """SHA-256 of every file a (valid) group case reads besides itself: entity case files and
    entity tables, by the name the group file gives them."""
    p = Path(path)
    data = read_case_data(p)
    names: list[str] = [str(e["file"]) for e in data.get("entities") or [] if isinstance(e, dict) and set(e) == {"file"}]
    tables = data.get("entity_tables")
    if isinstance(tables, dict):
        names += [str(tables[k]) for k in ("plants", "activity", "measures") if tables.get(k)]
    allowed = data_roots(p, roots)
    out = {}
    for n in names:
        ref, why = resolve_ref(p.parent, n, allowed)
        if ref is None:
            raise CaseValidationError(str(p), [(_ref_label(n), why or "")])
        out[n] = hashlib.sha256(read_limited(ref, "table_bytes")).hexdigest()
    return out
