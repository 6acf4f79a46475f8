"""Hand-solved markets: the equilibrium CEA price is the dual of each year's clearing row.

Every market here is small enough to solve by hand; each test's docstring gives the derivation. Each
solved market is also checked by ``planner.market.check``: it clears in every year, and every entity's
own best plan at the market's prices costs what its part of the market solution costs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.input.group_schema import GroupCaseSpec
from planner.market.check import alone_at_prices, check_market, clearing
from planner.market.engine import MarketSettings, solve_market
from planner.prepare.group import prepare_group


def entity(eid, years, emissions, allocation, *, measures=(), ccer_t=0.0, ccer_price=20.0, overrides=None):
    """A power entity with given allocation and baseline emissions (per year), no relief, fines at 5 x 200."""
    return {
        "entity": {"id": eid, "sector": "power", "unit_class": "coal_gt300"},
        "horizon": {"first_year": years[0], "last_year": years[-1]},
        "activity": [{"year": y, "output": 1000.0, "emissions_t": float(e)} for y, e in zip(years, emissions, strict=True)],
        "allocation": {"method": "given", "coal_floor": "off",
                       "given": [{"year": y, "allocation_t": float(a)} for y, a in zip(years, allocation, strict=True)]},
        "market": [{"year": y, "cea_buy_cny_per_t": 200.0, "cea_spread_cny_per_t": 0.0, "ccer_cny_per_t": ccer_price,
                    "ccer_available_t": ccer_t} for y in years],
        "finance": {"discount_rate": 0.1, "terminal_value": "zero"},
        "policy": {"compliance": "penalty", "overrides": {"carryover.post_legacy.mode": "unlimited", **(overrides or {})}},
        "abatement": {"measures": [
            {"id": f"{eid}-m{k}", "cost_cny_per_t": c, "potential_t_per_year": pot} for k, (c, pot) in enumerate(measures)
        ]},
    }


def market(entities, years, rate=0.1):
    spec = GroupCaseSpec.model_validate({
        "group": {"id": "M", "horizon": {"first_year": years[0], "last_year": years[-1]}, "finance": {"discount_rate": rate}},
        "entities": entities,
        "transfers": {"mode": "free"},
        "value_of_pooling": False,
    })
    return prepare_group(spec)


def solved(prep, settings=None):
    sol = solve_market(prep, settings or MarketSettings())
    fails = check_market(sol)
    assert fails == [], fails
    return sol


def prices(sol):
    return dict(zip(sol.prices["year"], sol.prices["cea_price_cny_per_t"], strict=True))


def annual(sol, eid, year, col):
    a = sol.plan.entities.annual
    return float(a[(a["entity"] == eid) & (a["year"] == year)][col].iloc[0])


def test_two_entities_price_is_the_clearing_mac():
    """A is short 100 t (emits 1,000, gets 900) and abates at 60 CNY/t; B is long 50 t (emits 1,000,
    gets 1,050) and abates at 40 CNY/t, up to 500 t each. The market is short 50 t net, so 50 t must be
    abated, the cheapest first: B abates 50 t at 40 and sells A its 50 t surplus plus those 50 t.
    A's 60 is above the price, so A buys all 100 t. The price at which the market clears is B's
    marginal abatement cost, 40 CNY/t: at 40 B is indifferent about the 50th tonne, A would pay up to
    60 (or the fine, 5 x 200) for each tonne it buys."""
    y = [2025]
    prep = market([entity("A", y, [1000], [900], measures=[(60, 500)]),
                   entity("B", y, [1000], [1050], measures=[(40, 500)])], y)
    sol = solved(prep)
    assert prices(sol)[2025] == pytest.approx(40.0, abs=1e-6)
    assert annual(sol, "B", 2025, "abatement_measures_t") == pytest.approx(50.0, abs=1e-6)
    assert annual(sol, "A", 2025, "abatement_measures_t") == pytest.approx(0.0, abs=1e-6)
    assert annual(sol, "A", 2025, "buy_t") - annual(sol, "A", 2025, "sell_t") == pytest.approx(100.0, abs=1e-6)
    c = clearing(sol)
    assert c["imbalance_t"].abs().max() < 1e-6
    assert float(c["bought_t"].iloc[0]) >= 100.0 - 1e-6


def test_alone_at_prices_detects_a_wrong_price():
    """The checker can fail: at 45 CNY/t instead of 40, B would abate all 500 t and sell them, so its
    own best plan costs less than its part of the market solution valued at 45."""
    y = [2025]
    prep = market([entity("A", y, [1000], [900], measures=[(60, 500)]),
                   entity("B", y, [1000], [1050], measures=[(40, 500)])], y)
    sol = solved(prep)
    sol.prices["cea_price_cny_per_t"] = 45.0
    rows = alone_at_prices(sol).set_index("entity")
    assert rows.loc["B", "gap_cny"] == pytest.approx(450 * 5.0, rel=1e-6)  # (45 - 40) x the 450 t more it would abate
    assert any(f.startswith("B:") for f in check_market(sol))


def test_interior_banking_equal_discounted_prices():
    """Two years, 10% discount rate, unlimited banking, no value after 2026. A is long 100 t in 2025
    (1,100 for 1,000) and short 200 t in 2026 (800 for 1,000); its measure costs 50 CNY/t in 2025 and
    80 in 2026 (up to 1,000 t). B is balanced in both years. The market needs 100 t of abatement over
    the two years; a tonne abated in 2025 and banked costs 50, in 2026 80 / 1.1 = 72.7 today, so all
    100 t are abated in 2025 and 200 t are banked into 2026 (an interior bank: neither 0 nor a limit).
    With an interior bank, a tonne is worth the same today in both years: P2025 = 50 and
    P2026 / 1.1 = 50, i.e. P2026 = 55 CNY/t."""
    y = [2025, 2026]
    prep = market([entity("A", y, [1000, 1000], [1100, 800], measures=[({2025: 50, 2026: 80}, 1000)]),
                   entity("B", y, [1000, 1000], [1000, 1000])], y)
    sol = solved(prep)
    p = prices(sol)
    assert p[2025] == pytest.approx(50.0, abs=1e-6)
    assert p[2026] == pytest.approx(55.0, abs=1e-6)
    assert p[2026] / 1.1 == pytest.approx(p[2025], abs=1e-6)
    a = sol.plan.entities.annual
    assert float(a[a["year"] == 2025]["carry_t"].sum()) == pytest.approx(200.0, abs=1e-6)
    assert float(a[a["year"] == 2025]["abatement_measures_t"].sum()) == pytest.approx(100.0, abs=1e-6)


def test_binding_carryover_limit_breaks_the_banking_path():
    """As the interior case, but both years balanced except A short 200 t in 2026, and each entity may
    carry at most 30 t out of 2025 (carry-over rule 'custom': base 30 t, multiplier 0), 60 t in all.
    Abating in 2025 and banking still beats abating in 2026 (50 < 72.7), but only 60 t can be banked:
    A abates 60 t in 2025 (30 t kept, 30 t sold to B, who banks them) and the other 140 t in 2026 at 80.
    2025's marginal tonne is A's 50 CNY/t measure; 2026's is A's 80 CNY/t measure. So P2025 = 50,
    P2026 = 80: discounted 50 against 72.7, the banking path broken by 22.7 CNY/t, the limit's shadow
    price today."""
    y = [2025, 2026]
    ov = {"carryover.post_legacy.mode": "custom", "carryover.post_legacy.base_t.power": 30, "carryover.post_legacy.multiplier": 0}
    prep = market([entity("A", y, [1000, 1000], [1000, 800], measures=[({2025: 50, 2026: 80}, 1000)], overrides=ov),
                   entity("B", y, [1000, 1000], [1000, 1000], overrides=ov)], y)
    sol = solved(prep)
    p = prices(sol)
    assert p[2025] == pytest.approx(50.0, abs=1e-6)
    assert p[2026] == pytest.approx(80.0, abs=1e-6)
    assert p[2026] / 1.1 - p[2025] == pytest.approx(80 / 1.1 - 50, abs=1e-6)
    assert annual(sol, "A", 2025, "carry_t") == pytest.approx(30.0, abs=1e-6)
    assert annual(sol, "B", 2025, "carry_t") == pytest.approx(30.0, abs=1e-6)
    assert annual(sol, "A", 2026, "abatement_measures_t") == pytest.approx(140.0, abs=1e-6)


def test_binding_ccer_cap():
    """One year. A and B are short 100 t each (900 for 1,000) and may buy CCERs at 20 CNY/t, up to their
    5% cap: 50 t each. C is balanced, has no CCERs and abates at 60 CNY/t (up to 500 t). The market is
    short 200 t: 100 t of CCERs (both caps bind; a CCER at 20 is cheaper than any CEA), and C abates the
    other 100 t and sells them. The price is C's 60 CNY/t; the cap is worth 60 - 20 = 40 CNY/t to A and B."""
    y = [2025]
    prep = market([entity("A", y, [1000], [900], ccer_t=1000), entity("B", y, [1000], [900], ccer_t=1000),
                   entity("C", y, [1000], [1000], measures=[(60, 500)])], y)
    sol = solved(prep)
    assert prices(sol)[2025] == pytest.approx(60.0, abs=1e-6)
    for e in ("A", "B"):
        assert annual(sol, e, 2025, "ccer_surrendered_t") == pytest.approx(50.0, abs=1e-6)
    assert annual(sol, "C", 2025, "abatement_measures_t") == pytest.approx(100.0, abs=1e-6)


