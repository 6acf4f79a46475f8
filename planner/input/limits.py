"""Limits on the work a small input can ask for, checked before the work starts.

A few kilobytes of input can ask for hours of work or all the memory of the machine: a workbook
cell a million rows down, compressed text that expands a thousandfold, a sweep grid whose product is
in the millions, tens of thousands of measures. Each limit is far above what a real case needs; a
case over one is refused (exit 1) with a message that gives the size, the limit and how to raise it:
the environment variable ``PLANNER_LIMIT_<NAME>`` (e.g. ``PLANNER_LIMIT_SCENARIOS=2000000``).
docs/hardening.md lists them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from planner.errors import CaseValidationError


@dataclass(frozen=True)
class Limit:
    """One limit: its name (``PLANNER_LIMIT_<NAME>``), its default and what it counts."""

    name: str
    default: int
    what: str


LIMITS: dict[str, Limit] = {
    lim.name: lim
    for lim in (
        Limit("case_bytes", 5_000_000, "bytes of a case or sweep file (YAML, JSON, .xlsx)"),
        Limit("table_bytes", 20_000_000, "bytes of an entity table file (CSV or .xlsx)"),
        Limit("table_rows", 100_000, "rows of an entity table or of a workbook sheet (its used range)"),
        Limit("table_columns", 200, "columns of a workbook sheet (its used range) or fields of a CSV row"),
        Limit("workbook_unpacked_bytes", 50_000_000, "bytes of a workbook's parts once uncompressed"),
        Limit("workbook_parts", 1_000, "parts (files) inside a workbook"),
        Limit("measures", 1_000, "abatement measures of one entity"),
        Limit("projects", 200, "abatement projects of one entity"),
        Limit("units", 100, "units of one entity"),
        Limit("ccer_lots", 1_000, "CCER lots held by one entity"),
        Limit("entities", 5_000, "entities of a group case"),
        Limit("scenarios", 100_000, "scenarios of a sweep"),
        Limit("sweep_paths", 1_000, "different override paths in a sweep file"),
        Limit("workers", 256, "worker processes of a sweep (--workers)"),
    )
}


def env_name(name: str) -> str:
    """The environment variable that sets limit ``name``."""
    return f"PLANNER_LIMIT_{name.upper()}"


def limit(name: str) -> int:
    """The limit ``name``: its default, or the whole number in ``PLANNER_LIMIT_<NAME>``."""
    lim = LIMITS[name]
    raw = os.environ.get(env_name(name))
    if raw is None or not raw.strip():
        return lim.default
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise CaseValidationError(
            "environment", [(env_name(name), f"expected a whole number of {lim.what} (1 or more), got {raw[:30]!r}")]
        )
    return value


def over(name: str, size: int, what: str | None = None) -> str | None:
    """None when ``size`` is within limit ``name``; else the problem: the size, the limit and how to raise it."""
    n = limit(name)
    if size <= n:
        return None
    return (f"{what or LIMITS[name].what}: {size:,}; the limit is {n:,} "
            f"(to allow more, set the environment variable {env_name(name)}={size})")
