"""The entity plan tables of a whole group at once.

``planner.plan.entity.assemble_plan`` builds one entity's tables; a group used to call it entity by entity
(``group_plan.entity_plans_per_entity``, kept as the reference), which costs tens of milliseconds of
pandas work per entity: minutes for a national group. Here the same tables are built over all
entities x years in one pass (merges, pivots and array arithmetic on the long tables; the rule
statements from plain column lists with the entity planner's own statement functions), in the
order the per-entity concatenation gives: entities in group order, each entity's rows in its own
order. ``tests/solver/test_group_tables.py`` asserts that every table equals the per-entity one.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from models.data import ModelData
from planner.plan.entity import (
    MAC_COLUMNS,
    TOL_T,
    Plan,
    _option_values,
    annual_derived,
    measure_potential_rows,
    measure_value_row,
    plan_summary,
    schedule_params,
    year_bindings,
)
from planner.prepare.allocation import allocation_schedule

BINDING_COLUMNS = ["entity", "year", "rule", "subject", "statement", "saving_cny_per_t", "facts"]


class _Rows:
    """Attribute access to the rows of a frame from plain column lists (what ``itertuples`` gives,
    without its per-row pandas work)."""

    def __init__(self, df: pd.DataFrame | None, cols: dict[str, list] | None = None):
        """``cols``: the columns as lists (a mapping that may make them on first use)."""
        self.cols = cols if cols is not None else {c: df[c].tolist() for c in df.columns}
        self.i = 0

    def __getattr__(self, name: str):
        try:
            return self.cols[name][self.i]
        except KeyError:
            raise AttributeError(name) from None


def _entity_order(df: pd.DataFrame, pos: dict[str, int]) -> pd.DataFrame:
    """Rows stably sorted by the entity's position in the group (the per-entity concatenation)."""
    if df.empty or "entity" not in df.columns:
        return df
    k = df["entity"].map(pos).to_numpy()
    if len(k) < 2 or bool(np.all(k[1:] >= k[:-1])):
        return df.reset_index(drop=True)
    return df.iloc[np.argsort(k, kind="stable")].reset_index(drop=True)


def _union(lists) -> list[str]:
    """Columns in the order ``pd.concat`` gives frames with these column lists (first seen first)."""
    out: list[str] = []
    seen: set[str] = set()
    for cols in dict.fromkeys(tuple(c) for c in lists):
        for c in cols:
            if c not in seen:
                seen.add(c)
                out.append(c)
    return out


