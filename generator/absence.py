"""Corpus-wide checks that something is NOT in the docs, with the evidence kept for reviewers.

A negative ("no, we don't offer X") is only believable if X occurs nowhere in the docs; a
wrong-UI-name adversarial only if the wrong name occurs nowhere in the docs or the glossary.
Both search every current chunk through the ledger's full-text index, and the terms searched
and what was found are stored with the draft so the reviewer sees why it is believed.

The index holds chunks as written; a hit counts only when the term's words also occur in the
chunk's plain text (:mod:`generator.plain`), so a commented-out line (``<!-- brew install … -->``)
or a tag attribute is not taken for the docs offering something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from generator.plain import plain_text
from generator.scope import Scope
from ledger import ChunkHit, Ledger

# Candidates read per term before giving up on finding one in plain text.
_HITS_PER_TERM = 20
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class AbsenceCheck:
    terms: list[str]
    hits: list[dict[str, str]]  # one per term found: term, document path, heading, snippet

    @property
    def absent(self) -> bool:
        return not self.hits

    def as_meta(self) -> dict[str, Any]:
        """The form stored in a draft's ``meta`` under ``absence_check``."""
        return {"terms": self.terms, "hits": self.hits, "absent": self.absent}


def check_absence(ledger: Ledger, terms: list[str]) -> AbsenceCheck:
    """Search every current chunk for each term (token sequence, case-insensitive)."""
    clean = list(dict.fromkeys(t.strip() for t in terms if t.strip()))
    hits: list[dict[str, str]] = []
    for term in clean:
        for hit in _plain_hits(ledger, term, limit=1):
            hits.append(
                {
                    "term": term,
                    "document": hit.document_path,
                    "heading": " > ".join(hit.heading_path),
                    "snippet": hit.snippet,
                }
            )
    return AbsenceCheck(clean, hits)


def ui_name_is_real(ledger: Ledger, scope: Scope, name: str) -> bool:
    """A UI name counts as real if the glossary lists it or any doc mentions it."""
    wanted = name.strip().casefold()
    if any(wanted == known.casefold() for known in scope.glossary.names()):
        return True
    return bool(_plain_hits(ledger, name, limit=1))


def path_in_docs(ledger: Ledger, path: str) -> bool:
    """A navigation path ("Settings > Billing") the answer names must occur in the docs."""
    return bool(_plain_hits(ledger, path, limit=1))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _has_sequence(words: list[str], wanted: list[str]) -> bool:
    width = len(wanted)
    return any(words[i : i + width] == wanted for i in range(len(words) - width + 1))


def _plain_hits(ledger: Ledger, term: str, *, limit: int) -> list[ChunkHit]:
    """Index hits for ``term`` whose chunk's plain text holds the term's words in order."""
    wanted = _words(term)
    found = []
    for hit in ledger.search_chunks(term, limit=_HITS_PER_TERM):
        chunk = ledger.get_chunk(hit.chunk_id)
        if chunk is None or (wanted and not _has_sequence(_words(plain_text(chunk.text)), wanted)):
            continue
        found.append(hit)
        if len(found) >= limit:
            break
    return found
