"""One thread that owns the review session's ledger connection and runs every read and write.

Why one thread: a ``Ledger`` is not shared between threads, and concurrent thread workers do not
keep order, while decisions must land in the order they were made. Jobs arrive on a FIFO queue;
each job's result is posted back to the app as a Textual message (``post_message`` is
thread-safe), so the event loop never waits on SQLite and widgets never run SQL.

When another process keeps the ledger's write lock past the busy timeout (a long ingest, a
stuck tool), the job is not failed: the thread posts ``LedgerBusy`` and waits again, so the
decision still commits (and only then shows as saved) once the lock is free.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from ledger import Ledger
from ledger.queue import ReviewQueue

# A job runs on the ledger thread with the session's queue (and through it, the Ledger) and
# returns the message to post back, or None.
Job = Callable[[ReviewQueue], Message | None]


class JobFailed(Message):
    """A job raised: the app shows the error and stops deciding (nothing is shown as saved)."""

    def __init__(self, what: str, error: str) -> None:
        super().__init__()
        self.what = what
        self.error = error


class LedgerBusy(Message):
    """Another process held the write lock for the whole busy timeout; the job waits again."""

    def __init__(self, what: str, attempt: int) -> None:
        super().__init__()
        self.what = what
        self.attempt = attempt


# Pause before waiting on the lock again. SQLite's busy handler already waited the busy timeout;
# this only keeps a lock that reports busy without waiting from turning into a spin.
BUSY_PAUSE_S = 0.05


@dataclass
class _Envelope:
    what: str
    job: Job


class LedgerThread:
    def __init__(
        self,
        open_queue: Callable[[Ledger], ReviewQueue],
        ledger_path: str,
        post: Callable[[Message], object],
    ) -> None:
        self._open_queue = open_queue
        self._ledger_path = ledger_path
        self._post = post
        self._jobs: queue.Queue[_Envelope | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="draftgate-ledger", daemon=True)
        self._current = ""  # what the running job does, for the busy message

    def start(self) -> None:
        self._thread.start()

    def submit(self, what: str, job: Job) -> None:
        self._jobs.put(_Envelope(what, job))

    def busy(self) -> bool:
        """Jobs submitted and not finished yet (tests wait on this)."""
        return self._jobs.unfinished_tasks > 0

    def stop(self, timeout: float = 10.0) -> None:
        """Finish every job already submitted, then close the connection."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            # The command opened it before the app started; a file gone since then must
            # not come back as a fresh, empty ledger.
            ledger = Ledger.open(self._ledger_path, must_exist=True)
        except Exception as exc:  # noqa: BLE001 - reported to the user, who cannot review
            self._post(JobFailed("open the ledger", str(exc)))
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
                except Exception as exc:  # noqa: BLE001 - shown on screen; nothing marked saved
                    self._post(JobFailed(envelope.what, str(exc)))
                    self._jobs.task_done()
                    continue
                if reply is not None:
                    self._post(reply)
                self._jobs.task_done()
        finally:
            ledger.close()

    def _still_locked(self, attempt: int) -> bool:
        self._post(LedgerBusy(self._current, attempt))
        time.sleep(BUSY_PAUSE_S)
        return True
