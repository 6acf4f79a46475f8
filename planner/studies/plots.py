"""Sweep plots from the tidy sweep frame (plain pandas; no Pyomo, no files: ``planner.studies.sweepio`` saves them).

- ``cost_vs_price``: NPV cost against the scenario's mean CEA buy price.
- ``tornado``: NPV cost at the low and high end of each tornado parameter, against the base.
- ``paths``: carry-over and cumulative net CEA purchases by year, one line per scenario.
- ``cost_distribution``: distribution of NPV cost across price-path scenarios (probability-weighted).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MAX_LINES = 60


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of optimal scenarios, one per (entity, year) (a group sweep's own and total rows left out)."""
    ok = frame[(frame["status"] == "optimal") & (frame["year"] >= 0)]
    if "level" in ok.columns:
        ok = ok[ok["level"] == "entity-year"]
    return ok


def scenario_prices(frame: pd.DataFrame) -> pd.DataFrame:
    """Per scenario: NPV cost and the mean CEA buy price over the years."""
    ok = _ok(frame)
    g = ok.groupby("scenario", sort=False)
    return pd.DataFrame(
        {
            "kind": g["kind"].first(),
            "npv_cost_cny": g["npv_cost_cny"].first(),
            "mean_cea_cny_per_t": g["cea_buy_cny_per_t"].mean(),
            "probability": g["probability"].first(),
        }
    ).reset_index()


def cost_vs_price(frame: pd.DataFrame):
    plt = _plt()
    s = scenario_prices(frame)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for kind, grp in s.groupby("kind"):
        grp = grp.sort_values("mean_cea_cny_per_t")
        style = "-o" if kind == "grid" else "o"
        ax.plot(
            grp["mean_cea_cny_per_t"], grp["npv_cost_cny"] / 1e6, style, ms=3, label=kind, alpha=0.8
        )
    ax.set_xlabel("mean CEA buy price over the horizon [CNY/t]")
    ax.set_ylabel("NPV of compliance cost [M CNY]")
    ax.set_title("Total cost against CEA price")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def tornado_table(frame: pd.DataFrame) -> pd.DataFrame:
    """(parameter, low cost, high cost, base cost, swing) for tornado variants."""
    s = frame.drop_duplicates("scenario").set_index("scenario")
    if "base" not in s.index:
        return pd.DataFrame()
    base = float(s.loc["base", "npv_cost_cny"])
    rows = []
    t = s[s["kind"] == "tornado"]
    for sid, r in t.iterrows():
        par, end = str(sid).removeprefix("tornado-").rsplit("-", 1)
        rows.append({"parameter": par, "end": end, "npv_cost_cny": float(r["npv_cost_cny"])})
    if not rows:
        return pd.DataFrame()
    w = (
        pd.DataFrame(rows)
        .pivot_table(index="parameter", columns="end", values="npv_cost_cny")
        .reset_index()
    )
    w["base"] = base
    w["swing"] = (w["high"] - w["low"]).abs()
    return w.sort_values("swing").reset_index(drop=True)


def tornado(frame: pd.DataFrame):
    plt = _plt()
    w = tornado_table(frame)
    fig, ax = plt.subplots(figsize=(7, 0.6 * max(3, len(w)) + 1.5))
    if w.empty:
        ax.text(0.5, 0.5, "no tornado parameters in this sweep", ha="center", va="center")
        ax.set_axis_off()
        return fig
    base = float(w["base"].iloc[0]) / 1e6
    y = np.arange(len(w))
    lo, hi = w["low"] / 1e6 - base, w["high"] / 1e6 - base
    ax.barh(y, lo, left=base, color="tab:blue", label="low value")
    ax.barh(y, hi, left=base, color="tab:orange", alpha=0.8, label="high value")
    ax.axvline(base, color="k", lw=1)
    ax.set_yticks(y, w["parameter"])
    ax.set_xlabel("NPV of compliance cost [M CNY] (line: base case)")
    ax.set_title("Tornado: one parameter at a time")
    ax.legend(loc="lower right")
    return fig


def paths(frame: pd.DataFrame):
    plt = _plt()
    ok = _ok(frame).copy()
    ok["net_purchases_t"] = ok["buy_t"] - ok["sell_t"]
    ok["cum_net_purchases_t"] = ok.groupby(["scenario", "entity"], sort=False)[
        "net_purchases_t"
    ].cumsum()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ids = list(dict.fromkeys(ok["scenario"]))[:MAX_LINES]
    for sid in ids:
        g = ok[ok["scenario"] == sid].groupby("year").sum(numeric_only=True)
        lw, a = (2.2, 1.0) if sid == "base" else (0.8, 0.5)
        axes[0].plot(
            g.index, g["carry_t"] / 1e3, lw=lw, alpha=a, color="k" if sid == "base" else None
        )
        axes[1].plot(
            g.index,
            g["cum_net_purchases_t"] / 1e3,
            lw=lw,
            alpha=a,
            color="k" if sid == "base" else None,
        )
    axes[0].set_title("CEA carried over after each surrender")
    axes[0].set_ylabel("kt")
    axes[1].set_title("Cumulative net CEA purchases (bought - sold)")
    axes[1].set_ylabel("kt")
    for ax in axes:
        ax.set_xlabel("compliance year")
        ax.grid(alpha=0.3)
    fig.suptitle(f"Positions by scenario ({len(ids)} shown; black: base case)")
    return fig


def cost_distribution(frame: pd.DataFrame):
    plt = _plt()
    s = scenario_prices(frame)
    pp = s[s["kind"] == "price_path"]
    if pp.empty:
        pp = s
    fig, ax = plt.subplots(figsize=(7, 4.5))
    x = pp["npv_cost_cny"].to_numpy() / 1e6
    wts = pp["probability"].fillna(1.0 / max(1, len(pp))).to_numpy()
    ax.hist(x, bins=min(40, max(5, len(x) // 5)), weights=wts, color="tab:blue", alpha=0.75)
    if len(x):
        mean = float(np.average(x, weights=wts))
        ax.axvline(mean, color="k", lw=1.5, label=f"mean {mean:,.1f}")
        for q in (0.05, 0.95):
            v = float(np.quantile(x, q))
            ax.axvline(v, color="tab:red", lw=1, ls="--", label=f"{int(q * 100)}%: {v:,.1f}")
    ax.set_xlabel("NPV of compliance cost [M CNY]")
    ax.set_ylabel("probability")
    ax.set_title(f"Cost across {len(x)} price scenarios")
    ax.legend()
    return fig


def all_figures(frame: pd.DataFrame) -> dict[str, Any]:
    """Every plot that the sweep's variants support."""
    figs: dict[str, Any] = {}
    if frame.empty or _ok(frame).empty:
        return figs
    figs["cost_vs_price"] = cost_vs_price(frame)
    if (frame["kind"] == "tornado").any():
        figs["tornado"] = tornado(frame)
    figs["paths"] = paths(frame)
    figs["cost_distribution"] = cost_distribution(frame)
    return figs
