"""How long work reports how far it has got, without knowing who shows it.

The CLI passes a bar that appears only on a terminal and only for work that takes more than
a second; tests and library callers pass nothing and pay nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

Row = TypeVar("Row")


class Progress(Protocol):
    def begin(self, total: int, what: str) -> None:
        """``total`` units of ``what`` lie ahead ("files", "ledger rows"); a later call
        starts the next phase of the same work."""

    def advance(self, done: int) -> None:
        """``done`` more units are finished."""


class NoProgress:
    def begin(self, total: int, what: str) -> None:
        pass

    def advance(self, done: int) -> None:
        pass


NO_PROGRESS = NoProgress()


def counted(rows: Iterable[Row], progress: Progress, every: int = 1000) -> Iterator[Row]:
    """``rows`` as they are, advancing ``progress`` every ``every`` rows and at the end."""
    pending = 0
    for row in rows:
        yield row
        pending += 1
        if pending == every:
            progress.advance(pending)
            pending = 0
    if pending:
        progress.advance(pending)
