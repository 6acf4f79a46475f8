"""What the solver's status does not tell: a price path on which no optimal plan exists (checked
before the solve) and a solved plan that sits on a bound the model derived from the data (after it).

Both rest on ``models.bounds``. A case whose prices reward buying without limit is refused with
``UnboundedError`` (exit 2), naming the years and prices, instead of a plan capped by a bound; a plan
that reaches a derived bound is outside what the argument behind the bound proves, so it is not
reported as optimal: ``NonOptimalError`` (exit 2), or, where the caller allows non-optimal plans,
the plan with status "feasible" and a note saying which bound it reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from models.bounds import bound_hits, unbounded_arbitrage
from models.data import ModelData
from planner.errors import NonOptimalError, UnboundedError

if TYPE_CHECKING:
    import pandas as pd

    from planner.solve.highs import SolveOptions, SolveResult


def refuse_unbounded(data: ModelData, what: str = "") -> None:
    """Raise ``UnboundedError`` when the prices of ``data`` reward buying without limit."""
    why = unbounded_arbitrage(data)
    if why:
        raise UnboundedError(f"{what}{why}")


def derived_bound_hits(data: ModelData, annual: pd.DataFrame, transfers: pd.DataFrame | None = None) -> list[str]:
    """The derived bounds (``models.bounds.bound_hits``) a plan reaches, from its tables: the annual
    table's net sales and, for block transfers, the transfers table (seller, buyer, year, tonnes)."""
    ids = [e.id for e in data.entities]
    years = list(data.years)
    ns = (annual.pivot_table(index="entity", columns="year", values="net_sales_t", aggfunc="sum")
          .reindex(index=ids, columns=years).to_numpy(dtype=float))
    blocks, sent = None, None
    g = data.group
    if g is not None and g.transfers == "block" and transfers is not None and len(transfers):
        k = {e: i for i, e in enumerate(ids)}
        t = {y: i for i, y in enumerate(years)}
        blocks = [(k[s], k[d], t[int(y)], float(v))
                  for s, d, y, v in zip(transfers["seller"], transfers["buyer"], transfers["year"], transfers["transfer_t"], strict=True)]
        sent = np.zeros((len(ids), len(years)))
        for s, _, i, v in blocks:
            sent[s, i] += v
    return bound_hits(data, ns, blocks, sent)


def settle_hits(hits: list[str], res: SolveResult, opts: SolveOptions, summary: dict, notes: list[str]) -> None:
    """A plan that reached a derived bound is not reported as optimal: raise, or (non-optimal plans
    allowed) mark it feasible and say why."""
    if not hits:
        return
    from planner.solve.highs import SolveStatus

    shown = "; ".join(hits[:3]) + (f"; and {len(hits) - 3} more" if len(hits) > 3 else "")
    msg = ("the plan reaches a bound the model derives from the data, so it is not proven optimal: " + shown
           + ". A plan that needs it gains from trading beyond what the bound's argument allows (models/FORMULATION.md, "
           "'Derived bounds'); please report the case")
    if not opts.allow_nonoptimal:
        raise NonOptimalError(msg, res)
    res.status = SolveStatus.FEASIBLE
    summary["status"] = str(res.status)
    notes.insert(0, f"NOT PROVEN OPTIMAL: {msg}.")
