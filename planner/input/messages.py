"""Readable places and messages of pydantic validation errors in case data."""

from __future__ import annotations

from typing import Any

from planner.input.numbers import quote, read_number


def friendly_message(msg: str, err: dict, model: Any = None) -> str:
    """A pydantic problem as people read it: the offending value quoted, the likely fix said
    (``model``: the schema the data was validated against, for did-you-mean; default the case's)."""
    from planner.input.hints import did_you_mean, share_hint

    if err["type"] == "extra_forbidden":
        if model is None:
            from planner.input.schema import CaseSpec

            model = CaseSpec
        key = err["loc"][-1] if err["loc"] else None
        hint = did_you_mean(key, fields_at(model, err["loc"][:-1]))
        return f"unknown key (not part of the case schema{hint or '; check the spelling'})"
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):
        return read_number(err["input"])[1] or f"expected a number, got {quote(err['input'])}"
    value = err.get("input")
    if err["type"] in ("less_than_equal", "less_than", "greater_than_equal", "greater_than") and isinstance(value, int | float):
        upper = (err.get("ctx") or {}).get("le", (err.get("ctx") or {}).get("lt"))
        hint = share_hint(value, float(upper)) if isinstance(upper, int | float) else ""
        return f"{msg}, got {value:g}{hint}"
    return msg


def fields_at(model: Any, loc: tuple) -> list[str]:
    """The field names of the model found at ``loc`` (a pydantic error's location) inside ``model``:
    the keys that were allowed where an unknown one was given; [] when the walk finds no model."""
    import typing

    from pydantic import BaseModel

    def members(t: Any) -> list[Any]:
        origin = typing.get_origin(t)
        if origin is typing.Annotated:
            return members(typing.get_args(t)[0])
        if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            return [m for a in typing.get_args(t) for m in members(a)]
        return [t]

    cur = [model]
    for part in loc:
        nxt: list[Any] = []
        for t in (m for c in cur for m in members(c)):
            origin = typing.get_origin(t)
            if isinstance(part, int) and origin in (list, tuple):
                nxt += members(typing.get_args(t)[0])
            elif isinstance(part, str) and origin is dict:
                nxt += members(typing.get_args(t)[1])
            elif isinstance(part, str) and isinstance(t, type) and issubclass(t, BaseModel):
                f = t.model_fields.get(part)
                if f is not None:
                    nxt += members(f.annotation)
                else:
                    nxt.append(t)  # a union member's tag in the location, not a field
        cur = nxt or cur
    return sorted({k for t in cur for m in members(t) if isinstance(m, type) and issubclass(m, BaseModel)
                   for k in m.model_fields})


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
