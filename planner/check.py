"""Independent plan checker: recompute every ledger identity and rule from the plan tables.

It reads only the prepared model data (plain dataclasses) and the plan's pandas tables, never the
Pyomo model, so a wrong constraint in the math cannot hide behind its own arithmetic. Every solved
plan in the tests goes through it, and the CLI refuses to write a plan that fails it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.data import EntityData, ModelData


def check_plan(data: ModelData, plan, *, objective: float | None = None) -> list[str]:
    """Return a list of failures (empty when the plan is consistent with every rule)."""
    fails: list[str] = []
    years = list(data.years)
    ann = plan.annual
    for ent in data.entities:
        a = ann[ann["entity"] == ent.id].set_index("year").reindex(years)
        if a.isna().all(axis=1).any():
            fails.append(f"{ent.id}: the annual table lacks some years")
            continue
        fails += _check_entity(ent, years, a, plan)
    fails += _check_costs(data, plan, objective)
    return fails


def _tol(*xs: float) -> float:
    return 1e-6 * max([1.0] + [abs(float(x)) for x in xs]) + 1e-4


def _close(fails: list[str], what: str, got: float, want: float, *scale: float) -> None:
    if not math.isclose(got, want, rel_tol=0, abs_tol=_tol(got, want, *scale)):
        fails.append(f"{what}: {got:,.6f} != {want:,.6f}")


def _le(fails: list[str], what: str, got: float, limit: float, *scale: float) -> None:
    if got > limit + _tol(got, limit, *scale):
        fails.append(f"{what}: {got:,.6f} > {limit:,.6f}")


def _check_entity(d: EntityData, years: list[int], a: pd.DataFrame, plan) -> list[str]:
    f: list[str] = []
    e = d.id
    scale = max(d.emissions_baseline_t) if d.emissions_baseline_t else 1.0
    quantities = [
        "buy_t", "sell_t", "surrender_t", "carry_t", "lapse_t", "shortfall_t", "ccer_buy_t",
        "ccer_sell_t", "ccer_use_pool_t", "ccer_hold_t", "abatement_measures_t", "relief_t", "borrow_t",
        "auction_buy_t",
    ]
    for q in quantities:
        neg = a[a[q] < -_tol(scale)]
        for y in neg.index:
            f.append(f"{e} {y}: {q} is negative ({neg.loc[y, q]:,.6f})")

    # abatement by measure and project, recomputed from the detail tables
    ab = plan.abatement[plan.abatement["entity"] == e] if not plan.abatement.empty else plan.abatement
    measures = {m.id: m for m in d.measures}
    for r in ab.itertuples(index=False):
        i = years.index(int(r.year))
        _le(f, f"{e} {r.year}: measure {r.measure} abatement vs potential", r.abate_t, measures[r.measure].potential_t[i], scale)
        if r.abate_t < -_tol(scale):
            f.append(f"{e} {r.year}: measure {r.measure} abatement is negative")
    projects = {p.id: p for p in d.projects}
    builds = plan.builds[plan.builds["entity"] == e]
    for p, n in builds.groupby("project").size().items():
        if n > 1:
            f.append(f"{e}: project {p} is built {n} times")
    proj_red = np.zeros(len(years))  # reduction delivered by the built projects
    want_ops = np.zeros(len(years))  # number of projects operating
    for b in builds.itertuples(index=False):
        opts = {o.build_year: o for o in projects[b.project].options}
        if int(b.build_year) not in opts:
            f.append(f"{e}: project {b.project} cannot start in {b.build_year}")
            continue
        op = np.array(opts[int(b.build_year)].operating, dtype=float)
        proj_red += op * projects[b.project].reduction_t_per_year
        want_ops += op
    py = plan.project_years[plan.project_years["entity"] == e]
    listed = py.groupby("year").size().reindex(years, fill_value=0).to_numpy()
    if not np.array_equal(listed, want_ops):
        f.append(f"{e}: project operating years do not follow from the builds, lead times and lifetimes")

    by_measure = ab.groupby("year")["abate_t"].sum().reindex(years, fill_value=0.0) if len(ab) else pd.Series(0.0, index=years)
    lots = plan.ccer_lots[plan.ccer_lots["entity"] == e] if not plan.ccer_lots.empty else plan.ccer_lots
    lot_by_year = lots.groupby("year")["ccer_use_lot_t"].sum().reindex(years, fill_value=0.0) if len(lots) else pd.Series(0.0, index=years)
    lot_data = {l.id: l for l in d.ccer_lots}
    for lid, g in (lots.groupby("lot") if len(lots) else []):
        _le(f, f"{e}: CCER lot {lid} used over all years vs its quantity", float(g["ccer_use_lot_t"].sum()), lot_data[lid].quantity_t, scale)
        for r in g.itertuples(index=False):
            if r.ccer_use_lot_t > _tol(scale) and not lot_data[lid].eligible[years.index(int(r.year))]:
                f.append(f"{e} {r.year}: CCER lot {lid} used outside its eligible years")

    loss = {m.id: m.allocation_loss_t_per_t for m in d.measures if m.allocation_loss_t_per_t}
    lost = pd.Series(0.0, index=years)
    for r in ab.itertuples(index=False):
        if r.measure in loss:
            lost[int(r.year)] += loss[r.measure][years.index(int(r.year))] * r.abate_t
    total_borrow = float(a["borrow_t"].sum())
    carry_prev = d.opening_cea_t
    ccer_prev = d.opening_ccer_t
    short_prev = 0.0
    ns = d.opening_net_sales_t
    ccer_new = d.opening_ccer_t  # new-system CCERs bought so far (old ones are used or sold first)
    for i, y in enumerate(years):
        r = a.loc[y]
        tag = f"{e} {y}"
        _close(f, f"{tag}: measure abatement total", r.abatement_measures_t, by_measure[y], scale)
        _close(f, f"{tag}: project abatement", r.abatement_projects_t, proj_red[i], scale)
        emissions = d.emissions_baseline_t[i] - by_measure[y] - proj_red[i]
        _close(f, f"{tag}: emissions = baseline - abatement", r.emissions_t, emissions, scale)
        if emissions < -_tol(scale):
            f.append(f"{tag}: abatement exceeds baseline emissions")
        bench = d.allocation_t[i] - lost[y]
        _close(f, f"{tag}: allocation before relief = formula - output cuts", r.allocation_benchmark_t, bench, scale)
        share = d.relief_share[i]
        relief = max(0.0, share * emissions - bench) if share > 0 else 0.0
        _close(f, f"{tag}: relief = max(0, {share:g} x emissions - allocation)", r.relief_t, relief, scale)
        repaid = total_borrow if i == d.borrow_source_index else 0.0
        allocation = bench + (relief if d.relief_to_allocation[i] else 0.0) - repaid
        _close(f, f"{tag}: allocation received", r.allocation_t, allocation, scale)
        obligation = emissions - (0.0 if d.relief_to_allocation[i] else relief)
        _close(f, f"{tag}: obligation", r.obligation_t, obligation, scale)
        phi = d.per_year("borrow_share", i)
        if r.borrow_t < -_tol(scale):
            f.append(f"{tag}: pre-draw is negative")
        if r.borrow_t > _tol(scale):
            gap = emissions - bench - relief
            if phi <= 0:
                f.append(f"{tag}: pre-draw of {r.borrow_t:,.0f} t in a year without the pre-draw rule")
            _le(f, f"{tag}: pre-draw vs {phi:.0%} of the gap", r.borrow_t, phi * gap, scale)
            _le(f, f"{tag}: pre-draw needs a gap of at least {d.borrow_min_gap_share:.0%} of emissions", d.borrow_min_gap_share * emissions, gap, scale)
        _le(f, f"{tag}: auction purchase vs auctioned share", r.auction_buy_t, d.per_year("auction_max_t", i), scale)
        if r.auction_buy_t < -_tol(scale):
            f.append(f"{tag}: auction purchase is negative")
        ccer = r.ccer_use_pool_t + lot_by_year[y]
        _close(f, f"{tag}: CCER surrendered = pool + lots", r.ccer_surrendered_t, ccer, scale)
        deduction = short_prev if d.shortfall_deducted_next_year else 0.0
        _close(f, f"{tag}: surrender + CCER + shortfall = obligation + last year's deducted shortfall", r.surrender_t + ccer + r.shortfall_t, obligation + deduction, scale)
        lhs = carry_prev + allocation + r.buy_t + r.auction_buy_t + r.borrow_t - r.sell_t
        _close(f, f"{tag}: allowance stock balance", lhs, r.surrender_t + r.carry_t + r.lapse_t, scale)
        _close(f, f"{tag}: CCER pool balance", ccer_prev + r.ccer_buy_t - r.ccer_sell_t, r.ccer_use_pool_t + r.ccer_hold_t, scale)
        base = obligation if d.ccer_cap_on_obligation else emissions
        _le(f, f"{tag}: CCER within {d.ccer_cap_share[i]:.1%} cap", ccer, d.ccer_cap_share[i] * base, scale)
        _le(f, f"{tag}: CEA bought vs limit", r.buy_t, d.buy_max_t[i], scale)
        _le(f, f"{tag}: CEA sold vs limit", r.sell_t, d.sell_max_t[i], scale)
        _le(f, f"{tag}: CCER bought vs availability", r.ccer_buy_t, d.ccer_buy_max_t[i], scale)
        _le(f, f"{tag}: CCER sold vs limit", r.ccer_sell_t, d.ccer_sell_max_t[i], scale)
        if not (d.ccer_buy_old and d.ccer_buy_old[i]):
            ccer_new += r.ccer_buy_t
        if i == d.ccer_old_expiry_index:
            _le(f, f"{tag}: CCERs held past the old-CCER last use are new-system ones", r.ccer_hold_t, ccer_new, scale)
        if not d.shortfall_allowed:
            _le(f, f"{tag}: shortfall under hard compliance", r.shortfall_t, 0.0, scale)
        ns += r.sell_t - r.buy_t - (r.auction_buy_t if d.auction_in_net_sales else 0.0)
        _close(f, f"{tag}: cumulative net sales", r.net_sales_t, ns, scale)
        rule = d.carry_rules[i]
        if rule.limited:
            limit = rule.floor_t + rule.multiplier * max(0.0, ns - rule.threshold_t)
            _le(f, f"{tag}: carry-over vs limit", r.carry_t, limit, scale, ns)
        elif r.lapse_t > _tol(scale):
            f.append(f"{tag}: allowances lapse at a transition without a limit")
        carry_prev, ccer_prev, short_prev = r.carry_t, r.ccer_hold_t, r.shortfall_t
    return f


def _check_costs(data: ModelData, plan, objective: float | None) -> list[str]:
    """Recompute every cost component from prices and quantities; compare with the plan and objective."""
    f: list[str] = []
    years = list(data.years)
    costs = plan.costs.set_index(["entity", "year", "component"])["nominal_cny"]
    total = 0.0
    for d in data.entities:
        a = plan.annual[plan.annual["entity"] == d.id].set_index("year")
        ab = plan.abatement[plan.abatement["entity"] == d.id] if not plan.abatement.empty else plan.abatement
        measures = {m.id: m for m in d.measures}
        projects = {p.id: p for p in d.projects}
        builds = plan.builds[plan.builds["entity"] == d.id]
        lots = plan.ccer_lots[plan.ccer_lots["entity"] == d.id] if not plan.ccer_lots.empty else plan.ccer_lots
        for i, y in enumerate(years):
            r = a.loc[y]
            want = {
                "abatement": sum(
                    measures[x.measure].cost_cny_per_t[i] * x.abate_t
                    for x in ab.itertuples(index=False)
                    if int(x.year) == y
                ),
                "capex": 0.0,
                "opex": 0.0,
                "purchase": d.price_buy_cny_per_t[i] * r.buy_t + d.per_year("price_auction_cny_per_t", i) * r.auction_buy_t,
                "fees": d.fee_cea_cny_per_t[i] * (r.buy_t + r.sell_t) + d.fee_ccer_cny_per_t[i] * (r.ccer_buy_t + r.ccer_sell_t),
                "ccer": d.price_ccer_buy_cny_per_t[i] * r.ccer_buy_t,
                "penalty": d.penalty_cny_per_t[i] * r.shortfall_t,
                "sales": -(d.price_sell_cny_per_t[i] * r.sell_t + d.price_ccer_sell_cny_per_t[i] * r.ccer_sell_t),
                "terminal": 0.0,
            }
            for b in builds.itertuples(index=False):
                o = {o.build_year: o for o in projects[b.project].options}[int(b.build_year)]
                want["capex"] += o.capex_cny[i]
                want["opex"] += o.opex_cny[i]
            if y == years[-1]:
                if d.shortfall_deducted_next_year:
                    want["penalty"] += d.terminal_deduction_cny_per_t * r.shortfall_t
                value = d.terminal_cea_value_cny_per_t * r.carry_t + d.terminal_ccer_value_cny_per_t * r.ccer_hold_t
                for lot in d.ccer_lots:
                    used = float(lots[lots["lot"] == lot.id]["ccer_use_lot_t"].sum()) if len(lots) else 0.0
                    value += lot.terminal_value_cny_per_t * (lot.quantity_t - used)
                owed = d.borrow_terminal_cny_per_t * float(a["borrow_t"].sum()) if d.borrow_source_index < 0 else 0.0
                want["terminal"] = owed - value
            for comp, w in want.items():
                got = float(costs.get((d.id, y, comp), 0.0))
                if not math.isclose(got, w, rel_tol=1e-7, abs_tol=1e-3):
                    f.append(f"{d.id} {y}: cost {comp} {got:,.2f} != recomputed {w:,.2f}")
                total += data.discount_factor[i] * w
    if objective is not None and not math.isclose(total, objective, rel_tol=1e-7, abs_tol=1e-2):
        f.append(f"objective {objective:,.2f} != discounted sum of recomputed costs {total:,.2f}")
    return f
