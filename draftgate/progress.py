"""The progress bar the CLI shows for long work: counts, rate and time left, on stderr.

It appears only when stderr is a terminal, the command was not given --quiet, and the work
is still going after a second: quick runs and piped output stay clean.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

SHOW_AFTER_SECONDS = 1.0


class TerminalProgress:
    """A ledger.progress.Progress that draws a rich bar once the work has taken a second."""

    def __init__(self, label: str, *, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self.total = 0
        self.done = 0
        self.what = ""
        self.started = time.monotonic()
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None

    def begin(self, total: int, what: str) -> None:
        self.total = total
        self.done = 0
        self.what = what
        if self._bar is not None and self._task is not None:
            self._bar.reset(self._task, total=total, description=self._description())

    def _description(self) -> str:
        return f"{self.label}: {self.what}" if self.what else self.label

    def advance(self, done: int) -> None:
        self.done += done
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self.started < SHOW_AFTER_SECONDS:
                return
            self._start_bar()
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=self.done)

    def _start_bar(self) -> None:
        # Imported on first display: most runs never show a bar.
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(self._description(), total=self.total, completed=self.done)

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
