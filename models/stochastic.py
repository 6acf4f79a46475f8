"""Extensive form of a scenario tree: one compliance model per scenario, one expected-cost objective,
non-anticipativity constraints on the decisions that must not depend on the scenario.

Decisions are the entity's actions (``DECISIONS``); a decision belongs to the year of its index
(the build year for ``build[p, s]``). The caller (``planner.studies.stochastic``) says, for each year, which
scenarios share a history up to that year and so must take the same decisions in it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyomo.environ as pyo

DECISIONS: tuple[str, ...] = (
    "abate",
    "build",
    "buy",
    "sell",
    "surrender",
    "carry",
    "shortfall",
    "ccer_buy",
    "ccer_sell",
    "ccer_use",
    "ccer_use_lot",
    "auction_buy",
    "borrow",
    "opening_sell",
    "opening_lapse",
)
"""Variables of an entity block that are decisions (the rest follow from them and the data). The
opening sales and lapse of a position before its transition are indexed by the first year: decisions
of the first stage."""
GROUP_DECISIONS: tuple[str, ...] = (
    "market_buy",
    "market_sell",
    "transfer_in",
    "transfer_out",
    "transfer",
    "block_on",
    "sends",
    "pool_buy",
    "pool_hold",
    "tier_buy",
)
"""Variables of a group's links that are decisions (``models.group.add_links``)."""
GROUP_KEY = "(group)"
"""The entity part of the key of a link decision that belongs to no single entity."""


def decision_vars(m: pyo.ConcreteModel, years: Sequence[int]) -> dict[tuple, pyo.Var]:
    """Decisions of a built model of one scenario, keyed by (entity, name, index), with their year
    (the last index element that is a model year). A group's link decisions are keyed by their
    entity when their index starts with one (``market_buy[e, y]`` -> ``(e, "market_buy", y)``),
    else by ``GROUP_KEY`` (``pool_buy[y]``, ``transfer[s, d, y]``)."""
    ys = set(years)
    out: dict[tuple, pyo.Var] = {}
    for e in m.ENTITIES:
        b = m.entity[e]
        for name in DECISIONS:
            comp = getattr(b, name, None)
            if comp is None:
                continue
            for idx in comp:
                out[(e, name, idx)] = comp[idx]
    ents = set(m.ENTITIES)
    for name in GROUP_DECISIONS:
        comp = getattr(m, name, None)
        if not isinstance(comp, pyo.Var):
            continue
        for idx in comp:
            if isinstance(idx, tuple) and len(idx) == 2 and idx[0] in ents:
                out[(idx[0], name, idx[1])] = comp[idx]
            else:
                out[(GROUP_KEY, name, idx)] = comp[idx]
    return {k: v for k, v in out.items() if decision_year(k[2], ys) is not None}


def decision_year(idx, years: set[int]) -> int | None:
    """The year a decision belongs to: the last element of its index ``idx`` that is one of
    ``years``; None if none is."""
    tup = idx if isinstance(idx, tuple) else (idx,)
    for x in reversed(tup):
        if isinstance(x, int) and x in years:
            return x
    return None


def build_extensive_form(
    scenarios: Mapping[str, pyo.ConcreteModel],
    probability: Mapping[str, float],
    groups: Mapping[int, Sequence[Sequence[str]]],
) -> pyo.ConcreteModel:
    """Extensive form: each scenario model becomes a block ``scen[name]`` (its own objective
    deactivated), the objective is the probability-weighted sum of the scenario objectives, and
    for every year ``y`` and every group of ``groups[y]`` the decisions of year ``y`` equal those of
    the group's first scenario (``nonant``)."""
    ef = pyo.ConcreteModel(name="cn_ets_extensive_form")
    names = list(scenarios)
    ef.SCENARIOS = pyo.Set(initialize=names, ordered=True, doc="Price scenarios")
    ef.probability = pyo.Param(ef.SCENARIOS, initialize=dict(probability), doc="Probability of a scenario")
    ef.scen = pyo.Block(ef.SCENARIOS, doc="One compliance model per scenario")
    for s in names:
        sub = scenarios[s]
        sub.objective.deactivate()
        ef.scen[s].transfer_attributes_from(sub)
    years = list(ef.scen[names[0]].YEARS)
    dvars = {s: decision_vars(ef.scen[s], years) for s in names}
    ef.nonant = pyo.ConstraintList(doc="Non-anticipativity: same decision in scenarios with the same history")
    for y, grps in groups.items():
        for g in grps:
            ref = g[0]
            for key, v in dvars[ref].items():
                if decision_year(key[2], {y}) != y:
                    continue
                for s in g[1:]:
                    ef.nonant.add(dvars[s][key] == v)
    ef.objective = pyo.Objective(
        expr=sum(probability[s] * ef.scen[s].objective.expr for s in names),
        sense=pyo.minimize,
        doc="Expected net present cost over the scenarios",
    )
    return ef


def scenario_probability(b: pyo.Block) -> float:
    """The probability of the scenario whose block ``scen[s]`` of an extensive form holds the block
    ``b`` (1.0 outside an extensive form)."""
    while b is not None:
        parent = b.parent_block()
        if parent is not None and isinstance(getattr(parent, "probability", None), pyo.Param) and b.parent_component() is getattr(parent, "scen", None):
            return float(parent.probability[b.index()])
        b = parent
    return 1.0


def first_stage_cost(m: pyo.ConcreteModel, years: Sequence[int]):
    """Discounted cost of the given years (the first-stage cost of a scenario model)."""
    return sum(m.total_discounted_cost[y] for y in years)
