"""Cheap variants for sweeps: validate only what a price variant changes, re-prepare only prices.

A sweep scenario that changes only market prices of a case (``market.<year>.<field>`` for the
fields in ``PRICE_FIELDS``; in a group also ``ccer_pool.rows.<year>.<price>``) does not need the
whole schema and the whole preparation again:

- **Validation of the changed subtree.** Every changed market row is validated again by its own
  schema model (``MarketRow``: field bounds and the row's cross-field rule, e.g. sell price not
  above the buy price), likewise a changed CCER-pool row (``PoolRow``). The case-level validators
  (``CaseSpec``'s cross checks, ``GroupCaseSpec``'s) read market rows only through their years,
  which a price variant cannot change. The result equals the full validation (same case, or an
  error for the same scenario): ``tests/solver/test_sweep_group.py`` compares both on hundreds of
  generated variants, valid and invalid.
- **Re-preparation of the price fields.** ``reprice`` recomputes, from the new rows and the base
  preparation, exactly the fields of ``planner.prepare.entity.prepare`` that depend on these prices (model
  prices, fines, terminal values, the inputs table's price columns) and
  keeps everything else (allocation, relief, limits, carry-over rules, projects). It is used only
  when the base case has no absolute-cap price band (``can_reprice``), and the same test compares it
  with the full ``prepare`` / ``prepare_group`` field by field.

Anything else (volumes, limits, allocation, policy, a CCER sale price, the group's transfer
settings) takes the full path: schema validation and ``prepare``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from models.data import OBJECTIVE_TUPLES, EntityData, evolve
from planner.errors import CaseValidationError
from planner.input.schema import CaseSpec, MarketRow
from planner.prepare.entity import PreparedCase, opening_price, penalty_rates
from planner.prepare.plausibility import price_warnings

PRICE_FIELDS = (
    "cea_buy_cny_per_t",
    "cea_sell_cny_per_t",
    "cea_spread_cny_per_t",
    "ccer_cny_per_t",
    "fee_cny_per_t",
    "ccer_fee_cny_per_t",
    "penalty_reference_cny_per_t",
)
"""Market-row fields whose change re-prepares prices only. (``ccer_sell_cny_per_t`` is not one:
giving or removing it opens or closes CCER sales, a bound.)"""
POOL_PRICE_FIELDS = ("ccer_cny_per_t", "fee_cny_per_t")

ENTITY_PRICE_FIELDS = OBJECTIVE_TUPLES + (
    "terminal_deduction_cny_per_t",
    "terminal_cea_value_cny_per_t",
    "borrow_terminal_cny_per_t",
)
"""``EntityData`` fields that ``reprice`` recomputes."""
POOLED = ("price_ccer_buy_cny_per_t", "price_ccer_sell_cny_per_t", "fee_ccer_cny_per_t")
"""Entity CCER prices a group with a CCER pool replaces by the pool's."""


