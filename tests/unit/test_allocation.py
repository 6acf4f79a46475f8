"""Official allocation formulas against arithmetic written out by hand, every class and cycle.

Each test states the formula and the numbers. Benchmarks are the rule pack's (rules.md R3.2, R3.7,
R3.10); factors from R3.3, R3.11, R3.12. Through ``prepare`` the same numbers must reach the model.
"""

import copy

import pytest

from planner.input.read import parse_case
from planner.input.rulepack import load_rule_pack
from planner.prepare.allocation import (
    UnitYear,
    absolute_cap,
    allocation_schedule,
    cooling_factor,
    heat_ratio_factor,
    load_factor_2019,
    load_rate_factor_2023,
    power_generation,
    power_supply,
    tightened,
)
from planner.prepare.entity import prepare

pytestmark = pytest.mark.unit
PACK = load_rule_pack("cn-national")
LOAD19 = PACK["allocation.power.load_factor.supply_2019_2020"]
HEAT = PACK["allocation.power.heat_ratio_factor.supply_2019_2020"]


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-9)


# ---- correction factors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("load", "want"),
    [
        (0.90, 1.0),  # >= 85%: no correction
        (0.85, 1.0),
        (0.83, 1.0028),  # 1 + 0.0014 x (85 - 83)
        (0.80, 1.007),  # 1 + 0.0014 x 5 = 1.007 (joint with the next segment)
        (0.78, 1.0102),  # 1.007 + 0.0016 x (80 - 78)
        (0.75, 1.015),  # 1.007 + 0.0016 x 5 = 1.015 = 1.015^(16 - 15)
        (0.70, 1.030225),  # 1.015^(16 - 14) = 1.015^2
    ],
)
def test_load_factor_2019_piecewise(load, want):
    assert load_factor_2019(load, LOAD19) == approx(want)


@pytest.mark.parametrize(("load", "want"), [(0.70, 1.0), (0.65, 1.0), (0.60, 1.007), (0.50, 1.021)])
def test_load_rate_factor_2023(load, want):
    """Default: 1 at >= 65%, else 1 + 0.0014 x (65 - 100 x load): 60% -> 1.007, 50% -> 1.021."""
    assert load_rate_factor_2023(load, 0.65, 0.0014) == approx(want)


def test_cooling_and_heat_ratio_factors():
    assert cooling_factor("coal_gt300", "air", 1.05) == 1.05
    assert cooling_factor("coal_unconventional", "air", 1.05) == 1.05
    assert cooling_factor("gas", "air", 1.05) == 1.0  # gas units: no cooling correction
    assert cooling_factor("coal_le300", "water", 1.05) == 1.0
    assert heat_ratio_factor("coal_le300", 0.3, HEAT) == approx(0.934)  # 1 - 0.22 x 0.3
    assert heat_ratio_factor("gas", 0.2, HEAT) == approx(0.88)  # 1 - 0.6 x 0.2


# ---- power, 2019-2020 (supply basis) ---------------------------------------------------------


def _supply(u, formula, b_e, b_h):
    return power_supply(
        u, formula, b_e, b_h, air_factor=1.05, heat_coef=HEAT, load_coef=LOAD19,
        load_scope=PACK[f"allocation.power.load_factor.applies_to.{formula}"],
    )


def test_2019_coal_gt300_condensing_air_cooled_low_load():
    """3,000,000 MWh supplied x 0.877 = 2,631,000; x F_cool 1.05 = 2,762,550; x F_heat 1;
    x F_load(83%) 1.0028 = 2,770,285.14 t."""
    u = UnitYear("coal_gt300", "air", True, 3_200_000, 3_000_000, 0.0, 0.83, 0.0)
    a = _supply(u, "supply_2019_2020", 0.877, 0.126)
    assert (a.f_cool, a.f_heat, a.f_load) == (1.05, 1.0, approx(1.0028))
    assert a.total_t == approx(2_770_285.14)


