"""The stand-alone solves of the value of pooling in one pass (``planner.solve.batch``) give the
costs and objectives of solving each entity as its own model (the reference below: one
``solve_arrays`` per entity, a new HiGHS object each, its own extraction), to the last bit."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from planner.api import fast_path, options_for, solve_arrays, solve_standalone
from planner.input.read import load_group_case
from planner.prepare.group import prepare_group
from planner.testing.fleet import fleet_group

from .helpers import GROUP_EXAMPLE

pytestmark = pytest.mark.solver


def reference(prep, opts):
    """Each entity alone through the group solve path: (objective summed, costs, statuses)."""
    cost_only = replace(opts, duals=False, tie_break=False)
    total, costs, statuses = 0.0, [], []
    for e in prep.standalone.entities:
        res, r, _ = solve_arrays(replace(prep.standalone, entities=(e,)), cost_only)
        total += float(res.objective)
        costs.append(r.costs)
        statuses.append(str(res.status))
    return total, pd.concat(costs, ignore_index=True), statuses


def _spec(kind):
    if kind == "example":
        return load_group_case(GROUP_EXAMPLE / "group.yaml")
    if kind == "lp":
        return fleet_group(12, seed=3, binaries=False)
    if kind == "lots":  # opening CCER lots: their terminal value is each entity's own objective constant
        from planner.input.schema import CcerLotSpec

        spec = fleet_group(6, seed=4, binaries=False)
        ents = list(spec.entities)
        for k in (1, 3):
            lot = CcerLotSpec(id=f"lot{k}", quantity_t=20_000.0 * k, system="new", eligible_from_year=2025, eligible_to_year=2040)
            fin = ents[k].finance.model_copy(update={"terminal_value": "given", "terminal_cea_cny_per_t": 100.0,
                                                     "terminal_ccer_cny_per_t": 90.0})
            ents[k] = ents[k].model_copy(update={"opening": ents[k].opening.model_copy(update={"ccer_lots": [lot]}),
                                                 "finance": fin})
        return spec.model_copy(update={"entities": ents})
    return fleet_group(10, seed=5, projects=True)  # net-sales floor and project binaries


@pytest.mark.parametrize("kind", ["lp", "mip", "example", "lots"])
def test_batch_equals_one_model_per_entity(kind):
    spec = _spec(kind)
    prep = prepare_group(spec)
    opts = options_for(spec)
    total, costs, statuses = reference(prep, opts)
    done = []
    worst, alone = solve_standalone(prep, opts, progress=done.append)
    assert done == list(range(1, len(prep.standalone.entities) + 1))
    assert alone.objective_cny == total  # bit for bit: the same problems, summed in the same order
    pd.testing.assert_frame_equal(alone.costs, costs, check_exact=True)
    assert str(worst.status) == "optimal" and set(statuses) == {"optimal"}
    # the entities' costs are their objectives (each entity's discounted costs summed)
    per_entity = alone.costs.groupby("entity", sort=False)["discounted_cny"].sum()
    assert per_entity.sum() == pytest.approx(total, rel=1e-9)


def test_batch_mixes_pyomo_entities(monkeypatch):
    """An entity the array assembler refuses is built with Pyomo, alone; the others keep the batch
    path and the table keeps the entity order."""
    spec = _spec("mip")
    prep = prepare_group(spec)
    opts = options_for(spec)
    total, costs, _ = reference(prep, opts)
    refused = {prep.standalone.entities[1].id, prep.standalone.entities[4].id}

    def some_refused(data, o):
        if len(data.entities) == 1 and data.entities[0].id in refused:
            return "refused for the test"
        return fast_path(data, o)

    monkeypatch.setattr("planner.api.fast_path", some_refused)
    _, alone = solve_standalone(prep, opts)
    assert list(alone.costs["entity"].unique()) == [e.id for e in prep.standalone.entities]
    assert alone.objective_cny == pytest.approx(total, rel=1e-9)
    pd.testing.assert_frame_equal(alone.costs, costs, check_exact=False, rtol=1e-7, atol=1e-3)


@pytest.mark.parametrize("kind", ["lp", "mip", "example", "lots"])
def test_entity_slices_are_the_entities_own_problems(kind):
    """Each entity's block of the stand-alone assembly is, array by array, the problem of the entity
    assembled alone (coefficients, bounds, costs, integrality, constant)."""
    import numpy as np

    from models.arrays.assemble import assemble, lot_offsets
    from planner.solve.batch import entity_problem, entity_slices
    from planner.solve.highs import compile_assembled

    prep = prepare_group(_spec(kind))
    data = prep.standalone
    a = assemble(data)
    blocks = entity_slices(a)
    assert blocks is not None and len(blocks) == len(data.entities)
    offsets = lot_offsets(a.lots, float(data.discount_factor[-1]), len(data.entities))
    assert blocks[0][0] == 0 and blocks[-1][1] == a.n_col and blocks[-1][3] == a.n_row
    for k, e in enumerate(data.entities):
        mine, own = entity_problem(a, blocks[k], offsets[k]).lp, compile_assembled(replace(data, entities=(e,))).lp
        assert (mine.num_col_, mine.num_row_, mine.offset_) == (own.num_col_, own.num_row_, own.offset_)
        for f in ("col_cost_", "col_lower_", "col_upper_", "row_lower_", "row_upper_"):
            assert np.array_equal(np.asarray(getattr(mine, f)), np.asarray(getattr(own, f))), (e.id, f)
        for f in ("start_", "index_", "value_"):
            assert np.array_equal(np.asarray(getattr(mine.a_matrix_, f)), np.asarray(getattr(own.a_matrix_, f))), (e.id, f)
        assert list(mine.integrality_) == list(own.integrality_)
    if kind == "lots":  # the two entities with lots have their own constant, the others none
        assert [o is not None for o in offsets] == [False, True, False, True, False, False]
        assert sum(o for o in offsets if o is not None) == pytest.approx(a.offset)


def test_entity_slices_refuse_linked_entities():
    """The group's own assembly (transfers, pool) links entities: it has no per-entity blocks."""
    from models.arrays.assemble import assemble
    from planner.solve.batch import entity_slices

    prep = prepare_group(_spec("lp"))
    assert entity_slices(assemble(prep.data)) is None
