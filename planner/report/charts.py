"""Charts as inline SVG text: no JavaScript, no network, byte-identical for the same numbers.

Generic functions over plain lists (reusable by group and sweep reports) and plan charts over
plain pandas tables. Never imports Pyomo.
"""

from __future__ import annotations

import math
from html import escape

import pandas as pd

from planner.report.labels import label, scale

PALETTE = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#d62728")
W, H = 760, 360
ML, MR, MT, MB = 78, 190, 40, 40


def _nice(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(hi - lo)) or hi <= lo:
        lo, hi = (lo, lo + 1.0) if math.isfinite(lo) else (0.0, 1.0)
    step = (hi - lo) / n
    if step <= 0 or not math.isfinite(step):
        lo, hi, step = 0.0, 1.0, 0.2
    mag = 10 ** math.floor(math.log10(step))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= step)
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    for k in range(4 * n + 4):  # bounded: no endless loop where step is below the float spacing
        v = start + k * step
        ticks.append(round(v, 10))
        if v >= hi - step * 1e-9:
            break
    if len(ticks) < 2 or ticks[-1] <= ticks[0]:
        return [lo, lo + 1.0] if lo + 1.0 > lo else [lo, lo * 1.01 + 1.0]
    return ticks


def _tick_text(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:g}G"
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def _f(x: float) -> str:
    return f"{x:.1f}"


def bar_chart(
    categories: list[str],
    bars: list[tuple[str, list[float]]],
    lines: list[tuple[str, list[float]]] = (),
    *,
    title: str,
    y_label: str = "",
    chart_id: str = "chart",
) -> str:
    """Stacked bars per category (positive parts up, negative parts down) with optional lines.

    Non-finite values are left out. Returns one ``<svg>`` element.
    """
    n = max(len(categories), 1)
    big = max([abs(v) for _, vals in [*bars, *lines] for v in vals if math.isfinite(v)] or [0.0])
    tiny = 1e-6 * max(1.0, big)  # series of solver noise only are left out (and out of the legend)
    bars = [(name, vals) for name, vals in bars if any(math.isfinite(v) and abs(v) > tiny for v in vals)]
    pos = [0.0] * n
    neg = [0.0] * n
    for _, vals in bars:
        for i, v in enumerate(vals):
            if math.isfinite(v):
                if v >= 0:
                    pos[i] += v
                else:
                    neg[i] += v
    line_vals = [v for _, vals in lines for v in vals if math.isfinite(v)]
    lo = min([0.0, *neg, *line_vals])
    hi = max([0.0, *pos, *line_vals])
    ticks = _nice(lo, hi)
    y0, y1 = ticks[0], ticks[-1]
    pw, ph = W - ML - MR, H - MT - MB

    def y(v: float) -> float:
        return MT + ph * (1 - (v - y0) / (y1 - y0))

    slot = pw / n
    bw = slot * 0.6
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" viewBox="0 0 {W} {H}" '
           f'width="{W}" height="{H}" role="img" aria-label="{escape(title)}">',
           f'<title>{escape(title)}</title>',
           f'<text x="{ML}" y="22" class="ct">{escape(title)}</text>']
    for t in ticks:
        out.append(f'<line x1="{ML}" x2="{ML + pw}" y1="{_f(y(t))}" y2="{_f(y(t))}" class="grid"/>'
                   f'<text x="{ML - 6}" y="{_f(y(t) + 4)}" class="yt">{escape(_tick_text(t))}</text>')
    if y_label:
        out.append(f'<text x="14" y="{_f(MT + ph / 2)}" class="yl" transform="rotate(-90 14 {_f(MT + ph / 2)})">{escape(y_label)}</text>')
    base_p = [0.0] * n
    base_n = [0.0] * n
    for k, (name, vals) in enumerate(bars):
        color = PALETTE[k % len(PALETTE)]
        for i, v in enumerate(vals):
            if not math.isfinite(v) or abs(v) <= tiny:
                continue
            if v >= 0:
                a, b = base_p[i], base_p[i] + v
                base_p[i] = b
            else:
                a, b = base_n[i] + v, base_n[i]
                base_n[i] = a
            x = ML + slot * i + (slot - bw) / 2
            out.append(f'<rect x="{_f(x)}" y="{_f(y(b))}" width="{_f(bw)}" height="{_f(max(y(a) - y(b), 0.5))}" '
                       f'fill="{color}"><title>{escape(categories[i])} {escape(name)}: {v:,.2f}</title></rect>')
    for k, (_name, vals) in enumerate(lines):
        color = ("#000000", "#d62728", "#555555", "#e377c2")[k % 4]
        pts = [(ML + slot * (i + 0.5), y(v)) for i, v in enumerate(vals) if math.isfinite(v)]
        if len(pts) > 1:
            out.append(f'<polyline points="{" ".join(f"{_f(px)},{_f(py)}" for px, py in pts)}" fill="none" '
                       f'stroke="{color}" stroke-width="2" stroke-dasharray="{"" if k == 0 else "6 3"}"/>')
        for px, py in pts:
            out.append(f'<circle cx="{_f(px)}" cy="{_f(py)}" r="3" fill="{color}"/>')
    out.append(f'<line x1="{ML}" x2="{ML + pw}" y1="{_f(y(0))}" y2="{_f(y(0))}" class="axis"/>')
    step = max(1, math.ceil(n / 16))
    for i, c in enumerate(categories):
        if i % step == 0:
            out.append(f'<text x="{_f(ML + slot * (i + 0.5))}" y="{H - MB + 16}" class="xt">{escape(c)}</text>')
    _legend(out, [(name, PALETTE[k % len(PALETTE)], "box") for k, (name, _) in enumerate(bars)]
            + [(name, ("#000000", "#d62728", "#555555", "#e377c2")[k % 4], "line") for k, (name, _) in enumerate(lines)])
    out.append("</svg>")
    return "\n".join(out)


