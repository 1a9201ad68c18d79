"""Claims on generation jobs: which run is drafting a job right now, so no other run pays for it.

A claim is an append-only row (``job_claims``, migration 7). The claim in force on a job is its
newest row while that row's ``expires_at`` is ahead; a run renews its claims by adding rows
with a later expiry, gives them back with a row that expires at once, and a run that was
killed simply stops renewing, so its claims run out. Every function here runs inside the
caller's write transaction (``BEGIN IMMEDIATE``): checking and claiming happen under one lock,
so two runs can never both take a job.

Each row names the host and process of the run. A claim whose process is gone from this host
(killed, crashed) counts for nothing at once, so a rerun after ``kill -9`` need not wait for
the expiry; the expiry is what frees the jobs of a run that hangs, or ran under another host
name (a container sharing the file: its process ids are not this host's).
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# SQLite binds at most 32766 parameters a statement; windows stay far below.
KEYS_PER_QUERY = 500


def stamp(moment: datetime) -> str:
    """The ledger's timestamp format (``store.utc_now``): UTC, milliseconds, sortable as text."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class ClaimOutcome:
    """What one claiming pass found, for the keys it looked at (in the order given)."""

    claimed: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # an ok call is recorded for it
    held_elsewhere: list[str] = field(default_factory=list)  # another run's claim is in force
    examined: int = 0  # how many of the given keys were looked at


@dataclass(frozen=True)
class Holder:
    """Who wrote a claim row: the run, and its host and process."""

    run_id: str
    host: str
    pid: int


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def holder_alive(holder: Holder, host: str) -> bool:
    """False only when the holder's process is known to be gone (on this host)."""
    return holder.host != host or holder.pid == os.getpid() or process_alive(holder.pid)


def _windows(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), KEYS_PER_QUERY):
        yield keys[start : start + KEYS_PER_QUERY]


def _marks(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def finished_among(db: sqlite3.Connection, keys: Sequence[str]) -> set[str]:
    """The keys with an ok call recorded."""
    found: set[str] = set()
    for window in _windows(keys):
        found.update(
            row[0]
            for row in db.execute(
                "SELECT DISTINCT job_key FROM generation_calls"
                f" WHERE status = 'ok' AND job_key IN ({_marks(len(window))})",
                list(window),
            )
        )
    return found


def holders(db: sqlite3.Connection, keys: Sequence[str], now: str) -> dict[str, Holder]:
    """job key -> holder of the claim in force on it, for the keys that have one: the newest
    row, unexpired, written by a process not known to be gone."""
    host = this_host()
    held: dict[str, Holder] = {}
    for window in _windows(keys):
        rows = db.execute(
            "SELECT c.job_key, c.run_id, c.host, c.pid FROM job_claims c"
            f" WHERE c.job_key IN ({_marks(len(window))})"
            " AND c.rowid_ = (SELECT max(c2.rowid_) FROM job_claims c2"
            " WHERE c2.job_key = c.job_key) AND c.expires_at > ?",
            [*window, now],
        )
        for key, run_id, row_host, pid in rows:
            holder = Holder(run_id, row_host, pid)
            if holder_alive(holder, host):
                held[key] = holder
    return held


def newest_owners(db: sqlite3.Connection, keys: Sequence[str]) -> dict[str, str]:
    """job key -> run id of its newest claim row, expired or not."""
    owners: dict[str, str] = {}
    for window in _windows(keys):
        rows = db.execute(
            "SELECT c.job_key, c.run_id FROM job_claims c"
            f" WHERE c.job_key IN ({_marks(len(window))})"
            " AND c.rowid_ = (SELECT max(c2.rowid_) FROM job_claims c2"
            " WHERE c2.job_key = c.job_key)",
            list(window),
        )
        owners.update((row[0], row[1]) for row in rows)
    return owners


def insert_claims(
    db: sqlite3.Connection, run_id: str, keys: Sequence[str], claimed_at: str, expires_at: str
) -> None:
    host, pid = this_host(), os.getpid()
    db.executemany(
        "INSERT INTO job_claims(job_key, run_id, host, pid, claimed_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(key, run_id, host, pid, claimed_at, expires_at) for key in keys],
    )


def claim(
    db: sqlite3.Connection, run_id: str, keys: Sequence[str], want: int, ttl_s: float
) -> ClaimOutcome:
    """Claim up to ``want`` of ``keys`` in order for ``run_id``, passing over finished jobs and
    those another run holds; a job whose claim ran out (or was given back) can be taken."""
    now = datetime.now(UTC)
    now_text = stamp(now)
    finished = finished_among(db, keys)
    held = {key: holder.run_id for key, holder in holders(db, keys, now_text).items()}
    outcome = ClaimOutcome()
    for key in keys:
        if len(outcome.claimed) >= want:
            break
        outcome.examined += 1
        if key in finished:
            outcome.finished.append(key)
        elif held.get(key, run_id) != run_id:
            outcome.held_elsewhere.append(key)
        else:
            outcome.claimed.append(key)
    insert_claims(db, run_id, outcome.claimed, now_text, stamp(now + timedelta(seconds=ttl_s)))
    return outcome


def renew(db: sqlite3.Connection, run_id: str, keys: Sequence[str], ttl_s: float) -> list[str]:
    """Extend ``run_id``'s claims on ``keys``; returns the keys another run has claimed since
    (this run's claim ran out first), which are not renewed."""
    now = datetime.now(UTC)
    owners = newest_owners(db, keys)
    lost = [key for key in keys if owners.get(key, run_id) != run_id]
    kept = [key for key in keys if owners.get(key, run_id) == run_id]
    insert_claims(db, run_id, kept, stamp(now), stamp(now + timedelta(seconds=ttl_s)))
    return lost


def release(db: sqlite3.Connection, run_id: str, keys: Sequence[str]) -> int:
    """Give back ``run_id``'s claims in force on ``keys`` (a row that expires at once), so
    another run can take those jobs now rather than when the claims run out."""
    now_text = stamp(datetime.now(UTC))
    mine = [key for key, holder in holders(db, keys, now_text).items() if holder.run_id == run_id]
    insert_claims(db, run_id, mine, now_text, now_text)
    return len(mine)
