"""Sweep plots from the tidy sweep frame (plain pandas; no Pyomo, no files: ``planner.studies.sweepio`` saves them).

- ``cost_vs_price``: NPV cost against the scenario's mean CEA buy price.
- ``tornado``: NPV cost at the low and high end of each tornado parameter, against the base.
- ``paths``: carry-over and cumulative net CEA purchases by year, one line per scenario.
- ``cost_distribution``: distribution of NPV cost across price-path scenarios (probability-weighted);
  only for sweeps with price paths or scenarios given probabilities (a grid is no distribution).

Drawn with the planner's one chart stack (``planner.report.charts``), like the report's charts.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from planner.report.charts import drawn_styled

MAX_LINES = 60
KIND_NAMES = {"base": "base case", "scenario": "scenarios", "grid": "grid points", "tornado": "tornado ends",
              "price_path": "price paths"}
KIND_COLOURS = {"scenario": "tab:purple", "grid": "tab:blue", "tornado": "tab:orange", "price_path": "tab:green"}


def _figure(height_in: float = 4.5, width_in: float = 7.5, ncols: int = 1):
    """A figure of the planner's one chart stack (``planner.report.charts``: style, fonts, layout)."""
    from planner.report.charts import figure

    return figure(height_in=height_in, width_in=width_in, ncols=ncols)


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


@drawn_styled
def cost_vs_price(frame: pd.DataFrame):
    """NPV cost against the mean CEA price, one colour per kind of scenario; the base case is a
    large black star on top of the others, named in the legend and labelled with its cost."""
    from planner.report.charts import thousands

    s = scenario_prices(frame)
    fig, ax = _figure()
    for kind, grp in s.groupby("kind", sort=True):
        if kind == "base":
            continue
        grp = grp.sort_values("mean_cea_cny_per_t")
        ax.plot(grp["mean_cea_cny_per_t"], grp["npv_cost_cny"] / 1e6, "-o" if kind == "grid" else "o", ms=4,
                alpha=0.8, color=KIND_COLOURS.get(kind, "tab:gray"), label=KIND_NAMES.get(kind, kind))
    base = s[s["kind"] == "base"]
    if not base.empty:
        bx, by = float(base["mean_cea_cny_per_t"].iloc[0]), float(base["npv_cost_cny"].iloc[0]) / 1e6
        ax.plot([bx], [by], "*", ms=16, color="black", zorder=10, label=KIND_NAMES["base"])
        ax.annotate(f"base {_m(by)} M", (bx, by), xytext=(8, 8), textcoords="offset points", fontsize=9, zorder=11)
    ax.set_xlabel("mean CEA buy price over the horizon [CNY/t]")
    ax.set_ylabel("NPV of compliance cost [M CNY]")
    ax.set_title("Total cost against CEA price")
    ax.grid(alpha=0.3, axis="both")
    thousands(ax)
    ax.legend()
    return fig


def _override_value(overrides: Any, path: str) -> Any:
    """The value a scenario sets at ``path`` (``overrides``: the frame's JSON text or a dict)."""
    if isinstance(overrides, str):
        try:
            overrides = json.loads(overrides)
        except ValueError:
            return None
    return overrides.get(path) if isinstance(overrides, dict) else None


def tornado_table(frame: pd.DataFrame) -> pd.DataFrame:
    """(parameter, low cost, high cost, low value, high value, base cost, swing) for tornado variants."""
    s = frame.drop_duplicates("scenario").set_index("scenario")
    if "base" not in s.index:
        return pd.DataFrame()
    base = float(s.loc["base", "npv_cost_cny"])
    rows = []
    t = s[s["kind"] == "tornado"]
    for sid, r in t.iterrows():
        par, end = str(sid).removeprefix("tornado-").rsplit("-", 1)
        value = _override_value(r["overrides"], par) if "overrides" in r.index else None
        rows.append({"parameter": par, "end": end, "npv_cost_cny": float(r["npv_cost_cny"]), "value": value})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    w = df.pivot_table(index="parameter", columns="end", values="npv_cost_cny").reset_index()
    vals = {(p, e): v for p, e, v in zip(df["parameter"], df["end"], df["value"], strict=True)}
    w["low_value"] = [vals.get((p, "low")) for p in w["parameter"]]
    w["high_value"] = [vals.get((p, "high")) for p in w["parameter"]]
    w["base"] = base
    w["swing"] = (w["high"] - w["low"]).abs()
    return w.sort_values("swing").reset_index(drop=True)


def _m(v: float) -> str:
    """Millions of CNY with the decimals a small case needs."""
    return f"{v:,.1f}" if abs(v) >= 10 else f"{v:,.3f}"


