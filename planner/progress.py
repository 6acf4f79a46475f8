"""Progress of a long run on the terminal (tqdm): one bar per stage, on stderr, only when both stdout
and stderr are terminals (quiet in pipes, logs, tests and notebooks' captured output)."""

from __future__ import annotations

import sys


class Progress:
    """``stage(name)`` starts a stage (and ends the one before); ``count(done, total)`` moves its bar.
    A disabled progress does nothing."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stdout.isatty() and sys.stderr.isatty()
        self.enabled = enabled
        self._bar = None

    def stage(self, name: str, total: int | None = None) -> None:
        """Start stage ``name``, ending the one before: a bar of ``total`` entities, or the time
        elapsed when there is no total."""
        if not self.enabled:
            return
        from tqdm import tqdm

        self.close()
        self._bar = tqdm(total=total, desc=name, unit=" entities" if total else "", leave=False,
                         bar_format=None if total else "{desc}: {elapsed}", file=sys.stderr)

    def count(self, done: int, total: int | None = None) -> None:
        """Move the current bar to ``done`` (of ``total`` when given: it replaces the bar's)."""
        if self._bar is None:
            return
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        """End the current bar, if there is one."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


QUIET = Progress(False)
