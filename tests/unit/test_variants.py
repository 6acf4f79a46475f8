"""Sweep variants: paths with '*', grids, tornado, seeded price paths, the history volatility."""

import math
import statistics
from pathlib import Path

import pytest

from planner.errors import CaseValidationError
from planner.input.read import parse_case
from planner.studies.sweepio import price_volatility
from planner.studies.variants import (
    PricePathSpec,
    SweepSpec,
    expand_paths,
    generate,
    price_path_factors,
    validate_variants,
)
from tests.solver.helpers import case_dict

HISTORY = Path(__file__).resolve().parents[3] / "shared" / "data" / "cn_ets_prices.csv"


def _case():
    return parse_case(case_dict(years=(2026, 2027, 2028), buy=[80.0, 90.0, 100.0], ccer=[70.0, 75.0, 80.0]))


def test_star_expands_to_every_year_row():
    got = expand_paths(_case(), {"market.*.ccer_cny_per_t": 50, "finance.discount_rate": 0.1})
    assert got == {f"market.{y}.ccer_cny_per_t": 50 for y in (2026, 2027, 2028)} | {"finance.discount_rate": 0.1}
    with pytest.raises(CaseValidationError, match="year table"):
        expand_paths(_case(), {"finance.*": 1})


def test_generate_counts_ids_and_kinds():
    spec = SweepSpec.model_validate(
        {
            "scenarios": [{"id": "x", "overrides": {"market.2027.cea_buy_cny_per_t": 120}}],
            "grid": {"market.*.cea_buy_cny_per_t": [60, 90, 120], "policy.overrides.penalty.multiple": [5, 10], "market.*.cea_sell_cny_per_t": [None]},
            "tornado": {"market.*.ccer_cny_per_t": [40, 120]},
            "price_paths": {"n": 4, "seed": 1, "volatility": 0.3},
        }
    )
    vs = generate(_case(), spec)
    assert [v.kind for v in vs].count("grid") == 6
    # without the sell price removed, a flat 60 is below the case's sell prices: every variant is
    # validated like a case file, and the problem names the scenario, the row and its year
    bad = generate(_case(), spec.model_copy(update={"grid": {"market.*.cea_buy_cny_per_t": [60]}}))
    with pytest.raises(CaseValidationError, match=r"scenario grid-00000: market\[0\] \(year 2026\)"):
        validate_variants(_case(), bad)
    assert [v.id for v in vs][:2] == ["base", "x"]
    assert {v.id for v in vs if v.kind == "tornado"} == {"tornado-market.*.ccer_cny_per_t-low", "tornado-market.*.ccer_cny_per_t-high"}
    paths = [v for v in vs if v.kind == "price_path"]
    assert len(paths) == 4 and all(v.probability == 0.25 for v in paths)
    # first year anchored at the base price; the sell price (given explicitly) moves with the buy price
    assert all(v.overrides["market.2026.cea_buy_cny_per_t"] == 80.0 for v in paths)
    assert all(v.overrides["market.2027.cea_sell_cny_per_t"] == round(89.0 * v.overrides["market.2027.cea_buy_cny_per_t"] / 90.0, 2) for v in paths)
    validate_variants(_case(), vs)
    again = generate(_case(), spec)
    assert [v.overrides for v in again] == [v.overrides for v in vs]  # seeded


def test_price_path_factors_are_driftless_with_the_given_volatility():
    """E[f_t] = 1 and sd(log f_t - log f_{t-1}) = sigma, checked on 20,000 seeded paths."""
    f = price_path_factors(list(range(2025, 2030)), PricePathSpec(n=20_000, seed=3, volatility=0.3))
    assert all(row[0] == 1.0 for row in f)
    last = [row[-1] for row in f]
    assert statistics.fmean(last) == pytest.approx(1.0, abs=0.02)
    steps = [math.log(r[2] / r[1]) for r in f]
    assert statistics.stdev(steps) == pytest.approx(0.3, rel=0.02)


def test_invalid_variants_are_all_listed():
    spec = {"scenarios": [{"id": "a", "overrides": {"market.2026.ccer_cny_per_t": -1}}, {"id": "b", "overrides": {"horizon.last_year": 2020}}]}
    with pytest.raises(CaseValidationError) as e:
        validate_variants(_case(), generate(_case(), SweepSpec.model_validate(spec)))
    text = str(e.value)
    assert "scenario a" in text and "scenario b" in text


@pytest.mark.skipif(not HISTORY.exists(), reason="shared/data/cn_ets_prices.csv is not beside the repository")
def test_history_volatility_is_the_number_in_the_example_sweep():
    v = price_volatility(HISTORY)
    assert v["volatility"] == pytest.approx(0.281, abs=5e-4)
    assert (v["first_date"], v["days"]) == ("2021-07-16", 1229)


