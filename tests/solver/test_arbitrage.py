"""Unbounded prices: a price path that rewards buying without limit ends without a plan (exit 2,
one message naming the years and prices, no plan folder), not a plan capped by a bound the model
derived and reported optimal (models.bounds.unbounded_arbitrage). The same prices with a limit that
stops the trade give a plan, solved here by hand.

Every case: an entity whose allocation equals its emissions (it needs no purchase), no discounting
unless said, no terminal value, no fees unless said.
"""

import copy
from pathlib import Path

import pytest
import yaml

from planner.api import run, run_group
from planner.cli import main
from planner.errors import UnboundedError
from planner.input.group_schema import GroupCaseSpec
from planner.input.read import parse_case
from tests.solver.helpers import case_dict, row, solve

ROOT = Path(__file__).resolve().parents[2]
YEARS = (2025, 2026)


def _case(mode="unlimited", **market):
    """Buy 60 / sell 59 in 2025, buy 90 / sell 89 in 2026: a tonne bought in 2025 and sold in 2026
    earns 89 - 60 = 29 CNY. ``mode``: the 2025+ banking rule (rule pack carryover.post_legacy.mode)."""
    d = case_dict(years=YEARS, emissions=100_000, allocation=100_000, buy=[60.0, 90.0], sell=[59.0, 89.0], ccer=500.0, **market)
    d["policy"] = {"overrides": {"carryover.post_legacy.mode": mode}}
    return d


MESSAGE = ("the prices reward unbounded arbitrage: CEA bought in 2025 at 60.00 CNY/t and sold in 2026 at 89.00 CNY/t "
           "earn 29.00 CNY per tonne in present value, and no market limit or carry-over limit stops it")


def test_unbounded_arbitrage_has_no_plan():
    """Unlimited banking, no market limits: buying x in 2025 and selling it in 2026 earns 29 x for
    any x. No plan; the message names the years and prices."""
    with pytest.raises(UnboundedError) as exc:
        run(parse_case(copy.deepcopy(_case())))
    assert str(exc.value).startswith(MESSAGE)


def test_the_cli_exits_2_with_one_message_and_no_plan_folder(tmp_path, capsys):
    for name, d in (("entity", _case()), ("example", None)):
        path = ROOT / "cases" / "refused" / "arbitrage_unlimited_banking.yaml"
        if d is not None:
            path = tmp_path / f"{name}.yaml"
            path.write_text(yaml.safe_dump(d), encoding="utf-8")
        out = tmp_path / f"plan-{name}"
        assert main(["run", str(path), "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: the prices reward unbounded arbitrage: CEA bought in 2025 at "), err
        assert not out.exists()
    assert "bought in 2025 at 83.00 CNY/t (+0.15 fee) and sold in 2026 at 94.20 CNY/t (-0.15 fee) earn 3.93 CNY" in err[0]


@pytest.mark.parametrize(("change", "objective"), [
    # a sale limit of 50,000 t in 2026: buy 50,000 in 2025, sell them in 2026: -29 x 50,000
    ({"sell_limit_t": [None, 50_000]}, -1_450_000),
    # a purchase limit of 30,000 t in 2025 (2026 purchases only lose: 89 < 90): -29 x 30,000
    ({"buy_limit_t": [30_000, None]}, -870_000),
    # fees of 15 CNY/t on each trade: 89 - 15 - (60 + 15) = -1 < 0, nothing to gain: no trade
    ({"fee_cny_per_t": 15.0}, 0.0),
])
def test_a_limit_or_a_fee_that_stops_the_trade_gives_a_plan(change, objective):
    d = _case()
    for k, v in change.items():
        for i, m in enumerate(d["market"]):
            val = v[i] if isinstance(v, list) else v
            if val is not None:
                m[k] = val
    plan = solve(d)
    assert plan.summary["objective_cny"] == pytest.approx(objective, abs=1e-3)


def test_discounting_can_remove_the_gain():
    """At a 60% discount rate the 2026 sale is worth 89 / 1.6 = 55.63 < 60 today: no arbitrage, and
    the plan trades nothing (objective 0)."""
    d = _case()
    d["finance"]["discount_rate"] = 0.6
    plan = solve(d)
    assert plan.summary["objective_cny"] == pytest.approx(0.0, abs=1e-3)
    assert row(plan, 2025).buy_t == pytest.approx(0.0, abs=1e-3)


def test_the_national_carry_over_limit_bounds_the_same_prices():
    """The pack's default 2025+ rule: carry <= 10,000 + 1.5 x max(0, net sales). Buying lowers net
    sales, so the entity (net sales 0) carries at most 10,000 t: it buys 10,000 in 2025 and sells
    them in 2026: -29 x 10,000 = -290,000. (Selling its own allowances in 2025 to raise the limit
    and buying them back later only loses: 59 < 60.)"""
    plan = solve(_case(mode="same"))
    assert plan.summary["objective_cny"] == pytest.approx(-290_000)
    assert row(plan, 2025).buy_t == pytest.approx(10_000) and row(plan, 2026).sell_t == pytest.approx(10_000)


def test_holding_to_the_horizon_end_at_its_terminal_value_is_arbitrage_too():
    """No sales allowed at all (sell_limit_t 0), but the holdings valued at the 2026 sell price (89)
    at the horizon end: a tonne bought in 2025 at 60 and kept earns 29 without a limit."""
    d = _case(sell_limit_t=0)
    d["finance"]["terminal_value"] = "sell_price"
    with pytest.raises(UnboundedError, match="bought in 2025 at 60.00 CNY/t and held to the horizon end at its terminal value 89.00"):
        run(parse_case(d))


def test_ccer_arbitrage_keeps_exit_2_with_years_and_prices(tmp_path, capsys):
    """CCERs bought in 2025 at 50 and sold in 2026 at 85 (no availability limit): 35 CNY/t without
    end, refused as before (exit 2), now naming the years and prices. With 1,000 t available in 2025
    the plan buys them and sells them in 2026 (a surrender would save only 60 - 50 = 10 per tonne):
    35,000 cheaper than with none available."""
    d = case_dict(years=YEARS, emissions=100_000, allocation=90_000, buy=[60.0, 80.0], ccer=[50.0, 90.0])
    d["market"][1]["ccer_sell_cny_per_t"] = 85.0
    d["market"][0]["ccer_available_t"] = "unlimited"
    path = tmp_path / "ccer.yaml"
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "plan")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: the prices reward unbounded arbitrage: CCERs bought in 2025 at 50.00 CNY/t and sold in 2026 at "
                   "85.00 CNY/t earn 35.00 CNY per tonne in present value with no limit on the volume; set "
                   "market.ccer_available_t for these years, or other prices"]
    assert not (tmp_path / "plan").exists()
    d["market"][0]["ccer_available_t"] = 1_000
    some = solve(d)
    d["market"][0]["ccer_available_t"] = 0
    none = solve(d)
    assert some.summary["objective_cny"] == pytest.approx(none.summary["objective_cny"] - 35_000)
    assert row(some, 2026).ccer_sell_t == pytest.approx(1_000)


