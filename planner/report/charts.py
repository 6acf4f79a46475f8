"""Charts for people, one stack for reports and study plots: matplotlib figures (object API, no
pyplot state), as inline SVG for the HTML report and PNG for sweep plots (``planner.studies.plots``).

The SVG keeps its text as text (``svg.fonttype: none``): the reader's browser draws it with its own
fonts, so Chinese labels need a CJK font where the report is read (Noto Sans CJK SC, Microsoft YaHei,
PingFang SC: one is part of every desktop system in Chinese); ``cjk_font`` says whether this machine
has one to measure them with. Ids in the SVG are salted with the chart's id: the same numbers give the
same bytes, and several charts on one page have no id in common. Functions take plain lists and
pandas tables; never imports Pyomo.
"""

from __future__ import annotations

import functools
import io
import math
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from html import escape
from typing import Any

import pandas as pd

from planner.report.labels import label, scale

PALETTE = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#d62728")
LINE_COLOURS = ("#000000", "#d62728", "#555555", "#e377c2")
WIDTH_IN = 11.0
"""Width of a report chart in inches (at 72 points each: the SVG's view box); drawn at the page's full width."""
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei",
                "PingFang SC", "SimHei")
_CJK: dict[str, str | None] = {}


def cjk_font() -> str | None:
    """The family of a CJK font matplotlib can use on this machine (None when there is none: Chinese
    chart labels are then measured with a Latin font's metrics, and PNG plots show boxes for them;
    Debian: ``apt-get install fonts-noto-cjk``)."""
    if "font" not in _CJK:
        from matplotlib import font_manager as fm

        names = {f.name for f in fm.fontManager.ttflist}
        found = next((n for n in CJK_FAMILIES if n in names), None)
        if found is None:  # installed after matplotlib cached its font list: add the files once
            for path in fm.findSystemFonts():
                if re.search(r"CJK|wqy|YaHei|PingFang|SimHei|SourceHanSans", path, re.IGNORECASE):
                    try:
                        fm.fontManager.addfont(path)
                    except (OSError, RuntimeError, ValueError):
                        continue
            names = {f.name for f in fm.fontManager.ttflist}
            found = next((n for n in CJK_FAMILIES if n in names), None)
        _CJK["font"] = found
    return _CJK["font"]


def style(lang: str = "en") -> dict[str, Any]:
    """The matplotlib settings shared by every chart of the planner (reports and study plots)."""
    cjk = cjk_font()
    families = ["DejaVu Sans", *([cjk] if cjk else [])]
    if lang == "zh" and cjk:
        families = [cjk, "DejaVu Sans"]
    return {
        "font.family": "sans-serif",
        "font.sans-serif": families,
        "font.size": 10,
        "axes.titlesize": 12,
        "axes.titleweight": "bold",
        "axes.titlelocation": "left",
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "y",
        "grid.color": "#e5e5e5",
        "axes.axisbelow": True,
        "axes.prop_cycle": __import__("cycler").cycler(color=list(PALETTE)),
        "legend.frameon": False,
        "svg.fonttype": "none",
        "axes.unicode_minus": False,
    }


@contextmanager
def styled(lang: str = "en") -> Iterator[None]:
    """The planner's chart style while a figure is drawn (labels and legends read it as they are made)."""
    import matplotlib

    with matplotlib.rc_context(style(lang)), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        yield


