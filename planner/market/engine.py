"""The market as a group: every covered entity in one group with free transfers and no outside market.

A market is the group engine with three changes to the prepared group (``market_data``):

- no outside market: every entity's market purchase and sale limits are 0, so all CEA an entity buys
  another covered entity sells (the free transfers of ``models.group``), and the year's transfer
  balance ``link_transfer_balance`` is the market-clearing row: sum of purchases = sum of sales;
- trades carry no price of their own: entity buy and sell prices, the CEA fee and the internal
  transfer price are 0, so the objective is the fleet's resource cost (abatement, CCERs, fines, the
  terminal value of the bank) and the CEA price is what the clearing row's dual says it is;
- transfers count in net sales (rules.md R2.2: a sale to another entity is a sale), so where a
  carry-over limit grows with net sales, selling to other entities raises it.

The clearing row reads ``sum(transfer_in) - sum(transfer_out) = 0``; its dual is d(objective)/d(rhs):
one more tonne received than given (a tonne from outside the market) lowers the discounted cost by the
discounted price, so the price of year t, undiscounted CNY/t, is ``-dual_t / discount_factor_t``.

With a market-wide CCER supply (``MarketSettings.ccer_supply_t``) CCERs come from the group's CCER pool
at the given price, each entity within its own cap. The CCER price an entity faces is the dual of the
pool's balance row, which reads ``held-in + bought - allocated - held-out = 0``: one more tonne on its
right-hand side must be bought, so the CCER price is ``+dual_t / discount_factor_t`` (the pool price
where supply is left over, the pool price plus a scarcity rent where it binds).

Where the rules need binaries (the net-sales floor of the carry-over limit, relief regimes), HiGHS
solves the MIP and the prices come from the LP re-solved with the integers fixed
(``planner.solve.highs``); ``MarketSolution.price_basis`` says which.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from models.data import GroupLinks, ModelData
from planner.errors import PlannerError
from planner.prepare.group import PreparedGroup

if TYPE_CHECKING:
    import pandas as pd

INF = math.inf

@dataclass(frozen=True)
class MarketSettings:
    """What the market adds to a prepared group: the value of the bank after the horizon and the CCER
    supply. Per-year tuples follow the group's years."""

    terminal_value_cny_per_t: float = 0.0
    """Value of one CEA held after the last year (undiscounted, last year's money). 0: the bank is
    worthless after the horizon, so the last years' prices understate a longer view."""
    ccer_price_cny_per_t: tuple[float, ...] = ()
    """Price of CCERs to the market (the CCER market is outside the model); with ``ccer_supply_t``."""
    ccer_supply_t: tuple[float, ...] = ()
    """New CCERs the covered entities can buy in each year, all together (empty: each entity's own
    availability as prepared)."""


def market_data(prep: PreparedGroup, settings: MarketSettings = MarketSettings()) -> ModelData:
    """The prepared group as a market (see the module docstring)."""
    data = prep.data
    n = len(data.years)
    zeros = (0.0,) * n
    pooled = bool(settings.ccer_supply_t)
    ents = []
    for e in data.entities:
        changes = dict(
            price_buy_cny_per_t=zeros, price_sell_cny_per_t=zeros, fee_cea_cny_per_t=zeros,
            buy_max_t=(INF,) * n, sell_max_t=(INF,) * n,
            terminal_cea_value_cny_per_t=float(settings.terminal_value_cny_per_t),
        )
        if e.auction_max_t:
            # The auctioned share of an absolute cap (taken out of the free allocation by preparation)
            # is sold at the clearing price: supply like free allocation at the same price, so it is
            # the entity's allocation here and its cost is added in the tables (auction_t x price).
            # What this leaves out: an auction purchase would count in net sales (the carry-over limit).
            changes.update(allocation_t=tuple(a + x for a, x in zip(e.allocation_t, e.auction_max_t, strict=True)),
                           auction_max_t=(), price_auction_cny_per_t=())
        if pooled:
            changes.update(price_ccer_buy_cny_per_t=zeros, fee_ccer_cny_per_t=zeros, ccer_buy_max_t=(INF,) * n,
                           ccer_sell_max_t=zeros, price_ccer_sell_cny_per_t=zeros)
        ents.append(replace(e, **changes))
    E = len(ents)
    links = GroupLinks(
        market_buy_max_t=tuple(zeros for _ in range(E)),
        market_sell_max_t=tuple(zeros for _ in range(E)),
        transfers="free",
        transfer_price_cny_per_t=zeros,
        transfers_in_net_sales=True,
        pool=pooled,
        pool_price_cny_per_t=tuple(settings.ccer_price_cny_per_t) if pooled else (),
        pool_fee_cny_per_t=zeros if pooled else (),
        pool_max_t=tuple(float(v) for v in settings.ccer_supply_t) if pooled else (),
        pool_terminal_cny_per_t=0.0,
    )
    return ModelData(years=data.years, discount_factor=data.discount_factor, entities=tuple(ents), group=links)


