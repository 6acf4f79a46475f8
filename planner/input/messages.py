"""Readable places and messages of pydantic validation errors in case data."""

from __future__ import annotations

from typing import Any

from planner.input.numbers import quote, read_number


def friendly_message(msg: str, err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key (not part of the case schema; check the spelling)"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):
        return read_number(err["input"])[1] or f"expected a number, got {quote(err['input'])}"
    return msg


def location(loc: tuple, data: Any) -> str:
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
