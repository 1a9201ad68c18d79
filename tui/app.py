"""``draftgate review``: one screen, one key per decision, every decision committed before it
is shown as saved.

Flow of a decision: the key handler builds a ``DecisionIn`` and submits it to the ledger thread
(one thread, FIFO, its own connection); the screen ignores further decision keys (and says
"saving…" if the commit is slow); the thread commits (its own BEGIN IMMEDIATE transaction,
~1 ms) and posts ``Saved``; only then does the screen mark the draft saved and show the next
one, which is already claimed and loaded (the thread keeps a couple of drafts prefetched under
lease). So "saved" is never shown for an uncommitted decision, and keypress → next draft stays
a few milliseconds plus one repaint.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass, field
from typing import IO, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from ledger import (
    DecidedElsewhereError,
    Decision,
    DecisionIn,
    Ledger,
    RejectReason,
    Verdict,
    utc_now,
)
from ledger.queue import Clock, QueueFilter, ReviewItem, ReviewQueue, system_clock
from tui.ledger_thread import JobFailed, LedgerBusy, LedgerThread
from tui.modals import MODAL_CSS, EditScreen, FilterScreen, HelpScreen, RejectScreen
from tui.render import card_text, source_text

PREFETCH = 2
RECOUNT_EVERY = 25
RELEASE_BATCH = 10
SLOW_SAVE_S = 0.05
BUSY_FLASH = "ledger busy (another process is writing): waiting to "

# Binding ids are what `[review.keymap]` in draftgate.toml remaps.
REVIEW_BINDINGS: list[BindingType] = [
    Binding("a", "app.approve", "Approve", id="approve"),
    Binding("e", "app.edit", "Edit", id="edit"),
    Binding("r", "app.reject", "Reject", id="reject"),
    Binding("s", "app.skip", "Skip", id="skip"),
    Binding("u", "app.undo", "Undo", id="undo"),
    Binding("n", "app.next", "Next", id="next"),
    Binding("p", "app.previous", "Prev", id="previous"),
    Binding("f", "app.filter", "Filter", id="filter"),
    Binding("question_mark", "app.help", "Help", id="help", key_display="?"),
    Binding("q", "app.quit_review", "Quit", id="quit"),
]
BINDING_IDS = frozenset(b.id for b in REVIEW_BINDINGS if isinstance(b, Binding) and b.id)


def keymap_problem(keymap: dict[str, str]) -> str | None:
    """Why ``[review.keymap]`` cannot be used, or None: an unknown binding id, an action left
    without a key (an empty value), or one key bound to two actions (the second would never
    run, and a reviewer pressing "reject" could approve)."""
    unknown = sorted(set(keymap) - BINDING_IDS)
    if unknown:
        return f"unknown binding id {unknown[0]!r} (known: {', '.join(sorted(BINDING_IDS))})"
    owner: dict[str, str] = {}
    for binding in REVIEW_BINDINGS:
        if not isinstance(binding, Binding) or not binding.id:
            continue
        keys = [k.strip() for k in keymap.get(binding.id, binding.key).split(",")]
        if not all(keys):
            return f"{binding.id!r} has no key (an empty key in {keymap[binding.id]!r})"
        for key in keys:
            if key in owner:
                return f"key {key!r} is bound to both {owner[key]!r} and {binding.id!r}"
            owner[key] = binding.id
    return None


KEY_HELP = {
    "approve": "approve the draft as it is",
    "edit": "edit question and answer (ctrl+s saves as an edit, esc cancels)",
    "reject": "reject with a reason and an optional note",
    "skip": "leave the draft undecided and move on (it stays in the queue)",
    "undo": "undo your last decision (a revert is recorded; the draft comes back)",
    "next": "next draft (at the end of what you have seen: same as skip)",
    "previous": "previous draft seen in this session",
    "filter": "filter by kind, document and staleness",
    "help": "this help (esc closes, ↑↓ scroll)",
    "quit": "quit (your leases are released; reopening resumes at the first undecided draft)",
}


# ---- messages from the ledger thread -----------------------------------------------------


class Claimed(Message):
    def __init__(self, item: ReviewItem | None, generation: int) -> None:
        super().__init__()
        self.item = item
        self.generation = generation


class Reclaimed(Message):
    def __init__(self, entry: Entry, item: ReviewItem | None) -> None:
        super().__init__()
        self.entry = entry
        self.item = item


class Saved(Message):
    def __init__(self, entry: Entry, decision: Decision) -> None:
        super().__init__()
        self.entry = entry
        self.decision = decision


class DecidedElsewhere(Message):
    """The ledger refused a decision: another reviewer's decision on the draft is in force."""

    def __init__(self, entry: Entry, why: str) -> None:
        super().__init__()
        self.entry = entry
        self.why = why