def _legend(out: list[str], items: list[tuple[str, str, str]]) -> None:
    x = W - MR + 14
    for j, (name, color, kind) in enumerate(items):
        yy = MT + 6 + j * 18
        if kind == "box":
            out.append(f'<rect x="{x}" y="{yy - 9}" width="12" height="12" fill="{color}"/>')
        else:
            out.append(f'<line x1="{x}" x2="{x + 12}" y1="{yy - 3}" y2="{yy - 3}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{x + 18}" y="{yy + 1}" class="lg">{escape(name)}</text>')


def step_chart(
    steps: list[tuple[str, float, float]],
    levels: list[tuple[str, float]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    chart_id: str = "chart",
) -> str:
    """A cost curve: (name, width, height) steps left to right, sorted by height; horizontal levels."""
    steps = sorted(steps, key=lambda s: (s[2], s[0]))
    total = sum(max(w, 0.0) for _, w, _ in steps) or 1.0
    heights = [h for _, _, h in steps] + [v for _, v in levels if math.isfinite(v)]
    ticks = _nice(min([0.0, *heights]), max([0.0, *heights]))
    y0, y1 = ticks[0], ticks[-1]
    pw, ph = W - ML - MR, H - MT - MB

    def y(v: float) -> float:
        return MT + ph * (1 - (v - y0) / (y1 - y0))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" viewBox="0 0 {W} {H}" '
           f'width="{W}" height="{H}" role="img" aria-label="{escape(title)}">',
           f'<title>{escape(title)}</title>',
           f'<text x="{ML}" y="22" class="ct">{escape(title)}</text>']
    for t in ticks:
        out.append(f'<line x1="{ML}" x2="{ML + pw}" y1="{_f(y(t))}" y2="{_f(y(t))}" class="grid"/>'
                   f'<text x="{ML - 6}" y="{_f(y(t) + 4)}" class="yt">{escape(_tick_text(t))}</text>')
    out.append(f'<text x="14" y="{_f(MT + ph / 2)}" class="yl" transform="rotate(-90 14 {_f(MT + ph / 2)})">{escape(y_label)}</text>')
    x = 0.0
    for k, (name, w, h) in enumerate(steps):
        if w <= 0:
            continue
        px = ML + pw * x / total
        ww = pw * w / total
        top, bot = (y(h), y(0)) if h >= 0 else (y(0), y(h))
        out.append(f'<rect x="{_f(px)}" y="{_f(top)}" width="{_f(max(ww - 1, 0.5))}" height="{_f(max(bot - top, 0.5))}" '
                   f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(name)}: {w:,.0f} t at {h:,.2f} CNY/t</title></rect>')
        if ww > 40:
            out.append(f'<text x="{_f(px + ww / 2)}" y="{_f(top - 4)}" class="xt">{escape(name[:14])}</text>')
        x += w
    for j, (_name, v) in enumerate(levels):
        if math.isfinite(v):
            color = ("#d62728", "#555555")[j % 2]
            out.append(f'<line x1="{ML}" x2="{ML + pw}" y1="{_f(y(v))}" y2="{_f(y(v))}" stroke="{color}" stroke-width="2" '
                       f'stroke-dasharray="{"" if j == 0 else "6 3"}"/>')
    out.append(f'<line x1="{ML}" x2="{ML + pw}" y1="{_f(y(0))}" y2="{_f(y(0))}" class="axis"/>')
    out.append(f'<text x="{_f(ML + pw / 2)}" y="{H - 8}" class="xt">{escape(x_label)}: 0 - {total:,.0f}</text>')
    _legend(out, [(name, ("#d62728", "#555555")[j % 2], "line") for j, (name, v) in enumerate(levels) if math.isfinite(v)])
    out.append("</svg>")
    return "\n".join(out)


