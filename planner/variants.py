"""Sweep specifications: explicit variants, grids, one-at-a-time ranges and seeded price paths.

A variant is a scenario id and a dict of dotted-path overrides of the base case (``CaseSpec.with_overrides``
paths; ``*`` in place of a year selects every row of a year table, e.g.
``market.*.cea_buy_cny_per_t``). Every variant is re-validated through the case schema before it is
solved (``validate_variants``); an invalid one is an input error naming the scenario and the path.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from planner.errors import CaseValidationError
from planner.schema import YEAR_TABLES, CaseSpec, PlannerModel, set_path


class ScenarioSpec(PlannerModel):
    """One named variant."""

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
    overrides: dict[str, Any] = Field(default_factory=dict)
    probability: Annotated[float, Field(gt=0, le=1)] | None = None
    """Probability of the scenario in a stochastic plan (explicit scenarios only)."""


class PricePathSpec(PlannerModel):
    """Seeded geometric random walks around the base case's price path (one factor per year)."""

    n: Annotated[int, Field(ge=1, le=1_000_000)]
    seed: int = 0
    volatility: Annotated[float, Field(gt=0, le=5)]
    """Annual log-price volatility; ``planner.sweepio.price_volatility`` computes it from a price history."""
    fields: list[
        Literal[
            "cea_buy_cny_per_t",
            "cea_sell_cny_per_t",
            "ccer_cny_per_t",
            "ccer_sell_cny_per_t",
            "penalty_reference_cny_per_t",
        ]
    ] = Field(default_factory=lambda: ["cea_buy_cny_per_t", "cea_sell_cny_per_t"])
    """Market fields multiplied by the path's factor (where the base case gives them)."""
    anchor_first_year: bool = True
    """Keep the first compliance year at the base price (it is traded now); the walk starts after it."""
    decimals: Annotated[int, Field(ge=0, le=6)] = 2


class SweepSpec(PlannerModel):
    """What to sweep. Variants are the union of: the base case, ``scenarios``, the product of
    ``grid``, the low/high ends of ``tornado`` (one at a time) and ``price_paths``."""

    name: str = "sweep"
    include_base: bool = True
    scenarios: list[ScenarioSpec] = Field(default_factory=list)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    """Dotted path -> values; every combination is one variant."""
    tornado: dict[str, Annotated[list[Any], Field(min_length=2, max_length=2)]] = Field(
        default_factory=dict
    )
    """Dotted path -> [low, high]: two variants per path, the others at base."""
    price_paths: PricePathSpec | None = None
    plots: bool = True
    tables: Literal["plan", "fast"] = "plan"
    """plan: every scenario a full plan through the independent checker; fast: ledger rows from a
    compiled linear map of the solution (one scenario per chunk planned, checked and compared)."""


@dataclass(frozen=True)
class Variant:
    id: str
    overrides: dict[str, Any]
    kind: str = "scenario"
    """base | scenario | grid | tornado | price_path"""
    probability: float | None = None
    tags: dict[str, Any] = field(default_factory=dict)