def drawn_styled(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: draw ``fn``'s figure with the planner's style (in its ``lang`` keyword's language)."""

    @functools.wraps(fn)
    def wrap(*args: Any, **kwargs: Any) -> Any:
        with styled(kwargs.get("lang", "en")):
            return fn(*args, **kwargs)

    return wrap


def figure(height_in: float = 4.2, width_in: float = WIDTH_IN, lang: str = "en", ncols: int = 1):
    """A matplotlib ``Figure`` with the planner's style (constrained layout: labels and legends fit)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(style(lang)):
        fig = Figure(figsize=(width_in, height_in), layout="constrained")
        axes = fig.subplots(1, ncols)
    fig._planner_lang = lang  # read by to_svg / to_png: the style applies when text is measured too
    return fig, axes


def _rc(fig) -> dict[str, Any]:
    return style(getattr(fig, "_planner_lang", "en"))


def to_svg(fig, chart_id: str, title: str) -> str:
    """One inline ``<svg class="chart">`` element of the page's full width (deterministic bytes)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**_rc(fig), "svg.hashsalt": chart_id}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "cn-ets-planner"})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    m = re.match(r"<svg[^>]*>", svg)
    assert m is not None
    view = re.search(r'viewBox="([^"]+)"', m.group(0))
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" id="{escape(chart_id)}" '
            f'class="chart" viewBox="{view.group(1) if view else ""}" width="100%" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>")
    body = svg[m.end():].strip()
    # element ids (matplotlib's "axes_1", "line2d_3", ...) are unique within a figure only: prefix them
    # with the chart's id so that a page of several charts holds each id once
    pre = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id)
    body = re.sub(r'\bid="([^"]+)"', rf'id="{pre}-\1"', body)
    body = re.sub(r'href="#([^"]+)"', rf'href="#{pre}-\1"', body)
    body = re.sub(r"url\(#([^)]+)\)", rf"url(#{pre}-\1)", body)
    return head + body


def to_png(fig, path, dpi: int = 110) -> None:
    """Save ``fig`` as PNG (study plots)."""
    import matplotlib

    with matplotlib.rc_context(_rc(fig)), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(path, dpi=dpi, format="png", metadata={"Software": "cn-ets-planner"})


def thousands(ax, axis: str = "y", span: float | None = None) -> None:
    """Tick labels with thousands separators; decimals only where the span needs them."""
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _pos: Any) -> str:
        s = span if span is not None else abs(getattr(ax, f"get_{axis}lim")()[1] - getattr(ax, f"get_{axis}lim")()[0])
        dec = 0 if s >= 10 else (1 if s >= 1 else 2)
        return f"{v:,.{dec}f}".replace("-", "−") if v else "0"

    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(fmt))


def _legend_below(ax, n: int) -> None:
    if n:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(n, 5), fontsize=9)


@drawn_styled
def bar_chart(
    categories: Sequence[str],
    bars: Sequence[tuple[str, Sequence[float]]],
    lines: Sequence[tuple[str, Sequence[float]]] = (),
    *,
    title: str,
    y_label: str = "",
    chart_id: str = "chart",
    lang: str = "en",
    markers: Sequence[tuple[str, Sequence[float]]] = (),
) -> str:
    """Stacked bars per category (positive parts up, negative parts down), optional lines and
    per-category markers (a short horizontal stroke at a value). Non-finite values are left out,
    as are series of solver noise only (and their legend entries)."""
    import numpy as np

    n = len(categories)
    big = max([abs(v) for _, vals in [*bars, *lines, *markers] for v in vals if math.isfinite(v)] or [0.0])
    tiny = 1e-6 * max(1.0, big)
    # a series keeps its colour when others are left out (the same colour means the same thing in every chart)
    bars = [(name, vals, PALETTE[k % len(PALETTE)]) for k, (name, vals) in enumerate(bars)
            if any(math.isfinite(v) and abs(v) > tiny for v in vals)]
    fig, ax = figure(lang=lang)
    x = np.arange(n)
    pos = np.zeros(n)
    neg = np.zeros(n)
    for name, vals, colour in bars:
        v = np.array([float(t) if math.isfinite(t) and abs(t) > tiny else 0.0 for t in vals])
        up, down = np.where(v > 0, v, 0.0), np.where(v < 0, v, 0.0)
        ax.bar(x, up, 0.6, bottom=pos, color=colour, label=name)
        ax.bar(x, down, 0.6, bottom=neg, color=colour)
        pos += up
        neg += down
    for k, (name, vals) in enumerate(lines):
        pts = [(i, float(v)) for i, v in enumerate(vals) if math.isfinite(v)]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=LINE_COLOURS[k % 4], lw=2,
                    ls="-" if k == 0 else "--", marker="o", ms=4, label=name)
    for k, (name, vals) in enumerate(markers):
        pts = [(i, float(v)) for i, v in enumerate(vals) if math.isfinite(v)]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker="_", s=900, linewidths=2.5,
                       color=LINE_COLOURS[k % 4], zorder=5, label=name)
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xticks(x, list(categories))
    if n > 16:
        ax.tick_params(axis="x", labelrotation=45)
    ax.set_title(title)
    if y_label:
        ax.set_ylabel(y_label)
    thousands(ax)
    _legend_below(ax, len(bars) + sum(1 for _, v in lines if any(map(math.isfinite, v)))
                  + sum(1 for _, v in markers if any(map(math.isfinite, v))))
    return to_svg(fig, chart_id, title)


