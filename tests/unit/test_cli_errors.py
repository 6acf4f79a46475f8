"""Errors found after reading (rule-pack lookups, overrides) still name the case file and the field."""

import pytest
import yaml

from planner.cli import main

CASE = {
    "entity": {"id": "E1", "sector": "power", "unit_class": "coal_gt300"},
    "horizon": {"first_year": 2025, "last_year": 2025},
    "activity": [{"year": 2025, "output": 1_000_000, "emissions_t": 800_000}],
    "market": [{"year": 2025, "cea_buy_cny_per_t": 60, "ccer_cny_per_t": 50}],
}


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        ({"nope": 1}, "policy.overrides.nope", "is not a parameter of the rule pack"),
        # dict-valued parameters used to accept any mapping and crash in prepare (exit 70)
        ({"benchmarks.power.electricity_t_per_mwh": {"coal_gt300": 5}},
         "policy.overrides.benchmarks.power.electricity_t_per_mwh", "coal_gt300: expected a mapping like the pack's"),
        ({"benchmarks.power.electricity_t_per_mwh": {"coal_gt300": {"abc": 1}}},
         "policy.overrides.benchmarks.power.electricity_t_per_mwh", "coal_gt300.abc: expected a year as the key"),
        ({"benchmarks.power.heat_t_per_gj": {"coal": {2024: "x"}}},
         "policy.overrides.benchmarks.power.heat_t_per_gj", "coal.2024: expected a finite non-negative number"),
        # a tightening of 3 per year made benchmarks (and allocations) negative, silently
        ({"benchmarks.power.tightening_per_year": 3},
         "policy.overrides.benchmarks.power.tightening_per_year", "expected a share between 0 and 1"),
        ({"ccer.cap_share": 1e300}, "policy.overrides.ccer.cap_share", "expected a share between 0 and 1"),
        ({"ccer.old_last_compliance_year": 2024.5},
         "policy.overrides.ccer.old_last_compliance_year", "expected a year between 2013 and 2100"),
    ],
)
def test_bad_override_names_file_field_and_expectation(tmp_path, capsys, overrides, field, expected):
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump({**CASE, "policy": {"overrides": overrides}}), encoding="utf-8")
    assert main(["validate", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {p}: 1 problem(s)")  # the file, not just "policy.overrides"
    assert f"  - {field}: " in err and expected in err


def test_valid_override_of_a_table_is_accepted(tmp_path, capsys):
    table = {"coal_gt300": {2023: 0.8, 2024: 0.79}}
    p = tmp_path / "case.yaml"
    p.write_text(yaml.safe_dump({**CASE, "policy": {"overrides": {"benchmarks.power.electricity_t_per_mwh": table}}}), encoding="utf-8")
    assert main(["validate", str(p)]) == 0
    assert "valid case for E1" in capsys.readouterr().out
