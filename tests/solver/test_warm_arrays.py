"""The Pyomo-free warm solves of fast group sweeps (``WarmSolver(backend="arrays")``,
``planner.solve.warm_arrays.ArrayBackend``).

- Its objective-only path writes the cost vector and offset with the assembler's own objective
  code: bit for bit what a fresh ``assemble`` of the variant writes, on generated variants.
- A fast group sweep through it (price paths, variants that change bounds or allocation, an
  invalid variant) gives the same frame as the Pyomo ``WarmSolver`` path.
- A wrong fast ledger is caught by the once-per-worker verification against the full checked plan
  of the array path (rows turn into "error").
"""

import dataclasses
import os
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import planner.studies.sweep as sweep_mod
from models.arrays.assemble import assemble, objective_costs
from planner.prepare.group import prepare_group
from planner.solve.highs import SolveOptions
from planner.solve.warm import (
    GROUP_OBJECTIVE_SCALARS,
    GROUP_OBJECTIVE_TUPLES,
    OBJECTIVE_SCALARS,
    OBJECTIVE_TUPLES,
    structure_key,
)
from planner.solve.warm_arrays import ArrayBackend
from planner.studies.sweep import solve_chunk, sweep
from planner.studies.variants import Variant, as_variants
from planner.testing.fleet import fleet_group

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _bases():
    """Group data covering every cost term: measures, projects (capex, opex), free transfers, a
    CCER pool; and one without transfers, with price tiers and finite group limits."""
    a = prepare_group(
        fleet_group(
            4, seed=21, binaries=False, projects=True, last_year=2029, value_of_pooling=False
        )
    ).data
    b = prepare_group(
        fleet_group(
            5, seed=9, binaries=False, transfers="none", last_year=2028, value_of_pooling=False
        )
    ).data
    from models.data import PriceTier

    k = len(b.years)
    g = dataclasses.replace(
        b.group,
        tiers=(
            PriceTier(width_t=1.0e5, premium_cny_per_t=0.0),
            PriceTier(width_t=float("inf"), premium_cny_per_t=3.5),
        ),
        group_buy_max_t=tuple(4.0e6 if i % 2 == 0 else float("inf") for i in range(k)),
    )
    return [a, dataclasses.replace(b, group=g)]


BASES = _bases()


def _reprice(data, rng: random.Random):
    """``data`` with every objective-only number drawn anew (the fields the warm solver's structure
    key masks): prices, fees, fines, measure costs, terminal values, the group's link prices."""

    def draw(x):
        return (
            rng.choice([0.0, round(rng.uniform(-5, 300), rng.choice([0, 2, 6]))])
            if rng.random() < 0.15
            else x * rng.uniform(0.3, 2.5)
        )

    ents = []
    for e in data.entities:
        rep = {f: tuple(draw(x) for x in getattr(e, f)) for f in OBJECTIVE_TUPLES if getattr(e, f)}
        rep.update({f: draw(getattr(e, f)) for f in OBJECTIVE_SCALARS})
        rep["measures"] = tuple(
            dataclasses.replace(m, cost_cny_per_t=tuple(draw(x) for x in m.cost_cny_per_t))
            for m in e.measures
        )
        ents.append(dataclasses.replace(e, **rep))
    g = data.group
    grep = {
        f: tuple(draw(x) for x in getattr(g, f)) for f in GROUP_OBJECTIVE_TUPLES if getattr(g, f)
    }
    grep.update({f: draw(getattr(g, f)) for f in GROUP_OBJECTIVE_SCALARS})
    return dataclasses.replace(data, entities=tuple(ents), group=dataclasses.replace(g, **grep))


@SETTINGS
@given(st.integers(0, len(BASES) - 1), st.integers(0, 2**32 - 1))
def test_objective_costs_equal_a_fresh_assembly_bit_for_bit(which, seed):
    base = BASES[which]
    a = assemble(base)
    variant = _reprice(base, random.Random(seed))
    assert structure_key(variant) == structure_key(base)  # an objective-only variant
    ref = assemble(variant)
    cost, offset = objective_costs(a, variant)
    # bit for bit (there are no NaN costs)
    assert cost.dtype == ref.cost.dtype and np.array_equal(cost, ref.cost)
    assert offset == ref.offset
    assert not np.array_equal(cost, a.cost)  # the prices did change the objective


