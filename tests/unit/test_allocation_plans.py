"""Allocation to the letter of each cycle's plan (issue 24): the 300 MW class boundary, relief as the
plans word it, the pre-allocation basis by cycle, and the source of every parameter by cycle.

Each test works a small case by hand from the official formula of its plan; the numbers in the
docstrings are the arithmetic the assertions check (rules.md §3, §14).
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cli import main
from planner.errors import CaseValidationError
from planner.input.read import parse_case
from planner.input.rulepack import load_rule_pack, reference_markdown
from planner.prepare.allocation import allocation_schedule
from planner.prepare.entity import CAPACITY_ASK, prepare

pytestmark = pytest.mark.unit


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-6)


def _coal(year=2019, unit_class="coal_gt300", capacity=None, supply=1_417_500, emissions=1_300_000, **entity):
    """One water-cooled condensing coal unit at full load (every correction factor 1)."""
    ent = {"id": "C", "sector": "power", "unit_class": unit_class, **entity}
    if capacity is not None:
        ent["capacity_mw"] = capacity
    return {
        "entity": ent,
        "horizon": {"first_year": year, "last_year": year},
        "activity": [{"year": year, "output": supply * 1.06, "supply_mwh": supply, "load_rate": 0.9, "emissions_t": emissions}],
        "market": [{"year": year, "cea_buy_cny_per_t": 50, "ccer_cny_per_t": 30}],
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
    }


# ---- 1. the 300 MW class boundary -----------------------------------------------------------------


def test_a_350_mw_unit_is_in_the_300_mw_class_and_below():
    """2019-2020 plan, annex 1: '300 MW class and above' = at least 400 MW rated. A 350 MW unit
    supplying 1,417,500 MWh at full load is coal_le300: 1,417,500 x 0.979 = 1,387,732.5 t. Entered as
    coal_gt300 it would get 1,417,500 x 0.877 = 1,243,147.5 t, i.e. 1,417,500 x 0.102 = 144,585 t
    less: prepare refuses that, quoting the rule and the rule-pack key."""
    le = prepare(parse_case(_coal(unit_class="coal_le300", capacity=350)))
    assert le.data.entities[0].allocation_t == (approx(1_387_732.5),)
    with pytest.raises(CaseValidationError) as exc:
        prepare(parse_case(_coal(unit_class="coal_gt300", capacity=350)))
    ((loc, msg),) = exc.value.problems
    assert loc == "entity.capacity_mw"
    assert msg.startswith("350 MW contradicts unit_class coal_gt300 (C) in 2019: the 2019-2020 plan counts "
                          "conventional coal units of at least 400 MW rated capacity as the '300 MW class and above'")
    assert "so a 350 MW unit is coal_le300" in msg and "allocation.power.class_boundary_mw.supply_2019_2020 [P]" in msg
    # the class as entered, without a capacity to check it: 144,585 t less, and a warning asks for it
    gt = prepare(parse_case(_coal(unit_class="coal_gt300")))
    assert gt.data.entities[0].allocation_t == (approx(1_243_147.5),)
    assert 1_387_732.5 - 1_243_147.5 == approx(144_585.0)
    assert [w for w in gt.warnings if w.startswith(CAPACITY_ASK)] == [
        "no capacity_mw given for entity.capacity_mw (coal_gt300): the class of a conventional coal unit depends on its "
        "rated capacity (coal_gt300 = at least 400 MW in the 2019-2020 plan, annex 1; allocation.power.class_boundary_mw), "
        "so it is taken as given; give capacity_mw to have it checked"
    ]


@pytest.mark.parametrize(
    ("unit_class", "capacity", "ok"),
    [("coal_gt300", 400, True), ("coal_gt300", 399.9, False), ("coal_le300", 400, False), ("coal_le300", 399.9, True),
     ("coal_le300", 1000, False), ("coal_unconventional", 135, True), ("coal_unconventional", 660, True)],
)
def test_class_boundary_edges(unit_class, capacity, ok):
    """At exactly 400 MW a unit is in the 300 MW class and above; unconventional coal (and gas) do not
    depend on capacity. Every cycle applies its own boundary (400 MW in each, R beyond 2019-2020)."""
    for year in (2019, 2022, 2024, 2027):
        case = parse_case(_coal(year=year, unit_class=unit_class, capacity=capacity))
        if ok:
            assert not [w for w in prepare(case).warnings if w.startswith(CAPACITY_ASK)]
        else:
            with pytest.raises(CaseValidationError, match=f"{capacity:g} MW contradicts unit_class {unit_class}"):
                prepare(case)


@settings(max_examples=60, deadline=None)
@given(capacity=st.floats(1.0, 2000.0), gt=st.booleans(), year=st.sampled_from([2019, 2021, 2023, 2026]),
       boundary=st.sampled_from([300, 400, 600]))
def test_refused_exactly_when_class_and_capacity_disagree(capacity, gt, year, boundary):
    """For any capacity, class and plan boundary: refused iff (capacity >= boundary) != coal_gt300."""
    cycle = {2019: "supply_2019_2020", 2021: "supply_2021_2022"}.get(year, "generation_2023_2024")
    d = _coal(year=year, unit_class="coal_gt300" if gt else "coal_le300", capacity=capacity)
    d["policy"] = {"overrides": {f"allocation.power.class_boundary_mw.{cycle}": boundary}}
    case = parse_case(d)
    if (capacity >= boundary) == gt:
        prepare(case)
    else:
        with pytest.raises(CaseValidationError, match=f"at least {boundary} MW"):
            prepare(case)


def test_the_boundary_of_each_plan_is_its_own_parameter():
    """A boundary changed for one plan only moves the check in that plan's years: with the 2023-2024
    boundary at 350 MW, a 360 MW coal_gt300 unit is wrong in 2021-2022 (400 MW) and right in 2023-2024."""
    d = _coal(year=2021, unit_class="coal_gt300", capacity=360)
    d["horizon"]["last_year"] = 2024
    d["activity"] = [dict(d["activity"][0], year=y) for y in range(2021, 2025)]
    d["market"] = [dict(d["market"][0], year=y) for y in range(2021, 2025)]
    d["policy"] = {"overrides": {"allocation.power.class_boundary_mw.generation_2023_2024": 350}}
    with pytest.raises(CaseValidationError) as exc:
        prepare(parse_case(d))
    ((loc, msg),) = exc.value.problems
    assert "in 2021, 2022: the 2021-2022 plan counts conventional coal units of at least 400 MW" in msg


def test_units_are_checked_one_by_one_and_a_missing_capacity_is_asked_by_field():
    d = _coal()
    act = d.pop("activity")
    d["entity"].pop("unit_class")
    d["units"] = [{"id": "U1", "unit_class": "coal_gt300", "capacity_mw": 660, "activity": act},
                  {"id": "U2", "unit_class": "coal_le300", "activity": act},
                  {"id": "U3", "unit_class": "gas", "activity": act}]
    prep = prepare(parse_case(d))
    (ask,) = [w for w in prep.warnings if w.startswith(CAPACITY_ASK)]
    assert ask.startswith("no capacity_mw given for units[1].capacity_mw (U2, coal_le300): ")
    d["units"][1]["capacity_mw"] = 600
    with pytest.raises(CaseValidationError) as exc:
        prepare(parse_case(d))
    assert [loc for loc, _ in exc.value.problems] == ["units[1].capacity_mw"]
    d["allocation"] = {"method": "given", "given": [{"year": 2019, "allocation_t": 1}]}
    d["units"][1].pop("capacity_mw")
    assert not [w for w in prepare(parse_case(d)).warnings if w.startswith(CAPACITY_ASK)]  # class irrelevant


def test_planner_validate_refuses_a_contradictory_class_and_capacity(tmp_path, capsys):
    import yaml

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_coal(unit_class="coal_gt300", capacity=350)), encoding="utf-8")
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "entity.capacity_mw: 350 MW contradicts unit_class coal_gt300" in err
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_coal(unit_class="coal_gt300")), encoding="utf-8")
    assert main(["validate", str(good)]) == 0
    assert "warning: no capacity_mw given for entity.capacity_mw (coal_gt300)" in capsys.readouterr().out


def test_a_group_asks_once_for_the_capacities_and_checks_a_plants_table_column(tmp_path):
    """A group of plants without unit capacities gets one warning per class naming its entities, not
    one per plant; a capacity_mw column of the plants table is checked like an entity field."""
    import shutil

    from planner.input.read import load_group_case
    from planner.prepare.group import prepare_group

    src = Path(__file__).resolve().parents[2] / "cases" / "group_hn_generation"
    prep = prepare_group(load_group_case(src / "group.yaml"))
    asks = [w for w in prep.warnings if CAPACITY_ASK in w]
    assert [w.split(": ", 1)[0] for w in asks] == ["HN-01, HN-03, HN-08, HN-09, HN-18 and 3 more",
                                                   "HN-04, HN-05, HN-07, HN-10, HN-11 and 12 more"]
    dst = tmp_path / "g"
    shutil.copytree(src, dst)
    with (dst / "plants.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    cap = {"coal_gt300": "660", "coal_le300": "300"}
    for r in rows:
        r["capacity_mw"] = "350" if r["id"] == "HN-04" else cap.get(r["unit_class"], "")
    with (dst / "plants.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with pytest.raises(CaseValidationError) as exc:
        prepare_group(load_group_case(dst / "group.yaml"))
    ((loc, msg),) = exc.value.problems
    assert loc == "entities (HN-04).entity.capacity_mw" and msg.startswith("350 MW contradicts unit_class coal_gt300")


# ---- 2. relief as the plans word it ---------------------------------------------------------------


def _short_coal(year, **over):
    """3,000,000 MWh supplied at full load, coal_gt300 (660 MW), 3,500,000 t emitted. 2019: allocation
    3,000,000 x 0.877 = 2,631,000; gap 869,000 = 24.8% > 20%: relief 0.8 x 3,500,000 - 2,631,000 = 169,000."""
    d = _coal(year=year, capacity=660, supply=3_000_000, emissions=3_500_000)
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


def test_gas_relief_note_says_what_the_plan_grants():
    prep = prepare(parse_case(_coal(unit_class="gas", supply=1_000_000, emissions=420_000)))
    assert any(n.startswith("Relief (gas relief: the obligation is capped at the free allocation) is modelled exactly in 2019")
               for n in prep.notes)
    d = _coal(year=2023, unit_class="gas", supply=1_000_000, emissions=420_000)
    assert any(n.startswith("Relief (gas top-up: allocation raised to verified emissions)") for n in prepare(parse_case(d)).notes)


def test_a_year_without_a_plan_is_an_input_error_not_a_crash():
    """The cycles table overridden to cover 2023-2024 only, a 2021 case with its own formula: the plan
    of 2021 (relief, class boundary, pre-allocation) cannot be found and the case is refused."""
    d = _coal(year=2021, capacity=660)
    d["allocation"] = {"formula": "supply_2021_2022"}
    d["policy"] = {"overrides": {"allocation.power.cycles": [{"from": 2023, "to": 2024, "formula": "generation_2023_2024"}]}}
    with pytest.raises(CaseValidationError) as exc:
        prepare(parse_case(d))
    assert exc.value.problems == [("policy.overrides.allocation.power.cycles",
                                   "the rule pack has no power allocation formula for 2021")]


# ---- 3. pre-allocation basis by cycle ------------------------------------------------------------


def _two_units_2019_2020(prior: bool):
    """U1: coal_gt300 700 MW, air-cooled, condensing. U2: coal_le300 300 MW CHP (heat ratio 0.3).
    2019 and 2020 activity differ from 2018; the pre-allocation of both vintages uses 2018."""
    u1 = [{"year": y, "output": 3_200_000, "supply_mwh": 3_000_000, "load_rate": 0.90, "emissions_t": 2_700_000} for y in (2019, 2020)]
    u2 = [{"year": y, "output": 1_100_000, "supply_mwh": 1_050_000, "heat_gj": 2_100_000, "heat_supply_ratio": 0.3,
           "load_rate": 0.7, "emissions_t": 1_300_000} for y in (2019, 2020)]
    units = [
        {"id": "U1", "unit_class": "coal_gt300", "capacity_mw": 700, "cooling": "air", "activity": u1},
        {"id": "U2", "unit_class": "coal_le300", "capacity_mw": 300, "condensing": False, "activity": u2},
    ]
    if prior:
        units[0]["prior_activity"] = [{"year": 2018, "supply_mwh": 2_900_000, "load_rate": 0.83}]
        units[1]["prior_activity"] = [{"year": 2018, "supply_mwh": 1_000_000, "heat_gj": 2_000_000, "heat_supply_ratio": 0.3,
                                       "load_rate": 0.7}]
    return {
        "entity": {"id": "E", "sector": "power"},
        "horizon": {"first_year": 2019, "last_year": 2020},
        "units": units,
        "market": [{"year": y, "cea_buy_cny_per_t": 50, "ccer_cny_per_t": 30} for y in (2019, 2020)],
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
    }


def test_preallocation_2019_2020_is_70_percent_of_the_2018_activity_times_benchmark_and_factors():
    """2019-2020 plan: pre-allocation = 70% x (2018 net supply x benchmark x F_cool x F_heat x F_load
    + 2018 heat x heat benchmark), unit by unit.
    U1 2018: 2,900,000 x 0.877 x 1.05 (air) x 1.0028 (load 83%: 1 + 0.0014 x 2) = 2,677,942.302 t.
    U2 2018: 1,000,000 x 0.979 x (1 - 0.22 x 0.3) + 2,000,000 GJ x 0.126 = 914,386 + 252,000 = 1,166,386 t
    (a CHP unit: no load factor in 2019-2020, whatever its load).
    Basis 3,844,328.302; pre-allocation 0.7 x basis = 2,691,029.8114 t for 2019 and for 2020.
    Final 2019 = U1 3,000,000 x 0.877 x 1.05 = 2,762,550 + U2 1,050,000 x 0.979 x 0.934 + 2,100,000 x 0.126
    = 960,105.3 + 264,600 -> 3,987,255.3; true-up = 3,987,255.3 - 2,691,029.8114 = 1,296,225.4886 t."""
    prep = prepare(parse_case(_two_units_2019_2020(prior=True)))
    basis = 2_677_942.302 + 1_166_386.0
    assert [(p.share, p.basis, p.source) for p in prep.preallocation] == [(0.7, "activity", "2018 activity")] * 2
    assert [p.basis_t for p in prep.preallocation] == [approx(basis)] * 2
    assert prep.data.entities[0].allocation_t[0] == approx(3_987_255.3)
    rows = allocation_schedule(
        entity="E", years=[2019, 2020], allocation_t=list(prep.data.entities[0].allocation_t),
        emissions_t=[4_000_000.0] * 2, surrender_t=[4_000_000.0] * 2, prior_emissions_t=None,
        pre_month=4, trueup_month=10, deadline_month=12, pre=prep.preallocation,
    )
    assert rows[0]["pre_allocation_t"] == approx(2_691_029.8114) and rows[1]["pre_allocation_t"] == approx(2_691_029.8114)
    assert rows[0]["true_up_t"] == approx(1_296_225.4886)
    assert (rows[0]["basis"], rows[0]["basis_source"], rows[0]["pre_allocation_share"]) == ("activity", "2018 activity", 0.7)
    a = prep.assumptions.set_index("parameter")
    assert a.loc["allocation.preallocation.basis_year.supply_2019_2020", "confidence"] == "P"
    assert not a.loc["allocation.preallocation.share.supply_2019_2020", "applied_beyond_published"]


def test_without_the_2018_activity_the_vintage_stands_in_and_the_plan_says_so():
    """No prior_activity: each vintage's own allocation before relief (3,987,255.3 t in 2019) is the
    stand-in basis: 0.7 x 3,987,255.3 = 2,791,078.71 t; a note names the missing fields."""
    prep = prepare(parse_case(_two_units_2019_2020(prior=False)))
    p = prep.preallocation[0]
    assert (p.basis, p.basis_t) == ("activity", approx(3_987_255.3))
    assert p.source == "2019 allocation (2018 activity not used: units[0].prior_activity)"
    (note,) = [n for n in prep.notes if n.startswith("Pre-allocation of")]
    assert note.startswith("Pre-allocation of 2019, 2020 is a share of the units' 2018 activity")
    assert "2018 activity is not given (units[0].prior_activity)" in note


def test_preallocation_basis_by_cycle_2021_to_2024():
    """2021-2022: 70% of the units' 2021 activity x each year's benchmark (the basis year is [I]):
    2021: 1,000,000 x 0.8218 = 821,800 t; 2022: 1,000,000 x 0.8177 = 817,700 t (2021 activity, 2022
    benchmark). 2023-2024: 70% of the year before's verified emissions (EDF), from the solved plan."""
    d = _coal(year=2021, capacity=660, supply=1_000_000, emissions=900_000)
    d["horizon"]["last_year"] = 2024
    d["activity"] = [dict(d["activity"][0], year=y, supply_mwh=1_000_000 + 50_000 * (y - 2021)) for y in range(2021, 2025)]
    d["market"] = [dict(d["market"][0], year=y) for y in range(2021, 2025)]
    pre = prepare(parse_case(d)).preallocation
    assert [(p.basis, p.source) for p in pre[:2]] == [("activity", "2021 activity")] * 2
    assert [p.basis_t for p in pre[:2]] == [approx(821_800.0), approx(817_700.0)]
    assert [(p.share, p.basis, p.basis_t) for p in pre[2:]] == [(0.7, "prior_year_emissions", None)] * 2


