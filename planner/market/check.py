"""The market's own checks, from the result tables (not from the model): clearing and optimality.

- clearing: in every year the entities' purchases equal their sales (sum of net positions 0), and
  nothing is bought from or sold to outside the market;
- optimality at the market's prices: each entity planned alone, buying and selling freely at the
  equilibrium CEA prices (and CCERs at the market's CCER prices), costs no less than its part of the
  market solution valued at those prices. Its part is feasible alone, so the two costs are equal
  exactly when the market gives every entity its own best plan at the prices: what an equilibrium is.

The entities alone are one model of independent blocks (no links): its objective is separable, so each
block's part is that entity's own optimum.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd

from models.data import ModelData
from planner.errors import NonOptimalError
from planner.market.engine import MarketSolution

TOL_T = 1e-3
"""Tonnes below which a clearing residual is round-off (HiGHS feasibility tolerance x volumes)."""


def clearing(sol: MarketSolution) -> pd.DataFrame:
    """Per year: purchases, sales, their difference, and outside trades (all 0 in a cleared market)."""
    t = sol.plan.trades
    g = t.groupby("year", sort=True)[["transfer_in_t", "transfer_out_t", "market_buy_t", "market_sell_t"]].sum()
    a = sol.plan.entities.annual.groupby("year", sort=True)[["buy_t", "sell_t"]].sum()
    out = pd.DataFrame({
        "year": g.index.astype(int),
        "bought_t": a["buy_t"].to_numpy(),
        "sold_t": a["sell_t"].to_numpy(),
        "outside_t": (g["market_buy_t"] + g["market_sell_t"]).to_numpy(),
    })
    out["imbalance_t"] = out["bought_t"] - out["sold_t"]
    return out


def alone_at_prices(sol: MarketSolution) -> pd.DataFrame:
    """Each entity planned alone at the market's prices: (entity, market_npv_cny, alone_npv_cny, gap_cny, tol_cny)."""
    from planner.solve.highs import SolveOptions

    data = sol.data
    n = len(data.years)
    p = sol.prices["cea_price_cny_per_t"].to_numpy(dtype=float)
    q = sol.prices["ccer_price_cny_per_t"].to_numpy(dtype=float)
    pooled = data.group.pool
    ann = sol.plan.entities.annual
    # a finite trade bound per entity: at equilibrium prices no entity gains from trading without
    # limit; one that would shows at this bound (the check then fails instead of the solve being
    # unbounded). Twice everything it could hold or owe in a year and all it holds at the start: never
    # binding for a plan it would make.
    ents = []
    for e in data.entities:
        bound = 2.0 * (max(e.emissions_baseline_t) + max(e.allocation_t) + e.opening_cea_t) + 1.0
        ch = dict(price_buy_cny_per_t=tuple(p), price_sell_cny_per_t=tuple(p), buy_max_t=(bound,) * n, sell_max_t=(bound,) * n)
        if pooled:
            ch.update(price_ccer_buy_cny_per_t=tuple(q), ccer_buy_max_t=(bound,) * n)
        ents.append(replace(e, **ch))
    # HiGHS may end a MIP of big-M rows (the net-sales floor) "optimal" with primal infeasibilities of
    # 1e-6 relative and then report a solve error: the check compares costs to 1e-6 relative, so its
    # own solves accept 1e-5
    base = sol.options or SolveOptions()
    opts = replace(base, duals=False, tie_break=False,
                   highs_options={**base.highs_options, "mip_feasibility_tolerance": 1e-5})
    try:
        costs = _solve_alone(ModelData(years=data.years, discount_factor=data.discount_factor, entities=tuple(ents)), opts)
    except NonOptimalError:
        # HiGHS may end a MIP of many independent blocks with tiny primal infeasibilities ("Solve
        # error") that it does not have on each block alone: solve the entities one by one
        costs = pd.concat([_solve_alone(ModelData(years=data.years, discount_factor=data.discount_factor, entities=(e,)), opts)
                           for e in ents], ignore_index=True)
    alone_npv = costs.groupby("entity")["discounted_cny"].sum()
    # the market part at the prices: the entity's costs in the market (trades priced 0) + the trades at the prices
    own = sol.plan.entities.costs.groupby("entity")["discounted_cny"].sum()
    df = dict(zip(data.years, data.discount_factor, strict=True))
    pr = dict(zip(data.years, p, strict=True))
    qr = dict(zip(data.years, q, strict=True))
    a = ann.copy()
    a["_v"] = [df[y] * (pr[y] * (b - s) + (qr[y] * c if pooled else 0.0))
               for y, b, s, c in zip(a["year"], a["buy_t"], a["sell_t"], a["ccer_buy_t"], strict=True)]
    trade_value = a.groupby("entity")["_v"].sum()
    scale = a.assign(_s=[df[y] * pr[y] * abs(o) for y, o in zip(a["year"], a["obligation_t"], strict=True)]).groupby("entity")["_s"].sum()
    rows = []
    for e in ents:
        market = float(own.get(e.id, 0.0)) + float(trade_value.get(e.id, 0.0))
        al = float(alone_npv.get(e.id, math.nan))
        tol = max(1.0, 1e-6 * float(scale.get(e.id, 0.0)))
        rows.append({"entity": e.id, "market_npv_cny": market, "alone_npv_cny": al, "gap_cny": market - al, "tol_cny": tol})
    return pd.DataFrame(rows, columns=["entity", "market_npv_cny", "alone_npv_cny", "gap_cny", "tol_cny"])


