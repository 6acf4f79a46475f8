"""The compliance plan: tidy tables built from the prepared case(s) and the extracted results.

One builder (``entity_plans``) makes the plan tables of every entity of a group at once, in one
pass over entities x years (merges, pivots and array arithmetic on the long tables; the rule
statements from plain column lists), in entity order, each entity's rows in its own order; an
entity case is planned as a group of one (``assemble_plan``). The per-entity reference
implementation it is tested against is ``tests/oracles/tables.py``.

Nothing here touches Pyomo: it reads ``models.Results`` frames (plain pandas) and the prepared
case. Binding rules are stated in words from the tables and the duals.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from models.data import ModelData
from planner.plan.check import table_rows
from planner.plan.costsplit import cost_split, terminal_valuation
from planner.prepare.allocation import allocation_schedule
from planner.prepare.entity import PreparedCase

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
    mac: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Abatement options by cost per tonne (MAC curve): measures, and projects at their levelised cost."""

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
        "mac",
        "actions",
    )

    @property
    def actions(self) -> pd.DataFrame:
        """This cycle's actions with their due dates (``planner.plan.actions``), from the plan's tables."""
        from planner.plan.actions import cycle_actions

        return cycle_actions(self.annual, self.builds, self.abatement, self.allocation_schedule)


def annual_derived(ann: pd.DataFrame, duals: pd.DataFrame, inp: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The annual table's derived columns (total and discounted cost from the cost components,
    trade values, the position before trading, the shadow price of the surrender balance) and the
    shadow-price table. Shared by the entity plan and the group tables."""
    comp_cols = [c for c in ann.columns if c.startswith("cost_") and c.endswith("_cny")]
    ann["total_cost_cny"] = ann[comp_cols].sum(axis=1)
    ann["discounted_cost_cny"] = ann["total_cost_cny"] * ann["discount_factor"]
    ann["buy_cny"] = ann["buy_t"] * ann["cea_buy_cny_per_t"]
    ann["sell_cny"] = ann["sell_t"] * ann["cea_sell_cny_per_t"]
    ann["ccer_buy_cny"] = ann["ccer_buy_t"] * ann["ccer_cny_per_t"]
    ann["position_before_trading_t"] = ann["allocation_t"] - ann["obligation_t"]
    shadow = _shadow_prices(duals, inp)
    sp = shadow[shadow["constraint"] == "balance_surrender"][["entity", "year", "cny_per_t"]]
    ann = ann.merge(sp.rename(columns={"cny_per_t": "shadow_price_cny_per_t"}), on=["entity", "year"], how="left")
    return ann, shadow


def plan_tables(prep: PreparedCase, results, ann: pd.DataFrame, shadow: pd.DataFrame, solve_result, schedule) -> Plan:
    """One entity's plan from its annual table ``ann`` and shadow prices: the abatement rows costed,
    the summary, the result and preparation tables, ``schedule(ann)`` as the allocation schedule;
    the MAC table and the binding statements are left to the caller (the sweep tables of
    ``planner.plan.entity_tables`` and the per-entity reference, ``tests/oracles/tables.py``)."""
    abatement = results.abatement.copy()
    if not abatement.empty:
        costs_by = {
            (m.id, y): m.cost_cny_per_t[i]
            for e in prep.data.entities
            for m in e.measures
            for i, y in enumerate(prep.data.years)
        }
        abatement["cost_cny_per_t"] = [
            costs_by[(k, y)] for k, y in zip(abatement["measure"].tolist(), abatement["year"].tolist(), strict=True)
        ]
        abatement["cost_cny"] = abatement["abate_t"] * abatement["cost_cny_per_t"]
    return Plan(
        annual=ann,
        abatement=abatement,
        builds=results.builds,
        project_years=results.project_years,
        ccer_lots=results.ccer_lots,
        costs=results.costs,
        shadow_prices=shadow,
        bindings=pd.DataFrame(),
        assumptions=prep.assumptions,
        summary=plan_summary(prep, ann, float(results.objective_cny), solve_result),
        notes=list(prep.notes) + relief_switch_notes(prep.data.entities[0], prep.data.years) + tie_notes(prep.data, solve_result),
        warnings=list(prep.warnings),
        allocation_detail=prep.allocation_detail,
        allocation_schedule=schedule(ann),
    )


def plan_summary(prep: PreparedCase, ann: pd.DataFrame, npv: float, solve_result) -> dict[str, Any]:
    """The summary numbers of one entity's plan (``ann``: its annual table; ``npv``: its discounted cost)."""
    total_obligation = float(ann["obligation_t"].sum())
    terminal_npv = float((ann["cost_terminal_cny"] * ann["discount_factor"]).sum()) if "cost_terminal_cny" in ann else 0.0
    return {
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
        **cost_split(npv, terminal_npv, terminal_valuation(prep.case.finance, prep.data.entities[0].terminal_cea_value_cny_per_t,
                                                           prep.data.entities[0].terminal_ccer_value_cny_per_t)),
        "cost_per_t_obligation_cny": npv / total_obligation if total_obligation else None,
        "total_obligation_t": total_obligation,
        "total_shortfall_t": float(ann["shortfall_t"].sum()),
        "opening_cea_t": float(sum(e.opening_cea_t for e in prep.data.entities)),
        "opening_sell_t": float(ann["opening_sell_t"].sum()),
        "opening_lapse_t": float(ann["opening_lapse_t"].sum()),
        "mip_gap": solve_result.gap,
        "is_mip": solve_result.is_mip,
        "shadow_price_basis": solve_result.duals_basis,
        "rule_pack": prep.pack.ref,
        "rule_pack_overrides": dict(prep.pack.overrides),
        "compliance_mode": prep.case.policy.compliance,
        "solver": f"{solve_result.solver} ({solve_result.solver_version})",
        "solver_options": dict(solve_result.options),
        "size": dict(solve_result.size),
        **tie_summary(solve_result),
    }


