"""Solved Pyomo model -> tidy pandas frames. The only module that knows component names.

Duals are passed in as a mapping from constraint data to the sensitivity of the objective (discounted
CNY) to the constraint's bound, as produced by ``planner.solve.highs``. Reports never see Pyomo objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from models.entity import COST_COMPONENTS, DUAL_SIGNS, opening_carry_limit, opening_lapse_fixed

if TYPE_CHECKING:
    import pyomo.environ as pyo  # read only from solved Pyomo models (see _v): the array path needs no Pyomo


@dataclass
class Results:
    """Tidy result frames of one solved model."""

    annual: pd.DataFrame
    """One row per (entity, year): every ledger quantity in tonnes."""
    abatement: pd.DataFrame
    """(entity, year, measure): tonnes abated and their cost."""
    builds: pd.DataFrame
    """(entity, project, build_year): the projects whose build starts in a year."""
    project_years: pd.DataFrame
    """(entity, year, project): reduction delivered by a built project."""
    ccer_lots: pd.DataFrame
    """(entity, lot, year): CCERs surrendered from opening lots."""
    costs: pd.DataFrame
    """(entity, year, component): nominal and discounted CNY."""
    duals: pd.DataFrame
    """(entity, year, constraint): d objective / d bound, discounted CNY per tonne."""
    objective_cny: float
    extra: dict = field(default_factory=dict)


def _v(x) -> float:
    from pyomo.environ import value

    val = value(x, exception=False)
    return 0.0 if val is None else float(val)


def extract_results(
    m: pyo.ConcreteModel,
    discount_factor: Mapping[int, float],
    duals: Mapping | None = None,
) -> Results:
    """Read a solved model into ``Results``."""
    duals = duals or {}
    years = list(m.YEARS)
    annual, abatement, builds, proj_years, lots, costs, dual_rows = [], [], [], [], [], [], []
    data = m._entity_data
    for e in m.ENTITIES:
        b = m.entity[e]
        d = data[e]
        limited = set(b.LIMITED_YEARS)
        floor = set(b.FLOOR_YEARS)
        relief_switch = set(b.RELIEF_SWITCH_YEARS)
        borrow_years = set(b.BORROW_YEARS)
        auction_years = set(b.AUCTION_YEARS)
        fined = set(b.FINE_YEARS)
        decided = set(b.OPENING_DECISION)
        for i, y in enumerate(years):
            ns = _v(b.net_sales[y])
            o_sell = _v(b.opening_sell[y]) if y in decided else 0.0
            o_lapse = (opening_lapse_fixed(d) + (_v(b.opening_lapse[y]) if y in decided else 0.0)) if i == 0 else 0.0
            abated_measures = sum(_v(b.abate[k, y]) for k in b.MEASURES)
            annual.append(
                {
                    "entity": e,
                    "year": y,
                    "abatement_measures_t": abated_measures,
                    "abatement_projects_t": _v(b.project_reduction[y]),
                    "emissions_t": _v(b.emissions[y]),
                    "allocation_benchmark_t": _v(b.allocation_benchmark[y]),
                    "relief_t": _v(b.relief_t[y]),
                    "relief_on": (round(_v(b.relief_on[y])) if y in relief_switch else None),
                    "allocation_t": _v(b.allocation[y]),
                    "obligation_t": _v(b.obligation[y]),
                    "borrow_t": _v(b.borrow[y]) if y in borrow_years else 0.0,
                    "auction_buy_t": _v(b.auction_buy[y]) if y in auction_years else 0.0,
                    "buy_t": _v(b.buy[y]),
                    "sell_t": _v(b.sell[y]),
                    "surrender_t": _v(b.surrender[y]),
                    "ccer_buy_t": _v(b.ccer_buy[y]),
                    "ccer_sell_t": _v(b.ccer_sell[y]),
                    "ccer_use_pool_t": _v(b.ccer_use[y]),
                    "ccer_surrendered_t": _v(b.ccer_surrendered[y]),
                    "ccer_hold_t": _v(b.ccer_hold[y]),
                    "shortfall_t": _v(b.shortfall[y]),
                    "carry_t": _v(b.carry[y]),
                    "lapse_t": _v(b.lapse[y]) if y in limited else 0.0,
                    "carry_limit_t": d.carry_rules[i].limit_at(ns),
                    "net_sales_t": ns,
                    "floor_off": (round(_v(b.floor_off[y])) if y in floor else None),
                    "fined": (round(_v(b.fined[y])) if y in fined else None),
                    "opening_sell_t": o_sell,
                    "opening_lapse_t": o_lapse,
                    "opening_carry_limit_t": opening_carry_limit(d, o_sell) if i == 0 else float("nan"),
                }
            )
            for k in b.MEASURES:
                abatement.append(
                    {
                        "entity": e,
                        "year": y,
                        "measure": k,
                        "abate_t": _v(b.abate[k, y]),
                    }
                )
            for c in COST_COMPONENTS:
                nominal = _v(getattr(b, f"cost_{c}")[y])
                costs.append(
                    {
                        "entity": e,
                        "year": y,
                        "component": c,
                        "nominal_cny": nominal,
                        "discount_factor": discount_factor[y],
                        "discounted_cny": nominal * discount_factor[y],
                    }
                )
            for name in DUAL_SIGNS:
                rows = getattr(b, name)
                if y in rows and rows[y] in duals:
                    dual_rows.append({"entity": e, "year": y, "constraint": name, "dual": float(duals[rows[y]])})
        for p, s in b.BUILD_OPTIONS:
            if round(_v(b.build[p, s])) == 1:
                builds.append({"entity": e, "project": p, "build_year": s})
        for p, s, y in b.OPERATING:
            if round(_v(b.build[p, s])) == 1:
                proj_years.append({"entity": e, "year": y, "project": p, "build_year": s})
        for l, y in b.LOT_YEARS:
            lots.append({"entity": e, "lot": l, "year": y, "ccer_use_lot_t": _v(b.ccer_use_lot[l, y])})

    return Results(
        annual=pd.DataFrame(annual),
        abatement=pd.DataFrame(abatement, columns=["entity", "year", "measure", "abate_t"]),
        builds=pd.DataFrame(builds, columns=["entity", "project", "build_year"]),
        project_years=pd.DataFrame(proj_years, columns=["entity", "year", "project", "build_year"]),
        ccer_lots=pd.DataFrame(lots, columns=["entity", "lot", "year", "ccer_use_lot_t"]),
        costs=pd.DataFrame(costs),
        duals=pd.DataFrame(dual_rows, columns=["entity", "year", "constraint", "dual"]),
        objective_cny=_v(m.objective),
    )



def annual_expressions(m: pyo.ConcreteModel) -> list[tuple[str, int, str, object]]:
    """(entity, year, column, Pyomo expression or number) for the ledger columns of the annual table
    that are linear in the model's variables: the map that fast sweeps compile once per model.
    Columns as in ``extract_results`` (``annual``) plus ``cost_<component>`` (nominal CNY). The
    carry-over limit is the rule's value at the net sales, not linear: ``carry_limit_rows`` gives
    it from the ``net_sales_t`` column."""
    out: list[tuple[str, int, str, object]] = []
    for e in m.ENTITIES:
        b = m.entity[e]
        limited = set(b.LIMITED_YEARS)
        for y in m.YEARS:
            cols = {
                "abatement_measures_t": sum(b.abate[k, y] for k in b.MEASURES) if len(b.MEASURES) else 0.0,
                "abatement_projects_t": b.project_reduction[y],
                "emissions_t": b.emissions[y],
                "allocation_t": b.allocation[y],
                "obligation_t": b.obligation[y],
                "buy_t": b.buy[y],
                "sell_t": b.sell[y],
                "surrender_t": b.surrender[y],
                "ccer_buy_t": b.ccer_buy[y],
                "ccer_surrendered_t": b.ccer_surrendered[y],
                "shortfall_t": b.shortfall[y],
                "carry_t": b.carry[y],
                "lapse_t": b.lapse[y] if y in limited else 0.0,
                "net_sales_t": b.net_sales[y],
            }
            for c in COST_COMPONENTS:
                cols[f"cost_{c}"] = getattr(b, f"cost_{c}")[y]
            out.extend((e, y, k, v) for k, v in cols.items())
    return out


@dataclass
class LinkResults:
    """Tidy result frames of a group's links."""

    trades: pd.DataFrame
    """(entity, year): market_buy_t, market_sell_t, transfer_in_t, transfer_out_t."""
    transfers: pd.DataFrame
    """(year, seller, buyer, transfer_t) in block mode; empty in free mode (net flows only)."""
    pool: pd.DataFrame
    """(year): pool_buy_t, pool_hold_t (empty without a pool)."""
    tiers: pd.DataFrame
    """(year, tier, tier_buy_t)."""
    costs: pd.DataFrame
    """(year, component): nominal CNY of the link cost expressions."""


