"""Every rule carries the years it was published for; a plan that applies a rule beyond them says so.

The rule pack states, per parameter, the compliance years (vintages) its source text covers
(``published``). ``prepare`` records the years each value is applied to; the assumptions table marks a
value applied outside its published years (``applied_beyond_published``) and lists it among the
assumptions to verify (``uncertain``), whatever the source's own confidence mark.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from planner.input.read import load_case, parse_case
from planner.input.rulepack import RulePack, load_rule_pack
from planner.prepare.entity import prepare

ROOT = Path(__file__).resolve().parents[2]
PACK_FILE = ROOT / "planner" / "rulepacks" / "cn-national@2026.11.yaml"


def _power_case(first: int, last: int, **extra) -> dict:
    """A coal entity allocated by the official formula of each year (benchmarks from the pack)."""
    ys = range(first, last + 1)
    d = {
        "entity": {"id": "P", "sector": "power", "unit_class": "coal_gt300", "cooling": "water"},
        "horizon": {"first_year": first, "last_year": last},
        "activity": [
            {"year": y, "output": 1_000_000, "supply_mwh": 950_000, "heat_gj": 0, "emissions_t": 850_000} for y in ys
        ],
        "allocation": {"method": "benchmark"},
        "market": [{"year": y, "cea_buy_cny_per_t": 80, "ccer_cny_per_t": 70, "ccer_available_t": 10_000} for y in ys],
        "finance": {"discount_rate": 0.05, "terminal_value": "zero"},
    }
    d.update(extra)
    return d


def _industry_case(first: int, last: int) -> dict:
    ys = range(first, last + 1)
    return {
        "entity": {"id": "C", "sector": "industry", "unit_class": "cement_clinker"},
        "horizon": {"first_year": first, "last_year": last},
        "activity": [{"year": y, "output": 1_000_000, "intensity_t_per_unit": 0.86} for y in ys],
        "allocation": {"method": "benchmark", "benchmarks": [{"year": 2025, "output_t_per_unit": 0.85}]},
        "market": [{"year": y, "cea_buy_cny_per_t": 80, "ccer_cny_per_t": 70, "ccer_available_t": 10_000} for y in ys],
        "finance": {"discount_rate": 0.05, "terminal_value": "zero"},
    }


def _beyond(prep) -> dict[str, str]:
    a = prep.assumptions
    return {r.parameter: r.applied_beyond_published for r in a.itertuples() if r.applied_beyond_published}


def test_every_parameter_states_its_published_years():
    raw = yaml.safe_load(PACK_FILE.read_text(encoding="utf-8"))["parameters"]
    missing = [k for k, p in raw.items() if "published" not in p]
    assert missing == []
    pack = load_rule_pack("cn-national")
    for key, p in pack.params.items():
        if p.published != "none":
            first, last = p.published
            assert 2013 <= first <= 2100 and (last is None or first <= last <= 2100), key


def test_a_plan_inside_the_published_years_extrapolates_nothing():
    """2023-2024 under the 2023-2024 power plan: benchmarks, relief and the legacy carry-over limit
    (at the 2024 transition) are all applied inside the years they were published for. Only the
    reading that net sales are floored at zero is stated by no text (rules.md R2.2 open item (b))."""
    prep = prepare(parse_case(_power_case(2023, 2024)))
    assert _beyond(prep) == {"carryover.net_sales_floor_at_zero": "2024"}
    used = set(prep.assumptions["parameter"])
    assert {"benchmarks.power.electricity_t_per_mwh", "relief.coal_shortfall_cap_share.generation_2023_2024",
            "relief.mechanism.generation_2023_2024", "carryover.legacy.base_t.power"} <= used


def test_a_plan_beyond_2024_marks_each_extrapolated_rule_with_its_years():
    """2024-2027: the 2024 values are published; 2025-2027 extend the 2023-2024 benchmarks (tightened),
    the coal 20% cap and the carry-over formula ('same' at every later transition)."""
    prep = prepare(parse_case(_power_case(2024, 2027)))
    beyond = _beyond(prep)
    for key in ("benchmarks.power.electricity_t_per_mwh", "allocation.power.cycles",
                "relief.coal_shortfall_cap_share.generation_2023_2024", "relief.mechanism.generation_2023_2024"):
        assert beyond[key] == "2025-2027", key
    # the legacy limit at the 2024 transition is published; the same formula at 2025-2027 is not
    assert beyond["carryover.legacy.base_t.power"] == "2025-2027"
    assert beyond["carryover.post_legacy.mode"] == "2025-2027"
    a = prep.assumptions.set_index("parameter")
    assert a.loc["carryover.legacy.base_t.power", "confidence"] == "S"  # the source's own mark stays
    assert bool(a.loc["carryover.legacy.base_t.power", "uncertain"])


def test_unlimited_banking_after_2024_leaves_the_published_legacy_limit_unmarked():
    d = _power_case(2024, 2026, policy={"overrides": {"carryover.post_legacy.mode": "unlimited"}})
    beyond = _beyond(prepare(parse_case(d)))
    assert "carryover.legacy.base_t.power" not in beyond
    assert _years(beyond["carryover.post_legacy.mode"]) == {2025, 2026}


def test_absolute_cap_is_a_scenario_and_marked_only_when_enabled():
    off = _beyond(prepare(parse_case(_power_case(2026, 2028))))
    assert not any(k.startswith("absolute_cap.") for k in off)
    d = _power_case(2026, 2028, policy={"overrides": {"absolute_cap.enabled": True, "absolute_cap.start_year": 2027}})
    on = _beyond(prepare(parse_case(d)))
    assert _years(on["absolute_cap.enabled"]) == {2027, 2028}
    assert _years(on["absolute_cap.decline_per_year"]) == {2027, 2028}


def test_industrial_intensity_allocation_is_published_for_2025_2026_only():
    beyond = _beyond(prepare(parse_case(_industry_case(2025, 2028))))
    assert _years(beyond["benchmarks.industry.tightening_per_year"]) == {2027, 2028}


def _probe(pack: RulePack, key: str) -> RulePack:
    """The pack with ``key`` published for no year."""
    p = pack.params[key].model_copy(update={"published": "none"})
    return RulePack(pack.id, pack.version, pack.title, {**pack.params, key: p}, pack.overrides)


CASES = [
    ("power 2023-2024", _power_case(2023, 2024)),
    ("power 2019-2022", _power_case(2019, 2022)),
    ("power 2025-2030", _power_case(2025, 2030)),
    ("industry 2024-2027", _industry_case(2024, 2027)),
    ("cap 2026-2029", _power_case(2026, 2029, policy={"overrides": {"absolute_cap.enabled": True}})),
]


@pytest.mark.parametrize(("name", "case"), CASES, ids=[c[0] for c in CASES])
def test_a_rule_applied_outside_its_published_years_is_never_unmarked(name, case):
    """For each parameter a plan applies to some year: published for no year, it must be marked
    applied beyond its published years (to exactly the years it was applied to) and be uncertain."""
    spec = parse_case(copy.deepcopy(case))
    pack = load_rule_pack(spec.policy.rule_pack, spec.policy.overrides)
    base = prepare(spec, pack).assumptions.set_index("parameter")
    horizon = set(spec.years) | {spec.years[0] - 1}
    for key in base.index:
        probed = prepare(spec, _probe(pack, key)).assumptions.set_index("parameter")
        row = probed.loc[key]
        if row["applied_beyond_published"]:
            assert bool(row["uncertain"]), key
            years = _years(row["applied_beyond_published"])
            assert years <= horizon, (key, years)  # applied only to years the plan covers
            if base.loc[key, "applied_beyond_published"]:
                assert _years(base.loc[key, "applied_beyond_published"]) <= years, key
        else:
            # applied to no particular year (a switch that did not apply, a list of years, a date table)
            assert not base.loc[key, "applied_beyond_published"], key


def _years(text: str) -> set[int]:
    out: set[int] = set()
    for part in str(text).split(", "):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def test_example_cases_list_their_extrapolated_rules_as_assumptions_to_verify():
    from planner.report.text import assumption_lines

    prep = prepare(load_case(ROOT / "cases" / "coal_2x660.yaml"))
    lines = "\n".join(assumption_lines(prep.assumptions))
    assert "applied beyond the years their source was published for" in lines
    assert "relief.coal_shortfall_cap_share.generation_2023_2024 (published for 2023-2024; applied to 2025-2032)" in lines
    assert "benchmarks.power.tightening_per_year (no published text; applied to" in lines
