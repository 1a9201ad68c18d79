"""The review queue: which draft a reviewer sees next, and the leases that keep reviewers apart.

A reviewer *claims* a draft before it is shown: one ``BEGIN IMMEDIATE`` transaction finds the
first undecided draft (creation order, optional filters) that no other reviewer holds a live
lease on, and appends a lease row for it. Leases are append-only like every other record: the
live lease on a draft is its newest row whose ``expires_at`` is still ahead, so a release is a
new row that expires at once, and a crashed reviewer's lease simply runs out.

Double review: with a fraction f, the drafts whose id hashes below f are also offered, once
decided by one reviewer, to a *different* reviewer (blind: the earlier verdict is not part of
what is returned), so the audit can measure agreement. In creation order nothing here loads the
whole queue: every read is a page ordered by the drafts' rowid. Another order is a *plan*: the
rowids of the drafts to offer, in order, built once per filter from ``plan_rows`` by the caller
(the ordering policy is not SQL); claims then walk the plan a page at a time and check each
draft's eligibility as they go, so a draft decided or leased since the plan was made is passed.

Skipping: ``exclude`` on a claim and on ``remaining`` names drafts this session set aside, so a
skipped draft stays out for the rest of the session whatever the filter, and the count of
drafts left agrees with what the session will still show.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.chain import lease_hash
from ledger.docs_flags import CHUNK_AI_ADDRESSED_SQL, AiAddressedText, row_to_flag
from ledger.ids import new_event_id
from ledger.migrations import AI_ADDRESSED_SCHEMA
from ledger.models import IMPORT_DRAFTER, PROBE_DRAFTER, Chunk, Draft, DraftOrigin, draft_origin
from ledger.reviewers import reviewer_name
from ledger.store import Ledger, row_to_chunk, row_to_draft

DEFAULT_LEASE_SECONDS = 600
PAGE_SIZE = 200
# A plan is already in review order and mostly eligible, so its claims read short pages.
PLAN_PAGE_SIZE = 32

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """The ledger's timestamp text (sorts as time): UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def double_review_hit(draft_id: str, fraction: float) -> bool:
    """Whether a draft is in the double-review sample: a hash of its id, not a coin flip,
    so every reviewer and every run agree on the sample."""
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(draft_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


@dataclass(frozen=True)
class QueueFilter:
    kind: str | None = None
    doc: str | None = None  # substring of the document path
    stale: bool | None = None  # True: only stale drafts; False: only fresh ones
    origin: str | None = None  # a DraftOrigin value: generate, probe or import

    def describe(self) -> str:
        parts = []
        if self.origin:
            parts.append(f"origin={self.origin}")
        if self.kind:
            parts.append(f"kind={self.kind}")
        if self.doc:
            parts.append(f"doc~{self.doc}")
        if self.stale is not None:
            parts.append("stale" if self.stale else "fresh")
        return ", ".join(parts) or "all drafts"

    def matches(
        self, kind: str, document_path: str, stale: bool, origin: str = DraftOrigin.GENERATE
    ) -> bool:
        """Whether a draft with these properties is inside the filter."""
        return (
            (not self.origin or origin == self.origin)
            and (not self.kind or kind == self.kind)
            and (not self.doc or self.doc in document_path)
            and (self.stale is None or stale == self.stale)
        )


@dataclass(frozen=True)
class PlanRow:
    """What an ordering policy needs to know of one draft in the queue."""

    rowid: int
    kind: str
    document_path: str
    start_line: int
    has_findings: bool
    question: str


@dataclass(frozen=True)
class ReviewItem:
    """One claimed draft with what the screen shows beside it."""

    rowid: int
    draft: Draft
    chunk: Chunk | None
    document_path: str
    stale: bool
    double_review: bool  # shown as a second, blind review of a decided draft
    cursor: int = 0  # where the scan that claimed it goes on from (a rowid, or a plan index)
    # Sentences of the source chunk addressed to an AI assistant, as ingest flagged them.
    ai_addressed: tuple[AiAddressedText, ...] = ()
    # Where the draft came from (its call's drafter): generate, probe or import.
    origin: str = DraftOrigin.GENERATE.value


# The drafters that mark an origin other than generate (ledger.models.draft_origin).
ORIGIN_DRAFTERS = (PROBE_DRAFTER, IMPORT_DRAFTER)


def origin_condition(origin: str) -> tuple[str, list[Any]]:
    """SQL on ``dr`` (a drafts row) for the drafts of ``origin``, and its parameters."""
    drafter = "(SELECT gc.drafter FROM generation_calls gc WHERE gc.id = dr.call_id)"
    if origin == DraftOrigin.PROBE:
        return f"{drafter} = ?", [PROBE_DRAFTER]
    if origin == DraftOrigin.IMPORT:
        return f"{drafter} = ?", [IMPORT_DRAFTER]
    return f"{drafter} NOT IN (?, ?)", list(ORIGIN_DRAFTERS)


# A draft is undecided when no decision on it is still in force (live_decisions is a plain
# view, so SQLite flattens it and probes decisions_draft / decisions_reverts per draft; the
# draft_status view's window function would be computed over every decision instead).
_UNDECIDED = "NOT EXISTS (SELECT 1 FROM live_decisions ld WHERE ld.draft_id = dr.id)"
# No other review session holds a live lease: the draft's newest lease row has expired or is
# this session's own. Sessions, not reviewer names: two terminals under one name (the $USER
# default) must never be shown the same draft. A crashed session's drafts come back when its
# leases run out.
_NOT_HELD = (
    "NOT EXISTS (SELECT 1 FROM leases l WHERE l.draft_id = dr.id"
    " AND l.rowid_ = (SELECT max(l2.rowid_) FROM leases l2 WHERE l2.draft_id = dr.id)"
    " AND l.expires_at > ? AND l.session_id != ?)"
)


class ReviewQueue:
    """One reviewer session's view of the queue. Uses the caller's ``Ledger`` (one thread)."""

    def __init__(
        self,
        ledger: Ledger,
        reviewer: str,
        *,
        session_id: str | None = None,
        lease_seconds: int = DEFAULT_LEASE_SECONDS,
        filters: QueueFilter | None = None,
        double_review: float = 0.0,
        clock: Clock = system_clock,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.ledger = ledger
        # The stored spelling, so leases and decisions name the same person.
        self.reviewer = reviewer_name(reviewer)
        self.session_id = session_id or new_event_id()
        # A ledger kept at an older schema (by an older Draftgate) has no flags to show.
        self._has_ai_flags = ledger.schema_version() >= AI_ADDRESSED_SCHEMA
        self.lease_seconds = lease_seconds
        self.filters = filters or QueueFilter()
        self.double_review = double_review
        self.clock = clock
        self.page_size = page_size

    # ---- reading ---------------------------------------------------------------------

    def _filter_sql(self) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        if self.filters.kind:
            where.append("dr.kind = ?")
            params.append(self.filters.kind)
        if self.filters.doc:
            where.append(
                "dr.chunk_id IN (SELECT c.id FROM chunks c JOIN documents d"
                " ON d.id = c.document_id WHERE d.path LIKE ?)"
            )
            params.append(f"%{self.filters.doc}%")
        if self.filters.stale is not None:
            op = "IN" if self.filters.stale else "NOT IN"
            where.append(f"dr.id {op} (SELECT draft_id FROM stale_drafts)")
        if self.filters.origin:
            condition, condition_params = origin_condition(self.filters.origin)
            where.append(condition)
            params.extend(condition_params)
        return where, params

    def remaining(self, exclude: Iterable[str] = ()) -> int:
        """Undecided drafts matching the filters (leased or not), less the ``exclude``d ones
        this session set aside: the status bar's count."""
        where, params = self._filter_sql()
        sql = "SELECT count(*) FROM drafts dr WHERE " + " AND ".join([_UNDECIDED, *where])
        total = int(self.ledger.query(sql, params)[0][0])
        excluded = sorted(set(exclude))
        if excluded:
            # Set-aside drafts are few; counting them separately keeps the main count a plain
            # index scan. A set-aside draft counts only while it is undecided and in the filter.
            sql = (
                "SELECT count(*) FROM drafts dr WHERE dr.id IN (SELECT value FROM json_each(?))"
                " AND " + " AND ".join([_UNDECIDED, *where])
            )
            total -= int(self.ledger.query(sql, [json.dumps(excluded), *params])[0][0])
        return total

    def plan_rows(self) -> list[PlanRow]:
        """Every draft the filters let through that this reviewer might still be offered, with
        what an ordering policy sorts by; in creation order."""
        where, params = self._filter_sql()
        eligible = [] if self.double_review > 0 else [_UNDECIDED]
        # Chunks are few beside drafts: their place is read once, not joined per draft.
        places = {
            r[0]: (r[1] or "", int(r[2] or 0))
            for r in self.ledger.query(
                "SELECT c.id, d.path, c.start_line FROM chunks c"
                " LEFT JOIN documents d ON d.id = c.document_id"
            )
        }
        sql = (
            "SELECT dr.rowid, dr.kind, dr.chunk_id,"
            " coalesce(json_array_length(dr.meta, '$.findings'), 0) > 0, dr.question"
            " FROM drafts dr"
        )
        conditions = [*eligible, *where]
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY dr.rowid"
        nowhere = ("", 0)
        return [
            PlanRow(int(r[0]), r[1], *places.get(r[2], nowhere), bool(r[3]), r[4])
            for r in self.ledger.query(sql, params)
        ]

    def _item(self, db: Any, row: Any, double: bool, cursor: int = 0) -> ReviewItem:
        draft = row_to_draft(row)
        chunk_row = db.execute(
            "SELECT c.*, d.path AS doc_path FROM chunks c JOIN documents d"
            " ON d.id = c.document_id WHERE c.id = ?",
            (draft.chunk_id,),
        ).fetchone()
        chunk = None
        path = ""
        if chunk_row is not None:
            chunk = row_to_chunk(chunk_row)
            path = chunk_row["doc_path"]
        stale = (
            db.execute("SELECT 1 FROM stale_drafts WHERE draft_id = ?", (draft.id,)).fetchone()
            is not None
        )
        flags: tuple[AiAddressedText, ...] = ()
        if self._has_ai_flags:
            flags = tuple(
                row_to_flag(r) for r in db.execute(CHUNK_AI_ADDRESSED_SQL, (draft.chunk_id,))
            )
        drafter = db.execute(
            "SELECT drafter FROM generation_calls WHERE id = ?", (draft.call_id,)
        ).fetchone()
        origin = draft_origin(drafter[0] if drafter else "").value
        return ReviewItem(
            row["rowid_"], draft, chunk, path, stale, double, cursor, flags, origin=origin
        )

    # ---- claiming --------------------------------------------------------------------

    def claim_next(
        self,
        after_rowid: int = 0,
        exclude: Iterable[str] = (),
        plan: Sequence[int] | None = None,
    ) -> ReviewItem | None:
        """Claim the first reviewable draft after the cursor; None when there is none.

        Without a ``plan`` the cursor is a rowid and drafts come in creation order; with one,
        the cursor is an index into the plan (a list of rowids in review order). ``exclude``
        names drafts this session holds already or set aside, so they are not claimed.
        Everything happens in one BEGIN IMMEDIATE transaction, so two sessions can never both
        pass the lease check for the same draft.
        """
        skip = set(exclude)
        now = self.clock()
        with self.ledger.transaction() as db:
            cursor = after_rowid
            while True:
                page_start = cursor
                if plan is None:
                    rows = self._candidate_page(db, cursor, stamp(now))
                    page = [(row["rowid_"], row) for row in rows]
                    if not page:
                        return None
                else:
                    if cursor >= len(plan):
                        return None
                    page = self._planned_page(db, plan, cursor, stamp(now))
                for next_cursor, row in page:
                    cursor = next_cursor
                    if row["id"] in skip:
                        continue
                    decided = bool(row["decided"])
                    if decided and not double_review_hit(row["id"], self.double_review):
                        continue
                    self._insert_lease(db, row["id"], now)
                    return self._item(db, row, double=decided, cursor=cursor)
                if plan is not None:
                    # None of this page's eligible drafts was taken: go on after the page.
                    cursor = min(len(plan), page_start + PLAN_PAGE_SIZE)

    def _planned_page(
        self, db: Any, plan: Sequence[int], start: int, now: str
    ) -> list[tuple[int, Any]]:
        """The eligible drafts among the plan's next page, in plan order, each with the plan
        index a scan goes on from after it."""
        rowids = list(plan[start : start + PLAN_PAGE_SIZE])
        if not rowids:
            return []
        where, params = self._filter_sql()
        eligible, eligible_params, decided_col = self._eligibility()
        sql = (
            f"SELECT dr.rowid AS rowid_, dr.*, {decided_col} AS decided FROM drafts dr"
            " WHERE dr.rowid IN (SELECT value FROM json_each(?)) AND "
            + " AND ".join([eligible, _NOT_HELD, *where])
        )
        args = [json.dumps(rowids), *eligible_params, now, self.reviewer, *params]
        found = {row["rowid_"]: row for row in db.execute(sql, args).fetchall()}
        return [
            (start + offset + 1, found[rowid])
            for offset, rowid in enumerate(rowids)
            if rowid in found
        ]

    def _eligibility(self) -> tuple[str, list[Any], str]:
        """The SQL condition for a draft this reviewer may be offered, its parameters, and the
        column saying whether someone decided it already."""
        if self.double_review > 0:
            # Undecided drafts, plus decided ones this reviewer never decided and nobody has
            # double-reviewed yet; the hash sample is applied in Python (claim_next).
            decided_col = "EXISTS (SELECT 1 FROM live_decisions ld WHERE ld.draft_id = dr.id)"
            eligible = (
                "NOT EXISTS (SELECT 1 FROM live_decisions ld WHERE ld.draft_id = dr.id"
                " AND (ld.reviewer = ? OR ld.double_review = 1))"
            )
            return eligible, [self.reviewer], decided_col
        return _UNDECIDED, [], "0"

    def _candidate_page(self, db: Any, after_rowid: int, now: str) -> list[Any]:
        where, params = self._filter_sql()
        eligible, eligible_params, decided_col = self._eligibility()
        sql = (
            f"SELECT dr.rowid AS rowid_, dr.*, {decided_col} AS decided FROM drafts dr"
            " WHERE dr.rowid > ? AND "
            + " AND ".join([eligible, _NOT_HELD, *where])
            + " ORDER BY dr.rowid LIMIT ?"
        )
        args = [after_rowid, *eligible_params, now, self.session_id, *params, self.page_size]
        return list(db.execute(sql, args).fetchall())

    def claim_draft(self, draft_id: str) -> ReviewItem | None:
        """Claim one named draft again (going back to it, or after an undo).

        None if another session holds a live lease on it, or if other reviewers' decisions
        leave this reviewer nothing to decide: the same rule ``claim_next`` applies. A draft
        decided by someone else may only get the blind second review, and only when it is in
        the double-review sample and has none yet. Without this check a reviewer who skipped a
        draft and went back to it after another reviewer decided it could decide it again.
        """
        now = self.clock()
        with self.ledger.transaction() as db:
            row = db.execute(
                "SELECT dr.rowid AS rowid_, dr.* FROM drafts dr WHERE dr.id = ? AND " + _NOT_HELD,
                (draft_id, stamp(now), self.session_id),
            ).fetchone()
            if row is None:
                return None
            # Mine: this reviewer in this session (the ledger's one-decision rule, store.py).
            mine_sql = "reviewer = ? AND session_id IS ?"
            mine = db.execute(
                f"SELECT 1 FROM live_decisions WHERE draft_id = ? AND {mine_sql}",
                (draft_id, self.reviewer, self.session_id),
            ).fetchone()
            others = db.execute(
                "SELECT double_review, reviewer FROM live_decisions"
                f" WHERE draft_id = ? AND NOT ({mine_sql})",
                (draft_id, self.reviewer, self.session_id),
            ).fetchall()
            if others and not mine:
                second_review_open = (
                    len(others) == 1
                    and not others[0]["double_review"]
                    and others[0]["reviewer"] != self.reviewer
                    and double_review_hit(draft_id, self.double_review)
                )
                if not second_review_open:
                    return None
            self._insert_lease(db, draft_id, now)
            return self._item(db, row, double=bool(others) and not mine)

    def _insert_lease(
        self, db: Any, draft_id: str, now: datetime, seconds: int | None = None
    ) -> None:
        expires = now + timedelta(seconds=self.lease_seconds if seconds is None else seconds)
        # The row's own number is part of its hash, so it is taken here (inside the write
        # lock) rather than left to AUTOINCREMENT.
        last = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'leases'").fetchone()
        row: dict[str, Any] = {
            "rowid_": (last[0] if last else 0) + 1,
            "draft_id": draft_id,
            "reviewer": self.reviewer,
            "session_id": self.session_id,
            "claimed_at": stamp(now),
            "expires_at": stamp(expires),
        }
        row["lease_hash"] = lease_hash(row)
        db.execute(
            f"INSERT INTO leases({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )

    def _held_by_me(self, db: Any, draft_ids: Iterable[str], now: str) -> list[str]:
        held = []
        for draft_id in draft_ids:
            row = db.execute(
                "SELECT session_id, expires_at FROM leases WHERE draft_id = ?"
                " ORDER BY rowid_ DESC LIMIT 1",
                (draft_id,),
            ).fetchone()
            if row is not None and row[0] == self.session_id and row[1] > now:
                held.append(draft_id)
        return held

    def renew(self, draft_ids: Iterable[str]) -> int:
        """Extend this session's live leases (a long look at one draft must not lose it)."""
        now = self.clock()
        with self.ledger.transaction() as db:
            held = self._held_by_me(db, draft_ids, stamp(now))
            for draft_id in held:
                self._insert_lease(db, draft_id, now)
        return len(held)

    def release(self, draft_ids: Iterable[str]) -> int:
        """Give drafts back (skip, filter change): a new lease row that expires now."""
        now = self.clock()
        with self.ledger.transaction() as db:
            held = self._held_by_me(db, draft_ids, stamp(now))
            for draft_id in held:
                self._insert_lease(db, draft_id, now, seconds=0)
        return len(held)

    def other_sessions(self) -> int:
        """How many other review sessions under this reviewer name hold live leases now (a
        second terminal, or one that crashed and whose leases have not run out yet)."""
        now = stamp(self.clock())
        rows = self.ledger.query(
            "SELECT count(DISTINCT l.session_id) FROM leases l WHERE l.reviewer = ?"
            " AND l.expires_at > ? AND l.session_id != ?"
            " AND l.rowid_ = (SELECT max(l2.rowid_) FROM leases l2 WHERE l2.draft_id = l.draft_id)",
            (self.reviewer, now, self.session_id),
        )
        return int(rows[0][0])

    def is_stale(self, draft_id: str) -> bool:
        """Whether the draft's source text has changed since it was drafted (re-ingested)."""
        return self.ledger.is_stale(draft_id)

    def release_session(self) -> int:
        """On quit: release every live lease this session still holds."""
        now = self.clock()
        with self.ledger.transaction() as db:
            rows = db.execute(
                "SELECT DISTINCT draft_id FROM leases WHERE session_id = ? AND expires_at > ?",
                (self.session_id, stamp(now)),
            ).fetchall()
            held = self._held_by_me(db, [r[0] for r in rows], stamp(now))
            for draft_id in held:
                self._insert_lease(db, draft_id, now, seconds=0)
        return len(held)