@drawn_styled
def barh_chart(names: Sequence[str], values: Sequence[float], *, title: str, x_label: str, chart_id: str,
               lang: str = "en") -> str:
    """One horizontal bar per name (names read along the y axis, so long ids never overlap),
    each labelled with its value; positive bars green, negative red."""
    n = len(names)
    fig, ax = figure(height_in=max(2.6, 0.32 * n + 1.4), lang=lang)
    y = list(range(n))[::-1]
    colours = [PALETTE[1] if v >= 0 else PALETTE[9] for v in values]
    ax.barh(y, values, 0.6, color=colours)
    ax.set_yticks(y, list(names))
    ax.grid(axis="x", color="#e5e5e5")
    ax.grid(axis="y", visible=False)
    ax.axvline(0, color="#444", lw=0.8)
    span = max([abs(v) for v in values] or [1.0])
    for yy, v in zip(y, values, strict=True):
        ax.annotate(f"{v:,.0f}" if span >= 10 else f"{v:,.2f}", (v, yy), xytext=(4 if v >= 0 else -4, 0),
                    textcoords="offset points", ha="left" if v >= 0 else "right", va="center", fontsize=8)
    ax.margins(x=0.12)
    ax.set_title(title)
    ax.set_xlabel(x_label)
    thousands(ax, "x")
    return to_svg(fig, chart_id, title)