def test_industry_2024_has_no_preallocation():
    """Industry 2024 is allocated at verified emissions (R4.2): no pre-allocation; 2025: 70% of 2024 emissions."""
    d = {
        "entity": {"id": "K", "sector": "industry", "unit_class": "cement_clinker"},
        "horizon": {"first_year": 2024, "last_year": 2025},
        "activity": [{"year": y, "output": 1_000_000, "intensity_t_per_unit": 0.86} for y in (2024, 2025)],
        "allocation": {"benchmarks": [{"year": 2025, "output_t_per_unit": 0.85}]},
        "market": [{"year": y, "cea_buy_cny_per_t": 80, "ccer_cny_per_t": 70} for y in (2024, 2025)],
    }
    pre = prepare(parse_case(d)).preallocation
    assert [(p.share, p.basis) for p in pre] == [(0.0, "none"), (0.7, "prior_year_emissions")]
    rows = allocation_schedule(entity="K", years=[2024, 2025], allocation_t=[860_000.0, 850_000.0], emissions_t=[860_000.0] * 2,
                               surrender_t=[860_000.0] * 2, prior_emissions_t=None, pre_month=4, trueup_month=10,
                               deadline_month=12, pre=pre)
    assert [r["pre_allocation_t"] for r in rows] == [0.0, approx(602_000.0)]
    assert rows[0]["true_up_t"] == approx(860_000.0)


