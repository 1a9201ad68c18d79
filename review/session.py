"""A reviewer's session over the review queue: what is on screen, what was seen, what can be
undone, which leases are held, and the counts, with every ledger call on a worker thread.

Flow of a decision: ``approve`` / ``edit`` / ``reject`` build a ``DecisionIn`` and submit it to
the ledger worker (one thread, FIFO, its own connection); further decisions are refused while
``saving``; the worker commits (its own BEGIN IMMEDIATE transaction, ~1 ms) and delivers the
result back to the session's thread; only then does the session emit ``DecisionSaved`` and move
to the next draft, which is already claimed and loaded (the session keeps a couple of drafts
claimed ahead under lease). So "saved" is never reported for an uncommitted decision.

Threading: every public method and every event runs on one thread, the session's (a Textual
app's event loop, or a plain loop draining a queue). The host passes ``deliver``, which must
run a callable on that thread; the workers use it to hand back their results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ledger import (
    DecidedElsewhereError,
    Decision,
    DecisionIn,
    Ledger,
    RejectReason,
    Verdict,
    utc_now,
)
from ledger.ids import new_event_id
from ledger.queue import Clock, QueueFilter, ReviewItem, ReviewQueue, system_clock
from review.events import (
    DecisionReverted,
    DecisionSaved,
    DraftShown,
    Listener,
    Notice,
    SessionClosed,
    SessionEvent,
    Severity,
    StatusChanged,
)
from review.order import Order, plan
from review.worker import Deliver, LedgerWorker, Reply

PREFETCH = 2
RECOUNT_EVERY = 25
RELEASE_BATCH = 10
BUSY_NOTE = "ledger busy (another process is writing): waiting to "
# How often the host should call ``check_source``: a re-ingest that changes the draft on screen
# shows as "source changed" within this many seconds (and always before a decision is saved).
SOURCE_CHECK_S = 2.0
STALE_NOTE = "source changed: the draft's text is no longer in its document"


@dataclass(eq=False)
class Entry:
    """A draft as this session has seen it."""

    item: ReviewItem
    held: bool = True  # this session holds the lease (decisions allowed)
    skipped: bool = False  # set aside by the reviewer: undecided, out of the queue
    shown_at: str | None = None
    decision: Decision | None = None  # this session's decision in force
    # The source changed after the draft was put on screen (found by the tick or just before
    # a save); ``stale_seen`` once the reviewer was told so and an approve was refused once.
    changed_on_screen: bool = False
    stale_seen: bool = False


@dataclass
class SessionCounts:
    approved: int = 0
    edited: int = 0
    rejected: int = 0

    def add(self, verdict: Verdict, step: int) -> None:
        if verdict is Verdict.APPROVE:
            self.approved += step
        elif verdict is Verdict.EDIT:
            self.edited += step
        elif verdict is Verdict.REJECT:
            self.rejected += step

    def edit_rate(self) -> str:
        signed = self.approved + self.edited
        return f"{100 * self.edited / signed:.0f}%" if signed else "–"


@dataclass
class _ScanState:
    """The forward cursor of the queue scan and the plan it walks (None: creation order);
    touched only on the ledger worker's thread."""

    cursor: int = 0
    generation: int = 0
    plan: list[int] | None = None
    planned: bool = False  # the plan for this generation's filter is built


def _run_now(step: Callable[[], None]) -> None:
    step()