def tie_summary(solve_result) -> dict[str, Any]:
    """The plan's word on ties (``planner.solve.ties``): ``trades_minimised`` when its trades are
    the fewest of the plans with its cost (the checker then holds it to that), ``tie_broken_t``
    the tonnes of trades that lowered no cost and were dropped from the solver's first plan."""
    tb = getattr(solve_result, "tie_break", None)
    return {
        "trades_minimised": bool(tb is not None and tb.least),
        "tie_broken_t": float(tb.removed_t) if tb is not None and tb.broke_tie else 0.0,
    }


def relief_switch_notes(entity, years) -> list[str]:
    """The years whose relief regime one binary of the model decides (the bounds of the data leave
    it open): a fact of the model, said after the preparation's notes."""
    from models.data import relief_regime
    from planner.prepare.entity import years_text

    switch = [y for i, y in enumerate(years) if relief_regime(entity, i) == "switch"]
    if not switch:
        return []
    return [
        f"Relief can switch on or off with abatement in {years_text(switch)}: one binary per year "
        "decides the regime (bounds ruled it out elsewhere)."
    ]


def tie_notes(data, solve_result) -> list[str]:
    """The note of a plan whose optimal cost other plans share and whose tie was broken."""
    tb = getattr(solve_result, "tie_break", None)
    if tb is not None and tb.how == "failed":
        return ["Ties not resolved: the second solve for the plan that trades the fewest tonnes at the optimal cost "
                "ended without one; this is the solver's first optimal plan, which may hold trades that lower no cost."]
    if tb is None or not tb.broke_tie:
        return []
    years = round_trip_free_years(data)
    why = f" (CEA round trips earn nothing in {', '.join(str(y) for y in years)}: buy price plus fee = sell price less fee)" if years else ""
    return [f"Tie broken: several plans reach the optimal cost{why}; the plan shown trades the fewest tonnes of them. "
            f"The solver's first optimal plan also bought and sold {tb.removed_t:,.0f} t that lowered no cost "
            "(dropped by a second solve at the optimal cost)."]


def round_trip_free_years(data) -> list[int]:
    """Years in which some entity can buy and sell a CEA tonne at no cost (buy price plus fee equal
    to sell price less fee): there the optimal plans tie."""
    return sorted({y for e in data.entities for i, y in enumerate(data.years)
                   if _tied(e.price_buy_cny_per_t[i] + e.fee_cea_cny_per_t[i], e.price_sell_cny_per_t[i] - e.fee_cea_cny_per_t[i])})


