"""``planner market CASE --out DIR``: the market simulation from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _out(text: str) -> None:
    sys.stdout.write(f"{text}\n")


def add_market_parser(sub) -> None:
    """Add the ``market`` subcommand to the CLI's subparsers ``sub``."""
    m = sub.add_parser("market", help="simulate the whole market: equilibrium CEA price paths per scenario, and the back-test")
    m.add_argument("case", type=Path, help="market case (YAML or JSON), e.g. cases/market/cn_national.yaml")
    m.add_argument("--out", type=Path, required=True, help="output folder (written atomically)")
    m.add_argument("--scenario", action="append", default=None, help="only this scenario (repeatable)")
    m.add_argument("--no-backtest", action="store_true", help="skip the back-test")
    m.add_argument("--no-check", action="store_true",
                   help="skip the market checks (clearing and each entity's optimality at the prices)")
    m.set_defaults(func=cmd_market)


def cmd_market(args: argparse.Namespace) -> int:
    """``planner market``: simulate the market case, write its folder and print each scenario's
    CEA price path."""
    from planner.market.report import write_market
    from planner.market.simulate import simulate
    from planner.market.spec import load_market_case
    from planner.report.write import check_output_dir

    case = load_market_case(args.case)
    check_output_dir(args.out)  # before the solves: a refused folder costs no solver time
    outcome = simulate(case, check=not args.no_check, scenarios=args.scenario, backtest=not args.no_backtest)
    out = write_market(outcome, case, args.out)
    w = outcome.prices.pivot(index="year", columns="scenario", values="cea_price_cny_per_t")
    w = w[[c for c in outcome.scenarios["scenario"] if c in w.columns]]
    _out(f"CEA price path per scenario, CNY/t ({case.market.name or case.market.id}):")
    _out(w.round(2).to_string())
    for r in outcome.scenarios.itertuples(index=False):
        _out(f"  {r.scenario}: {r.price_basis or '-'}; check {r.check}; {r.seconds:.1f} s")
    if not outcome.backtest.empty:
        bt = outcome.backtest
        _out("Back-test (simulated vs observed, CNY/t):")
        for r in bt.itertuples(index=False):
            _out(f"  {r.year} (traded {r.window_year}): {r.simulated_cny_per_t:,.2f} vs {r.observed_cny_per_t:,.2f} "
                  f"(error {r.error_cny_per_t:+,.2f}, {r.error_share:+.1%})")
    failed = [r.scenario for r in outcome.scenarios.itertuples(index=False) if not str(r.check).startswith(("passed", "not run"))]
    _out(f"Written to {out}")
    if failed:
        _out(f"NO PRICES OR CHECK FAILED for {', '.join(failed)}: see scenarios.csv")
        return 3
    return 0
