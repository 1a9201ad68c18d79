"""Screens over the review screen: edit and reject (in place of the card, beside the source),
filter and help. They return values; they never touch the ledger.

While one is open the review screen's single-key bindings are inactive (they live on the review
screen, not the app), and text widgets consume printable keys, so typing "r" never rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Footer,
    Input,
    Label,
    OptionList,
    Select,
    Static,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.widgets.text_area import Edit
from textual.widgets.text_area import EditResult as TextAreaEditResult

from ledger import RejectReason
from ledger.queue import QueueFilter
from ledger.text import has_controls, visible
from tui.render import word_diff

ResultT = TypeVar("ResultT")

REASON_LABELS = {
    RejectReason.WRONG_FACTS: "wrong facts",
    RejectReason.NOT_GROUNDED: "not grounded in the docs",
    RejectReason.INVENTED_FEATURE_OR_UI: "invented feature or UI",
    RejectReason.DUPLICATE: "duplicate",
    RejectReason.UNSAFE: "unsafe",
    RejectReason.OFF_STYLE: "off-style",
    RejectReason.OTHER: "other",
}


class DraftEditor(TextArea):
    """A TextArea with the keys of a desktop editor on top of its emacs keys: ctrl+home and
    ctrl+end go to the start and end of the text (with shift: select to there), ctrl+a selects
    everything (home still goes to the line start), ctrl+z / ctrl+shift+z undo and redo."""

    BINDINGS = [
        Binding("ctrl+home", "document_start", "Start of text", show=False),
        Binding("ctrl+end", "document_end", "End of text", show=False),
        Binding("ctrl+shift+home", "document_start(True)", show=False),
        Binding("ctrl+shift+end", "document_end(True)", show=False),
        Binding("ctrl+a", "select_all", "Select all", show=False),
        Binding("ctrl+shift+z", "redo", "Redo", show=False),
    ]

    def action_document_start(self, select: bool = False) -> None:
        self.move_cursor((0, 0), select=select)

    def action_document_end(self, select: bool = False) -> None:
        self.move_cursor(self.document.end, select=select)

    def on_mount(self) -> None:
        # A first keystroke adds to the text rather than landing in front of it.
        self.move_cursor(self.document.end)

    def edit(self, edit: Edit) -> TextAreaEditResult:
        # Pasted control characters go in visible, as they will be stored: a reviewer signs
        # what they see, and the terminal never receives them.
        if has_controls(edit.text):
            edit.text = visible(edit.text)
        return super().edit(edit)


class NoteInput(Input):
    """An Input whose value never holds a control character (a pasted one is made visible)."""

    def validate_value(self, value: str) -> str:
        return visible(value)


class BesideSource(Screen[ResultT]):
    """A form in place of the card, with the draft's source (evidence highlighted) beside it as
    on the review screen, so a correction is made against the docs, not from memory."""

    TITLE_TEXT = ""

    def __init__(self, source: Text) -> None:
        super().__init__()
        self._source = source

    def compose(self) -> ComposeResult:
        yield Static(self.TITLE_TEXT, id="title")
        with Horizontal(id="body"):
            with VerticalScroll(id="form-pane"):
                yield from self.compose_form()
            with VerticalScroll(id="source-pane"):
                yield Static(self._source, id="source")
        yield Footer(compact=True)

    def compose_form(self) -> ComposeResult:
        raise NotImplementedError


EditCheck = Callable[[str, str], list[str]]


@dataclass(frozen=True)
class EditResult:
    question: str
    answer: str
    # Set when the reviewer saved despite a warning: what they were warned about.
    warned: tuple[str, ...] = ()


class EditScreen(BesideSource[EditResult | None]):
    """Edit question and answer beside the source. The change shows as a word diff against the
    draft while typing; ctrl+s saves (as an edit decision), asking once first when the edit
    names a UI element the docs lack or drops an evidence quote; esc cancels."""

    TITLE_TEXT = "Edit the draft: your text becomes the training example"
    # priority: TextArea owns most keys, these must still reach the screen.
    BINDINGS = [
        Binding("ctrl+s", "save", "Save edit", priority=True, id="edit.save"),
        Binding("escape", "cancel", "Cancel", priority=True, id="edit.cancel"),
    ]

    def __init__(
        self,
        question: str,
        answer: str,
        *,
        source: Text | None = None,
        check: EditCheck | None = None,
    ) -> None:
        super().__init__(source if source is not None else Text())
        # As shown: a draft's control characters are made visible in the editor too, so an
        # edit stores what the reviewer saw.
        self._question = visible(question)
        self._answer = visible(answer)
        self._check = check
        # The text the reviewer was warned about; saving exactly this again saves anyway.
        self._warned_for: tuple[str, str] | None = None
        self._warnings: list[str] = []

    def compose_form(self) -> ComposeResult:
        yield Label("Question")
        yield DraftEditor(self._question, id="question", soft_wrap=True)
        yield Label("Answer")
        yield DraftEditor(self._answer, id="answer", soft_wrap=True)
        yield Label("Change against the draft", classes="subtitle")
        yield Static("(no change yet)", id="edit-diff")
        yield Static("", id="edit-error")
        yield Label(
            "ctrl+s save · esc cancel · tab next field · ctrl+a select all · ctrl+z undo",
            classes="hint",
        )

    def on_mount(self) -> None:
        # Most corrections are to the answer.
        self.query_one("#answer", TextArea).focus()

    def _texts(self) -> tuple[str, str]:
        question = self.query_one("#question", TextArea).text.strip()
        answer = self.query_one("#answer", TextArea).text.strip()
        return question, answer

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        question, answer = self._texts()
        diff = Text()
        if question != self._question.strip():
            diff.append("Q: ", style="dim")
            diff.append_text(word_diff(self._question, question))
            diff.append("\n")
        if answer != self._answer.strip():
            diff.append("A: ", style="dim")
            diff.append_text(word_diff(self._answer, answer))
        self.query_one("#edit-diff", Static).update(diff if diff.plain else "(no change yet)")
        if self._warned_for is not None and self._warned_for != (question, answer):
            self._warned_for = None
            self.query_one("#edit-error", Static).update("")

    def action_save(self) -> None:
        question, answer = self._texts()
        error = self.query_one("#edit-error", Static)
        if not question or not answer:
            error.update("Question and answer must not be empty.")
            return
        if self._warned_for == (question, answer):
            self.dismiss(EditResult(question, answer, tuple(self._warnings)))
            return
        warnings = self._check(question, answer) if self._check is not None else []
        if not warnings:
            self.dismiss(EditResult(question, answer))
            return
        self._warned_for = (question, answer)
        self._warnings = warnings
        message = Text()
        for warning in warnings:
            message.append("⚠ this answer " + visible(warning) + "\n", style="bold yellow")
        message.append("Save anyway? ctrl+s saves (your decision records the warning); ")
        message.append("keep typing to fix it.")
        error.update(message)
        # After the next layout, when the warning has its height: all of it in view.
        self.call_after_refresh(self.query_one("#form-pane").scroll_end, animate=False)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RejectScreen(BesideSource[tuple[RejectReason, str | None] | None]):
    """Pick a reason (arrows + enter, or 1-7), add an optional note, enter/ctrl+s rejects."""

    TITLE_TEXT = "Reject: why is this draft wrong?"
    BINDINGS = [
        Binding("ctrl+s", "save", "Reject", priority=True, id="reject.save"),
        Binding("escape", "cancel", "Cancel", priority=True, id="reject.cancel"),
        *[
            Binding(str(n), f"choose({n - 1})", show=False)
            for n in range(1, len(REASON_LABELS) + 1)
        ],
    ]

    def __init__(self, source: Text | None = None) -> None:
        super().__init__(source if source is not None else Text())
        self.reason: RejectReason | None = None

    def compose_form(self) -> ComposeResult:
        yield OptionList(
            *[
                Option(f"{n}  {label}", id=reason.value)
                for n, (reason, label) in enumerate(REASON_LABELS.items(), start=1)
            ],
            id="reasons",
        )
        yield Static("reason: (pick one)", id="chosen")
        yield NoteInput(placeholder="optional note (enter rejects)", id="note")
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
ORIGIN_CHOICES = [
    ("drafted from the docs", "generate"),
    ("probe failures", "probe"),
    ("imported", "import"),
]


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
            yield Label("Origin")
            yield Select(
                ORIGIN_CHOICES,
                prompt="any origin",
                id="origin",
                value=self._current.origin or Select.NULL,
            )
            yield Label("enter/ctrl+s apply · esc cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        kind = self.query_one("#kind", Select).value
        stale = self.query_one("#stale", Select).value
        doc = self.query_one("#doc", Input).value.strip()
        origin = self.query_one("#origin", Select).value
        self.dismiss(
            QueueFilter(
                kind=kind if isinstance(kind, str) else None,
                doc=doc or None,
                stale=None if not isinstance(stale, str) else stale == "stale",
                origin=origin if isinstance(origin, str) else None,
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