# ---------------------------------------------------------------------------------- sweeps
def _group():
    """Unlimited banking with a limit on the group's purchases: price paths that rise faster than the
    discount rate reward arbitrage, bounded by the limit (without one such a case has no plan)."""
    return fleet_group(3, seed=11, binaries=False, value_of_pooling=False, last_year=2028, group_buy_limit_t=2.0e6)


def _variants(spec):
    """Price paths (objective only) mixed with variants that change the LP's bounds or allocation
    (in place: same pattern), one that drops the CCER pool (new structure), and an invalid one;
    last, a group budget (not array-assembled: its chunk takes the Pyomo solver)."""
    years = spec.group.horizon.years
    ids = [c.entity.id for c in spec.entities]
    paths = as_variants(
        spec,
        {
            "include_base": True,
            "price_paths": {
                "n": 14,
                "seed": 3,
                "volatility": 0.3,
                "fields": ["cea_buy_cny_per_t", "ccer_cny_per_t"],
            },
        },
    )
    more = [
        Variant("alloc", {f"entities.{ids[1]}.allocation.correction_factor": 0.9}),
        Variant("buylimit", {f"entities.{ids[0]}.market.{years[1]}.buy_limit_t": 2_000.0}),
        Variant("bad", {f"entities.{ids[2]}.market.{years[0]}.cea_buy_cny_per_t": -5.0}),
        Variant("limits", {"limits": [{"year": y, "buy_limit_t": 3.0e5} for y in years]}),
        Variant("nopool", {"ccer_pool": None}),
    ]
    budget = Variant(
        "budget",
        {
            "limits": [
                {"year": y, "buy_limit_t": 1.0e7, "budget_cny": 1.0e9 if y == years[0] else None}
                for y in years
            ]
        },
    )
    vs = paths[:4] + more[:2] + paths[4:7] + more[2:] + paths[7:]
    assert len(vs) == 20
    return vs + [budget]


def _chunks(spec, vs, size=5, warm_backend="arrays"):
    """The variants through ``solve_chunk`` (a worker's entry point) in chunks, in one fresh worker."""
    js = spec.model_dump_json()
    frames, infos = [], []
    for i in range(0, len(vs), size):
        f, info = solve_chunk(js, vs[i : i + size], SolveOptions(duals=True), True, "fast", "group", False, warm_backend)
        frames.append(f)
        pst = sweep_mod._WORKER["state"][2].stats
        info["pyomo_models"] = pst.new_structure + pst.in_place  # Pyomo models built so far
        infos.append(info)
    return pd.concat(frames, ignore_index=True), infos, sweep_mod._WORKER["state"]


def test_fast_group_sweep_through_arrays_equals_the_pyomo_path(monkeypatch):
    spec = _group()
    vs = _variants(spec)
    monkeypatch.setattr(sweep_mod, "_WORKER", {})
    ref, ref_infos, _ = _chunks(spec, vs, warm_backend="pyomo")
    monkeypatch.setattr(sweep_mod, "_WORKER", {})
    got, infos, state = _chunks(spec, vs)
    # the array solver planned every chunk but the budget's: no Pyomo model was built before it
    _key, _case, pyomo_ws, st_ = state
    aws = st_["arrays"]
    assert isinstance(aws.backend, ArrayBackend)
    assert [i["pyomo_models"] for i in infos[:-1]] == [0] * 4 and infos[-1]["pyomo_models"] == 1
    assert ref_infos[0]["pyomo_models"] >= 1  # the reference took the Pyomo path
    assert (
        aws.stats.objective_only > 5 and aws.stats.in_place >= 2 and aws.stats.new_structure >= 2
    ), aws.stats
    assert sum(i["verified"] for i in infos) >= 3
    heads = got.drop_duplicates("scenario").set_index("scenario")
    assert (
        heads.loc["bad", "status"] == "invalid" and "cea_buy_cny_per_t" in heads.loc["bad", "error"]
    )
    assert (
        set(heads["status"]) == {"optimal", "invalid"}
        and heads.loc["budget", "solver_path"] == "cold"
    )
    assert set(heads["solver_path"]) >= {"objective_only", "in_place", "new_structure", "cold"}
    cols = [c for c in got.columns if c != "solver_path"]
    pd.testing.assert_frame_equal(got[cols], ref[cols], check_exact=False, rtol=1e-9, atol=1e-6)


