"""Safe YAML for case files: PyYAML's safe loader with YAML 1.2 core scalars and limits, and the
check that every text of a case can be written to a plan.

``load_yaml`` is what every reader of YAML text in the planner uses (case files, text cells of a
case workbook); a problem is a ``CaseValidationError`` naming the file, line and column.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from planner.errors import CaseValidationError
from planner.input.numbers import BOOL, FLOAT, INT, NULL, SPECIAL, ambiguity

MAX_DEPTH = 32
"""Deepest nesting of lists and mappings a case file may have (a real case needs about 5)."""
MAX_NODES = 200_000
"""Most values (scalars, lists, mappings) a case file may expand to, every alias use counted in full."""

_AMBIGUOUS = "tag:cn-ets-planner,2026:ambiguous"
"""The tag of plain scalars that YAML 1.1 and YAML 1.2 read differently (refused when built)."""
_TAG = "tag:yaml.org,2002:"


def key_identity(key: Any) -> Any:
    """What a mapping key means once validated: ``2024``, ``'2024'`` and ``2024.0`` are one year,
    so two of them in one mapping are the same key given twice."""
    if isinstance(key, bool) or key is None:
        return key
    if isinstance(key, float) and math.isfinite(key) and key.is_integer():
        return int(key)
    if isinstance(key, str) and INT.fullmatch(key.strip()):
        return int(key.strip())
    return key


class _CaseLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python objects) with YAML 1.2 core scalars and limits: nesting
    depth, expanded size (so that aliases cannot multiply a small file into a huge one: "billion
    laughs"), no recursive aliases, no duplicate keys (``2024`` and ``'2024'`` included).

    Plain scalars resolve as YAML 1.2's core schema does (``6e0`` is a number; ``yes``, ``on``,
    ``1:30`` and ``1_000`` are not numbers or booleans); those that YAML 1.1 reads differently are
    refused with the value quoted (``planner.input.numbers.ambiguity``), never guessed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0
        self._open_anchors: list[str] = []
        self._size: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, height)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:  # a plain (unquoted, untagged) scalar
            if value == "<<":
                return _TAG + "merge"
            if NULL.fullmatch(value):
                return _TAG + "null"
            if BOOL.fullmatch(value):
                return _TAG + "bool"
            if ambiguity(value) is not None:
                return _AMBIGUOUS
            if INT.fullmatch(value):
                return _TAG + "int"
            if FLOAT.fullmatch(value) or SPECIAL.fullmatch(value):
                return _TAG + "float"
            return _TAG + "str"
        return super().resolve(kind, value, implicit)

    def _measure(self, node: yaml.Node) -> tuple[int, int]:
        """(expanded node count, height) of a composed node, shared sub-nodes counted at every use."""
        got = self._size.get(id(node))
        if got is None:
            children: list[yaml.Node] = []
            if isinstance(node, yaml.SequenceNode):
                children = list(node.value)
            elif isinstance(node, yaml.MappingNode):
                children = [n for pair in node.value for n in pair]
            sizes = [self._measure(c) for c in children]
            got = (1 + sum(n for n, _ in sizes), 1 + max((h for _, h in sizes), default=0))
            self._size[id(node)] = got
        return got

    def _limit(self, problem: str, mark: Any) -> yaml.composer.ComposerError:
        return _LimitError(None, None, problem, mark)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self._open_anchors:
                raise self._limit(f"alias *{event.anchor} refers to a value that contains it", event.start_mark)
            node = super().compose_node(parent, index)
            count, height = self._measure(node)
            self._nodes += count
            if self._depth + height > MAX_DEPTH:
                raise self._limit(f"alias *{event.anchor} nests values deeper than {MAX_DEPTH} levels", event.start_mark)
        else:
            self._nodes += 1
            if self._depth + 1 > MAX_DEPTH:
                raise self._limit(f"values nested deeper than {MAX_DEPTH} levels", event.start_mark)
            self._depth += 1
            if event.anchor is not None:
                self._open_anchors.append(event.anchor)
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
                if event.anchor is not None:
                    self._open_anchors.pop()
        if self._nodes > MAX_NODES:
            raise self._limit(
                f"the file expands to more than {MAX_NODES:,} values (aliases counted at every use)",
                event.start_mark,
            )
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, tuple[Any, Any]] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _TAG + "merge":
                    continue
                key = self.construct_object(key_node)
                try:
                    ident = key_identity(key)
                    first = seen.get(ident)
                except TypeError:  # an unhashable key: PyYAML reports it below
                    continue
                if first is not None:
                    same = "" if first[0] == key and type(first[0]) is type(key) else f" (the same as {first[0]!r})"
                    raise yaml.constructor.ConstructorError(
                        None, None,
                        f"duplicate key {key!r}{same} (first at line {first[1].line + 1})",
                        key_node.start_mark,
                    )
                seen[ident] = (key, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's scalar constructors raise plain Python errors on values they cannot build
        (``!!int abc``, ``!!timestamp x``); report those with their line."""
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            what = f"{node.value!r}" if isinstance(node, yaml.ScalarNode) else "this value"
            tag = node.tag.removeprefix(_TAG)
            raise yaml.constructor.ConstructorError(
                None, None, f"{shorten(what)} is not a valid {tag} ({exc})", node.start_mark
            ) from None

    def _ambiguous(self, node: yaml.ScalarNode) -> Any:
        raise _AmbiguousError(None, None, ambiguity(node.value) or node.value, node.start_mark)

    def _int(self, node: yaml.ScalarNode) -> int:
        text = self.construct_scalar(node)
        if not INT.fullmatch(text):
            raise ValueError("expected a decimal whole number")
        return int(text)

    def _float(self, node: yaml.ScalarNode) -> float:
        text = self.construct_scalar(node)
        if SPECIAL.fullmatch(text):
            return float(text.replace(".", "", 1))
        if not FLOAT.fullmatch(text):
            raise ValueError("expected a decimal number")
        return float(text)


