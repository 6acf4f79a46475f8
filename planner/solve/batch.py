"""The entities of a group each solved alone, in one pass (the value of pooling).

Each entity's problem is the one the entity planner would solve (``compile_assembled`` of the
entity alone), but the many small solves share what does not depend on the entity:

- one assembly of all entities without links: its rows and columns come block by block, each
  entity's block in the order of the entity's own assembly with the same coefficients, bounds and
  costs (``tests/solver/test_batch_alone.py`` asserts the slices equal, array by array), so each
  entity's problem is a slice of it, and its constant the entity's own (``lot_offsets``);
- one quiet HiGHS object (no object to make and no log to keep per entity);
- one extraction of the cost tables, for all entities at once, from the solutions put side by side.

HiGHS is given the same arrays as one solve per entity, so it returns the same plans. Entities the
array assembler does not write fall back to the Pyomo build, one by one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any

import numpy as np

from planner.solve.highs import (
    CompiledModel,
    SolveOptions,
    SolveResult,
    new_quiet_highs,
    solve_compiled,
    to_highs,
)


@dataclass
class AloneResults:
    """The entities each planned alone (``solve_each_alone``)."""

    worst: SolveResult
    """The last result that is not optimal, else the first (what the plan's notes report)."""
    objective_cny: float
    """The entities' objectives summed, in entity order."""
    costs: Any
    """The ``costs`` table of ``models.Results`` for every entity (entity order)."""


def entity_slices(a) -> list[tuple[int, int, int, int]] | None:
    """Per entity of the assembled arrays ``a``: (first column, end column, first row, end row) of its
    block, or None when the arrays are not block-diagonal by entity (a model-level row or column,
    or a coefficient that links two entities)."""
    E = a.layout.base.shape[0]

    def block_of(fams, perm, n_prov):
        comp = np.full(n_prov, -1, dtype=np.int64)
        for f in fams:
            comp[f.offset:f.offset + f.size] = f.comp
        return comp[perm]

    cb = block_of(a.col_fams, a.col_perm, sum(f.size for f in a.col_fams))
    rb = block_of(a.row_fams, a.row_perm, sum(f.size for f in a.row_fams))
    if (len(cb) and cb.min() < 0) or (len(rb) and rb.min() < 0) or np.any(np.diff(cb) < 0) or np.any(np.diff(rb) < 0):
        return None
    col_of_nz = np.repeat(np.arange(a.n_col), np.diff(a.start))
    if np.any(rb[a.index] != cb[col_of_nz]):
        return None
    c = np.searchsorted(cb, np.arange(E + 1))
    r = np.searchsorted(rb, np.arange(E + 1))
    return [(int(c[k]), int(c[k + 1]), int(r[k]), int(r[k + 1])) for k in range(E)]


def entity_problem(a, block: tuple[int, int, int, int], offset: float | None) -> CompiledModel:
    """The compiled problem of one entity's block of ``a`` (``entity_slices``)."""
    c0, c1, r0, r1 = block
    s0, s1 = a.start[c0], a.start[c1]
    part = SimpleNamespace(
        n_col=c1 - c0, n_row=r1 - r0, cost=a.cost[c0:c1], lower=a.lower[c0:c1], upper=a.upper[c0:c1],
        integer=a.integer[c0:c1], row_lower=a.row_lower[r0:r1], row_upper=a.row_upper[r0:r1],
        start=a.start[c0:c1 + 1] - s0, index=a.index[s0:s1] - r0, value=a.value[s0:s1],
        offset=0.0 if offset is None else offset,
    )
    return CompiledModel(lp=to_highs(part), columns=None, rows=None, integer_cols=np.flatnonzero(part.integer),
                         obj_offset=part.offset, obj_sign=1.0, compile_s=0.0)


def solve_each_alone(data, opts: SolveOptions, fast_path, progress=None) -> AloneResults:
    """Solve each entity of ``data`` (a group's ``standalone`` model data: no links) alone, with
    ``opts`` for costs only (no duals, no tie-break). ``fast_path(data, opts)``: why a model cannot
    take the array path, or None. ``progress``: called with the number of entities done, or None."""
    import pandas as pd

    from models import build_model, extract_results
    from models.arrays.assemble import assemble, extract_arrays, lot_offsets
    from planner.solve.highs import solve_model

    cost_only = replace(opts, duals=False, tie_break=False)
    ents = data.entities
    on_arrays = [k for k, e in enumerate(ents) if fast_path(replace(data, entities=(e,)), opts) is None]
    a = blocks = None
    if on_arrays:
        sub = replace(data, entities=tuple(ents[k] for k in on_arrays))
        a = assemble(sub)
        blocks = entity_slices(a)
        if blocks is None:  # pragma: no cover - the assembler writes no links without a group
            raise AssertionError("the stand-alone entities' assembly is not block-diagonal")
        offsets = lot_offsets(a.lots, float(data.discount_factor[-1]), len(on_arrays))
    where = {k: j for j, k in enumerate(on_arrays)}
    h = new_quiet_highs(cost_only)
    xs: list[np.ndarray] = []
    pyomo_costs: dict[int, pd.DataFrame] = {}
    total, worst = 0.0, None
    for k, e in enumerate(ents):
        if k in where:
            j = where[k]
            res = solve_compiled(entity_problem(a, blocks[j], offsets[j]), cost_only, highs=h)
            xs.append(res.x)
        else:
            m = build_model(replace(data, entities=(e,)))
            res = solve_model(m, cost_only)
            pyomo_costs[k] = extract_results(m, dict(zip(data.years, data.discount_factor, strict=True)), {}).costs
        total += float(res.objective)
        if worst is None or res.status != "optimal":
            worst = res
        if progress is not None:
            progress(k + 1)
    if not pyomo_costs:
        costs = extract_arrays(a, sub, np.concatenate(xs), None)[0].costs
        return AloneResults(worst=worst, objective_cny=total, costs=costs)
    tables = dict(pyomo_costs)
    if on_arrays:
        costs = extract_arrays(a, sub, np.concatenate(xs), None)[0].costs
        n = len(costs) // len(on_arrays)
        for j, k in enumerate(on_arrays):
            tables[k] = costs.iloc[j * n:(j + 1) * n]
    return AloneResults(worst=worst, objective_cny=total, costs=pd.concat([tables[k] for k in range(len(ents))], ignore_index=True))
