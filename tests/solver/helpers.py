"""Small case dicts for hand-solved tests, and a solve-and-check helper."""

import copy

from planner.api import run
from planner.check import check_plan
from planner.io import parse_case


def case_dict(years=(2025,), emissions=100_000, allocation=90_000, buy=60.0, sell=None, ccer=50.0, **market_extra):
    """A power entity with given allocation, no discounting, no terminal value, no relief."""
    ys = list(years)
    per = lambda v, i: v[i] if isinstance(v, list | tuple) else v  # noqa: E731
    return {
        "entity": {"id": "T", "sector": "power", "unit_class": "coal_gt300"},
        "horizon": {"first_year": ys[0], "last_year": ys[-1]},
        "activity": [{"year": y, "output": 100_000, "emissions_t": per(emissions, i)} for i, y in enumerate(ys)],
        "allocation": {
            "method": "given",
            "coal_floor": "off",
            "given": [{"year": y, "allocation_t": per(allocation, i)} for i, y in enumerate(ys)],
        },
        "market": [
            {
                "year": y,
                "cea_buy_cny_per_t": per(buy, i),
                "cea_sell_cny_per_t": per(sell, i) if sell is not None else per(buy, i) - 1.0,
                "ccer_cny_per_t": per(ccer, i),
                **{k: per(v, i) for k, v in market_extra.items()},
            }
            for i, y in enumerate(ys)
        ],
        "finance": {"discount_rate": 0.0, "terminal_value": "zero"},
    }


def solve(d):
    """Validate, solve, check independently; return the plan."""
    res = run(parse_case(copy.deepcopy(d)))
    assert check_plan(res.prep.data, res.plan, objective=res.solve.objective) == []
    return res.plan


def row(plan, year):
    return plan.annual.set_index("year").loc[year]
