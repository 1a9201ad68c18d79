"""What a reviewer is warned about before an edit is saved.

Two things an edit can break that the reviewer may not see while typing:

- a UI name (bold text, an ``A > B`` path, a quoted label, "the X page") that the docs and the
  glossary don't have: the same rule as the generation-time check and the audit's phantom
  signal (``ledger.text.ui_references``, the ledger's full-text search over current chunks);
- an evidence quote the draft's answer carried word for word that the edited answer no longer
  carries (the answer's grounding was cut).

The reviewer may save anyway; the decision's note then says they were warned and about what
(``warned_note``), so the audit trail shows an informed override.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from ledger import Draft, Ledger, LedgerError
from ledger.text import normalise, ui_references

# Marks a decision note written for a save after a warning (the audit can count them).
WARNED_PREFIX = "saved after warning: "

CorpusSearch = Callable[[str], bool]


def phantom_names(
    answer: str,
    *,
    chunk_text: str,
    question: str,
    glossary: Iterable[str],
    corpus_search: CorpusSearch,
) -> list[str]:
    """UI-looking names in ``answer`` found in neither the chunk, the question, the glossary nor
    any current chunk of the docs."""
    known = [f" {normalise(name)} " for name in glossary if normalise(name)]
    around = (f" {normalise(chunk_text)} ", f" {normalise(question)} ")
    phantoms = []
    for name in ui_references(answer):
        padded = f" {normalise(name)} "
        if any(padded in text for text in around) or any(padded in entry for entry in known):
            continue
        if corpus_search(name):
            continue
        phantoms.append(name)
    return phantoms


def broken_quotes(draft: Draft, answer: str) -> list[str]:
    """Evidence quotes the draft's answer held (normalised) that ``answer`` no longer holds."""
    before = f" {normalise(draft.answer)} "
    after = f" {normalise(answer)} "
    broken = []
    for quote in draft.evidence:
        padded = f" {normalise(quote)} "
        if padded.strip() and padded in before and padded not in after:
            broken.append(quote)
    return broken


def edit_warnings(
    draft: Draft,
    question: str,
    answer: str,
    *,
    chunk_text: str,
    glossary: Iterable[str],
    corpus_search: CorpusSearch,
) -> list[str]:
    """One line per thing the reviewer should confirm before this edit is saved."""
    warnings = [
        f"names “{name}”, which the docs and glossary don't have"
        for name in phantom_names(
            answer,
            chunk_text=chunk_text,
            question=question,
            glossary=glossary,
            corpus_search=corpus_search,
        )
    ]
    warnings += [
        f"no longer quotes the evidence “{quote}”" for quote in broken_quotes(draft, answer)
    ]
    return warnings


def warned_note(warnings: Iterable[str]) -> str:
    """The decision note recording that the reviewer saved despite ``warnings``."""
    return WARNED_PREFIX + "; ".join(warnings)


class DocsSearch:
    """The ledger's full-text search on a read-only connection of its own, opened on first use.

    For the thread that drives a review screen: one FTS query (well under a millisecond on the
    sample) when an edit is saved. A ledger that cannot be read finds nothing, so every name
    the glossary lacks is reported: a warning too many, never one too few.
    """

    def __init__(self, ledger_path: str | Path) -> None:
        self._path = str(ledger_path)
        self._ledger: Ledger | None = None
        self._found: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        key = normalise(name)
        if key not in self._found:
            try:
                if self._ledger is None:
                    self._ledger = Ledger.open(self._path, must_exist=True, read_only=True)
                self._found[key] = bool(self._ledger.search_chunks(name, limit=1))
            except (LedgerError, sqlite3.Error):  # see the class docstring: it warns instead
                return False
        return self._found[key]

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