def entity_plans(prep, results, trades: pd.DataFrame, solve_result, disc: pd.Series) -> tuple[Plan, list[tuple[str, list[str]]]]:
    """Every entity's plan tables, concatenated in group order, and each entity's notes.

    ``results``: the group's Results with the settled costs; ``trades``: (entity, year) market and
    intra-group trades with the entities' market limits; ``disc``: discounted cost per entity."""
    data: ModelData = prep.data
    years = list(data.years)
    ids = [d.id for d in data.entities]
    pos = {e: k for k, e in enumerate(ids)}
    df_by_year = dict(zip(years, data.discount_factor, strict=True))
    pick = {n: _entity_order(getattr(results, n), pos)
            for n in ("annual", "abatement", "builds", "project_years", "ccer_lots", "costs", "duals")}

    # inputs and the annual table (assemble_plan's merges, on all entities)
    inputs = [p.inputs for p in prep.entities]
    inp = pd.concat(inputs, ignore_index=True)
    inp["discount_factor"] = inp["year"].map(df_by_year)
    ann = pick["annual"].merge(inp, on=["entity", "year"], how="left")
    ann = ann.merge(trades, on=["entity", "year"], how="left")
    costs = pick["costs"]
    cost_wide = costs.pivot_table(index=["entity", "year"], columns="component", values="nominal_cny", sort=False)
    comps = {e: list(dict.fromkeys(g)) for e, g in costs.groupby("entity", sort=False)["component"]}
    cost_wide.columns = [f"cost_{c}_cny" for c in cost_wide.columns]
    ann = ann.merge(cost_wide.reset_index(), on=["entity", "year"], how="left")
    # the columns of each entity's own table, in the order the concatenation unites them
    base = list(pick["annual"].columns)
    tcols = [c for c in trades.columns if c not in ("entity", "year")]
    per_entity_cols = []
    for e, i in zip(ids, inputs, strict=True):
        icols = [c for c in i.columns if c not in ("entity", "year") and c not in base]
        if "discount_factor" not in icols and "discount_factor" not in base:
            icols.append("discount_factor")
        per_entity_cols.append(base + icols + [c for c in tcols if c not in base and c not in icols]
                               + [f"cost_{c}_cny" for c in comps.get(e, [])])
    ann = ann[_union(per_entity_cols)]
    ann, shadow = annual_derived(ann, pick["duals"], inp)

    abatement = pick["abatement"].copy()
    if not abatement.empty:
        costs_by = {(e.id, m.id, y): m.cost_cny_per_t[i] for e in data.entities for m in e.measures for i, y in enumerate(years)}
        abatement["cost_cny_per_t"] = [costs_by[k] for k in zip(abatement["entity"].tolist(), abatement["measure"].tolist(),
                                                               abatement["year"].tolist(), strict=True)]
        abatement["cost_cny"] = abatement["abate_t"] * abatement["cost_cny_per_t"]

    # the first entity's summary stands for the entity part (as in the per-entity concatenation)
    p0, d0 = prep.entities[0], data.entities[0]
    ep0 = replace(p0, data=ModelData(years=data.years, discount_factor=data.discount_factor, entities=(d0,)))
    summary = plan_summary(ep0, ann[ann["entity"] == d0.id], float(disc.get(d0.id, 0.0)), solve_result)

    plan = Plan(
        annual=ann,
        abatement=abatement,
        builds=pick["builds"],
        project_years=pick["project_years"],
        ccer_lots=pick["ccer_lots"],
        costs=costs,
        shadow_prices=shadow,
        bindings=pd.DataFrame(),
        assumptions=_assumptions(prep),
        summary=summary,
        allocation_detail=_cat([p.allocation_detail for p in prep.entities]),
        allocation_schedule=_schedules(prep, ann),
    )
    plan.mac = _macs(prep, plan)
    plan.bindings = _bindings(plan, data, pos)
    notes = [(p.case.entity.id, list(p.notes)) for p in prep.entities]
    return plan, notes


def _cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    full = [f for f in frames if not f.empty]
    return pd.concat(full, ignore_index=True) if full else frames[0]


def _assumptions(prep) -> pd.DataFrame:
    """Each entity's assumptions with its id (``assign(entity=...)`` per entity, concatenated), in
    one concatenation (one repetition when the entities share one table)."""
    tabs = [p.assumptions for p in prep.entities]
    ids = [p.case.entity.id for p in prep.entities]
    if any("entity" in t.columns for t in tabs):
        return pd.concat([t.assign(entity=e) for t, e in zip(tabs, ids, strict=True)], ignore_index=True)
    lens = [len(t) for t in tabs]
    if all(t is tabs[0] for t in tabs):
        out = tabs[0].iloc[np.tile(np.arange(lens[0]), len(tabs))].reset_index(drop=True)
    else:
        out = pd.concat(tabs, ignore_index=True)
    return out.assign(entity=np.repeat(np.array(ids, dtype=object), lens))


