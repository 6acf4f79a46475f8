"""One reader of numbers for every input: YAML plain scalars, JSON, workbook cells and CSV cells.

The grammar is YAML 1.2's core schema, decimal only: ``[-+]?[0-9]+`` is an integer and
``[-+]?(.[0-9]+|[0-9]+(.[0-9]*)?)([eE][-+]?[0-9]+)?`` a float (so ``6e0`` is the number 6). Text that
YAML 1.1 readers (PyYAML, many spreadsheets' exports) read differently from YAML 1.2 is ambiguous and
refused with the value quoted, never guessed: a leading zero (``017``: octal 15 or 17?), base 60
(``1:30``), digit separators (``1_000``, ``83,5``: 835 or 83.5?), ``0o``/``0x``/``0b`` numbers and
``yes``/``no``/``on``/``off``. A date (``2021-06-30``) is text, as in YAML 1.2: the fields that take a
date (a CCER lot's ``project_start``) read it from that text, and any other field refuses it as text.
"""

from __future__ import annotations

import math
import re
from typing import Any

INT = re.compile(r"[-+]?[0-9]+")
FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
SPECIAL = re.compile(r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
NULL = re.compile(r"~|null|Null|NULL|")
BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
BOOL_11 = re.compile(r"yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF")
"""Booleans of YAML 1.1 that YAML 1.2 reads as text."""
NUMBERISH = re.compile(r"[-+]?(?:0[xob][0-9a-fA-F_]+|[0-9][0-9_,:]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9][0-9_]*)")
"""Text that some reader takes for a number: what the ambiguity check looks at."""


def ambiguity(text: str, *, cell: bool = False) -> str | None:
    """Why ``text`` cannot be read safely, or None. A plain YAML scalar (``cell=False``) is ambiguous
    when YAML 1.1 and YAML 1.2 read it differently; a cell's text where a number is expected
    (``cell=True``) also when it has a comma (83,5: 835 or 83.5?)."""
    t = text.strip()
    if not cell and BOOL_11.fullmatch(t):
        return f"{quote(t)} is true/false in YAML 1.1 but text in YAML 1.2: write true or false, or quote it for text"
    if not NUMBERISH.fullmatch(t):
        return None
    body = t.lstrip("+-")
    if body[:2].lower() in ("0x", "0o", "0b"):
        return f"{quote(t)} is not a decimal number: write it in decimal, or quote it for text"
    if "," in body:
        if not cell:
            return None  # text in both YAML versions
        return (f"{quote(t)} has a comma: a decimal comma (83,5 = 83.5) or a thousands separator (1,000 = 1000)? "
                "write the number with a decimal point and no separators")
    if "_" in body:
        return f"{quote(t)} has digit separators '_' (YAML 1.1 drops them, YAML 1.2 reads text): write the digits only"
    if ":" in body:
        if cell:
            return f"{quote(t)} is a time, not a number"
        return f"{quote(t)} is a base-60 number in YAML 1.1 but text in YAML 1.2: quote it for text"
    if not cell and INT.fullmatch(t) and len(body) > 1 and body[0] == "0":
        return (f"{quote(t)} has a leading zero: YAML 1.1 reads it as an octal number, YAML 1.2 as "
                f"{int(t)}: write {int(t)}, or quote it for text")
    return None


def parse_number(text: str) -> int | float | None:
    """The number ``text`` spells in the decimal YAML 1.2 grammar (surrounding blanks allowed), or
    None. Infinite and NaN spellings (``.inf``, ``nan``) and numbers too large for a float are None:
    no input field takes them."""
    t = text.strip()
    if INT.fullmatch(t):
        try:
            n = int(t)
        except ValueError:  # more digits than Python converts
            return None
        return n if abs(n) < 1e300 else None
    if FLOAT.fullmatch(t):
        x = float(t)
        return x if math.isfinite(x) else None
    return None


def read_number(value: Any, integer: bool = False) -> tuple[int | float | None, str | None]:
    """A cell's or a field's value as a number: (number, None), or (None, the problem quoting the value).

    Numbers pass (finite ones); text must spell a number in the grammar above; ``integer``: the
    number must be whole (a year)."""
    if isinstance(value, bool):
        return None, f"expected a number, got {'TRUE' if value else 'FALSE'}"
    if isinstance(value, int | float):
        x: int | float = value
        if not math.isfinite(x):
            return None, f"expected a finite number, got {value!r}"
    elif isinstance(value, str):
        why = ambiguity(value, cell=True)
        if why is not None:
            return None, why
        n = parse_number(value)
        if n is None:
            from planner.input.hints import unit_hint

            return None, f"expected a number, got {quote(value)}{unit_hint(value)}"
        x = n
    else:
        return None, f"expected a number, got {type(value).__name__}"
    if integer:
        if float(x) != int(x):
            return None, f"expected a whole number, got {value!r}"
        return int(x), None
    return x, None


QUOTE_CHARS = 40
"""Longest text an error message quotes from an input file."""


def quote(text: Any, n: int = QUOTE_CHARS) -> str:
    """``text`` quoted for an error message when it is short printable text; otherwise only its
    length (messages never echo long or binary content of a file: a table reference that points at
    the wrong file must not print what that file holds)."""
    s = str(text)
    if len(s) <= n and s.isprintable():
        return repr(s)
    return f"(a text of {len(s):,} characters)"
