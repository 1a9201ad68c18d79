"""Does each failed call's recorded label match what the server actually did?

The evidence is the server's own side of the run: the HTTP status codes in its access log for
the chat-completion requests made while one `generate` ran, whether its process was still
alive afterwards, and the call's own latency against the configured timeout. A label is
misleading when that evidence contradicts it (a `connection` failure from a server that
stayed up and answered, `rate_limited` from a server that never sent a 429, `server_error`
with no 5xx in the log), or when the stored error text contradicts the label itself (the
stored reason carries another HTTP status than the label names).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# uvicorn's access line: `"POST /v1/chat/completions HTTP/1.1" 500 Internal Server Error`
ACCESS_LINE = re.compile(r'"(?:GET|POST) (?P<path>\S+) HTTP/[\d.]+" (?P<code>\d{3})')
ERROR_CODE = re.compile(r"Error code: (\d{3})")
# Words a record may use to say the server itself went away (what the issue asks for).
CRASH_WORDS = ("crash", "closed the connection", "stopped answering", "died")


@dataclass
class CallRow:
    id: str
    status: str
    error: str | None
    latency_ms: float
    attempts: int
    requested: int
    produced: int
    dropped: dict[str, int]

    @property
    def label(self) -> str:
        return (self.error or "failed").split(":", 1)[0].strip()


@dataclass
class ServerEvidence:
    chat_codes: Counter[int]
    alive_after: bool
    crashed_during: bool


@dataclass
class Verdicts:
    misleading: list[str] = field(default_factory=list)
    count_mismatches: list[str] = field(default_factory=list)


def call_rows(ledger: Path, exclude: set[str]) -> list[CallRow]:
    """The ledger's generation_calls rows not in ``exclude`` (read-only)."""
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT id, status, error, latency_ms, attempts, requested, produced, dropped "
            "FROM generation_calls ORDER BY started_at"
        ).fetchall()
    return [
        CallRow(r[0], r[1], r[2], float(r[3]), int(r[4]), int(r[5]), int(r[6]), json.loads(r[7]))
        for r in rows
        if r[0] not in exclude
    ]


def call_ids(ledger: Path) -> set[str]:
    if not ledger.exists():
        return set()
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        try:
            return {r[0] for r in db.execute("SELECT id FROM generation_calls")}
        except sqlite3.OperationalError:
            return set()


def chat_status_codes(log_text: str) -> Counter[int]:
    codes: Counter[int] = Counter()
    for match in ACCESS_LINE.finditer(log_text):
        if "chat/completions" in match["path"]:
            codes[int(match["code"])] += 1
    return codes


def _label_contradiction(row: CallRow, evidence: ServerEvidence, timeout_s: float) -> str | None:
    label, text = row.label, row.error or ""
    codes = evidence.chat_codes
    stated = {int(c) for c in ERROR_CODE.findall(text)}
    if label == "rate_limited":
        if 429 not in codes:
            return "labelled rate_limited, but the server sent no 429"
        if stated and 429 not in stated:
            return f"labelled rate_limited, but its stored error is an HTTP {sorted(stated)}"
        return None
    if label == "server_error":
        if not any(c >= 500 for c in codes):
            return "labelled server_error, but the server's log shows no 5xx reply"
        if stated and not any(c >= 500 for c in stated):
            return f"labelled server_error, but its stored error is an HTTP {sorted(stated)}"
        return None
    if label.startswith("http_") and label[5:].isdigit():
        if int(label[5:]) not in codes:
            return f"labelled {label}, but the server's log shows no {label[5:]} reply"
        return None
    if label == "connection":
        if evidence.crashed_during:
            if not any(word in text.lower() for word in CRASH_WORDS):
                return (
                    "the server process died during the run, but the record says only "
                    f"{text[:120]!r}, nothing about the server having stopped"
                )
            return None
        return "labelled connection, but the server process stayed up and kept answering"
    if label == "timeout":
        if row.latency_ms < timeout_s * 1000 * 0.95:
            return (
                f"labelled timeout after {row.latency_ms / 1000:.1f} s, shorter than the "
                f"{timeout_s:.0f} s timeout"
            )
        return None
    # max_tokens: the server answered (200) but stopped at the token limit the call set.
    if label in ("invalid_output", "bad_response", "max_tokens"):
        if not any(200 <= c < 300 for c in codes):
            return f"labelled {label}, but the server's log shows no 2xx reply to read"
        if stated:
            return f"labelled {label}, but its stored error is an HTTP {sorted(stated)}"
        return None
    return f"unrecognised label {label!r}"


def judge(rows: list[CallRow], evidence: ServerEvidence, timeout_s: float) -> Verdicts:
    verdicts = Verdicts()
    for row in rows:
        dropped = sum(row.dropped.values())
        if row.status == "ok" and row.requested != row.produced + dropped:
            verdicts.count_mismatches.append(
                f"{row.id}: requested {row.requested} != produced {row.produced} "
                f"+ dropped {dropped}"
            )
        if row.status != "ok" and row.produced + dropped > row.requested:
            verdicts.count_mismatches.append(
                f"{row.id} (failed): produced {row.produced} + dropped {dropped} exceed "
                f"requested {row.requested}"
            )
        if row.status == "ok":
            continue
        problem = _label_contradiction(row, evidence, timeout_s)
        if problem is not None:
            verdicts.misleading.append(f"{row.id}: {problem}")
    return verdicts
