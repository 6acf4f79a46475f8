"""Bad input: every problem listed at once with its path; non-zero exit; no traceback."""

import copy

import pytest
import yaml

from planner.cli import main
from planner.errors import CaseValidationError
from planner.input.read import parse_case

pytestmark = pytest.mark.unit

GOOD = {
    "entity": {"id": "E1", "sector": "power", "unit_class": "coal_gt300"},
    "horizon": {"first_year": 2025, "last_year": 2027},
    "activity": [{"year": y, "output": 1_000_000, "emissions_t": 850_000} for y in (2025, 2026, 2027)],
    "market": [
        {"year": y, "cea_buy_cny_per_t": 80, "cea_spread_cny_per_t": 1, "ccer_cny_per_t": 75}
        for y in (2025, 2026, 2027)
    ],
}


def _write(tmp_path, data, name="case.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


def test_good_case_validates(tmp_path, capsys):
    assert main(["validate", str(_write(tmp_path, GOOD))]) == 0
    assert "valid case for E1" in capsys.readouterr().out


def test_broken_case_lists_every_problem(tmp_path, capsys):
    bad = copy.deepcopy(GOOD)
    bad["activity"][1]["output"] = "lots"  # wrong type
    bad["market"][0]["cea_buy_cny_per_t"] = -5  # negative price
    bad["entity"]["colour"] = "red"  # unknown key
    del bad["market"][2]  # missing year 2027
    path = _write(tmp_path, bad)
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert str(path) in err
    assert "activity[1] (year 2026).output" in err
    assert "market[0] (year 2025).cea_buy_cny_per_t" in err and "greater than or equal to 0" in err
    assert "entity.colour" in err and "unknown key" in err
    assert "market: no row for years [2027]" in err
    assert "4 problem(s)" in err


def test_sell_above_buy_is_rejected():
    bad = copy.deepcopy(GOOD)
    bad["market"][1] = {"year": 2026, "cea_buy_cny_per_t": 80, "cea_sell_cny_per_t": 81, "ccer_cny_per_t": 75}
    with pytest.raises(CaseValidationError) as exc:
        parse_case(bad, "x.yaml")
    assert any("market[1] (year 2026)" in loc and "unbounded" in msg for loc, msg in exc.value.problems)


def test_nan_and_duplicate_years_rejected():
    bad = copy.deepcopy(GOOD)
    bad["market"][0]["ccer_cny_per_t"] = float("nan")
    bad["activity"].append({"year": 2025, "output": 1, "emissions_t": 1})
    with pytest.raises(CaseValidationError) as exc:
        parse_case(bad, "x.yaml")
    text = str(exc.value)
    assert "market[0] (year 2025).ccer_cny_per_t" in text
    assert "activity: years [2025] appear more than once" in text


def test_unknown_rule_pack_parameter_is_an_error(tmp_path, capsys):
    bad = copy.deepcopy(GOOD)
    bad["policy"] = {"overrides": {"ccer.cap_shar": 0.1, "penalty.multiple": 20}}
    code = main(["validate", str(_write(tmp_path, bad))])
    err = capsys.readouterr().err
    assert code == 1
    assert "policy.overrides.ccer.cap_shar" in err and "not a parameter" in err
    assert "policy.overrides.penalty.multiple" in err and "expected a value in [5, 10] (x reference price), got 20" in err


def test_yaml_syntax_error_and_object_tags(tmp_path, capsys):
    p = tmp_path / "broken.yaml"
    p.write_text("entity: [unclosed\n", encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    assert "not valid YAML" in capsys.readouterr().err
    p.write_text("entity: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    assert "not valid YAML" in capsys.readouterr().err


def test_with_overrides_revalidates():
    case = parse_case(copy.deepcopy(GOOD))
    new = case.with_overrides({"market.2026.cea_buy_cny_per_t": 120, "policy.overrides.penalty.multiple": 10})
    assert [r.cea_buy_cny_per_t for r in new.market] == [80, 120, 80]
    assert new.policy.overrides == {"penalty.multiple": 10}
    assert case.market[1].cea_buy_cny_per_t == 80  # the base case is unchanged
    with pytest.raises(Exception, match="greater than or equal to 0"):
        case.with_overrides({"market.2026.cea_buy_cny_per_t": -1})


def test_opening_vintage_must_precede_horizon():
    bad = copy.deepcopy(GOOD)
    bad["opening"] = {"cea_by_vintage": {2025: 100}}
    with pytest.raises(CaseValidationError, match=r"opening.cea_by_vintage.2025"):
        parse_case(bad)


def test_rule_pack_ranges_refuse_absurd_overrides():
    """Every pack value lies in its range (checked when the pack is read), and an override outside
    it is refused with the parameter, the range and the unit: a carry-over multiplier of 1e300 used
    to reach HiGHS (docs/hardening.md); a benchmark table override is checked number by number."""
    import pytest

    from planner.errors import CaseValidationError
    from planner.input.rulepack import RuleParam, load_rule_pack

    pack = load_rule_pack("cn-national")
    ranged = [k for k, p in pack.params.items() if p.range is not None]
    assert {"carryover.legacy.multiplier", "carryover.post_legacy.multiplier", "benchmarks.power.electricity_t_per_mwh",
            "benchmarks.power.air_cooling_factor.supply_2019_2020", "benchmarks.power.tightening_per_year",
            "allocation.power.class_boundary_mw.supply_2019_2020", "allocation.power.load_factor.supply_2019_2020"} <= set(ranged)
    with pytest.raises(CaseValidationError) as exc:
        load_rule_pack("cn-national", {"carryover.legacy.multiplier": 1e300})
    assert exc.value.problems == [("policy.overrides.carryover.legacy.multiplier",
                                   "expected a value in [0, 10] (t per t of net sales), got 1e+300")]
    with pytest.raises(CaseValidationError) as exc:
        load_rule_pack("cn-national", {"benchmarks.power.electricity_t_per_mwh": {"coal_gt300": {2023: 0.79, 2024: 7.9}}})
    assert exc.value.problems[0][1] == "expected every value in [0, 3] (t CO2 per MWh generated), got 7.9"
    assert load_rule_pack("cn-national", {"carryover.legacy.multiplier": 2.0})["carryover.legacy.multiplier"] == 2.0
    with pytest.raises(ValueError, match="outside its range"):
        RuleParam(value={"a": {2023: 4.0}}, range=[0, 3], unit="t", years="all", published=[2023, None], source="s", confidence="S")
