"""The array backend of ``planner.solve.warm.WarmSolver``: the assembler's standard form, no Pyomo.

``ArrayBackend`` builds each structure with ``planner.solve.highs.compile_assembled``
(``models.arrays.assemble.assemble``) and never builds a Pyomo model:

- **Objective only** (prices, fees, fines, measure costs, terminal values): the cost vector and
  offset of the variant's data written by the assembler's own objective code
  (``models.arrays.assemble.objective_costs``: bit for bit ``assemble(data).cost`` and ``.offset``).
- **Same pattern**: the solution is read through the new arrays' own column map, so the same
  sparsity (the solver's check) is all an in-place update needs.
- **Fast ledger**: ``models.arrays.assemble.ledger_arrays`` (the NumPy core of ``extract_arrays``,
  over all the solutions of a run of variants at once) as the rows and columns of the Pyomo
  backend's fast ledger (``_fast_rows_many``: same columns, order and values).
- **Full results**: ``extract_arrays`` (the frames ``models.extract`` reads from the Pyomo model).

It plans the group cases the assembler writes (``supports``); sweeps choose it for those.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.arrays.assemble import (
    Assembled,
    extract_arrays,
    ledger_arrays,
    objective_costs,
    unsupported,
)
from models.data import ModelData
from models.entity import COST_COMPONENTS
from planner.solve.highs import CompiledModel, SolveOptions, SolveResult, compile_assembled

LEDGER_COLUMNS = (
    "abatement_measures_t",
    "abatement_projects_t",
    "emissions_t",
    "allocation_t",
    "obligation_t",
    "buy_t",
    "sell_t",
    "surrender_t",
    "ccer_buy_t",
    "ccer_surrendered_t",
    "shortfall_t",
    "carry_t",
    "lapse_t",
    "net_sales_t",
    "carry_limit_t",
    "market_buy_t",
    "market_sell_t",
    "transfer_in_t",
    "transfer_out_t",
)
"""Entity-year quantities of the fast ledger, in the order of the Pyomo backend's report map
(``models.extract.annual_expressions`` then ``planner.solve.warm_pyomo.link_expressions``; the carry-over
limit, the rule's value at the net sales, follows ``net_sales_t``)."""


def supports(data: ModelData, opts: SolveOptions) -> bool:
    """``ArrayBackend`` plans ``data``: a group the array assembler writes, solved directly."""
    return data.group is not None and opts.backend == "direct" and unsupported(data) is None


class _Model:
    """The ledger "map" of one loaded model (``ledger_map``): its assembled arrays, and the row
    labels every scenario of it shares. A new object per model, so that ``planner.studies.sweep`` verifies
    each model once (it compares maps by identity)."""

    __slots__ = ("a", "rows")

    def __init__(self, a: Assembled) -> None:
        self.a = a
        self.rows: dict[str, Any] | None = None


class ArrayBackend:
    """The array assembler's model of each variant (``WarmBackend``; see the module docstring)."""

    name = "arrays"

    def __init__(self) -> None:
        self._cm: CompiledModel | None = None
        self._report: _Model | None = None

    # ------------------------------------------------------------------ model state
    def build(self, data: ModelData) -> CompiledModel:
        """The structure of ``data`` from the array assembler (no Pyomo model, no parameters); its
        costs are ``objective_costs(data)`` on this structure."""
        return compile_assembled(data)

    def same_pattern(self, old: CompiledModel, new: CompiledModel) -> bool:
        """Always: the solution is read through the new arrays' own column map, so which column is
        which needs no check beyond the sparsity."""
        return True

    def adopt(self, cm: CompiledModel) -> None:
        """``cm``, the model last built, is now the loaded one; its ledger map is made from its arrays."""
        self._cm = cm
        self._report = _Model(cm.assembled)  # this model's ledger map

    def objective(self, data: ModelData) -> tuple[np.ndarray, float]:
        """Objective-only path: the assembler's cost vector and offset of ``data``."""
        return objective_costs(self._cm.assembled, data)

    def ready_objective(self) -> None:
        """Nothing to prepare: the cost vector is written from the data (``objective_costs``)."""

    # ------------------------------------------------------------------ fast ledger
    def ledger_map(self) -> _Model:
        """The loaded model's ledger map (``WarmBackend.ledger_map``)."""
        assert self._report is not None, "no model loaded"
        return self._report

    def ledger_inputs(self) -> None:
        """Nothing besides the solution: ``ledger_arrays`` reads prices from the variants' data."""

    def ledgers(self, rep: _Model, preps: list, xs: np.ndarray, inputs: list) -> list:
        """The fast ledgers of solutions ``xs``, one per prepared variant (``inputs`` are not needed)."""
        return self._fast_rows_many(rep, preps, xs)

    def _fast_rows_many(
        self, model: _Model, preps: list, xs: np.ndarray
    ) -> list[tuple[dict, dict]]:
        """The fast ledger of solutions ``xs`` (one row per prepared variant in ``preps``) of
        ``model``: ``ledger_arrays`` as ``PyomoBackend._fast_arrays_many``'s rows and columns."""
        a = model.a
        datas = [p.data for p in preps]
        led = ledger_arrays(a, datas, xs)
        S, E, n = led["buy_t"].shape
        fixed = model.rows
        if fixed is None:
            data = datas[0]
            fixed = model.rows = {
                "entity": np.repeat(np.asarray(a.layout.ids, dtype=object), n),
                "year": np.tile(np.asarray(data.years, dtype=np.int64), E),
                "gyear": np.asarray(data.years, dtype=np.int64),
                "df": np.tile(np.asarray(data.discount_factor, dtype=float), E),
            }
        cost = np.zeros((S, E * n))
        # in the report map's column order, then the settlement of transfers
        for c in COST_COMPONENTS:
            cost += led[f"cost_{c}"].reshape(S, E * n)
        cost += led["settle"].reshape(S, E * n)
        disc = cost * fixed["df"]
        other = {c: led[c].reshape(S, E * n) for c in LEDGER_COLUMNS}
        before = other["allocation_t"] - other["obligation_t"]
        nan = np.full(E * n, np.nan)
        pool_buy = led.get("pool_buy_t", np.zeros((S, n)))
        pool_hold = led.get("pool_hold_t", np.zeros((S, n)))
        link_cost = led["link_pool"] + led["link_tiers"]
        out = []
        for k, prep in enumerate(preps):
            # prices as the inputs state them: each entity's own (before a CCER pool)
            own = [p.data.entities[0] for p in prep.entities]
            ent: dict[str, np.ndarray] = {"entity": fixed["entity"], "year": fixed["year"]}
            ent.update({c: v[k] for c, v in other.items()})
            for c, f in (
                ("cea_buy_cny_per_t", "price_buy_cny_per_t"),
                ("cea_sell_cny_per_t", "price_sell_cny_per_t"),
                ("ccer_cny_per_t", "price_ccer_buy_cny_per_t"),
            ):
                ent[c] = np.asarray([v for e in own for v in getattr(e, f)], dtype=float)
            ent["total_cost_cny"] = cost[k]
            ent["discounted_cost_cny"] = disc[k]
            ent["cost_terminal_cny"] = led["cost_terminal"].reshape(S, E * n)[k]
            ent["position_before_trading_t"] = before[k]
            ent["shadow_price_cny_per_t"] = nan
            link = {
                "year": fixed["gyear"],
                "pool_buy_t": pool_buy[k],
                "pool_hold_t": pool_hold[k],
                "link_cost_cny": link_cost[k],
            }
            out.append((ent, link))
        return out

    # ------------------------------------------------------------------ full results
    def results(self, prep, x: np.ndarray, row_dual: np.ndarray | None, res: SolveResult):
        """The result and link frames of solution ``x`` (``extract_arrays``: no Pyomo)."""
        res.build, res.x, res.row_dual = "arrays", x, row_dual
        return extract_arrays(self._cm.assembled, prep.data, x, row_dual)
