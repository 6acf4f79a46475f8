"""``simulate(case)``: every scenario of a market case solved as a market, and the back-test, as tidy tables."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import CaseValidationError, NonOptimalError
from planner.market.engine import MarketSettings, MarketSolution, MarketSolveError, solve_market
from planner.market.fleet import FleetCalibration, SectorTarget, national_group, scale_fixed
from planner.market.spec import CcerSpec, MarketCaseSpec, ScenarioSpec, load_market_case, per_year

SECTOR_OF_CLASS = {"steel_bf_bof": "steel", "cement_clinker": "cement", "aluminium_electrolysis": "aluminium"}
TOL = 1e-3


@dataclass
class MarketOutcome:
    """Tidy results of a market case (one row per scenario and year unless said)."""

    prices: pd.DataFrame
    """scenario, year, cea_price_cny_per_t, discounted_cny_per_t, ccer_price_cny_per_t, price_basis."""
    volumes: pd.DataFrame
    """scenario, year: emissions, allocation, auction, obligation, traded (net purchases), banked, lapsed,
    abatement, CCERs surrendered, shortfall (t)."""
    sectors: pd.DataFrame
    """scenario, year, sector: entities, emissions, abatement and compliance cost (trades at the year's price)."""
    bindings: pd.DataFrame
    """scenario, year, rule, statement: the rules that bind, in words."""
    calibration: pd.DataFrame
    """sector: target and built entities and emissions, representatives."""
    backtest: pd.DataFrame
    """year, window_year, simulated and observed CEA price, error."""
    scenarios: pd.DataFrame
    """scenario, label, what it changes, status, solve seconds, checks."""
    notes: list[str] = field(default_factory=list)
    solutions: dict[str, MarketSolution] = field(default_factory=dict)


def _settings(ccer: CcerSpec, years: list[int], terminal: float) -> MarketSettings:
    return MarketSettings(terminal_value_cny_per_t=terminal, ccer_price_cny_per_t=per_year(ccer.price_cny_per_t, years),
                          ccer_supply_t=per_year(ccer.supply_t, years))


def _calibration(case: MarketCaseSpec, growth: float) -> FleetCalibration:
    f = case.fleet
    ind = {s: SectorTarget(getattr(f, s).entities, getattr(f, s).emissions_t) for s in ("steel", "cement", "aluminium")
           if getattr(f, s) is not None}
    return FleetCalibration(power=SectorTarget(f.power.entities, f.power.emissions_t), industry=ind, cluster=f.cluster,
                            seed=f.seed, output_growth=growth)


def solve_scenario(case: MarketCaseSpec, sc: ScenarioSpec, *, check: bool = True):
    """One scenario: the fleet under its rules, solved as a market (and checked). Returns the
    solution, the entities each representative stands for, the calibration rows and the sector of
    each entity."""
    from planner.market.check import check_market
    from planner.prepare.group import prepare_group

    m = case.market
    years = m.horizon.years
    growth = case.fleet.output_growth if sc.output_growth is None else sc.output_growth
    ref = per_year(sc.reference_price_cny_per_t if sc.reference_price_cny_per_t is not None else m.reference_price_cny_per_t, years)
    spec, calib, weights = national_group(_calibration(case, growth), years, reference_price=list(ref),
                                          overrides={**m.overrides, **sc.overrides}, discount_rate=m.discount_rate,
                                          group_id=f"{m.id}-{sc.id}")
    prep = scale_fixed(prepare_group(spec), weights)
    terminal = m.terminal_value_cny_per_t if sc.terminal_value_cny_per_t is None else sc.terminal_value_cny_per_t
    from planner.solve.highs import SolveOptions

    opts = SolveOptions(time_limit_s=m.solver.time_limit_s, mip_rel_gap=m.solver.mip_rel_gap, threads=m.solver.threads)
    sol = solve_market(prep, _settings(sc.ccer or m.ccer, years, terminal), opts)
    if check:
        sol.check_failures = check_market(sol)
    sector_of = {}
    for c in spec.entities:
        sector_of[c.entity.id] = SECTOR_OF_CLASS.get(c.entity.unit_class or "", "industry") if c.entity.sector == "industry" else "power"
    return sol, weights, calib, sector_of


def tables(scenario: str, sol: MarketSolution, weights: dict[str, float], sector_of: dict[str, str]):
    """The scenario's rows of the prices, volumes, sectors and bindings tables."""
    data = sol.data
    years = list(data.years)
    dfac = dict(zip(years, data.discount_factor, strict=True))
    p = dict(zip(sol.prices["year"], sol.prices["cea_price_cny_per_t"], strict=True))
    q = dict(zip(sol.prices["year"], sol.prices["ccer_price_cny_per_t"], strict=True))
    a = sol.plan.entities.annual.copy()
    a["sector"] = a["entity"].map(sector_of).fillna("power")
    a["net_buy_t"] = a["buy_t"] - a["sell_t"]
    prices = sol.prices.assign(scenario=scenario, discounted_cny_per_t=[p[y] * dfac[y] for y in years],
                               price_basis=sol.price_basis)
    prices = prices[["scenario", "year", "cea_price_cny_per_t", "discounted_cny_per_t", "ccer_price_cny_per_t", "price_basis"]]
    real = a
    auction = {(e, y): v for e, vals in sol.auction_t.items() for y, v in zip(years, vals, strict=True)}
    g = real.groupby("year")
    vol = pd.DataFrame({
        "scenario": scenario, "year": years,
        "emissions_t": g["emissions_t"].sum().reindex(years).to_numpy(),
        "free_allocation_t": g["allocation_t"].sum().reindex(years).to_numpy()
        - np.array([sum(v for (e, yy), v in auction.items() if yy == y) for y in years]),
        "auctioned_t": [sum(v for (e, yy), v in auction.items() if yy == y) for y in years],
        "obligation_t": g["obligation_t"].sum().reindex(years).to_numpy(),
        "traded_t": a.assign(x=a["net_buy_t"].clip(lower=0)).groupby("year")["x"].sum().reindex(years).to_numpy(),
        "banked_t": g["carry_t"].sum().reindex(years).to_numpy(),
        "lapsed_t": g["lapse_t"].sum().reindex(years).to_numpy(),
        "abatement_t": (g["abatement_measures_t"].sum() + g["abatement_projects_t"].sum()).reindex(years).to_numpy(),
        "ccer_surrendered_t": g["ccer_surrendered_t"].sum().reindex(years).to_numpy(),
        "shortfall_t": g["shortfall_t"].sum().reindex(years).to_numpy(),
    })
    costs = sol.plan.entities.costs
    nominal = costs.groupby(["entity", "year"])["nominal_cny"].sum()
    real = real.assign(own_cost=[float(nominal.get((e, y), 0.0)) for e, y in zip(real["entity"], real["year"], strict=True)])
    real = real.assign(cost=real["own_cost"] + [p[y] * (nb + auction.get((e, y), 0.0)) + (q[y] * c if data.group.pool else 0.0)
                                                for e, y, nb, c in zip(real["entity"], real["year"], real["net_buy_t"],
                                                                       real["ccer_buy_t"], strict=True)],
                       n=real["entity"].map(weights).fillna(1.0))
    sec = real.groupby(["year", "sector"]).agg(
        emissions_t=("emissions_t", "sum"), abatement_t=("abatement_measures_t", "sum"), net_purchases_t=("net_buy_t", "sum"),
        compliance_cost_cny=("cost", "sum")).reset_index()
    ents = real[real["year"] == years[0]].groupby("sector")["n"].sum()
    sec.insert(0, "scenario", scenario)
    sec["entities"] = sec["sector"].map(ents).round().astype(int)
    return prices, vol, sec, bindings(scenario, sol, real, p, dfac)


def bindings(scenario: str, sol: MarketSolution, a: pd.DataFrame, p: dict, dfac: dict) -> pd.DataFrame:
    """The rules that bind, in words, per year."""
    years = list(sol.data.years)
    rows = []
    share = {e.id: e.ccer_cap_share for e in sol.data.entities}
    pos = {y: i for i, y in enumerate(years)}
    g = sol.data.group
    pool = sol.plan.group_annual.set_index("year") if g.pool else None
    for y in years:
        ay = a[a["year"] == y]
        n = ay["n"]
        lim = ay["carry_limit_t"].to_numpy(dtype=float)
        finite = np.where(np.isfinite(lim), lim, 0.0)
        at_lim = np.isfinite(lim) & (ay["carry_t"].to_numpy() >= finite - 1e-6 * np.maximum(1.0, finite) - TOL)
        if at_lim.any():
            k, mt = n[at_lim].sum(), ay["carry_t"][at_lim].sum() / 1e6
            rows.append((y, "carry-over limit",
                         f"{k:,.0f} entities bank up to their carry-over limit ({mt:,.1f} Mt) at the transition after the {y} surrender",
                         f"{k:,.0f} 家单位在{y}年度清缴后的结转中达到结转上限（共 {mt:,.1f} 百万吨）"))
        cap = np.array([share[e][pos[y]] for e in ay["entity"]]) * ay["obligation_t"].to_numpy()
        at_cap = (cap > TOL) & (ay["ccer_surrendered_t"].to_numpy() >= cap - 1e-6 * cap - TOL)
        if at_cap.any():
            k, mt = n[at_cap].sum(), ay["ccer_surrendered_t"][at_cap].sum() / 1e6
            rows.append((y, "CCER cap", f"{k:,.0f} entities surrender CCERs up to their cap ({mt:,.1f} Mt)",
                         f"{k:,.0f} 家单位的CCER抵销达到上限（共 {mt:,.1f} 百万吨）"))
        if pool is not None:
            bought = float(pool.loc[y, "pool_buy_t"]) if "pool_buy_t" in pool else 0.0
            supply = g.pool_max_t[pos[y]]
            if math.isfinite(supply) and supply > 0 and bought >= supply - TOL - 1e-6 * supply:
                rows.append((y, "CCER supply", f"the whole CCER supply ({supply / 1e6:,.1f} Mt) is bought: CCERs are scarce",
                             f"CCER供给（{supply / 1e6:,.1f} 百万吨）全部被购买：CCER稀缺"))
        sf = ay["shortfall_t"].to_numpy() > TOL
        if sf.any():
            k, mt = n[sf].sum(), ay["shortfall_t"][sf].sum() / 1e6
            rows.append((y, "fine", f"{k:,.0f} entities leave {mt:,.2f} Mt unsurrendered and pay the fine",
                         f"{k:,.0f} 家单位未清缴 {mt:,.2f} 百万吨并缴纳罚款"))
        lapsed = float(ay["lapse_t"].sum())
        if lapsed > TOL:
            rows.append((y, "lapse", f"{lapsed / 1e6:,.1f} Mt lapse at the transition (above the carry-over limits)",
                         f"{lapsed / 1e6:,.1f} 百万吨超出结转上限而作废"))
        i = pos[y]
        if i + 1 < len(years):
            y2 = years[i + 1]
            d1, d2 = p[y] * dfac[y], p[y2] * dfac[y2]
            banked = float(ay["carry_t"].sum())
            if banked > TOL and abs(d2 - d1) <= 1e-6 * max(1.0, d1) + 1e-6:
                rows.append((y, "banking",
                             f"the market banks {banked / 1e6:,.1f} Mt into {y2}, not limited at the margin: the {y2} price is the "
                             f"{y} price grown at the discount rate ({p[y]:,.2f} -> {p[y2]:,.2f})",
                             f"市场结转 {banked / 1e6:,.1f} 百万吨至{y2}年，边际上不受限：{y2}年价格等于{y}年价格按贴现率增长"
                             f"（{p[y]:,.2f} -> {p[y2]:,.2f}）"))
            elif d2 > d1 + 1e-6 * max(1.0, d1):
                rows.append((y, "banking",
                             f"banking into {y2} is limited: the {y2} price ({p[y2]:,.2f}) is above the {y} price grown at the "
                             f"discount rate ({d1 / dfac[y2]:,.2f}): the carry-over limits bind",
                             f"结转至{y2}年受限：{y2}年价格（{p[y2]:,.2f}）高于{y}年价格按贴现率增长后的水平（{d1 / dfac[y2]:,.2f}）：结转上限起约束作用"))
        if p[y] <= 1e-6:
            rows.append((y, "surplus", f"the {y} price is 0: the market is long in {y} and cannot bank the surplus",
                         f"{y}年价格为0：市场盈余且无法结转"))
    return pd.DataFrame([{"scenario": scenario, "year": y, "rule": r, "statement": en, "statement_zh": zh} for y, r, en, zh in rows],
                        columns=["scenario", "year", "rule", "statement", "statement_zh"])


def simulate(case: MarketCaseSpec | str | Path, *, check: bool = True, scenarios: list[str] | None = None,
             backtest: bool = True) -> MarketOutcome:
    """Solve every scenario of ``case`` (or those named) as a market, and the back-test; tidy tables."""
    if not isinstance(case, MarketCaseSpec):
        case = load_market_case(case)
    pr, vo, se, bi, sc_rows, sols = [], [], [], [], [], {}
    calib_rows: list[dict] = []
    notes: list[str] = []
    chosen = [s for s in case.scenarios if scenarios is None or s.id in scenarios]
    if scenarios is not None:
        unknown = sorted(set(scenarios) - {s.id for s in case.scenarios})
        if unknown:
            raise CaseValidationError("--scenario", [("", f"unknown scenarios {unknown}; the case has {[s.id for s in case.scenarios]}")])
    for sc in chosen:
        t0 = time.perf_counter()
        try:
            sol, weights, calib, sector_of = solve_scenario(case, sc, check=check)
        except (NonOptimalError, MarketSolveError) as exc:
            # a scenario without proven-optimal prices is reported as such; the others still are
            sc_rows.append({"scenario": sc.id, "label": sc.label, "changes": describe(sc), "entities_represented": None,
                            "representatives": None, "mip": None, "price_basis": None,
                            "seconds": round(time.perf_counter() - t0, 2), "check": f"NO PRICES: {exc}"})
            continue
        p, v, s, b = tables(sc.id, sol, weights, sector_of)
        pr.append(p), vo.append(v), se.append(s), bi.append(b)
        calib_rows = calib_rows or calib
        sols[sc.id] = sol
        sc_rows.append({"scenario": sc.id, "label": sc.label, "changes": describe(sc), "entities_represented": round(sum(weights.values())),
                        "representatives": len(weights), "mip": bool(sol.solve.is_mip), "price_basis": sol.price_basis,
                        "seconds": round(time.perf_counter() - t0, 2), "check": "passed" if not sol.check_failures else
                        f"FAILED: {'; '.join(sol.check_failures[:3])}" if check else "not run"})
    bt = run_backtest(case, check=check) if (backtest and case.backtest is not None) else pd.DataFrame(
        columns=["year", "window_year", "simulated_cny_per_t", "observed_cny_per_t", "error_cny_per_t", "error_share"])
    notes += [
        "Prices are the duals of each year's market-clearing row, undiscounted CNY/t (planner.market.engine).",
        "The fleet is made of representative entities, each standing for identical covered entities "
        "(planner.market.fleet): exact for a convex market; with the net-sales floor (a MIP) each representative "
        "chooses one regime for all the entities it stands for.",
    ]
    if any(s.solve.is_mip for s in sols.values()):
        notes.append("Where the rules need binaries (the net-sales floor of the carry-over limit), the market is solved as a MIP and "
                     "the prices are those of the LP re-solved with the integer decisions fixed.")
    if not pr:
        raise MarketSolveError("no scenario of the case solved to optimality: "
                               + "; ".join(f"{r['scenario']}: {r['check']}" for r in sc_rows))
    for sol in sols.values():
        notes += sol.notes
    return MarketOutcome(prices=pd.concat(pr, ignore_index=True), volumes=pd.concat(vo, ignore_index=True),
                         sectors=pd.concat(se, ignore_index=True), bindings=pd.concat(bi, ignore_index=True),
                         calibration=pd.DataFrame(calib_rows), backtest=bt, scenarios=pd.DataFrame(sc_rows), notes=notes,
                         solutions=sols)


def describe(sc: ScenarioSpec) -> str:
    """What a scenario changes from the central settings, in words (``changes`` in scenarios.csv)."""
    parts = [f"{k} = {v}" for k, v in sc.overrides.items()]
    if sc.ccer is not None:
        parts.append(f"CCER supply {sc.ccer.supply_t} t at {sc.ccer.price_cny_per_t} CNY/t")
    if sc.reference_price_cny_per_t is not None:
        parts.append(f"fine reference price {sc.reference_price_cny_per_t}")
    if sc.output_growth is not None:
        parts.append(f"output growth {sc.output_growth:+.1%} a year")
    if sc.terminal_value_cny_per_t is not None:
        parts.append(f"bank after the horizon worth {sc.terminal_value_cny_per_t} CNY/t")
    return "; ".join(parts) or "central settings"


def run_backtest(case: MarketCaseSpec, *, check: bool = True) -> pd.DataFrame:
    """The back-test cycles as a market on the rules of their time, against the observed prices."""
    bt = case.backtest
    sub = MarketCaseSpec(
        market=case.market.model_copy(update={"horizon": bt.horizon, "terminal_value_cny_per_t": bt.terminal_value_cny_per_t,
                                               "reference_price_cny_per_t": bt.reference_price_cny_per_t, "ccer": bt.ccer,
                                               "overrides": bt.overrides}),
        fleet=case.fleet.model_copy(update={"power": bt.power, "steel": None, "cement": None, "aluminium": None}),
        scenarios=[ScenarioSpec(id="backtest")],
    )
    sol, _, _, _ = solve_scenario(sub, sub.scenarios[0], check=check)
    p = dict(zip(sol.prices["year"], sol.prices["cea_price_cny_per_t"], strict=True))
    rows = []
    for o in bt.observed:
        s = p.get(o.year, math.nan)
        rows.append({"year": o.year, "window_year": o.window_year, "simulated_cny_per_t": s, "observed_cny_per_t": o.cea_cny_per_t,
                     "error_cny_per_t": s - o.cea_cny_per_t, "error_share": (s - o.cea_cny_per_t) / o.cea_cny_per_t})
    out = pd.DataFrame(rows)
    out.attrs["check"] = "passed" if not sol.check_failures else "; ".join(sol.check_failures[:3])
    out.attrs["price_basis"] = sol.price_basis
    return out
