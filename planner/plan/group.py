"""The group plan: every entity's plan tables plus the group's own tables.

Nothing here touches Pyomo: it reads ``models.Results`` / ``models.LinkResults`` frames and the
prepared group. Entity tables are the entity plan's (``planner.plan.entity.entity_plans``, all
entities at once), with the market / intra-group split of their trades and the internal settlement
of transfers as their own cost component (``transfer``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from models.data import ModelData
from planner.plan.entity import TOL_T, Plan, entity_plans, facts_json, tie_notes, tie_summary
from planner.plan.pooling import POOLING_COLUMNS, pooling_value_table, side
from planner.prepare.group import PreparedGroup

GROUP_ROW = "(group)"
"""The row of the group as a whole in the tables of entities (value of pooling) and the subject of
the group's own limits in its binding statements."""


@dataclass
class GroupPlan:
    """A solved, checked group plan."""

    entities: Plan
    """The entity plan tables of every entity (long format, ``entity`` column)."""
    trades: pd.DataFrame
    """(entity, year): market and intra-group trades."""
    transfers: pd.DataFrame
    """(year, seller, buyer, transfer_t): the transfer matrix in long form."""
    transfer_matrix: pd.DataFrame
    """(year, seller) x buyer: the transfer matrix per year in wide form."""
    ccer_pool: pd.DataFrame
    """(year, entity, allocated_t) plus the pool's purchases and holdings (entity = '(pool)')."""
    group_annual: pd.DataFrame
    """One row per year: totals over the entities and the link costs."""
    group_costs: pd.DataFrame
    """(year, component): link costs (pool, price tiers; the transfer settlement nets to zero)."""
    entity_summary: pd.DataFrame
    """One row per entity: obligation, trades, transfers, NPV cost in the group and alone."""
    pooling_value: pd.DataFrame
    """Per entity and for the group: stand-alone NPV, NPV in the group, saving."""
    group_bindings: pd.DataFrame
    """(year, rule, statement): the group's own limits that bind (market limits, price tiers,
    budget, pool availability)."""
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    assumptions: pd.DataFrame = field(default_factory=pd.DataFrame)

    TABLES = (
        "trades",
        "transfers",
        "transfer_matrix",
        "ccer_pool",
        "group_annual",
        "group_costs",
        "entity_summary",
        "pooling_value",
        "group_bindings",
    )


def net_transfers(trades: pd.DataFrame) -> pd.DataFrame:
    """A transfer matrix from free transfers: each year's net senders matched to net receivers in
    entity order. Any matching is an equally good plan (the internal price nets out of the group
    cost and fees are paid per entity), so this one is chosen for being deterministic."""
    rows = []
    for y, g in trades.groupby("year", sort=True):
        net = (g["transfer_out_t"] - g["transfer_in_t"]).to_numpy()
        ents = g["entity"].tolist()
        out = [[e, v] for e, v in zip(ents, net, strict=True) if v > TOL_T]
        inn = [[e, -v] for e, v in zip(ents, net, strict=True) if v < -TOL_T]
        i = j = 0
        while i < len(out) and j < len(inn):
            q = min(out[i][1], inn[j][1])
            rows.append({"year": int(y), "seller": out[i][0], "buyer": inn[j][0], "transfer_t": q})
            out[i][1] -= q
            inn[j][1] -= q
            if out[i][1] <= TOL_T:
                i += 1
            if inn[j][1] <= TOL_T:
                j += 1
    return pd.DataFrame(rows, columns=["year", "seller", "buyer", "transfer_t"])


def transfer_matrix(transfers: pd.DataFrame, entities: list[str]) -> pd.DataFrame:
    """Wide transfer matrix per year: rows (year, seller), one column per buyer that receives."""
    if transfers.empty:
        return pd.DataFrame(columns=["year", "seller"])
    wide = transfers.pivot_table(index=["year", "seller"], columns="buyer", values="transfer_t", aggfunc="sum", fill_value=0.0)
    cols = [e for e in entities if e in wide.columns]
    wide = wide[cols].reset_index()
    wide.columns.name = None
    return wide