def test_2019_coal_le300_chp_no_load_factor():
    """CHP (not condensing): the 2019-2020 load factor does not apply even at 70% load.
    2,000,000 x 0.979 x (1 - 0.22 x 0.3) = 1,828,772; heat 1,000,000 GJ x 0.126 = 126,000;
    total 1,954,772 t."""
    u = UnitYear("coal_le300", "water", False, 2_100_000, 2_000_000, 1_000_000, 0.70, 0.3)
    a = _supply(u, "supply_2019_2020", 0.979, 0.126)
    assert a.f_load == 1.0
    assert a.electricity_t == approx(1_828_772.0)
    assert a.heat_t == approx(126_000.0)
    assert a.total_t == approx(1_954_772.0)


def test_2020_gas_and_unconventional():
    """Gas: 1,500,000 x 0.392 x (1 - 0.6 x 0.2) = 517,440; heat 200,000 x 0.059 = 11,800 -> 529,240.
    Air cooling does not raise gas. Unconventional coal at 60% load: the load factor is for
    conventional coal only: 1,000,000 x 1.146 = 1,146,000."""
    gas = _supply(UnitYear("gas", "air", False, 0, 1_500_000, 200_000, 0.5, 0.2), "supply_2019_2020", 0.392, 0.059)
    assert gas.total_t == approx(529_240.0)
    unc = _supply(UnitYear("coal_unconventional", "water", True, 0, 1_000_000, 0, 0.6, 0), "supply_2019_2020", 1.146, 0.126)
    assert unc.total_t == approx(1_146_000.0)


def test_supply_formula_needs_supply():
    with pytest.raises(ValueError, match="supply_mwh"):
        _supply(UnitYear("coal_gt300", generation_mwh=1.0), "supply_2019_2020", 0.877, 0.126)


# ---- power, 2021-2022 --------------------------------------------------------------------------


def test_2021_load_factor_extends_to_chp():
    """2021-2022: the load factor applies to all conventional coal units, CHP included.
    2,500,000 x 0.8218 x 1 x (1 - 0.22 x 0) x F_load(82%) = 1 + 0.0014 x 3 = 1.0042 -> 2,063,128.9 t."""
    u = UnitYear("coal_gt300", "water", False, 0, 2_500_000, 0.0, 0.82, 0.0)
    a = _supply(u, "supply_2021_2022", 0.8218, 0.1111)
    assert a.f_load == approx(1.0042)
    assert a.total_t == approx(2_063_128.9)


# ---- power, 2023-2024 and later ----------------------------------------------------------------


def _gen(u, b_e, b_h):
    return power_generation(u, b_e, b_h, air_factor=1.05, load_threshold=0.65, load_slope=0.0014, load_scope="coal")


def test_2023_coal_gt300_air_cooled_at_60_percent_load():
    """4,000,000 MWh generated x 0.7950 x 1.05 x (1 + 0.0014 x 5) = 3,362,373 t; no heat-ratio factor."""
    a = _gen(UnitYear("coal_gt300", "air", True, 4_000_000, None, 0.0, 0.60, 0.9), 0.7950, 0.1038)
    assert a.f_heat == 1.0
    assert a.total_t == approx(3_362_373.0)


def test_2024_coal_le300_with_heat_and_gas():
    """1,000,000 x 0.8049 + 500,000 GJ x 0.1033 = 856,550 t. Gas at 50% load: no correction by
    default (scope 'coal'): 1,000,000 x 0.3288 = 328,800 t."""
    assert _gen(UnitYear("coal_le300", "water", False, 1_000_000, None, 500_000, 0.70, 0), 0.8049, 0.1033).total_t == approx(856_550.0)
    assert _gen(UnitYear("gas", "water", True, 1_000_000, None, 0, 0.5, 0), 0.3288, 0.0533).total_t == approx(328_800.0)


def test_2026_benchmark_tightened_from_2024():
    """0.7910 x (1 - 0.005)^2 = 0.783109775; 3,000,000 MWh -> 2,349,329.325 t."""
    table = PACK["benchmarks.power.electricity_t_per_mwh"]["coal_gt300"]
    b, how = tightened({int(k): v for k, v in table.items()}, 2026, 0.005)
    assert b == approx(0.783109775) and "2024" in how
    assert tightened({2023: 1.0}, 2022, 0.005) is None


# ---- through prepare: units, cycles and industry -----------------------------------------------


