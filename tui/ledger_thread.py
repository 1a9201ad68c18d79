"""One thread that owns the review session's ledger connection and runs every read and write.

Why one thread: a ``Ledger`` is not shared between threads, and concurrent thread workers do not
keep order, while decisions must land in the order they were made. Jobs arrive on a FIFO queue;
each job's result is posted back to the app as a Textual message (``post_message`` is
thread-safe), so the event loop never waits on SQLite and widgets never run SQL.
"""

from __future__ import annotations

import queue
import threading
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
            ledger = Ledger.open(self._ledger_path)
        except Exception as exc:  # noqa: BLE001 - reported to the user, who cannot review
            self._post(JobFailed("open the ledger", str(exc)))
            return
        review_queue = self._open_queue(ledger)
        try:
            while True:
                envelope = self._jobs.get()
                if envelope is None:
                    return
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
