"""Validated case + rule pack -> plain ``ModelData`` for the math, plus what the report must say.

All policy decisions happen here, in plain Python: which carry-over rule applies at which
transition, free allocation and relief, penalty rates, discount factors, project cash flows. The
result also records every rule-pack parameter used and the modelling notes a plan must show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from models.data import (
    CarryRule,
    CcerLotData,
    EntityData,
    MeasureData,
    ModelData,
    OpeningTransition,
    ProjectData,
    ProjectOption,
)
from planner.errors import CaseValidationError
from planner.input.rulepack import UNCERTAIN, RulePack, load_rule_pack
from planner.input.schema import CaseSpec
from planner.prepare.allocation import (
    CONVENTIONAL_COAL,
    Preallocation,
    UnitAllocation,
    UnitYear,
    absolute_cap,
    industry_intensity,
    power_generation,
    power_supply,
    tightened,
)
from planner.prepare.plausibility import plausibility_warnings, price_warnings

if TYPE_CHECKING:
    import pandas as pd  # imported where a table is built: preparing and solving need no pandas

INF = math.inf
CCER_DEFAULT_WARNING = "no CCER availability given"
"""Start of the warning on the default CCER availability (a group with a CCER pool drops it)."""


@dataclass(frozen=True)
class PreparedCase:
    """Everything downstream of validation needs: the model data and what the plan must state."""

    case: CaseSpec
    pack: RulePack
    data: ModelData
    inputs: Any
    """Per-year resolved inputs (allocation parts, relief, prices, limits, carry rule): a DataFrame."""
    assumptions: pd.DataFrame
    """Rule-pack parameters in force: value, unit, confidence, source, overridden."""
    allocation_detail: Any = field(default_factory=lambda: new_frame())
    """(unit, year): formula, basis, benchmarks, correction factors and allocation terms: a DataFrame."""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    used_params: tuple[str, ...] = ()
    preallocation: tuple[Preallocation, ...] = ()
    """Per planned vintage: the share and basis of its pre-allocation, the basis in t where prepare
    knows it (activity x benchmark x factors), else None (emissions or allocation of the year before,
    known only from the solved plan)."""


def built_on_first_use(name: str) -> property:
    """A field that may be given as a function building its value: built on first read.

    ``prepare`` defers the two report tables: a group of thousands of entities needs the model data
    at once but these tables only when the entity plans are assembled (pandas spends a few
    milliseconds per table, i.e. seconds per thousand entities). ``planner.prepare.reprice`` defers the
    warnings of a variant prepared for a fast sweep ledger, which does not read them."""
    slot = f"_{name}_value"

    def get(self):
        value = self.__dict__[slot]
        if callable(value):
            value = value()
            self.__dict__[slot] = value
        return value

    def set_(self, value):  # only the dataclass __init__ sets it (the class is frozen)
        self.__dict__[slot] = value

    return property(get, set_)


PreparedCase.inputs = built_on_first_use("inputs")  # type: ignore[method-assign, assignment]
PreparedCase.allocation_detail = built_on_first_use("allocation_detail")  # type: ignore[method-assign, assignment]
PreparedCase.assumptions = built_on_first_use("assumptions")  # type: ignore[method-assign, assignment]
PreparedCase.warnings = built_on_first_use("warnings")  # type: ignore[method-assign, assignment]


class PackReads:
    """The rule-pack values one preparation reads. ``reads(key, applied)`` is ``pack[key]``, the key
    recorded as used for ``applied`` (years; default every year of the horizon; empty for a value
    that is not applied to particular years), keys in reading order (the assumptions table lists
    them). ``share``: what ``_shared`` works out from the pack may be shared with the other
    preparations on the same loaded pack (off: this preparation works everything out on its own,
    as the equality tests of the group preparation do)."""

    __slots__ = ("pack", "years", "used", "share")

    def __init__(self, pack: RulePack, years: list[int], share: bool = True) -> None:
        self.pack, self.years, self.share = pack, years, share
        self.used: dict[str, set[int]] = {}

    def __call__(self, key: str, applied: Any = None) -> Any:
        """``pack[key]``, recorded as used for the years ``applied`` (default every year)."""
        self.used.setdefault(key, set()).update(self.years if applied is None else applied)
        return self.pack[key]


_SHARED: dict[tuple, tuple[RulePack, tuple[tuple[str, Any], ...], Any]] = {}


def _shared(pack: RulePack, rp: PackReads, key: tuple, build):
    """``build(read)`` once per loaded rule pack and ``key``; each call replays the rule-pack keys
    ``build`` read (with the years it applied them to) into ``rp``, in the same order (the
    assumptions table lists them).

    What depends only on the pack and a few shared fields (carry-over rules of a horizon and sector,
    the benchmark of a class and year, the formula of a year) is worked out once for all entities of
    a group that share the pack (unless ``rp.share`` is off). Values must not be changed by callers
    (tuples, or copied)."""
    k = (id(pack), *key)
    hit = _SHARED.get(k) if rp.share else None
    if hit is None or hit[0] is not pack:
        keys: list[tuple[str, Any]] = []

        def read(name: str, years: Any = None) -> Any:
            keys.append((name, None if years is None else tuple(years)))
            return pack[name]

        try:
            value = build(read)
        except Exception:
            for name, years in keys:
                rp(name, years)
            raise
        if len(_SHARED) > 4096:
            _SHARED.clear()
        hit = _SHARED[k] = (pack, tuple(keys), value)
    for name, years in hit[1]:
        rp(name, years)
    return hit[2]


def prepare(case: CaseSpec, pack: RulePack | None = None, *, share: bool = True) -> PreparedCase:
    """Resolve ``case`` against its rule pack into ``ModelData``. ``share``: see ``PackReads``."""
    pack = pack or load_rule_pack(case.policy.rule_pack, case.policy.overrides)
    years = case.years
    rp = PackReads(pack, years, share)
    used = rp.used  # key read -> the years it was applied to, keys in reading order

    ent = case.entity
    sector = ent.sector
    market = {r.year: r for r in case.market}
    notes: list[str] = []
    warnings: list[str] = []
    problems: list[tuple[str, str]] = []

    units = case.unit_list()
    unit_rows = [_unit_rows(u) for u in units]
    e_base = [sum(rows[y].baseline_emissions_t for rows in unit_rows) for y in years]

    # ---- allocation and relief --------------------------------------------------------------
    try:
        if sector == "power":
            _check_classes(case, units, rp, pack, problems, warnings)
        al = _allocation(case, rp, e_base, problems, notes, units, unit_rows, pack)
        preallocation = _preallocation(case, rp, pack, units, unit_rows, al, notes) if not problems else ()
    except _NoBenchmark as exc:  # the plan of a year is looked up for its relief, class boundary, pre-allocation
        problems.append(("policy.overrides.allocation.power.cycles", str(exc)))
    if problems:
        raise CaseValidationError("allocation", problems)
    allocation = al.fixed
    buy, sell, auction_price, ccer_buy, ccer_sell, ccer_sell_max = _market_prices(years, market, al, notes)
    opening_cea = float(sum(case.opening.cea_by_vintage.values()))
    ns0 = case.opening.net_sales_since_2019_t

    # ---- carry-over rules per transition -------------------------------------------------------
    carry_rules, carry_text = _shared(pack, rp, ("carry", tuple(years), sector), lambda rec: _carry_rules(years, sector, rec))
    carry_rules, carry_text = list(carry_rules), list(carry_text)
    opening_steps, opening_before, opening_lapse = _opening_transitions(case, pack, rp, notes)
    # no limit given, no bound: a price path that rewards buying without limit is refused before the
    # solve (models.bounds.unbounded_arbitrage), not capped by a bound the plan would then hit
    buy_max = [market[y].buy_limit_t if market[y].buy_limit_t is not None else INF for y in years]
    sell_max = [market[y].sell_limit_t if market[y].sell_limit_t is not None else INF for y in years]
    ccer_max = _ccer_availability(case, rp, e_base, warnings)

    # ---- penalty ---------------------------------------------------------------------------
    deduction = bool(rp("penalty.next_year_deduction"))
    penalty, fine_fixed = penalty_rates(years, market, pack, rp)
    notes += _penalty_notes(years, pack, fine_fixed, deduction)
    hard = case.policy.compliance == "hard"
    rp("borrowing.allowed")
    borrow_share, borrow_theta, borrow_src = _borrowing(case, rp, notes)

    # ---- CCER --------------------------------------------------------------------------------
    cap_share = rp("ccer.cap_share")
    cap_on_obligation = rp("ccer.cap_base") == "obligation"
    old_last = rp("ccer.old_last_compliance_year")
    ccer_buy_old, ccer_expiry = _old_market_ccers(years, pack, rp, old_last, ccer_max, notes)

    # ---- finance ----------------------------------------------------------------------------
    fin = case.finance
    df = list(discount_factors(years, fin.discount_rate, fin.base_year))
    term_cea, term_ccer = _terminal_values(case, sell, ccer_sell)

    lots = _ccer_lots(case, rp, old_last, term_ccer, warnings)
    measures = _measures(case, al, notes)
    projects = [_project(p, years, fin.discount_rate, fin.capex_method) for p in case.abatement.projects]
    for p, pd_ in zip(case.abatement.projects, projects, strict=True):
        if not pd_.options:
            warnings.append(f"project {p.id} cannot start operating within the horizon and is ignored")

    entity = EntityData(
        id=ent.id,
        emissions_baseline_t=tuple(e_base),
        allocation_t=tuple(allocation),
        relief_share=tuple(al.relief_share),
        relief_to_allocation=tuple(al.to_allocation),
        price_buy_cny_per_t=tuple(buy),
        price_sell_cny_per_t=tuple(sell),
        fee_cea_cny_per_t=tuple(market[y].fee_cny_per_t for y in years),
        price_ccer_buy_cny_per_t=tuple(ccer_buy),
        price_ccer_sell_cny_per_t=tuple(ccer_sell),
        fee_ccer_cny_per_t=tuple(market[y].ccer_fee_cny_per_t for y in years),
        buy_max_t=tuple(buy_max),
        sell_max_t=tuple(sell_max),
        ccer_buy_max_t=tuple(ccer_max),
        ccer_sell_max_t=tuple(ccer_sell_max),
        ccer_cap_share=tuple(cap_share for _ in years),
        ccer_cap_on_obligation=cap_on_obligation,
        penalty_cny_per_t=tuple(penalty),
        shortfall_allowed=not hard,
        shortfall_deducted_next_year=deduction,
        terminal_deduction_cny_per_t=buy[-1],
        opening_cea_t=opening_cea,
        opening_net_sales_t=ns0,
        carry_rules=tuple(carry_rules),
        terminal_cea_value_cny_per_t=term_cea,
        terminal_ccer_value_cny_per_t=term_ccer,
        measures=tuple(measures),
        projects=tuple(projects),
        ccer_lots=tuple(lots),
        opening_ccer_t=case.opening.ccer_unrestricted_t,
        ccer_buy_old=ccer_buy_old,
        ccer_old_expiry_index=ccer_expiry,
        borrow_share=tuple(borrow_share),
        borrow_min_gap_share=borrow_theta,
        borrow_source_index=years.index(borrow_src) if borrow_src in years else -1,
        borrow_terminal_cny_per_t=buy[-1],
        auction_max_t=tuple(al.auction_max),
        price_auction_cny_per_t=tuple(auction_price),
        auction_in_net_sales=al.auction_in_net_sales,
        opening_transitions=opening_steps,
        opening_sell_max_t=opening_cea if opening_before else 0.0,
        price_opening_sell_cny_per_t=opening_price(case, sell) if opening_before else 0.0,
        fee_opening_cny_per_t=market[years[0]].fee_cny_per_t if opening_before else 0.0,
        fine_fixed_cny=tuple(fine_fixed) if any(fine_fixed) else (),
    )
    data = ModelData(years=tuple(years), discount_factor=tuple(df), entities=(entity,))

    warnings += plausibility_warnings(case, pack, unit_rows, al.formula_total, al.regime, e_base,
                                      lambda u, r, y: _unit_formula_t(case, u, r, y, pack))
    warnings += price_warnings(case, pack)

    def inputs() -> pd.DataFrame:
        return _inputs_frame(case, entity, unit_rows, e_base, al, fine_fixed, df, carry_text)

    return PreparedCase(
        case=case,
        pack=pack,
        data=data,
        inputs=inputs,
        allocation_detail=al.detail,
        assumptions=lambda: assumptions_frame(pack, used, share),
        notes=notes,
        warnings=warnings,
        used_params=tuple(used),
        preallocation=preallocation,
    )


def _market_prices(years: list[int], market: dict, al: _Allocation, notes: list[str]):
    """CEA buy and sell prices (held within an absolute cap's reserve band), auction prices and
    CCER prices and sale limits per year."""
    buy = [_clamp(market[y].cea_buy_cny_per_t, al.price_band[i]) for i, y in enumerate(years)]
    sell = [_clamp(market[y].sell_price, al.price_band[i]) for i, y in enumerate(years)]
    if any(b != market[y].cea_buy_cny_per_t for b, y in zip(buy, years, strict=True)):
        notes.append(
            "Absolute-cap reserve: CEA prices of capped years are held within the reserve's floor and "
            "ceiling (inputs table, cea_buy_cny_per_t)."
        )
    auction_price = [b * (1 - al.auction_discount) for b in buy]
    ccer_buy = [market[y].ccer_cny_per_t for y in years]
    ccer_sell = [market[y].ccer_sell_cny_per_t or 0.0 for y in years]
    ccer_sell_max = [INF if market[y].ccer_sell_cny_per_t is not None else 0.0 for y in years]
    return buy, sell, auction_price, ccer_buy, ccer_sell, ccer_sell_max


def _terminal_values(case: CaseSpec, sell: list[float], ccer_sell: list[float]) -> tuple[float, float]:
    """Value per tonne of the CEA and CCER held after the last year."""
    fin = case.finance
    if fin.terminal_value == "sell_price":
        return sell[-1], ccer_sell[-1]
    if fin.terminal_value == "zero":
        return 0.0, 0.0
    return fin.terminal_cea_cny_per_t or 0.0, fin.terminal_ccer_cny_per_t or 0.0


def _ccer_lots(case: CaseSpec, rp: PackReads, old_last: int, term_ccer: float, warnings: list[str]) -> list[CcerLotData]:
    """The opening CCER lots with the years each may be surrendered in (old-system lots up to the
    rule pack's last year for them)."""
    years = case.years
    lot_problems = _lot_eligibility(case, rp)
    if lot_problems:
        raise CaseValidationError("opening.ccer_lots", lot_problems)
    lots = []
    for lot in case.opening.ccer_lots:
        lo = lot.eligible_from_year or -10**9
        hi = lot.eligible_to_year or 10**9
        if lot.system == "old":
            hi = min(hi, old_last)
        eligible = tuple(lo <= y <= hi for y in years)
        if not any(eligible):
            warnings.append(f"CCER lot {lot.id} is not eligible in any planned year and is ignored")
        lots.append(
            CcerLotData(
                id=lot.id,
                quantity_t=lot.quantity_t,
                eligible=eligible,
                terminal_value_cny_per_t=term_ccer if hi > years[-1] else 0.0,
            )
        )
    return lots


def _measures(case: CaseSpec, al: _Allocation, notes: list[str]) -> list[MeasureData]:
    """The abatement measures per year (cost, potential within their years; output measures lose
    output-based allocation)."""
    years = case.years
    measures = []
    for m in case.abatement.measures:
        lo, hi = m.first_year or years[0], m.last_year or years[-1]
        cost = m.cost_cny_per_t
        measures.append(
            MeasureData(
                id=m.id,
                cost_cny_per_t=tuple(
                    float(cost[y]) if isinstance(cost, dict) else float(cost) for y in years
                ),
                potential_t=tuple(m.potential_t_per_year if lo <= y <= hi else 0.0 for y in years),
                allocation_loss_t_per_t=tuple(al.output_loss) if m.kind == "output" else (),
            )
        )
    if any(m.kind == "output" for m in case.abatement.measures):
        notes.append(
            "Output measures lose output-based allocation at the entity's allocation per tonne of baseline "
            "emissions (inputs table, output_loss_t_per_t); under an absolute cap or a verified-emissions "
            "allocation they lose none. The load-rate factor is held at its input value."
        )
    return measures


def _inputs_frame(case: CaseSpec, entity: EntityData, unit_rows: list[dict], e_base: list[float], al: _Allocation,
                  fine_fixed: list[float], df: list[float], carry_text: list[str]) -> pd.DataFrame:
    """The inputs table of a prepared entity: per year what the model data were made from."""
    import pandas as pd

    years = case.years
    market = {r.year: r for r in case.market}
    return pd.DataFrame({
        "entity": entity.id,
        "year": years,
        "output": [sum(rows[y].output for rows in unit_rows) for y in years],
        "heat_gj": [sum(rows[y].heat_gj for rows in unit_rows) for y in years],
        "emissions_baseline_t": e_base,
        "allocation_regime": al.regime,
        "allocation_formula_t": al.formula_total,
        "allocation_fixed_t": al.fixed,
        "relief_rule": al.relief_kind,
        "relief_share": al.relief_share,
        "relief_as_allowances": al.to_allocation,
        "output_loss_t_per_t": al.output_loss,
        "auction_max_t": al.auction_max,
        "auction_cny_per_t": [p if a > 0 else 0.0 for p, a in zip(entity.price_auction_cny_per_t, al.auction_max, strict=True)],
        "borrow_share": list(entity.borrow_share),
        "cea_buy_cny_per_t": list(entity.price_buy_cny_per_t),
        "cea_sell_cny_per_t": list(entity.price_sell_cny_per_t),
        "ccer_cny_per_t": list(entity.price_ccer_buy_cny_per_t),
        "ccer_sell_cny_per_t": list(entity.price_ccer_sell_cny_per_t),
        "fee_cny_per_t": list(entity.fee_cea_cny_per_t),
        "ccer_fee_cny_per_t": list(entity.fee_ccer_cny_per_t),
        "buy_max_t": list(entity.buy_max_t),
        "buy_limit_given": [market[y].buy_limit_t is not None for y in years],
        "sell_max_t": list(entity.sell_max_t),
        "ccer_available_t": list(entity.ccer_buy_max_t),
        "penalty_cny_per_t": list(entity.penalty_cny_per_t),
        "fine_fixed_cny": fine_fixed,
        "ccer_cap_share": list(entity.ccer_cap_share),
        "discount_factor": df,
        "carry_rule": carry_text,
    })


def discount_factors(years: list[int], rate: float, base_year: int | None = None) -> tuple[float, ...]:
    """The discount factor of each year at ``rate`` a year, 1 in ``base_year`` (default the first year)."""
    base = base_year or years[0]
    return tuple((1 + rate) ** -(y - base) for y in years)


def _unit_formula_t(case: CaseSpec, u, r, year: int, pack: RulePack) -> float | None:
    """One unit's formula allocation, read from the pack without recording it as used (for the
    plausibility warnings of entities with several units); None without a benchmark."""
    silent = PackReads(pack, case.years)  # its record of keys is dropped
    try:
        if case.entity.sector == "power":
            ua = _power_unit(case, u, r, year, silent, pack)
        else:
            ua = _industry_unit(case, u, r, year, silent)
    except (_NoBenchmark, ValueError):
        return None
    return ua.electricity_t * case.allocation.correction_factor + ua.heat_t


def _opening_transitions(case: CaseSpec, pack: RulePack, rp, notes: list[str]) -> tuple[tuple[OpeningTransition, ...], bool, float]:
    """The limited carry-over transitions between the opening vintages and the first year, whether
    the opening position is before the last of them, and the tonnes the transitions the data decide
    take (rules.md R2.2, §14).

    A case whose first year follows a limited transition holds its opening vintages after it by
    default: the rule of that transition (the 2019-2024 rule at the 2024->2025 transition for
    power) limits the vintages it covers at the opening net sales, and the excess is worthless.
    ``opening.transition: before`` says the last transition into the first year is still ahead: the
    plan may then sell covered vintages before it."""
    years = case.years
    first = years[0]
    vint = {int(v): float(q) for v, q in case.opening.cea_by_vintage.items()}
    before = case.opening.transition == "before"
    sector = case.entity.sector
    # transitions after the surrender of each year from the oldest opening vintage (or the year
    # before the first, so that 'before' always has a transition to refer to) up to the first year
    start = min([*vint, first - 1]) if vint or before else first
    ys = list(range(start, first))
    if not ys:
        if before:
            raise CaseValidationError("opening.transition", [("opening.transition", "'before' needs a transition before the first year")])
        return (), False, 0.0
    rules, _ = _shared(pack, rp, ("carry", tuple(ys), sector), lambda rec: _carry_rules(ys, sector, rec))
    steps: list[OpeningTransition] = []
    entering, counted = 0.0, set()
    for y, rule in zip(ys, rules, strict=True):
        for v, q in vint.items():
            if v <= y and v not in counted:
                entering += q
                counted.add(v)
        if rule.limited:
            steps.append(OpeningTransition(year=y, entering_t=entering, rule=rule))
            entering = 0.0
    if before and (not steps or steps[-1].year != first - 1):
        raise CaseValidationError("opening.transition", [(
            "opening.transition",
            f"'before': the transition after the {first - 1} surrender, into the first year {first}, has no carry-over "
            f"limit under the rule pack ({_carry_rules([first - 1], sector, lambda k, ys=None: pack[k])[1][0]}), so there is "
            "nothing to sell before it; leave opening.transition at 'after'",
        )])
    if not steps:
        return (), False, 0.0
    ns0 = case.opening.net_sales_since_2019_t
    held, lapse, text = 0.0, 0.0, []
    for t in steps:
        held += t.entering_t
        cap = t.rule.limit_at(ns0)
        cut = max(0.0, held - cap)
        if t is steps[-1] and before:
            text.append(f"{held:,.0f} t reach the transition after the {t.year} surrender still ahead (opening.transition: "
                        f"before): the plan may sell some before it, each tonne sold raising its limit, now {cap:,.0f} t "
                        f"({_rule_text(t.rule)} at net sales {ns0:,.0f} t), by {t.rule.multiplier:g} t")
            continue
        text.append(f"{held:,.0f} t of vintages up to {t.year} pass the transition after the {t.year} surrender limited to "
                    f"{cap:,.0f} t ({_rule_text(t.rule)} at the opening net sales {ns0:,.0f} t)"
                    + (f": {cut:,.0f} t lapse, worthless from then on" if cut > 0 else ""))
        lapse += cut
        held = min(held, cap)
    notes.append(
        "Opening holdings (rules.md R2.2, §14): " + "; ".join(text) + "."
        + ("" if before else " The position is read as after the transition (opening.transition: after); if it is still "
           "ahead, say opening.transition: before.")
    )
    return tuple(steps), before, lapse


def _rule_text(rule: CarryRule) -> str:
    if rule.threshold_t == 0 and rule.floor_t == rule.base_t:
        return f"{rule.base_t:,.0f} + {rule.multiplier:g} x max(0, net sales)"
    return f"max(0, {rule.base_t:,.0f} + {rule.multiplier:g} x net sales)"


def opening_price(case: CaseSpec, sell: list[float]) -> float:
    """Price of sales before the opening transition: the case's, else the first year's sell price."""
    p = case.opening.transition_sell_cny_per_t
    return sell[0] if p is None else p


def penalty_rates(years: list[int], market: dict, pack: RulePack, rp=None) -> tuple[list[float], list[float]]:
    """Per year: the fine per tonne not surrendered and the fixed fine for any shortfall (rules.md
    R6.4, §14). From ``penalty.decree775_first_vintage`` (2023): ``penalty.multiple`` x the average CEA
    price of the month before the deadline (``penalty_reference_cny_per_t``, else the cycle's CEA buy
    price); earlier vintages: Order 19's fixed fine (``penalty.order19.fine_cny``) and no fine per
    tonne. Both add the next-year deduction (the model's ``balance_surrender``). ``rp``: records the
    parameters used (``prepare``); None reads them silently (``reprice``)."""
    def read(key: str, applied: Any = None) -> Any:
        return pack[key] if rp is None else rp(key, applied)

    first775 = read("penalty.decree775_first_vintage")
    new = [y for y in years if y >= first775]
    old = [y for y in years if y < first775]
    multiple = read("penalty.multiple", new) if new else 0.0
    fine = read("penalty.order19.fine_cny", old) if old else 0.0
    per_t, fixed = [], []
    for y in years:
        if y >= first775:
            ref = market[y].penalty_reference_cny_per_t
            per_t.append(multiple * (market[y].cea_buy_cny_per_t if ref is None else ref))
            fixed.append(0.0)
        else:
            per_t.append(0.0)
            fixed.append(float(fine))
    return per_t, fixed


def _penalty_notes(years: list[int], pack: RulePack, fixed: list[float], deduction: bool) -> list[str]:
    """What the fines are, by vintage. Independent of the market rows' prices, which a repriced
    sweep variant changes without preparing the notes again."""
    out = []
    old = [y for y, f in zip(years, fixed, strict=True) if f > 0]
    ded = " plus the deduction of the tonnes from the next allocation" if deduction else ""
    if old:
        out.append(
            f"Shortfalls of the {years_text(old)} vintages fall under MEE Order 19: a fixed fine of CNY "
            f"{fixed[years.index(old[0])]:,.0f} for each year with any shortfall (one binary each){ded}; no fine per tonne "
            "(market.penalty_reference_cny_per_t is not used for them)."
        )
    new = [y for y in years if y not in old]
    if new:
        out.append(
            f"The fine per tonne of {years_text(new)} is {pack['penalty.multiple']:g} x the average CEA price of the month "
            f"before the surrender deadline (Decree 775){ded}: market.penalty_reference_cny_per_t where the case gives it, "
            "else the cycle's CEA buy price."
        )
    return out


def _ccer_availability(case: CaseSpec, rp, e_base: list[float], warnings: list[str]) -> list[float]:
    """CCERs the entity may buy per year: the case's ``ccer_available_t``, else the rule pack's default,
    its pro-rata share of new-system issuance to date (``ccer.default_supply.*``, rules.md §14)."""
    years = case.years
    market = {r.year: r for r in case.market}
    given = {y: INF if market[y].ccer_available_t == "unlimited" else market[y].ccer_available_t for y in years}
    missing = [y for y in years if given[y] is None]
    if not missing:
        return [given[y] for y in years]
    issued = rp("ccer.default_supply.issued_t", missing)
    covered = rp("ccer.default_supply.covered_emissions_t", missing)
    share = issued / covered
    out = [given[y] if y not in missing else share * e for y, e in zip(years, e_base, strict=True)]
    amounts = [out[years.index(y)] for y in missing]
    span = f"{min(amounts):,.0f} t" if min(amounts) == max(amounts) else f"{min(amounts):,.0f}-{max(amounts):,.0f} t"
    warnings.append(
        f"{CCER_DEFAULT_WARNING} (market.ccer_available_t) for {years_text(missing)}: CCER purchases are limited to {span} a "
        f"year, the entity's share of new-system CCER issuance to date ({issued / 1e6:,.2f} Mt, first issued 2025-03-06) pro "
        f"rata to its baseline emissions among {covered / 1e9:,.0f} Gt covered ({share:.3%} of its emissions; rule pack "
        "ccer.default_supply.*, an assumption); give market.ccer_available_t for your own view of supply"
    )
    return out


def _lot_eligibility(case: CaseSpec, rp) -> list[tuple[str, str]]:
    """Problems of new-system CCER lots against the eligibility rules, where the lot gives the facts
    (rules.md R5.2, §14): project started after ``ccer.new.project_start_after``, reductions after
    ``ccer.new.reductions_after``, not from a facility the ETS covers."""
    import datetime as dt

    problems: list[tuple[str, str]] = []
    lots = [(i, lot) for i, lot in enumerate(case.opening.ccer_lots) if lot.system == "new"]
    if not any(lot.project_start or lot.reductions_start or lot.from_covered_facility is not None for _, lot in lots):
        return problems
    start_after = dt.date.fromisoformat(str(rp("ccer.new.project_start_after", ())))
    red_after = dt.date.fromisoformat(str(rp("ccer.new.reductions_after", ())))
    excl = bool(rp("ccer.new.excludes_covered_facilities", ()))
    for i, lot in lots:
        at = f"opening.ccer_lots[{i}] ({lot.id})"
        if lot.project_start is not None and lot.project_start <= start_after:
            problems.append((f"{at}.project_start", f"{lot.project_start} is not after {start_after}: a new-system CCER "
                             "needs a project started after that date (rule pack ccer.new.project_start_after)"))
        if lot.reductions_start is not None and lot.reductions_start <= red_after:
            problems.append((f"{at}.reductions_start", f"{lot.reductions_start} is not after {red_after}: new-system CCERs are "
                             "issued only for reductions after that date (rule pack ccer.new.reductions_after)"))
        if excl and lot.from_covered_facility:
            problems.append((f"{at}.from_covered_facility", "CCERs from a facility covered by the national ETS cannot offset "
                             "(rule pack ccer.new.excludes_covered_facilities)"))
    return problems


def years_text(ys: list[int]) -> str:
    """Years for a sentence: a run of three or more as ``first-last``, else listed."""
    if len(ys) > 2 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}-{ys[-1]}"
    return ", ".join(map(str, ys))


def _unit_rows(u) -> dict:
    return {r.year: r for r in u.activity}


def _clamp(price: float, band: tuple[float, float]) -> float:
    lo, hi = band
    if lo > 0:
        price = max(price, lo)
    if hi > 0:
        price = min(price, hi)
    return price


@dataclass
class _Allocation:
    """Allocation of every planned vintage, resolved from the official formulas (or given)."""

    regime: list[str]
    """formula | verified_emissions | absolute_cap | given."""
    formula_total: list[float]
    fixed: list[float]
    relief_share: list[float]
    relief_kind: list[str]
    to_allocation: list[bool]
    output_loss: list[float]
    auction_max: list[float]
    auction_discount: float
    auction_in_net_sales: bool
    price_band: list[tuple[float, float]]
    detail: Any
    """The allocation detail table, or a function that builds it."""


def _formula_allocation(case: CaseSpec, rp: PackReads, pack: RulePack, units: list, unit_rows: list[dict],
                        problems: list, formula_total: list[float], regime: list[str],
                        gas_fixed_topup: list[float], detail: list[tuple]) -> None:
    """The benchmark formula's allocation of every unit and year into ``formula_total`` (and the
    gas units' top-up to their emissions in ``gas_fixed_topup``, the rows of the detail table in
    ``detail``); industrial years allocated at verified emissions get that regime in ``regime``.
    A benchmark or input that is missing is a problem in ``problems``."""
    years = case.years
    ent = case.entity
    classes = {u.unit_class for u in units}
    gas_only = classes == {"gas"}
    key = "allocation.industry.verified_emissions_years"
    verified_years = set(rp(key, [y for y in years if y in pack[key]])) if ent.sector == "industry" else set()
    for ui, u in enumerate(units):
        rows = unit_rows[ui]
        where = f"units[{ui}].activity" if case.units else "activity"
        for i, y in enumerate(years):
            r = rows[y]
            if y in verified_years:
                regime[i] = "verified_emissions"
                detail.append(_detail(ent.id, u, y, "verified_emissions", r.output, None, None, 1, 1, 1, r.baseline_emissions_t, 0.0))
                continue
            try:
                ua = (
                    _power_unit(case, u, r, y, rp, pack)
                    if ent.sector == "power"
                    else _industry_unit(case, u, r, y, rp)
                )
            except _NoBenchmark as exc:
                problems.append(("allocation.benchmarks", str(exc)))
                continue
            except ValueError as exc:
                problems.append((f"{where}.{y}.supply_mwh", f"{exc}; {y} uses the {_power_formula(case, y, rp)} formula"))
                continue
            f = case.allocation.correction_factor
            total = ua.electricity_t * f + ua.heat_t
            formula_total[i] += total
            if u.unit_class == "gas" and not gas_only and _gas_topup_on(case, rp, pack, classes, y):
                gas_fixed_topup[i] += max(0.0, r.baseline_emissions_t - total)
            detail.append(
                _detail(ent.id, u, y, ua.formula, ua.basis_mwh, ua.benchmark_electricity, ua.benchmark_heat, ua.f_cool, ua.f_heat, ua.f_load * f, ua.electricity_t * f, ua.heat_t)
            )


def _allocation(case: CaseSpec, rp, e_base: list[float], problems: list, notes: list[str], units: list, unit_rows: list[dict],
                pack: RulePack) -> _Allocation:
    """Free allocation per vintage, relief rule per year and the absolute-cap scenario."""
    years = case.years
    n = len(years)
    method = case.allocation.method
    detail: list[tuple] = []
    formula_total = [0.0] * n
    regime = ["given" if method == "given" else "formula"] * n
    gas_fixed_topup = [0.0] * n
    classes = {u.unit_class for u in units}
    is_coal = any(c.startswith("coal") for c in classes)
    gas_only = classes == {"gas"}

    if method == "given":
        given = {r.year: r.allocation_t for r in case.allocation.given}
        formula_total = [given[y] for y in years]
    else:
        _formula_allocation(case, rp, pack, units, unit_rows, problems, formula_total, regime, gas_fixed_topup, detail)
    if problems:
        return _Allocation([], [], [], [], [], [], [], [], 0.0, True, [], new_frame)

    # ---- relief: share, kind and mechanism by the plan of each year ------------------------------
    relief_years = [y for i, y in enumerate(years) if regime[i] != "verified_emissions"]
    coal_on = case.allocation.coal_floor == "on" or (case.allocation.coal_floor == "auto" and is_coal)
    gas_entity = not coal_on and (gas_only or case.allocation.gas_topup == "on")
    cap_share = _plan_param("relief.coal_shortfall_cap_share", relief_years, rp, pack) if coal_on else {}
    relief_share, relief_kind = [0.0] * n, [""] * n
    for i, y in enumerate(years):
        if y in cap_share:
            relief_share[i], relief_kind[i] = 1 - cap_share[y], "coal_floor"
        elif gas_entity and y in relief_years and _gas_topup_on(case, rp, pack, classes, y):
            relief_share[i], relief_kind[i] = 1.0, "gas_topup"
    kind = "coal_floor" if coal_on else ("gas_topup" if "gas_topup" in relief_kind else "")
    mechanism = _plan_param("relief.mechanism", [y for y, s_ in zip(years, relief_share, strict=True) if s_], rp, pack)
    to_allocation = [mechanism.get(y, "extra_allocation") == "extra_allocation" for y in years]
    fixed = [a + g for a, g in zip(formula_total, gas_fixed_topup, strict=True)]
    if any(gas_fixed_topup):
        capped = [y for y, g in zip(years, gas_fixed_topup, strict=True) if g and y in mechanism and mechanism[y] == "obligation_cap"]
        notes.append(
            "Gas units of this mixed entity are topped up to their own baseline emissions (fixed); the coal "
            "floor applies to the entity's total."
            + (f" In {years_text(capped)} the plan caps the gas units' obligation instead; the top-up is held as "
               "allowances, which leaves the CCER cap 5% of the top-up higher." if capped else "")
        )
    for i in range(n):
        if regime[i] == "verified_emissions":
            fixed[i], relief_share[i], relief_kind[i], to_allocation[i] = 0.0, 1.0, "verified_emissions", True

    # ---- output cuts lose output-based allocation --------------------------------------------------
    output_loss = [
        (formula_total[i] / e_base[i]) if (regime[i] == "formula" and e_base[i] > 0) else 0.0 for i in range(n)
    ]

    # ---- absolute cap scenario ---------------------------------------------------------------------
    auction_max = [0.0] * n
    band = [(0.0, 0.0)] * n
    discount = 0.0
    in_ns = True
    capped_years = [y for y in years if y >= pack["absolute_cap.start_year"]] if pack["absolute_cap.enabled"] else []
    if rp("absolute_cap.enabled", capped_years):
        start = rp("absolute_cap.start_year", capped_years)
        capped = [i for i, y in enumerate(years) if y >= start]
        if method == "given":
            notes.append("Absolute cap: the case gives its allocation, so the cap scenario does not change it.")
        elif capped:
            decline = rp("absolute_cap.decline_per_year", capped_years)
            alpha = rp("absolute_cap.auction_share", capped_years)
            discount = rp("absolute_cap.auction_price_discount", capped_years)
            in_ns = bool(rp("absolute_cap.auction_counts_in_net_sales", capped_years))
            relief_continues = bool(rp("absolute_cap.relief_continues", capped_years))
            floor, ceiling = rp("absolute_cap.reserve_floor_cny_per_t", capped_years), rp("absolute_cap.reserve_ceiling_cny_per_t", capped_years)
            if start - 1 in years:
                j = years.index(start - 1)
                ref = fixed[j] if regime[j] == "formula" else e_base[j]
                ref_text = f"the {start - 1} allocation"
            else:
                j = capped[0]
                ref = fixed[j]
                ref_text = f"the output-based allocation of {years[j]} (the year before the cap is not planned)"
            for i in capped:
                cap = absolute_cap(ref, decline, years[i] - start)
                regime[i] = "absolute_cap"
                fixed[i] = (1 - alpha) * cap
                auction_max[i] = alpha * cap
                output_loss[i] = 0.0
                band[i] = (floor, ceiling)
                if not relief_continues:
                    relief_share[i], relief_kind[i] = 0.0, ""
            notes.append(
                f"Absolute cap from {start}: cap = {ref:,.0f} t ({ref_text}) x (1 - {decline:g})^(t - {start}); "
                f"{alpha:.0%} auctioned at the market price less {discount:.0%}; allocation no longer follows "
                "output, so cutting output creates surplus."
                + ("" if relief_continues else " Coal and gas relief end with the cap.")
            )
    if any(relief_share) and kind:
        ys = [y for y, s_, k in zip(years, relief_share, relief_kind, strict=True) if s_ and k == kind]
        if ys:
            if kind == "coal_floor":
                what = "coal floor: the gap is capped at 20% of verified emissions"
            elif all(mechanism.get(y) == "obligation_cap" for y in ys):
                what = "gas relief: the obligation is capped at the free allocation"
            else:
                what = "gas top-up: allocation raised to verified emissions"
            notes.append(
                f"Relief ({what}) is modelled exactly in {years_text(ys)}: it is computed from the emissions "
                "after abatement, so abatement inside the relief regime is worth only the uncovered share of "
                "the price."
            )
            notes += _mechanism_notes(ys, mechanism)
    if "verified_emissions" in regime:
        ys = [y for y, r in zip(years, regime, strict=True) if r == "verified_emissions"]
        notes.append(f"Industrial allocation equals verified emissions in {years_text(ys)}: no net position, abatement saves nothing there.")
    return _Allocation(
        regime=regime,
        formula_total=formula_total,
        fixed=fixed,
        relief_share=relief_share,
        relief_kind=relief_kind,
        to_allocation=to_allocation,
        output_loss=output_loss,
        auction_max=auction_max,
        auction_discount=discount,
        auction_in_net_sales=in_ns,
        price_band=band,
        detail=lambda: new_frame(detail, columns=DETAIL_COLUMNS),
    )


DETAIL_COLUMNS = [
    "entity", "unit", "unit_class", "year", "formula", "basis", "benchmark_output", "benchmark_heat_t_per_gj",
    "f_cool", "f_heat", "f_load", "allocation_output_t", "allocation_heat_t", "allocation_t",
]


def _detail(eid, u, y, formula, basis, b_e, b_h, f_cool, f_heat, f_load, out_t, heat_t) -> tuple:
    """One row of the allocation detail table (``DETAIL_COLUMNS``): a tuple, kept until the table is built."""
    return (eid, u.id, u.unit_class, y, formula, basis, b_e, b_h, f_cool, f_heat, f_load, out_t, heat_t, out_t + heat_t)


def _gas_topup_on(case: CaseSpec, rp, pack: RulePack, classes: set, year: int) -> bool:
    g = case.allocation.gas_topup
    return g == "on" or (g == "auto" and "gas" in classes and bool(_plan_param("relief.gas_topup", [year], rp, pack)[year]))


def _mechanism_notes(years: list[int], mechanism: dict[int, str]) -> list[str]:
    """How the relief of ``years`` is granted, by plan: an obligation cap (2019-2022 wording) or extra
    allowances (2023-2024 per EDF), and what follows for the CCER cap and trading (rules.md R3.13)."""
    capped = [y for y in years if mechanism.get(y) == "obligation_cap"]
    issued = [y for y in years if mechanism.get(y) == "extra_allocation"]
    out = []
    if capped:
        out.append(
            f"Relief in {years_text(capped)} caps the surrender obligation, as the plan words it (relief.mechanism): "
            "no allowances are issued, and the CCER 5% cap applies to the capped obligation."
        )
    if issued:
        out.append(
            f"Relief in {years_text(issued)} is issued as extra allowances (relief.mechanism): they can be traded "
            "and banked, and the CCER 5% cap applies to the verified emissions."
        )
    return out


def _plan_param(base: str, years, rp, pack: RulePack) -> dict[int, Any]:
    """Per year of ``years``: the value of the per-plan parameter ``<base>.<cycle>``, the cycle being the
    plan that covers the year in ``allocation.power.cycles`` (its formula name), recorded as applied to
    the years of that plan (worked out once per pack and years: the entities of a group share it)."""

    def build(read) -> dict[int, Any]:
        by_cycle: dict[str, list[int]] = {}
        cycles = read("allocation.power.cycles", years)
        for y in years:
            by_cycle.setdefault(_cycle_of(cycles, y), []).append(y)
        out: dict[int, Any] = {}
        for cycle, ys in by_cycle.items():
            out.update(dict.fromkeys(ys, read(f"{base}.{cycle}", ys)))
        return out

    return dict(_shared(pack, rp, ("plan", base, tuple(years)), build))


class _NoBenchmark(Exception):
    pass


def _power_formula(case: CaseSpec, year: int, rp) -> str:
    if case.allocation.formula != "auto":
        return case.allocation.formula
    return _cycle_formula(year, rp)


def _cycle_formula(year: int, rp) -> str:
    return _cycle_of(rp("allocation.power.cycles", [year]), year)


def _cycle_of(cycles, year: int) -> str:
    """The formula (the plan) of ``year`` in an ``allocation.power.cycles`` table."""
    for c in cycles:
        if c["from"] <= year <= c["to"]:
            return c["formula"]
    raise _NoBenchmark(f"the rule pack has no power allocation formula for {year}")


def _case_benchmark(case: CaseSpec, unit_class: str, year: int):
    if not case.allocation.benchmarks:
        return None
    rows = [r for r in case.allocation.benchmarks if r.year == year]
    exact = [r for r in rows if r.unit_class == unit_class]
    general = [r for r in rows if r.unit_class is None]
    return (exact or general or [None])[0]


def _pack_benchmarks(formula: str, unit_class: str, year: int, rp) -> tuple[float, float]:
    """(electricity, heat) benchmarks of the rule pack for a class, year and formula."""
    heat_key = "gas" if unit_class == "gas" else "coal"
    if formula == "generation_2023_2024":
        e_table, h_table = "benchmarks.power.electricity_t_per_mwh", "benchmarks.power.heat_t_per_gj"
    else:
        e_table, h_table = f"benchmarks.power.{formula}.electricity_t_per_mwh", f"benchmarks.power.{formula}.heat_t_per_gj"
    g = rp("benchmarks.power.tightening_per_year", [year] if year > 2024 else []) if formula == "generation_2023_2024" else 0.0
    table = {int(k): v for k, v in rp(e_table, [year]).get(unit_class, {}).items()}
    heat = {int(k): v for k, v in rp(h_table, [year]).get(heat_key, {}).items()}
    got = tightened(table, year, g) if (formula == "generation_2023_2024" or year in table) else None
    if got is None:
        raise _NoBenchmark(
            f"no {formula} benchmark for {unit_class} in {year}: the rule pack has {sorted(table)}; "
            "give an allocation.benchmarks row for that year"
        )
    hg = tightened(heat, year, g)
    return got[0], (hg[0] if hg else 0.0)


def _formula_and_benchmarks(formula: str, unit_class: str, year: int, rp) -> tuple[str, float, float]:
    """The formula of a year (``formula`` unless 'auto') and the rule pack's benchmarks for it."""
    if formula == "auto":
        formula = _cycle_formula(year, rp)
    return (formula, *_pack_benchmarks(formula, unit_class, year, rp))


def _power_unit(case: CaseSpec, u, r, year: int, rp, pack: RulePack) -> UnitAllocation:
    given = case.allocation.formula
    row = _case_benchmark(case, u.unit_class, year)
    if row is None:
        formula, b_e, b_h = _shared(pack, rp, ("power", given, u.unit_class, year),
                                    lambda read: _formula_and_benchmarks(given, u.unit_class, year, read))
    else:
        formula = given if given != "auto" else _shared(pack, rp, ("formula", year), lambda read: _cycle_formula(year, read))
        b_e, b_h = row.output_t_per_unit, row.heat_t_per_gj
    cond = u.condensing if u.condensing is not None else r.heat_gj == 0
    uy = UnitYear(
        unit_class=u.unit_class,
        cooling=u.cooling,
        condensing=cond,
        generation_mwh=r.output,
        supply_mwh=r.supply_mwh,
        heat_gj=r.heat_gj,
        load_rate=r.load_rate,
        heat_supply_ratio=r.heat_supply_ratio,
    )
    air = rp(f"benchmarks.power.air_cooling_factor.{formula}", [year]) if u.cooling == "air" else 1.0
    if formula == "generation_2023_2024":
        if r.load_rate is None:
            return power_generation(uy, b_e, b_h, air_factor=air, load_threshold=0.0, load_slope=0.0, load_scope="coal")
        return power_generation(
            uy, b_e, b_h, air_factor=air,
            load_threshold=rp("allocation.power.load_rate_2023.threshold", [year]),
            load_slope=rp("allocation.power.load_rate_2023.slope_per_point", [year]),
            load_scope=rp("allocation.power.load_rate_2023.applies_to", [year]),
        )
    return power_supply(
        uy, formula, b_e, b_h, air_factor=air,
        heat_coef=rp(f"allocation.power.heat_ratio_factor.{formula}", [year]),
        load_coef=rp(f"allocation.power.load_factor.{formula}", [year]) if r.load_rate is not None else {},
        load_scope=rp(f"allocation.power.load_factor.applies_to.{formula}", [year]),
    )


CAPACITY_ASK = "no capacity_mw given for"
"""Start of the warning that asks for the rated capacity of conventional coal units (a group gathers
these warnings into one)."""


def _check_classes(case: CaseSpec, units: list, rp, pack: RulePack, problems: list, warnings: list[str]) -> None:
    """A conventional coal unit's class against its rated capacity, by the class boundary of each year's
    plan: coal_gt300 (300 MW class and above) needs at least the boundary (400 MW in the 2019-2020 plan,
    annex 1), coal_le300 less. A contradiction is an input error quoting the rule; a missing capacity is
    a warning naming the field, since the class then cannot be checked (allocation given: not asked)."""
    years = case.years
    unasked = []
    for i, u in enumerate(units):
        if u.unit_class not in CONVENTIONAL_COAL:
            continue
        where = f"units[{i}]" if case.units else "entity"
        if u.capacity_mw is None:
            if case.allocation.method != "given":
                unasked.append(f"{where}.capacity_mw ({u.id}, {u.unit_class})" if case.units else f"{where}.capacity_mw ({u.unit_class})")
            continue
        boundary = _plan_param("allocation.power.class_boundary_mw", years, rp, pack)
        wrong: dict[float, dict[str, list[int]]] = {}  # boundary -> plan cycle -> years the class contradicts
        for y in years:
            b = float(boundary[y])
            if ("coal_gt300" if u.capacity_mw >= b else "coal_le300") != u.unit_class:
                wrong.setdefault(b, {}).setdefault(_cycle_formula(y, rp), []).append(y)
        for b, cycles in wrong.items():
            right = "coal_le300" if u.unit_class == "coal_gt300" else "coal_gt300"
            ys = sorted(y for c in cycles.values() for y in c)
            plans = " and ".join(_plan_name(c) for c in cycles)
            keys = ", ".join(f"allocation.power.class_boundary_mw.{c} [{pack.params[f'allocation.power.class_boundary_mw.{c}'].confidence}]"
                             for c in cycles)
            problems.append((
                f"{where}.capacity_mw",
                f"{u.capacity_mw:g} MW contradicts unit_class {u.unit_class} ({u.id}) in {years_text(ys)}: the {plans} "
                f"plan{'s count' if len(cycles) > 1 else ' counts'} conventional coal units of at least {b:g} MW rated capacity "
                f"as the '300 MW class and above' (300MW等级以上, coal_gt300) and smaller ones as the '300 MW class and "
                f"below' (coal_le300), so a {u.capacity_mw:g} MW unit is {right} (rule pack {keys}; the 2019-2020 plan, "
                "annex 1, rules.md §14); correct the class or the capacity",
            ))
    if unasked:
        warnings.append(
            f"{CAPACITY_ASK} {', '.join(unasked)}: the class of a conventional coal unit depends on its rated "
            "capacity (coal_gt300 = at least 400 MW in the 2019-2020 plan, annex 1; allocation.power.class_boundary_mw), "
            "so it is taken as given; give capacity_mw to have it checked"
        )


def _plan_name(cycle: str) -> str:
    """'supply_2019_2020' -> '2019-2020' (the plan a cycle's formula is named after)."""
    return cycle.split("_", 1)[-1].replace("_", "-")


def _preallocation(case: CaseSpec, rp, pack: RulePack, units: list, unit_rows: list[dict], al: _Allocation,
                   notes: list[str]) -> tuple[Preallocation, ...]:
    """How each vintage is pre-allocated, by its plan (rules.md R3.4, R3.15, R4.3).

    2019-2020: 70% of the units' 2018 net supply and heat x the vintage's benchmark x factors;
    2021-2022: the same on the 2021 activity (basis year inferred); 2023-2024: 70% of the verified
    emissions of the year before (EDF); industry 2025: 70% of 2024 emissions, none in the years
    allocated at verified emissions. An activity basis is worked out here; a basis of the year before
    (emissions or allocation) is known only from the solved plan (``allocation_schedule``). Without the
    basis year's activity, the vintage's own allocation before relief stands in and the source says so."""
    years = case.years
    if case.entity.sector != "power":
        planned = [y for i, y in enumerate(years) if al.regime[i] != "verified_emissions"]
        share = rp("allocation.preallocation.share.industry", planned) if planned else 0.0
        basis = rp("allocation.preallocation.basis.industry", planned) if planned else "none"
        return tuple(
            Preallocation(0.0, "none", 0.0, "none: allocation = verified emissions (rules.md R4.2)")
            if al.regime[i] == "verified_emissions" else
            Preallocation(share, basis, al.formula_total[i], f"{y} allocation (no activity basis for industry)")
            if basis == "activity" else Preallocation(share, basis)
            for i, y in enumerate(years)
        )
    share = _plan_param("allocation.preallocation.share", years, rp, pack)
    basis = _plan_param("allocation.preallocation.basis", years, rp, pack)
    out: list[Preallocation] = []
    missing: dict[int, tuple[list[int], set[str]]] = {}  # basis year -> (vintages, fields lacking it)
    for i, y in enumerate(years):
        if basis[y] != "activity":
            out.append(Preallocation(share[y], basis[y]))
            continue
        key = f"allocation.preallocation.basis_year.{_cycle_formula(y, rp)}"
        by = int(rp(key, [y])) if key in pack.params else y - 1
        got = _activity_basis(case, rp, pack, units, unit_rows, y, by) if al.regime[i] == "formula" else f"allocation {al.regime[i]}"
        if isinstance(got, float):
            out.append(Preallocation(share[y], "activity", got, f"{by} activity"))
            continue
        out.append(Preallocation(share[y], "activity", al.formula_total[i], f"{y} allocation ({by} activity not used: {got})"))
        if al.regime[i] == "formula":
            ys, fields = missing.setdefault(by, ([], set()))
            ys.append(y)
            fields.add(got)
    for by, (ys, fields) in missing.items():
        notes.append(
            f"Pre-allocation of {years_text(ys)} is a share of the units' {by} activity x the vintage's benchmark and "
            f"factors (allocation.preallocation.basis_year); {by} activity is not given ({', '.join(sorted(fields))}), "
            "so the allocation schedule takes each vintage's own allocation before relief instead."
        )
    return tuple(out)


def _activity_basis(case: CaseSpec, rp, pack: RulePack, units: list, unit_rows: list[dict], year: int,
                    basis_year: int) -> float | str:
    """The allocation of vintage ``year`` (its formula, benchmarks and factors) on every unit's activity
    of ``basis_year``: in t, or the field that lacks the activity."""
    total = 0.0
    f = case.allocation.correction_factor
    for ui, u in enumerate(units):
        where = f"units[{ui}]" if case.units else ""
        row = unit_rows[ui].get(basis_year) or {r.year: r for r in u.prior_activity}.get(basis_year)
        field_ = f"{where}.prior_activity" if where else "prior_activity"
        if row is None:
            return field_
        if row.output is None and _power_formula(case, year, rp) == "generation_2023_2024":
            return f"{field_}.{basis_year}.output"
        try:
            ua = _power_unit(case, u, row, year, rp, pack)
        except ValueError:
            return f"{field_}.{basis_year}.supply_mwh"
        total += ua.electricity_t * f + ua.heat_t
    return total


def _industry_unit(case: CaseSpec, u, r, year: int, rp) -> UnitAllocation:
    refs = {}
    for row in case.allocation.benchmarks:
        if row.unit_class in (None, u.unit_class):
            if row.year not in refs or row.unit_class == u.unit_class:
                refs[row.year] = row.output_t_per_unit
    g = rp("benchmarks.industry.tightening_per_year", [year])
    got = tightened(refs, year, g)
    if got is None:
        raise _NoBenchmark(
            f"no intensity reference for {u.unit_class} at or before {year}; give an allocation.benchmarks row "
            f"(t CO2 per t of product) for {year} or an earlier year"
        )
    out = industry_intensity(r.output, got[0])
    return UnitAllocation("industry_intensity", r.output, got[0], 0.0, 1.0, 1.0, 1.0, out, 0.0)


def _old_market_ccers(years, pack, rp, old_last: int, ccer_max: list[float], notes: list[str]):
    """Which years' market CCERs are old-system, and the year index after which they expire.

    Old CCERs bought for a year after their last-use year could never be surrendered: such purchases
    are closed (availability 0). The model then needs one constraint, at the last-use year: the pool
    held out of it is at most the new-system CCERs bought so far (using old ones first is always
    possible, so this is exact)."""
    old_until = pack["ccer.market_old_system_last_year"]  # recorded as used only when it matters
    if years[0] > old_until:
        return tuple(False for _ in years), -1
    rp("ccer.market_old_system_last_year", [y for y in years if y <= old_until])
    old = tuple(y <= old_until for y in years)
    for i, y in enumerate(years):
        if old[i] and y > old_last and ccer_max[i] > 0:
            ccer_max[i] = 0.0
            notes.append(f"Market CCERs for {y} are old-system and past their last use ({old_last}): none can be bought.")
    expiry = years.index(old_last) if years[0] <= old_last < years[-1] or old_last == years[-1] else -1
    if expiry >= 0:
        notes.append(
            f"Market CCERs bought for {years[0]}-{min(old_until, years[-1])} are old-system CCERs, usable up to "
            f"the {old_last} surrender; only new-system CCERs are carried beyond it."
        )
    return old, expiry


def _borrowing(case: CaseSpec, rp, notes: list[str]) -> tuple[list[float], float, int]:
    years = case.years
    ys = [y for y in rp("borrowing.conditional.years", ()) if y in years]
    if case.entity.sector != "power" or not ys:
        return [0.0] * len(years), 0.0, -1
    phi = rp("borrowing.conditional.max_share_of_gap", ys)
    theta = rp("borrowing.conditional.min_gap_share", ys)
    src = rp("borrowing.conditional.source_year", ys)
    notes.append(
        f"Conditional pre-draw in {years_text(ys)}: with a gap of at least {theta:.0%} of verified emissions, up "
        f"to {phi:.0%} of the gap may be drawn from the {src} allocation"
        + ("." if src in years else f" ({src} is beyond the horizon: repaid at the last buy price).")
    )
    return [phi if y in ys else 0.0 for y in years], theta, src


def _carry_rules(years: list[int], sector: str, rp) -> tuple[list[CarryRule], list[str]]:
    last_legacy = rp(f"carryover.legacy.last_vintage.{sector}", ())
    rules, text = [], []
    for y in years:
        if y < last_legacy:
            mode = rp("carryover.pre_legacy.mode", [y])
            base = k = None
        elif y == last_legacy:
            mode, base, k = "formula", rp(f"carryover.legacy.base_t.{sector}", [y]), rp("carryover.legacy.multiplier", [y])
        else:
            post = rp("carryover.post_legacy.mode", [y])
            if post == "unlimited":
                mode, base, k = "unlimited", None, None
            elif post == "same":
                mode = "formula"
                base, k = rp(f"carryover.legacy.base_t.{sector}", [y]), rp("carryover.legacy.multiplier", [y])
            else:
                mode = "formula"
                base = rp(f"carryover.post_legacy.base_t.{sector}", [y])
                k = rp("carryover.post_legacy.multiplier", [y])
        if mode == "unlimited":
            rules.append(CarryRule(limited=False))
            text.append("unlimited")
            continue
        floor_at_zero = bool(rp("carryover.net_sales_floor_at_zero", [y]))
        if floor_at_zero or k == 0:
            rules.append(CarryRule(True, floor_t=base, multiplier=k, threshold_t=0.0, base_t=base))
            text.append(f"{base:,.0f} + {k:g} x max(0, net sales)")
        else:
            rules.append(CarryRule(True, floor_t=0.0, multiplier=k, threshold_t=-base / k, base_t=base))
            text.append(f"max(0, {base:,.0f} + {k:g} x net sales)")
    return rules, text


def _project(p, years: list[int], rate: float, method: str) -> ProjectData:
    options = []
    start = max(p.earliest_start_year or years[0], years[0])
    n = p.lifetime_years
    crf = (1 / n) if rate == 0 else rate * (1 + rate) ** n / ((1 + rate) ** n - 1)
    for s in range(start, years[-1] + 1):
        first_op = s + p.lead_time_years
        if first_op > years[-1]:
            break
        operating = tuple(first_op <= y < first_op + n for y in years)
        if method == "upfront":
            capex = tuple(p.capex_cny if y == s else 0.0 for y in years)
        else:
            capex = tuple(p.capex_cny * crf if op else 0.0 for y, op in zip(years, operating, strict=True))
        opex = tuple(p.opex_cny_per_year if op else 0.0 for op in operating)
        options.append(ProjectOption(build_year=s, operating=operating, capex_cny=capex, opex_cny=opex))
    return ProjectData(id=p.id, reduction_t_per_year=p.reduction_t_per_year, options=tuple(options))


def new_frame(*args, **kwargs) -> pd.DataFrame:
    """``pandas.DataFrame(...)``, pandas imported on first use (see ``models/__init__.py``: pandas with
    pyarrow is ~80 MB of memory that need not sit under the solver's peak)."""
    import pandas as pd

    return pd.DataFrame(*args, **kwargs)


def _copy_on_write() -> bool:
    """Whether pandas copies on write (pandas 3): a shallow copy of the cached table can never
    change the cache."""
    import pandas as pd

    return int(pd.__version__.split(".")[0]) >= 3


_ASSUMPTIONS_CACHE: dict[tuple[int, tuple[str, ...]], tuple[RulePack, pd.DataFrame]] = {}


def assumptions_frame(pack: RulePack, used: dict[str, set[int]], share: bool = True) -> pd.DataFrame:
    """The assumptions table of the rule-pack parameters used (a copy of a table cached per loaded
    pack and keys with their years: the entities of a group share one pack and mostly the same keys;
    ``share`` off: built afresh)."""
    key = (id(pack), tuple((k, tuple(sorted(ys))) for k, ys in used.items()))
    hit = _ASSUMPTIONS_CACHE.get(key) if share else None
    if hit is not None and hit[0] is pack:
        return hit[1].copy(deep=not _copy_on_write())
    table = _assumptions_table(pack, used)
    if len(_ASSUMPTIONS_CACHE) > 256:
        _ASSUMPTIONS_CACHE.clear()
    _ASSUMPTIONS_CACHE[key] = (pack, table)
    return table.copy(deep=not _copy_on_write())


def _assumptions_table(pack: RulePack, used: dict[str, set[int]]) -> pd.DataFrame:
    rows = []
    for key, applied in used.items():
        value, p, overridden = pack.used(key)
        beyond = p.beyond(applied)
        rows.append(
            {
                "parameter": key,
                "value": value if not isinstance(value, dict) else _compact(value),
                "unit": p.unit,
                "confidence": p.confidence,
                "published": p.published_text,
                "applied_beyond_published": years_text(beyond) if beyond else "",
                "uncertain": p.confidence in UNCERTAIN or bool(beyond),
                "overridden": overridden,
                "source": p.source,
                "url": p.url,
                "note": p.note,
            }
        )
    return new_frame(rows)


def _compact(d: dict) -> str:
    return "; ".join(
        f"{k}: " + (", ".join(f"{kk}={vv}" for kk, vv in v.items()) if isinstance(v, dict) else str(v))
        for k, v in d.items()
    )