def _case(**kw):
    base = {
        "entity": {"id": "E", "sector": "power"},
        "horizon": {"first_year": 2021, "last_year": 2024},
        "units": [
            {
                "id": "U1",
                "unit_class": "coal_gt300",
                "cooling": "air",
                "activity": [
                    {"year": y, "output": 3_200_000, "supply_mwh": 3_000_000, "emissions_t": 2_700_000, "load_rate": 0.82}
                    for y in range(2021, 2025)
                ],
            },
            {
                "id": "G1",
                "unit_class": "gas",
                "activity": [{"year": y, "output": 1_000_000, "supply_mwh": 980_000, "emissions_t": 340_000} for y in range(2021, 2025)],
            },
        ],
        "market": [{"year": y, "cea_buy_cny_per_t": 60, "ccer_cny_per_t": 50} for y in range(2021, 2025)],
    }
    base.update(kw)
    return base


def test_prepare_uses_each_cycle_formula_per_unit():
    """U1 2021: 3,000,000 x 0.8218 x 1.05 x 1.0042 = 2,599,542.414; 2022: 3,000,000 x 0.8177 = 2,453,100 x 1.05 = 2,575,755 x 1.0042 = 2,586,573.171.
    U1 2023: 3,200,000 x 0.7950 x 1.05 x 1 (82% >= 65%) = 2,671,200; 2024: 0.7910 -> 2,657,760.
    G1 2021: 980,000 x 0.3920 = 384,160; 2023: 1,000,000 x 0.3305 = 330,500 (gas top-up to 340,000 is
    relief, not allocation)."""
    prep = prepare(parse_case(_case()))
    det = prep.allocation_detail.set_index(["unit", "year"])
    assert det.loc[("U1", 2021), "formula"] == "supply_2021_2022"
    assert det.loc[("U1", 2023), "formula"] == "generation_2023_2024"
    assert det.loc[("U1", 2021), "allocation_t"] == approx(2_599_542.414)
    assert det.loc[("U1", 2022), "allocation_t"] == approx(2_586_573.171)
    assert det.loc[("U1", 2023), "allocation_t"] == approx(2_671_200.0)
    assert det.loc[("U1", 2024), "allocation_t"] == approx(2_657_760.0)
    assert det.loc[("G1", 2021), "allocation_t"] == approx(384_160.0)
    assert det.loc[("G1", 2023), "allocation_t"] == approx(330_500.0)
    ent = prep.data.entities[0]
    # mixed entity: the coal floor applies to the total, the gas unit's top-up is fixed
    assert ent.relief_share == (0.8,) * 4
    assert ent.allocation_t[2] == approx(2_671_200.0 + 340_000.0)
    assert ent.emissions_baseline_t[0] == 3_040_000


def test_prepare_reports_missing_supply_with_its_path():
    case = _case()
    del case["units"][1]["activity"][0]["supply_mwh"]
    with pytest.raises(Exception, match=r"units\[1\]\.activity\.2021\.supply_mwh"):
        prepare(parse_case(case))


def test_forced_formula_and_case_benchmarks():
    """formula: generation_2023_2024 in every year; 2021-2022 need case benchmarks (the pack's start
    in 2023). Class row beats the general row: U1 2021: 3,200,000 x 0.80 x 1.05 = 2,688,000;
    G1 2021 (general row 0.33): 1,000,000 x 0.33 = 330,000."""
    rows = [
        {"year": 2021, "unit_class": "coal_gt300", "output_t_per_unit": 0.80},
        {"year": 2021, "output_t_per_unit": 0.33},
        {"year": 2022, "output_t_per_unit": 0.79},
    ]
    case = _case(allocation={"formula": "generation_2023_2024", "benchmarks": rows})
    prep = prepare(parse_case(case))
    det = prep.allocation_detail.set_index(["unit", "year"])
    assert det.loc[("U1", 2021), "allocation_t"] == approx(2_688_000.0)
    assert det.loc[("G1", 2021), "allocation_t"] == approx(330_000.0)
    # without case rows 2021 lies before the published generation table -> error naming it
    case["allocation"]["benchmarks"] = []
    with pytest.raises(Exception, match="no generation_2023_2024 benchmark for coal_gt300 in 2021"):
        prepare(parse_case(case))


