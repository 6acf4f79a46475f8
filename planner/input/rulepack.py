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
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from planner.errors import CaseValidationError

Confidence = Literal["P", "S", "R", "I", "EDF"]
UNCERTAIN: tuple[str, ...] = ("R", "I", "EDF")
"""Marks whose values a plan must list as assumptions to verify."""

Published = tuple[int, int | None] | Literal["none"]


class RuleParam(BaseModel):
    """One policy parameter with its provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: Any
    unit: str
    years: str
    published: Published
    """The compliance years (vintages) the cited text states the rule for: ``[first, last]``, with
    ``last`` null while the text is in force with no end year; ``none`` where no text states it
    (scenario levers, inferences). A plan that applies the rule to a year outside these is
    extrapolating it: the assumptions table says so and lists the rule among those to verify."""
    source: str
    url: str = ""
    confidence: Confidence
    note: str = ""
    choices: list[Any] | None = None
    range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    """Sane bounds of the value (of every number in it, for a table): overrides outside are refused."""

    def beyond(self, years) -> list[int]:
        """The years of ``years`` outside the published years, sorted."""
        if self.published == "none":
            return sorted(set(years))
        first, last = self.published
        return sorted({y for y in years if y < first or (last is not None and y > last)})

    @property
    def published_text(self) -> str:
        """The published years as text: ``none``, ``2021-`` (no end year), ``2021`` or ``2021-2024``."""
        if self.published == "none":
            return "none"
        first, last = self.published
        return f"{first}-" if last is None else (f"{first}" if first == last else f"{first}-{last}")

    @model_validator(mode="after")
    def _value_in_range(self) -> RuleParam:
        if self.published != "none" and self.published[1] is not None and self.published[1] < self.published[0]:
            raise ValueError(f"published years {list(self.published)} are empty")
        if self.range is not None:
            lo, hi = self.range
            if lo > hi:
                raise ValueError(f"range [{lo}, {hi}] is empty")
            bad = [x for x in _numbers(self.value) if not lo <= x <= hi]
            if bad:
                raise ValueError(f"value {bad[0]} is outside its range [{lo}, {hi}]")
        return self


def _numbers(v: Any) -> list[float]:
    """Every number in a parameter value (nested mappings and lists included; booleans are not numbers)."""
    if isinstance(v, bool):
        return []
    if isinstance(v, int | float):
        return [float(v)]
    if isinstance(v, dict):
        return [x for u in v.values() for x in _numbers(u)]
    if isinstance(v, list):
        return [x for u in v for x in _numbers(u)]
    return []


class SourceSearch(BaseModel):
    """One look for a plan's text: where, what was asked, what came back."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    corpus: str
    query: str
    result: str