@dataclass
class MarketSolution:
    """A solved market: the equilibrium prices and the group plan behind them."""

    data: ModelData
    prices: pd.DataFrame
    """year, cea_price_cny_per_t (undiscounted), ccer_price_cny_per_t (pool price + scarcity rent, or NaN)."""
    plan: object
    """The ``GroupPlan`` of the market (entity ledgers, trades)."""
    solve: object
    price_basis: str
    """'LP' or 'LP re-solve with integer decisions fixed' (a MIP: the prices of the fixed plan)."""
    options: object = None
    """The ``SolveOptions`` of the solve (the check's own solves use them too)."""
    check_failures: list[str] = field(default_factory=list)
    auction_t: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Each entity's auctioned share per year (absolute-cap scenarios), bought at the year's price."""
    notes: list[str] = field(default_factory=list)
    """What the checks found that is not a failure (gains within a MIP's gap)."""
    timings: dict[str, float] = field(default_factory=dict)


def _link_rows(cm, n: int, first: str, second: str) -> np.ndarray:
    """Row index per year of a year-indexed link row family in an array-assembled model (-1 where
    absent): the one row that holds both the year's ``first`` and ``second`` column (of the first
    entity, or the model's). The assembly keeps row indices of the entity families only, and row
    names would import Pyomo; this reads the matrix, before the solve releases it.

    ``transfer_in`` and ``transfer_out`` of an entity and year meet only in the clearing row (its
    purchases are in ``link_buy``, its sales in ``link_sell``); ``pool_buy`` and ``pool_hold`` of a
    year only in the CCER pool's row (a market has no group budget)."""
    out = np.full(n, -1, dtype=np.int64)
    a, b = cm.assembled.col_of.get(first), cm.assembled.col_of.get(second)
    if a is None or b is None:
        return out
    a, b = np.asarray(a).reshape(-1, n)[0], np.asarray(b).reshape(-1, n)[0]
    mat = cm.lp.a_matrix_  # column-wise
    start, index = np.asarray(mat.start_), np.asarray(mat.index_)
    for i in range(n):
        if a[i] < 0 or b[i] < 0:
            continue
        common = set(index[start[a[i]]:start[a[i] + 1]].tolist()) & set(index[start[b[i]]:start[b[i] + 1]].tolist())
        if len(common) != 1:
            raise AssertionError(f"{first}/{second} share {len(common)} rows in year {i}; expected the one link row")
        out[i] = common.pop()
    return out


def _duals_at(res, rows: np.ndarray) -> np.ndarray:
    if res.row_dual is None:
        return np.full(len(rows), np.nan)
    d = np.asarray(res.row_dual, dtype=float)
    return np.where(rows >= 0, d[np.maximum(rows, 0)], np.nan)


def _pyomo_duals(data: ModelData, res, model, name: str) -> np.ndarray:
    comp = getattr(model, name, None)
    if comp is None:
        return np.full(len(data.years), np.nan)
    return np.array([res.duals.get(comp[y], np.nan) for y in data.years], dtype=float)


def solve_prices(data: ModelData, opts):
    """Solve the market ``data`` (``market_data``) and read its prices: (SolveResult, Results,
    LinkResults, prices frame, timings). Array assembly where the features allow it, else Pyomo."""
    from planner.api import fast_path
    from planner.solve.highs import compile_assembled, solve_compiled, solve_model

    timings: dict[str, float] = {}
    t1 = time.perf_counter()
    if fast_path(data, opts) is None:
        from models.arrays.assemble import extract_arrays

        cm = compile_assembled(data)
        n = len(data.years)
        bal_rows = _link_rows(cm, n, "transfer_in", "transfer_out")
        pool_rows = _link_rows(cm, n, "pool_buy", "pool_hold")
        t2 = time.perf_counter()
        timings["assemble_s"] = t2 - t1
        res = solve_compiled(cm, opts, t_start=t2)
        t3 = time.perf_counter()
        timings["solve_s"] = t3 - t2
        if res.status.name != "OPTIMAL":
            raise MarketSolveError(f"the market did not solve to optimality: {res.termination}")
        results, links = extract_arrays(cm.assembled, data, res.x, res.row_dual)
        bal, pool = _duals_at(res, bal_rows), _duals_at(res, pool_rows)
    else:
        from models import build_model, extract_links, extract_results

        m = build_model(data)
        t2 = time.perf_counter()
        timings["assemble_s"] = t2 - t1
        res = solve_model(m, opts)
        t3 = time.perf_counter()
        timings["solve_s"] = t3 - t2
        if res.status.name != "OPTIMAL":
            raise MarketSolveError(f"the market did not solve to optimality: {res.termination}")
        df = dict(zip(data.years, data.discount_factor, strict=True))
        results = extract_results(m, df, res.duals)
        links = extract_links(m)
        bal = _pyomo_duals(data, res, m, "link_transfer_balance")
        pool = _pyomo_duals(data, res, m, "link_ccer_pool")
    import pandas as pd

    dfac = np.asarray(data.discount_factor, dtype=float)
    cea = 0.0 - bal / dfac
    ccer = 0.0 + pool / dfac if data.group.pool else np.full(len(dfac), np.nan)
    prices = pd.DataFrame({"year": list(data.years), "cea_price_cny_per_t": cea, "ccer_price_cny_per_t": ccer})
    timings["extract_s"] = time.perf_counter() - t3
    return res, results, links, prices, timings


def solve_market(prep: PreparedGroup, settings: MarketSettings = MarketSettings(), opts=None, *,
                 check: bool = True) -> MarketSolution:
    """Build the market of ``prep``, solve it, read the prices and the plan, and check the plan
    (the group checker's ledger arithmetic; market clearing and entity optimality at the market's
    prices are ``planner.market.check``)."""
    from planner.api import options_for
    from planner.plan.check import check_group
    from planner.plan.group import assemble_group_plan
    from planner.solve.bounds import refuse_unbounded

    t0 = time.perf_counter()
    data = market_data(prep, settings)
    opts = replace(opts or options_for(prep.spec), duals=True, tie_break=False)
    refuse_unbounded(data)
    res, results, links, prices, timings = solve_prices(data, opts)
    timings["market_data_s"] = time.perf_counter() - t0 - sum(timings.values())
    t2 = time.perf_counter()
    plan = assemble_group_plan(replace(prep, data=data), results, links, res, None)
    timings["plan_s"] = time.perf_counter() - t2
    failures = check_group(data, plan, objective=res.objective) if check else []
    basis = res.duals_basis or "LP"
    return MarketSolution(data=data, prices=prices, plan=plan, solve=res, price_basis=basis, options=opts,
                          auction_t={e.id: e.auction_max_t for e in prep.data.entities if e.auction_max_t},
                          check_failures=failures, timings=timings)


class MarketSolveError(PlannerError):
    """The market has no proven-optimal solution (so no prices)."""

    exit_code = 2