def _schedules(prep, ann: pd.DataFrame) -> pd.DataFrame:
    """Per entity and vintage: ``planner.plan.entity._schedule`` for every entity."""
    rows: list[dict] = []
    ent = ann["entity"].tolist()
    cols = {c: ann[c].tolist() for c in ("year", "allocation_t", "emissions_t")}
    surrender = (ann["surrender_t"] + ann["ccer_surrendered_t"]).tolist()
    starts: dict[str, list[int]] = {}
    for j, e in enumerate(ent):
        starts.setdefault(e, []).append(j)
    params: dict[int, dict] = {}
    for p in prep.entities:
        e = p.case.entity.id
        if e not in starts:
            continue
        pack = p.pack
        kw = params.get(id(pack))
        if kw is None:
            kw = params[id(pack)] = schedule_params(pack)
        js = starts[e]
        rows += allocation_schedule(
            entity=str(e),
            years=[int(cols["year"][j]) for j in js],
            allocation_t=[cols["allocation_t"][j] for j in js],
            emissions_t=[cols["emissions_t"][j] for j in js],
            surrender_t=[surrender[j] for j in js],
            prior_emissions_t=p.case.opening.prior_year_emissions_t,
            pre=p.preallocation or None,
            **kw,
        )
    return pd.DataFrame(rows)


def _group_sums(keys, values: pd.Series) -> dict:
    """``values.groupby(keys).sum()`` as a dict (pandas' group sum over each key's rows in table
    order; grouped on integer codes of the keys, rows whose key holds a NaN left out)."""
    codes, index = [], {}
    for key in keys:
        codes.append(index.setdefault(key, len(index)) if all(k == k for k in key) else -1)
    c = np.asarray(codes, dtype=np.int64)
    keep = c >= 0
    s = pd.Series(values.to_numpy(dtype=float)[keep]).groupby(c[keep]).sum()
    inv = list(index)
    return {inv[j]: v for j, v in zip(s.index.tolist(), s.tolist(), strict=True)}


def _macs(prep, plan: Plan) -> pd.DataFrame:
    """``planner.plan.entity._mac`` for every entity, in group order."""
    rows: list[dict[str, Any]] = []
    years = prep.data.years
    ab = plan.abatement
    used_m = _group_sums(zip(ab["entity"].tolist(), ab["measure"].tolist(), strict=True), ab["abate_t"]) if not ab.empty else {}
    from planner.plan.group_check import _rows

    built = {(e, p): int(s) for e, p, s in _rows(plan.builds, ("entity", "project", "build_year"))}
    py = plan.project_years
    op_years: dict[tuple, int] = {}  # operating years per (entity, project), as groupby().size() counts them
    for key in _rows(py, ("entity", "project")):
        if not any(pd.isna(k) for k in key):
            op_years[key] = op_years.get(key, 0) + 1
    data_by = {d.id: d for d in prep.data.entities}
    for p in prep.entities:
        eid = p.case.entity.id
        one: list[dict[str, Any]] = []
        for m in data_by[eid].measures:
            i = next((j for j, v in enumerate(m.potential_t) if v > 0), None)
            if i is None:
                continue
            one.append({"entity": eid, "kind": "measure", "name": m.id, "first_year": int(years[i]),
                        "potential_t": float(m.potential_t[i]), "cost_cny_per_t": float(m.cost_cny_per_t[i]),
                        "used_t": float(used_m.get((eid, m.id), 0.0))})
        rate = p.case.finance.discount_rate
        for pr in p.case.abatement.projects:
            if pr.reduction_t_per_year <= 0:
                continue
            n = pr.lifetime_years
            crf = (1 / n) if rate == 0 else rate * (1 + rate) ** n / ((1 + rate) ** n - 1)
            used = 0.0
            if (eid, pr.id) in built and not py.empty:
                used = float(op_years.get((eid, pr.id), 0)) * pr.reduction_t_per_year
            one.append({"entity": eid, "kind": "project", "name": pr.id,
                        "first_year": int(max(pr.earliest_start_year or years[0], years[0]) + pr.lead_time_years),
                        "potential_t": float(pr.reduction_t_per_year),
                        "cost_cny_per_t": (pr.capex_cny * crf + pr.opex_cny_per_year) / pr.reduction_t_per_year,
                        "used_t": used})
        rows += sorted(one, key=lambda r: (r["cost_cny_per_t"], r["name"]))
    df = pd.DataFrame(rows, columns=MAC_COLUMNS)
    if not rows:  # as planner.plan.entity._mac leaves an empty table
        df = df.sort_values(["entity", "cost_cny_per_t", "name"], kind="stable").reset_index(drop=True)
    return df


