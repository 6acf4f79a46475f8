"""Observed CEA prices for the back-test, from a daily price file (``shared/data/cn_ets_prices.csv``:
columns ``date, product, close_cny_per_t``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def observed_means(csv_path: str | Path, product: str = "CEA") -> dict[int, float]:
    """Mean daily close of each calendar year (rounded to cents), the observed price of the vintage
    whose trading window (the year of its surrender deadline) is that year."""
    d = pd.read_csv(csv_path, usecols=["date", "product", "close_cny_per_t"], parse_dates=["date"])
    d = d[d["product"] == product]
    g = d.groupby(d["date"].dt.year)["close_cny_per_t"].mean()
    return {int(y): round(float(v), 2) for y, v in g.items()}
