"""Corpus-wide checks that something is NOT in the docs, with the evidence kept for reviewers.

A negative ("no, we don't offer X") is only believable if X occurs nowhere in the docs; a
wrong-UI-name adversarial only if the wrong name occurs nowhere in the docs or the glossary.
Both search every current chunk through the ledger's full-text index, and the terms searched
and what was found are stored with the draft so the reviewer sees why it is believed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.scope import Scope
from ledger import Ledger


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
        for hit in ledger.search_chunks(term, limit=1):
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
    return bool(ledger.search_chunks(name, limit=1))


def path_in_docs(ledger: Ledger, path: str) -> bool:
    """A navigation path ("Settings > Billing") the answer names must occur in the docs."""
    return bool(ledger.search_chunks(path, limit=1))