def _industry(**alloc):
    return {
        "entity": {"id": "C", "sector": "industry", "unit_class": "cement_clinker"},
        "horizon": {"first_year": 2024, "last_year": 2027},
        "activity": [{"year": y, "output": 1_000_000, "emissions_t": 860_000} for y in range(2024, 2028)],
        "allocation": {"benchmarks": [{"year": 2025, "output_t_per_unit": 0.85}], **alloc},
        "market": [{"year": y, "cea_buy_cny_per_t": 60, "ccer_cny_per_t": 50} for y in range(2024, 2028)],
    }


def test_industry_verified_year_then_intensity_tightened():
    """2024: allocation = verified emissions (relief share 1 on a zero fixed part, exact in the model).
    2025: 1,000,000 t x 0.85 = 850,000. With g = 1%/yr: 2027: 0.85 x 0.99^2 = 0.833085 -> 833,085."""
    case = _industry()
    case["policy"] = {"overrides": {"benchmarks.industry.tightening_per_year": 0.01}}
    prep = prepare(parse_case(case))
    ent = prep.data.entities[0]
    assert ent.allocation_t[0] == 0.0 and ent.relief_share[0] == 1.0 and ent.relief_to_allocation[0]
    assert ent.allocation_t[1] == approx(850_000.0)
    assert ent.allocation_t[3] == approx(833_085.0)
    assert ent.relief_share[1:] == (0.0, 0.0, 0.0)
    assert list(prep.inputs["allocation_regime"]) == ["verified_emissions", "formula", "formula", "formula"]


@pytest.mark.parametrize(
    ("unit_class", "output", "emissions", "reference", "want_2025", "want_2026"),
    [
        # steel BF-BOF: 4.0 Mt crude steel x 1.90 t/t = 7,600,000; 2026: 1.90 x 0.98 = 1.862 -> 7,448,000
        ("steel_bf_bof", 4_000_000, 7_700_000, 1.90, 7_600_000.0, 7_448_000.0),
        # aluminium electrolysis (direct emissions only): 500,000 t x 1.55 = 775,000; 2026: 759,500
        ("aluminium_electrolysis", 500_000, 800_000, 1.55, 775_000.0, 759_500.0),
        # cement clinker: 3.1 Mt x 0.87 = 2,697,000; 2026: 0.87 x 0.98 = 0.8526 -> 2,643,060
        ("cement_clinker", 3_100_000, 2_720_000, 0.87, 2_697_000.0, 2_643_060.0),
    ],
)
def test_industry_classes_two_lines_verified_then_intensity(unit_class, output, emissions, reference, want_2025, want_2026):
    """Each industrial class as two identical process lines (half the output each): 2024 = verified
    emissions (relief share 1 on a zero formula part), 2025 = output x reference, 2026 tightened 2%
    (override). Per line the numbers are half; the entity sums them."""
    line = lambda i: {  # noqa: E731
        "id": f"L{i}", "unit_class": unit_class,
        "activity": [{"year": y, "output": output / 2, "emissions_t": emissions / 2} for y in (2024, 2025, 2026)],
    }
    case = {
        "entity": {"id": "I", "sector": "industry"},
        "horizon": {"first_year": 2024, "last_year": 2026},
        "units": [line(1), line(2)],
        "allocation": {"benchmarks": [{"year": 2025, "output_t_per_unit": reference, "unit_class": unit_class}]},
        "market": [{"year": y, "cea_buy_cny_per_t": 60, "ccer_cny_per_t": 50} for y in (2024, 2025, 2026)],
        "policy": {"overrides": {"benchmarks.industry.tightening_per_year": 0.02}},
    }
    prep = prepare(parse_case(case))
    ent = prep.data.entities[0]
    assert ent.allocation_t[0] == 0.0 and ent.relief_share[0] == 1.0
    assert ent.allocation_t[1] == approx(want_2025)
    assert ent.allocation_t[2] == approx(want_2026)
    det = prep.allocation_detail.set_index(["unit", "year"])
    assert det.loc[("L1", 2025), "allocation_t"] == approx(want_2025 / 2)


