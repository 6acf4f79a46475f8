"""Allocation to the letter of each cycle's plan (issue 24): relief as the plans word it and the source
of every parameter by cycle.

Each test works a small case by hand from the official formula of its plan; the numbers in the
docstrings are the arithmetic the assertions check (rules.md §3, §14).
"""

from __future__ import annotations

import pytest

from planner.input.read import parse_case
from planner.input.rulepack import load_rule_pack, reference_markdown
from planner.prepare.entity import prepare

pytestmark = pytest.mark.unit


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-6)


def _coal(year=2019, unit_class="coal_gt300", supply=1_417_500, emissions=1_300_000, **entity):
    """One water-cooled condensing coal unit at full load (every correction factor 1)."""
    ent = {"id": "C", "sector": "power", "unit_class": unit_class, **entity}
    return {
        "entity": ent,
        "horizon": {"first_year": year, "last_year": year},
        "activity": [{"year": year, "output": supply * 1.06, "supply_mwh": supply, "load_rate": 0.9, "emissions_t": emissions}],
        "market": [{"year": year, "cea_buy_cny_per_t": 50, "ccer_cny_per_t": 30}],
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
    }


# ---- 2. relief as the plans word it ---------------------------------------------------------------


def _short_coal(year, **over):
    """3,000,000 MWh supplied at full load, coal_gt300 (660 MW), 3,500,000 t emitted. 2019: allocation
    3,000,000 x 0.877 = 2,631,000; gap 869,000 = 24.8% > 20%: relief 0.8 x 3,500,000 - 2,631,000 = 169,000."""
    d = _coal(year=year, supply=3_000_000, emissions=3_500_000)
    d.setdefault("policy", {})["overrides"] = over
    return d


@pytest.mark.parametrize(("year", "mechanism"), [(2019, "obligation_cap"), (2020, "obligation_cap"), (2021, "obligation_cap"),
                                                 (2022, "obligation_cap"), (2023, "extra_allocation"), (2024, "extra_allocation"),
                                                 (2026, "extra_allocation")])
def test_relief_mechanism_follows_the_plan_of_the_year(year, mechanism):
    """2019-2020: 'the obligation is at most the free allocation + 20% of verified emissions' [P];
    2021-2022: the exemption continued [S]; 2023-2024: extra allowances [EDF], continued after 2024."""
    prep = prepare(parse_case(_short_coal(year)))
    e = prep.data.entities[0]
    assert e.relief_share == (approx(0.8),)
    assert e.relief_to_allocation == (mechanism == "extra_allocation",)
    cycle = {2019: "supply_2019_2020", 2020: "supply_2019_2020", 2021: "supply_2021_2022", 2022: "supply_2021_2022"}.get(year, "generation_2023_2024")
    a = prep.assumptions.set_index("parameter")
    assert a.loc[f"relief.mechanism.{cycle}", "value"] == mechanism
    assert a.loc[f"relief.mechanism.{cycle}", "confidence"] == {"supply_2019_2020": "P", "supply_2021_2022": "S"}.get(cycle, "EDF")
    assert [k for k in a.index if k.startswith("relief.mechanism.")] == [f"relief.mechanism.{cycle}"]


def test_gas_relief_2019_caps_the_obligation_at_the_free_allocation():
    """Gas 2019: 1,000,000 MWh x 0.392 = 392,000 t; emissions 420,000: the obligation is the free
    allocation 392,000 (relief 28,000 off the obligation, no allowances issued)."""
    d = _coal(unit_class="gas", supply=1_000_000, emissions=420_000)
    e = prepare(parse_case(d)).data.entities[0]
    assert e.allocation_t == (approx(392_000.0),)
    assert (e.relief_share, e.relief_to_allocation) == ((1.0,), (False,))


# ---- 4. sources by cycle ---------------------------------------------------------------------------


CHECKED_2019_2020 = {
    # rules.md §14: the 2019-2020 annex text checked against the official PDF
    "benchmarks.power.supply_2019_2020.electricity_t_per_mwh", "benchmarks.power.supply_2019_2020.heat_t_per_gj",
    "benchmarks.power.air_cooling_factor.supply_2019_2020", "allocation.power.heat_ratio_factor.supply_2019_2020",
    "allocation.power.load_factor.supply_2019_2020", "allocation.power.load_factor.applies_to.supply_2019_2020",
    "relief.mechanism.supply_2019_2020",
    "relief.coal_shortfall_cap_share.supply_2019_2020", "relief.gas_topup.supply_2019_2020",
}


def test_parameters_checked_against_the_2019_2020_text_are_primary_and_published_for_it():
    pack = load_rule_pack("cn-national")
    for key in CHECKED_2019_2020:
        p = pack.params[key]
        assert (p.confidence, p.published) == ("P", (2019, 2020)), key
    assert pack["benchmarks.power.supply_2019_2020.electricity_t_per_mwh"] == {
        "coal_gt300": {2019: 0.877, 2020: 0.877}, "coal_le300": {2019: 0.979, 2020: 0.979},
        "coal_unconventional": {2019: 1.146, 2020: 1.146}, "gas": {2019: 0.392, 2020: 0.392}}
    # what the later texts did not confirm keeps its own mark, per cycle
    assert pack.params["benchmarks.power.air_cooling_factor.generation_2023_2024"].confidence == "R"


def test_every_per_cycle_parameter_exists_for_each_plan_it_is_read_for():
    pack = load_rule_pack("cn-national")
    for base in ("relief.mechanism", "relief.coal_shortfall_cap_share", "relief.gas_topup",
                 "benchmarks.power.air_cooling_factor"):
        for cycle in ("supply_2019_2020", "supply_2021_2022", "generation_2023_2024"):
            p = pack.params[f"{base}.{cycle}"]
            first = int(cycle[-9:-5])
            assert p.published == "none" or p.published[0] == first, (base, cycle)


def test_the_reference_shows_sources_by_cycle_with_the_searches_tried():
    text = reference_markdown(load_rule_pack("cn-national"))
    sources = text[text.index("## Sources by cycle"):]
    for cycle in ("supply_2019_2020", "supply_2021_2022", "generation_2023_2024", "2025-2026"):
        assert f"### `{cycle}`" in sources
    assert "| corpus | query | result |" in sources and "no power allocation plan for 2025 or 2026 found" in sources
    row = next(line for line in text.splitlines() if line.startswith("| `relief.mechanism.supply_2019_2020` |"))
    assert "| obligation_cap (one of: extra_allocation, obligation_cap) |" in row and "| 2019-2020 | P |" in row