def extract_links(m: pyo.ConcreteModel) -> LinkResults:
    """Read the group links of a solved model (built with ``ModelData.group``)."""
    from models.group import LINK_COST_COMPONENTS

    years = list(m.YEARS)
    has_market = hasattr(m, "market_buy")
    free = hasattr(m, "transfer_in")
    block = hasattr(m, "transfer")
    tin: dict = {}
    tout: dict = {}
    transfers = []
    if block:
        for s, d, y in m.PAIR_YEARS:
            v = _v(m.transfer[s, d, y])
            if round(_v(m.block_on[s, d, y])) == 1 or abs(v) > 1e-9:
                transfers.append({"year": y, "seller": s, "buyer": d, "transfer_t": v})
            tout[s, y] = tout.get((s, y), 0.0) + v
            tin[d, y] = tin.get((d, y), 0.0) + v
    trades = []
    for e in m.ENTITIES:
        b = m.entity[e]
        for y in years:
            if free:
                ti, to = _v(m.transfer_in[e, y]), _v(m.transfer_out[e, y])
            else:
                ti, to = tin.get((e, y), 0.0), tout.get((e, y), 0.0)
            trades.append(
                {
                    "entity": e,
                    "year": y,
                    "market_buy_t": _v(m.market_buy[e, y]) if has_market else _v(b.buy[y]),
                    "market_sell_t": _v(m.market_sell[e, y]) if has_market else _v(b.sell[y]),
                    "transfer_in_t": ti,
                    "transfer_out_t": to,
                }
            )
    pool = []
    if hasattr(m, "pool_buy"):
        pool = [{"year": y, "pool_buy_t": _v(m.pool_buy[y]), "pool_hold_t": _v(m.pool_hold[y])} for y in years]
    tiers = [{"year": y, "tier": k, "tier_buy_t": _v(m.tier_buy[k, y])} for k in m.TIERS for y in years]
    costs = [
        {"year": y, "component": c, "nominal_cny": _v(getattr(m, f"cost_{c}")[y])}
        for y in years
        for c in LINK_COST_COMPONENTS
    ]
    return LinkResults(
        trades=pd.DataFrame(trades),
        transfers=pd.DataFrame(transfers, columns=["year", "seller", "buyer", "transfer_t"]),
        pool=pd.DataFrame(pool, columns=["year", "pool_buy_t", "pool_hold_t"]),
        tiers=pd.DataFrame(tiers, columns=["year", "tier", "tier_buy_t"]),
        costs=pd.DataFrame(costs, columns=["year", "component", "nominal_cny"]),
    )