def _solve_alone(alone: ModelData, opts) -> pd.DataFrame:
    """Cost rows of the independent entity blocks of ``alone``, solved as one model."""
    from planner.api import fast_path
    from planner.solve.highs import compile_assembled, solve_compiled, solve_model

    if fast_path(alone, opts) is None:
        from models.arrays.assemble import extract_arrays

        cm = compile_assembled(alone)
        res = solve_compiled(cm, opts)
        results, _ = extract_arrays(cm.assembled, alone, res.x, None)
    else:
        from models import build_model, extract_results

        m = build_model(alone)
        res = solve_model(m, opts)
        results = extract_results(m, dict(zip(alone.years, alone.discount_factor, strict=True)), {})
    if res.status.name != "OPTIMAL":
        raise NonOptimalError(f"the entities alone at the market prices did not solve: {res.termination}", res)
    return results.costs


def check_market(sol: MarketSolution, *, entities: bool = True) -> list[str]:
    """What is wrong with the market solution (empty: cleared, and every entity's part optimal at the prices)."""
    fails = list(sol.check_failures)
    scale = max([1.0] + [max(e.emissions_baseline_t) for e in sol.data.entities])
    for r in clearing(sol).itertuples(index=False):
        if abs(r.imbalance_t) > TOL_T * max(1.0, scale * 1e-6) + TOL_T:
            fails.append(f"{r.year}: the market does not clear: bought {r.bought_t:,.1f} t, sold {r.sold_t:,.1f} t")
        if abs(r.outside_t) > TOL_T:
            fails.append(f"{r.year}: {r.outside_t:,.1f} t traded outside the market")
    if not np.isfinite(sol.prices["cea_price_cny_per_t"]).all():
        fails.append("no CEA price for some years (no dual of the clearing row)")
        return fails
    if entities:
        rows = alone_at_prices(sol)
        over = rows[~np.isfinite(rows["alone_npv_cny"]) | (rows["gap_cny"].abs() > rows["tol_cny"])]
        res = sol.solve
        if len(over) and res.is_mip and res.bound is not None and res.objective is not None:
            # a MIP is optimal to its gap: an entity may gain up to what the solver left unproven
            # (e.g. one fixed fine it need not have paid); beyond that the prices do not support the plan
            slack = abs(res.objective - res.bound) + float(rows["tol_cny"].sum())
            if np.isfinite(over["alone_npv_cny"]).all() and float(over["gap_cny"].clip(lower=0).sum()) <= slack:
                sol.notes.append(
                    f"{len(over)} entities could do better alone at the market prices by {float(over['gap_cny'].sum()):,.0f} CNY "
                    f"in all, within the MIP's optimality gap ({abs(res.objective - res.bound):,.0f} CNY): "
                    + ", ".join(f"{r.entity} {r.gap_cny:,.0f}" for r in over.head(5).itertuples(index=False)))
                over = over.iloc[:0]
        for r in over.itertuples(index=False):
            fails.append(
                f"{r.entity}: its part of the market costs {r.market_npv_cny:,.0f} CNY at the market prices, its own "
                f"best plan at those prices {r.alone_npv_cny:,.0f} CNY (gap {r.gap_cny:,.0f}): not an equilibrium"
            )
    return fails
