"""The per-entity plan tables: the reference the library's table builder (``planner.plan.entity``,
every entity of a group at once; an entity is a group of one) is tested against.

One entity's tables by merges, pivots and row-by-row statements (``assemble_plan``), and a group's
entity tables entity by entity, concatenated (``entity_plans_per_entity``). The statement texts
(``year_bindings``, ``measure_potential_rows``, ``option_values``) and the derived columns
(``annual_derived``, ``plan_tables``) are the library's own: the oracle checks how the tables are
put together, not the wording. ``tests/solver/test_entity_tables.py`` and
``tests/solver/test_group_tables.py`` assert every table equal, values and dtypes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from models.data import ModelData
from planner.plan.entity import (
    BINDING_COLUMNS,
    MAC_COLUMNS,
    Plan,
    annual_derived,
    measure_potential_rows,
    option_values,
    plan_tables,
    schedule_params,
    year_bindings,
)
from planner.prepare.allocation import allocation_schedule
from planner.prepare.entity import PreparedCase


def assemble_plan(prep: PreparedCase, results, solve_result, trades: pd.DataFrame | None = None) -> Plan:
    """Join results with the prepared inputs and explain which rules bind.

    ``trades``: in a group, the entity's (entity, year) market / intra-group split of its trades;
    its limits are then judged on the market trades only."""
    inp = prep.inputs
    ann = results.annual.merge(inp, on=["entity", "year"], how="left")
    if trades is not None:
        ann = ann.merge(trades, on=["entity", "year"], how="left")
    cost_wide = results.costs.pivot_table(
        index=["entity", "year"], columns="component", values="nominal_cny", sort=False
    )
    cost_wide.columns = [f"cost_{c}_cny" for c in cost_wide.columns]
    ann = ann.merge(cost_wide.reset_index(), on=["entity", "year"], how="left")
    ann, shadow = annual_derived(ann, results.duals, inp)

    plan = plan_tables(prep, results, ann, shadow, solve_result, lambda ann: _schedule(prep, ann))
    plan.mac = _mac(prep, plan)
    plan.bindings = explain_bindings(plan, prep)
    return plan


def _mac(prep: PreparedCase, plan: Plan) -> pd.DataFrame:
    """One row per measure (cost and potential of its first available year) and per project
    (reduction per year at its levelised cost: capex x capital recovery factor at the case's discount
    rate over its lifetime, plus opex, per tonne), with the tonnes the plan uses over the horizon."""
    rows: list[dict[str, Any]] = []
    years = prep.data.years
    used_m = plan.abatement.groupby(["entity", "measure"])["abate_t"].sum() if not plan.abatement.empty else pd.Series(dtype=float)
    for e in prep.data.entities:
        for m in e.measures:
            i = next((k for k, p in enumerate(m.potential_t) if p > 0), None)
            if i is None:
                continue
            rows.append({"entity": e.id, "kind": "measure", "name": m.id, "first_year": int(years[i]),
                         "potential_t": float(m.potential_t[i]), "cost_cny_per_t": float(m.cost_cny_per_t[i]),
                         "used_t": float(used_m.get((e.id, m.id), 0.0))})
    rate = prep.case.finance.discount_rate
    built = {(r.entity, r.project): int(r.build_year) for r in plan.builds.itertuples(index=False)} if not plan.builds.empty else {}
    py = plan.project_years
    for p in prep.case.abatement.projects:
        if p.reduction_t_per_year <= 0:
            continue
        n = p.lifetime_years
        crf = (1 / n) if rate == 0 else rate * (1 + rate) ** n / ((1 + rate) ** n - 1)
        used = 0.0
        if (prep.case.entity.id, p.id) in built and not py.empty:
            used = float((py["project"] == p.id).sum()) * p.reduction_t_per_year  # operating years
        rows.append({"entity": prep.case.entity.id, "kind": "project", "name": p.id,
                     "first_year": int(max(p.earliest_start_year or years[0], years[0]) + p.lead_time_years),
                     "potential_t": float(p.reduction_t_per_year),
                     "cost_cny_per_t": (p.capex_cny * crf + p.opex_cny_per_year) / p.reduction_t_per_year,
                     "used_t": used})
    df = pd.DataFrame(rows, columns=MAC_COLUMNS)
    return df.sort_values(["entity", "cost_cny_per_t", "name"], kind="stable").reset_index(drop=True)


def _schedule(prep: PreparedCase, ann: pd.DataFrame) -> pd.DataFrame:
    """When allowances arrive and when they are due, per entity and vintage."""
    kw = schedule_params(prep.pack)
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
                pre=prep.preallocation or None,
                **kw,
            )
        )
    return pd.DataFrame([r for f in frames for r in f])


def explain_bindings(plan: Plan, prep: PreparedCase) -> pd.DataFrame:
    """Which rules and limits bind, per year, in words."""
    import math

    rows: list[dict[str, Any]] = []
    sp = plan.shadow_prices.set_index(["entity", "year", "constraint"])["cny_per_t"] if not plan.shadow_prices.empty else pd.Series(dtype=float)

    def saving(e, y, con) -> float | None:
        v = sp.get((e, y, con))
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    ent_data = {e.id: e for e in prep.data.entities}
    in_group = "market_buy_max_t" in plan.annual.columns
    sold_to_date = plan.annual.groupby("entity")["sell_t"].cumsum()
    for r, sold in zip(plan.annual.itertuples(index=False), sold_to_date, strict=True):
        d = ent_data[r.entity]
        rows += year_bindings(r, sold, d, prep.data.years.index(int(r.year)), in_group, saving)
    rows += measure_potential_rows(plan.abatement, prep.data)
    rows += option_values(plan, prep)
    df = pd.DataFrame(rows, columns=BINDING_COLUMNS)
    return df.sort_values(["entity", "year", "rule"], kind="stable").reset_index(drop=True)


def _by_entity(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """A long table split by entity once (filtering it per entity is quadratic in the fleet size)."""
    if df.empty or "entity" not in df.columns:
        return {}
    return {e: g.reset_index(drop=True) for e, g in df.groupby("entity", sort=False)}


def _entity_results(results, split: dict[str, dict[str, pd.DataFrame]], e: str, discounted: float):
    def pick(name: str) -> pd.DataFrame:
        df = getattr(results, name)
        return split[name].get(e, df.iloc[:0].reset_index(drop=True)) if not df.empty else df

    return replace(
        results,
        annual=pick("annual"),
        abatement=pick("abatement"),
        builds=pick("builds"),
        project_years=pick("project_years"),
        ccer_lots=pick("ccer_lots"),
        costs=pick("costs"),
        duals=pick("duals"),
        objective_cny=discounted,
    )


def entity_plans_per_entity(prep, results, trades: pd.DataFrame, solve_result, disc: pd.Series):
    """A group's entity tables entity by entity (``assemble_plan`` per entity, concatenated), and
    each entity's notes: what ``planner.plan.group.assemble_group_plan`` takes as ``entity_tables``."""
    data = prep.data
    df_by_year = dict(zip(data.years, data.discount_factor, strict=True))
    plans = []
    split = {n: _by_entity(getattr(results, n)) for n in ("annual", "abatement", "builds", "project_years", "ccer_lots", "costs", "duals")}
    trades_by = _by_entity(trades)
    for p, d in zip(prep.entities, data.entities, strict=True):
        inputs = p.inputs.copy()
        inputs["discount_factor"] = inputs["year"].map(df_by_year)
        ep = replace(p, data=ModelData(years=data.years, discount_factor=data.discount_factor, entities=(d,)), inputs=inputs,
                     notes=list(p.notes))
        plans.append(assemble_plan(ep, _entity_results(results, split, d.id, float(disc.get(d.id, 0.0))), solve_result,
                                   trades=trades_by[d.id]))
    return _concat_plans(plans), [(p.summary["entity"], p.notes) for p in plans]


def _concat_plans(plans: list[Plan]) -> Plan:
    def cat(name: str) -> pd.DataFrame:
        frames = [getattr(p, name) for p in plans if not getattr(p, name).empty]
        return pd.concat(frames, ignore_index=True) if frames else getattr(plans[0], name)

    first = plans[0]
    assumptions = pd.concat([p.assumptions.assign(entity=p.summary["entity"]) for p in plans], ignore_index=True)
    return Plan(
        annual=cat("annual"),
        abatement=cat("abatement"),
        builds=cat("builds"),
        project_years=cat("project_years"),
        ccer_lots=cat("ccer_lots"),
        costs=cat("costs"),
        shadow_prices=cat("shadow_prices"),
        bindings=cat("bindings"),
        assumptions=assumptions,
        summary=dict(first.summary),
        allocation_detail=cat("allocation_detail"),
        allocation_schedule=cat("allocation_schedule"),
        mac=cat("mac"),
    )
