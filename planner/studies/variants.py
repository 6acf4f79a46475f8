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
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from planner.errors import CaseValidationError
from planner.input.group_schema import GroupCaseSpec
from planner.input.schema import YEAR_TABLES, CaseSpec, PlannerModel, set_path


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
    """Annual log-price volatility; ``planner.studies.sweepio.price_volatility`` computes it from a price history."""
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
    """One variant of a sweep: its id, the case overrides it applies, its kind, probability and tags."""

    id: str
    overrides: dict[str, Any]
    kind: str = "scenario"
    """base | scenario | grid | tornado | price_path"""
    probability: float | None = None
    tags: dict[str, Any] = field(default_factory=dict)


def expand_paths(case: CaseSpec, overrides: dict[str, Any]) -> dict[str, Any]:
    """Replace ``*`` year segments by one path per row of that year table, and ``price_factor.<year>``
    by the market prices of that year times the factor (see ``FACTOR``)."""
    out: dict[str, Any] = {}
    raw: dict | None = None
    ys = factor_years(overrides, case.years)
    if ys:
        fields, dec = _factor_fields(overrides)
        out.update(factored_prices(case, ys, fields, dec))
    for path, value in overrides.items():
        if path.startswith(FACTOR):
            continue
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


def count_problems(spec: SweepSpec) -> list[tuple[str, str]]:
    """A sweep over the limits on scenarios and override paths (``planner.input.limits``), found from
    the sweep file alone: before any variant is made (a grid's product can be in the millions)."""
    from planner.input.limits import over

    n = int(spec.include_base) + len(spec.scenarios) + 2 * len(spec.tornado)
    n += math.prod(len(v) for v in spec.grid.values()) if spec.grid else 0
    n += spec.price_paths.n if spec.price_paths is not None else 0
    problems = []
    if n == 0:
        problems.append(("", "the sweep has no scenarios: give scenarios, grid, tornado or price_paths, "
                             "or include_base: true"))
    if problem := over("scenarios", n, "scenarios of the sweep (base, scenarios, grid product, tornado ends, price paths)"):
        problems.append(("", problem))
    paths = {k for s in spec.scenarios for k in s.overrides} | set(spec.grid) | set(spec.tornado)
    if problem := over("sweep_paths", len(paths), "different override paths in the sweep file"):
        problems.append(("", problem))
    return problems


def generate(case: Any, spec: SweepSpec) -> list[Variant]:
    """All variants of a sweep, in a deterministic order with unique ids. Price paths of a group case
    are ``price_factor`` overrides (one factor a year for every entity's prices). A sweep over the
    limits (``count_problems``) is refused before any variant is made."""
    problems = count_problems(spec)
    if problems:
        raise CaseValidationError("<sweep>", problems)
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
    if spec.price_paths is not None and is_group(case):
        pp = spec.price_paths
        years = case.group.horizon.years
        for i, fs in enumerate(price_path_factors(years, pp)):
            ov = {f"{FACTOR}.{y}": f for y, f in zip(years, fs, strict=True)}
            ov[f"{FACTOR}_fields"] = ",".join(pp.fields)
            ov[f"{FACTOR}_decimals"] = pp.decimals
            out.append(Variant(f"path-{i:05d}", ov, "price_path", 1.0 / pp.n, tags={"path": i}))
    elif spec.price_paths is not None:
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
    counts = Counter(v.id for v in out)
    dup = sorted(i for i, n in counts.items() if n > 1)
    if dup:
        raise CaseValidationError("<sweep>", [("scenarios", f"duplicate scenario ids {dup[:20]}")])
    return out


def variant_case(case: CaseSpec, v: Variant) -> CaseSpec:
    """The variant's case, re-validated through the schema; errors name the scenario and the path."""
    from planner.input.read import parse_case

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


# ------------------------------------------------------------------------------------ group cases
GROUP_YEAR_TABLES = {"limits": ("limits",), "rows": ("ccer_pool", "rows")}
"""Year tables of the group schema: a numeric segment after them selects the row of that year."""
FACTOR = "price_factor"
"""Override ``price_factor.<year>`` (group cases): multiply the market prices ``price_factor_fields``
(default CEA buy and sell prices) of every entity in that year by the factor, rounded to
``price_factor_decimals`` (default 2); with a CCER pool and ``ccer_cny_per_t`` among the fields the
pool's CCER price too. Generated price paths of group cases are written this way."""


