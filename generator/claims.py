"""Where a live generate run takes its jobs from: claimed in the ledger, a batch at a time.

Several runs can share one ledger (two terminals, or ``generate --workers N``): each claims a
job in the ledger before calling the endpoint for it, so a job another run holds is passed
over and paid for once (``ledger.job_claims``). Claims are taken a batch per transaction, so
claiming costs one short write per batch, not one per call, and held for ``ttl_s`` seconds,
renewed every third of that while the run lives; a killed run stops renewing and its jobs
come free when its claims run out. On the way out a run gives back the claims it still holds.

Jobs another run held when first looked at are looked at once more when the rest of the plan
is taken: a run that stopped meanwhile (Ctrl-C) gave them back, and they are drafted here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from ledger import Ledger, LedgerBusyError, LedgerError
from ledger.ids import new_event_id

if TYPE_CHECKING:
    from generator.runner import Job

log = logging.getLogger("draftgate.generate")

# Long enough that a busy ledger or a loaded machine never lets a live run's claims lapse
# (they are renewed every third of it), short enough that a killed run's jobs come free soon.
CLAIM_TTL_S = 60.0
# At most this many jobs claimed in one transaction, and never more than a quarter of the
# calls in flight: a run then holds few claimed jobs it has not started, which another run
# (or a sibling worker at the end of the plan) could have drafted.
MAX_CLAIM_BATCH = 64
# Keys looked at per claiming transaction, at least: passing over jobs other runs hold or
# finished costs an index lookup each.
MIN_CLAIM_WINDOW = 128
BUSY_RETRY_FIRST_S = 0.005
BUSY_RETRY_MAX_S = 0.2

T = TypeVar("T")


def claim_batch(concurrency: int) -> int:
    return max(1, min(MAX_CLAIM_BATCH, concurrency // 4))


@dataclass(frozen=True)
class ClaimOptions:
    """How a run takes its jobs. ``start_fraction``: where in the plan it starts (worker i of
    a pool of N starts at i/N, so the workers meet only at the end of the plan). ``stop``:
    once set, no new job is taken; the calls in flight finish and are stored."""

    ttl_s: float = CLAIM_TTL_S
    start_fraction: float = 0.0
    stop: threading.Event | None = None


class ClaimedJobs:
    """The jobs of one run, each handed out only once this run holds its claim."""

    def __init__(
        self,
        ledger: Ledger,
        jobs: Sequence[Job],
        *,
        concurrency: int,
        options: ClaimOptions | None = None,
        run_id: str | None = None,
        on_busy: Callable[[], None] | None = None,
    ) -> None:
        self.ledger = ledger
        # Told when a claim finds the ledger locked by another process (once a wait).
        self._on_busy = on_busy
        self.options = options or ClaimOptions()
        self.run_id = run_id or new_event_id()
        self.batch = claim_batch(concurrency)
        start = int(len(jobs) * self.options.start_fraction) % max(1, len(jobs))
        self.planned = len(jobs)
        self._unseen: deque[Job] = deque([*jobs[start:], *jobs[:start]])
        self._second_look: list[Job] = []
        self._looked_twice = False
        self._ready: deque[Job] = deque()  # claimed, not handed out yet
        self._in_flight: dict[str, Job] = {}  # handed out, call not finished yet
        self._claimed: list[str] = []  # every key this run claimed
        # Jobs this run passed over: finished by another run meanwhile, or held by another
        # run at the last look.
        self.finished_elsewhere = 0
        self.held_elsewhere = 0
        self._lock = asyncio.Lock()
        self._renewals: asyncio.Task[None] | None = None

    @property
    def expected(self) -> int:
        """The jobs this run will draft if it is not stopped: the plan less those passed over."""
        return self.planned - self.finished_elsewhere - self.held_elsewhere

    @property
    def passed_over(self) -> int:
        return self.finished_elsewhere + self.held_elsewhere

    def _stopping(self) -> bool:
        return self.options.stop is not None and self.options.stop.is_set()

    async def take(self) -> Job | None:
        """The next job this run holds a claim on, or None when there is none left."""
        if self._renewals is None:
            self._renewals = asyncio.get_running_loop().create_task(self._renew_forever())
        if self._stopping():
            return None
        if not self._ready:
            async with self._lock:
                if not self._ready and not self._stopping():
                    await self._claim_more()
        if not self._ready or self._stopping():
            return None
        job = self._ready.popleft()
        self._in_flight[job.key] = job
        return job

    def done(self, job: Job) -> None:
        """The job's call has finished and was handed to the writer."""
        self._in_flight.pop(job.key, None)

    async def _claim_more(self) -> None:
        while not self._ready:
            if not self._unseen:
                if self._looked_twice or not self._second_look:
                    return
                self._unseen, self._second_look = deque(self._second_look), []
                self._looked_twice = True
            size = max(4 * self.batch, MIN_CLAIM_WINDOW)
            window = [job.key for job in islice(self._unseen, size)]
            outcome = await self._in_ledger(
                partial(
                    self.ledger.claim_jobs,
                    self.run_id,
                    window,
                    want=self.batch,
                    ttl_s=self.options.ttl_s,
                    wait=False,
                )
            )
            claimed, held = set(outcome.claimed), set(outcome.held_elsewhere)
            for _ in range(outcome.examined):
                job = self._unseen.popleft()
                if job.key in claimed:
                    self._ready.append(job)
                elif job.key in held and not self._looked_twice:
                    self._second_look.append(job)
                elif job.key in held:
                    self.held_elsewhere += 1
                else:
                    self.finished_elsewhere += 1
            self._claimed += outcome.claimed

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.options.ttl_s / 3)
            keys = [*self._in_flight, *(job.key for job in self._ready)]
            lost = set(
                await self._in_ledger(
                    partial(
                        self.ledger.renew_job_claims,
                        self.run_id,
                        keys,
                        self.options.ttl_s,
                        wait=False,
                    )
                )
            )
            if lost:
                # Only a run stalled past its claims' expiry gets here: another run took them.
                log.warning("%d job claim(s) ran out and another run took them", len(lost))
                self._ready = deque(job for job in self._ready if job.key not in lost)

    async def _in_ledger(self, write: Callable[[], T]) -> T:
        """Run a short write from the event loop without sleeping in SQLite's busy handler:
        a ledger another process is writing is tried again shortly, up to the busy timeout a
        command waits (as the ledger writer does)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        pause = BUSY_RETRY_FIRST_S
        while True:
            try:
                return write()
            except LedgerBusyError as exc:
                if pause == BUSY_RETRY_FIRST_S and self._on_busy is not None:
                    self._on_busy()
                if loop.time() - started >= self.ledger.busy_timeout_s:
                    raise self.ledger.stayed_locked() from exc
                await asyncio.sleep(pause)
                pause = min(pause * 2, BUSY_RETRY_MAX_S)

    async def close(self) -> None:
        """Stop renewing and give back every claim this run still holds. Called once every
        finished call is stored: a claim given back earlier would let another run redo it."""
        if self._renewals is not None:
            self._renewals.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewals
            self._renewals = None
        if not self._claimed:
            return
        keys = list(self._claimed)
        try:
            await self._in_ledger(
                partial(self.ledger.release_job_claims, self.run_id, keys, wait=False)
            )
        except LedgerError as exc:
            # Not lost work: the claims run out by themselves within ttl_s.
            log.warning("job claims not given back (they run out by themselves): %s", exc)