class ReviewSession:
    def __init__(
        self,
        ledger_path: str,
        reviewer: str,
        *,
        deliver: Deliver,
        listener: Listener,
        filters: QueueFilter | None = None,
        order: Order = "created",
        double_review: float = 0.0,
        lease_seconds: int = 600,
        clock: Clock = system_clock,
        session_id: str | None = None,
        after_show: Callable[[Callable[[], None]], object] = _run_now,
    ) -> None:
        """``after_show`` runs a step once a newly shown draft is on screen (a front end that
        paints asynchronously defers the next claim until then, so the claim's work on the
        worker thread does not compete with the repaint for the GIL)."""
        self.ledger_path = ledger_path
        self.reviewer = reviewer
        self.filters = filters or QueueFilter()
        self.order: Order = order
        # Drafts skipped in this session: never claimed again by the scan, whatever the filter,
        # and not counted as left (going back to one with p still shows it).
        self.skipped: set[str] = set()
        self.double_review = double_review
        self.lease_seconds = lease_seconds
        self.clock = clock
        # One id per session, recorded with its leases and decisions: two sessions under one
        # reviewer name are kept apart by it.
        self.session_id = session_id or new_event_id()
        self.history: list[Entry] = []
        self.pos = 0  # index into history; == len(history) means "past the end"
        self.ahead: deque[ReviewItem] = deque()
        self.claims_in_flight = 0
        self.exhausted = False
        self.waiting_for_next = False
        self.saving = False
        self.undo_stack: list[tuple[Entry, Decision]] = []
        self.decided_leases: list[str] = []
        self.counts = SessionCounts()
        self.remaining: int | None = None
        self.note = ""  # the latest word on what happened ("✓ saved", "skipped", …)
        self.error: str | None = None
        self.quitting = False
        self.closed = False
        # Set when quitting could not release the leases: the host says it once on exit.
        self.release_failed: str | None = None
        self._listener = listener
        self._host_deliver = deliver
        self._after_show = after_show
        self._decisions_since_count = 0
        self._scan = _ScanState()
        self._generation = 0
        self._replies_lock = threading.Lock()
        self._replies_pending = 0
        self.worker = LedgerWorker(
            self._open_queue, ledger_path, self._deliver, self._failed, self._busy
        )
        # Counting the queue scans every undecided draft (~90 ms at 100k): it runs on its own
        # read-only worker and connection so it never delays a decision's commit.
        self.count_worker = LedgerWorker(
            self._open_queue, ledger_path, self._deliver, self._failed, self._busy
        )

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def renew_every_s(self) -> float:
        """How often the host should call ``renew_leases``."""
        return max(5.0, self.lease_seconds / 3)

    def _open_queue(self, ledger: Ledger) -> ReviewQueue:
        return ReviewQueue(
            ledger,
            self.reviewer,
            session_id=self.session_id,
            lease_seconds=self.lease_seconds,
            filters=self.filters,
            double_review=self.double_review,
            clock=self.clock,
        )

    def start(self) -> None:
        self.worker.start()
        self.count_worker.start()
        self.waiting_for_next = True
        self._refill()
        self._recount()
        self._check_same_name()
        self._emit(StatusChanged())

    def _check_same_name(self) -> None:
        def others(queue: ReviewQueue) -> Reply:
            count = queue.other_sessions()
            return lambda: self._same_name_found(count)

        self.count_worker.submit("look for other sessions", others)

    def _same_name_found(self, count: int) -> None:
        if count:
            self._notify(
                f"{self.reviewer} is already reviewing in {count} other session"
                f"{'s' if count > 1 else ''}: you may go on; you will not be shown their drafts.",
                "warning",
                10,
            )

    def quit(self) -> None:
        """Release every lease this session holds (best effort), then emit ``SessionClosed``.

        Quitting always ends the session: when the release fails (a full disk, a ledger gone)
        or the worker is not running, the reviewer is told once that the leases will expire
        on their own, and the session closes anyway."""
        if self.quitting:
            return
        self.quitting = True
        self.note = "quitting: releasing leases…"
        self._emit(StatusChanged())
        if not self.worker.alive():
            self._closed_without_release("the ledger worker is not running")
            return

        def release_all(queue: ReviewQueue) -> Reply:
            try:
                queue.release_session()
            except Exception as exc:  # noqa: BLE001 - quitting must not depend on the ledger
                why = str(exc)
                return lambda: self._closed_without_release(why)
            return lambda: self._emit(SessionClosed())

        self.worker.submit("release leases", release_all)

    def quit_now(self) -> None:
        """The host's "quit is taking too long" deadline (the ledger worker is stuck behind
        another process's lock): close without waiting for the release."""
        if self.quitting and not self.closed:
            self._closed_without_release("the ledger stayed busy")

    def lease_expiry(self) -> str:
        """When this session's leases run out at the latest, as the reviewer's local time."""
        until = self.clock() + timedelta(seconds=self.lease_seconds)
        return until.astimezone().strftime("%H:%M")

    def _closed_without_release(self, why: str) -> None:
        if self.closed:
            return
        self.release_failed = (
            f"could not release this session's leases ({why}); "
            f"they expire on their own by {self.lease_expiry()}"
        )
        self._notify(self.release_failed, "warning")
        self._emit(SessionClosed())

    def close(self) -> None:
        """Give this session's leases back and stop the workers; every job already submitted
        (decisions first) finishes before the connections close."""

        def release_all(queue: ReviewQueue) -> None:
            queue.release_session()

        self.worker.submit("release leases", release_all)
        self.worker.stop()
        self.count_worker.stop()

    def idle(self) -> bool:
        """Nothing in flight: no unsaved decision, no claim on its way, no draft awaited, no
        job running and no result waiting to be handled."""
        with self._replies_lock:
            pending = self._replies_pending
        return (
            not self.saving
            and self.claims_in_flight == 0
            and not self.waiting_for_next
            and pending == 0
            and not self.worker.busy()
            and not self.count_worker.busy()
        )

    def _deliver(self, reply: Reply) -> None:
        """Called on a worker thread: hand ``reply`` to the session's thread."""
        with self._replies_lock:
            self._replies_pending += 1

        def run() -> None:
            try:
                reply()
            finally:
                with self._replies_lock:
                    self._replies_pending -= 1

        self._host_deliver(run)

    def _emit(self, event: SessionEvent) -> None:
        if isinstance(event, SessionClosed):
            if self.closed:
                return
            self.closed = True
        self._listener(event)

    def _notify(
        self, text: str, severity: Severity = "information", timeout: float | None = None
    ) -> None:
        self._emit(Notice(text, severity, timeout))

    # ---- ledger jobs -------------------------------------------------------------------

    def _refill(self) -> None:
        """Keep PREFETCH drafts claimed ahead of the one on screen."""
        while (
            not self.exhausted
            and self.error is None
            and len(self.ahead) + self.claims_in_flight < PREFETCH
        ):
            self.claims_in_flight += 1
            generation = self._generation
            scan = self._scan

            skipped = frozenset(self.skipped)
            order = self.order

            def claim(
                queue: ReviewQueue,
                generation: int = generation,
                scan: _ScanState = scan,
                skipped: frozenset[str] = skipped,
                order: Order = order,
            ) -> Reply:
                if generation != scan.generation:
                    # A filter change made it obsolete.
                    return lambda: self._claimed(None, generation)
                if not scan.planned:
                    scan.plan = plan(queue.plan_rows(), order) if order != "created" else None
                    scan.planned = True
                item = queue.claim_next(scan.cursor, exclude=skipped, plan=scan.plan)
                if item is not None:
                    scan.cursor = item.cursor
                return lambda: self._claimed(item, generation)

            self.worker.submit("claim the next draft", claim)

    def _recount(self) -> None:
        self._decisions_since_count = 0
        filters = self.filters
        skipped = frozenset(self.skipped)

        def count(queue: ReviewQueue) -> Reply:
            queue.filters = filters
            remaining = queue.remaining(exclude=skipped)
            return lambda: self._counted(remaining, filters)

        self.count_worker.submit("count the queue", count)

    def renew_leases(self) -> None:
        held = self._held_undecided()
        if held:

            def renew(queue: ReviewQueue) -> None:
                queue.renew(held)

            self.worker.submit("renew leases", renew)

    def _held_undecided(self) -> list[str]:
        held = [e.item.draft.id for e in self.history if e.held and e.decision is None]
        return held + [i.draft.id for i in self.ahead]

    def _release(self, draft_ids: list[str]) -> None:
        def release(queue: ReviewQueue) -> None:
            queue.release(draft_ids)

        self.worker.submit("release a lease", release)

    def _claimed(self, item: ReviewItem | None, generation: int) -> None:
        if generation != self._generation:
            # Claimed under the previous filter: give it back (the in-flight count was reset).
            if item is not None:
                self._release([item.draft.id])
            return
        self.claims_in_flight -= 1
        if self.note.startswith(BUSY_NOTE):
            self.note = ""  # the lock is free again
        if item is None:
            self.exhausted = True
        else:
            self.ahead.append(item)
        if self.waiting_for_next:
            self.waiting_for_next = False
            self._advance()
        self._refill()

    def _counted(self, remaining: int, filters: QueueFilter) -> None:
        if filters != self.filters:
            return  # counted under a filter that has since changed
        self.remaining = remaining
        self._emit(StatusChanged())

    def _busy(self, what: str, attempt: int) -> None:
        # Another process held the write lock past the busy timeout. The job waits again rather
        # than failing: the decision is neither refused nor reported saved until it commits.
        self.note = f"{BUSY_NOTE}{what}…"
        if attempt == 1:
            self._notify(
                "The ledger is locked by another process; waiting for it. "
                "A decision shows as saved only once it is committed.",
                "warning",
            )
        self._emit(StatusChanged())

    def _failed(self, what: str, error: str) -> None:
        self.saving = False
        self.error = f"could not {what}: {error}"
        self.note = "NOT SAVED"
        self._notify(self.error, "error", 30)
        self._emit(StatusChanged())

    # ---- moving ------------------------------------------------------------------------

    @property
    def current(self) -> Entry | None:
        return self.history[self.pos] if self.pos < len(self.history) else None

    def _advance(self) -> None:
        if self.pos < len(self.history) - 1:
            self.pos += 1
            self._show()
            return
        if self.ahead:
            self.history.append(Entry(self.ahead.popleft()))
            self.pos = len(self.history) - 1
            self._show()
            self._after_show(self._refill)
            return
        self.pos = len(self.history)
        if self.exhausted:
            self._show()
        else:
            self.waiting_for_next = True
            self._show(loading=True)

    def _show(self, loading: bool = False) -> None:
        entry = self.current
        if entry is not None and entry.decision is None and entry.held:
            entry.shown_at = utc_now()
        self._emit(DraftShown(loading=loading and entry is None))

    def skip(self) -> bool:
        """Leave the current draft undecided (its lease released) and move on."""
        entry = self.current
        if self.saving or entry is None:
            return False
        if entry.decision is None and entry.held:
            entry.held = False
            self._release([entry.item.draft.id])
            self.note = "skipped"
        if entry.decision is None and not entry.skipped:
            entry.skipped = True
            self.skipped.add(entry.item.draft.id)
            item = entry.item
            if self.remaining is not None and self._in_filter(item):
                self.remaining -= 1
        self._advance()
        return True

    def next(self) -> bool:
        """The next draft seen in this session; at the end of what was seen, a skip."""
        if self.saving or self.current is None:
            return False
        if self.pos < len(self.history) - 1:
            self.pos += 1
            self._show_or_reclaim()
            return True
        return self.skip()

    def previous(self) -> bool:
        if self.saving or self.pos == 0:
            return False
        self.pos -= 1
        self._show_or_reclaim()
        return True

    def _show_or_reclaim(self) -> None:
        entry = self.current
        if entry is not None and entry.decision is None and not entry.held:
            draft_id = entry.item.draft.id

            def reclaim(queue: ReviewQueue, entry: Entry = entry) -> Reply:
                item = queue.claim_draft(draft_id)
                return lambda: self._reclaimed(entry, item)

            self.worker.submit("claim the draft again", reclaim)
        self._show()

    def _reclaimed(self, entry: Entry, item: ReviewItem | None) -> None:
        entry.held = item is not None
        if item is not None:
            entry.item = item
        if self.current is entry:
            self._show()

    def _in_filter(self, item: ReviewItem) -> bool:
        return self.filters.matches(
            item.draft.kind.value, item.document_path, item.stale, item.origin
        )

    # ---- source changes ----------------------------------------------------------------

    def check_source(self) -> None:
        """The host's periodic tick: has the current draft's source changed since it was
        claimed (a re-ingest while it is on screen)? Runs on the read-only count worker."""
        entry = self.current
        if entry is None or entry.item.stale or entry.decision is not None or not entry.held:
            return
        draft_id = entry.item.draft.id

        def check(queue: ReviewQueue, entry: Entry = entry) -> Reply | None:
            if not queue.is_stale(draft_id):
                return None
            return lambda: self._source_changed(entry)

        self.count_worker.submit("check the draft's source", check)

    def _source_changed(self, entry: Entry) -> None:
        if entry.item.stale:
            return
        entry.item = dataclasses.replace(entry.item, stale=True)
        entry.changed_on_screen = True
        if self.current is entry:
            self.note = STALE_NOTE
            self._notify(
                "The source of this draft changed while it was on screen (its document was "
                "re-ingested). Check it against the new source; approving needs a second press, "
                "and an export leaves stale drafts out unless --include-stale.",
                "warning",
                15,
            )
            self._show()

    # ---- deciding ----------------------------------------------------------------------

    def decidable(self) -> Entry | None:
        """The current draft if a decision on it may be made now; otherwise None (with a
        notice saying why, when the reviewer could not have known)."""
        entry = self.current
        if self.error is not None:
            self._notify(self.error, "error")
            return None
        if entry is None or self.saving:
            return None
        if entry.decision is not None:
            self._notify("Already decided in this session; u undoes your last decision.")
            return None
        if not entry.held:
            self._notify("Another reviewer holds or has decided this draft.", "warning")
            return None
        return entry

    def approve(self, entry: Entry) -> bool:
        """Save an approval; False when it was refused instead: the draft's source changed
        after it was shown and the reviewer has not confirmed yet (the next approve does)."""
        if entry.changed_on_screen and not entry.stale_seen:
            entry.stale_seen = True
            self.note = "source changed: a again approves the old text"
            self._notify(
                "Source changed since this draft was shown: press approve again to sign off "
                "the old text anyway (an export leaves it out unless --include-stale), or "
                "reject it.",
                "warning",
            )
            self._emit(StatusChanged())
            return False
        self._decide(entry, Verdict.APPROVE)
        return True

    def edit(self, entry: Entry, question: str, answer: str, note: str | None = None) -> None:
        self._decide(entry, Verdict.EDIT, final_question=question, final_answer=answer, note=note)

    def reject(self, entry: Entry, reason: RejectReason, note: str | None) -> None:
        self._decide(entry, Verdict.REJECT, reason=reason, note=note)

    def _decide(
        self,
        entry: Entry,
        verdict: Verdict,
        *,
        final_question: str | None = None,
        final_answer: str | None = None,
        reason: RejectReason | None = None,
        note: str | None = None,
    ) -> None:
        decision = DecisionIn(
            draft_id=entry.item.draft.id,
            reviewer=self.reviewer,
            verdict=verdict,
            final_question=final_question,
            final_answer=final_answer,
            reason=reason,
            note=note,
            shown_at=entry.shown_at,
            decided_at=utc_now(),
            double_review=entry.item.double_review,
            session_id=self.session_id,
        )
        self.saving = True
        # An approval signs off the text as drafted: its source is checked again just before
        # the save, so a re-ingest between the last tick and the key press is not signed off
        # unseen. (A draft already marked stale was shown so; an edit is the reviewer's own
        # text; a reject signs nothing off.)
        check_source = verdict is Verdict.APPROVE and not entry.item.stale

        def record(queue: ReviewQueue) -> Reply:
            if check_source and queue.is_stale(decision.draft_id):
                return lambda: self._refused_stale(entry)
            try:
                saved = queue.ledger.record_decision(decision)
            except DecidedElsewhereError as exc:
                why = str(exc)
                return lambda: self._decided_elsewhere(entry, why)
            return lambda: self._saved(entry, saved)

        self.worker.submit("save the decision", record)

    def note_slow_save(self) -> None:
        """The host's "this commit is taking long" tick: say so if it is still in flight."""
        if self.saving:
            self.note = "saving…"
            self._emit(StatusChanged())

    def _saved(self, entry: Entry, decision: Decision) -> None:
        self.saving = False
        entry.decision = decision
        self.undo_stack.append((entry, decision))
        self.counts.add(decision.verdict, 1)
        if entry.skipped:
            # Decided after all (the reviewer went back to it): no longer set aside, and it
            # left the count when it was skipped.
            entry.skipped = False
            self.skipped.discard(entry.item.draft.id)
        elif self.remaining is not None and self._in_filter(entry.item):
            self.remaining -= 1
        self.note = "✓ saved"
        self._emit(DecisionSaved(decision))
        # The decision is committed; the lease has done its job. Released in batches (and all
        # at quit) to keep a write off the ledger worker between two decisions.
        self.decided_leases.append(decision.draft_id)
        if len(self.decided_leases) >= RELEASE_BATCH:
            self._release(self.decided_leases)
            self.decided_leases = []
        self._decisions_since_count += 1
        if self._decisions_since_count >= RECOUNT_EVERY:
            self._recount()
        if self.current is entry:
            self._advance()
        else:
            self._show()

    def _refused_stale(self, entry: Entry) -> None:
        self.saving = False
        self._source_changed(entry)
        entry.stale_seen = True  # the notice said so; a second press saves
        self.note = "not saved: " + STALE_NOTE
        self._emit(StatusChanged())

    def _decided_elsewhere(self, entry: Entry, why: str) -> None:
        # Not an error that stops the session: the draft is simply someone else's now.
        self.saving = False
        entry.held = False
        self.note = "not saved: another reviewer decided it"
        self._notify(why, "warning")
        if self.current is entry:
            self._advance()
        else:
            self._show()

    def undo(self) -> bool:
        """Revert this session's last decision; the draft comes back (claimed, if free)."""
        if self.saving or self.error is not None:
            return False
        if not self.undo_stack:
            self._notify("Nothing to undo in this session.")
            return False
        entry, decision = self.undo_stack.pop()
        self.saving = True
        self.note = "undoing…"
        self._emit(StatusChanged())
        revert = decision.undo_by(self.reviewer, utc_now()).model_copy(
            update={"session_id": self.session_id}
        )

        def record(queue: ReviewQueue) -> Reply:
            saved = queue.ledger.record_decision(revert)
            item = queue.claim_draft(decision.draft_id)
            return lambda: self._reverted(entry, saved, item)

        self.worker.submit("undo the decision", record)
        return True

    def _reverted(self, entry: Entry, revert: Decision, item: ReviewItem | None) -> None:
        self.saving = False
        if entry.decision is not None:
            self.counts.add(entry.decision.verdict, -1)
        entry.decision = None
        entry.held = item is not None
        if item is not None:
            entry.item = item
        # The draft is back in play: the batch release of decided drafts must not give away
        # the lease this reviewer holds on it again (another reviewer could then decide it).
        with contextlib.suppress(ValueError):
            self.decided_leases.remove(entry.item.draft.id)
        if self.remaining is not None and self._in_filter(entry.item):
            self.remaining += 1
        self._emit(DecisionReverted(revert))
        if entry not in self.history:
            self.history.insert(min(self.pos, len(self.history)), entry)
        self.pos = self.history.index(entry)
        self.note = "↶ undone: decide again"
        self._show()

    # ---- filter ------------------------------------------------------------------------

    def apply_filter(self, filters: QueueFilter) -> None:
        """Review under ``filters`` from now on: undecided drafts are given back and the scan
        starts again; decisions made so far stay in the history."""
        held = self._held_undecided()
        self.filters = filters
        self._generation += 1
        generation = self._generation
        scan = self._scan

        def refilter(queue: ReviewQueue) -> None:
            queue.release(held)
            queue.filters = filters
            scan.cursor = 0
            scan.generation = generation
            scan.planned = False

        self.worker.submit("change the filter", refilter)
        # Decided and skipped drafts keep their place in the history (so positions never
        # shift); a draft merely held comes back through the new scan if the filter takes it.
        self.history = [e for e in self.history if e.decision is not None or e.skipped]
        for entry in self.history:
            entry.held = False
        self.pos = len(self.history)
        self.ahead.clear()
        self.claims_in_flight = 0
        self.exhausted = False
        self.remaining = None
        self.waiting_for_next = True
        self.note = f"filter: {filters.describe()}"
        self._show(loading=True)
        self._refill()
        self._recount()