class CycleSources(BaseModel):
    """What is known of one allocation plan's text: found, checked, or looked for and not found."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cycle: str
    plan: str
    url: str = ""
    status: str
    searches: list[SourceSearch] = Field(default_factory=list)


class RulePackFile(BaseModel):
    """A rule-pack YAML file as read (``RulePack`` is the loaded pack with a case's overrides)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    version: str
    title: str
    digest: str = ""
    parameters: dict[str, RuleParam]
    sources_by_cycle: list[CycleSources] = Field(default_factory=list)


@dataclass(frozen=True)
class RulePack:
    """A loaded pack with the case's overrides applied."""

    id: str
    version: str
    title: str
    params: dict[str, RuleParam]
    overrides: dict[str, Any] = field(default_factory=dict)
    sources_by_cycle: tuple[CycleSources, ...] = ()

    @property
    def ref(self) -> str:
        """``id@version``: how cases and plans name the pack."""
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
    for f in sorted((Path(__file__).parents[1] / "rulepacks").iterdir()):
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


_PARSED: dict[tuple, RulePackFile] = {}


def _parse_pack(path: Any) -> RulePackFile:
    """Parse a pack file once per process (keyed by path, size and modification time): sweeps
    prepare thousands of variants, and parsing the YAML dominated their preparation."""
    try:
        st = path.stat()
        key: tuple | None = (str(path), st.st_size, st.st_mtime_ns)
    except (AttributeError, OSError):
        key = None
    if key is not None and key in _PARSED:
        return _PARSED[key]
    # libyaml's parser where PyYAML has it (the same safe constructor and resolver: the same data)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = RulePackFile.model_validate(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
    if key is not None:
        _PARSED[key] = data
    return data


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
        data = _parse_pack(versions[ver])
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
    return RulePack(data.id, data.version, data.title, dict(data.parameters), overrides, tuple(data.sources_by_cycle))


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
        if p.unit.startswith("share") and value > 1:
            return f"expected a share between 0 and 1 ({p.unit}), got {value}"
        if p.range and not (p.range[0] <= value <= p.range[1]):
            return f"expected a value in [{p.range[0]:g}, {p.range[1]:g}] ({p.unit}), got {value:g}"
        if _is_year_unit(p.unit) and (isinstance(value, float) and not value.is_integer() or not 2013 <= value <= 2100):
            return f"expected a year between 2013 and 2100, got {value}"
    elif isinstance(default, str):
        if not isinstance(value, str):
            return f"expected text, got {value!r}"
    elif isinstance(default, dict):
        if not isinstance(value, dict):
            return f"expected a mapping like the pack's, got {value!r}"
        got = _shape_problem(default, value, "")
        if got is None and p.range:
            bad = [x for x in _numbers(value) if not p.range[0] <= x <= p.range[1]]
            if bad:
                return f"expected every value in [{p.range[0]:g}, {p.range[1]:g}] ({p.unit}), got {bad[0]:g}"
        return got
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


CONFIDENCE_TEXT: dict[str, str] = {
    "P": "confirmed from official text (or a verbatim mirror)",
    "S": "confirmed from a secondary source (ICAP, Caixin, ClearBlue, IKI, exchange data)",
    "R": "recalled from official text or background knowledge, not re-read: verify before relying on it",
    "I": "inferred from other rules, no text found",
    "EDF": "stated in the EDF 2025 report, not confirmed independently",
}


def _value_text(v: Any) -> str:
    """A parameter value on one line: tables as ``key: value`` pairs, lists comma-separated."""
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_value_text(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(("{" + _value_text(x) + "}") if isinstance(x, dict) else _value_text(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def reference_markdown(pack: RulePack) -> str:
    """The pack as a Markdown reference: one table per topic (the key's first part), one row per
    parameter with value, unit, years, confidence, source (linked) and note. ``docs/rulepack.md`` is
    this text for the newest pack (``planner rulepack --markdown``); a test fails when it is stale."""
    lines = [
        f"# Rule pack `{pack.ref}`",
        "",
        f"{pack.title}. Generated from `planner/rulepacks/{pack.ref}.yaml` by `planner rulepack --markdown`;",
        "do not edit by hand. Every parameter can be overridden per case under `policy.overrides`",
        "(dotted key, same shape). A plan lists each parameter it used whose confidence is R, I or EDF,",
        "and each it applied to a year outside the years its source was published for (\"published for\":",
        "compliance years or vintages; an open end means in force with no end year; none means no text states",
        "it, as for scenario levers).",
        "",
        "Confidence marks (from `shared/domain/rules.md`):",
        "",
        *[f"- **{k}**: {t}" for k, t in CONFIDENCE_TEXT.items()],
    ]
    counts = {c: sum(p.confidence == c for p in pack.params.values()) for c in CONFIDENCE_TEXT}
    lines += ["", f"{len(pack.params)} parameters: " + ", ".join(f"{n} {c}" for c, n in counts.items() if n) + "."]
    topic = None
    for key in sorted(pack.params):
        p = pack.params[key]
        head = key.split(".", 1)[0]
        if head != topic:
            topic = head
            lines += ["", f"## `{head}`", "", "| parameter | value | unit | years | published for | conf. | source | note |",
                      "|---|---|---|---|---|---|---|---|"]
        value = _value_text(p.value)
        if p.choices is not None:
            value += f" (one of: {', '.join(map(str, p.choices))})"
        if p.range is not None:
            value += f" (range {p.range[0]:g} to {p.range[1]:g})"
        source = f"[{_cell(p.source)}]({p.url})" if p.url else _cell(p.source)
        lines.append(
            f"| `{key}` | {_cell(value)} | {_cell(p.unit)} | {_cell(p.years)} | {p.published_text} | {p.confidence} | {source} | {_cell(p.note)} |"
        )
    lines += _sources_markdown(pack)
    return "\n".join(lines) + "\n"


def _sources_markdown(pack: RulePack) -> list[str]:
    """The pack's ``sources_by_cycle``: per allocation plan, what of its text was found and checked, and
    what was looked for and not found (with the queries tried), so a reader knows which marks can move."""
    if not pack.sources_by_cycle:
        return []
    lines = ["", "## Sources by cycle", "",
             "Per allocation plan: the text found and checked, and what was looked for and not found. The",
             "parameters of a cycle end in its name (`relief.mechanism.supply_2019_2020`, ...).", ""]
    for c in pack.sources_by_cycle:
        where = f"[{c.plan}]({c.url})" if c.url else c.plan
        lines += [f"### `{c.cycle}`", "", f"{where}", "", c.status.strip()]
        if c.searches:
            lines += ["", "| corpus | query | result |", "|---|---|---|"]
            lines += [f"| {s.corpus} | {_cell(s.query)} | {_cell(s.result)} |" for s in c.searches]
        lines.append("")
    return lines[:-1]
def pack_file_sha256(ref: str) -> str | None:
    """SHA-256 of the file of a pack reference ``id@version`` (for the audit record)."""
    import hashlib

    pid, _, ver = ref.partition("@")
    f = dict(_pack_files().get(pid, [])).get(ver)
    return hashlib.sha256(Path(f).read_bytes()).hexdigest() if f else None