def settle_costs(data: ModelData, costs: pd.DataFrame, trades: pd.DataFrame) -> pd.DataFrame:
    """Entity cost rows with market trades at market prices and transfers at the internal price.

    The blocks price all their purchases and sales at market prices; here ``purchase`` and ``sales``
    keep the market part only and a ``transfer`` component settles the intra-group part."""
    g = data.group
    if g is None or g.transfers == "none":
        return costs
    years = list(data.years)
    pos = {y: i for i, y in enumerate(years)}
    k_of = {d.id: k for k, d in enumerate(data.entities)}
    pb = np.array([d.price_buy_cny_per_t for d in data.entities], dtype=float)
    ps = np.array([d.price_sell_cny_per_t for d in data.entities], dtype=float)
    c = costs.copy()
    t = trades.set_index(["entity", "year"])
    key = pd.MultiIndex.from_arrays([c["entity"], c["year"]])
    t_in = t["transfer_in_t"].reindex(key).to_numpy(dtype=float)
    t_out = t["transfer_out_t"].reindex(key).to_numpy(dtype=float)
    k = c["entity"].map(k_of).to_numpy()
    i = c["year"].map(pos).to_numpy()
    comp = c["component"].to_numpy()
    nominal = c["nominal_cny"].to_numpy(dtype=float).copy()
    buy_rows, sell_rows = comp == "purchase", comp == "sales"
    nominal[buy_rows] -= pb[k[buy_rows], i[buy_rows]] * t_in[buy_rows]
    nominal[sell_rows] += ps[k[sell_rows], i[sell_rows]] * t_out[sell_rows]
    c["nominal_cny"] = nominal
    pr = c[buy_rows]
    price = np.asarray(g.transfer_price_cny_per_t, dtype=float)[i[buy_rows]]
    settled = price * (t_in[buy_rows] - t_out[buy_rows])
    new_rows = pd.DataFrame({"entity": pr["entity"].to_numpy(), "year": pr["year"].to_numpy(), "component": "transfer",
                             "nominal_cny": settled, "discount_factor": pr["discount_factor"].to_numpy(),
                             "discounted_cny": settled * pr["discount_factor"].to_numpy()})
    c["discounted_cny"] = c["nominal_cny"] * c["discount_factor"]
    out = pd.concat([c, new_rows], ignore_index=True)
    order = {e.id: k for k, e in enumerate(data.entities)}
    out["_e"] = out["entity"].map(order)
    return out.sort_values(["_e", "year"], kind="stable").drop(columns="_e").reset_index(drop=True)


