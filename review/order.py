"""The order a reviewer sees drafts in, chosen for speed of judgment.

- ``created``: creation order (the queue's own rowid scan; no plan is built).
- ``doc``: by source document, then position in it, so the source pane changes little.
- ``kind``: by kind (all Q&As, then negatives, …), so one kind of judgment runs on.
- ``risk``: drafts with generation-time findings first, then by kind, so the drafts most
  likely to be wrong are decided while attention is fresh.

In the three planned orders, near-duplicate drafts (similar questions of the same kind) follow
one another, placed where the first of them falls, so a reviewer decides them together. Each
is still its own decision: grouping changes only the order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from rapidfuzz import fuzz

from ledger.queue import PlanRow
from ledger.text import STOPWORDS, normalise

Order = Literal["created", "doc", "kind", "risk"]
ORDERS: tuple[Order, ...] = ("created", "doc", "kind", "risk")
PLANNED_ORDERS: tuple[Order, ...] = ("doc", "kind", "risk")

# Questions this similar (rapidfuzz ratio of the normalised text) are decided together.
NEAR_DUPLICATE_RATIO = 85.0
# A word shared by more drafts than this says nothing about which two are alike, and would
# make the candidate pairs grow quadratically.
COMMON_TOKEN_DRAFTS = 50
KIND_RANK = {"qa": 0, "negative": 1, "adversarial": 2, "clarify": 3}


def _sort_key(row: PlanRow, order: Order) -> tuple[object, ...]:
    kind_rank = KIND_RANK.get(row.kind, len(KIND_RANK))
    if order == "doc":
        return (row.document_path, row.start_line, kind_rank, row.rowid)
    if order == "kind":
        return (kind_rank, row.document_path, row.start_line, row.rowid)
    return (not row.has_findings, kind_rank, row.document_path, row.start_line, row.rowid)


def _tokens(text: str) -> set[str]:
    return {t for t in text.split() if t not in STOPWORDS and len(t) > 1}


def near_duplicate_groups(rows: Sequence[PlanRow]) -> list[int]:
    """For each row, the index of the first row of its near-duplicate group (itself if none).

    Candidates are pairs of the same kind sharing a rare word; rapidfuzz confirms them. Groups
    are the connected pairs (union-find), so a chain of close questions stays together."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    texts = [normalise(row.question) for row in rows]
    postings: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (row, text) in enumerate(zip(rows, texts, strict=True)):
        for token in _tokens(text):
            postings[(row.kind, token)].append(i)
    checked: set[tuple[int, int]] = set()
    for members in postings.values():
        if len(members) < 2 or len(members) > COMMON_TOKEN_DRAFTS:
            continue
        for a_pos, a in enumerate(members):
            for b in members[a_pos + 1 :]:
                if root(a) == root(b) or (a, b) in checked:
                    continue
                checked.add((a, b))
                if fuzz.ratio(texts[a], texts[b]) >= NEAR_DUPLICATE_RATIO:
                    low, high = sorted((root(a), root(b)))
                    parent[high] = low
    return [root(i) for i in range(len(rows))]


def plan(rows: Sequence[PlanRow], order: Order) -> list[int] | None:
    """The rowids in review order, or None for creation order (the queue scans rowids)."""
    if order == "created":
        return None
    ranked = sorted(rows, key=lambda row: _sort_key(row, order))
    groups = near_duplicate_groups(ranked)
    # Roots are the lowest index in a group, i.e. the member that sorts first.
    members: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    ordered: list[int] = []
    for index, group in enumerate(groups):
        if group == index:
            ordered.extend(ranked[m].rowid for m in members[group])
    return ordered