def test_array_fast_ledger_verified_once_per_worker_and_a_wrong_one_is_an_error(monkeypatch):
    """A price sweep of a group solves every variant on one array model: verified once per worker
    (not per chunk) against the full checked plan of the array path; a fast ledger that is off by a
    tonne turns every row it produced into an error."""
    spec = _group()
    sw = {
        "include_base": False,
        "price_paths": {"n": 12, "seed": 5, "volatility": 0.3, "fields": ["cea_buy_cny_per_t"]},
    }
    monkeypatch.setattr(sweep_mod, "_WORKER", {})
    res = sweep(spec, sw, tables="fast", chunk_size=3)
    assert res.stats["chunks"] == 4 and res.stats["verified_maps"] == 1
    assert set(res.scenarios["status"]) == {"optimal"}
    assert isinstance(sweep_mod._WORKER["state"][3]["arrays"].backend, ArrayBackend)

    real = ArrayBackend._fast_rows_many

    def off_by_one_tonne(self, model, preps, xs):
        rows = real(self, model, preps, xs)
        for ent, _link in rows:
            ent["buy_t"] = ent["buy_t"] + 1.0
        return rows

    monkeypatch.setattr(ArrayBackend, "_fast_rows_many", off_by_one_tonne)
    # a fresh worker: the model verified above is not kept
    monkeypatch.setattr(sweep_mod, "_WORKER", {})
    bad = sweep(spec, sw, tables="fast", chunk_size=3)
    assert set(bad.scenarios["status"]) == {"error"}, bad.scenarios
    assert bad.stats["verified_maps"] == 0
    assert all(
        "fast tables not verified" in e and "fast ledger differs" in e and "buy_t" in e
        for e in bad.scenarios["error"]
    )


@pytest.mark.parametrize("transfers", ["free", "none"])
def test_array_fast_ledger_equals_the_pyomo_map_for_the_same_solution(transfers):
    """For one solution vector, the array ledger equals the Pyomo report map's (the same LP: the
    columns are in the same order), entity rows and group rows."""
    from planner.solve.warm import WarmSolver

    spec = fleet_group(
        4, seed=3, binaries=False, value_of_pooling=False, last_year=2029, transfers=transfers
    )
    prep = prepare_group(spec)
    ws, aws = WarmSolver(), WarmSolver(backend="arrays")
    ws.prime(prep.data)
    aws.prime(prep.data)
    res = aws._run(duals=False)
    assert res.status == "optimal"
    ws._solution = aws._solution  # the same x through both ledgers
    ent, link = ws.fast_arrays(prep)
    ent2, link2 = aws.fast_arrays(prep)
    assert list(ent) == list(ent2) and list(link) == list(link2)
    for c in ent:
        if ent[c].dtype.kind == "f":
            np.testing.assert_allclose(ent2[c], ent[c], rtol=1e-9, atol=1e-6, err_msg=c)
        else:
            assert list(ent2[c]) == list(ent[c]), c
    for c in link:
        np.testing.assert_allclose(link2[c], link[c], rtol=1e-9, atol=1e-6, err_msg=c)


def test_array_fast_group_sweep_on_local_processes_matches_in_process():
    """Two local worker processes (each with its own array solver, verified once) write the same
    table as the sweep in this process."""
    spec = _group()
    sw = {
        "include_base": True,
        "price_paths": {
            "n": 7,
            "seed": 8,
            "volatility": 0.3,
            "fields": ["cea_buy_cny_per_t", "ccer_cny_per_t"],
        },
    }
    ref = sweep(spec, sw, workers=0, chunk_size=2, tables="fast")
    assert set(ref.scenarios["status"]) == {"optimal"} and len(ref.scenarios) == 8
    two = sweep(spec, sw, workers=2, chunk_size=2, tables="fast")
    assert os.getpid() not in two.stats["worker_pids"] and two.stats["verified_maps"] >= 1
    pd.testing.assert_frame_equal(two.frame, ref.frame)