@dataclass
class Applied:
    """A variant applied to the base case and validated (see ``planner.prepare.reprice``)."""

    case: Any
    """The variant's ``CaseSpec`` or ``GroupCaseSpec``."""
    reprice: bool
    """Only prices changed: the base preparation may be repriced instead of prepared again."""
    changed: dict[str, CaseSpec] = field(default_factory=dict)
    """Group cases: the entities whose case changed."""


def is_group(case: Any) -> bool:
    """Whether ``case`` is a group case."""
    return isinstance(case, GroupCaseSpec)


def _err(v: Variant, problems: list[tuple[str, str]]) -> CaseValidationError:
    return CaseValidationError("<sweep>", [(f"scenario {v.id}: {loc}" if loc else f"scenario {v.id}", msg) for loc, msg in problems])


def _factor_fields(ov: dict[str, Any]) -> tuple[list[str], int]:
    from planner.prepare.reprice import PRICE_FIELDS

    fields = ov.get(f"{FACTOR}_fields", "cea_buy_cny_per_t,cea_sell_cny_per_t")
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    bad = [f for f in fields if f not in PRICE_FIELDS]
    if bad:
        raise CaseValidationError("<sweep>", [(f"{FACTOR}_fields", f"not market price fields: {bad}; expected some of {', '.join(PRICE_FIELDS)}")])
    return list(fields), int(ov.get(f"{FACTOR}_decimals", 2))


def factor_years(overrides: dict[str, Any], years: list[int]) -> list[tuple[int, float]]:
    """(year, factor) of the ``price_factor.<year>`` overrides; a year outside ``years`` is refused."""
    ys: list[tuple[int, float]] = []
    for key, f in overrides.items():
        if not key.startswith(f"{FACTOR}."):
            continue
        y = key.split(".", 1)[1]
        if not (y.isdigit() and int(y) in years):
            raise CaseValidationError("<sweep>", [(key, f"expected {FACTOR}.<year> for a year of {years[0]}-{years[-1]}")])
        ys.append((int(y), float(f)))
    return ys


def factored_prices(case: CaseSpec, ys: list[tuple[int, float]], fields: list[str], dec: int) -> dict[str, Any]:
    """The market-price paths of an entity case for ``price_factor`` overrides: each year's given
    prices ``fields`` times its factor, rounded to ``dec`` decimals."""
    rows = {r.year: r for r in case.market}
    out: dict[str, Any] = {}
    for yi, f in ys:
        for fld in fields:
            base = getattr(rows[yi], fld)
            if base is not None:
                out[f"market.{yi}.{fld}"] = round(base * f, dec)
    return out


def _entity_of(rest: str, ids: set[str] | dict[str, Any]) -> str | None:
    """The longest entity id that ``rest`` (a path after ``entities.``) starts with, followed by a
    dot; None if there is none. Ids may contain dots: every dotted prefix is tried, longest first
    (a lookup per prefix, not a scan of the ids per path: groups have thousands of entities)."""
    parts = rest.split(".")
    for k in range(len(parts) - 1, 0, -1):
        cand = ".".join(parts[:k])
        if cand in ids:
            return cand
    return None