# ------------------------------------------------------------------------- plan charts (tables in)


def position_chart(annual: pd.DataFrame, lang: str = "en", units: str = "t") -> str:
    """How each year's obligation is covered: allocation, purchases, sales (negative), holdings drawn
    (carry-over; negative when allowances are put aside), pre-draw, CCER, shortfall. The bars add up
    to the obligation line; the gap to the baseline line is the abatement."""
    s = scale("x_t", units)
    a = annual.groupby("year", sort=True).sum(numeric_only=True)
    alloc = a["allocation_t"]
    buys = a["buy_t"] + a.get("auction_buy_t", 0.0)
    borrow = a.get("borrow_t", 0.0 * alloc)
    holdings = a["surrender_t"] - (alloc + buys + borrow - a["sell_t"])
    bars = [
        (label("allocation_t", lang).removesuffix(" t"), alloc),
        (label("purchases", lang), buys),
        (label("sales_neg", lang), -a["sell_t"]),
        (label("from_holdings", lang), holdings),
        (label("borrow_t", lang).removesuffix(" t"), borrow),
        (label("ccer_used", lang), a["ccer_surrendered_t"]),
        (label("shortfall_t", lang).removesuffix(" t"), a["shortfall_t"]),
    ]
    lines = [(label("obligation_line", lang), a["obligation_t"]), (label("baseline_line", lang), a["emissions_baseline_t"])]
    return bar_chart(
        [str(int(y)) for y in a.index],
        [(n, [float(v) / s for v in vals]) for n, vals in bars],
        [(n, [float(v) / s for v in vals]) for n, vals in lines],
        title=label("chart_position", lang), y_label="万t" if units == "wan" else "t CO2", chart_id="chart-position",
    )


def cost_chart(costs: pd.DataFrame, lang: str = "en", units: str = "t") -> str:
    """Nominal cost per year by component (``costs``: year, component, nominal_cny)."""
    s = scale("x_cny", units)
    p = costs.pivot_table(index="year", columns="component", values="nominal_cny", aggfunc="sum", sort=False).fillna(0.0)
    p = p.sort_index()
    comps = [c for c in p.columns if (p[c].abs() > 1e-6).any()]
    return bar_chart(
        [str(int(y)) for y in p.index],
        [(label(c, lang), [float(v) / s for v in p[c]]) for c in comps],
        title=label("chart_costs", lang), y_label="万元" if units == "wan" else "CNY", chart_id="chart-costs",
    )


def carry_chart(annual: pd.DataFrame, lang: str = "en", units: str = "t") -> str:
    """Allowances carried into the next cycle against the carry-over limit."""
    s = scale("x_t", units)
    a = annual.groupby("year", sort=True).sum(numeric_only=True)
    return bar_chart(
        [str(int(y)) for y in a.index],
        [(label("carry_t", lang).removesuffix(" t"), [float(v) / s for v in a["carry_t"]]),
         (label("lapse_t", lang).removesuffix(" t"), [float(v) / s for v in a["lapse_t"]])],
        [(label("carry_limit_t", lang).removesuffix(" t"), [float(v) / s for v in a["carry_limit_t"]])],
        title=label("chart_carry", lang), y_label="万t" if units == "wan" else "t", chart_id="chart-carry",
    )


def mac_chart(mac: pd.DataFrame, prices: list[tuple[str, float]], lang: str = "en", units: str = "t") -> str:
    """MAC curve (``mac``: name, potential_t, cost_cny_per_t) against price levels."""
    s = scale("x_t", units)
    steps = [(str(r.name), float(r.potential_t) / s, float(r.cost_cny_per_t)) for r in mac.itertuples(index=False)]
    return step_chart(steps, prices, title=label("chart_mac", lang),
                      x_label=label("potential_t", lang) + (" (万t)" if units == "wan" else ""),
                      y_label="CNY/t", chart_id="chart-mac")
