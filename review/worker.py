"""One thread that owns a review session's ledger connection and runs every read and write.

Why one thread: a ``Ledger`` is not shared between threads, and concurrent thread workers do not
keep order, while decisions must land in the order they were made. Jobs arrive on a FIFO queue;
each job returns a reply (a callable, or None) that is handed to ``deliver``, which runs it on
the session's own thread, so the session's state is only ever touched there and never waits on
SQLite.

When another process keeps the ledger's write lock past the busy timeout (a long ingest, a
stuck tool), the job is not failed: the worker reports ``on_busy`` and waits again, so the
decision still commits (and only then shows as saved) once the lock is free.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ledger import Ledger
from ledger.queue import ReviewQueue

# What a job hands back to the session's thread: run there, after the job committed.
Reply = Callable[[], None]
# A job runs on the worker thread with the session's queue (and through it, the Ledger).
Job = Callable[[ReviewQueue], Reply | None]
# Runs a reply on the session's thread (an event loop's thread-safe post, or a plain queue).
Deliver = Callable[[Reply], object]

# Pause before waiting on the lock again. SQLite's busy handler already waited the busy timeout;
# this only keeps a lock that reports busy without waiting from turning into a spin.
BUSY_PAUSE_S = 0.05


@dataclass
class _Envelope:
    what: str
    job: Job


class LedgerWorker:
    def __init__(
        self,
        open_queue: Callable[[Ledger], ReviewQueue],
        ledger_path: str,
        deliver: Deliver,
        on_failed: Callable[[str, str], None],
        on_busy: Callable[[str, int], None],
    ) -> None:
        self._open_queue = open_queue
        self._ledger_path = ledger_path
        self._deliver = deliver
        self._on_failed = on_failed
        self._on_busy = on_busy
        self._jobs: queue.Queue[_Envelope | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="draftgate-ledger", daemon=True)
        self._current = ""  # what the running job does, for the busy report

    def start(self) -> None:
        self._thread.start()

    def submit(self, what: str, job: Job) -> None:
        self._jobs.put(_Envelope(what, job))

    def alive(self) -> bool:
        """The thread runs and can take jobs (it ends when the ledger could not be opened)."""
        return self._thread.is_alive()

    def busy(self) -> bool:
        """Jobs submitted and not finished yet."""
        return self._jobs.unfinished_tasks > 0

    def stop(self, timeout: float = 10.0) -> None:
        """Finish every job already submitted, then close the connection."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout)

    def _failed(self, what: str, error: str) -> None:
        self._deliver(lambda: self._on_failed(what, error))

    def _run(self) -> None:
        try:
            # The command opened it before the session started; a file gone since then must
            # not come back as a fresh, empty ledger.
            ledger = Ledger.open(self._ledger_path, must_exist=True)
        except Exception as exc:  # noqa: BLE001 - reported to the user, who cannot review
            self._failed("open the ledger", str(exc))
            return
        ledger.wait_when_locked = self._still_locked
        review_queue = self._open_queue(ledger)
        try:
            while True:
                envelope = self._jobs.get()
                if envelope is None:
                    return
                self._current = envelope.what
                try:
                    reply = envelope.job(review_queue)
                except Exception as exc:  # noqa: BLE001 - shown to the reviewer; nothing saved
                    self._failed(envelope.what, str(exc))
                    self._jobs.task_done()
                    continue
                if reply is not None:
                    self._deliver(reply)
                self._jobs.task_done()
        finally:
            ledger.close()

    def _still_locked(self, attempt: int) -> bool:
        what = self._current
        self._deliver(lambda: self._on_busy(what, attempt))
        time.sleep(BUSY_PAUSE_S)
        return True
