"""``draftgate review``: the Textual front end of a ``ReviewSession``. One screen, one key per
decision; keys call the session, the session's events redraw the widgets.

The session's ledger workers hand their results to the app's event loop as ``SessionReply``
messages (``post_message`` is thread-safe), so the session's state is only touched on the
app's thread and a decision shows as saved only once the session says it is committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from ledger import RejectReason
from ledger.queue import Clock, QueueFilter, system_clock
from review import (
    SOURCE_CHECK_S,
    DecisionReverted,
    DecisionSaved,
    DraftShown,
    Notice,
    ReviewSession,
    SessionClosed,
    SessionEvent,
    StatusChanged,
)
from review.edit_checks import DocsSearch, edit_warnings, warned_note
from review.order import Order
from tui.modals import EditResult, EditScreen, FilterScreen, HelpScreen, RejectScreen
from tui.render import card_text, shown, source_text

# A commit takes a millisecond or two; painting "saving…" at once would put an extra frame in
# front of the next draft, so it appears only if the commit is slow (e.g. the ledger is locked
# by another writer).
SLOW_SAVE_S = 0.05
HELP_SCREEN = "help"
# q waits this long for the session to give its leases back (a ledger locked by another
# process can hold the release up); then the app ends anyway: the leases run out on their own.
QUIT_WAIT_S = 3.0

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
    "help": "this help (esc closes; ↑↓, PageUp/PageDown, Home/End scroll)",
    "quit": "quit (your leases are released; reopening resumes at the first undecided draft)",
}


class SessionReply(Message):
    """A ledger worker's result, to be run by the session on the app's thread."""

    def __init__(self, step: Callable[[], None]) -> None:
        super().__init__()
        self.step = step


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
    CSS_PATH = Path(__file__).with_name("review.tcss")

    def __init__(
        self,
        ledger_path: str,
        reviewer: str,
        *,
        filters: QueueFilter | None = None,
        order: Order = "created",
        double_review: float = 0.0,
        lease_seconds: int = 600,
        keymap: dict[str, str] | None = None,
        guidelines: str = "",
        clock: Clock = system_clock,
        ack_stream: IO[str] | None = None,
        session_id: str | None = None,
        glossary: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.keymap = dict(keymap or {})
        # The product's real UI names (the scope file's glossary): an edit naming something
        # neither they nor the docs have asks the reviewer to confirm before it is saved.
        self.glossary = list(glossary)
        self.docs_search = DocsSearch(ledger_path)
        self.guidelines = guidelines
        self.ack_stream = ack_stream
        self.session = ReviewSession(
            ledger_path,
            reviewer,
            deliver=lambda step: self.post_message(SessionReply(step)),
            listener=self.on_session_event,
            filters=filters,
            order=order,
            double_review=double_review,
            lease_seconds=lease_seconds,
            clock=clock,
            session_id=session_id,
            after_show=self.call_after_refresh,
        )
        # Measurements for bench/review.py: perf_counter seconds.
        self.started_at = time.perf_counter()
        self.first_render_at: float | None = None
        self.latencies_ms: list[float] = []
        self.help_open_ms: list[float] = []  # "?" pressed → help screen painted
        self._help_opened_at = 0.0
        self._key_at: float | None = None

    # ---- lifecycle ---------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)

    def start_session(self) -> None:
        """Called by the review screen once its widgets exist."""
        self.session.start()
        self.set_interval(self.session.renew_every_s, self.session.renew_leases)
        self.set_interval(SOURCE_CHECK_S, self.session.check_source)

    def get_default_screen(self) -> Screen[None]:
        return ReviewScreen()

    def on_unmount(self) -> None:
        # However the app ends (q, ctrl+q), give this session's leases back.
        self.session.close()
        self.docs_search.close()

    def on_session_reply(self, message: SessionReply) -> None:
        message.step()

    def query_one_screen(self) -> ReviewScreen:
        for screen in self.screen_stack:
            if isinstance(screen, ReviewScreen):
                return screen
        raise LookupError("review screen not mounted")

    # ---- session events ----------------------------------------------------------------

    def on_session_event(self, event: SessionEvent) -> None:
        if isinstance(event, DraftShown):
            self._show(event.loading)
        elif isinstance(event, StatusChanged):
            self._render_status()
        elif isinstance(event, Notice):
            # A notice can quote ledger text (a reviewer's name, a path): shown, never markup.
            text = shown(event.text)
            if event.timeout is None:
                self.notify(text, severity=event.severity, markup=False)
            else:
                self.notify(text, severity=event.severity, timeout=event.timeout, markup=False)
        elif isinstance(event, DecisionSaved):
            decision = event.decision
            self._ack(f"saved {decision.id} {decision.draft_id} {decision.verdict}")
        elif isinstance(event, DecisionReverted):
            self._ack(f"reverted {event.revert.id} {event.revert.draft_id}")
        elif isinstance(event, SessionClosed):
            self.exit()

    def _ack(self, line: str) -> None:
        if self.ack_stream is not None:
            self.ack_stream.write(line + "\n")
            self.ack_stream.flush()

    def _show(self, loading: bool) -> None:
        screen = self.query_one_screen()
        card = screen.query_one("#card", Static)
        source = screen.query_one("#source", Static)
        entry = self.session.current
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
            card.update(card_text(entry.item, entry.decision, entry.held))
            source.update(source_text(entry.item))
            screen.query_one("#card-pane", VerticalScroll).scroll_home(animate=False)
            screen.query_one("#source-pane", VerticalScroll).scroll_home(animate=False)
        self._render_status()
        self.call_after_refresh(self._rendered)

    def _rendered(self) -> None:
        now = time.perf_counter()
        if self.first_render_at is None and self.session.current is not None:
            self.first_render_at = now
        if self._key_at is not None:
            self.latencies_ms.append((now - self._key_at) * 1000)
            self._key_at = None

    def _render_status(self) -> None:
        try:
            screen = self.query_one_screen()
        except LookupError:
            return
        session = self.session
        screen.query_one("#title", Static).update(
            Text(
                shown(f"Draftgate review · {session.reviewer} · {session.filters.describe()}")
                + (f" · by {session.order}" if session.order != "created" else "")
                + (f" · double review {session.double_review:g}" if session.double_review else "")
            )
        )
        remaining = "…" if session.remaining is None else f"{max(0, session.remaining):,}"
        position = f"#{session.pos + 1}" if session.current is not None else "end"
        counts = session.counts
        status = (
            f"{position} · {remaining} left · approved {counts.approved} · "
            f"edited {counts.edited} · rejected {counts.rejected} · "
            f"edit rate {counts.edit_rate()}"
        )
        if session.note:
            status += f" · {session.note}"
        screen.query_one("#status", Static).update(Text(shown(status)))

    # ---- keys --------------------------------------------------------------------------

    def _saving_started(self) -> None:
        self.set_timer(SLOW_SAVE_S, self.session.note_slow_save)

    def action_approve(self) -> None:
        self._key_at = time.perf_counter()
        entry = self.session.decidable()
        if entry is None:
            self._key_at = None
            return
        if self.session.approve(entry):
            self._saving_started()
        else:
            self._key_at = None

    def action_edit(self) -> None:
        entry = self.session.decidable()
        if entry is None:
            return
        item = entry.item
        draft = item.draft
        chunk_text = item.chunk.text if item.chunk is not None else ""

        def check(question: str, answer: str) -> list[str]:
            return edit_warnings(
                draft,
                question,
                answer,
                chunk_text=chunk_text,
                glossary=self.glossary,
                corpus_search=self.docs_search,
            )

        def done(result: EditResult | None) -> None:
            if result is None or self.session.current is not entry:
                return
            self._key_at = time.perf_counter()
            note = warned_note(result.warned) if result.warned else None
            self.session.edit(entry, result.question, result.answer, note=note)
            self._saving_started()

        editor = EditScreen(draft.question, draft.answer, source=source_text(item), check=check)
        self.push_screen(editor, done)

    def action_reject(self) -> None:
        entry = self.session.decidable()
        if entry is None:
            return

        def done(result: tuple[RejectReason, str | None] | None) -> None:
            if result is None or self.session.current is not entry:
                return
            self._key_at = time.perf_counter()
            self.session.reject(entry, result[0], result[1])
            self._saving_started()

        self.push_screen(RejectScreen(source_text(entry.item)), done)

    def _timed(self, step: Callable[[], bool]) -> None:
        key_at = time.perf_counter()
        if step():
            self._key_at = key_at

    def action_skip(self) -> None:
        self._timed(self.session.skip)

    def action_next(self) -> None:
        self._timed(self.session.next)

    def action_previous(self) -> None:
        self._timed(self.session.previous)

    def action_undo(self) -> None:
        self._timed(self.session.undo)

    def action_filter(self) -> None:
        if self.session.saving:
            return

        def done(result: QueueFilter | None) -> None:
            if result is None or result == self.session.filters:
                return
            self.session.apply_filter(result)

        self.push_screen(FilterScreen(self.session.filters), done)

    def action_help(self) -> None:
        self._help_opened_at = time.perf_counter()
        if not self.is_screen_installed(HELP_SCREEN):
            self.install_screen(
                HelpScreen(self._keys_markdown(), self.guidelines, self._help_shown), HELP_SCREEN
            )
        self.push_screen(HELP_SCREEN)

    def _help_shown(self) -> None:
        self.help_open_ms.append((time.perf_counter() - self._help_opened_at) * 1000)

    def _keys_markdown(self) -> str:
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
        return "\n".join(lines)

    def action_quit_review(self) -> None:
        self.session.quit()
        self.set_timer(QUIT_WAIT_S, self.session.quit_now)