def assemble_group_plan(prep: PreparedGroup, results, links, solve_result, standalone=None, *, entity_tables=None) -> GroupPlan:
    """Entity plans, group tables and the value of pooling (``standalone``: Results of the entities
    solved alone, or None). ``entity_tables``: the builder of the entity tables, with
    ``entity_plans``' arguments and result (the tests pass the per-entity reference,
    ``tests/oracles/tables.py``); by default ``entity_plans``."""
    data = prep.data
    years = list(data.years)
    ids = [e.id for e in data.entities]
    trades = links.trades
    costs = settle_costs(data, results.costs, trades)
    results = replace(results, costs=costs)
    disc = costs.groupby("entity")["discounted_cny"].sum()
    df_by_year = dict(zip(years, data.discount_factor, strict=True))
    trades_lim = with_market_limits(trades, data)
    ent, per_notes = (entity_tables or entity_plans)(prep, results, trades_lim, solve_result, disc)
    if data.group is not None and data.group.transfers != "none":
        price = dict(zip(years, data.group.transfer_price_cny_per_t, strict=True))
        ent.annual["transfer_price_cny_per_t"] = ent.annual["year"].map(price)
    transfers = links.transfers if (data.group is not None and data.group.transfers == "block") else net_transfers(trades)
    # link costs and group totals
    # the transfer settlement is part of the entities' costs (component ``transfer``); it nets to zero
    gc = links.costs[links.costs["component"] != "transfer"].reset_index(drop=True)
    gc["discount_factor"] = gc["year"].map(df_by_year)
    gc["discounted_cny"] = gc["nominal_cny"] * gc["discount_factor"]
    a = ent.annual
    ga = a.groupby("year", sort=True)[
        ["emissions_t", "obligation_t", "allocation_t", "buy_t", "sell_t", "market_buy_t", "market_sell_t",
         "transfer_in_t", "surrender_t", "ccer_surrendered_t", "ccer_buy_t", "carry_t", "lapse_t", "shortfall_t",
         "abatement_measures_t", "abatement_projects_t", "total_cost_cny", "discounted_cost_cny"]
    ].sum().reset_index()
    ga = ga.rename(columns={"transfer_in_t": "transfers_t", "total_cost_cny": "entity_cost_cny",
                            "discounted_cost_cny": "entity_discounted_cny", "ccer_buy_t": "ccer_allocated_t"})
    link = gc.groupby("year")[["nominal_cny", "discounted_cny"]].sum()
    ga["link_cost_cny"] = ga["year"].map(link["nominal_cny"]).fillna(0.0)
    ga["total_cost_cny"] = ga["entity_cost_cny"] + ga["link_cost_cny"]
    ga["discounted_cost_cny"] = ga["entity_discounted_cny"] + ga["year"].map(link["discounted_cny"]).fillna(0.0)
    if not links.pool.empty:
        ga = ga.merge(links.pool, on="year", how="left")
    # pooled CCER allocation
    pool_rows = []
    if data.group is not None and data.group.pool:
        for r in a.itertuples(index=False):
            if r.ccer_buy_t > TOL_T:
                pool_rows.append({"year": int(r.year), "entity": r.entity, "allocated_t": r.ccer_buy_t,
                                  "surrendered_t": r.ccer_surrendered_t})
        for r in links.pool.itertuples(index=False):
            pool_rows.append({"year": int(r.year), "entity": "(pool)", "bought_t": r.pool_buy_t, "held_after_t": r.pool_hold_t})
    pool = pd.DataFrame(pool_rows, columns=["year", "entity", "allocated_t", "surrendered_t", "bought_t", "held_after_t"])
    # entity summary and the value of pooling
    es = a.groupby("entity", sort=False).agg(
        obligation_t=("obligation_t", "sum"), allocation_t=("allocation_t", "sum"), market_buy_t=("market_buy_t", "sum"),
        market_sell_t=("market_sell_t", "sum"), transfer_in_t=("transfer_in_t", "sum"), transfer_out_t=("transfer_out_t", "sum"),
        ccer_surrendered_t=("ccer_surrendered_t", "sum"), abatement_t=("abatement_measures_t", "sum"),
        shortfall_t=("shortfall_t", "sum"), npv_cost_cny=("discounted_cost_cny", "sum"),
    ).reindex(ids).reset_index()
    es["position_t"] = es["allocation_t"] - es["obligation_t"]
    es["side"] = side(es["position_t"])
    group_npv = float(solve_result.objective) if solve_result.objective is not None else float(ga["discounted_cost_cny"].sum())
    pv = pd.DataFrame(columns=POOLING_COLUMNS)
    summary: dict[str, Any] = {
        "group": prep.spec.group.id,
        "group_name": prep.spec.group.name,
        "entities": len(ids),
        "years": [years[0], years[-1]],
        "status": str(solve_result.status),
        "termination": solve_result.termination,
        "objective_cny": group_npv,
        "npv_cost_cny": group_npv,
        "link_npv_cny": float(gc["discounted_cny"].sum()),
        "mip_gap": solve_result.gap,
        "is_mip": solve_result.is_mip,
        "transfers": data.group.transfers if data.group else "none",
        "transfers_count_in_net_sales": data.group.transfers_in_net_sales if data.group else True,
        "total_transfers_t": float(trades["transfer_in_t"].sum()),
        "total_obligation_t": float(a["obligation_t"].sum()),
        "total_shortfall_t": float(a["shortfall_t"].sum()),
        "rule_pack": prep.pack.ref,
        "rule_pack_overrides": dict(prep.pack.overrides),
        "solver": f"{solve_result.solver} ({solve_result.solver_version})",
        "model_build": "array assembly (models.arrays.assemble)" if solve_result.build == "arrays" else "Pyomo (models.group)",
        "size": dict(solve_result.size),
        **tie_summary(solve_result),
    }
    if standalone is not None:
        alone = standalone.costs.groupby("entity")["discounted_cny"].sum().reindex(ids)
        total_alone = float(standalone.objective_cny)
        # the group's own costs (pool, price tiers) shared out: the savings add up to the value of pooling
        pv = pooling_value_table(a, costs, gc, ids, alone, total_alone, group_npv)
        es["standalone_npv_cny"] = alone.to_numpy()
        summary["standalone_npv_cny"] = total_alone
        summary["value_of_pooling_cny"] = total_alone - group_npv
    notes = list(prep.notes)
    notes += entity_notes(per_notes)
    notes += tie_notes(data, solve_result)
    warnings = list(prep.warnings) + list(solve_result.warnings)
    return GroupPlan(
        entities=ent,
        trades=trades,
        transfers=transfers,
        transfer_matrix=transfer_matrix(transfers, ids),
        ccer_pool=pool,
        group_annual=ga,
        group_costs=gc,
        entity_summary=es,
        pooling_value=pv,
        group_bindings=group_bindings(data, trades, links, costs, gc),
        summary=summary,
        notes=notes,
        warnings=warnings,
        assumptions=prep.assumptions,
    )


def entity_notes(per_entity: list[tuple[str, list[str]]], shown: int = 5) -> list[str]:
    """The entities' notes, each text once with the entities it concerns in front (in entity order;
    after ``shown`` ids, how many more): 30 plants under the same relief rule make one note, not 30."""
    who: dict[str, list[str]] = {}
    for e, notes in per_entity:
        for n in notes:
            who.setdefault(n, []).append(e)
    out = []
    for n, ids in who.items():
        head = ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")
        out.append(f"{head}: {n}")
    return out