def _bindings(plan: Plan, data: ModelData, pos: dict[str, int], cols: dict[str, list] | None = None) -> pd.DataFrame:
    """``planner.plan.entity.explain_bindings`` for every entity, in group order (``cols``: the annual
    table's columns as lists, when the caller has them)."""
    sp = plan.shadow_prices
    sav = (dict(zip(zip(sp["entity"].tolist(), sp["year"].tolist(), sp["constraint"].tolist(), strict=True),
                    sp["cny_per_t"].tolist(), strict=True)) if not sp.empty else {})

    def saving(e, y, con) -> float | None:
        v = sav.get((e, y, con))
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    ann = plan.annual
    r = _Rows(ann, cols)
    sav_year = dict(zip(zip(r.cols["entity"], r.cols["year"], strict=True), r.cols["shadow_price_cny_per_t"], strict=True))
    ent_data = {e.id: e for e in data.entities}
    ypos = {y: i for i, y in enumerate(data.years)}
    in_group = "market_buy_max_t" in ann.columns
    sold_to_date = ann.groupby("entity")["sell_t"].cumsum().tolist()
    rows: list[dict[str, Any]] = []
    for j, (e, y) in enumerate(zip(r.cols["entity"], r.cols["year"], strict=True)):
        r.i = j
        rows += year_bindings(r, sold_to_date[j], ent_data[e], ypos[int(y)], in_group, saving)
    rows += measure_potential_rows(plan.abatement, data)
    rows += _measure_values(plan, sav_year)
    rows += _option_values(replace(plan, abatement=plan.abatement.iloc[:0]), _DataOnly(data))  # projects
    if not rows:
        return pd.DataFrame(rows, columns=BINDING_COLUMNS).sort_values(["entity", "year", "rule"], kind="stable").reset_index(drop=True)
    # sorted by (entity's place, year, rule), stably: what sort_values(kind="stable") gives
    rows.sort(key=lambda b: (pos[b["entity"]], b["year"], b["rule"]))
    return pd.DataFrame({c: [b[c] for b in rows] for c in BINDING_COLUMNS})


def _measure_values(plan: Plan, sp: dict) -> list[dict[str, Any]]:
    """The measure part of ``planner.plan.entity._option_values`` for every entity: per (entity, measure),
    in sorted order, the years it abates (row order kept), their worth and cost."""
    ab = plan.abatement
    if ab.empty:
        return []
    # the rows abating more than TOL_T (as filtering the frame keeps them, in order)
    keep = np.flatnonzero(ab["abate_t"].to_numpy() > TOL_T)
    abate = ab["abate_t"].to_numpy()[keep]
    cost = ab["cost_cny"].to_numpy()[keep]
    ent, mea, yr = (ab[c].tolist() for c in ("entity", "measure", "year"))
    groups: dict[tuple, list[int]] = {}
    for j, r in enumerate(keep.tolist()):
        groups.setdefault((ent[r], mea[r]), []).append(j)
    yr = [yr[r] for r in keep.tolist()]
    rows: list[dict[str, Any]] = []
    for key in sorted(groups):
        js = groups[key]
        e, m = key
        worth = sum(float(abate[j]) * float(sp.get((e, int(yr[j])), math.nan)) for j in js)
        c = float(cost[js].sum())
        if not math.isfinite(worth):
            continue
        ys = [int(yr[j]) for j in js]
        rows.append(measure_value_row(e, m, abate[js].sum(), min(ys), max(ys), c, worth))
    return rows


class _DataOnly:
    """What ``planner.plan.entity._option_values`` reads of a prepared case: its model data."""

    def __init__(self, data: ModelData):
        self.data = data

