"""Even spread of question phrasings over a rule family's drafts.

A hash pick (:func:`generator.rules.text.pick`) spreads phrasings evenly only over many drafts;
a family that makes a dozen drafts can land five of them on one phrasing. :class:`Phrasing`
picks the least used phrasing of the pool so far, ties broken by the draft's key, so the spread
is even at any size and the same docs still give the same questions.
"""

from __future__ import annotations

from collections import Counter

from ledger.ids import text_hash


class Phrasing:
    def __init__(self) -> None:
        self.used: Counter[str] = Counter()

    def pick(self, pool: list[str], key: str) -> str:
        start = int(text_hash(key)[3:11], 16) % len(pool)
        rotated = pool[start:] + pool[:start]
        choice = min(rotated, key=lambda template: self.used[template])
        self.used[choice] += 1
        return choice