def test_scarce_market_ccer_supply_prices_ccers_at_the_cea_price():
    """As the CCER-cap market, but CCERs come from a market-wide supply of 60 t at 20 CNY/t (the
    entities' caps, 50 t each, no longer bind). All 60 t are used; C abates the other 140 t at 60, so
    the CEA price is 60. A CCER then saves a CEA worth 60, so the CCER price at which the pooled
    supply clears is 60 CNY/t: 20 paid to the projects plus a scarcity rent of 40."""
    y = [2025]
    prep = market([entity("A", y, [1000], [900]), entity("B", y, [1000], [900]),
                   entity("C", y, [1000], [1000], measures=[(60, 500)])], y)
    sol = solved(prep, MarketSettings(ccer_price_cny_per_t=(20.0,), ccer_supply_t=(60.0,)))
    assert prices(sol)[2025] == pytest.approx(60.0, abs=1e-6)
    assert float(sol.prices["ccer_price_cny_per_t"].iloc[0]) == pytest.approx(60.0, abs=1e-6)
    assert annual(sol, "C", 2025, "abatement_measures_t") == pytest.approx(140.0, abs=1e-6)


def test_net_sales_floor_mip_prices_from_the_fixed_lp():
    """The carry-over limit as the rule words it, base + 1.5 x max(0, net sales) (rule 'custom', base
    20 t; the floor at zero needs one binary per entity and transition, so the market is a MIP and its
    prices come from the LP re-solved with the integers fixed). A is long 100 t in 2025 (1,100 for
    1,000) and balanced in 2026; B is balanced in 2025 and short 200 t in 2026, where it abates at
    80 CNY/t; nobody can abate in 2025. Banking the surplus saves 80 / 1.1 a tonne, so the market banks
    as much as the limits allow. If A sells s t to B in 2025 (a sale to another entity counts in net
    sales), A may carry 20 + 1.5 s and holds 100 - s; B, a net buyer, may carry 20. The tonnes carried,
    min(100 - s, 20 + 1.5 s) + min(s, 20), are largest at s = 32: A carries 68, B 20, 88 in all, and
    12 t lapse. A tonne lapses in 2025, so a 2025 allowance is worth nothing at the margin: P2025 = 0.
    In 2026 B still abates 200 - 88 = 112 t at 80: P2026 = 80."""
    y = [2025, 2026]
    ov = {"carryover.post_legacy.mode": "custom", "carryover.post_legacy.base_t.power": 20,
          "carryover.post_legacy.multiplier": 1.5, "carryover.net_sales_floor_at_zero": True}
    prep = market([entity("A", y, [1000, 1000], [1100, 1000], overrides=ov),
                   entity("B", y, [1000, 1000], [1000, 800], measures=[({2025: 1000, 2026: 80}, 500)], overrides=ov)], y)
    sol = solved(prep)
    assert sol.solve.is_mip
    assert sol.price_basis == "LP re-solve with integer decisions fixed"
    p = prices(sol)
    assert p[2025] == pytest.approx(0.0, abs=1e-6)
    assert p[2026] == pytest.approx(80.0, abs=1e-6)
    a = sol.plan.entities.annual
    assert float(a[a["year"] == 2025]["carry_t"].sum()) == pytest.approx(88.0, abs=1e-6)
    assert annual(sol, "B", 2026, "abatement_measures_t") == pytest.approx(112.0, abs=1e-6)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(800, 1200), st.integers(800, 1200), st.integers(10, 150), st.integers(0, 400)),
                min_size=2, max_size=4),
       st.sampled_from(["unlimited", "custom"]))
def test_generated_markets_clear_and_every_entity_is_optimal_at_the_prices(ents, mode):
    """Any small market (two years, entities with random positions and one MAC step each, fines at
    5 x 200): it clears every year, each entity's part is its own best plan at the prices, and no
    price exceeds the dearest way to comply (the fine plus the next-year deduction, 1,200 CNY/t)."""
    y = [2025, 2026]
    ov = {"carryover.post_legacy.mode": mode, "carryover.post_legacy.base_t.power": 50, "carryover.post_legacy.multiplier": 0}
    prep = market([entity(f"E{k}", y, [e, e], [a, a - 50], measures=[(c, pot)], overrides=ov)
                   for k, (e, a, c, pot) in enumerate(ents)], y)
    sol = solved(prep)
    p = sol.prices["cea_price_cny_per_t"]
    assert (p >= -1e-6).all() and (p <= 1200 + 1e-6).all()