def test_prior_activity_rows_must_be_before_the_horizon():
    d = _two_units_2019_2020(prior=True)
    d["units"][0]["prior_activity"].append({"year": 2019, "supply_mwh": 1})
    with pytest.raises(Exception, match=r"units\[0\].prior_activity: rows for years \[2019\] are not before the first"):
        parse_case(d)


def test_prior_activity_round_trips_through_a_workbook():
    from planner.input.workbook import read_workbook, template_bytes

    d = _two_units_2019_2020(prior=True)
    data, _ = read_workbook(template_bytes(copy.deepcopy(d)), "m.xlsx")
    assert parse_case(data).model_dump() == parse_case(d).model_dump()
    single = _coal(capacity=660)
    single["prior_activity"] = [{"year": 2018, "supply_mwh": 1_400_000}]
    data, _ = read_workbook(template_bytes(copy.deepcopy(single)), "s.xlsx")
    assert parse_case(data).model_dump() == parse_case(single).model_dump()


# ---- 4. sources by cycle ---------------------------------------------------------------------------


CHECKED_2019_2020 = {
    # rules.md §14: the 2019-2020 annex text checked against the official PDF
    "benchmarks.power.supply_2019_2020.electricity_t_per_mwh", "benchmarks.power.supply_2019_2020.heat_t_per_gj",
    "benchmarks.power.air_cooling_factor.supply_2019_2020", "allocation.power.heat_ratio_factor.supply_2019_2020",
    "allocation.power.load_factor.supply_2019_2020", "allocation.power.load_factor.applies_to.supply_2019_2020",
    "allocation.power.class_boundary_mw.supply_2019_2020", "relief.mechanism.supply_2019_2020",
    "relief.coal_shortfall_cap_share.supply_2019_2020", "relief.gas_topup.supply_2019_2020",
    "allocation.preallocation.share.supply_2019_2020", "allocation.preallocation.basis.supply_2019_2020",
    "allocation.preallocation.basis_year.supply_2019_2020",
}


