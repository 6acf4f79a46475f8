"""Writing plan folders and files atomically: a failure or a kill never leaves a half-written plan."""

from __future__ import annotations

import errno
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from planner.errors import PlannerError


def write_file_atomic(path: str | Path, content: bytes) -> Path:
    """Write one file atomically: a hidden temporary sibling, synced, renamed into place."""
    out = Path(path).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_dir() or out.is_symlink():
        raise OutputFolderError(f"{out}: not a plain file")
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


class OutputFolderError(PlannerError):
    """The chosen output folder cannot be replaced safely (it holds something other than a plan)."""

    exit_code = 1


PLAN_MARKER = "plan.json"
"""A folder holding this file is a plan folder, which a new run may replace."""


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # the file system cannot exchange; fall back to two renames
    raise OSError(err, os.strerror(err), str(b))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(out: Path) -> list[tuple[Path, str, int]]:
    """Hidden siblings ``.<name>.tmp-<pid>-*`` / ``.<name>.old-<pid>-*`` of earlier runs."""
    found = []
    for kind in ("tmp", "old"):
        for q in out.parent.glob(f".{glob.escape(out.name)}.{kind}-*"):
            pid = q.name[len(f".{out.name}.{kind}-"):].split("-", 1)[0]
            if pid.isdigit() and q.is_dir() and not q.is_symlink():
                found.append((q, kind, int(pid)))
    return found


def _recover(out: Path) -> None:
    """Clean up after runs that were killed: a missing plan folder whose previous version was moved
    aside is put back; temporary folders of dead processes are removed."""
    stale = [(q, kind) for q, kind, pid in _leftovers(out) if pid != os.getpid() and not _pid_alive(pid)]
    if not out.exists():
        olds = sorted((q for q, kind in stale if kind == "old"), key=lambda q: q.stat().st_mtime)
        if olds:
            os.replace(olds[-1], out)
    for q, _ in stale:
        if q.exists():
            shutil.rmtree(q, ignore_errors=True)


def _check_out_dir(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputFolderError(f"{out}: the output must be a folder (it is replaced as a whole), not a file or link")
    if out.is_dir() and any(out.iterdir()) and not (out / PLAN_MARKER).is_file():
        raise OutputFolderError(
            f"{out}: the folder exists and is not a plan folder (no {PLAN_MARKER}); the output folder "
            "is replaced as a whole, so choose a new or empty folder"
        )
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise OutputFolderError(f"{out}: the output folder cannot be the current folder or one above it")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic_dir(out_dir: str | Path, fill: Callable[[Path], None]) -> Path:
    """Write a whole output folder atomically.

    ``fill`` writes plain files into a hidden temporary sibling (``.<name>.tmp-<pid>-*``), which is
    synced and then swapped with ``out_dir`` in one atomic rename (exchanged on Linux), so at every
    moment ``out_dir`` holds the previous complete folder or the new complete one. A failure or a kill
    leaves the previous folder; hidden leftovers of killed runs are removed by the next run. Only a
    plan folder (or an empty one) is replaced; files ``fill`` writes must be plain names inside.
    """
    out = Path(out_dir).absolute()
    out = out.parent.resolve() / out.name
    out.parent.mkdir(parents=True, exist_ok=True)
    _recover(out)
    _check_out_dir(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        fill(tmp)
        for f in tmp.iterdir():
            if f.is_symlink() or not f.is_file():
                raise OutputFolderError(f"{f.name}: a plan folder holds plain files only")
            _fsync(f)
        _fsync(tmp)
        if not out.exists():
            os.rename(tmp, out)
        elif _rename_exchange(tmp, out):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the previous folder
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
            os.rmdir(old)
            os.replace(out, old)  # between these two renames out is missing; _recover puts old back
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        _fsync(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _plain_name(name: str) -> str:
    """A file name that stays inside the plan folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
        raise OutputFolderError(f"{name!r} is not a plain file name inside the plan folder")
    return name


def write_plan(
    plan,
    out_dir: str | Path,
    audit: dict[str, Any],
    run: dict[str, Any] | None = None,
    *,
    html: bool = False,
    xlsx: bool = False,
    lang: str = "en",
    units: str = "t",
) -> Path:
    """Write a plan folder (CSV per table, plan.json, summary.md, report.html, plan.xlsx, run.json)
    atomically: the reports are made inside the temporary folder, so a failure leaves nothing.

    Every file but ``run.json`` depends only on the input and the options, so two runs of the same
    case write byte-identical files; ``run.json`` holds what differs between runs (timestamp, timings).
    """
    from planner.report.text import markdown_summary, plan_json

    def fill(tmp: Path) -> None:
        for name in plan.TABLES:
            write_table_csv(getattr(plan, name), tmp / _plain_name(f"{name}.csv"))
        (tmp / "summary.md").write_text(markdown_summary(plan, audit), encoding="utf-8")
        if html:
            from planner.report.html import plan_html

            (tmp / "report.html").write_text(plan_html(plan, audit, lang, units), encoding="utf-8")
        if xlsx:
            from planner.report.xlsx import plan_xlsx

            (tmp / "plan.xlsx").write_bytes(plan_xlsx(plan, audit, lang, units))
        if run is not None:
            (tmp / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / PLAN_MARKER).write_text(plan_json(plan, audit), encoding="utf-8")  # last: marks a plan folder

    return write_atomic_dir(out_dir, fill)


def write_table_csv(df, path: Path) -> None:
    """One plan table (a DataFrame) as CSV with 6 decimals; values that print as zero print as
    ``0.000000``, never ``-0.000000`` (solver noise of either sign below half a millionth of a unit)."""
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(6) + 0.0
    out.to_csv(path, index=False, float_format="%.6f", lineterminator="\n")


def write_group_plan(
    gplan,
    out_dir: str | Path,
    audit: dict[str, Any],
    run: dict[str, Any] | None = None,
    *,
    html: bool = True,
    xlsx: bool = True,
    lang: str = "en",
    units: str = "t",
) -> Path:
    """Write a group plan folder atomically: the entity tables (long format, ``entity`` column) under
    their entity-plan names, the group tables, summary.md, report.html, plan.xlsx, plan.json and
    run.json (``run.json`` alone differs between runs of the same input)."""
    from planner.report.group import group_plan_json, markdown_group_summary

    def fill(tmp: Path) -> None:
        for name in gplan.entities.TABLES:
            write_table_csv(getattr(gplan.entities, name), tmp / _plain_name(f"{name}.csv"))
        for name in gplan.TABLES:
            write_table_csv(getattr(gplan, name), tmp / _plain_name(f"{name}.csv"))
        (tmp / "summary.md").write_text(markdown_group_summary(gplan, audit), encoding="utf-8")
        if html:
            from planner.report.html import group_html

            (tmp / "report.html").write_text(group_html(gplan, audit, lang, units), encoding="utf-8")
        if xlsx:
            from planner.report.xlsx import group_xlsx

            (tmp / "plan.xlsx").write_bytes(group_xlsx(gplan, audit, lang, units))
        if run is not None:
            (tmp / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (tmp / PLAN_MARKER).write_text(group_plan_json(gplan, audit), encoding="utf-8")

    return write_atomic_dir(out_dir, fill)
