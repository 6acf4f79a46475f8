"""File access of sweeps (the sweep's counterpart of ``planner.input.read``): sweep files, the streamed
scenario parts of an output folder, resume, the final Parquet/CSV tables and a price history.

Output folder layout::

    DIR/sweep.json              what is being swept (case and sweep hashes, scenario ids)
    DIR/parts/part-*.parquet    finished scenarios, one file per finished chunk (atomic renames)
    DIR/results.parquet         all scenarios, one tidy long table (written when the sweep completes)
    DIR/scenarios.csv           one row per scenario (headline results)
    DIR/plots/*.png             plots (when enabled)

A part is written to a hidden temporary file and renamed into place, so a killed sweep leaves only
complete parts; ``--resume`` reads them and solves only the scenarios that no part holds.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.errors import PlannerError

MANIFEST = "sweep.json"


class SweepFolderError(PlannerError):
    """The output folder holds another sweep, or parts without --resume."""

    exit_code = 1


def digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_frame_atomic(path: Path, frame: pd.DataFrame) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    if path.suffix == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def open_out_dir(out: str | Path, manifest: dict[str, Any], *, resume: bool) -> set[str]:
    """Prepare ``out`` for a sweep; return the ids of scenarios already finished there.

    A folder with parts of a sweep is reused only with ``resume`` and only for the same case and
    sweep (same hashes); leftover temporary files of a killed run are removed.
    """
    out = Path(out)
    parts = out / "parts"
    mpath = out / MANIFEST
    if mpath.exists():
        old = json.loads(mpath.read_text())
        has_parts = any(parts.glob("part-*.parquet")) if parts.is_dir() else False
        if has_parts and not resume:
            raise SweepFolderError(
                f"{out} already holds scenarios of a sweep; pass --resume to complete it, "
                "or choose another --out folder"
            )
        if resume and (old.get("case_sha256"), old.get("sweep_sha256")) != (
            manifest["case_sha256"],
            manifest["sweep_sha256"],
        ):
            raise SweepFolderError(
                f"{out} holds a different sweep (its case or sweep file changed); "
                "--resume completes only the same sweep"
            )
    elif out.exists() and any(out.iterdir()):
        raise SweepFolderError(
            f"{out} is not empty and is not a sweep folder; choose another --out folder"
        )
    parts.mkdir(parents=True, exist_ok=True)
    for tmp in list(out.glob(".*.tmp-*")) + list(parts.glob(".*.tmp-*")):
        tmp.unlink(missing_ok=True)
    _write_bytes_atomic(mpath, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return done_ids(out) if resume else set()


def done_ids(out: str | Path) -> set[str]:
    ids: set[str] = set()
    for p in sorted((Path(out) / "parts").glob("part-*.parquet")):
        ids.update(pd.read_parquet(p, columns=["scenario"])["scenario"].astype(str).unique())
    return ids


def write_part(out: str | Path, frame: pd.DataFrame, first_id: str) -> Path:
    path = Path(out) / "parts" / f"part-{first_id}-{os.getpid()}-{os.urandom(3).hex()}.parquet"
    _write_frame_atomic(path, frame)
    return path


def read_parts(out: str | Path) -> pd.DataFrame:
    files = sorted((Path(out) / "parts").glob("part-*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def write_results(out: str | Path, frame: pd.DataFrame, scenarios: pd.DataFrame) -> None:
    out = Path(out)
    _write_frame_atomic(out / "results.parquet", frame)
    _write_frame_atomic(out / "scenarios.csv", scenarios)


def write_parquet(path: str | Path, frame: pd.DataFrame) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_frame_atomic(path, frame)
    return path


def save_figures(out: str | Path, figures: dict[str, Any]) -> list[Path]:
    """Save matplotlib figures as PNG under ``out/plots``."""
    import matplotlib.pyplot as plt

    d = Path(out) / "plots"
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        p = d / f"{name}.png"
        tmp = d / f".{name}.tmp-{os.getpid()}.png"
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, p)
        plt.close(fig)
        paths.append(p)
    return paths


def price_volatility(csv_path: str | Path, product: str = "CEA") -> dict[str, Any]:
    """Annualised volatility of daily log price changes in a price history CSV
    (columns ``date, product, close_cny_per_t``, as ``shared/data/cn_ets_prices.csv``): std x sqrt(252)."""
    df = pd.read_csv(csv_path, usecols=["date", "product", "close_cny_per_t"])
    s = df[df["product"] == product].dropna().sort_values("date")
    if len(s) < 3:
        raise PlannerError(
            f"{csv_path}: fewer than 3 {product} prices; cannot estimate a volatility"
        )
    r = np.diff(np.log(s["close_cny_per_t"].to_numpy(dtype=float)))
    return {
        "volatility": float(np.std(r, ddof=1) * np.sqrt(252.0)),
        "days": int(len(s)),
        "first_date": str(s["date"].iloc[0]),
        "last_date": str(s["date"].iloc[-1]),
        "product": product,
        "source": str(csv_path),
    }