def _tied(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


MAC_COLUMNS = ["entity", "kind", "name", "first_year", "potential_t", "cost_cny_per_t", "used_t"]


def schedule_params(pack) -> dict[str, Any]:
    """The rule-pack parameters of ``allocation_schedule`` (months and deadlines; the share and basis
    of each vintage's pre-allocation come from ``prepare``)."""
    return dict(
        pre_month=pack["allocation.preallocation.month"],
        trueup_month=pack["allocation.trueup.month"],
        deadline_month=pack["compliance.deadline_month"],
        deadlines={int(k): str(v) for k, v in pack["compliance.deadline_by_vintage"].items()},
        calendar={int(k): v for k, v in pack["allocation.calendar_by_vintage"].items()},
    )


DUAL_SIGN = {"balance_surrender": 1.0, "balance_allowances": 1.0, "limit_ccer_share": -1.0, "limit_carryover": -1.0}
"""Per constraint with a shadow price: the sign that makes its dual a cost per tonne (a balance) or
a saving per tonne of limit (a cap or limit)."""


def _shadow_prices(duals: pd.DataFrame, inp: pd.DataFrame) -> pd.DataFrame:
    """Duals in nominal CNY per tonne, signed so that a positive number is a cost.

    ``balance_surrender``: cost of one more tonne of obligation in that year.
    ``limit_ccer_share`` / ``limit_carryover``: saving from one more tonne of cap or limit.
    """
    if duals.empty:  # typed, so that a plan without duals still has a numeric shadow-price column
        return pd.DataFrame({"entity": pd.Series(dtype=object), "year": pd.Series(dtype="int64"),
                             "constraint": pd.Series(dtype=object), "cny_per_t": pd.Series(dtype=float),
                             "meaning": pd.Series(dtype=object)})
    d = duals.merge(inp[["entity", "year", "discount_factor"]], on=["entity", "year"])
    sign = d["constraint"].map(DUAL_SIGN)
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


# --- the plan tables of every entity at once ----------------------------------------------


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


def entity_plans(prep, results, trades: pd.DataFrame | None, solve_result, disc) -> tuple[Plan, list[tuple[str, list[str]]]]:
    """Every entity's plan tables, concatenated in group order, and each entity's notes.

    ``prep``: the prepared group (``entities``: each entity's prepared case; ``data``: the model
    data); ``results``: the Results, in a group with the settled costs; ``trades``: in a group,
    (entity, year) market and intra-group trades with the entities' market limits (their limits are
    then judged on the market trades only), None for an entity alone; ``disc``: discounted cost per
    entity id (a mapping)."""
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
    if trades is not None:
        ann = ann.merge(trades, on=["entity", "year"], how="left")
    costs = pick["costs"]
    cost_wide = costs.pivot_table(index=["entity", "year"], columns="component", values="nominal_cny", sort=False)
    comps = {e: list(dict.fromkeys(g)) for e, g in costs.groupby("entity", sort=False)["component"]}
    cost_wide.columns = [f"cost_{c}_cny" for c in cost_wide.columns]
    ann = ann.merge(cost_wide.reset_index(), on=["entity", "year"], how="left")
    # the columns of each entity's own table, in the order the concatenation unites them
    base = list(pick["annual"].columns)
    tcols = [c for c in trades.columns if c not in ("entity", "year")] if trades is not None else []
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
        allocation_schedule=schedule_table(prep, ann),
    )
    plan.mac = mac_table(prep, plan)
    plan.bindings = bindings_table(plan, data, pos)
    # the relief regime of the entity as the group's model holds it
    notes = [(p.case.entity.id, list(p.notes) + relief_switch_notes(d, data.years)) for p, d in zip(prep.entities, data.entities, strict=True)]
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


def schedule_table(prep, ann: pd.DataFrame) -> pd.DataFrame:
    """When allowances arrive and when they are due, per entity and vintage."""
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


def mac_table(prep, plan: Plan) -> pd.DataFrame:
    """The MAC table, per entity in group order: one row per measure (cost and potential of its
    first available year) and per project (reduction per year at its levelised cost: capex x
    capital recovery factor at the case's discount rate over its lifetime, plus opex, per tonne),
    with the tonnes the plan uses over the horizon."""
    rows: list[dict[str, Any]] = []
    years = prep.data.years
    ab = plan.abatement
    used_m = _group_sums(zip(ab["entity"].tolist(), ab["measure"].tolist(), strict=True), ab["abate_t"]) if not ab.empty else {}
    built = {(e, p): int(s) for e, p, s in table_rows(plan.builds, ("entity", "project", "build_year"))}
    py = plan.project_years
    op_years: dict[tuple, int] = {}  # operating years per (entity, project), as groupby().size() counts them
    for key in table_rows(py, ("entity", "project")):
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
    if not rows:  # an empty table as the per-entity reference leaves it
        df = df.sort_values(["entity", "cost_cny_per_t", "name"], kind="stable").reset_index(drop=True)
    return df


