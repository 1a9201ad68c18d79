"""Modal screens: edit, reject, filter and help. They return values; they never touch the ledger.

While a modal is open the main screen's single-key bindings are inactive (they live on the main
screen, not the app), and text widgets consume printable keys, so typing "r" never rejects.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from ledger import RejectReason
from ledger.queue import QueueFilter

REASON_LABELS = {
    RejectReason.WRONG_FACTS: "wrong facts",
    RejectReason.NOT_GROUNDED: "not grounded in the docs",
    RejectReason.INVENTED_FEATURE_OR_UI: "invented feature or UI",
    RejectReason.DUPLICATE: "duplicate",
    RejectReason.UNSAFE: "unsafe",
    RejectReason.OFF_STYLE: "off-style",
    RejectReason.OTHER: "other",
}


class EditScreen(ModalScreen[tuple[str, str] | None]):
    """Edit question and answer; ctrl+s saves (as an edit decision), esc cancels."""

    # priority: TextArea owns most keys, these must still reach the screen.
    BINDINGS = [
        Binding("ctrl+s", "save", "Save edit", priority=True, id="edit.save"),
        Binding("escape", "cancel", "Cancel", priority=True, id="edit.cancel"),
    ]

    def __init__(self, question: str, answer: str) -> None:
        super().__init__()
        self._question = question
        self._answer = answer

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Edit the draft: your text becomes the training example", classes="title")
            yield Label("Question")
            yield TextArea(self._question, id="question", soft_wrap=True)
            yield Label("Answer")
            yield TextArea(self._answer, id="answer", soft_wrap=True)
            yield Static("", id="edit-error")
            yield Label("ctrl+s save edit · esc cancel · tab next field", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#question", TextArea).focus()

    def action_save(self) -> None:
        question = self.query_one("#question", TextArea).text.strip()
        answer = self.query_one("#answer", TextArea).text.strip()
        if not question or not answer:
            self.query_one("#edit-error", Static).update("Question and answer must not be empty.")
            return
        self.dismiss((question, answer))

    def action_cancel(self) -> None:
        self.dismiss(None)


class RejectScreen(ModalScreen[tuple[RejectReason, str | None] | None]):
    """Pick a reason (arrows + enter, or 1-7), add an optional note, enter/ctrl+s rejects."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Reject", priority=True, id="reject.save"),
        Binding("escape", "cancel", "Cancel", priority=True, id="reject.cancel"),
        *[
            Binding(str(n), f"choose({n - 1})", show=False)
            for n in range(1, len(REASON_LABELS) + 1)
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self.reason: RejectReason | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Reject: why is this draft wrong?", classes="title")
            yield OptionList(
                *[
                    Option(f"{n}  {label}", id=reason.value)
                    for n, (reason, label) in enumerate(REASON_LABELS.items(), start=1)
                ],
                id="reasons",
            )
            yield Static("reason: (pick one)", id="chosen")
            yield Input(placeholder="optional note (enter rejects)", id="note")
            yield Label("1-7 or ↑↓ enter pick · enter/ctrl+s reject · esc cancel", classes="hint")

    def action_choose(self, index: int) -> None:
        self.reason = list(REASON_LABELS)[index]
        self.query_one("#reasons", OptionList).highlighted = index
        # Focus moves to the note on its own; saying so keeps a reviewer from pressing tab,
        # which would take focus back to the reasons and swallow the note they type.
        self.query_one("#chosen", Static).update(
            f"reason: {REASON_LABELS[self.reason]} · type an optional note, enter rejects"
        )
        self.query_one("#note", Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.action_choose(event.option_index)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_save()

    def action_save(self) -> None:
        if self.reason is None:
            self.query_one("#chosen", Static).update("reason: pick one first (1-7)")
            self.query_one("#reasons", OptionList).focus()
            return
        note = self.query_one("#note", Input).value.strip() or None
        self.dismiss((self.reason, note))

    def action_cancel(self) -> None:
        self.dismiss(None)


KIND_CHOICES = [
    ("qa", "qa"),
    ("negative", "negative"),
    ("adversarial", "adversarial"),
    ("clarify", "clarify"),
]
STALE_CHOICES = [("only stale drafts", "stale"), ("only fresh drafts", "fresh")]


class FilterScreen(ModalScreen[QueueFilter | None]):
    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", priority=True, id="filter.apply"),
        Binding("escape", "cancel", "Cancel", priority=True, id="filter.cancel"),
    ]

    def __init__(self, current: QueueFilter) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        stale = self._current.stale
        with Vertical():
            yield Label("Filter the queue", classes="title")
            yield Label("Kind")
            yield Select(
                KIND_CHOICES, value=self._current.kind or Select.NULL, prompt="any kind", id="kind"
            )
            yield Label("Document path contains")
            yield Input(self._current.doc or "", placeholder="any document", id="doc")
            yield Label("Stale")
            yield Select(
                STALE_CHOICES,
                prompt="stale or fresh",
                id="stale",
                value=Select.NULL if stale is None else ("stale" if stale else "fresh"),
            )
            yield Label("enter/ctrl+s apply · esc cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        kind = self.query_one("#kind", Select).value
        stale = self.query_one("#stale", Select).value
        doc = self.query_one("#doc", Input).value.strip()
        self.dismiss(
            QueueFilter(
                kind=kind if isinstance(kind, str) else None,
                doc=doc or None,
                stale=None if not isinstance(stale, str) else stale == "stale",
            )
        )

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Keys and guidelines in one scrolling pane.

    The Markdown is rendered by Rich into a single Static: Textual's Markdown widget mounts a
    widget per block, which takes most of a second for the guidelines; one Static paints in a
    fraction of that. The app installs one HelpScreen and shows it again on every "?", so
    later openings reuse what was laid out. The scroller has focus, so ↑↓, PageUp/PageDown and
    Home/End scroll it.
    """

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", priority=True, id="help.close"),
    ]

    def __init__(
        self, keys_markdown: str, guidelines_markdown: str, on_shown: Callable[[], None]
    ) -> None:
        super().__init__()
        self._text = keys_markdown + "\n\n" + guidelines_markdown
        self._on_shown = on_shown

    @property
    def text(self) -> str:
        """The Markdown shown: keys, then guidelines."""
        return self._text

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-scroll"):
            yield Static(RichMarkdown(self._text), id="help-text")

    def on_screen_resume(self) -> None:
        self.query_one("#help-scroll", VerticalScroll).focus()
        self.call_after_refresh(self._on_shown)

    def action_close(self) -> None:
        self.dismiss(None)
