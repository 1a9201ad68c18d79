"""Another process's write lock, for tests of what waits for it and what does not."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger import Ledger


@contextmanager
def lock_held_elsewhere(path: Path) -> Iterator[threading.Event]:
    """Another connection holds the write lock (BEGIN IMMEDIATE) until the event is set."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Ledger.open(path) as other, other.transaction():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10), "the other connection never took the lock"
        yield release
    finally:
        release.set()
        holder.join()