def test_industry_without_reference_is_an_error():
    case = _industry()
    case["allocation"]["benchmarks"] = [{"year": 2026, "output_t_per_unit": 0.85}]
    with pytest.raises(Exception, match="no intensity reference for cement_clinker at or before 2025"):
        prepare(parse_case(case))


def test_absolute_cap_and_auction():
    """Cap from 2026 with d = 2%, auction 10%: reference = 2025 allocation 850,000.
    2026: cap 850,000, free 765,000, auction 85,000; 2027: cap 833,000, free 749,700, auction 83,300.
    Reserve floor 70 lifts the 2026-2027 buy price from 60 to 70; the auction price is the market price."""
    case = _industry()
    case["policy"] = {"overrides": {
        "absolute_cap.enabled": True, "absolute_cap.start_year": 2026, "absolute_cap.decline_per_year": 0.02,
        "absolute_cap.auction_share": 0.10, "absolute_cap.reserve_floor_cny_per_t": 70.0,
    }}
    prep = prepare(parse_case(case))
    ent = prep.data.entities[0]
    assert absolute_cap(850_000, 0.02, 1) == approx(833_000.0)
    assert ent.allocation_t[2:] == (approx(765_000.0), approx(749_700.0))
    assert ent.auction_max_t == (0.0, 0.0, approx(85_000.0), approx(83_300.0))
    assert ent.price_buy_cny_per_t == (60, 60, 70, 70)
    assert ent.price_auction_cny_per_t[2:] == (70, 70)
    assert list(prep.inputs["allocation_regime"])[2:] == ["absolute_cap", "absolute_cap"]


def test_preallocation_schedule():
    """Vintage 2025: 70% of the given 2024 emissions 1,000,000 = 700,000 in 2026-04; true-up
    900,000 - 700,000 = 200,000 in 2026-10; due 2026-12. Vintage 2026: 70% of 2025 emissions 950,000
    = 665,000; final 600,000 -> true-up -65,000 (pre-allocation above the final allocation)."""
    rows = allocation_schedule(
        entity="E", years=[2025, 2026], allocation_t=[900_000, 600_000], emissions_t=[950_000, 940_000],
        surrender_t=[950_000, 940_000], prior_emissions_t=1_000_000, share=0.7, basis="prior_year_emissions",
        pre_month=4, trueup_month=10, deadline_month=12,
    )
    assert rows[0]["pre_allocation_t"] == approx(700_000.0) and rows[0]["pre_allocation_month"] == "2026-04"
    assert rows[0]["true_up_t"] == approx(200_000.0) and rows[0]["true_up_month"] == "2026-10"
    assert rows[0]["deadline_month"] == "2026-12"
    assert rows[1]["pre_allocation_t"] == approx(665_000.0) and rows[1]["true_up_t"] == approx(-65_000.0)


def test_schedule_uses_the_historical_calendar_of_the_pack():
    """2021 and 2022 were allocated in March 2023 and due together on 2023-12-31 (rules.md R3.6, R6.1);
    the pack's calendar says so, while 2023 follows the monthly rule (due 2024-12)."""
    pack = load_rule_pack("cn-national")
    rows = allocation_schedule(
        entity="E", years=[2021, 2022, 2023], allocation_t=[1.0, 1.0, 1.0], emissions_t=[1.0, 1.0, 1.0],
        surrender_t=[1.0, 1.0, 1.0], prior_emissions_t=None, share=0.7, basis="prior_year_emissions",
        pre_month=4, trueup_month=10, deadline_month=12,
        deadlines=pack["compliance.deadline_by_vintage"], calendar=pack["allocation.calendar_by_vintage"],
    )
    assert [r["deadline_month"] for r in rows] == ["2023-12", "2023-12", "2024-12"]
    assert [r["pre_allocation_month"] for r in rows] == ["2023-03", "2023-03", "2024-04"]
    assert rows[2]["true_up_month"] == "2024-10"


def test_units_and_entity_activity_are_exclusive():
    case = _case()
    case["activity"] = copy.deepcopy(case["units"][0]["activity"])
    with pytest.raises(Exception, match="give the activity inside each unit"):
        parse_case(case)
