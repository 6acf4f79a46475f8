"""Validated group case -> ``ModelData`` with ``GroupLinks``: each entity prepared as alone, then
placed in the group's context (market limits moved to the links, pooled CCERs, transfer bounds).

Every entity goes through ``planner.prepare.entity.prepare`` unchanged, so an entity in a group gets
exactly the allocation, rules and prices it would get alone; only the links differ.
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from models.data import EntityData, GroupLinks, ModelData, PriceTier
from planner.errors import CaseValidationError
from planner.input.group_schema import GroupCaseSpec
from planner.input.rulepack import RulePack, load_rule_pack
from planner.prepare.entity import (
    CAPACITY_ASK,
    CCER_DEFAULT_WARNING,
    PackReads,
    PreparedCase,
    assumptions_frame,
    built_on_first_use,
    discount_factors,
    new_frame,
    prepare,
    years_text,
)

if TYPE_CHECKING:
    import pandas as pd

INF = math.inf


@dataclass(frozen=True)
class PreparedGroup:
    """The group model data, each entity's own preparation, and what the group report must say."""

    spec: GroupCaseSpec
    pack: RulePack
    data: ModelData
    """Group model: entities in the group context plus links."""
    entities: tuple[PreparedCase, ...]
    """Each entity prepared alone (its stand-alone model data, inputs, assumptions, notes)."""
    standalone: ModelData
    """The entities alone, with the group's discount factors (for the value of pooling)."""
    assumptions: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


PreparedGroup.assumptions = built_on_first_use("assumptions")  # type: ignore[method-assign, assignment]
PreparedGroup.warnings = built_on_first_use("warnings")  # type: ignore[method-assign, assignment]


@contextmanager
def collector_paused(pause: bool = True, *, promote: bool = False) -> Iterator[None]:
    """Python's cyclic garbage collector paused while the block runs (when ``pause``; reference
    counting frees objects as always), then back as it was, also on errors.

    For blocks that allocate many small objects in no reference cycles, where every automatic
    collection would walk all live objects: preparing thousands of entities (floats, tuples,
    frozen dataclasses; the validated case walked too), a sweep's fast chunk.

    ``promote``: what the block made is long-lived (the model data): left in the youngest
    generation, the next collections would walk all of it, once per generation; freezing and
    unfreezing moves every tracked object to the oldest generation without walking any (nothing
    is freed or kept by it)."""
    was = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if promote:
            gc.freeze()
            gc.unfreeze()
        if was:
            gc.enable()


def entity_warnings(preps, *, pool: bool = False) -> list[str]:
    """The entities' warnings in a group, each named by its entity; the same request for unit
    capacities once, with the entities it concerns (the first five named, then how many more).
    With a CCER pool the entities' own CCER availability gives way to the pool's (its warning goes)."""
    out: list[str] = []
    asks: dict[str, list[str]] = {}
    for p in preps:
        out += [f"{p.case.entity.id}: {w}" for w in p.warnings
                if not w.startswith(CAPACITY_ASK) and not (pool and w.startswith(CCER_DEFAULT_WARNING))]
        for w in p.warnings:
            if w.startswith(CAPACITY_ASK):
                asks.setdefault(w, []).append(p.case.entity.id)
    return out + [f"{', '.join(ids[:5])}{f' and {len(ids) - 5} more' if len(ids) > 5 else ''}: {w}" for w, ids in asks.items()]


def _pool_availability(prow: dict, years: list[int], ents, rp, warnings: list[str]) -> tuple[float, ...]:
    """The CCER pool's purchases per year: the case's ``available_t``, else the rule pack's default
    (the entities' pro-rata share of new-system issuance to date, ``ccer.default_supply.*``, as for
    an entity alone)."""
    given = {y: math.inf if prow[y].available_t == "unlimited" else prow[y].available_t for y in years}
    missing = [y for y in years if given[y] is None]
    if not missing:
        return tuple(given[y] for y in years)
    share = rp("ccer.default_supply.issued_t", missing) / rp("ccer.default_supply.covered_emissions_t", missing)
    out = tuple(given[y] if y not in missing else share * sum(e.emissions_baseline_t[i] for e in ents)
                for i, y in enumerate(years))
    amounts = [out[years.index(y)] for y in missing]
    warnings.append(
        f"{CCER_DEFAULT_WARNING} for the CCER pool (ccer_pool.rows.available_t) in {years_text(missing)}: the pool may buy "
        f"{min(amounts):,.0f}-{max(amounts):,.0f} t a year, the entities' share of new-system CCER issuance to date pro rata "
        f"to their baseline emissions ({share:.3%}; rule pack ccer.default_supply.*, an assumption); give available_t for "
        "your own view of supply"
    )
    return out


def prepare_group(spec: GroupCaseSpec) -> PreparedGroup:
    """Prepare every entity, then the links of the group."""
    with collector_paused(promote=True):
        return _prepare_group(spec)