def split_group_paths(spec: Any, overrides: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Group overrides with ``price_factor`` and ``*`` (entities, years) expanded, split into each
    named entity's own paths (entity id -> {path within its case: value}, in order) and the group's
    paths (in order). Raises ``CaseValidationError`` for a path that names no entity."""

    ids = [c.entity.id for c in spec.entities]
    where = {i: k for k, i in enumerate(ids)}
    per: dict[str, dict[str, Any]] = {}
    grp: dict[str, Any] = {}
    ys = factor_years(overrides, spec.group.horizon.years)
    if ys:
        fields, dec = _factor_fields(overrides)
        pool = {r.year: r for r in spec.ccer_pool.rows} if spec.ccer_pool else {}
        for c in spec.entities:
            mine = factored_prices(c, ys, fields, dec)
            if mine:
                per[c.entity.id] = mine
        for yi, f in ys:
            if "ccer_cny_per_t" in fields and yi in pool:
                grp[f"ccer_pool.rows.{yi}.ccer_cny_per_t"] = round(pool[yi].ccer_cny_per_t * f, dec)
    for path, value in overrides.items():
        if path.startswith(f"{FACTOR}"):
            continue
        if path.startswith("entities."):
            rest = path[len("entities.") :]
            if rest.startswith("*."):
                targets = [(i, rest[2:]) for i in ids]
            else:
                i = _entity_of(rest, where)
                if i is None:
                    raise CaseValidationError("<sweep>", [(path, f"no entity of the group matches (entities.<id>.<path>, ids {', '.join(ids[:5])}{'...' if len(ids) > 5 else ''}, or entities.*.<path>)")])
                targets = [(i, rest[len(i) + 1 :])]
            for i, sub in targets:
                case = spec.entities[where[i]]
                per.setdefault(i, {}).update(expand_paths(case, {sub: value}))
            continue
        parts = path.split(".")
        if "*" in parts:
            k = parts.index("*")
            table = tuple(parts[:k])
            if table not in GROUP_YEAR_TABLES.values():
                raise CaseValidationError("<sweep>", [(path, "'*' stands for the years of a year table (limits, ccer_pool.rows) or for every entity (entities.*.<path>)")])
            node: Any = spec
            for p in table:
                node = getattr(node, p, None) if node is not None else None
            for r in node or []:
                grp[".".join(parts[:k] + [str(r.year)] + parts[k + 1 :])] = value
            continue
        grp[path] = value
    return per, grp


def _set_group_path(raw: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    for table in GROUP_YEAR_TABLES.values():
        n = len(table)
        if tuple(parts[:n]) == table and len(parts) > n and parts[n].isdigit() and int(parts[n]) >= 2019:
            node: Any = raw
            for p in table:
                node = node.get(p) if isinstance(node, dict) else None
            if not isinstance(node, list):
                raise KeyError(f"{path}: the case has no {'.'.join(table)}")
            rows = [r for r in node if r.get("year") == int(parts[n])]
            if not rows:
                raise KeyError(f"{path}: no row for year {parts[n]}")
            if len(parts) == n + 1:
                node[node.index(rows[0])] = value
            else:
                set_path(rows[0], ".".join(parts[n + 1 :]), value)
            return
    set_path(raw, path, value)


def _group_level(spec: Any, v: Variant, grp: dict[str, Any], entities: list[CaseSpec]):
    from planner.input.group_schema import GroupCaseSpec
    from planner.input.messages import friendly_message, location

    raw = spec.model_dump(mode="python", exclude={"entities"})
    try:
        for path, value in grp.items():
            _set_group_path(raw, path, value)
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise _err(v, [("", f"cannot apply overrides: {msg}")]) from None
    try:
        # the entities are validated CaseSpec objects (pydantic does not validate them again);
        # the group's own fields and its cross-field rules are
        return GroupCaseSpec.model_validate({**raw, "entities": entities})
    except ValidationError as exc:
        problems: list[tuple[str, str]] = []
        for err in exc.errors():
            loc = location(err["loc"], raw)
            for line in err["msg"].removeprefix("Value error, ").split("\n"):
                problems.append((loc, friendly_message(line, err)) if loc or ": " not in line else tuple(line.split(": ", 1)))  # type: ignore[arg-type]
        raise _err(v, problems) from None


def apply_variant(case: Any, v: Variant, *, validated: bool = False) -> Applied:
    """Apply ``v`` to ``case`` (entity or group) and validate what it changes.

    Entity-case variants that change only market prices validate the changed market rows
    (``planner.prepare.reprice.set_market_prices``); other variants the whole case. Group variants validate
    every changed entity (likewise) and the group's own settings and cross-field rules; unchanged
    entities stay the base case's validated objects. Errors name the scenario and the path.
    ``validated=True``: ``v`` passed this function on this ``case`` before (``validate_variants`` in
    the sweep's process): market rows given floats are not validated a second time
    (``set_market_prices``); everything else is."""
    from planner.input.read import parse_case
    from planner.prepare.reprice import POOL_PRICE_FIELDS, price_path, set_market_prices

    if not is_group(case):
        ov = expand_paths(case, v.overrides)
        changes = {}
        for path in ov:
            pp = price_path(path)
            if pp is None or pp[0] < 2019:
                return Applied(variant_case(case, v), False)
            changes[pp] = ov[path]
        try:
            return Applied(set_market_prices(case, changes, validated=validated) if changes else case, True)
        except CaseValidationError as exc:
            raise _err(v, exc.problems) from None
    spec = case
    try:
        per, grp = split_group_paths(spec, v.overrides)
    except CaseValidationError as exc:
        raise _err(v, exc.problems) from None
    where = {c.entity.id: k for k, c in enumerate(spec.entities)}
    reprice = True
    changed: dict[str, CaseSpec] = {}
    problems: list[tuple[str, str]] = []
    for i, sub in per.items():
        base = spec.entities[where[i]]
        changes = {}
        for path, value in sub.items():
            pp = price_path(path)
            if pp is None or pp[0] < 2019:
                changes = None
                break
            changes[pp] = value
        try:
            if changes is not None:
                changed[i] = set_market_prices(base, changes, validated=validated)
                continue
            reprice = False
            raw = base.model_dump(mode="python")
            try:
                for path, value in sub.items():
                    set_path(raw, path, value)
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
                problems.append((f"entities ({i})", f"cannot apply overrides: {msg}"))
                continue
            changed[i] = parse_case(raw, f"entities ({i})")
        except CaseValidationError as exc:
            problems += [(f"entities ({i}).{loc}" if loc else f"entities ({i})", msg) for loc, msg in exc.problems]
    if problems:
        raise _err(v, problems)
    for path in grp:
        parts = path.split(".")
        if not (len(parts) == 4 and parts[:2] == ["ccer_pool", "rows"] and parts[3] in POOL_PRICE_FIELDS):
            reprice = False
    entities = [changed.get(c.entity.id, c) for c in spec.entities]
    if grp or not reprice:
        new = _group_level(spec, v, grp, entities)
    else:
        # only entity market prices changed: the group's validators read entity ids and horizons only
        new = spec.model_copy(update={"entities": entities})
    return Applied(new, reprice, changed)


def variant_group_full(spec: Any, v: Variant) -> Any:
    """A group variant validated in full (every entity through the entity schema, then the group):
    the reference that ``apply_variant`` is tested against."""
    from planner.input.group_schema import GroupCaseSpec
    from planner.input.read import parse_case

    per, grp = split_group_paths(spec, v.overrides)
    raw = spec.model_dump(mode="python")
    where = {c.entity.id: k for k, c in enumerate(spec.entities)}
    for i, sub in per.items():
        for path, value in sub.items():
            set_path(raw["entities"][where[i]], path, value)
    for path, value in grp.items():
        _set_group_path(raw, path, value)
    ents = [parse_case(e, f"entities ({e['entity']['id']})") for e in raw.pop("entities")]
    return GroupCaseSpec.model_validate({**raw, "entities": ents})


def validate_variants(case: Any, variants: list[Variant]) -> None:
    """Re-validate every variant before anything is solved; raise one error listing every invalid
    scenario. A variant that changes more than prices is also prepared (``planner.prepare``): the
    rule pack checks its overrides (ranges, units) and the allocation rules its data, as the solve
    would, so that no invalid variant is found only after the others were solved."""
    from planner.prepare.entity import prepare

    problems: list[tuple[str, str]] = []
    if not variants:
        raise CaseValidationError("<sweep>", [("", "the sweep has no scenarios")])
    for v in variants:
        try:
            app = apply_variant(case, v)
            if app.reprice:
                continue
            if not is_group(case):
                prepare(app.case)
                continue
            for i, ent in app.changed.items():
                try:
                    prepare(ent)
                except CaseValidationError as exc:
                    raise _err(v, [(f"entities ({i}).{loc}" if loc else f"entities ({i})", msg)
                                   for loc, msg in exc.problems]) from None
        except CaseValidationError as exc:
            if exc.source == "<sweep>":
                problems.extend(exc.problems)
            else:  # raised by the rule pack or the preparation: name the scenario
                problems.extend(_err(v, exc.problems).problems)
    if problems:
        raise CaseValidationError("<sweep>", problems)


def as_variants(case: Any, variants: Any) -> list[Variant]:
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
