"""One entity's plan tables, fast, for sweeps that plan many variants of one structure.

``planner.plan.entity.assemble_plan`` (the one table builder, on a group of one) joins the result
frames with the prepared inputs by merges and pivots and states the binding rules, tens of
milliseconds of pandas work per plan. In a sweep every variant of a structure has result frames with the same rows (the same
(entity, year), (year, component), (year, constraint) and (measure, year) keys in the same order);
only the numbers change. ``EntityTables`` plans the first variant of a structure with the
builder and keeps where every number went (the layout); each later variant whose keys are those
of the layout gets its tables by putting its numbers in those places with the same arithmetic
(``planner.plan.entity.annual_derived``'s columns, the same pandas reductions); any other variant is
planned by the builder again (and its layout kept). The rule statements, the MAC table and the
allocation schedule are the builder's own functions; the checker is the library's,
``planner.plan.check.check_plan``. ``tests/solver/test_entity_tables.py`` asserts that every table
equals the builder's and the per-entity oracle's (``tests/oracles/tables.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.plan.check import check_plan
from planner.plan.entity import (
    DUAL_SIGN,
    GroupOfOne,
    Plan,
    assemble_plan,
    bindings_table,
    mac_table,
    plan_tables,
    schedule_table,
)
from planner.prepare.entity import PreparedCase

KEY = ("entity", "year")


def _keys(df: pd.DataFrame, cols: tuple[str, ...]) -> tuple:
    return tuple(tuple(df[c].tolist()) for c in cols)


@dataclass
class _Layout:
    """Where one structure's numbers go in its plan tables (see the module docstring)."""

    res_cols: list[str]
    inp_cols: list[str]
    ann_keys: tuple
    cost_keys: tuple
    dual_keys: tuple
    abate_keys: tuple
    columns: list[str]  # the plan's annual columns, in order
    cost_cols: list[str]  # cost_<component>_cny, in the pivot's order
    cost_cell: tuple[np.ndarray, np.ndarray]  # each cost row's (annual row, cost column)
    comp_cols: list[str]  # the columns annual_derived sums into total_cost_cny
    shadow: pd.DataFrame  # the shadow-price table (its numbers replaced per variant)
    sign: np.ndarray  # per dual row: the sign of its shadow price
    dual_df: np.ndarray  # per dual row: its year's discount factor position in the inputs
    surrender: np.ndarray  # per annual row: its balance_surrender dual row (-1: none)
    joined: bool = False  # the annual columns are the results', the inputs' (keys first), then cost and derived

    @staticmethod
    def make(prep: PreparedCase, results, plan: Plan) -> _Layout | None:
        """The layout of ``plan`` (planned by ``assemble_plan``), or None when this structure has no
        simple layout (keys not unique or not aligned; then every variant takes ``assemble_plan``)."""
        ra, inp = results.annual, prep.inputs
        ann_keys = _keys(ra, KEY)
        if ann_keys != _keys(inp, KEY) or len(set(zip(*ann_keys, strict=True))) != len(ra):
            return None
        res_cols = list(ra.columns)
        inp_cols = [c for c in inp.columns if c not in KEY]
        if set(res_cols) & set(inp_cols):
            return None  # the merge would add suffixes
        rows = {k: j for j, k in enumerate(zip(*ann_keys, strict=True))}
        costs = results.costs
        cost_keys = _keys(costs, ("entity", "year", "component"))
        comps = list(dict.fromkeys(cost_keys[2]))
        cost_cols = [f"cost_{c}_cny" for c in comps]
        cells = list(zip(*cost_keys, strict=True))
        if len(set(cells)) != len(cells) or any((e, y) not in rows for e, y, _ in cells):
            return None
        cost_cell = (
            np.array([rows[(e, y)] for e, y, _ in cells], dtype=np.int64),
            np.array([comps.index(c) for _, _, c in cells], dtype=np.int64),
        )
        columns = list(plan.annual.columns)
        expect = res_cols + inp_cols + [c for c in cost_cols if c not in res_cols + inp_cols]
        if columns[: len(expect)] != expect or any(c in res_cols + inp_cols for c in cost_cols):
            return None
        comp_cols = [c for c in expect if c.startswith("cost_") and c.endswith("_cny")]
        duals = results.duals
        dual_keys = (
            _keys(duals, ("entity", "year", "constraint")) if not duals.empty else ((), (), ())
        )
        dcells = list(zip(*dual_keys, strict=True))
        if len(set(dcells)) != len(dcells) or any((e, y) not in rows for e, y, _ in dcells):
            return None
        shadow = plan.shadow_prices
        if len(shadow) != len(dcells):
            return None
        sign = np.array([DUAL_SIGN.get(c, np.nan) for _, _, c in dcells], dtype=float)
        dual_df = np.array([rows[(e, y)] for e, y, _ in dcells], dtype=np.int64)
        sur = {(e, y): j for j, (e, y, c) in enumerate(dcells) if c == "balance_surrender"}
        surrender = np.array([sur.get(k, -1) for k in zip(*ann_keys, strict=True)], dtype=np.int64)
        ab = results.abatement
        abate_keys = _keys(ab, ("entity", "measure", "year")) if not ab.empty else ()
        derived = ["total_cost_cny", "discounted_cost_cny", "buy_cny", "sell_cny", "ccer_buy_cny",
                   "position_before_trading_t", "shadow_price_cny_per_t"]
        joined = list(inp.columns[: len(KEY)]) == list(KEY) and columns == expect + derived
        return _Layout(
            res_cols,
            [c for c in inp.columns if c not in KEY],
            ann_keys,
            cost_keys,
            dual_keys,
            abate_keys,
            columns,
            cost_cols,
            cost_cell,
            comp_cols,
            shadow,
            sign,
            dual_df,
            surrender,
            joined,
        )

    def fits(self, prep: PreparedCase, results) -> bool:
        """Whether a variant's result frames have exactly this layout's keys and columns."""
        ra, inp, ab = results.annual, prep.inputs, results.abatement
        return (
            list(ra.columns) == self.res_cols
            and [c for c in inp.columns if c not in KEY] == self.inp_cols
            and _keys(ra, KEY) == self.ann_keys
            and _keys(inp, KEY) == self.ann_keys
            and _keys(results.costs, ("entity", "year", "component")) == self.cost_keys
            and (
                _keys(results.duals, ("entity", "year", "constraint"))
                if not results.duals.empty
                else ((), (), ())
            )
            == self.dual_keys
            and (_keys(ab, ("entity", "measure", "year")) if not ab.empty else ())
            == self.abate_keys
        )

    def annual(
        self, prep: PreparedCase, results
    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list]]:
        """The annual and shadow-price tables (``assemble_plan``'s merges and ``annual_derived``),
        and the annual table's columns as lists."""
        ra, inp = results.annual, prep.inputs
        n = len(ra)
        cols: dict[str, Any] = {}
        wide = np.full((n, len(self.cost_cols)), np.nan)
        wide[self.cost_cell] = results.costs["nominal_cny"].to_numpy(dtype=float)
        for j, c in enumerate(self.cost_cols):
            cols[c] = wide[:, j]
        src = {c: ra for c in self.res_cols} | {c: inp for c in self.inp_cols}
        num = {
            c: src[c][c].to_numpy(dtype=float)
            for c in (
                "buy_t",
                "sell_t",
                "ccer_buy_t",
                "allocation_t",
                "obligation_t",
                "cea_buy_cny_per_t",
                "cea_sell_cny_per_t",
                "ccer_cny_per_t",
                "discount_factor",
            )
        }
        # as pandas sums the rows of the cost columns (pairwise along each C-contiguous row)
        comp = (
            wide
            if self.comp_cols == self.cost_cols
            else np.column_stack([np.asarray(cols[c] if c in cols else src[c][c], dtype=float) for c in self.comp_cols])
        )
        total = np.nansum(np.ascontiguousarray(comp), axis=1)
        cols["total_cost_cny"] = total
        cols["discounted_cost_cny"] = total * num["discount_factor"]
        cols["buy_cny"] = num["buy_t"] * num["cea_buy_cny_per_t"]
        cols["sell_cny"] = num["sell_t"] * num["cea_sell_cny_per_t"]
        cols["ccer_buy_cny"] = num["ccer_buy_t"] * num["ccer_cny_per_t"]
        cols["position_before_trading_t"] = num["allocation_t"] - num["obligation_t"]
        # shadow prices: _shadow_prices' arithmetic, on the layout's rows
        shadow = self.shadow
        if len(self.sign):
            dual = results.duals["dual"].to_numpy(dtype=float)
            v = self.sign * dual / num["discount_factor"][self.dual_df]
            v = np.where(np.abs(v) > 1e-9, v, 0.0)
            shadow = shadow.copy()
            shadow["cny_per_t"] = v
            sp = np.where(self.surrender >= 0, v[np.maximum(self.surrender, 0)], np.nan)
        else:
            sp = np.full(n, np.nan)
        cols["shadow_price_cny_per_t"] = sp
        own = pd.DataFrame(cols)
        if self.joined and ra.index.equals(own.index) and inp.index.equals(own.index):
            # the result and input columns side by side, then the layout's own columns
            ann = pd.concat([ra, inp.iloc[:, len(KEY) :], own], axis=1)
        else:
            ann = pd.DataFrame({c: (cols[c] if c in cols else src[c][c].array) for c in self.columns})
        return ann, shadow, _Lists(ann, cols)


