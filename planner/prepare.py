"""Validated case + rule pack -> plain ``ModelData`` for the math, plus what the report must say.

All policy decisions happen here, in plain Python: which carry-over rule applies at which
transition, free allocation and relief, penalty rates, discount factors, project cash flows. The
result also records every rule-pack parameter used and the modelling notes a plan must show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from models.data import (
    CarryRule,
    CcerLotData,
    EntityData,
    MeasureData,
    ModelData,
    ProjectData,
    ProjectOption,
)
from planner.errors import CaseValidationError
from planner.rulepack import UNCERTAIN, RulePack, load_rule_pack
from planner.schema import CaseSpec

INF = math.inf


@dataclass(frozen=True)
class PreparedCase:
    """Everything downstream of validation needs: the model data and what the plan must state."""

    case: CaseSpec
    pack: RulePack
    data: ModelData
    inputs: pd.DataFrame
    """Per-year resolved inputs (allocation parts, relief, prices, limits, carry rule)."""
    assumptions: pd.DataFrame
    """Rule-pack parameters in force: value, unit, confidence, source, overridden."""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    used_params: tuple[str, ...] = ()


def prepare(case: CaseSpec, pack: RulePack | None = None) -> PreparedCase:
    """Resolve ``case`` against its rule pack into ``ModelData``."""
    pack = pack or load_rule_pack(case.policy.rule_pack, case.policy.overrides)
    used: list[str] = []

    def rp(key: str) -> Any:
        if key not in used:
            used.append(key)
        return pack[key]

    years = case.years
    ent = case.entity
    sector = ent.sector
    activity = {r.year: r for r in case.activity}
    market = {r.year: r for r in case.market}
    notes: list[str] = []
    warnings: list[str] = []
    problems: list[tuple[str, str]] = []

    e_base = [activity[y].baseline_emissions_t for y in years]

    # ---- allocation and relief --------------------------------------------------------------
    bench_alloc, bench_e, bench_h = _benchmark_allocation(case, rp, problems)
    if problems:
        raise CaseValidationError("allocation", problems)
    is_coal = ent.unit_class.startswith("coal")
    is_gas = ent.unit_class == "gas"
    coal_on = case.allocation.coal_floor == "on" or (case.allocation.coal_floor == "auto" and is_coal)
    gas_on = case.allocation.gas_topup == "on" or (
        case.allocation.gas_topup == "auto" and is_gas and rp("relief.gas_topup")
    )
    relief = [0.0] * len(years)
    if coal_on:
        share = rp("relief.coal_shortfall_cap_share")
        relief = [max(0.0, (1 - share) * e - a) for e, a in zip(e_base, bench_alloc, strict=True)]
    if gas_on:
        relief = [max(r, e - a) for r, e, a in zip(relief, e_base, bench_alloc, strict=True)]
    mechanism = rp("relief.mechanism") if (coal_on or gas_on) else "extra_allocation"
    if mechanism == "extra_allocation":
        allocation = [a + r for a, r in zip(bench_alloc, relief, strict=True)]
        relief_obl = [0.0] * len(years)
    else:
        allocation = list(bench_alloc)
        relief_obl = list(relief)
    if any(r > 0 for r in relief):
        ys = [y for y, r in zip(years, relief, strict=True) if r > 0]
        notes.append(
            f"Relief ({'coal 80% floor' if coal_on else 'gas top-up'}) applies in {_years_text(ys)}; "
            "it is computed from baseline emissions, so abatement in those years is valued at the full "
            "market price (the exact relief regime with abatement is a later issue)."
        )

    # ---- market ------------------------------------------------------------------------------
    buy = [market[y].cea_buy_cny_per_t for y in years]
    sell = [market[y].sell_price for y in years]
    ccer_buy = [market[y].ccer_cny_per_t for y in years]
    ccer_sell = [market[y].ccer_sell_cny_per_t or 0.0 for y in years]
    ccer_sell_max = [INF if market[y].ccer_sell_cny_per_t is not None else 0.0 for y in years]
    opening_cea = float(sum(case.opening.cea_by_vintage.values()))
    ns0 = case.opening.net_sales_since_2019_t

    # ---- carry-over rules per transition -------------------------------------------------------
    carry_rules, carry_text = _carry_rules(years, sector, rp)
    b_max = max((r.base_t for r in carry_rules if r.limited), default=0.0)
    k_max = max((r.multiplier for r in carry_rules if r.limited), default=0.0)
    derived_bound = 2.0 * (sum(e_base) + opening_cea + sum(allocation)) + b_max + k_max * max(0.0, ns0)
    buy_max = [
        market[y].buy_limit_t if market[y].buy_limit_t is not None else derived_bound for y in years
    ]
    if any(market[y].buy_limit_t is None for y in years):
        notes.append(
            f"CEA purchases without a market limit are bounded by {derived_bound:,.0f} t a year, "
            "a bound derived from the data that no compliance plan needs; the plan says if it binds."
        )
    sell_max = [market[y].sell_limit_t if market[y].sell_limit_t is not None else INF for y in years]
    ccer_max = [
        market[y].ccer_available_t if market[y].ccer_available_t is not None else INF for y in years
    ]

    # ---- penalty ---------------------------------------------------------------------------
    multiple = rp("penalty.multiple")
    deduction = bool(rp("penalty.next_year_deduction"))
    penalty = [
        multiple * (market[y].penalty_reference_cny_per_t or market[y].cea_buy_cny_per_t)
        for y in years
    ]
    hard = case.policy.compliance == "hard"
    rp("borrowing.allowed")

    # ---- CCER --------------------------------------------------------------------------------
    cap_share = rp("ccer.cap_share")
    cap_on_obligation = rp("ccer.cap_base") == "obligation"
    old_last = rp("ccer.old_last_compliance_year")

    # ---- finance ----------------------------------------------------------------------------
    fin = case.finance
    base_year = fin.base_year or years[0]
    r = fin.discount_rate
    df = [(1 + r) ** -(y - base_year) for y in years]
    if fin.terminal_value == "sell_price":
        term_cea, term_ccer = sell[-1], ccer_sell[-1]
    elif fin.terminal_value == "zero":
        term_cea, term_ccer = 0.0, 0.0
    else:
        term_cea, term_ccer = fin.terminal_cea_cny_per_t or 0.0, fin.terminal_ccer_cny_per_t or 0.0

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
            )
        )
    projects = [_project(p, years, r, fin.capex_method) for p in case.abatement.projects]
    for p, pd_ in zip(case.abatement.projects, projects, strict=True):
        if not pd_.options:
            warnings.append(f"project {p.id} cannot start operating within the horizon and is ignored")

    entity = EntityData(
        id=ent.id,
        emissions_baseline_t=tuple(e_base),
        allocation_t=tuple(allocation),
        relief_obligation_t=tuple(relief_obl),
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
    )
    data = ModelData(years=tuple(years), discount_factor=tuple(df), entities=(entity,))

    warnings += _arbitrage_warnings(years, buy, sell, df, carry_rules, market, term_cea)
    inputs = pd.DataFrame(
        {
            "entity": ent.id,
            "year": years,
            "output": [activity[y].output for y in years],
            "heat_gj": [activity[y].heat_gj for y in years],
            "emissions_baseline_t": e_base,
            "benchmark_output_t_per_unit": bench_e,
            "benchmark_heat_t_per_gj": bench_h,
            "allocation_benchmark_t": bench_alloc,
            "relief_t": relief,
            "allocation_t": allocation,
            "relief_obligation_t": relief_obl,
            "cea_buy_cny_per_t": buy,
            "cea_sell_cny_per_t": sell,
            "ccer_cny_per_t": ccer_buy,
            "ccer_sell_cny_per_t": ccer_sell,
            "fee_cny_per_t": list(entity.fee_cea_cny_per_t),
            "ccer_fee_cny_per_t": list(entity.fee_ccer_cny_per_t),
            "buy_max_t": buy_max,
            "buy_limit_given": [market[y].buy_limit_t is not None for y in years],
            "sell_max_t": sell_max,
            "ccer_available_t": ccer_max,
            "penalty_cny_per_t": penalty,
            "ccer_cap_share": [cap_share] * len(years),
            "discount_factor": df,
            "carry_rule": carry_text,
        }
    )
    return PreparedCase(
        case=case,
        pack=pack,
        data=data,
        inputs=inputs,
        assumptions=_assumptions(pack, used),
        notes=notes,
        warnings=warnings,
        used_params=tuple(used),
    )


def _years_text(ys: list[int]) -> str:
    if len(ys) > 2 and ys == list(range(ys[0], ys[-1] + 1)):
        return f"{ys[0]}-{ys[-1]}"
    return ", ".join(map(str, ys))


def _benchmark_allocation(case: CaseSpec, rp, problems) -> tuple[list, list, list]:
    years = case.years
    act = {r.year: r for r in case.activity}
    if case.allocation.method == "given":
        given = {r.year: r.allocation_t for r in case.allocation.given}
        return [given[y] for y in years], [None] * len(years), [None] * len(years)
    rows = {r.year: r for r in case.allocation.benchmarks}
    ent = case.entity
    alloc, be, bh = [], [], []
    if ent.sector == "industry":
        for y in years:
            alloc.append(act[y].output * rows[y].output_t_per_unit * case.allocation.correction_factor)
            be.append(rows[y].output_t_per_unit)
            bh.append(0.0)
        return alloc, be, bh
    table = rp("benchmarks.power.electricity_t_per_mwh").get(ent.unit_class, {})
    heat_table = rp("benchmarks.power.heat_t_per_gj").get("gas" if ent.unit_class == "gas" else "coal", {})
    table = {int(k): v for k, v in table.items()}
    heat_table = {int(k): v for k, v in heat_table.items()}
    g = None
    cooling = 1.0
    if ent.cooling == "air" and ent.unit_class != "gas":
        cooling = rp("benchmarks.power.air_cooling_factor")
    for y in years:
        if y in rows:
            b_e, b_h = rows[y].output_t_per_unit, rows[y].heat_t_per_gj
        elif y in table:
            b_e, b_h = table[y], heat_table.get(y, 0.0)
        elif table and y > max(table):
            if g is None:
                g = rp("benchmarks.power.tightening_per_year")
            last = max(table)
            f = (1 - g) ** (y - last)
            b_e, b_h = table[last] * f, heat_table.get(last, 0.0) * f
        else:
            problems.append(
                (
                    "allocation.benchmarks",
                    f"no benchmark for {y}: the rule pack has {sorted(table)} for {ent.unit_class}; "
                    "give a benchmarks row for that year",
                )
            )
            continue
        be.append(b_e)
        bh.append(b_h)
        alloc.append(act[y].output * b_e * cooling * case.allocation.correction_factor + act[y].heat_gj * b_h)
    return alloc, be, bh


def _carry_rules(years: list[int], sector: str, rp) -> tuple[list[CarryRule], list[str]]:
    last_legacy = rp(f"carryover.legacy.last_vintage.{sector}")
    rules, text = [], []
    floor_at_zero = None
    for y in years:
        if y < last_legacy:
            mode = rp("carryover.pre_legacy.mode")
            base = k = None
        elif y == last_legacy:
            mode, base, k = "formula", rp(f"carryover.legacy.base_t.{sector}"), rp("carryover.legacy.multiplier")
        else:
            post = rp("carryover.post_legacy.mode")
            if post == "unlimited":
                mode, base, k = "unlimited", None, None
            elif post == "same":
                mode = "formula"
                base, k = rp(f"carryover.legacy.base_t.{sector}"), rp("carryover.legacy.multiplier")
            else:
                mode = "formula"
                base = rp(f"carryover.post_legacy.base_t.{sector}")
                k = rp("carryover.post_legacy.multiplier")
        if mode == "unlimited":
            rules.append(CarryRule(limited=False))
            text.append("unlimited")
            continue
        if floor_at_zero is None:
            floor_at_zero = bool(rp("carryover.net_sales_floor_at_zero"))
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


def _arbitrage_warnings(years, buy, sell, df, rules, market, term_cea) -> list[str]:
    out = []
    for i, _ in enumerate(years):
        if market[years[i]].buy_limit_t is not None:
            continue
        for j in range(i + 1, len(years) + 1):
            if any(rules[t].limited for t in range(i, j)):
                break
            later = sell[j] * df[j] if j < len(years) else term_cea * df[-1]
            if later > buy[i] * df[i] + 1e-9:
                where = years[j] if j < len(years) else "the horizon end"
                out.append(
                    f"buying in {years[i]} and selling in {where} is profitable at these prices and no "
                    "carry-over limit stops it; purchases are bounded only by the derived bound"
                )
                break
    return out


def _assumptions(pack: RulePack, used: list[str]) -> pd.DataFrame:
    rows = []
    for key in used:
        value, p, overridden = pack.used(key)
        rows.append(
            {
                "parameter": key,
                "value": value if not isinstance(value, dict) else _compact(value),
                "unit": p.unit,
                "confidence": p.confidence,
                "uncertain": p.confidence in UNCERTAIN,
                "overridden": overridden,
                "source": p.source,
                "url": p.url,
                "note": p.note,
            }
        )
    return pd.DataFrame(rows)


def _compact(d: dict) -> str:
    return "; ".join(
        f"{k}: " + (", ".join(f"{kk}={vv}" for kk, vv in v.items()) if isinstance(v, dict) else str(v))
        for k, v in d.items()
    )