def expand_paths(case: CaseSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """Replace ``*`` year segments by one path per row of that year table."""
    out: dict[str, Any] = {}
    raw: dict | None = None
    for path, value in overrides.items():
        parts = path.split(".")
        if "*" not in parts:
            out[path] = value
            continue
        i = parts.index("*")
        if i == 0 or parts[i - 1] not in YEAR_TABLES:
            raise CaseValidationError(
                "<sweep>",
                [
                    (
                        path,
                        f"'*' stands for the years of a year table ({', '.join(sorted(YEAR_TABLES))})",
                    )
                ],
            )
        raw = raw if raw is not None else case.model_dump(mode="python")
        node: Any = raw
        for p in parts[:i]:
            node = node.get(p) if isinstance(node, dict) else None
        if not isinstance(node, list):
            raise CaseValidationError(
                "<sweep>", [(path, f"{'.'.join(parts[:i])} is not a table of the case")]
            )
        for row in node:
            out[".".join(parts[:i] + [str(row["year"])] + parts[i + 1 :])] = value
    return out


def price_path_factors(years: list[int], spec: PricePathSpec) -> list[list[float]]:
    """``spec.n`` seeded paths of multiplicative factors (mean 1 in every year): a driftless
    geometric random walk, ``f_t = f_{t-1} exp(sigma z_t - sigma^2 / 2)``."""
    rng = random.Random(spec.seed)
    s = spec.volatility
    paths = []
    for _ in range(spec.n):
        f, row = 1.0, []
        for i, _y in enumerate(years):
            if i > 0 or not spec.anchor_first_year:
                f *= math.exp(s * rng.gauss(0.0, 1.0) - 0.5 * s * s)
            row.append(f)
        paths.append(row)
    return paths


def generate(case: CaseSpec, spec: SweepSpec) -> list[Variant]:
    """All variants of a sweep, in a deterministic order with unique ids."""
    out: list[Variant] = []
    if spec.include_base:
        out.append(Variant("base", {}, "base"))
    for s in spec.scenarios:
        out.append(Variant(s.id, dict(s.overrides), "scenario", s.probability))
    if spec.grid:
        keys = list(spec.grid)
        for i, combo in enumerate(itertools.product(*(spec.grid[k] for k in keys))):
            ov = dict(zip(keys, combo, strict=True))
            out.append(Variant(f"grid-{i:05d}", ov, "grid", tags={"grid": ov}))
    for k, (lo, hi) in spec.tornado.items():
        for end, v in (("low", lo), ("high", hi)):
            out.append(
                Variant(f"tornado-{k}-{end}", {k: v}, "tornado", tags={"parameter": k, "end": end})
            )
    if spec.price_paths is not None:
        pp = spec.price_paths
        market = {r.year: r for r in case.market}
        factors = price_path_factors(case.years, pp)
        for i, fs in enumerate(factors):
            ov: dict[str, Any] = {}
            for y, f in zip(case.years, fs, strict=True):
                for fld in pp.fields:
                    base = getattr(market[y], fld)
                    if base is not None:
                        ov[f"market.{y}.{fld}"] = round(base * f, pp.decimals)
            out.append(Variant(f"path-{i:05d}", ov, "price_path", 1.0 / pp.n, tags={"path": i}))
    ids = [v.id for v in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise CaseValidationError("<sweep>", [("scenarios", f"duplicate scenario ids {dup}")])
    return out


def variant_case(case: CaseSpec, v: Variant) -> CaseSpec:
    """The variant's case, re-validated through the schema; errors name the scenario and the path."""
    from planner.io import parse_case

    raw = case.model_dump(mode="python")
    try:
        for path, value in expand_paths(case, v.overrides).items():
            set_path(raw, path, value)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise CaseValidationError("<sweep>", [(f"scenario {v.id}", f"cannot apply overrides: {msg}")]) from None
    try:
        return parse_case(raw, f"scenario {v.id}")
    except CaseValidationError as exc:
        raise CaseValidationError("<sweep>", [(f"scenario {v.id}: {loc}", msg) for loc, msg in exc.problems]) from None


def validate_variants(case: CaseSpec, variants: list[Variant]) -> None:
    """Re-validate every variant; raise one error listing every invalid scenario."""
    problems: list[tuple[str, str]] = []
    for v in variants:
        try:
            variant_case(case, v)
        except CaseValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise CaseValidationError("<sweep>", problems)


def as_variants(case: CaseSpec, variants: Any) -> list[Variant]:
    """Accept a ``SweepSpec``, its dict form, or a list of override dicts / ``Variant``s."""
    if isinstance(variants, SweepSpec):
        return generate(case, variants)
    if isinstance(variants, dict):
        try:
            return generate(case, SweepSpec.model_validate(variants))
        except ValidationError as exc:
            raise CaseValidationError(
                "<sweep>", [(".".join(str(x) for x in e["loc"]), e["msg"]) for e in exc.errors()]
            ) from None
    out = []
    for i, v in enumerate(variants):
        out.append(v if isinstance(v, Variant) else Variant(f"v{i:05d}", dict(v), "scenario"))
    return out
