"""Drop exact and near-duplicate drafts before they are stored.

Exact: the normalised question (``ledger.text.normalise``: case, punctuation and spacing
folded; the audit's duplicate signals use the same) of the same kind was seen before. Near:
rapidfuzz ``ratio`` of the normalised questions is at or above the threshold. Comparing every
pair would grow quadratically, so near-duplicate candidates are only the drafts that share
enough word tokens (an inverted index), and rapidfuzz confirms.

The index is seeded from every draft in the ledger (so repeats are caught corpus-wide and on
the same chunk across runs) and grows with each draft accepted in this run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from rapidfuzz import fuzz

from ledger.ids import text_hash
from ledger.text import STOPWORDS, normalise

NEAR_THRESHOLD = 90.0


def _tokens(normalised: str) -> set[str]:
    return {t for t in normalised.split() if t not in STOPWORDS and len(t) > 1}


class DedupIndex:
    def __init__(self, threshold: float = NEAR_THRESHOLD) -> None:
        self.threshold = threshold
        self._exact: set[tuple[str, str]] = set()
        self._texts: list[str] = []
        self._kinds: list[str] = []
        self._postings: dict[str, list[int]] = defaultdict(list)

    @classmethod
    def from_drafts(
        cls, rows: Iterable[tuple[str, str]], threshold: float = NEAR_THRESHOLD
    ) -> DedupIndex:
        """Seed from (kind, question) pairs, e.g. the ledger's ``iter_draft_texts``."""
        index = cls(threshold)
        for kind, question in rows:
            index.add(kind, question)
        return index

    def __len__(self) -> int:
        return len(self._texts)

    def check(self, kind: str, question: str) -> str | None:
        """The drop reason for this draft (``duplicate_exact``/``duplicate_near``), or None."""
        norm = normalise(question)
        if (kind, text_hash(norm)) in self._exact:
            return "duplicate_exact"
        tokens = _tokens(norm)
        if not tokens:
            return None
        shared: dict[int, int] = defaultdict(int)
        for token in tokens:
            for position in self._postings.get(token, ()):
                shared[position] += 1
        # A near-duplicate at ratio >= 90 shares most of its words; half is a safe floor.
        floor = max(1, len(tokens) // 2)
        for position, count in shared.items():
            if count < floor or self._kinds[position] != kind:
                continue
            if fuzz.ratio(norm, self._texts[position]) >= self.threshold:
                return "duplicate_near"
        return None

    def add(self, kind: str, question: str) -> None:
        norm = normalise(question)
        self._exact.add((kind, text_hash(norm)))
        position = len(self._texts)
        self._texts.append(norm)
        self._kinds.append(kind)
        for token in _tokens(norm):
            self._postings[token].append(position)

    def check_and_add(self, kind: str, question: str) -> str | None:
        reason = self.check(kind, question)
        if reason is None:
            self.add(kind, question)
        return reason
