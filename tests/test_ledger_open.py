"""Opening one ledger file from several threads of a process at once.

Before SQLite connects, Ledger.open reads the file's header with plain file calls; closing
that descriptor drops every POSIX lock the process holds on the file, including the locks of
a SQLite connection another thread is making at that moment (and without them, another
process may delete the WAL under it: saved decisions lost). So no connection to the file may
be made while its header is being read.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

import ledger.store as store
from ledger import Ledger


def test_no_connection_is_made_while_another_thread_reads_the_header(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Ledger.open(ledger_path).close()  # an existing ledger, so opening reads its header
    events: list[str] = []
    inspect = store._inspect_existing
    connect = store.Ledger._connect.__func__

    def slow_inspect(path_text: str, *, writable: bool) -> bool:
        events.append("read header")
        time.sleep(0.2)  # a long read, so the other thread has every chance to connect
        found = inspect(path_text, writable=writable)
        events.append("header read")
        return found

    def counted_connect(cls: type[Ledger], *args: Any, **kwargs: Any) -> Ledger:
        events.append("connect")
        return connect(cls, *args, **kwargs)

    monkeypatch.setattr(store, "_inspect_existing", slow_inspect)
    monkeypatch.setattr(store.Ledger, "_connect", classmethod(counted_connect))
    opened: list[Ledger] = []
    threads = [
        threading.Thread(target=lambda: opened.append(Ledger.open(ledger_path))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ledger in opened:
        ledger.close()
    assert len(opened) == 2
    reading = False
    for event in events:
        if event == "read header":
            reading = True
        elif event == "header read":
            reading = False
        else:
            assert not reading, events
    assert events.count("connect") == 2, events