def _value_text(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        v = int(v)
    return f"{v:,}" if isinstance(v, int | float) and not isinstance(v, bool) else str(v)


@drawn_styled
def tornado(frame: pd.DataFrame):
    """One bar per parameter from the base cost to its cost at the parameter's low and high value;
    each bar end is labelled with that value and the cost there."""
    w = tornado_table(frame)
    fig, ax = _figure(height_in=0.7 * max(3, len(w)) + 1.6, width_in=9.0)
    if w.empty:
        ax.text(0.5, 0.5, "no tornado parameters in this sweep", ha="center", va="center")
        ax.set_axis_off()
        return fig
    base = float(w["base"].iloc[0]) / 1e6
    y = np.arange(len(w))
    lo, hi = w["low"] / 1e6 - base, w["high"] / 1e6 - base
    ax.barh(y - 0.18, lo, 0.36, left=base, color="tab:blue", label="at the low value")
    ax.barh(y + 0.18, hi, 0.36, left=base, color="tab:orange", alpha=0.85, label="at the high value")
    ax.axvline(base, color="k", lw=1, label=f"base case {_m(base)} M")
    for i, r in w.iterrows():
        for off, end, val in ((-0.18, r["low"] / 1e6, r["low_value"]), (0.18, r["high"] / 1e6, r["high_value"])):
            right = end >= base
            ax.annotate(f"{_value_text(val)}: {_m(end)}", (end, i + off), xytext=(4 if right else -4, 0),
                        textcoords="offset points", ha="left" if right else "right", va="center", fontsize=8)
    ax.margins(x=0.25)
    ax.set_yticks(y, w["parameter"])
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("NPV of compliance cost [M CNY]; labels: parameter value: cost")
    ax.set_title("Tornado: one parameter at a time")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3)
    return fig


@drawn_styled
def paths(frame: pd.DataFrame):
    """Carry-over and cumulative net CEA purchases by year, one line per scenario, coloured by its
    kind (named in the legend); the base case in black on top."""
    ok = _ok(frame).copy()
    ok["net_purchases_t"] = ok["buy_t"] - ok["sell_t"]
    ok["cum_net_purchases_t"] = ok.groupby(["scenario", "entity"], sort=False)[
        "net_purchases_t"
    ].cumsum()
    fig, axes = _figure(height_in=4.6, width_in=11.0, ncols=2)
    ids = list(dict.fromkeys(ok["scenario"]))[:MAX_LINES]
    kinds = ok.drop_duplicates("scenario").set_index("scenario")["kind"]
    named: set[str] = set()
    for sid in ids:
        g = ok[ok["scenario"] == sid].groupby("year").sum(numeric_only=True)
        kind = str(kinds.get(sid, "scenario"))
        is_base = sid == "base"
        style = {"lw": 2.4, "alpha": 1.0, "color": "black", "zorder": 10} if is_base else {
            "lw": 0.9, "alpha": 0.55, "color": KIND_COLOURS.get(kind, "tab:gray")}
        name = KIND_NAMES.get("base" if is_base else kind, kind)
        lab = name if name not in named else None
        named.add(name)
        axes[0].plot(g.index, g["carry_t"] / 1e3, label=lab, **style)
        axes[1].plot(g.index, g["cum_net_purchases_t"] / 1e3, **style)
    axes[0].set_title("CEA carried over after each surrender")
    axes[1].set_title("Cumulative net CEA purchases (bought - sold)")
    for ax in axes:
        ax.set_ylabel("kt")
        ax.set_xlabel("compliance year")
        ax.grid(alpha=0.3, axis="both")
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[0].legend(loc="best", fontsize=9)
    fig.suptitle(f"Positions by scenario ({len(ids)} shown)")
    return fig


def has_distribution(frame: pd.DataFrame) -> bool:
    """The sweep holds scenarios with probabilities (price paths, or scenarios given one): a grid or
    a tornado is a set of what-ifs, not a probability distribution, and gets no distribution plot."""
    s = scenario_prices(frame)
    return bool(((s["kind"] == "price_path") | ((s["kind"] == "scenario") & s["probability"].notna())).any())


@drawn_styled
def cost_distribution(frame: pd.DataFrame):
    """Probability-weighted histogram of NPV cost over the price paths (else over the scenarios
    given a probability); the mean and the 5% / 95% quantiles marked, the base case for reference."""
    s = scenario_prices(frame)
    pp = s[s["kind"] == "price_path"]
    if pp.empty:
        pp = s[(s["kind"] == "scenario") & s["probability"].notna()]
    fig, ax = _figure()
    if pp.empty:
        ax.text(0.5, 0.5, "no price paths or scenarios with probabilities in this sweep", ha="center", va="center")
        ax.set_axis_off()
        return fig
    x = pp["npv_cost_cny"].to_numpy() / 1e6
    wts = pp["probability"].fillna(1.0 / max(1, len(pp))).to_numpy()
    wts = wts / wts.sum()
    ax.hist(x, bins=min(40, max(5, len(x) // 5)), weights=wts, color="tab:blue", alpha=0.75)
    mean = float(np.average(x, weights=wts))
    ax.axvline(mean, color="k", lw=1.5, label=f"mean {_m(mean)}")
    order = np.argsort(x)
    cum = np.cumsum(wts[order])
    for q in (0.05, 0.95):
        v = float(x[order][min(int(np.searchsorted(cum, q)), len(x) - 1)])
        ax.axvline(v, color="tab:red", lw=1, ls="--", label=f"{int(q * 100)}%: {_m(v)}")
    base = s[s["kind"] == "base"]
    if not base.empty:
        b = float(base["npv_cost_cny"].iloc[0]) / 1e6
        ax.axvline(b, color="tab:gray", lw=1.5, ls=":", label=f"base case {_m(b)}")
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
    if has_distribution(frame):
        figs["cost_distribution"] = cost_distribution(frame)
    return figs