def bindings_table(plan: Plan, data: ModelData, pos: dict[str, int], cols: dict[str, list] | None = None) -> pd.DataFrame:
    """Which rules and limits bind, per entity (in group order) and year, in words (``cols``: the
    annual table's columns as lists, when the caller has them)."""
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
    rows += option_values(replace(plan, abatement=plan.abatement.iloc[:0]), _DataOnly(data))  # projects
    if not rows:
        return pd.DataFrame(rows, columns=BINDING_COLUMNS).sort_values(["entity", "year", "rule"], kind="stable").reset_index(drop=True)
    # sorted by (entity's place, year, rule), stably: what sort_values(kind="stable") gives
    rows.sort(key=lambda b: (pos[b["entity"]], b["year"], b["rule"]))
    return pd.DataFrame({c: [b[c] for b in rows] for c in BINDING_COLUMNS})


def _measure_values(plan: Plan, sp: dict) -> list[dict[str, Any]]:
    """The measure part of ``option_values`` for every entity: per (entity, measure),
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
    """What ``option_values`` reads of a prepared case: its model data."""

    def __init__(self, data: ModelData):
        self.data = data


class GroupOfOne:
    """What ``entity_plans`` reads of a prepared group, for one prepared entity case."""

    def __init__(self, prep: PreparedCase):
        self.entities = [prep]
        self.data = prep.data


def assemble_plan(prep: PreparedCase, results, solve_result) -> Plan:
    """One entity's plan: the tables of a group of one (``entity_plans``), with the entity's own
    assumptions, preparation tables, notes and warnings."""
    e = prep.data.entities[0].id
    plan, _ = entity_plans(GroupOfOne(prep), results, None, solve_result, {e: float(results.objective_cny)})
    plan.assumptions = prep.assumptions
    plan.allocation_detail = prep.allocation_detail
    plan.notes = list(prep.notes) + relief_switch_notes(prep.data.entities[0], prep.data.years) + tie_notes(prep.data, solve_result)
    plan.warnings = list(prep.warnings)
    return plan



# --- the binding rules, in words ---------------------------------------------------------


def measure_potential_rows(abatement: pd.DataFrame, data) -> list[dict[str, Any]]:
    """Measures used to their full potential (``data``: the model data of the abatement's entities)."""
    rows: list[dict[str, Any]] = []
    if abatement.empty:
        return rows
    pot = {(e.id, m.id, y): m.potential_t[i] for e in data.entities for m in e.measures for i, y in enumerate(data.years)}
    cols = [abatement[c].tolist() for c in ("entity", "measure", "year", "abate_t", "cost_cny_per_t")]
    for e, m, y, abate, cost in zip(*cols, strict=True):
        p = pot[(e, m, y)]
        if p > TOL_T and abate >= p - TOL_T:
            rows.append(_row(e, int(y), "measure_potential",
                             f"measure {m} used to its full potential in {y} ({abate:,.0f} t at {cost:,.2f} CNY/t)", None, m,
                             facts={"measure": m, "abate_t": abate, "cost_cny_per_t": cost}))
    return rows


def year_bindings(r, sold: float, d, i: int, in_group: bool, saving) -> list[dict[str, Any]]:
    """The rules and limits that bind in one entity-year, in words.

    ``r``: the entity's annual row (attributes); ``sold``: its CEA sold up to this year; ``d``: its
    model data; ``i``: the year's index; ``saving(entity, year, constraint)``: the shadow price
    of a limit (None when there is none)."""
    rows: list[dict[str, Any]] = []
    e, y = r.entity, int(r.year)
    if i == 0 and d.opening_transitions:
        rows += _opening_rows(r, d, e, y)
    cap = d.ccer_cap_share[i] * (r.obligation_t if d.ccer_cap_on_obligation else r.emissions_t)
    if cap > TOL_T and r.ccer_surrendered_t >= cap - TOL_T:
        s = saving(e, y, "limit_ccer_share")
        rows.append(_row(e, y, "ccer_cap", f"CCER cap binds in {y}: {r.ccer_surrendered_t:,.0f} t CCER = "
                          f"{d.ccer_cap_share[i]:.0%} of the obligation"
                          + (f"; one more tonne of cap would save {s:,.2f} CNY" if s else ""), s,
                          facts={"ccer_t": r.ccer_surrendered_t, "share": d.ccer_cap_share[i], "saving_cny_per_t": s or 0.0}))
    if math.isfinite(r.carry_limit_t) and (r.carry_t >= r.carry_limit_t - TOL_T) and (
        r.lapse_t > TOL_T or (saving(e, y, "limit_carryover") or 0) > 1e-6
    ):
        text = (f"carry-over limit binds in {y}: {r.carry_t:,.0f} t carried into {y + 1} "
                f"(limit {r.carry_rule}, net sales {r.net_sales_t:,.0f} t)")
        facts = {"carry_t": r.carry_t, "limit": r.carry_rule, "net_sales_t": r.net_sales_t, "sold_t": 0.0, "raised_t": 0.0,
                 "lapse_t": 0.0}
        raised = r.carry_limit_t - d.carry_rules[i].limit_at(-math.inf)  # above the limit without net sales
        if sold > TOL_T and raised > TOL_T:
            text += f"; selling {sold:,.0f} t in the plan up to {y} helped raise it {raised:,.0f} t above its floor"
            facts.update(sold_t=sold, raised_t=raised)
        if r.lapse_t > TOL_T:
            text += f"; {r.lapse_t:,.0f} t above the limit lapse"
            facts["lapse_t"] = r.lapse_t
        rows.append(_row(e, y, "carryover_limit", text, saving(e, y, "limit_carryover"), facts=facts))
    # in a group the entity's limits apply to its market trades; transfers are not market trades
    if in_group:
        bought, sold_y, buy_max, sell_max, market = r.market_buy_t, r.market_sell_t, r.market_buy_max_t, r.market_sell_max_t, "market "
    else:
        bought, sold_y, buy_max, sell_max, market = r.buy_t, r.sell_t, r.buy_max_t, r.sell_max_t, ""
    if math.isfinite(buy_max) and buy_max > 0 and bought >= buy_max - TOL_T:
        gain = _price_gap(r.shadow_price_cny_per_t, r.cea_buy_cny_per_t + r.fee_cny_per_t)
        rows.append(_row(e, y, "buy_limit", f"CEA {market}purchase limit binds in {y}: {bought:,.0f} t"
                         + (f"; one more tonne of purchase limit would save {gain:,.2f} CNY" if gain else ""), gain,
                         facts={"bought_t": bought, "market": bool(market), "saving_cny_per_t": gain or 0.0}))
    fee = d.fee_cea_cny_per_t[i]
    if _tied(d.price_buy_cny_per_t[i] + fee, d.price_sell_cny_per_t[i] - fee):
        rows.append(_row(e, y, "price_tie", f"CEA round trips earn nothing in {y}: buy {d.price_buy_cny_per_t[i]:,.2f} + fee "
                         f"{fee:,.2f} = sell {d.price_sell_cny_per_t[i]:,.2f} - fee CNY/t; the plan buys and sells no such "
                         "tonne (of the plans with its cost, it trades the fewest tonnes)", None,
                         facts={"buy": d.price_buy_cny_per_t[i], "fee": fee, "sell": d.price_sell_cny_per_t[i]}))
    if math.isfinite(sell_max) and sell_max > 0 and sold_y >= sell_max - TOL_T:
        rows.append(_row(e, y, "sell_limit", f"CEA {market}sale limit binds in {y}: {sold_y:,.0f} t", None,
                         facts={"sold_t": sold_y, "market": bool(market)}))
    # (in a group with a CCER pool the entity's own availability gives way to the pool's: d says so)
    if (math.isfinite(r.ccer_available_t) and math.isfinite(d.ccer_buy_max_t[i]) and r.ccer_available_t > 0
            and r.ccer_buy_t >= r.ccer_available_t - TOL_T):
        rows.append(_row(e, y, "ccer_availability", f"CCER availability binds in {y}: all {r.ccer_available_t:,.0f} t bought", None,
                         facts={"available_t": r.ccer_available_t}))
    if r.relief_t > TOL_T and r.relief_rule in ("coal_floor", "gas_topup"):
        share = d.relief_share[i]
        if d.relief_to_allocation[i]:
            what = (f"coal relief applies in {y}: allocation raised to {share:.0%} of verified emissions (+{r.relief_t:,.0f} t)"
                    if r.relief_rule == "coal_floor" else
                    f"gas top-up applies in {y}: allocation raised to verified emissions (+{r.relief_t:,.0f} t)")
        else:  # the plan caps the obligation instead (relief.mechanism)
            what = (f"coal relief applies in {y}: obligation capped at the free allocation + {1 - share:.0%} of verified "
                    f"emissions (-{r.relief_t:,.0f} t)" if r.relief_rule == "coal_floor" else
                    f"gas relief applies in {y}: obligation capped at the free allocation (-{r.relief_t:,.0f} t)")
        what += f"; a tonne abated here is worth only {1 - share:.0%} of the allowance price"
        rows.append(_row(e, y, "relief_regime", what, None,
                         facts={"relief": r.relief_rule, "to_allocation": bool(d.relief_to_allocation[i]), "share": share,
                                "relief_t": r.relief_t}))
    if r.borrow_t > TOL_T:
        gap = r.emissions_t - r.allocation_benchmark_t - r.relief_t
        rows.append(_row(e, y, "predraw", f"pre-draw of {r.borrow_t:,.0f} t in {y} from a later allocation "
                         f"(gap {gap:,.0f} t)", None, facts={"borrow_t": r.borrow_t, "gap_t": gap}))
    if r.auction_max_t > 0 and r.auction_buy_t >= r.auction_max_t - TOL_T:
        rows.append(_row(e, y, "auction_share", f"the whole auctioned share is bought in {y}: {r.auction_buy_t:,.0f} t", None,
                         facts={"bought_t": r.auction_buy_t}))
    if r.shortfall_t > TOL_T:
        why = [b["rule"] for b in rows if b["year"] == y and b["rule"] in ("buy_limit", "ccer_cap", "ccer_availability")]
        fixed = d.per_year("fine_fixed_cny", i)
        fine = (f"fined CNY {fixed:,.0f} once (Order 19)" if fixed > 0 else f"fined at {d.penalty_cny_per_t[i]:,.2f} CNY/t")
        rows.append(_row(e, y, "shortfall",
                         f"shortfall of {r.shortfall_t:,.0f} t in {y}, {fine}"
                         + (" and deducted from next year's allocation" if d.shortfall_deducted_next_year else "")
                         + (f"; forced by {', '.join(why)}" if why else
                            "; no limit forces it: the fine and the deduction cost less than covering it"), None,
                         facts={"shortfall_t": r.shortfall_t, "fine_fixed_cny": fixed, "fine_cny_per_t": d.penalty_cny_per_t[i],
                                "deducted": bool(d.shortfall_deducted_next_year), "forced_by": why}))
    mc = _marginal_statement(r, y)
    if mc:
        rows.append(_row(e, y, "marginal_cost", mc[0], None, facts=mc[1]))
    return rows


def _opening_rows(r, d, e, y: int) -> list[dict[str, Any]]:
    """The opening holdings at the transitions before the first year (rules.md R2.2, §14): what
    lapses, and what was sold before a transition still ahead to raise its limit."""
    rows: list[dict[str, Any]] = []
    last = d.opening_transitions[-1]
    ns = d.opening_net_sales_t + r.opening_sell_t
    if r.opening_sell_t > TOL_T:
        rows.append(_row(e, y, "opening_sale",
                         f"sells {r.opening_sell_t:,.0f} t of its opening holdings before the transition after the {last.year} "
                         f"surrender at {d.price_opening_sell_cny_per_t:,.2f} CNY/t: net sales {ns:,.0f} t raise that "
                         f"transition's limit to {r.opening_carry_limit_t:,.0f} t", None,
                         facts={"sold_t": r.opening_sell_t, "transition": last.year, "price": d.price_opening_sell_cny_per_t,
                                "net_sales_t": ns, "limit_t": r.opening_carry_limit_t}))
    if r.opening_lapse_t > TOL_T:
        rows.append(_row(e, y, "opening_lapse",
                         f"{r.opening_lapse_t:,.0f} t of the {d.opening_cea_t:,.0f} t opening holdings lapse before {y}: the "
                         f"carry-over limit of the transition after the {last.year} surrender is {r.opening_carry_limit_t:,.0f} t "
                         f"at net sales {ns:,.0f} t, and what is above it is worthless from then on (rules.md R2.2)", None,
                         facts={"lapse_t": r.opening_lapse_t, "held_t": d.opening_cea_t, "transition": last.year,
                                "limit_t": r.opening_carry_limit_t, "net_sales_t": ns}))
    return rows


def _row(e, y, rule, statement, saving, subject="", facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """One binding row. ``facts``: the statement's numbers and choices as a record (JSON text in the
    table), from which reports word it in each language (``planner.report.statements``)."""
    return {"entity": e, "year": y, "rule": rule, "subject": subject, "statement": statement,
            "saving_cny_per_t": np.nan if saving is None else saving,
            "facts": facts_json(facts)}


def facts_json(facts: dict[str, Any] | None) -> str:
    """A binding row's facts as the table holds them: JSON text ('' for none)."""
    return json.dumps(_plain(facts), sort_keys=True, ensure_ascii=False) if facts else ""


def _plain(facts: dict[str, Any]) -> dict[str, Any]:
    """Facts as JSON-able plain values (NumPy numbers as Python ones)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in facts.items()}


def _price_gap(sp: float, price: float) -> float | None:
    """Saving from one more tonne of a purchase-type limit: marginal cost minus the price paid."""
    if sp is None or not math.isfinite(sp):
        return None
    gap = sp - price
    return gap if gap > 1e-6 else None


def _near(a: float, b: float) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= 1e-3 * max(1.0, abs(b))


def _marginal_statement(r, y: int) -> tuple[str, dict[str, Any]] | None:
    """The marginal cost of compliance of a year against the market prices, and what sets it (the
    statement and its facts)."""
    sp = r.shadow_price_cny_per_t
    if sp is None or not math.isfinite(sp):
        return None
    buy = r.cea_buy_cny_per_t + r.fee_cny_per_t
    sell = r.cea_sell_cny_per_t - r.fee_cny_per_t
    ccer = r.ccer_cny_per_t + r.ccer_fee_cny_per_t

    if _near(sp, buy):
        why = "set by buying CEA (price plus fee)"
        key = "buy"
    elif _near(sp, sell):
        why = "set by selling CEA: a tonne not needed is a tonne sold (price less fee)"
        key = "sell"
    elif _near(sp, ccer):
        why = "set by buying CCER"
        key = "ccer"
    elif r.shortfall_t > TOL_T:
        why = "set by the shortfall (fine and next-year deduction)"
        key = "shortfall"
    elif sell < sp < buy:
        why = "between the sale and purchase prices: set by allowances carried between years"
        key = "carry"
    elif sp > buy:
        why = "above the purchase price: a purchase, CCER or carry-over limit binds"
        key = "above"
    elif sp < sell:
        why = "below the sale price: a sale or carry-over limit binds"
        key = "below"
    else:
        why = "set by abatement"
        key = "abatement"
    return (f"marginal cost of compliance in {y}: {sp:,.2f} CNY/t against CEA buy {r.cea_buy_cny_per_t:,.2f} "
            f"(+{r.fee_cny_per_t:,.2f} fee), sell {r.cea_sell_cny_per_t:,.2f}, CCER {r.ccer_cny_per_t:,.2f} CNY/t; {why}",
            {"cny_per_t": sp, "buy": r.cea_buy_cny_per_t, "fee": r.fee_cny_per_t, "sell": r.cea_sell_cny_per_t,
             "ccer": r.ccer_cny_per_t, "set_by": key})


def measure_value_row(e, m, abated: float, first: int, last: int, cost: float, worth: float) -> dict[str, Any]:
    """What a measure used in ``first``-``last`` saves: its tonnes at the marginal cost less its cost."""
    return _row(e, first, "measure_value",
                f"measure {m} abates {abated:,.0f} t in {first}-{last} "
                f"for {cost:,.0f} CNY; at the marginal cost of compliance those tonnes are worth {worth:,.0f} CNY "
                f"(saves {worth - cost:,.0f} CNY, nominal)", None, m,
                facts={"measure": m, "abated_t": abated, "first": first, "last": last, "cost_cny": cost, "worth_cny": worth})


def option_values(plan: Plan, prep: PreparedCase) -> list[dict[str, Any]]:
    """What each measure used and each project built saves: tonnes abated valued at each year's
    marginal cost of compliance, less what the option costs."""
    rows: list[dict[str, Any]] = []
    sp = dict(zip(zip(plan.annual["entity"].tolist(), plan.annual["year"].tolist(), strict=True),
                  plan.annual["shadow_price_cny_per_t"].tolist(), strict=True))
    if not plan.abatement.empty:
        for (e, m), g in plan.abatement.groupby(["entity", "measure"], sort=True):
            g = g[g["abate_t"] > TOL_T]
            if g.empty:
                continue
            worth = sum(float(r.abate_t) * float(sp.get((e, int(r.year)), math.nan)) for r in g.itertuples(index=False))
            cost = float(g["cost_cny"].sum())
            if not math.isfinite(worth):
                continue
            rows.append(measure_value_row(e, m, g["abate_t"].sum(), int(g["year"].min()), int(g["year"].max()), cost, worth))
    if not plan.builds.empty:
        years = list(prep.data.years)
        data = {(e.id, p.id): p for e in prep.data.entities for p in e.projects}
        for b in plan.builds.itertuples(index=False):
            p = data.get((b.entity, b.project))
            opt = next((o for o in p.options if o.build_year == int(b.build_year)), None) if p else None
            if opt is None:
                continue
            op_years = [y for y, on in zip(years, opt.operating, strict=True) if on]
            cost = sum(opt.capex_cny) + sum(opt.opex_cny)
            worth = sum(p.reduction_t_per_year * float(sp.get((b.entity, y), math.nan)) for y in op_years)
            if not math.isfinite(worth):
                continue
            span = f"{op_years[0]}-{op_years[-1]}" if op_years else "no planned year"
            rows.append(_row(b.entity, int(b.build_year), "project_value",
                             f"project {b.project} (build starts {b.build_year}) reduces {p.reduction_t_per_year * len(op_years):,.0f} t "
                             f"in {span} for {cost:,.0f} CNY of capex and opex in the horizon; those tonnes are worth "
                             f"{worth:,.0f} CNY at the marginal cost of compliance (saves {worth - cost:,.0f} CNY, nominal)",
                             None, b.project,
                             facts={"project": b.project, "build_year": int(b.build_year), "span": span if op_years else "",
                                    "reduced_t": p.reduction_t_per_year * len(op_years), "cost_cny": cost, "worth_cny": worth}))
    return rows


def infeasibility_hints(data) -> list[str]:
    """For an infeasible solve, which inputs conflict: per entity, the first year by which the
    obligations (baseline emissions less every measure and project at full potential) exceed every
    tonne that could possibly be surrendered (opening CEA, allocation with the most relief, purchase
    and auction limits, pre-draw, CCER within the cap and what can be bought). Carry-over limits are
    left out, so these are bounds: when no year fails them, the carry-over limits or several rules
    together are the conflict, and the hint says so."""
    hints: list[str] = []
    years = list(data.years)
    for e in data.entities:
        if e.shortfall_allowed:
            continue
        cum_need = cum_cea = cum_cap = 0.0
        ccer_avail = e.opening_ccer_t + sum(lot.quantity_t for lot in e.ccer_lots)
        cum_cea = e.opening_cea_t
        found = False
        for i, y in enumerate(years):
            abate = sum(m.potential_t[i] for m in e.measures) + sum(p.reduction_t_per_year for p in e.projects)
            need = max(0.0, e.emissions_baseline_t[i] - abate)
            alloc = max(e.allocation_t[i], e.relief_share[i] * e.emissions_baseline_t[i])
            buy = e.buy_max_t[i]
            extra = e.per_year("auction_max_t", i) + e.per_year("borrow_share", i) * e.emissions_baseline_t[i]
            cum_need += need
            cum_cea += alloc + buy + extra
            cum_cap += e.ccer_cap_share[i] * e.emissions_baseline_t[i]
            ccer_avail += e.ccer_buy_max_t[i]
            ccer = min(cum_cap, ccer_avail)
            supply = cum_cea + ccer
            if math.isfinite(supply) and cum_need > supply + TOL_T:
                hints.append(
                    f"{e.id}: by {y} the obligations are at least {cum_need:,.0f} t (baseline emissions less every "
                    f"measure and project at full potential) but at most {supply:,.0f} t can be surrendered "
                    f"(opening CEA, allocation with relief, purchases up to market.buy_limit_t {_limit_text(e.buy_max_t[: i + 1])}, "
                    f"CCER {ccer:,.0f} t within the cap and market.ccer_available_t): {cum_need - supply:,.0f} t short "
                    "under policy.compliance 'hard'. Raise the purchase or CCER limits, add abatement, or use "
                    "compliance 'penalty'."
                )
                found = True
                break
        if not found:
            hints.append(
                f"{e.id}: the volume limits alone leave enough allowances in every year if they could be carried "
                "forward freely, so the conflict involves the carry-over limits (carryover.*), CCER eligibility "
                "windows or several rules together, under policy.compliance 'hard'."
            )
    return hints


def _limit_text(limits) -> str:
    fin = [v for v in limits if math.isfinite(v)]
    return f"({sum(fin):,.0f} t in all)" if fin and len(fin) == len(limits) else "(some years unlimited)"