@lru_cache(maxsize=8192)
def price_path(path: str) -> tuple[int, str] | None:
    """(year, field) when the dotted ``path`` is ``market.<year>.<price field>``, else None
    (memoised: a sweep's variants repeat the same paths)."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "market" and parts[1].isdigit() and parts[2] in PRICE_FIELDS:
        return int(parts[1]), parts[2]
    return None


def can_reprice(base: PreparedCase) -> bool:
    """Prices of the base case enter the model unclamped (no absolute-cap reserve band, no auction)."""
    return "absolute_cap" not in set(base.inputs["allocation_regime"])


def _problems(exc: ValidationError, where: str) -> list[tuple[str, str]]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        out.append((f"{where}.{loc}" if loc else where, msg))
    return out


def set_market_prices(case: CaseSpec, changes: dict[tuple[int, str], Any], *, validated: bool = False) -> CaseSpec:
    """``case`` with market prices changed, each changed row validated again by ``MarketRow``.

    Raises ``CaseValidationError`` naming the row (as a full validation does) and the field.
    ``validated=True``: these very changes of this very case passed this validation before (a sweep
    validates every variant in its own process before a worker plans it): a row whose new values
    are all ``float`` is then copied with them (``model_copy``; validating floats into float fields
    returns the same values, so the same row), any other row is validated again."""
    by_year: dict[int, dict[str, Any]] = {}
    for (y, f), v in changes.items():
        by_year.setdefault(y, {})[f] = v
    rows = list(case.market)
    index = {r.year: i for i, r in enumerate(rows)}
    problems: list[tuple[str, str]] = []
    # in row order, as pydantic reports problems (validated changes have none: any order)
    for y in by_year if validated else sorted(by_year, key=lambda y: (index.get(y, len(rows)), y)):
        upd = by_year[y]
        if y not in index:
            problems.append((f"market.{y}", f"no row for year {y}"))
            continue
        i = index[y]
        if validated and all(type(x) is float for x in upd.values()):
            rows[i] = _copy_row(rows[i], upd)
            continue
        raw = {**rows[i].__dict__, **upd}  # the row's fields (its model_dump, without serialising)
        try:
            rows[i] = MarketRow.model_validate(raw)
        except ValidationError as exc:
            problems += _problems(exc, f"market[{i}] (year {y})")
    if problems:
        raise CaseValidationError("<case>", problems)
    return case.model_copy(update={"market": rows})


def _copy_row(row: MarketRow, upd: dict[str, float]) -> MarketRow:
    """``row.model_copy(update=upd)`` (same class, fields, fields set; nothing mutable shared) in
    one step instead of pydantic's generic copy and update: a sweep copies one row per year and
    variant. Market rows have no extra or private attributes (``extra="forbid"``, none declared;
    the test of this function checks both and equality with ``model_copy``)."""
    new = object.__new__(type(row))
    object.__setattr__(new, "__dict__", {**row.__dict__, **upd})
    object.__setattr__(new, "__pydantic_fields_set__", row.__pydantic_fields_set__ | upd.keys())
    object.__setattr__(new, "__pydantic_extra__", None)
    object.__setattr__(new, "__pydantic_private__", None)
    return new


def reprice_entity(base: PreparedCase, case: CaseSpec, *, inputs: bool = True) -> PreparedCase:
    """``prepare(case)`` for a ``case`` that differs from ``base.case`` only in ``PRICE_FIELDS`` of its
    market rows (and ``can_reprice(base)``): the price fields recomputed as ``prepare`` does.

    ``inputs=False`` skips the inputs table (a pandas frame, the slowest part): the result's
    ``inputs`` is then ``None`` and it serves only the fast sweep ledger, which reads the model data;
    its warnings are then worked out when first read."""
    years = case.years
    market = {r.year: r for r in case.market}
    e0 = base.data.entities[0]
    buy = [market[y].cea_buy_cny_per_t for y in years]
    sell = [market[y].sell_price for y in years]
    ccer_buy = [market[y].ccer_cny_per_t for y in years]
    penalty, _ = penalty_rates(years, market, base.pack)
    fin = case.finance
    term_cea = sell[-1] if fin.terminal_value == "sell_price" else e0.terminal_cea_value_cny_per_t
    e = evolve(  # prices only, one per year as before: ``replace`` would re-run the checks
        e0,
        price_buy_cny_per_t=tuple(buy),
        price_sell_cny_per_t=tuple(sell),
        fee_cea_cny_per_t=tuple(market[y].fee_cny_per_t for y in years),
        price_ccer_buy_cny_per_t=tuple(ccer_buy),
        fee_ccer_cny_per_t=tuple(market[y].ccer_fee_cny_per_t for y in years),
        penalty_cny_per_t=tuple(penalty),
        terminal_deduction_cny_per_t=buy[-1],
        terminal_cea_value_cny_per_t=term_cea,
        borrow_terminal_cny_per_t=buy[-1],
        price_auction_cny_per_t=tuple(b * (1 - 0.0) for b in buy),  # no auction discount without a cap
    )
    if e0.opening_sell_max_t > 0:  # sales before the opening transition: priced like prepare
        e = evolve(e, price_opening_sell_cny_per_t=opening_price(case, sell), fee_opening_cny_per_t=market[years[0]].fee_cny_per_t)
    data = evolve(base.data, entities=(e,))

    def warnings() -> list[str]:
        # prepare's last warnings are the price plausibility ones: the base's replaced by the variant's
        old = price_warnings(base.case, base.pack)
        keep = base.warnings[: len(base.warnings) - len(old)]
        if base.warnings[len(keep):] != old:
            raise AssertionError("reprice: the base warnings do not end with its price warnings")
        return keep + price_warnings(case, base.pack)

    table = None
    if inputs:
        table = base.inputs.copy()
        table["cea_buy_cny_per_t"] = buy
        table["cea_sell_cny_per_t"] = sell
        table["ccer_cny_per_t"] = ccer_buy
        table["fee_cny_per_t"] = list(e.fee_cea_cny_per_t)
        table["ccer_fee_cny_per_t"] = list(e.fee_ccer_cny_per_t)
        table["penalty_cny_per_t"] = penalty
    # without the inputs table (a fast sweep's ledger) the warnings are worked out when first read
    return evolve(base, case=case, data=data, inputs=table, warnings=warnings() if inputs else warnings,
                  notes=list(base.notes))


def _with_prices(target: EntityData, source: EntityData, *, pool: bool) -> EntityData:
    fields = [f for f in ENTITY_PRICE_FIELDS if not (pool and f in POOLED)]
    return evolve(target, **{f: getattr(source, f) for f in fields})


def reprice_group(base, spec, changed: dict[str, CaseSpec], *, inputs: bool = True):
    """``prepare_group(spec)`` for a ``spec`` that differs from ``base.spec`` only in entity market
    prices (``changed``: the new cases of the entities whose prices changed) and CCER-pool prices.

    Each changed entity is repriced as alone (``reprice_entity``), then placed in the group as
    ``planner.prepare.group.prepare_group`` does: same prices in the group block (the pooled CCER
    prices stay the pool's), the default internal transfer price is the mean buy price again."""
    from planner.prepare.group import PreparedGroup

    assert isinstance(base, PreparedGroup)
    years = spec.group.horizon.years
    pool = spec.ccer_pool
    preps = list(base.entities)
    gents = list(base.data.entities)
    alone = list(base.standalone.entities)
    for k, p in enumerate(preps):
        c = changed.get(p.case.entity.id)
        if c is None:
            continue
        np_ = reprice_entity(p, c, inputs=inputs)
        preps[k] = np_
        new = np_.data.entities[0]
        gents[k] = _with_prices(gents[k], new, pool=pool is not None)
        alone[k] = _with_prices(alone[k], new, pool=False)
    links = base.data.group
    assert links is not None
    upd: dict[str, Any] = {}
    if spec.transfers.price_cny_per_t is None:
        n = len(years)
        upd["transfer_price_cny_per_t"] = tuple(sum(e.price_buy_cny_per_t[i] for e in alone) / len(alone) for i in range(n))
    if pool is not None:
        prow = {r.year: r for r in pool.rows}
        upd["pool_price_cny_per_t"] = tuple(prow[y].ccer_cny_per_t for y in years)
        upd["pool_fee_cny_per_t"] = tuple(prow[y].fee_cny_per_t for y in years)
    # prices only, one per year as before (``evolve``: without re-running the data checks)
    data = evolve(base.data, entities=tuple(gents), group=evolve(links, **upd))
    standalone = evolve(base.standalone, entities=tuple(alone))

    def warnings() -> list[str]:
        from planner.prepare.group import entity_warnings

        # prepare_group's own warnings (they do not depend on prices) come before the entities'
        own = len(base.warnings) - len(entity_warnings(base.entities, pool=pool is not None))
        return base.warnings[:own] + entity_warnings(preps, pool=pool is not None)

    return evolve(base, spec=spec, data=data, entities=tuple(preps), standalone=standalone,
                  warnings=warnings() if inputs else warnings, notes=list(base.notes))