def with_market_limits(trades: pd.DataFrame, data: ModelData) -> pd.DataFrame:
    """The trades with each entity's market limits in the group (``inf``: none given)."""
    g = data.group
    out = trades.copy()
    if g is not None and g.market_buy_max_t:
        k = out["entity"].map({d.id: k for k, d in enumerate(data.entities)}).to_numpy()
        i = out["year"].map({y: i for i, y in enumerate(data.years)}).to_numpy()
        out["market_buy_max_t"] = np.asarray(g.market_buy_max_t, dtype=float)[k, i]
        out["market_sell_max_t"] = np.asarray(g.market_sell_max_t, dtype=float)[k, i]
    return out


def _binds(value: float, limit: float) -> bool:
    return math.isfinite(limit) and value >= limit - max(TOL_T, 1e-9 * abs(limit))


def group_bindings(data: ModelData, trades: pd.DataFrame, links, costs: pd.DataFrame, gc: pd.DataFrame) -> pd.DataFrame:
    """The group's own limits that bind, in words, from the result frames (never from the model).

    ``costs``: the entities' settled cost rows; ``gc``: the link cost rows (pool, tiers)."""
    g = data.group
    cols = ["year", "rule", "subject", "statement", "facts"]
    if g is None:
        return pd.DataFrame(columns=cols)
    years = list(data.years)
    rows: list[dict[str, Any]] = []

    def add(y: int, rule: str, subject: str, text: str, facts: dict[str, Any]) -> None:
        rows.append({"year": y, "rule": rule, "subject": subject, "statement": text, "facts": facts_json(facts)})

    by_year = trades.groupby("year")[["market_buy_t", "market_sell_t"]].sum()
    for i, y in enumerate(years):
        mb, ms = float(by_year.loc[y, "market_buy_t"]), float(by_year.loc[y, "market_sell_t"])
        if g.group_buy_max_t and _binds(mb, g.group_buy_max_t[i]):
            add(y, "group_buy_limit", GROUP_ROW, f"group market purchase limit binds in {y}: {mb:,.0f} t bought by the group's entities",
                {"bought_t": mb})
        if g.group_sell_max_t and _binds(ms, g.group_sell_max_t[i]):
            add(y, "group_sell_limit", GROUP_ROW, f"group market sale limit binds in {y}: {ms:,.0f} t sold by the group's entities",
                {"sold_t": ms})
    if g.tiers and not links.tiers.empty:
        for (y, k), v in links.tiers.set_index(["year", "tier"])["tier_buy_t"].items():
            tier = g.tiers[int(k)]
            if v > TOL_T and int(k) > 0:
                add(int(y), "price_tier", f"tier {int(k) + 1}",
                    f"group purchases in {int(y)} reach price tier {int(k) + 1} (+{tier.premium_cny_per_t:,.2f} CNY/t): {v:,.0f} t bought at the premium",
                    {"tier": int(k) + 1, "premium_cny_per_t": tier.premium_cny_per_t, "bought_t": v})
    if g.pool and not links.pool.empty:
        for r in links.pool.itertuples(index=False):
            i = years.index(int(r.year))
            if g.pool_max_t and r.pool_buy_t > TOL_T and _binds(float(r.pool_buy_t), g.pool_max_t[i]):
                add(int(r.year), "pool_availability", "(pool)", f"CCER pool availability binds in {int(r.year)}: all {r.pool_buy_t:,.0f} t bought",
                    {"bought_t": r.pool_buy_t})
    if g.budget_cny:
        # the budget row of models/group.py: cash cost of the year before terminal values
        cash = costs[costs["component"] != "terminal"].groupby("year")["nominal_cny"].sum()
        link = gc.groupby("year")["nominal_cny"].sum() if not gc.empty else pd.Series(dtype=float)
        for i, y in enumerate(years):
            used = float(cash.get(y, 0.0)) + float(link.get(y, 0.0))
            if g.pool and y == years[-1] and not links.pool.empty:
                used += g.pool_terminal_cny_per_t * float(links.pool.set_index("year").loc[y, "pool_hold_t"])
            if _binds(used, g.budget_cny[i]):
                add(y, "group_budget", GROUP_ROW, f"group budget binds in {y}: cash cost {used:,.0f} CNY of {g.budget_cny[i]:,.0f} CNY",
                    {"used_cny": used, "budget_cny": g.budget_cny[i]})
    return pd.DataFrame(rows, columns=cols).sort_values(["year", "rule"], kind="stable").reset_index(drop=True)
