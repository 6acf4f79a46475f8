"""The value of pooling entity by entity: each entity's saving from planning in the group, with the
group's own costs shared out so that the savings add up to the group's value of pooling.

The group plan has costs no entity carries: the pool's CCER purchases (the pool hands CCERs to the
entities at no charge) and the premium of price tiers on the group's market purchases. They are
shared out (discounted CNY):

- pool purchases of year y: by the CCERs each entity receives from the pool in y; the cost of a
  year in which the pool hands out nothing (it buys to hold) by the CCERs each entity receives over
  the horizon; with no CCER handed out at all, by obligation;
- price tiers of year y: by each entity's market purchases in y (by obligation when none);
- any other group cost: by obligation.

Transfers are settled at the internal price inside the entities' costs (component ``transfer``):
that moves money between entities and nets to zero over the group. ``internal_settlement_cny`` is
that payment (positive: the entity pays; negative: it is paid), and ``saving_before_settlement_cny``
the saving if transfers were free, so the internal price's effect on each entity is in view. An
entity whose allocation equals its obligation (within half a tonne) is ``balanced``: neither long
nor short.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

POOLING_COLUMNS = ["entity", "standalone_npv_cny", "group_npv_cny", "group_cost_share_cny", "internal_settlement_cny",
                   "saving_before_settlement_cny", "saving_cny"]
BALANCED_T = 0.5
"""|allocation - obligation| below this: the entity is neither long nor short."""


def side(position_t: pd.Series) -> np.ndarray:
    """Long, short or balanced by the position (allocation - obligation) over the horizon."""
    p = position_t.to_numpy(dtype=float)
    return np.where(np.abs(p) < BALANCED_T, "balanced", np.where(p > 0, "long", "short"))


def _weights(values: pd.DataFrame, col: str, ids: list[str], fallback: pd.Series) -> pd.DataFrame:
    """(year x entity) shares of ``col``; years where it sums to zero take ``fallback`` (entity shares)."""
    w = values.pivot_table(index="year", columns="entity", values=col, aggfunc="sum").reindex(columns=ids).fillna(0.0)
    tot = w.sum(axis=1)
    shares = w.div(tot.where(tot > 0), axis=0)
    for y in shares.index[tot <= 0]:
        shares.loc[y] = fallback.reindex(ids).to_numpy()
    return shares


def group_cost_shares(annual: pd.DataFrame, group_costs: pd.DataFrame, ids: list[str]) -> pd.Series:
    """Each entity's share of the group's own costs (discounted CNY, summed over years), adding up
    to the group's own cost."""
    obligation = annual.groupby("entity")["obligation_t"].sum().reindex(ids).fillna(0.0)
    by_obligation = obligation / obligation.sum() if obligation.sum() > 0 else pd.Series(1.0 / len(ids), index=ids)
    received = annual.groupby("entity")["ccer_buy_t"].sum().reindex(ids).fillna(0.0)
    by_received = received / received.sum() if received.sum() > 0 else by_obligation
    share = pd.Series(0.0, index=ids)
    if group_costs.empty:
        return share
    per_year = group_costs.groupby(["component", "year"])["discounted_cny"].sum()
    bases = {"pool": _weights(annual, "ccer_buy_t", ids, by_received),
             "tiers": _weights(annual, "market_buy_t", ids, by_obligation) if "market_buy_t" in annual else None}
    for (component, year), cost in per_year.items():
        if cost == 0:
            continue
        w = bases.get(component)
        if w is not None and year in w.index:
            share += cost * w.loc[year].to_numpy()
        else:
            share += cost * by_obligation.to_numpy()
    return share


def pooling_value_table(annual: pd.DataFrame, costs: pd.DataFrame, group_costs: pd.DataFrame, ids: list[str],
                        standalone_npv: pd.Series, total_alone: float, group_npv: float) -> pd.DataFrame:
    """Per entity: its NPV cost alone, in the group (its own costs), its share of the group's own
    costs, the internal settlement of transfers, and the saving before and after that settlement;
    then a ``(group)`` row. The entities' savings add up to the value of pooling (total alone - group)."""
    own = costs.groupby("entity")["discounted_cny"].sum().reindex(ids).fillna(0.0)
    settle = costs[costs["component"] == "transfer"].groupby("entity")["discounted_cny"].sum().reindex(ids).fillna(0.0)
    share = group_cost_shares(annual, group_costs, ids)
    alone = standalone_npv.reindex(ids)
    pv = pd.DataFrame({
        "entity": ids,
        "standalone_npv_cny": alone.to_numpy(),
        "group_npv_cny": own.to_numpy(),
        "group_cost_share_cny": share.to_numpy(),
        "internal_settlement_cny": settle.to_numpy(),
    })
    pv["saving_cny"] = pv["standalone_npv_cny"] - pv["group_npv_cny"] - pv["group_cost_share_cny"]
    pv["saving_before_settlement_cny"] = pv["saving_cny"] + pv["internal_settlement_cny"]
    total = pd.DataFrame([{
        "entity": "(group)", "standalone_npv_cny": total_alone, "group_npv_cny": group_npv,
        "group_cost_share_cny": float(share.sum()), "internal_settlement_cny": float(settle.sum()),
        "saving_cny": total_alone - group_npv, "saving_before_settlement_cny": total_alone - group_npv,
    }])
    return pd.concat([pv, total], ignore_index=True)[POOLING_COLUMNS]


def pooling_paragraph(pv: pd.DataFrame, entity_summary: pd.DataFrame, internal_price: float | None) -> str:
    """What pooling does and what it is worth, in one paragraph (English; numbers from the tables)."""
    ent = pv[pv["entity"] != "(group)"]
    total = pv[pv["entity"] == "(group)"].iloc[0]
    shared = float(total["group_cost_share_cny"])
    sides = entity_summary.set_index("entity")["side"] if "side" in entity_summary else pd.Series(dtype=str)
    losers = [str(e) for e, s in zip(ent["entity"], ent["saving_cny"], strict=True) if s < -0.5]
    long_losers = [e for e in losers if sides.get(e) == "long"]
    price = f" at the internal price of {internal_price:,.2f} CNY/t" if internal_price is not None else ""
    text = (
        f"Pooling: the group plans its {len(ent)} entities together. Entities with allowances to spare transfer them "
        f"to short entities{price} instead of selling on the market at the sell price while others buy at the buy "
        f"price; the group's CCER pool and its price tiers are bought for the group. Planned alone, the entities "
        f"would cost {float(total['standalone_npv_cny']):,.0f} CNY (NPV); together {float(total['group_npv_cny']):,.0f} CNY: "
        f"the value of pooling is {float(total['saving_cny']):,.0f} CNY. Each entity's saving below carries its share of "
        f"the group's own costs ({shared:,.0f} CNY: pool CCERs by the CCERs it receives, price-tier premiums by its "
        f"market purchases), so the savings add up to the value of pooling. The internal price only moves money "
        f"between entities (the settlements add up to zero): a higher price moves saving from the buyers to the "
        f"sellers."
    )
    if losers:
        text += (f" At this price {len(losers)} entit{'y' if len(losers) == 1 else 'ies'} would be better off alone "
                 f"({', '.join(losers[:8])}{', ...' if len(losers) > 8 else ''})")
        text += (f"; {len(long_losers)} of them long: what they are paid at this internal price does not cover what "
                 "their transfers would earn on the market alone or the abatement they do for the group; a higher "
                 "internal price, or one that follows the market price, moves saving to them (the saving before "
                 "settlement shows each entity's gain with transfers free)." if long_losers else ".")
    return text