def _pair(transfers):
    """A buys at 60 (sells at 59), B sells at 70 (buys at 80), both in 2025, one year."""
    ents = []
    for eid, buy, sell in (("A", 60.0, 59.0), ("B", 80.0, 70.0)):
        d = case_dict(emissions=100_000, allocation=100_000, buy=buy, sell=sell, ccer=500.0)
        d["entity"]["id"] = eid
        ents.append(parse_case(d))
    return GroupCaseSpec.model_validate({
        "group": {"id": "G", "horizon": {"first_year": 2025, "last_year": 2025},
                  "finance": {"discount_rate": 0.0, "terminal_value": "zero"}},
        "entities": ents, "transfers": {"mode": transfers, "price_cny_per_t": 65}, "value_of_pooling": False,
    })


def test_a_group_whose_entities_buy_and_sell_at_different_prices():
    """With transfers A buys at 60, passes the tonne to B, B sells it at 70: 10 CNY per tonne without
    end. Without transfers each entity alone gains nothing (its sale price is below its buy price)."""
    with pytest.raises(UnboundedError, match="CEA A bought in 2025 at 60.00 CNY/t and B sold in 2025 at 70.00 CNY/t earn 10.00"):
        run_group(_pair("free"))
    with pytest.raises(UnboundedError, match="CEA A bought in 2025 at 60.00 CNY/t and B sold in 2025 at 70.00"):
        run_group(_pair("block"))
    assert run_group(_pair("none")).plan.summary["objective_cny"] == pytest.approx(0.0, abs=1e-3)


def test_a_group_limit_bounds_the_group_but_not_its_entities_alone():
    """Two entities with the unlimited-banking arbitrage of ``_case`` and a group purchase limit of
    30,000 t in 2025: the group buys 30,000 and sells them in 2026 (-29 x 30,000 = -870,000; the
    2026 purchases only lose). Alone, each entity has no limit, so the value of pooling has no
    stand-alone plan to compare with: refused with the reason; without the comparison, a plan."""
    ents = []
    for eid in ("A", "B"):
        d = _case()
        d["entity"]["id"] = eid
        ents.append(parse_case(d))
    body = {
        "group": {"id": "G", "horizon": {"first_year": 2025, "last_year": 2026},
                  "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
                  "overrides": {"carryover.post_legacy.mode": "unlimited"}},
        "entities": ents, "transfers": {"mode": "free", "price_cny_per_t": 70},
        "limits": [{"year": 2025, "buy_limit_t": 30_000}],
    }
    with pytest.raises(UnboundedError, match=r"^value of pooling, the entities alone .*: the prices reward unbounded arbitrage"):
        run_group(GroupCaseSpec.model_validate(copy.deepcopy(body)))
    res = run_group(GroupCaseSpec.model_validate({**body, "value_of_pooling": False}))
    assert res.plan.summary["objective_cny"] == pytest.approx(-870_000)
