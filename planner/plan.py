"""The compliance plan: tidy tables built from the prepared case and the extracted results.

Nothing here touches Pyomo: it reads ``models.Results`` frames (plain pandas) and the prepared case.
Binding rules are stated in words from the tables and the duals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from planner.allocation import allocation_schedule
from planner.prepare import PreparedCase

TOL_T = 1e-3  # tonnes: quantities closer than this count as equal (reporting only)


@dataclass
class Plan:
    """A solved, checked compliance plan for one entity (or each entity of a group)."""

    annual: pd.DataFrame
    abatement: pd.DataFrame
    builds: pd.DataFrame
    project_years: pd.DataFrame
    ccer_lots: pd.DataFrame
    costs: pd.DataFrame
    shadow_prices: pd.DataFrame
    bindings: pd.DataFrame
    assumptions: pd.DataFrame
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    allocation_detail: pd.DataFrame = field(default_factory=pd.DataFrame)
    """(unit, year): the official formula's terms."""
    allocation_schedule: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per vintage: pre-allocation, true-up and surrender, with their months."""

    TABLES = (
        "annual",
        "allocation_detail",
        "allocation_schedule",
        "abatement",
        "builds",
        "project_years",
        "ccer_lots",
        "costs",
        "shadow_prices",
        "bindings",
        "assumptions",
    )


def assemble_plan(prep: PreparedCase, results, solve_result) -> Plan:
    """Join results with the prepared inputs and explain which rules bind."""
    inp = prep.inputs
    ann = results.annual.merge(inp, on=["entity", "year"], how="left")
    cost_wide = results.costs.pivot_table(
        index=["entity", "year"], columns="component", values="nominal_cny", sort=False
    )
    cost_wide.columns = [f"cost_{c}_cny" for c in cost_wide.columns]
    ann = ann.merge(cost_wide.reset_index(), on=["entity", "year"], how="left")
    comp_cols = [c for c in ann.columns if c.startswith("cost_") and c.endswith("_cny")]
    ann["total_cost_cny"] = ann[comp_cols].sum(axis=1)
    ann["discounted_cost_cny"] = ann["total_cost_cny"] * ann["discount_factor"]
    ann["buy_cny"] = ann["buy_t"] * ann["cea_buy_cny_per_t"]
    ann["sell_cny"] = ann["sell_t"] * ann["cea_sell_cny_per_t"]
    ann["ccer_buy_cny"] = ann["ccer_buy_t"] * ann["ccer_cny_per_t"]
    ann["position_before_trading_t"] = ann["allocation_t"] - ann["obligation_t"]

    shadow = _shadow_prices(results.duals, inp)
    sp = shadow[shadow["constraint"] == "balance_surrender"][["entity", "year", "cny_per_t"]]
    ann = ann.merge(sp.rename(columns={"cny_per_t": "shadow_price_cny_per_t"}), on=["entity", "year"], how="left")

    abatement = results.abatement.copy()
    if not abatement.empty:
        costs_by = {
            (m.id, y): m.cost_cny_per_t[i]
            for e in prep.data.entities
            for m in e.measures
            for i, y in enumerate(prep.data.years)
        }
        abatement["cost_cny_per_t"] = [costs_by[(k, y)] for k, y in zip(abatement.measure, abatement.year, strict=True)]
        abatement["cost_cny"] = abatement["abate_t"] * abatement["cost_cny_per_t"]

    npv = float(results.objective_cny)
    total_obligation = float(ann["obligation_t"].sum())
    summary = {
        "entity": prep.case.entity.id,
        "entity_name": prep.case.entity.name,
        "sector": prep.case.entity.sector,
        "unit_class": prep.case.entity.unit_class,
        "years": [int(prep.data.years[0]), int(prep.data.years[-1])],
        "status": str(solve_result.status),
        "termination": solve_result.termination,
        "objective_cny": npv,
        "npv_cost_cny": npv,
        "nominal_cost_cny": float(ann["total_cost_cny"].sum()),
        "cost_per_t_obligation_cny": npv / total_obligation if total_obligation else None,
        "total_obligation_t": total_obligation,
        "total_shortfall_t": float(ann["shortfall_t"].sum()),
        "mip_gap": solve_result.gap,
        "is_mip": solve_result.is_mip,
        "shadow_price_basis": solve_result.duals_basis,
        "rule_pack": prep.pack.ref,
        "rule_pack_overrides": dict(prep.pack.overrides),
        "compliance_mode": prep.case.policy.compliance,
        "solver": f"{solve_result.solver} ({solve_result.solver_version})",
        "solver_options": dict(solve_result.options),
        "size": dict(solve_result.size),
    }
    plan = Plan(
        annual=ann,
        abatement=abatement,
        builds=results.builds,
        project_years=results.project_years,
        ccer_lots=results.ccer_lots,
        costs=results.costs,
        shadow_prices=shadow,
        bindings=pd.DataFrame(),
        assumptions=prep.assumptions,
        summary=summary,
        notes=list(prep.notes),
        warnings=list(prep.warnings),
        allocation_detail=prep.allocation_detail,
        allocation_schedule=_schedule(prep, ann),
    )
    plan.bindings = explain_bindings(plan, prep)
    return plan


def _schedule(prep: PreparedCase, ann: pd.DataFrame) -> pd.DataFrame:
    """When allowances arrive and when they are due, per entity and vintage."""
    pack = prep.pack
    frames = []
    for e, a in ann.groupby("entity", sort=False):
        frames.append(
            allocation_schedule(
                entity=str(e),
                years=[int(y) for y in a["year"]],
                allocation_t=a["allocation_t"].tolist(),
                emissions_t=a["emissions_t"].tolist(),
                surrender_t=(a["surrender_t"] + a["ccer_surrendered_t"]).tolist(),
                prior_emissions_t=prep.case.opening.prior_year_emissions_t,
                share=pack["allocation.preallocation.share"],
                basis=pack["allocation.preallocation.basis"],
                pre_month=pack["allocation.preallocation.month"],
                trueup_month=pack["allocation.trueup.month"],
                deadline_month=pack["compliance.deadline_month"],
                deadlines={int(k): str(v) for k, v in pack["compliance.deadline_by_vintage"].items()},
                calendar={int(k): v for k, v in pack["allocation.calendar_by_vintage"].items()},
            )
        )
    return pd.DataFrame([r for f in frames for r in f])


def _shadow_prices(duals: pd.DataFrame, inp: pd.DataFrame) -> pd.DataFrame:
    """Duals in nominal CNY per tonne, signed so that a positive number is a cost.

    ``balance_surrender``: cost of one more tonne of obligation in that year.
    ``limit_ccer_share`` / ``limit_carryover``: saving from one more tonne of cap or limit.
    """
    if duals.empty:
        return pd.DataFrame(columns=["entity", "year", "constraint", "cny_per_t", "meaning"])
    d = duals.merge(inp[["entity", "year", "discount_factor"]], on=["entity", "year"])
    sign = d["constraint"].map(
        {"balance_surrender": 1.0, "balance_allowances": 1.0, "limit_ccer_share": -1.0, "limit_carryover": -1.0}
    )
    d["cny_per_t"] = sign * d["dual"] / d["discount_factor"]
    d["cny_per_t"] = d["cny_per_t"].where(d["cny_per_t"].abs() > 1e-9, 0.0)
    meaning = {
        "balance_surrender": "cost of one more tonne of obligation",
        "balance_allowances": "value of one more allowance received in the cycle",
        "limit_ccer_share": "saving from one more tonne of CCER cap",
        "limit_carryover": "saving from one more tonne of carry-over limit",
    }
    d["meaning"] = d["constraint"].map(meaning)
    return d[["entity", "year", "constraint", "cny_per_t", "meaning"]]


def explain_bindings(plan: Plan, prep: PreparedCase) -> pd.DataFrame:
    """Which rules and limits bind, per year, in words."""
    rows: list[dict[str, Any]] = []
    sp = plan.shadow_prices.set_index(["entity", "year", "constraint"])["cny_per_t"] if not plan.shadow_prices.empty else pd.Series(dtype=float)

    def saving(e, y, con) -> float | None:
        v = sp.get((e, y, con))
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    ent_data = {e.id: e for e in prep.data.entities}
    sold_to_date = plan.annual.groupby("entity")["sell_t"].cumsum()
    for r, sold in zip(plan.annual.itertuples(index=False), sold_to_date, strict=True):
        e, y = r.entity, int(r.year)
        d = ent_data[e]
        i = prep.data.years.index(y)
        cap = d.ccer_cap_share[i] * (r.obligation_t if d.ccer_cap_on_obligation else r.emissions_t)
        if cap > TOL_T and r.ccer_surrendered_t >= cap - TOL_T:
            s = saving(e, y, "limit_ccer_share")
            rows.append(_row(e, y, "ccer_cap", f"CCER cap binds in {y}: {r.ccer_surrendered_t:,.0f} t CCER = "
                              f"{d.ccer_cap_share[i]:.0%} of the obligation"
                              + (f"; one more tonne of cap would save {s:,.2f} CNY" if s else ""), s))
        if math.isfinite(r.carry_limit_t) and (r.carry_t >= r.carry_limit_t - TOL_T) and (
            r.lapse_t > TOL_T or (saving(e, y, "limit_carryover") or 0) > 1e-6
        ):
            text = (f"carry-over limit binds in {y}: {r.carry_t:,.0f} t carried into {y + 1} "
                    f"(limit {r.carry_rule}, net sales {r.net_sales_t:,.0f} t)")
            raised = r.carry_limit_t - d.carry_rules[i].floor_t
            if sold > TOL_T and raised > TOL_T:
                text += f"; selling {sold:,.0f} t in the plan up to {y} helped raise it {raised:,.0f} t above its floor"
            if r.lapse_t > TOL_T:
                text += f"; {r.lapse_t:,.0f} t above the limit lapse"
            rows.append(_row(e, y, "carryover_limit", text, saving(e, y, "limit_carryover")))
        if r.buy_t >= r.buy_max_t - TOL_T and r.buy_max_t > 0:
            if r.buy_limit_given:
                rows.append(_row(e, y, "buy_limit", f"CEA purchase limit binds in {y}: {r.buy_t:,.0f} t", None))
            else:
                rows.append(_row(e, y, "derived_trade_bound", f"purchases hit the derived bound of {r.buy_max_t:,.0f} t in {y}: the prices reward speculation; set market limits", None))
        if math.isfinite(r.sell_max_t) and r.sell_max_t > 0 and r.sell_t >= r.sell_max_t - TOL_T:
            rows.append(_row(e, y, "sell_limit", f"CEA sale limit binds in {y}: {r.sell_t:,.0f} t", None))
        if math.isfinite(r.ccer_available_t) and r.ccer_available_t > 0 and r.ccer_buy_t >= r.ccer_available_t - TOL_T:
            rows.append(_row(e, y, "ccer_availability", f"CCER availability binds in {y}: all {r.ccer_available_t:,.0f} t bought", None))
        if r.relief_t > TOL_T and r.relief_rule in ("coal_floor", "gas_topup"):
            share = d.relief_share[i]
            what = (f"coal relief applies in {y}: allocation raised to {share:.0%} of verified emissions (+{r.relief_t:,.0f} t)"
                    if r.relief_rule == "coal_floor" else
                    f"gas top-up applies in {y}: allocation raised to verified emissions (+{r.relief_t:,.0f} t)")
            what += f"; a tonne abated here is worth only {1 - share:.0%} of the allowance price"
            rows.append(_row(e, y, "relief_regime", what, None))
        if r.borrow_t > TOL_T:
            rows.append(_row(e, y, "predraw", f"pre-draw of {r.borrow_t:,.0f} t in {y} from a later allocation "
                             f"(gap {r.emissions_t - r.allocation_benchmark_t - r.relief_t:,.0f} t)", None))
        if r.auction_max_t > 0 and r.auction_buy_t >= r.auction_max_t - TOL_T:
            rows.append(_row(e, y, "auction_share", f"the whole auctioned share is bought in {y}: {r.auction_buy_t:,.0f} t", None))
        if r.shortfall_t > TOL_T:
            why = [b["rule"] for b in rows if b["year"] == y and b["rule"] in ("buy_limit", "ccer_cap", "ccer_availability")]
            rows.append(_row(e, y, "shortfall",
                             f"shortfall of {r.shortfall_t:,.0f} t in {y}, fined at {d.penalty_cny_per_t[i]:,.2f} CNY/t"
                             + (" and deducted from next year's allocation" if d.shortfall_deducted_next_year else "")
                             + (f"; forced by {', '.join(why)}" if why else ""), None))
    if not plan.abatement.empty:
        pot = {(m.id, y): m.potential_t[i] for e in prep.data.entities for m in e.measures for i, y in enumerate(prep.data.years)}
        for r in plan.abatement.itertuples(index=False):
            p = pot[(r.measure, r.year)]
            if p > TOL_T and r.abate_t >= p - TOL_T:
                rows.append(_row(r.entity, int(r.year), "measure_potential",
                                 f"measure {r.measure} used to its full potential in {r.year} ({r.abate_t:,.0f} t at {r.cost_cny_per_t:,.2f} CNY/t)", None, r.measure))
    df = pd.DataFrame(rows, columns=["entity", "year", "rule", "subject", "statement", "saving_cny_per_t"])
    return df.sort_values(["entity", "year", "rule"], kind="stable").reset_index(drop=True)


def _row(e, y, rule, statement, saving, subject="") -> dict[str, Any]:
    return {"entity": e, "year": y, "rule": rule, "subject": subject, "statement": statement,
            "saving_cny_per_t": np.nan if saving is None else saving}
