"""``planner market``: a small generated market end to end (scenarios, back-test, checks, files)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from planner.cli import main
from planner.market.backtest import observed_means
from planner.market.simulate import simulate
from planner.market.spec import MarketCaseSpec

CASE = {
    "market": {"id": "small", "name": "small market", "horizon": {"first_year": 2025, "last_year": 2027},
               "discount_rate": 0.08, "reference_price_cny_per_t": 80,
               "ccer": {"price_cny_per_t": 80, "supply_t": 100000}},
    "fleet": {"cluster": 10, "power": {"entities": 60, "emissions_t": 1.2e8},
              "cement": {"entities": 20, "emissions_t": 2.0e7}},
    "scenarios": [{"id": "central"},
                  {"id": "unlimited", "overrides": {"carryover.post_legacy.mode": "unlimited"}},
                  {"id": "abscap", "overrides": {"absolute_cap.enabled": True, "absolute_cap.start_year": 2026,
                                                 "absolute_cap.auction_share": 0.1}}],
    "backtest": {"horizon": {"first_year": 2023, "last_year": 2024}, "power": {"entities": 60, "emissions_t": 1.2e8},
                 "ccer": {"price_cny_per_t": 60, "supply_t": 0},
                 "observed": [{"year": 2023, "window_year": 2024, "cea_cny_per_t": 91.82},
                              {"year": 2024, "window_year": 2025, "cea_cny_per_t": 73.18}]},
}

PRICES = Path("/work/shared/data/cn_ets_prices.csv")
EXAMPLE = Path(__file__).parents[2] / "cases" / "market" / "cn_national.yaml"


@pytest.fixture(scope="module")
def outcome():
    return simulate(MarketCaseSpec.model_validate(CASE))


def test_every_scenario_clears_and_is_checked(outcome):
    assert list(outcome.scenarios["scenario"]) == ["central", "unlimited", "abscap"]
    assert (outcome.scenarios["check"] == "passed").all(), outcome.scenarios["check"].tolist()
    assert set(outcome.prices["year"]) == {2025, 2026, 2027}
    assert (outcome.prices["cea_price_cny_per_t"] >= -1e-9).all()
    for sol in outcome.solutions.values():
        ann = sol.plan.entities.annual
        net = ann.groupby("year").apply(lambda g: (g["buy_t"] - g["sell_t"]).sum(), include_groups=False)
        assert net.abs().max() < 1e-3


def test_tables_add_up(outcome):
    v = outcome.volumes
    s = outcome.sectors
    for sc in outcome.scenarios["scenario"]:
        for y in (2025, 2026, 2027):
            row = v[(v["scenario"] == sc) & (v["year"] == y)].iloc[0]
            sec = s[(s["scenario"] == sc) & (s["year"] == y)]
            assert sec["emissions_t"].sum() == pytest.approx(row["emissions_t"], rel=1e-9)
            assert sec["net_purchases_t"].sum() == pytest.approx(0.0, abs=1e-3)
    ab = v[v["scenario"] == "abscap"]
    assert (ab[ab["year"] >= 2026]["auctioned_t"] > 0).all()
    assert (ab[ab["year"] == 2025]["auctioned_t"] == 0).all()
    assert set(s["sector"]) == {"power", "cement"}
    assert s[s["year"] == 2025].groupby("scenario")["entities"].sum().eq(80).all()


def test_backtest_reports_both_prices_and_the_error(outcome):
    bt = outcome.backtest
    assert list(bt["year"]) == [2023, 2024]
    assert (bt["error_cny_per_t"] == bt["simulated_cny_per_t"] - bt["observed_cny_per_t"]).all()
    assert bt.attrs["check"] == "passed"


def test_cli_writes_the_folder_and_market_rows_feed_a_case(tmp_path):
    case = tmp_path / "m.yaml"
    c = copy.deepcopy(CASE)
    c["scenarios"] = c["scenarios"][:1]
    del c["backtest"]
    case.write_text(yaml.safe_dump(c))
    out = tmp_path / "out"
    assert main(["market", str(case), "--out", str(out)]) == 0
    for f in ("prices.csv", "volumes.csv", "sectors.csv", "bindings.csv", "calibration.csv", "backtest.csv",
              "scenarios.csv", "report.html", "report.zh.html", "sweep_market_scenarios.yaml", "market_rows_central.yaml"):
        assert (out / f).is_file(), f
    html = (out / "report.html").read_text()
    assert 'id="prices"' in html and "<svg" in html
    assert "各情景CEA价格路径" in (out / "report.zh.html").read_text()
    rows = yaml.safe_load((out / "market_rows_central.yaml").read_text())
    from planner.input.read import parse_case

    gas = yaml.safe_load((Path(__file__).parents[2] / "cases" / "gas_peaker.yaml").read_text())
    gas["market"] = [{**r, "ccer_available_t": 1250} for r in rows] + gas["market"][3:]
    parse_case(gas, "gas peaker at the market's prices")
    sweep = yaml.safe_load((out / "sweep_market_scenarios.yaml").read_text())
    assert sweep["scenarios"][0]["id"] == "market-central"
    assert "market.2025.cea_buy_cny_per_t" in sweep["scenarios"][0]["overrides"]
    # the sweep file is a valid sweep of an entity case, its variants the market's prices
    from planner.studies.variants import SweepSpec, apply_variant, generate

    base = parse_case(yaml.safe_load((Path(__file__).parents[2] / "cases" / "gas_peaker.yaml").read_text()), "gas")
    variants = [v for v in generate(base, SweepSpec.model_validate(sweep)) if v.id == "market-central"]
    assert len(variants) == 1
    applied = apply_variant(base, variants[0]).case
    by_year = {m.year: m.cea_buy_cny_per_t for m in applied.market}
    assert by_year[2025] == rows[0]["cea_buy_cny_per_t"] and by_year[2027] == rows[2]["cea_buy_cny_per_t"]


def test_cli_refuses_a_bad_case_naming_the_field(tmp_path, capsys):
    c = copy.deepcopy(CASE)
    c["fleet"]["power"]["entities"] = 0
    c["market"]["colour"] = "red"
    case = tmp_path / "bad.yaml"
    case.write_text(yaml.safe_dump(c))
    out = tmp_path / "out"
    assert main(["market", str(case), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "fleet.power.entities" in err and "market.colour" in err
    assert not out.exists()


@pytest.mark.skipif(not PRICES.is_file(), reason="shared price data not on this machine")
def test_example_backtest_observed_prices_are_the_data():
    ex = yaml.safe_load(EXAMPLE.read_text())
    means = observed_means(PRICES)
    for r in ex["backtest"]["observed"]:
        assert r["cea_cny_per_t"] == means[r["window_year"]]