def test_parameters_checked_against_the_2019_2020_text_are_primary_and_published_for_it():
    pack = load_rule_pack("cn-national")
    for key in CHECKED_2019_2020:
        p = pack.params[key]
        assert (p.confidence, p.published) == ("P", (2019, 2020)), key
    assert pack["benchmarks.power.supply_2019_2020.electricity_t_per_mwh"] == {
        "coal_gt300": {2019: 0.877, 2020: 0.877}, "coal_le300": {2019: 0.979, 2020: 0.979},
        "coal_unconventional": {2019: 1.146, 2020: 1.146}, "gas": {2019: 0.392, 2020: 0.392}}
    assert pack["allocation.power.class_boundary_mw.supply_2019_2020"] == 400
    # what the later texts did not confirm keeps its own mark, per cycle
    assert pack.params["benchmarks.power.air_cooling_factor.generation_2023_2024"].confidence == "R"
    assert pack.params["allocation.preallocation.basis_year.supply_2021_2022"].published == "none"


def test_every_per_cycle_parameter_exists_for_each_plan_it_is_read_for():
    pack = load_rule_pack("cn-national")
    for base in ("relief.mechanism", "relief.coal_shortfall_cap_share", "relief.gas_topup",
                 "allocation.power.class_boundary_mw", "allocation.preallocation.share", "allocation.preallocation.basis",
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



def test_the_backtest_case_uses_each_cycles_mechanism_and_basis():
    """cases/backtest_coal_2021_2024.yaml: relief would cap the obligation in 2021-2022 and be issued as
    allowances in 2023-2024; pre-allocation from the units' 2021 activity (2021-2022) and from the prior
    year's emissions (2023-2024); both unit classes agree with their capacities (630 and 300 MW)."""
    from planner.input.read import load_case

    prep = prepare(load_case(Path(__file__).resolve().parents[2] / "cases" / "backtest_coal_2021_2024.yaml"))
    e = prep.data.entities[0]
    assert e.relief_share == (approx(0.8),) * 4
    assert e.relief_to_allocation == (False, False, True, True)
    assert [(p.basis, p.source) for p in prep.preallocation] == [
        ("activity", "2021 activity"), ("activity", "2021 activity"), ("prior_year_emissions", ""), ("prior_year_emissions", "")]
    assert not [w for w in prep.warnings if w.startswith(CAPACITY_ASK)]