class _Lists(dict):
    """The annual table's columns as lists, each made on first use (what the rule statements read)."""

    def __init__(self, ann: pd.DataFrame, arrays: dict[str, np.ndarray]):
        super().__init__()
        self._ann, self._arrays = ann, arrays

    def __missing__(self, c: str) -> list:
        v = self[c] = self._arrays[c].tolist() if c in self._arrays else self._ann[c].tolist()
        return v


class EntityTables:
    """Plans of one entity's variants (``assemble``), equal to ``planner.plan.entity.assemble_plan``'s,
    with the layout of the last structure seen kept between calls (see the module docstring)."""

    def __init__(self) -> None:
        self.layout: _Layout | None = None
        self.stats = {"reference": 0, "layout": 0}

    def assemble(self, prep: PreparedCase, results, solve_result) -> Plan:
        """The plan of ``prep`` from ``results``: by the kept layout when it fits, else by
        ``assemble_plan``, whose plan's layout is kept for the next calls."""
        lay = self.layout
        if lay is None or not lay.fits(prep, results):
            plan = assemble_plan(prep, results, solve_result)
            self.layout = _Layout.make(prep, results, plan)
            self.stats["reference"] += 1
            return plan
        self.stats["layout"] += 1
        return _assemble(lay, prep, results, solve_result)


def _assemble(lay: _Layout, prep: PreparedCase, results, solve_result) -> Plan:
    ann, shadow, lists = lay.annual(prep, results)
    group = GroupOfOne(prep)
    plan = plan_tables(prep, results, ann, shadow, solve_result, lambda ann: schedule_table(group, ann))
    plan.mac = mac_table(group, plan)
    plan.bindings = bindings_table(
        plan, prep.data, {d.id: k for k, d in enumerate(prep.data.entities)}, lists
    )
    return plan


# the library checker under the name the warm solver (planner.solve.warm) imports
check_plan_arrays = check_plan
