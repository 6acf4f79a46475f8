"""Writing plan folders and files atomically: a failure or a kill never leaves a half-written plan,
and a run never deletes a file this program did not write.

A plan folder holds ``manifest.json``: the name and SHA-256 of every file the planner wrote into it.
A new run replaces the folder only when it holds exactly those files, unchanged (a folder written
before manifests existed: only files with the names of plan files); anything else is refused with
the foreign or changed files named, and nothing is touched. The check is made before the solve
(``check_output_dir``) and again, under a lock on the parent folder, just before the swap.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from planner.errors import OutputError

OutputFolderError = OutputError
"""The name this error had before every output problem got exit code 5."""

PLAN_MARKER = "plan.json"
"""A folder holding this file (and a manifest) is a plan folder, which a new run may replace."""
MANIFEST = "manifest.json"
"""The files a run wrote into a plan folder, with their SHA-256 (``run.json`` by name only: it
differs between runs, and the manifest does not)."""
_OS_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
"""Files a file browser leaves in any folder it shows: not the user's data, removed with the folder."""
_LOCK_WAIT_S = 60.0
"""How long a run waits for another run that is swapping a folder in the same parent."""

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENAMETOOLONG: "a file name is too long",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "another program created it meanwhile",
    errno.ENOTEMPTY: "another program created it meanwhile",
    errno.EBUSY: "it is a mount point or in use",
    errno.EXDEV: "it is on another file system than its parent (a mount point)",
    errno.EISDIR: "a folder is in the way",
    errno.ELOOP: "too many levels of links",
    errno.EIO: "input/output error",
}


def os_reason(exc: OSError) -> str:
    """A short reason for an operating-system error, in words."""
    return _REASONS.get(exc.errno or 0) or (exc.strerror or str(exc) or type(exc).__name__)