@drawn_styled
def step_chart(
    steps: Sequence[tuple[str, float, float]],
    levels: Sequence[tuple[str, float]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    chart_id: str = "chart",
    lang: str = "en",
) -> str:
    """A cost curve: (name, width, height) steps left to right, sorted by height, each named in the
    legend with its cost; horizontal price levels."""
    steps = sorted(((n, w, h) for n, w, h in steps if w > 0), key=lambda s: (s[2], s[0]))
    fig, ax = figure(lang=lang)
    x = 0.0
    for k, (name, w, h) in enumerate(steps):
        ax.bar(x, h, w, align="edge", color=PALETTE[k % len(PALETTE)], edgecolor="white", linewidth=0.8,
               label=f"{name} ({h:,.0f})")
        x += w
    for j, (name, v) in enumerate(levels):
        if math.isfinite(v):
            ax.axhline(v, color=("#d62728", "#555555")[j % 2], lw=2, ls="-" if j == 0 else "--", label=f"{name}: {v:,.0f}")
    ax.axhline(0, color="#444", lw=0.8)
    ax.set_xlim(0, max(x, 1.0))
    ax.set_title(title)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    thousands(ax, "x", span=max(x, 1.0))
    thousands(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return to_svg(fig, chart_id, title)


# ------------------------------------------------------------------------- plan charts (tables in)


def _unit_t(lang: str, units: str) -> str:
    return "万t" if units == "wan" else "t CO2"


def position_series(annual: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bars, markers) of the position chart, in t per year (index). Bars: abated, purchases (CEA,
    auctions included), ccer_used, from_holdings (negative: put aside), borrow_t, shortfall_t,
    sales_neg (negative). Markers: gap_before_line = obligation + abatement - allocation (what the
    bars add up to) and gap_line = obligation - allocation."""
    a = annual.groupby("year", sort=True).sum(numeric_only=True)
    alloc = a["allocation_t"]
    buys = a["buy_t"] + a.get("auction_buy_t", 0.0)
    borrow = a.get("borrow_t", 0.0 * alloc)
    holdings = a["surrender_t"] - (alloc + buys + borrow - a["sell_t"])
    abated = a["abatement_measures_t"] + a["abatement_projects_t"]
    gap = a["obligation_t"] - alloc
    bars = pd.DataFrame({"abated": abated, "purchases": buys, "ccer_used": a["ccer_surrendered_t"],
                         "from_holdings": holdings, "borrow_t": borrow, "shortfall_t": a["shortfall_t"],
                         "sales_neg": -a["sell_t"]})
    return bars, pd.DataFrame({"gap_before_line": gap + abated, "gap_line": gap})


def position_chart(annual: pd.DataFrame, lang: str = "en", units: str = "t") -> str:
    """Each year's gap (obligation before abatement minus allocation) and how it is covered:
    abatement, CEA purchases, CCER, holdings drawn (or, below zero, put aside), pre-draw, shortfall;
    CEA sales below zero. The bars add up to the gap before abatement (black stroke); the red
    stroke is the gap that remains after abatement (obligation - allocation). A long year has a
    negative gap: its surplus is sold or put aside."""
    s = scale("x_t", units)
    bars, markers = position_series(annual)

    def name(k: str) -> str:
        return label(k, lang).removesuffix(" t")

    return bar_chart(
        [str(int(y)) for y in bars.index],
        [(name(k), [float(v) / s for v in bars[k]]) for k in bars.columns],
        title=label("chart_position", lang), y_label=_unit_t(lang, units), chart_id="chart-position", lang=lang,
        markers=[(name(k), [float(v) / s for v in markers[k]]) for k in markers.columns],
    )


def cost_chart(costs: pd.DataFrame, lang: str = "en", units: str = "t") -> str:
    """Nominal cost per year by component (``costs``: year, component, nominal_cny); the black line
    is the year's net cost."""
    s = scale("x_cny", units)
    p = costs.pivot_table(index="year", columns="component", values="nominal_cny", aggfunc="sum", sort=False).fillna(0.0)
    p = p.sort_index()
    comps = [c for c in p.columns if (p[c].abs() > 1e-6).any()]
    return bar_chart(
        [str(int(y)) for y in p.index],
        [(label(c, lang), [float(v) / s for v in p[c]]) for c in comps],
        [(label("net_cost_line", lang), [float(v) / s for v in p[comps].sum(axis=1)])] if len(comps) > 1 else [],
        title=label("chart_costs", lang), y_label="万元" if units == "wan" else ("元" if lang == "zh" else "CNY"),
        chart_id="chart-costs", lang=lang,
    )


def carry_chart(annual: pd.DataFrame, lang: str = "en", units: str = "t") -> str:
    """Allowances carried into the next cycle against the carry-over limit."""
    s = scale("x_t", units)
    a = annual.groupby("year", sort=True).sum(numeric_only=True)
    return bar_chart(
        [str(int(y)) for y in a.index],
        [(label("carry_t", lang).removesuffix(" t"), [float(v) / s for v in a["carry_t"]]),
         (label("lapse_t", lang).removesuffix(" t"), [float(v) / s for v in a["lapse_t"]])],
        markers=[(label("carry_limit_t", lang).removesuffix(" t"), [float(v) / s for v in a["carry_limit_t"]])],
        title=label("chart_carry", lang), y_label=_unit_t(lang, units), chart_id="chart-carry", lang=lang,
    )


def mac_chart(mac: pd.DataFrame, prices: list[tuple[str, float]], lang: str = "en", units: str = "t") -> str:
    """MAC curve (``mac``: name, potential_t, cost_cny_per_t) against price levels."""
    s = scale("x_t", units)
    steps = [(str(r.name), float(r.potential_t) / s, float(r.cost_cny_per_t)) for r in mac.itertuples(index=False)]
    return step_chart(steps, prices, title=label("chart_mac", lang),
                      x_label=label("potential_t", lang).removesuffix(" t/yr").removesuffix(" t/年")
                      + (" (万t/年)" if units == "wan" else (" (t/年)" if lang == "zh" else " (t/yr)")),
                      y_label="元/t" if lang == "zh" else "CNY/t", chart_id="chart-mac", lang=lang)