def test_evolve_equals_dataclass_replace():
    """``models.data.evolve`` (a copy without re-running ``__init__``) gives what ``dataclasses.replace``
    gives, for plain fields and fields behind a property (``PreparedCase``'s built on first use,
    also when given as a function), and refuses a field the class does not have."""
    import dataclasses

    import pytest

    from models.data import evolve
    from planner.input.read import parse_case
    from planner.prepare.entity import prepare
    from tests.solver.helpers import case_dict

    prep = prepare(parse_case(case_dict()))
    e = prep.data.entities[0]
    new = tuple(2.0 * p for p in e.price_buy_cny_per_t)
    a, b = evolve(e, price_buy_cny_per_t=new), dataclasses.replace(e, price_buy_cny_per_t=new)
    assert a == b and a.price_buy_cny_per_t == new and e.price_buy_cny_per_t != new
    d1, d2 = evolve(prep.data, entities=(a,)), dataclasses.replace(prep.data, entities=(b,))
    assert d1 == d2
    p1 = evolve(prep, data=d1, warnings=lambda: ["w"], inputs=None)
    p2 = dataclasses.replace(prep, data=d2, warnings=lambda: ["w"], inputs=None)
    assert p1.data == p2.data and p1.warnings == p2.warnings == ["w"] and p1.inputs is None and p2.inputs is None
    assert prep.inputs is not None and prep.warnings != ["w"]  # the original is untouched
    with pytest.raises(TypeError, match="no field 'nope'"):
        evolve(e, nope=1)


def test_copy_row_equals_model_copy():
    """``planner.prepare.reprice._copy_row`` (a validated sweep's market-row copy) is ``model_copy(update=)``:
    equal rows, fields, fields set, class and properties; the copy shares no dict with the row and
    leaves it unchanged; ``set_market_prices(validated=True)`` gives the case a full validation gives."""
    from planner.input.schema import MarketRow
    from planner.prepare.reprice import _copy_row, set_market_prices

    # what the one-step copy relies on: no extra fields, no private attributes to carry over
    assert MarketRow.model_config["extra"] == "forbid" and not MarketRow.__private_attributes__
    case = _case()
    for row in case.market:
        for upd in ({"cea_buy_cny_per_t": 91.5}, {"cea_buy_cny_per_t": 60.25, "ccer_cny_per_t": 42.0},
                    {"cea_spread_cny_per_t": 3.0}):
            a, b = _copy_row(row, upd), row.model_copy(update=upd)
            assert type(a) is type(b) and a == b and a.model_dump() == b.model_dump()
            assert a.__pydantic_fields_set__ == b.__pydantic_fields_set__ and a.sell_price == b.sell_price
            assert a.__dict__ is not row.__dict__ and a.__pydantic_fields_set__ is not row.__pydantic_fields_set__
            assert all(getattr(a, k) == v for k, v in upd.items()) and row.cea_buy_cny_per_t not in (91.5, 60.25)
    changes = {(2027, "cea_buy_cny_per_t"): 95.5, (2026, "ccer_cny_per_t"): 41.0, (2028, "cea_buy_cny_per_t"): 99.0}
    fast, full = set_market_prices(case, changes, validated=True), set_market_prices(case, changes)
    assert fast == full and fast.model_dump() == full.model_dump()
    assert [r.year for r in fast.market] == [r.year for r in case.market]


def test_price_factor_of_a_year_scales_an_entity_case_prices():
    """price_factor.<year> works for entity cases as for group cases: the year's CEA buy and sell
    prices (the default fields) times the factor, rounded to 2 decimals; other years untouched.
    Hand-derived: 2027 buy 90 x 1.1 = 99.0, sell 89 x 1.1 = 97.9 (case_dict's sell = buy - 1)."""
    from planner.studies.variants import Variant, apply_variant

    got = expand_paths(_case(), {"price_factor.2027": 1.1})
    assert got == {"market.2027.cea_buy_cny_per_t": 99.0, "market.2027.cea_sell_cny_per_t": 97.9}
    got = expand_paths(_case(), {"price_factor.2028": 0.5, "price_factor_fields": "ccer_cny_per_t", "price_factor_decimals": 0})
    assert got == {"market.2028.ccer_cny_per_t": 40.0}
    applied = apply_variant(_case(), Variant("f", {"price_factor.2026": 2.0}))
    assert applied.reprice  # only prices changed: the base preparation is repriced
    m = {r.year: r for r in applied.case.market}
    assert (m[2026].cea_buy_cny_per_t, m[2027].cea_buy_cny_per_t) == (160.0, 90.0)
    with pytest.raises(CaseValidationError, match=r"price_factor\.<year> for a year of 2026-2028"):
        expand_paths(_case(), {"price_factor.2031": 1.1})
    with pytest.raises(CaseValidationError, match="not market price fields"):
        expand_paths(_case(), {"price_factor.2027": 1.1, "price_factor_fields": "allocation_t"})