@contextlib.contextmanager
def output_errors(path: str | Path, what: str, after: str = "nothing was changed") -> Iterator[None]:
    """Operating-system errors inside the block become one ``OutputError`` (exit 5) naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"{path}: cannot write {what}: {os_reason(exc)} ({after})") from exc


def _umask() -> int:
    """The process's umask, read without changing it (``/proc``), else by setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_file_atomic(path: str | Path, content: bytes) -> Path:
    """Write one file atomically: a hidden temporary sibling, synced, renamed into place (with the
    permissions the umask gives a new file)."""
    out = Path(path).absolute()
    with output_errors(out, "the file"):
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_dir() or out.is_symlink():
            raise OutputError(f"{out}: not a plain file; choose a file name")
        fd, tmp = tempfile.mkstemp(prefix=f".{_stem(out)}.tmp-{os.getpid()}-", dir=out.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fchmod(f.fileno(), 0o666 & ~_umask())
                os.fsync(f.fileno())
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return out


def _stem(out: Path) -> str:
    """The name in the hidden temporary siblings of ``out``: its own, shortened when long (a
    temporary name must stay within the file system's 255 bytes)."""
    name = out.name
    if len(os.fsencode(name)) <= 160:
        return name
    return name[:60] + "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]


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
    stem = _stem(out)
    for kind in ("tmp", "old"):
        for q in out.parent.glob(f".{glob.escape(stem)}.{kind}-*"):
            pid = q.name[len(f".{stem}.{kind}-"):].split("-", 1)[0]
            if pid.isdigit() and q.is_dir() and not q.is_symlink():
                found.append((q, kind, int(pid)))
    return found


def _recover(out: Path) -> None:
    """Clean up after runs that were killed: a missing plan folder whose previous version was moved
    aside is put back; temporary folders of dead processes are removed (a previous plan folder only
    as far as its manifest goes)."""
    stale = [(q, kind) for q, kind, pid in _leftovers(out) if pid != os.getpid() and not _pid_alive(pid)]
    if not out.exists():
        olds = sorted((q for q, kind in stale if kind == "old"), key=lambda q: q.stat().st_mtime)
        if olds:
            os.replace(olds[-1], out)
    for q, kind in stale:
        if q.exists():
            if kind == "tmp":  # a new plan being written: only this program's files
                shutil.rmtree(q, ignore_errors=True)
            else:
                _remove_plan_dir(q, out)


def _manifest(folder: Path) -> dict[str, str | None] | None:
    """The files a plan folder's manifest lists (name -> SHA-256, None for run.json); None without
    a readable manifest."""
    path = folder / MANIFEST
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > 1_000_000:
            return None
        body = json.loads(path.read_text(encoding="utf-8"))
        files = body["files"]
        if body.get("written_by") != "cn-ets-planner" or not isinstance(files, dict):
            return None
        return {str(k): (v if isinstance(v, str) else None) for k, v in files.items()}
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plan_file_names() -> set[str]:
    """Every file name a plan folder may hold: what a run wrote before manifests existed."""
    from planner.plan.entity import Plan
    from planner.plan.group import GroupPlan

    return {f"{t}.csv" for t in Plan.TABLES + GroupPlan.TABLES} | {
        PLAN_MARKER, "summary.md", "report.html", "plan.xlsx", "run.json"}


def foreign_files(folder: Path) -> tuple[list[str], list[str]]:
    """(files this program did not write, files it wrote that changed since) in an existing plan
    folder; both empty when the folder may be replaced. A folder without a manifest may be
    replaced when it is empty, or when it holds a plan (``plan.json``) and nothing but files
    with the names of plan files (written before manifests existed)."""
    entries = sorted(os.listdir(folder))
    listed = _manifest(folder)
    if listed is None:
        if not entries:
            return [], []
        if PLAN_MARKER not in entries:
            return [e for e in entries if e not in _OS_FILES], []
        known = _plan_file_names()
        return [e for e in entries if e not in known and e not in _OS_FILES or not (folder / e).is_file()], []
    foreign, changed = [], []
    for e in entries:
        p = folder / e
        if e == MANIFEST or e in _OS_FILES and p.is_file():
            continue
        if e not in listed or p.is_symlink() or not p.is_file():
            foreign.append(e)
        elif listed[e] is not None and _sha256(p) != listed[e]:
            changed.append(e)
    return foreign, changed


def _names(names: list[str], n: int = 8) -> str:
    shown = [repr(x) if not x.isprintable() or len(x) > 60 else x for x in names[:n]]
    return ", ".join(shown) + (f" and {len(names) - n} more" if len(names) > n else "")


def check_output_dir(out_dir: str | Path) -> Path:
    """Refuse (``OutputError``, exit 5) an output folder that a run could not replace, before any
    work is done: a file or a link, the current folder or one above it, a mount point, a path
    through a file, a folder without write permission, a folder with files this program did not
    write (or wrote and someone changed). Returns the folder's absolute path."""
    out = Path(out_dir).absolute()
    try:
        out = out.parent.resolve() / out.name
    except (OSError, RuntimeError) as exc:
        raise OutputError(f"{out}: cannot use this output folder: {exc}") from None
    with output_errors(out, "the plan folder"):
        _check_out_dir(out)
        probe = out.parent  # the folder is swapped in its parent (made first when missing)
        while not probe.exists() and not probe.is_symlink():
            probe = probe.parent
        if not probe.is_dir():
            raise OutputError(f"{out}: cannot write the plan folder: {probe} is a file, not a folder (nothing was changed)")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise OutputError(f"{out}: cannot write the plan folder: permission denied in {probe} (nothing was changed)")
    return out


def _check_out_dir(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{out}: the output must be a folder (it is replaced as a whole), not a file or link")
    cwd = Path.cwd().resolve()
    if out == cwd or out in cwd.parents:
        raise OutputError(f"{out}: the output folder cannot be the current folder or one above it")
    if out.is_dir() and os.path.ismount(out):
        raise OutputError(f"{out}: is a mount point and cannot be replaced; choose a folder inside it")
    if out.is_dir():
        foreign, changed = foreign_files(out)
        if foreign or changed:
            parts = []
            if foreign:
                parts.append(f"files this program did not write: {_names(foreign)}")
            if changed:
                parts.append(f"plan files changed since they were written: {_names(changed)}")
            raise OutputError(
                f"{out}: the folder holds {'; '.join(parts)}. A run replaces its plan folder as a whole, "
                "so it never replaces this one; move those files away, or choose a new or empty folder "
                "(nothing was changed)"
            )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _parent_lock(parent: Path, out: Path) -> Iterator[None]:
    """An exclusive lock on the parent folder while a run checks and swaps ``out``: two runs
    writing the same folder take turns (the later one replaces the earlier's plan, as if run one
    after the other)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OutputError(f"{out}: another program has held a lock on {parent} for "
                                      f"{_LOCK_WAIT_S:.0f} s; try again (nothing was changed)") from None
                time.sleep(0.05)
            except OSError:  # a file system without locks: go on unlocked
                break
        yield
    finally:
        os.close(fd)


def _remove_plan_dir(old: Path, out: Path) -> None:
    """Delete a previous plan folder moved aside: the files its manifest lists (or, written before
    manifests, files with plan file names), then the folder. Anything else found in it (put there
    while the run swapped folders) is kept: the folder is renamed to a visible sibling of ``out``."""
    listed = _manifest(old)
    keep = set(listed) if listed is not None else _plan_file_names()
    for e in os.listdir(old):
        p = old / e
        if (e in keep or e in _OS_FILES or e == MANIFEST) and p.is_file() and not p.is_symlink():
            p.unlink(missing_ok=True)
    try:
        os.rmdir(old)
    except OSError:
        kept = out.with_name(f"{_stem(out)}.kept-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
        os.replace(old, kept)
        import logging

        logging.getLogger(__name__).warning("%s: files put into the previous plan folder while it was replaced "
                                            "are kept in %s", out, kept)


def write_atomic_dir(out_dir: str | Path, fill: Callable[[Path], None]) -> Path:
    """Write a whole output folder atomically.

    ``fill`` writes plain files into a hidden temporary sibling (``.<name>.tmp-<pid>-*``); a
    manifest of them is added, and the folder is synced and then swapped with ``out_dir`` in one
    atomic rename (exchanged on Linux), so at every moment ``out_dir`` holds the previous complete
    folder or the new complete one. A failure or a kill leaves the previous folder; hidden leftovers
    of killed runs are removed by the next run. Only a plan folder whose files all are in its
    manifest, unchanged (or an empty folder) is replaced (``check_output_dir``); operating-system
    errors become ``OutputError`` (exit 5) naming the folder.
    """
    out = check_output_dir(out_dir)
    with output_errors(out, "the plan folder"):
        out.parent.mkdir(parents=True, exist_ok=True)
        with _parent_lock(out.parent, out):
            _recover(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{_stem(out)}.tmp-{os.getpid()}-", dir=out.parent))
        try:
            fill(tmp)
            files: dict[str, str | None] = {}
            for f in sorted(tmp.iterdir()):
                if f.is_symlink() or not f.is_file():
                    raise OutputError(f"{f.name}: a plan folder holds plain files only")
                if f.name == MANIFEST:
                    raise OutputError(f"{f.name}: a plan file cannot be named {MANIFEST}")
                files[f.name] = None if f.name == "run.json" else _sha256(f)
                _fsync(f)
            manifest = {"written_by": "cn-ets-planner", "files": files}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            _fsync(tmp / MANIFEST)
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; the plan folder follows the umask
            _fsync(tmp)
            with _parent_lock(out.parent, out):
                _recover(out)
                _check_out_dir(out)
                previous = None
                if not out.exists():
                    os.rename(tmp, out)
                elif _rename_exchange(tmp, out):
                    previous = tmp  # tmp now holds the previous folder
                else:
                    previous = Path(tempfile.mkdtemp(prefix=f".{_stem(out)}.old-{os.getpid()}-", dir=out.parent))
                    os.rmdir(previous)
                    os.replace(out, previous)  # between these two renames out is missing; _recover puts it back
                    os.replace(tmp, out)
        except BaseException:
            if tmp.exists() and tmp != out:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
    # the new plan is in place: what follows cannot undo it, so its failures are only logged
    try:
        if previous is not None:
            _remove_plan_dir(previous, out)
        _fsync(out.parent)
    except OSError as exc:
        import logging

        logging.getLogger(__name__).warning("%s: the plan is written; removing the previous one failed: %s", out, exc)
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


def formula_like(text: str) -> bool:
    """Whether a spreadsheet opening a CSV file would take this text cell for a formula: it starts
    with ``=``, ``@``, a tab or a carriage return, or with ``+`` or ``-`` and is not just a number
    (or a lone sign)."""
    if not text:
        return False
    if text[0] in "=@\t\r":
        return True
    from planner.input.numbers import parse_number

    return text[0] in "+-" and len(text) > 1 and parse_number(text) is None


def neutralise_text(df):
    """A copy of ``df`` whose text cells a spreadsheet would run as a formula (``formula_like``;
    ids, names and statements come from input files) start with an apostrophe, the spreadsheet
    sign for text (plan.xlsx writes them as text cells); numbers are left alone."""
    import pandas as pd

    out = df.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
            if col.map(lambda v: isinstance(v, str) and formula_like(v)).any():
                out[c] = col.map(lambda v: "'" + v if isinstance(v, str) and formula_like(v) else v).astype(col.dtype)
    return out


def write_table_csv(df, path: Path) -> None:
    """One plan table (a DataFrame) as CSV with 6 decimals; values that print as zero print as
    ``0.000000``, never ``-0.000000`` (solver noise of either sign below half a millionth of a unit);
    text that a spreadsheet would run as a formula is neutralised (``neutralise_text``)."""
    import pandas as pd

    out = neutralise_text(df)
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
