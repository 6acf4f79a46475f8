"""Rule packs: versioned policy parameters with their sources and confidence marks.

A pack is a YAML file in ``planner/rulepacks`` named ``<id>@<version>.yaml``. A case names a pack
(``cn-national`` = its newest version, or ``cn-national@2026.11``) and may override any parameter;
the plan lists the pack version, the overrides and every uncertain parameter it relied on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from planner.errors import CaseValidationError

Confidence = Literal["P", "S", "R", "I", "EDF"]
UNCERTAIN: tuple[str, ...] = ("R", "I", "EDF")
"""Marks whose values a plan must list as assumptions to verify."""


class RuleParam(BaseModel):
    """One policy parameter with its provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Any
    unit: str
    years: str
    source: str
    url: str = ""
    confidence: Confidence
    note: str = ""
    choices: list[Any] | None = None
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None


class RulePackFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    version: str
    title: str
    digest: str = ""
    parameters: dict[str, RuleParam]


@dataclass(frozen=True)
class RulePack:
    """A loaded pack with the case's overrides applied."""

    id: str
    version: str
    title: str
    params: dict[str, RuleParam]
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def __getitem__(self, key: str) -> Any:
        if key in self.overrides:
            return self.overrides[key]
        return self.params[key].value

    def used(self, key: str) -> tuple[Any, RuleParam, bool]:
        """(value in force, parameter, overridden?)."""
        return self[key], self.params[key], key in self.overrides


def _pack_files() -> dict[str, list[tuple[str, Any]]]:
    packs: dict[str, list[tuple[str, Any]]] = {}
    for f in sorted((Path(__file__).parent / "rulepacks").iterdir()):
        name = f.name
        if name.endswith(".yaml") and "@" in name:
            pid, ver = name[: -len(".yaml")].split("@", 1)
            packs.setdefault(pid, []).append((ver, f))
    return packs


def _version_key(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in v.split("."))


def available_packs() -> list[str]:
    """Every pack reference that can be named in a case."""
    return sorted(f"{pid}@{v}" for pid, vs in _pack_files().items() for v, _ in vs)


def load_rule_pack(ref: str, overrides: dict[str, Any] | None = None) -> RulePack:
    """Load pack ``ref`` (``id`` or ``id@version``) and apply ``overrides`` (validated)."""
    packs = _pack_files()
    pid, _, ver = ref.partition("@")
    if pid not in packs:
        raise CaseValidationError(
            "policy.rule_pack", [("policy.rule_pack", f"unknown rule pack {ref!r}; available: {available_packs()}")]
        )
    versions = dict(packs[pid])
    if not ver:
        ver = max(versions, key=_version_key)
    if ver not in versions:
        raise CaseValidationError(
            "policy.rule_pack",
            [("policy.rule_pack", f"rule pack {pid!r} has no version {ver!r}; available: {sorted(versions)}")],
        )
    try:
        data = RulePackFile.model_validate(yaml.safe_load(versions[ver].read_text(encoding="utf-8")))
    except ValidationError as exc:  # a broken pack is a packaging defect, reported plainly
        raise CaseValidationError(
            f"rule pack {pid}@{ver}", [(".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        ) from exc
    overrides = dict(overrides or {})
    problems = [
        (f"policy.overrides.{k}", msg)
        for k, v in overrides.items()
        if (msg := _check_override(data.parameters.get(k), k, v))
    ]
    if problems:
        raise CaseValidationError("policy.overrides", problems)
    return RulePack(data.id, data.version, data.title, dict(data.parameters), overrides)


def _check_override(p: RuleParam | None, key: str, value: Any) -> str | None:
    if p is None:
        return f"{key!r} is not a parameter of the rule pack"
    default = p.value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            return f"expected true or false, got {value!r}"
    elif isinstance(default, int | float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {value!r}"
        if value != value or value in (float("inf"), float("-inf")):
            return "expected a finite number"
        if value < 0:
            return f"expected a non-negative number, got {value}"
        if p.range and not (p.range[0] <= value <= p.range[1]):
            return f"expected a value in [{p.range[0]}, {p.range[1]}] ({p.source}), got {value}"
        if p.unit.startswith("share") and value > 1:
            return f"expected a share between 0 and 1 ({p.unit}), got {value}"
        if _is_year_unit(p.unit) and (isinstance(value, float) and not value.is_integer() or not 2013 <= value <= 2100):
            return f"expected a year between 2013 and 2100, got {value}"
    elif isinstance(default, str):
        if not isinstance(value, str):
            return f"expected text, got {value!r}"
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            return f"expected a mapping like the pack's, got {value!r}"
        return _shape_problem(default, value, "")
    elif isinstance(default, list):
        if not isinstance(value, list):
            return f"expected a list like the pack's, got {value!r}"
        return _list_problem(default, value)
    if p.choices is not None and value not in p.choices:
        return f"expected one of {p.choices}, got {value!r}"
    return None


def _is_year_unit(unit: str) -> bool:
    """Units that name a calendar year ("vintage year", "first capped vintage"), not a rate per year."""
    return "per year" not in unit and (unit.endswith(" year") or unit.endswith(" vintage"))


def _list_problem(default: list, value: list) -> str | None:
    """A list override has the pack's element kind: years where the pack lists years, mappings with
    the pack's keys where it lists mappings (e.g. allocation cycles)."""
    if not default:
        return None
    sample = default[0]
    for i, v in enumerate(value):
        if isinstance(sample, int) and not isinstance(sample, bool):
            if isinstance(v, bool) or not isinstance(v, int) or not 2013 <= v <= 2100:
                return f"[{i}]: expected a year, got {v!r}"
        elif isinstance(sample, dict):
            if not isinstance(v, dict):
                return f"[{i}]: expected a mapping like the pack's, got {v!r}"
            if unknown := sorted(set(map(str, v)) - set(map(str, sample))):
                return f"[{i}]: unknown keys {unknown}; expected keys of {sorted(sample)}"
        elif not isinstance(v, type(sample)):
            return f"[{i}]: expected {type(sample).__name__}, got {v!r}"
    return None


def _shape_problem(default: dict, value: dict, path: str) -> str | None:
    """A mapping override must have the pack's shape: year keys where the pack has years, tables where
    it has tables, finite non-negative numbers where it has numbers (e.g. a benchmark table)."""
    sample = next(iter(default.values()), None)
    years = bool(default) and all(isinstance(k, int) for k in default)
    for k, v in value.items():
        here = f"{path}.{k}" if path else str(k)
        if years and (isinstance(k, bool) or not str(k).strip().isdigit() or not 2013 <= int(k) <= 2100):
            return f"{here}: expected a year as the key, got {k!r}"
        if isinstance(sample, dict):
            if not isinstance(v, dict):
                return f"{here}: expected a mapping like the pack's, got {v!r}"
            got = _shape_problem(sample, v, here)
            if got:
                return got
        elif isinstance(sample, int | float) and not isinstance(sample, bool):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                return f"{here}: expected a finite non-negative number, got {v!r}"
    return None


def pack_file_sha256(ref: str) -> str | None:
    """SHA-256 of the file of a pack reference ``id@version`` (for the audit record)."""
    import hashlib

    pid, _, ver = ref.partition("@")
    f = dict(_pack_files().get(pid, [])).get(ver)
    return hashlib.sha256(Path(f).read_bytes()).hexdigest() if f else None