def _prepare_group(spec: GroupCaseSpec) -> PreparedGroup:
    pack = load_rule_pack(spec.group.rule_pack, spec.group.overrides)
    years = spec.group.horizon.years
    rp = PackReads(pack, years)
    used = rp.used  # key read -> the years it was applied to

    n = len(years)
    fin = spec.group.finance
    df = discount_factors(years, fin.discount_rate, fin.base_year)
    preps: list[PreparedCase] = []
    problems: list[tuple[str, str]] = []
    packs: dict[str, RulePack] = {}  # entities sharing a pack and overrides share one loaded pack
    for case in spec.entities:
        key = json.dumps([case.policy.rule_pack, case.policy.overrides], sort_keys=True, default=str)
        try:
            if key not in packs:
                packs[key] = load_rule_pack(case.policy.rule_pack, case.policy.overrides)
            preps.append(prepare(case, packs[key]))
        except CaseValidationError as exc:
            problems += [(f"entities ({case.entity.id}).{loc}" if loc else f"entities ({case.entity.id})", msg) for loc, msg in exc.problems]
    if problems:
        raise CaseValidationError("group case", problems)
    # Purchases without a market limit and free transfers have no bound (what they could otherwise
    # be capped by is the group's need, not the entity's: a small plant may buy for its sisters); a
    # price path that rewards buying without limit is refused before the solve (models.bounds).
    notes: list[str] = []
    warnings: list[str] = []
    alone = tuple(p.data.entities[0] for p in preps)
    standalone = ModelData(years=tuple(years), discount_factor=df, entities=alone)

    t = spec.transfers
    mode = t.mode
    in_ns = bool(rp("group.transfers_count_in_net_sales")) if mode != "none" else True
    lot = float(rp("trading.block.min_lot_t")) if mode == "block" else 0.0
    if isinstance(t.price_cny_per_t, dict):
        price = tuple(float(t.price_cny_per_t[y]) for y in years)
    elif t.price_cny_per_t is not None:
        price = tuple(float(t.price_cny_per_t) for _ in years)
    else:
        price = tuple(sum(e.price_buy_cny_per_t[i] for e in alone) / len(alone) for i in range(n))
        if mode != "none":
            notes.append("Internal transfer price: the entities' mean CEA buy price of each year (transfers.price_cny_per_t not given).")
    if mode != "none" and not in_ns:
        notes.append(
            "Transfers do not count in net sales (rule-pack override): the carry-over limit follows market trades only, "
            "so an entity may buy for its sisters (its net sales fall) or sell what they pass on (its net sales rise)."
        )
    market_buy = tuple(e.buy_max_t for e in alone)
    market_sell = tuple(e.sell_max_t for e in alone)
    pool = spec.ccer_pool
    group_ents: list[EntityData] = []
    pooled = dict(
        price_ccer_buy_cny_per_t=(0.0,) * n,
        fee_ccer_cny_per_t=(0.0,) * n,
        ccer_buy_max_t=(INF,) * n,
        ccer_sell_max_t=(0.0,) * n,
        price_ccer_sell_cny_per_t=(0.0,) * n,
    ) if pool is not None else {}
    for e in alone:
        changes = dict(pooled)
        if mode != "none":
            # the block's trades are market trades and transfers: its market limits move to the links
            changes["buy_max_t"] = changes["sell_max_t"] = (INF,) * n
        group_ents.append(replace(e, **changes) if changes else e)
    if pool is not None:
        notes.append("CCERs come from the group pool: entities' own CCER purchases are replaced by allocations from it; "
                     "each entity still surrenders within its own cap.")
    prow = {r.year: r for r in pool.rows} if pool else {}
    pool_max = _pool_availability(prow, years, alone, rp, warnings) if pool else ()
    lim = {r.year: r for r in spec.limits}
    tiers: list[PriceTier] = []
    prev = 0.0
    for tier in spec.price_tiers:
        end = INF if tier.up_to_t is None else tier.up_to_t
        tiers.append(PriceTier(width_t=end - prev, premium_cny_per_t=tier.premium_cny_per_t))
        prev = end

    def per_year(get) -> tuple[float, ...]:
        vals = tuple(get(lim[y]) if y in lim and get(lim[y]) is not None else INF for y in years)
        return vals if any(math.isfinite(v) for v in vals) else ()

    links = GroupLinks(
        market_buy_max_t=market_buy,
        market_sell_max_t=market_sell,
        transfers=mode,
        transfer_price_cny_per_t=price,
        transfer_min_lot_t=lot,
        transfer_pairs=tuple((s, d) for s, d in t.pairs),
        block_one_way=mode == "block" and t.one_way_per_year,
        transfers_in_net_sales=in_ns,
        pool=pool is not None,
        pool_price_cny_per_t=tuple(prow[y].ccer_cny_per_t for y in years) if pool else (),
        pool_fee_cny_per_t=tuple(prow[y].fee_cny_per_t for y in years) if pool else (),
        pool_max_t=pool_max,
        pool_opening_t=pool.opening_t if pool else 0.0,
        pool_terminal_cny_per_t=pool.terminal_cny_per_t if pool else 0.0,
        group_buy_max_t=per_year(lambda r: r.buy_limit_t),
        group_sell_max_t=per_year(lambda r: r.sell_limit_t),
        tiers=tuple(tiers),
        budget_cny=per_year(lambda r: r.budget_cny),
    )
    data = ModelData(years=tuple(years), discount_factor=df, entities=tuple(group_ents), group=links)
    if any(abs(a - b) > 1e-12 for p in preps for a, b in zip(p.data.discount_factor, df, strict=True)):
        notes.append(
            f"The group NPV discounts at {spec.group.finance.discount_rate:.1%}; entity cases with another rate keep it "
            "only for their project annuities."
        )
    warnings += entity_warnings(preps, pool=pool is not None)
    return PreparedGroup(
        spec=spec,
        pack=pack,
        data=data,
        entities=tuple(preps),
        standalone=standalone,
        assumptions=(lambda: assumptions_frame(pack, used)) if used else new_frame,
        notes=notes,
        warnings=warnings,
    )