class Reverted(Message):
    def __init__(self, entry: Entry, revert: Decision, item: ReviewItem | None) -> None:
        super().__init__()
        self.entry = entry
        self.revert = revert
        self.item = item


class Counted(Message):
    def __init__(self, remaining: int, filters: QueueFilter) -> None:
        super().__init__()
        self.remaining = remaining
        self.filters = filters


class Released(Message):
    pass


@dataclass(eq=False)
class Entry:
    """A draft as this session has seen it."""

    item: ReviewItem
    held: bool = True  # this session holds the lease (decisions allowed)
    shown_at: str | None = None
    decision: Decision | None = None  # this session's decision in force


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
    """The forward cursor of the queue scan; touched only on the ledger thread."""

    cursor: int = 0
    generation: int = 0
    held: set[str] = field(default_factory=set)


class ReviewScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = REVIEW_BINDINGS

    def compose(self) -> ComposeResult:
        yield Static("", id="title")
        with Horizontal(id="body"):
            with VerticalScroll(id="card-pane"):
                yield Static("Loading the queue…", id="card")
            with VerticalScroll(id="source-pane"):
                yield Static("", id="source")
        yield Static("", id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        app = self.app
        assert isinstance(app, ReviewApp)
        app.start_session()


class ReviewApp(App[None]):
    TITLE = "Draftgate review"
    # The palette's footer hint would crowd the review keys out of an 80-column footer.
    ENABLE_COMMAND_PALETTE = False
    CSS = (
        """
    #title { height: 1; background: $primary; color: $text; padding: 0 1; }
    #body { height: 1fr; }
    #card-pane { width: 1fr; padding: 0 1; border-right: vkey $primary; }
    #source-pane { width: 1fr; padding: 0 1; }
    #status { height: 1; background: $panel; padding: 0 1; }
    """
        + MODAL_CSS
    )

    def __init__(
        self,
        ledger_path: str,
        reviewer: str,
        *,
        filters: QueueFilter | None = None,
        double_review: float = 0.0,
        lease_seconds: int = 600,
        keymap: dict[str, str] | None = None,
        guidelines: str = "",
        clock: Clock = system_clock,
        ack_stream: IO[str] | None = None,
        session_id: str | None = None,
    ) -> None:
        super().__init__()
        self.ledger_path = ledger_path
        self.reviewer = reviewer
        self.filters = filters or QueueFilter()
        self.double_review = double_review
        self.lease_seconds = lease_seconds
        self.guidelines = guidelines
        self.clock = clock
        self.ack_stream = ack_stream
        self.session_id = session_id
        self.keymap = dict(keymap or {})
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
        self.decisions_since_count = 0
        self.flash = ""
        self.error: str | None = None
        self._scan = _ScanState()
        self._generation = 0
        # Measurements for bench/review.py: perf_counter seconds.
        self.started_at = time.perf_counter()
        self.first_render_at: float | None = None
        self.latencies_ms: list[float] = []
        self._key_at: float | None = None
        self.ledger_thread = LedgerThread(self._open_queue, ledger_path, self.post_message)
        # Counting the queue scans every undecided draft (~90 ms at 100k): it runs on its own
        # read-only thread and connection so it never delays a decision's commit.
        self.count_thread = LedgerThread(self._open_queue, ledger_path, self.post_message)

    # ---- lifecycle ---------------------------------------------------------------------

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

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)

    def start_session(self) -> None:
        """Called by the review screen once its widgets exist."""
        self.ledger_thread.start()
        self.count_thread.start()
        self.waiting_for_next = True
        self._refill()
        self._recount()
        self.set_interval(max(5.0, self.lease_seconds / 3), self._renew_leases)
        self._render_status()

    def get_default_screen(self) -> Screen[None]:
        return ReviewScreen()

    def on_unmount(self) -> None:
        # However the app ends (q, ctrl+q), give this session's leases back; stop() finishes
        # every job already queued, decisions first, before closing the connection.
        def release_all(queue: ReviewQueue) -> None:
            queue.release_session()

        self.ledger_thread.submit("release leases", release_all)
        self.ledger_thread.stop()
        self.count_thread.stop()

    def query_one_screen(self) -> ReviewScreen:
        for screen in self.screen_stack:
            if isinstance(screen, ReviewScreen):
                return screen
        raise LookupError("review screen not mounted")

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

            def claim(
                queue: ReviewQueue, generation: int = generation, scan: _ScanState = scan
            ) -> Message:
                if generation != scan.generation:
                    return Claimed(None, generation)  # a filter change made it obsolete
                item = queue.claim_next(scan.cursor)
                if item is not None:
                    scan.cursor = item.rowid
                return Claimed(item, generation)

            self.ledger_thread.submit("claim the next draft", claim)

    def _recount(self) -> None:
        self.decisions_since_count = 0
        filters = self.filters

        def count(queue: ReviewQueue) -> Message:
            queue.filters = filters
            return Counted(queue.remaining(), filters)

        self.count_thread.submit("count the queue", count)

    def _renew_leases(self) -> None:
        held = [e.item.draft.id for e in self.history if e.held and e.decision is None]
        held += [i.draft.id for i in self.ahead]
        if held:

            def renew(queue: ReviewQueue) -> None:
                queue.renew(held)

            self.ledger_thread.submit("renew leases", renew)

    def _release(self, draft_ids: list[str]) -> None:
        def release(queue: ReviewQueue) -> None:
            queue.release(draft_ids)

        self.ledger_thread.submit("release a lease", release)

    def on_claimed(self, message: Claimed) -> None:
        if message.generation != self._generation:
            # Claimed under the previous filter: give it back (the in-flight count was reset).
            if message.item is not None:
                self._release([message.item.draft.id])
            return
        self.claims_in_flight -= 1
        if self.flash.startswith(BUSY_FLASH):
            self.flash = ""  # the lock is free again
        if message.item is None:
            self.exhausted = True
        else:
            self.ahead.append(message.item)
        if self.waiting_for_next:
            self.waiting_for_next = False
            self._advance()
        self._refill()

    def on_counted(self, message: Counted) -> None:
        if message.filters != self.filters:
            return  # counted under a filter that has since changed
        self.remaining = message.remaining
        self._render_status()

    def on_ledger_busy(self, message: LedgerBusy) -> None:
        # Another process held the write lock past the busy timeout. The job waits again rather
        # than failing: the decision is neither refused nor shown as saved until it commits.
        self.flash = f"{BUSY_FLASH}{message.what}…"
        if message.attempt == 1:
            self.notify(
                "The ledger is locked by another process; waiting for it. "
                "A decision shows as saved only once it is committed.",
                severity="warning",
            )
        self._render_status()

    def on_decided_elsewhere(self, message: DecidedElsewhere) -> None:
        # Not an error that stops the session: the draft is simply someone else's now.
        self.saving = False
        message.entry.held = False
        self.flash = "not saved: another reviewer decided it"
        self.notify(message.why, severity="warning")
        if self.current is message.entry:
            self._advance()
        else:
            self._show()

    def on_job_failed(self, message: JobFailed) -> None:
        self.saving = False
        self.error = f"could not {message.what}: {message.error}"
        self.flash = "NOT SAVED"
        self.notify(self.error, severity="error", timeout=30)
        self._render_status()

    # ---- showing -----------------------------------------------------------------------

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
            # Claim the replacement only after the new draft is painted: the claim's Python
            # work on the ledger thread would otherwise compete with the repaint for the GIL.
            self.call_after_refresh(self._refill)
            return
        self.pos = len(self.history)
        if self.exhausted:
            self._show()
        else:
            self.waiting_for_next = True
            self._show(loading=True)

    def _show(self, loading: bool = False) -> None:
        screen = self.query_one_screen()
        card = screen.query_one("#card", Static)
        source = screen.query_one("#source", Static)
        entry = self.current
        if entry is None:
            if loading:
                card.update("Loading the next draft…")
            else:
                card.update(
                    "No more drafts to review here.\n\n"
                    "Skipped drafts come back when you reopen the review; "
                    "p goes back, f changes the filter, q quits."
                )
            source.update("")
        else:
            if entry.decision is None and entry.held:
                entry.shown_at = utc_now()
            card.update(card_text(entry.item, entry.decision, entry.held))
            source.update(source_text(entry.item))
            screen.query_one("#card-pane", VerticalScroll).scroll_home(animate=False)
            screen.query_one("#source-pane", VerticalScroll).scroll_home(animate=False)
        self._render_status()
        self.call_after_refresh(self._rendered)

    def _rendered(self) -> None:
        now = time.perf_counter()
        if self.first_render_at is None and self.current is not None:
            self.first_render_at = now
        if self._key_at is not None:
            self.latencies_ms.append((now - self._key_at) * 1000)
            self._key_at = None

    def _render_status(self) -> None:
        try:
            screen = self.query_one_screen()
        except LookupError:
            return
        screen.query_one("#title", Static).update(
            f"Draftgate review · {self.reviewer} · {self.filters.describe()}"
            + (f" · double review {self.double_review:g}" if self.double_review else "")
        )
        remaining = "…" if self.remaining is None else f"{max(0, self.remaining):,}"
        position = f"#{self.pos + 1}" if self.current is not None else "end"
        counts = self.counts
        status = (
            f"{position} · {remaining} left · approved {counts.approved} · "
            f"edited {counts.edited} · rejected {counts.rejected} · "
            f"edit rate {counts.edit_rate()}"
        )
        if self.flash:
            status += f" · {self.flash}"
        screen.query_one("#status", Static).update(status)

    # ---- deciding ----------------------------------------------------------------------

    def _decidable(self) -> Entry | None:
        entry = self.current
        if self.error is not None:
            self.notify(self.error, severity="error")
            return None
        if entry is None or self.saving:
            return None
        if entry.decision is not None:
            self.notify("Already decided in this session; u undoes your last decision.")
            return None
        if not entry.held:
            self.notify("Another reviewer holds or has decided this draft.", severity="warning")
            return None
        return entry

    def _decide(self, entry: Entry, **fields: object) -> None:
        self._key_at = self._key_at or time.perf_counter()
        decision = DecisionIn(
            draft_id=entry.item.draft.id,
            reviewer=self.reviewer,
            shown_at=entry.shown_at,
            decided_at=utc_now(),
            double_review=entry.item.double_review,
            **fields,  # type: ignore[arg-type]
        )
        self.saving = True
        # A commit takes a millisecond or two; painting "saving…" at once would put an extra
        # frame in front of the next draft, so it appears only if the commit is slow (e.g. the
        # ledger is locked by another writer).
        self.set_timer(SLOW_SAVE_S, self._show_saving)

        def record(queue: ReviewQueue) -> Message:
            try:
                saved = queue.ledger.record_decision(decision)
            except DecidedElsewhereError as exc:
                return DecidedElsewhere(entry, str(exc))
            return Saved(entry, saved)

        self.ledger_thread.submit("save the decision", record)

    def _show_saving(self) -> None:
        if self.saving:
            self.flash = "saving…"
            self._render_status()

    def on_saved(self, message: Saved) -> None:
        entry, decision = message.entry, message.decision
        self.saving = False
        entry.decision = decision
        self.undo_stack.append((entry, decision))
        self.counts.add(decision.verdict, 1)
        if self.remaining is not None:
            self.remaining -= 1
        self.flash = "✓ saved"
        if self.ack_stream is not None:
            self.ack_stream.write(f"saved {decision.id} {decision.draft_id} {decision.verdict}\n")
            self.ack_stream.flush()
        # The decision is committed; the lease has done its job. Released in batches (and all
        # at quit) to keep a write off the ledger thread between two decisions.
        self.decided_leases.append(decision.draft_id)
        if len(self.decided_leases) >= RELEASE_BATCH:
            self._release(self.decided_leases)
            self.decided_leases = []
        self.decisions_since_count += 1
        if self.decisions_since_count >= RECOUNT_EVERY:
            self._recount()
        if self.current is entry:
            self._advance()
        else:
            self._show()

    def action_approve(self) -> None:
        self._key_at = time.perf_counter()
        entry = self._decidable()
        if entry is None:
            self._key_at = None
            return
        self._decide(entry, verdict=Verdict.APPROVE)

    def action_edit(self) -> None:
        entry = self._decidable()
        if entry is None:
            return
        draft = entry.item.draft

        def done(result: tuple[str, str] | None) -> None:
            if result is None or self.current is not entry:
                return
            self._key_at = time.perf_counter()
            self._decide(
                entry, verdict=Verdict.EDIT, final_question=result[0], final_answer=result[1]
            )

        self.push_screen(EditScreen(draft.question, draft.answer), done)

    def action_reject(self) -> None:
        entry = self._decidable()
        if entry is None:
            return

        def done(result: tuple[RejectReason, str | None] | None) -> None:
            if result is None or self.current is not entry:
                return
            self._key_at = time.perf_counter()
            self._decide(entry, verdict=Verdict.REJECT, reason=result[0], note=result[1])

        self.push_screen(RejectScreen(), done)

    def action_skip(self) -> None:
        entry = self.current
        if self.saving or entry is None:
            return
        self._key_at = time.perf_counter()
        if entry.decision is None and entry.held:
            entry.held = False
            self._release([entry.item.draft.id])
            self.flash = "skipped"
        self._advance()

    def action_next(self) -> None:
        if self.saving or self.current is None:
            return
        if self.pos < len(self.history) - 1:
            self._key_at = time.perf_counter()
            self.pos += 1
            self._show_or_reclaim()
        else:
            self.action_skip()

    def action_previous(self) -> None:
        if self.saving or self.pos == 0:
            return
        self._key_at = time.perf_counter()
        self.pos -= 1
        self._show_or_reclaim()

    def _show_or_reclaim(self) -> None:
        entry = self.current
        if entry is not None and entry.decision is None and not entry.held:
            draft_id = entry.item.draft.id
            self.ledger_thread.submit(
                "claim the draft again", lambda q: Reclaimed(entry, q.claim_draft(draft_id))
            )
        self._show()

    def on_reclaimed(self, message: Reclaimed) -> None:
        entry = message.entry
        entry.held = message.item is not None
        if message.item is not None:
            entry.item = message.item
        if self.current is entry:
            self._show()

    def action_undo(self) -> None:
        if self.saving or self.error is not None:
            return
        if not self.undo_stack:
            self.notify("Nothing to undo in this session.")
            return
        entry, decision = self.undo_stack.pop()
        self._key_at = time.perf_counter()
        self.saving = True
        self.flash = "undoing…"
        self._render_status()
        revert = decision.undo_by(self.reviewer, utc_now())

        def record(queue: ReviewQueue) -> Message:
            saved = queue.ledger.record_decision(revert)
            return Reverted(entry, saved, queue.claim_draft(decision.draft_id))

        self.ledger_thread.submit("undo the decision", record)

    def on_reverted(self, message: Reverted) -> None:
        entry = message.entry
        self.saving = False
        if entry.decision is not None:
            self.counts.add(entry.decision.verdict, -1)
        entry.decision = None
        entry.held = message.item is not None
        if message.item is not None:
            entry.item = message.item
        # The draft is back in play: the batch release of decided drafts must not give away
        # the lease this reviewer holds on it again (another reviewer could then decide it).
        with contextlib.suppress(ValueError):
            self.decided_leases.remove(entry.item.draft.id)
        if self.remaining is not None:
            self.remaining += 1
        if self.ack_stream is not None:
            self.ack_stream.write(f"reverted {message.revert.id} {message.revert.draft_id}\n")
            self.ack_stream.flush()
        if entry not in self.history:
            self.history.insert(min(self.pos, len(self.history)), entry)
        self.pos = self.history.index(entry)
        self.flash = "↶ undone: decide again"
        self._show()

    # ---- filter, help, quit ------------------------------------------------------------

    def action_filter(self) -> None:
        if self.saving:
            return

        def done(result: QueueFilter | None) -> None:
            if result is None or result == self.filters:
                return
            self._apply_filter(result)

        self.push_screen(FilterScreen(self.filters), done)

    def _apply_filter(self, filters: QueueFilter) -> None:
        held = [e.item.draft.id for e in self.history if e.held and e.decision is None]
        held += [i.draft.id for i in self.ahead]
        self.filters = filters
        self._generation += 1
        generation = self._generation
        scan = self._scan

        def refilter(queue: ReviewQueue) -> None:
            queue.release(held)
            queue.filters = filters
            scan.cursor = 0
            scan.generation = generation
            return None

        self.ledger_thread.submit("change the filter", refilter)
        self.history = [e for e in self.history if e.decision is not None]
        for entry in self.history:
            entry.held = False
        self.pos = len(self.history)
        self.ahead.clear()
        self.claims_in_flight = 0
        self.exhausted = False
        self.remaining = None
        self.waiting_for_next = True
        self.flash = f"filter: {filters.describe()}"
        self._show(loading=True)
        self._refill()
        self._recount()

    def action_help(self) -> None:
        lines = ["# Keys", ""]
        keymap = self.keymap
        for binding in REVIEW_BINDINGS:
            if isinstance(binding, Binding) and binding.id:
                key = keymap.get(binding.id, binding.key_display or binding.key)
                lines.append(f"- `{key}`: {KEY_HELP[binding.id]}")
        lines.append("")
        lines.append(
            "Every decision is saved (committed to the ledger) before the next draft appears. "
            "There is no bulk approve: each draft needs its own decision while on screen."
        )
        self.push_screen(HelpScreen("\n".join(lines), self.guidelines))

    def action_quit_review(self) -> None:
        self.flash = "quitting: releasing leases…"
        self._render_status()

        def release_all(queue: ReviewQueue) -> Message:
            queue.release_session()
            return Released()

        self.ledger_thread.submit("release leases", release_all)

    def on_released(self, message: Released) -> None:
        self.exit()
