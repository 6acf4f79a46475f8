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

from planner.errors import OutputError, PlannerError
from planner.report.write import neutralise_text, output_errors

MANIFEST = "sweep.json"


class SweepFolderError(OutputError):
    """The output folder is a file, holds something else, holds another sweep or one run with
    other settings, or holds parts without --resume (exit 5)."""


def digest(obj: Any) -> str:
    """The SHA-256 of ``obj`` as JSON with sorted keys (what a sweep records of its inputs)."""
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


def check_out_dir(out: str | Path, *, resume: bool) -> None:
    """Refuse an output folder a sweep cannot use, before any work: a file or a link, a folder that
    holds files but no sweep, a sweep folder with parts when not resuming, a resume without a sweep."""
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise SweepFolderError(f"{out}: the --out of a sweep must be a folder, not a file or link")
    mpath = out / MANIFEST
    if mpath.is_file():
        parts = out / "parts"
        if not resume and parts.is_dir() and any(parts.glob("part-*.parquet")):
            raise SweepFolderError(
                f"{out} already holds scenarios of a sweep; pass --resume to complete it, "
                "or choose another --out folder"
            )
    elif out.is_dir() and any(out.iterdir()):
        raise SweepFolderError(f"{out} is not empty and is not a sweep folder; choose another --out folder")
    elif resume and out.exists():
        raise SweepFolderError(f"{out} holds no sweep to resume (no {MANIFEST})")


_SAME = ("case_sha256", "sweep_sha256", "settings")
"""What must be the same in a sweep folder and the sweep that resumes it."""


def open_out_dir(out: str | Path, manifest: dict[str, Any], *, resume: bool) -> set[str]:
    """Prepare ``out`` for a sweep; return the ids of scenarios already finished there.

    A folder with parts of a sweep is reused only with ``resume`` and only for the same case, sweep
    and settings (tables, chunk size, solver options: what the rows depend on; the number of
    workers and the scheduler may change); leftover temporary files of a killed run are removed.
    """
    out = Path(out)
    check_out_dir(out, resume=resume)
    parts = out / "parts"
    mpath = out / MANIFEST
    if mpath.is_file() and resume:
        try:
            old = json.loads(mpath.read_text(encoding="utf-8"))
            if not isinstance(old, dict):
                raise ValueError("not a mapping")
        except (OSError, ValueError) as exc:
            raise SweepFolderError(f"{out}: {MANIFEST} cannot be read ({exc}); choose another --out folder") from None
        differ = [k for k in _SAME if old.get(k) != manifest.get(k)]
        if differ:
            what = {"case_sha256": "its case", "sweep_sha256": "its sweep file"}
            said = [what[k] for k in differ if k in what]
            if "settings" in differ:
                now, then = manifest.get("settings") or {}, old.get("settings") or {}
                said += [f"{k} {then.get(k, '(not recorded)')!r} then, {now.get(k)!r} now"
                         for k in sorted(set(now) | set(then)) if now.get(k) != then.get(k)]
            raise SweepFolderError(
                f"{out} holds a sweep run with other settings ({'; '.join(said)} differ); "
                "--resume completes only the same sweep with the same settings (--workers may change)"
            )
    with output_errors(out, "the sweep folder"):
        parts.mkdir(parents=True, exist_ok=True)
        for tmp in list(out.glob(".*.tmp-*")) + list(parts.glob(".*.tmp-*")):
            if tmp.is_file() and not tmp.is_symlink():
                tmp.unlink(missing_ok=True)
        _write_bytes_atomic(mpath, json.dumps(manifest, indent=2, sort_keys=True).encode())
    return done_ids(out) if resume else set()


def done_ids(out: str | Path) -> set[str]:
    """The scenarios already in the finished parts under ``out`` (what --resume skips)."""
    ids: set[str] = set()
    for p in sorted((Path(out) / "parts").glob("part-*.parquet")):
        ids.update(pd.read_parquet(p, columns=["scenario"])["scenario"].astype(str).unique())
    return ids


def write_part(out: str | Path, frame: pd.DataFrame, first_id: str) -> Path:
    """Write finished scenarios ``frame`` as a new part file under ``out/parts`` (atomically)."""
    path = Path(out) / "parts" / f"part-{first_id}-{os.getpid()}-{os.urandom(3).hex()}.parquet"
    with output_errors(out, "a finished part of the sweep", "finished scenarios are kept: run again with --resume"):
        _write_frame_atomic(path, frame)
    return path


def read_parts(out: str | Path) -> pd.DataFrame:
    """Every finished part under ``out`` in one table (empty when there is none)."""
    files = sorted((Path(out) / "parts").glob("part-*.parquet"))
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)


def write_results(out: str | Path, frame: pd.DataFrame, scenarios: pd.DataFrame) -> None:
    """Write the sweep's results.parquet and scenarios.csv (text cells neutralised for
    spreadsheets), atomically."""
    out = Path(out)
    with output_errors(out, "the sweep's result tables", "finished scenarios are kept: run again with --resume"):
        _write_frame_atomic(out / "results.parquet", frame)
        _write_frame_atomic(out / "scenarios.csv", neutralise_text(scenarios))


def write_parquet(path: str | Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` to ``path`` atomically, making its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_frame_atomic(path, frame)
    return path


def save_figures(out: str | Path, figures: dict[str, Any]) -> list[Path]:
    """Save matplotlib figures as PNG under ``out/plots``."""
    from planner.report.charts import to_png

    d = Path(out) / "plots"
    paths = []
    with output_errors(out, "the sweep's plots", "the result tables are written"):
        d.mkdir(parents=True, exist_ok=True)
        for name, fig in figures.items():
            p = d / f"{name}.png"
            tmp = d / f".{name}.tmp-{os.getpid()}.png"
            to_png(fig, tmp)
            os.replace(tmp, p)
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
