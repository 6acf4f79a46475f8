"""The only model entry point: one or more entity blocks over common years, one objective.

A single entity is a group of one, so the corporate CLI and the group desk run the same math.
Group links (transfers, pooled CCERs, group limits) are added here as ``link_*`` constraints.
"""

from __future__ import annotations

import pyomo.environ as pyo

from models.data import ModelData
from models.entity import COST_COMPONENTS, add_entity


def build_model(data: ModelData) -> pyo.ConcreteModel:
    """Build the compliance model for ``data``: entity blocks and the discounted-cost objective."""
    m = pyo.ConcreteModel(name="cn_ets_compliance")
    years = tuple(data.years)
    m.YEARS = pyo.Set(initialize=years, ordered=True, doc="Compliance years")
    m.ENTITIES = pyo.Set(initialize=[e.id for e in data.entities], ordered=True, doc="Covered entities")
    by_id = {e.id: e for e in data.entities}
    df = dict(zip(years, data.discount_factor, strict=True))

    def _entity(b: pyo.Block, e: str) -> None:
        add_entity(b, by_id[e], years)

    m.entity = pyo.Block(m.ENTITIES, rule=_entity, doc="One block per covered entity")

    @m.Expression(m.YEARS, doc="Discounted cost of all entities in a year [CNY]")
    def total_discounted_cost(m, y):
        return df[y] * sum(m.entity[e].total_cost[y] for e in m.ENTITIES)

    m.objective = pyo.Objective(
        expr=sum(
            df[y] * getattr(m.entity[e], f"cost_{c}")[y]
            for e in m.ENTITIES
            for y in m.YEARS
            for c in COST_COMPONENTS
        ),
        sense=pyo.minimize,
        doc="Net present cost of compliance: sum of discounted cost components",
    )
    return m
