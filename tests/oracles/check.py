"""The per-entity plan checker: the reference the library checker (``planner.plan.check``) is
tested against.

Entity by entity and year by year, from the plan tables and the prepared model data only, with
the library's messages in its order; ``tests/solver/test_group_check.py`` and
``tests/solver/test_entity_tables.py`` assert both give the same failures on solved plans and on
plans with planted errors. The opening transitions, the round trips and the group's own yearly
rules are the library's (``check_opening``, ``check_round_trips``, ``check_transfer_nets``,
``check_group_years``): short loops with nothing to vectorise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.data import EntityData, ModelData
from planner.plan.check import (
    _close,
    _le,
    _tol,
    check_group_years,
    check_opening,
    check_round_trips,
    check_transfer_nets,
)


def check_plan(data: ModelData, plan, *, objective: float | None = None) -> list[str]:
    """Return a list of failures (empty when the plan is consistent with every rule)."""
    fails: list[str] = []
    years = list(data.years)
    ann = plan.annual
    by_entity = {e: g for e, g in ann.groupby("entity", sort=False)}
    for ent in data.entities:
        a = by_entity.get(ent.id, ann.iloc[:0]).set_index("year").reindex(years)
        if a.isna().all(axis=1).any():
            fails.append(f"{ent.id}: the annual table lacks some years")
            continue
        fails += _check_entity(ent, years, a, plan)
    fails += _check_costs(data, plan, objective)
    return fails + check_round_trips(data, plan.annual, plan.summary)

def _check_entity(d: EntityData, years: list[int], a: pd.DataFrame, plan, *, ns_excludes_transfers: bool = False) -> list[str]:
    f: list[str] = []
    e = d.id
    scale = max(d.emissions_baseline_t) if d.emissions_baseline_t else 1.0
    quantities = [
        "buy_t", "sell_t", "surrender_t", "carry_t", "lapse_t", "shortfall_t", "ccer_buy_t",
        "ccer_sell_t", "ccer_use_pool_t", "ccer_hold_t", "abatement_measures_t", "relief_t", "borrow_t",
        "auction_buy_t", "opening_sell_t", "opening_lapse_t",
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
    carried_in, ns = check_opening(f, d, years, a["opening_sell_t"].tolist(), a["opening_lapse_t"].tolist(),
                                   float(a["opening_carry_limit_t"].iloc[0]), scale)
    carry_prev = carried_in
    ccer_prev = d.opening_ccer_t
    short_prev = 0.0
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
        if ns_excludes_transfers:  # a group whose rule pack does not count transfers as trades
            ns -= r.transfer_out_t - r.transfer_in_t
        _close(f, f"{tag}: cumulative net sales", r.net_sales_t, ns, scale)
        rule = d.carry_rules[i]
        if rule.limited:
            limit = rule.floor_t + rule.multiplier * max(0.0, ns - rule.threshold_t)
            _le(f, f"{tag}: carry-over vs limit", r.carry_t, limit, scale, ns)
            _close(f, f"{tag}: reported carry-over limit = the rule at the net sales", r.carry_limit_t, limit, scale, ns)
        else:
            if r.lapse_t > _tol(scale):
                f.append(f"{tag}: allowances lapse at a transition without a limit")
            if r.carry_limit_t != math.inf:
                f.append(f"{tag}: a carry-over limit of {r.carry_limit_t:,.0f} t is reported at a transition without one")
        carry_prev, ccer_prev, short_prev = r.carry_t, r.ccer_hold_t, r.shortfall_t
    return f

def _check_costs(data: ModelData, plan, objective: float | None, *, link_npv: float = 0.0) -> list[str]:
    """Recompute every cost component from prices and quantities; compare with the plan and objective.

    In a group with transfers, purchases and sales are priced on the market part of the trades and
    the intra-group part is settled at the transfer price (component ``transfer``); ``link_npv`` is
    the discounted cost of the group links, recomputed by the caller."""
    f: list[str] = []
    g = data.group
    settle = g is not None and g.transfers != "none"
    years = list(data.years)
    costs = plan.costs.set_index(["entity", "year", "component"])["nominal_cny"]
    total = 0.0
    def split(df: pd.DataFrame) -> dict[str, pd.DataFrame]:  # once: filtering per entity is quadratic
        return {e: x for e, x in df.groupby("entity", sort=False)} if not df.empty and "entity" in df.columns else {}

    annual, abatement, builds_by, lots_by = (split(plan.annual), split(plan.abatement), split(plan.builds),
                                             split(plan.ccer_lots))
    for d in data.entities:
        a = annual.get(d.id, plan.annual.iloc[:0]).set_index("year")
        ab = abatement.get(d.id, plan.abatement.iloc[:0])
        measures = {m.id: m for m in d.measures}
        projects = {p.id: p for p in d.projects}
        builds = builds_by.get(d.id, plan.builds.iloc[:0])
        lots = lots_by.get(d.id, plan.ccer_lots.iloc[:0])
        abate_by_year: dict[int, float] = {}
        for x in ab.itertuples(index=False):
            abate_by_year[int(x.year)] = abate_by_year.get(int(x.year), 0.0) + measures[x.measure].cost_cny_per_t[years.index(int(x.year))] * x.abate_t
        rows = a.reindex(years)
        for i, (y, r) in enumerate(zip(years, rows.itertuples(index=False), strict=True)):
            buy_t, sell_t = (r.market_buy_t, r.market_sell_t) if settle else (r.buy_t, r.sell_t)
            want = {
                "abatement": abate_by_year.get(y, 0.0),
                "capex": 0.0,
                "opex": 0.0,
                "purchase": d.price_buy_cny_per_t[i] * buy_t + d.per_year("price_auction_cny_per_t", i) * r.auction_buy_t,
                "fees": d.fee_cea_cny_per_t[i] * (r.buy_t + r.sell_t) + d.fee_ccer_cny_per_t[i] * (r.ccer_buy_t + r.ccer_sell_t),
                "ccer": d.price_ccer_buy_cny_per_t[i] * r.ccer_buy_t,
                "penalty": d.penalty_cny_per_t[i] * r.shortfall_t,
                "sales": -(d.price_sell_cny_per_t[i] * sell_t + d.price_ccer_sell_cny_per_t[i] * r.ccer_sell_t),
                "terminal": 0.0,
            }
            if d.shortfall_allowed and d.per_year("fine_fixed_cny", i) > 0 and r.shortfall_t > _tol(max(d.emissions_baseline_t)):
                want["penalty"] += d.fine_fixed_cny[i]  # Order 19: a fixed fine for any shortfall
            if i == 0:  # sales before the opening transition (position before it)
                want["sales"] -= d.price_opening_sell_cny_per_t * r.opening_sell_t
                want["fees"] += d.fee_opening_cny_per_t * r.opening_sell_t
            if settle:
                want["transfer"] = g.transfer_price_cny_per_t[i] * (r.transfer_in_t - r.transfer_out_t)
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
    total += link_npv
    if objective is not None and not math.isclose(total, objective, rel_tol=1e-7, abs_tol=1e-2):
        f.append(f"objective {objective:,.2f} != discounted sum of recomputed costs {total:,.2f}")
    return f

def check_group(data: ModelData, gplan, *, objective: float | None = None) -> list[str]:
    """Check a group plan: every entity as in ``check_plan``, then the links, from result tables only.
    Entity by entity: the reference for ``planner.plan.check.check_group``.

    Links: trades split into market and intra-group parts within the entity's own market limits;
    transfers net to zero in every year (and, for block trades, every transfer is at least the
    minimum lot between an allowed pair); the CCER pool adds up; group limits, price tiers and the
    budget hold; the objective equals the discounted entity costs plus the link costs.
    """
    fails: list[str] = []
    g = data.group
    years = list(data.years)
    plan = gplan.entities
    ann = plan.annual
    excl = g is not None and g.transfers != "none" and not g.transfers_in_net_sales
    by_entity = {e: g for e, g in ann.groupby("entity", sort=False)}
    for ent in data.entities:
        a = by_entity.get(ent.id, ann.iloc[:0]).set_index("year").reindex(years)
        if a.isna().all(axis=1).any():
            fails.append(f"{ent.id}: the annual table lacks some years")
            continue
        fails += _check_entity(ent, years, a, plan, ns_excludes_transfers=excl)
    if g is None:
        return fails + _check_costs(data, plan, objective) + check_round_trips(data, ann, gplan.summary)
    a = ann.set_index(["entity", "year"])
    scale = max([1.0] + [max(e.emissions_baseline_t) for e in data.entities])
    price = {y: g.transfer_price_cny_per_t[i] for i, y in enumerate(years)} if g.transfer_price_cny_per_t else {}
    rows = a.reindex(pd.MultiIndex.from_product([[d.id for d in data.entities], years]))
    cells = iter(rows.itertuples(index=False))
    for k, d in enumerate(data.entities):
        for i, y in enumerate(years):
            r = next(cells)
            tag = f"{d.id} {y}"
            for q in ("market_buy_t", "market_sell_t", "transfer_in_t", "transfer_out_t"):
                if getattr(r, q) < -_tol(scale):
                    fails.append(f"{tag}: {q} is negative")
            _close(fails, f"{tag}: CEA bought = market + transfers in", r.buy_t, r.market_buy_t + r.transfer_in_t, scale)
            _close(fails, f"{tag}: CEA sold = market + transfers out", r.sell_t, r.market_sell_t + r.transfer_out_t, scale)
            _le(fails, f"{tag}: market purchases vs the entity's limit", r.market_buy_t, g.market_buy_max_t[k][i], scale)
            _le(fails, f"{tag}: market sales vs the entity's limit", r.market_sell_t, g.market_sell_max_t[k][i], scale)
            if g.transfers == "none" and (r.transfer_in_t > _tol(scale) or r.transfer_out_t > _tol(scale)):
                fails.append(f"{tag}: transfers in a group without transfers")
    check_transfer_nets(fails, data, gplan, scale)
    tr = gplan.transfers
    if g.transfers != "none" and len(tr):
        # the transfer matrix delivers exactly each entity's net transfers
        sent = tr.groupby(["seller", "year"])["transfer_t"].sum()
        got = tr.groupby(["buyer", "year"])["transfer_t"].sum()
        cells = iter(rows.itertuples(index=False))
        for d in data.entities:
            for y in years:
                r = next(cells)
                net = float(sent.get((d.id, y), 0.0)) - float(got.get((d.id, y), 0.0))
                _close(fails, f"{d.id} {y}: transfer matrix vs net transfers", net, r.transfer_out_t - r.transfer_in_t, scale)
    link_npv = check_group_years(fails, data, gplan, scale, price)
    fails += _check_costs(data, plan, objective, link_npv=link_npv)
    return fails + check_round_trips(data, ann, gplan.summary)
