"""Warm re-solves of group sweeps without Pyomo: the array assembler's model, changed in place.

``ArrayWarmSolver`` is the ``planner.solve.warm.WarmSolver`` of fast group sweeps (``tables="fast"``)
whose model data ``models.arrays.assemble`` writes (``supports``). It keeps one HiGHS object per worker
and never builds a Pyomo model:

1. **Structure** from ``planner.solve.highs.compile_assembled`` (``models.arrays.assemble.assemble``), rebuilt when
   the structure key changes (``planner.solve.warm.structure_key``, short-cut by ``_shares_structure``
   as in ``WarmSolver``). When the new problem has the same columns, rows, sparsity pattern and
   integrality, costs, bounds and changed coefficients are changed in place ("in_place"), else
   the problem is passed afresh ("new_structure"). ``WarmSolver.prime`` takes these decisions for
   both solvers; this class gives it how to build (``_build``), compare (``_same_pattern``:
   ``planner.solve.warm.same_sparsity``) and price (``_set_objective``) a model.
2. **Objective only** (prices, fees, fines, measure costs, terminal values): the cost vector and
   offset of the variant's data written by the assembler's own objective code
   (``models.arrays.assemble.objective_costs``: bit for bit ``assemble(data).cost`` and ``.offset``) and
   handed to HiGHS with ``changeColsCost``; HiGHS starts from the previous basis.
3. **Fast ledger**: ``models.arrays.assemble.ledger_arrays`` (the NumPy core of ``extract_arrays``, over all
   the solutions of a run of variants at once) mapped to the rows of ``WarmSolver``'s fast ledger
   (``_fast_rows_many``: same columns, order and values).
4. **Verification** (``planner.studies.sweep._verify_fast``, once per model and worker): ``solve_group``
   plans in full as ``planner.group_api`` does for an array-assembled group (``extract_arrays``,
   ``assemble_group_plan``, ``check_group``).

The HiGHS runs (``_run``), cold starts and the fast-sweep entry points are ``WarmSolver``'s: this
class replaces only how the model reaches HiGHS and how its solution is read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.arrays.assemble import Assembled, ledger_arrays, objective_costs, unsupported
from models.data import ModelData
from models.entity import COST_COMPONENTS
from planner.prepare.group import PreparedGroup
from planner.solve.highs import (
    CompiledModel,
    SolveOptions,
    compile_assembled,
)
from planner.solve.warm import GROUP_ROW, VariantResult, WarmSolver, same_sparsity

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
"""Entity-year quantities of the fast ledger, in the order of ``WarmSolver``'s report map
(``models.extract.annual_expressions`` then ``planner.solve.warm.link_expressions``; the carry-over
limit, the rule's value at the net sales, follows ``net_sales_t``)."""


def supports(data: ModelData, opts: SolveOptions) -> bool:
    """``ArrayWarmSolver`` plans ``data``: a group the array assembler writes, solved directly."""
    return data.group is not None and opts.backend == "direct" and unsupported(data) is None


class _Model:
    """The ledger "map" of one loaded model (``_report_map``): its assembled arrays, and the row
    labels every scenario of it shares. A new object per model, so that ``planner.studies.sweep`` verifies
    each model once (it compares maps by identity)."""

    __slots__ = ("a", "rows")

    def __init__(self, a: Assembled) -> None:
        self.a = a
        self.rows: dict[str, Any] | None = None


class ArrayWarmSolver(WarmSolver):
    """One array-assembled model per worker, re-solved warm; see the module docstring."""

    # ------------------------------------------------------------------ model state
    # ``WarmSolver.prime`` decides the path; these say how this solver builds, compares and prices
    def _build(self, data: ModelData):
        """The structure of ``data`` from the array assembler (no Pyomo model, no parameters)."""
        return None, None, compile_assembled(data)  # its costs: objective_costs(data) on this structure

    def _adopt(self, m, holder, cm: CompiledModel, key: tuple) -> None:
        self._cm, self._key = cm, key
        self._static = None
        self._report = _Model(cm.assembled)  # this model's ledger "map" (``_report_map``)
        self._lower = np.array(cm.lp.col_lower_, dtype=float)
        self._upper = np.array(cm.lp.col_upper_, dtype=float)
        self._cost = np.array(cm.lp.col_cost_, dtype=float)

    def _same_pattern(self, cm: CompiledModel) -> bool:
        """The same sparsity (the solution is read through the new arrays' own column map, so which
        column is which needs no check)."""
        return same_sparsity(self._cm, cm)

    def _set_objective(self, data: ModelData) -> None:
        """Objective-only path: the assembler's cost vector and offset of ``data`` to HiGHS."""
        self._send_objective(*objective_costs(self._cm.assembled, data))

    def ready_objective(self) -> None:
        """Nothing to prepare: the cost vector is written from the data (``objective_costs``)."""

    def _compile_report(self) -> None:  # pragma: no cover - a guard: ``_adopt`` sets the map
        raise AssertionError("ArrayWarmSolver's ledger map is set when a model is loaded")

    # ------------------------------------------------------------------ fast ledger
    # ``WarmSolver.solve_fast_many`` solves and groups the variants; the ledgers come from here
    def _ledger_inputs(self) -> None:
        """Nothing besides the solution: ``ledger_arrays`` reads prices from the variants' data."""

    def _ledgers(self, rep: _Model, preps: list, xs: np.ndarray, inputs: list) -> list:
        return self._fast_rows_many(rep, preps, xs)

    def fast_arrays(self, prep: PreparedGroup):
        """The fast ledger (entity rows, group rows) of the last solution."""
        x, _ = self._solution
        return self._fast_rows_many(self._report_map(), [prep], x[None, :])[0]

    def _fast_rows_many(
        self, model: _Model, preps: list, xs: np.ndarray
    ) -> list[tuple[dict, dict]]:
        """The fast ledger of solutions ``xs`` (one row per prepared variant in ``preps``) of
        ``model``: ``ledger_arrays`` as ``WarmSolver._fast_arrays_many``'s rows and columns."""
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

    def fast_group_rows(self, prep: PreparedGroup):
        import pandas as pd

        link = self.fast_arrays(prep)[1]
        return pd.DataFrame({"entity": GROUP_ROW, **link})

    # ------------------------------------------------------------------ full plans
    def solve_group(self, prep: PreparedGroup) -> VariantResult:
        """Plan one prepared group variant in full as ``planner.group_api`` plans an array-assembled
        group (``extract_arrays``, ``assemble_group_plan``; no stand-alone comparison), checked by
        ``planner.plan.check.check_group`` (``WarmSolver._plan``)."""
        from planner.plan.check import check_group
        from planner.plan.group import assemble_group_plan

        return self._plan(
            prep, lambda rl, res: assemble_group_plan(prep, rl[0], rl[1], res, None), check_group
        )

    def solve(self, prep, tables=None):  # pragma: no cover - a guard
        raise NotImplementedError("ArrayWarmSolver plans group cases only (solve_group)")

    def _results(self, prep: PreparedGroup, res):
        """The array path's result and link frames of the last solution (``extract_arrays``: no
        Pyomo); ``WarmSolver.solve_results`` solves and decides whether there is a plan."""
        from models.arrays.assemble import extract_arrays

        x, row_dual = self._solution
        res.build, res.x, res.row_dual = "arrays", x, row_dual
        return extract_arrays(self._cm.assembled, prep.data, x, row_dual)
