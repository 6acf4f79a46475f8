"""Example study: a price sweep and a hedged (stochastic) plan for the example coal plant.

Copy this file and change the case, the sweep and the scenarios. Run from the repository root:

    python cases/studies/run_study.py --out out/study            # ~1-2 min on 2 cores
    python cases/studies/run_study.py --out out/study --paths 10 --workers 0   # quick look

Writes OUT/sweep/ (results.parquet, scenarios.csv, plots/*.png) and OUT/stochastic.csv, and prints
the cost range, where cost turns with the CEA price, and the value of the stochastic solution.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from planner.input.read import load_case, read_case_data
from planner.studies.plots import all_figures
from planner.studies.stochastic import stochastic_plan
from planner.studies.sweep import sweep
from planner.studies.sweepio import price_volatility, save_figures
from planner.studies.variants import SweepSpec

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HISTORY = ROOT.parent / "shared" / "data" / "cn_ets_prices.csv"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default=str(ROOT / "cases" / "coal_2x660.yaml"))
    ap.add_argument("--sweep", default=str(HERE / "price_study.yaml"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--paths", type=int, default=None, help="number of price paths (default: the sweep file's)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    case = load_case(args.case)
    spec = SweepSpec.model_validate(read_case_data(args.sweep))
    if args.paths is not None and spec.price_paths is not None:
        spec = spec.model_copy(update={"price_paths": spec.price_paths.model_copy(update={"n": args.paths})})
    if HISTORY.exists():  # the volatility in the sweep file came from this history
        v = price_volatility(HISTORY)
        print(f"CEA volatility from {HISTORY.name}: {v['volatility']:.3f} ({v['days']} days, {v['first_date']}..{v['last_date']})")

    out = Path(args.out)
    res = sweep(case, spec, workers=args.workers, out=out / "sweep", progress=None)
    save_figures(out / "sweep", all_figures(res.frame))
    sc = res.scenarios[res.scenarios["status"] == "optimal"]
    print(f"{len(res.scenarios)} scenarios, NPV cost {sc.npv_cost_cny.min() / 1e6:,.1f} .. {sc.npv_cost_cny.max() / 1e6:,.1f} M CNY")
    grid = res.frame[res.frame["kind"] == "grid"].groupby("scenario", sort=False)
    print("flat CEA price -> NPV cost, CEA bought, abated, CCER surrendered (totals over the horizon):")
    for _sid, g in grid:
        print(f"  {g.cea_buy_cny_per_t.iloc[0]:6.0f} CNY/t  {g.npv_cost_cny.iloc[0] / 1e6:9.1f} M CNY  "
              f"{g.buy_t.sum() / 1e3:8.0f} kt  {g.abatement_measures_t.sum() / 1e3:7.0f} kt  {g.ccer_surrendered_t.sum() / 1e3:6.0f} kt")

    # A hedged plan: three 2027+ price levels with probabilities; 2025 decisions are shared.
    years = [r.year for r in case.market if r.year >= 2027]
    base = {r.year: r.cea_buy_cny_per_t for r in case.market}
    scen = [
        {"id": name, "probability": p, "overrides": {f"market.{y}.cea_buy_cny_per_t": round(base[y] * f, 2) for y in years}}
        for name, p, f in (("low", 0.3, 0.6), ("central", 0.5, 1.0), ("high", 0.2, 1.8))
    ]
    st = stochastic_plan(case, scen, first_stage_years=2)
    st.scenarios.to_csv(out / "stochastic.csv", index=False)
    fs = st.first_stage[st.first_stage["name"].isin(["buy", "sell", "carry", "ccer_buy"])]
    print("hedged 2025-2026 decisions:", ", ".join(f"{r.name} {r.year} {r.value:,.0f} t" for r in fs.itertuples() if abs(r.value) > 0.5))
    print(f"stochastic plan {st.rp_cny / 1e6:,.2f} M CNY; mean-value plan kept in every scenario {st.eev_cny / 1e6:,.2f}; "
          f"VSS {st.vss_cny / 1e6:,.2f} M CNY; EVPI {st.evpi_cny / 1e6:,.2f} M CNY")


if __name__ == "__main__":
    main()