_CaseLoader.add_constructor(_AMBIGUOUS, _CaseLoader._ambiguous)
_CaseLoader.add_constructor(_TAG + "int", _CaseLoader._int)
_CaseLoader.add_constructor(_TAG + "float", _CaseLoader._float)


def shorten(s: str, n: int = 60) -> str:
    """``s`` cut to at most ``n`` characters, ending in ``...`` when cut (for messages)."""
    return s if len(s) <= n else s[: n - 3] + "..."


class _LimitError(yaml.composer.ComposerError):
    """A case file over one of the reader's limits (depth, expanded size, recursive alias)."""


class _AmbiguousError(yaml.constructor.ConstructorError):
    """A plain scalar that YAML 1.1 and YAML 1.2 read differently."""


def load_yaml(text: str, src: str) -> Any:
    """The data of YAML text ``text`` through the case loader (limits, YAML 1.1/1.2 ambiguities,
    text that cannot be written); every problem is a ``CaseValidationError`` naming ``src``."""
    try:
        data = yaml.load(text, Loader=_CaseLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        kind = ("not a usable case file" if isinstance(exc, _LimitError)
                else "ambiguous value" if isinstance(exc, _AmbiguousError) else "not valid YAML")
        raise CaseValidationError(src, [(where, f"{kind}: {problem}")]) from None
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        # a value PyYAML resolves but cannot build, outside construct_object (a safety net)
        raise CaseValidationError(src, [("", f"not valid YAML: {type(exc).__name__}: {shorten(str(exc))}")]) from None
    bad = data_text_problem(data)
    if bad:
        raise CaseValidationError(src, [bad])
    return data


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters (tab, line feed and carriage return aside): in a name printed to a terminal
they are commands to it (escape sequences), in a CSV file a NUL ends many readers' lines."""


def text_problem(text: str) -> str | None:
    """Why a text from an input file cannot go into a plan, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate such as \\udc80); it cannot be written to a plan"
    m = _CONTROL.search(text)
    if m:
        return f"holds the control character U+{ord(m.group()):04X} (at character {m.start() + 1}); remove it"
    return None


def data_text_problem(data: Any) -> tuple[str, str] | None:
    r"""The first text (key or value) that cannot be written to a plan or printed safely
    (``text_problem``: a lone surrogate, which YAML and JSON escapes such as ``\udc80`` produce; a
    control character), with its path; None if there is none."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                if isinstance(k, str) and (why := text_problem(k)):
                    return (path, f"a key: {why}")
                stack.append((v, f"{path}.{k}" if path else str(k)))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
        elif isinstance(node, str) and (why := text_problem(node)):
            return (path, why)
    return None
