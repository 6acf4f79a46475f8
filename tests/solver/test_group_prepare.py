"""The group preparation (``planner.prepare.group.prepare_group``) against each entity prepared on
its own: the same model data, bit for bit, and the same report tables.

``prepare_group`` shares work between entities (one loaded rule pack per pack and overrides, the
carry-over rules, benchmarks, formulas and assumptions table worked out once per
distinct input, the cyclic garbage collector paused). The reference here switches all sharing off
(``prepare(..., share=False)``) and prepares every entity alone with a freshly loaded pack, then places
it in the group as the straightforward per-entity code does (market limits moved to the links,
pooled CCER fields). Model data are compared by ``repr`` (every float exactly, 0 and 0.0
told apart), report tables exactly, notes, warnings and rule-pack keys in order.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from planner.input.group_schema import GroupCaseSpec
from planner.input.read import load_case, load_group_case
from planner.input.rulepack import load_rule_pack
from planner.prepare.entity import CAPACITY_ASK, CCER_DEFAULT_WARNING, prepare
from planner.prepare.group import prepare_group
from planner.testing.fleet import fleet_group

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "cases").glob("*.yaml") if load_case(p).years == list(range(2025, 2033)))
"""The example entities planned over 2025-2032 (the back-test and the 2024-2030 industrial cases plan other years)."""


def _examples_group() -> GroupCaseSpec:
    """Every 2025-2032 example entity (power and industry, their own packs and overrides) in one group
    with a pool, free transfers, a group limit and price tiers."""
    years = range(2025, 2033)
    return GroupCaseSpec.model_validate(
        {
            "group": {
                "id": "EX",
                "horizon": {"first_year": 2025, "last_year": 2032},
                "finance": {"discount_rate": 0.06},
            },
            "entities": [load_case(p) for p in EXAMPLES],
            "transfers": {"mode": "free"},
            "ccer_pool": {
                "rows": [{"year": y, "ccer_cny_per_t": 80, "fee_cny_per_t": 0.3} for y in years]
            },
            "limits": [{"year": 2026, "buy_limit_t": 1e6, "sell_limit_t": 5e5}],
            "price_tiers": [{"up_to_t": 1e5, "premium_cny_per_t": 0}, {"premium_cny_per_t": 3}],
        }
    )


SPECS = {
    "lp-free-pool": lambda: fleet_group(40, 3, binaries=False, value_of_pooling=False),
    "mip-projects": lambda: fleet_group(30, 5, binaries=True, projects=True),
    "mip-alone": lambda: fleet_group(20, 7, transfers="none", pool=False, binaries=True),
    "block-2029": lambda: fleet_group(10, 9, transfers="block", last_year=2029),
    "group-example": lambda: load_group_case(ROOT / "cases" / "group_hn_generation" / "group.yaml"),
    "entity-examples": _examples_group,
    "backtest": lambda: GroupCaseSpec.model_validate(
        {
            "group": {
                "id": "BT",
                "horizon": {"first_year": 2021, "last_year": 2024},
                "finance": {"discount_rate": 0.0},
            },
            "entities": [load_case(ROOT / "cases" / "backtest_coal_2021_2024.yaml")],
            "transfers": {"mode": "none"},
        }
    ),
}


def _reference_entities(spec: GroupCaseSpec, data):
    """Each entity prepared alone, nothing shared, then placed in the group per entity."""
    alone_preps = [
        prepare(c, load_rule_pack(c.policy.rule_pack, c.policy.overrides), share=False) for c in spec.entities
    ]
    years = spec.group.horizon.years
    n = len(years)
    alone = tuple(p.data.entities[0] for p in alone_preps)
    group = []
    mode = spec.transfers.mode
    for e in alone:
        g = e
        if mode != "none":  # the market limits move to the links; transfers have no bound
            g = replace(g, buy_max_t=(math.inf,) * n, sell_max_t=(math.inf,) * n)
        if spec.ccer_pool is not None:
            g = replace(
                g,
                price_ccer_buy_cny_per_t=(0.0,) * n,
                fee_ccer_cny_per_t=(0.0,) * n,
                ccer_buy_max_t=(math.inf,) * n,
                ccer_sell_max_t=(0.0,) * n,
                price_ccer_sell_cny_per_t=(0.0,) * n,
            )
        group.append(g)
    links = replace(
        data.group,
        market_buy_max_t=tuple(e.buy_max_t for e in alone),
        market_sell_max_t=tuple(e.sell_max_t for e in alone),
        block_one_way=mode == "block" and spec.transfers.one_way_per_year,
    )
    if spec.transfers.price_cny_per_t is None:
        links = replace(
            links,
            transfer_price_cny_per_t=tuple(
                sum(e.price_buy_cny_per_t[i] for e in alone) / len(alone) for i in range(n)
            ),
        )
    return alone_preps, alone, replace(data, entities=tuple(group), group=links)


@pytest.mark.parametrize("name", list(SPECS))
def test_group_preparation_equals_each_entity_prepared_alone(name):
    spec = SPECS[name]()
    prep = prepare_group(spec)
    alone_preps, alone, data = _reference_entities(spec, prep.data)
    assert repr(prep.data) == repr(data)
    assert repr(prep.standalone.entities) == repr(alone)
    assert (
        prep.standalone.years == prep.data.years
        and prep.standalone.discount_factor == prep.data.discount_factor
    )
    assert len(prep.entities) == len(alone_preps)
    for p, ref in zip(prep.entities, alone_preps, strict=True):
        assert p.case is not None and p.case.entity.id == ref.case.entity.id
        assert repr(p.data) == repr(ref.data)
        pd.testing.assert_frame_equal(p.inputs, ref.inputs, check_exact=True)
        pd.testing.assert_frame_equal(p.allocation_detail, ref.allocation_detail, check_exact=True)
        pd.testing.assert_frame_equal(p.assumptions, ref.assumptions, check_exact=True)
        assert (p.notes, p.warnings, p.used_params) == (ref.notes, ref.warnings, ref.used_params)
        assert (p.pack.ref, p.pack.overrides) == (ref.pack.ref, ref.pack.overrides)
    # every entity warning reaches the group's, named by its entity; the same request for unit
    # capacities once for all the entities it concerns (the first five named); with a CCER pool an
    # entity's own default CCER availability gives way to the pool's (no warning)
    pooled = spec.ccer_pool is not None
    for p in prep.entities:
        for w in p.warnings:
            if w.startswith(CAPACITY_ASK):
                ids = [q.case.entity.id for q in prep.entities if w in q.warnings]
                head = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
                assert [g for g in prep.warnings if g.endswith(f": {w}")] == [f"{head}: {w}"]
            elif pooled and w.startswith(CCER_DEFAULT_WARNING):
                assert f"{p.case.entity.id}: {w}" not in prep.warnings
            else:
                assert f"{p.case.entity.id}: {w}" in prep.warnings


def test_shared_work_is_keyed_by_what_it_depends_on():
    """Two packs in one process (the default banking rule and the 'unlimited' override): the carry-over
    rules and rule-pack keys shared within one pack never leak into the other."""
    lp, mip = fleet_group(3, 1, binaries=False), fleet_group(3, 1, binaries=True)
    a, b = prepare_group(lp), prepare_group(mip)
    assert {r.limited for e in a.data.entities for r in e.carry_rules[1:]} == {False}
    assert {r.limited for e in b.data.entities for r in e.carry_rules} == {True}
    assert "carryover.post_legacy.multiplier" not in a.entities[0].used_params
    # both read the legacy rule (for the opening holdings' 2024 transition), for different years
    ya, yb = (p.entities[0].assumptions.set_index("parameter")["applied_beyond_published"] for p in (a, b))
    assert ya["carryover.legacy.base_t.power"] == "" and yb["carryover.legacy.base_t.power"] != ""
    for spec, prep in ((lp, a), (mip, b)):
        assert repr(prep.entities[0].data) == repr(prepare(spec.entities[0]).data)


def test_a_group_run_reaches_the_solver_without_pandas_or_pyomo(tmp_path):
    """`planner run` of a group on the array path imports neither pandas (with pyarrow, ~80 MB) nor
    Pyomo (~26 MB) before HiGHS runs, so neither sits under the solver's memory peak (bench/RESULTS.md,
    "Memory"). A fresh interpreter stops at the first ``Highs.run`` and reports what is loaded."""
    code = (
        "import os, sys, highspy\n"
        "def run(self, *a, **k):\n"
        "    print(sorted(m for m in ('pandas', 'pyarrow', 'pyomo') if m in sys.modules), flush=True)\n"
        "    os._exit(0)\n"
        "highspy.Highs.run = run\n"
        "from planner.cli import main\n"
        f"main(['run', {str(ROOT / 'cases' / 'group_hn_generation' / 'group.yaml')!r}, '--out', {str(tmp_path / 'plan')!r}])\n"
        "print('no solve', flush=True)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert out.stdout.strip() == "[]", (out.stdout, out.stderr[-2000:])
