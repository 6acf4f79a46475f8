"""The only module that touches files: reading case files, writing plan folders atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import CaseValidationError
from planner.schema import CaseSpec, cross_problems

MAX_CASE_BYTES = 5_000_000


def read_case_data(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON case file into plain data (safe loader, size-limited)."""
    p = Path(path)
    src = str(p)
    if not p.is_file():
        raise CaseValidationError(src, [("", "file not found")])
    size = p.stat().st_size
    if size > MAX_CASE_BYTES:
        raise CaseValidationError(src, [("", f"file is {size:,} bytes; the limit is {MAX_CASE_BYTES:,}")])
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseValidationError(src, [("", f"not UTF-8 text (byte {exc.start})")]) from None
    suffix = p.suffix.lower()
    try:
        if suffix == ".json":
            data = json.loads(text)
        elif suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise CaseValidationError(src, [("", f"unknown case file type {suffix!r}; expected .yaml, .yml or .json")])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise CaseValidationError(src, [(where, f"not valid YAML: {problem}")]) from None
    except json.JSONDecodeError as exc:
        raise CaseValidationError(src, [(f"line {exc.lineno}, column {exc.colno}", f"not valid JSON: {exc.msg}")]) from None
    if not isinstance(data, dict):
        raise CaseValidationError(src, [("", "the case file must be a mapping of sections (entity, horizon, ...)")])
    return data


def parse_case(data: dict[str, Any], source: str = "<case>") -> CaseSpec:
    """Validate plain data into a ``CaseSpec``; every problem is listed with its path."""
    problems: list[tuple[str, str]] = list(cross_problems(data))
    seen = {f"{loc}: {msg}" for loc, msg in problems}
    try:
        case = CaseSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = _loc(err["loc"], data)
            msg = err["msg"].removeprefix("Value error, ")
            for line in msg.split("\n"):
                if line in seen:
                    continue
                if not loc and ": " in line:
                    problems.append(tuple(line.split(": ", 1)))  # type: ignore[arg-type]
                else:
                    problems.append((loc, _friendly(line, err)))
        raise CaseValidationError(source, _dedupe(problems)) from None
    if problems:
        raise CaseValidationError(source, _dedupe(problems))
    return case


def load_case(path: str | Path) -> CaseSpec:
    """Read and validate a case file."""
    return parse_case(read_case_data(path), str(path))


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _friendly(msg: str, err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (not part of the case schema; check the spelling)"
    if err["type"] == "missing":
        return "required field is missing"
    return msg


def _loc(loc: tuple, data: Any) -> str:
    """A readable path; rows of year tables also name their year."""
    out: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            if isinstance(node, list) and 0 <= part < len(node) and isinstance(node[part], dict):
                year = node[part].get("year")
                if year is not None:
                    label = f"[{part}] (year {year})"
            out.append(label)
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        else:
            part_s = str(part)
            if part_s.startswith("function-") or part_s in ("float", "int", "str", "bool"):
                continue
            out.append(("." if out else "") + part_s)
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(out)


def _dedupe(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def write_atomic_dir(out_dir: str | Path, fill: Callable[[Path], None]) -> Path:
    """Write a whole output folder atomically: ``fill`` writes into a temporary sibling folder,
    which replaces ``out_dir`` only when complete. A failure leaves the previous folder intact."""
    out = Path(out_dir).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        fill(tmp)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rmdir(old)
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_plan(plan, out_dir: str | Path, audit: dict[str, Any]) -> Path:
    """Write a plan folder (CSV per table, plan.json, summary.md) atomically."""
    from planner.report import markdown_summary, plan_json

    def fill(tmp: Path) -> None:
        for name in plan.TABLES:
            df = getattr(plan, name)
            df.to_csv(tmp / f"{name}.csv", index=False, float_format="%.6f", lineterminator="\n")
        (tmp / "plan.json").write_text(plan_json(plan, audit), encoding="utf-8")
        (tmp / "summary.md").write_text(markdown_summary(plan), encoding="utf-8")

    return write_atomic_dir(out_dir, fill)
