"""verify() finds each kind of tampering, named by kind; an intact ledger has no breaks.

Tampering goes through raw sqlite3 with the protective triggers dropped, as someone editing
the file by hand would.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import DecisionIn, Ledger, RejectReason, Verdict, verify
from ledger.chain import decision_entry_hash
from tests.support.builders import add_document, add_drafts
from tests.support.tamper import RawLedger


@pytest.fixture
def decided(ledger: Ledger) -> dict[str, list[str]]:
    """Five decisions on four drafts, so there is a first, middle and last to tamper with."""
    chunk_ids = add_document(ledger)
    drafts = add_drafts(ledger, chunk_ids[0], count=4)
    decisions = [
        ledger.record_decision(
            DecisionIn(draft_id=drafts[0], reviewer="ana", verdict=Verdict.APPROVE)
        ).id
    ]
    decisions.append(
        ledger.record_decision(
            DecisionIn(
                draft_id=drafts[1],
                reviewer="ben",
                verdict=Verdict.REJECT,
                reason=RejectReason.WRONG_FACTS,
            )
        ).id
    )
    decisions.append(
        ledger.record_decision(
            DecisionIn(
                draft_id=drafts[2],
                reviewer="ana",
                verdict=Verdict.EDIT,
                final_question="Where are invoices?",
                final_answer="Settings > Billing > Invoices.",
            )
        ).id
    )
    for draft in drafts[3:]:
        decisions.append(
            ledger.record_decision(
                DecisionIn(draft_id=draft, reviewer="ana", verdict=Verdict.APPROVE)
            ).id
        )
    decisions.append(
        ledger.record_decision(
            DecisionIn(
                draft_id=drafts[0],
                reviewer="ana",
                verdict=Verdict.REVERT,
                reverts_decision_id=decisions[0],
            )
        ).id
    )
    return {"chunks": chunk_ids, "drafts": drafts, "decisions": decisions}


@pytest.fixture
def raw(ledger_path: Path) -> Iterator[RawLedger]:
    """The file as a tamperer holds it: each write runs with the guard triggers dropped and
    put back after it (dropping them is a break of its own, tested in test_tampering)."""
    db = RawLedger(ledger_path)
    yield db
    db.db.close()


def _kinds(ledger: Ledger) -> set[str]:
    return {b.kind for b in verify(ledger)}


def test_intact_ledger_has_no_breaks(ledger: Ledger, decided: dict[str, list[str]]) -> None:
    assert len(decided["decisions"]) == 5
    assert verify(ledger) == []


def test_empty_ledger_has_no_breaks(ledger: Ledger) -> None:
    assert verify(ledger) == []


def test_changed_draft(ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger) -> None:
    draft = decided["drafts"][1]
    raw.execute("UPDATE drafts SET answer = 'Yes, we offer that.' WHERE id = ?", (draft,))
    breaks = verify(ledger)
    assert [(b.kind, b.ref) for b in breaks] == [("draft_hash", draft)]


def test_changed_decision(ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger) -> None:
    raw.execute("UPDATE decisions SET verdict = 'approve', reason = NULL WHERE seq = 2")
    breaks = verify(ledger)
    assert [b.kind for b in breaks] == ["decision_hash"]
    assert breaks[0].ref.startswith("decision #2 ")


def test_changed_decision_with_recomputed_hash_breaks_the_next_link(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.row_factory = sqlite3.Row
    row = dict(raw.execute("SELECT * FROM decisions WHERE seq = 2").fetchone())
    row["reviewer"] = "mallory"
    raw.execute(
        "UPDATE decisions SET reviewer = ?, entry_hash = ? WHERE seq = 2",
        (row["reviewer"], decision_entry_hash(row)),
    )
    breaks = verify(ledger)
    assert [(b.kind, b.ref.split()[1]) for b in breaks] == [("chain_link", "#3")]


def test_deleted_middle_decision(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("DELETE FROM decisions WHERE seq = 3")
    breaks = verify(ledger)
    assert {b.kind for b in breaks} == {"chain_gap", "chain_link"}
    assert all(b.ref.startswith("decision #4 ") for b in breaks)
    assert "#3..#3" in next(b.detail for b in breaks if b.kind == "chain_gap")


def test_deleted_last_decision(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("DELETE FROM decisions WHERE seq = 5")
    breaks = verify(ledger)
    assert [b.kind for b in breaks] == ["chain_truncated"]
    assert "#5..#5" in breaks[0].detail


def test_deleted_first_decision(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("DELETE FROM decisions WHERE seq = 1")
    assert _kinds(ledger) == {"chain_gap", "chain_link"}


def test_reordered_chain(ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger) -> None:
    # Swap decisions #2 and #3: every row intact, only their order changed.
    raw.execute("BEGIN")
    raw.execute("UPDATE decisions SET seq = -2 WHERE seq = 2")
    raw.execute("UPDATE decisions SET seq = 2 WHERE seq = 3")
    raw.execute("UPDATE decisions SET seq = 3 WHERE seq = -2")
    raw.execute("COMMIT")
    breaks = verify(ledger)
    kinds = {b.kind for b in breaks}
    assert "chain_link" in kinds and "decision_hash" in kinds
    assert {b.ref.split()[1] for b in breaks} <= {"#2", "#3", "#4"}


def test_changed_chunk_text(ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger) -> None:
    chunk = decided["chunks"][0]
    raw.execute("UPDATE chunks SET text = text || ' We also offer SSO.' WHERE id = ?", (chunk,))
    breaks = verify(ledger)
    assert [(b.kind, b.ref) for b in breaks] == [("chunk_text", chunk)]


def test_changed_chunk_heading(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    chunk = decided["chunks"][1]
    raw.execute("UPDATE chunks SET heading_path = '[\"Other\"]' WHERE id = ?", (chunk,))
    assert [(b.kind, b.ref) for b in verify(ledger)] == [("chunk_hash", chunk)]


def test_changed_document_row(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("UPDATE documents SET ingested_at = '2020-01-01T00:00:00.000Z'")
    assert _kinds(ledger) == {"document_hash"}


def test_deleted_draft_under_a_decision(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("DELETE FROM drafts WHERE id = ?", (decided["drafts"][1],))
    breaks = verify(ledger)
    # The call that made it no longer has the drafts it was recorded with, too.
    assert [b.kind for b in breaks] == ["call_drafts", "decision_draft"]


def test_every_break_is_reported(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("UPDATE drafts SET question = 'x' WHERE id = ?", (decided["drafts"][0],))
    raw.execute("UPDATE chunks SET text = 'x' WHERE id = ?", (decided["chunks"][1],))
    raw.execute("UPDATE decisions SET note = 'x' WHERE seq = 4")
    raw.execute("DELETE FROM decisions WHERE seq = 5")
    assert _kinds(ledger) == {"draft_hash", "chunk_text", "decision_hash", "chain_truncated"}
    assert all(b.line().startswith(f"{b.kind}: ") for b in verify(ledger))


def test_deleted_chunk_under_drafts(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("DELETE FROM chunks WHERE id = ?", (decided["chunks"][0],))
    breaks = verify(ledger)
    assert {b.kind for b in breaks} == {"draft_chunk"}
    assert {b.ref for b in breaks} == set(decided["drafts"])


def test_deleted_document_under_chunks(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    raw.execute("DELETE FROM documents")
    breaks = verify(ledger)
    assert sorted((b.kind, b.ref) for b in breaks) == [
        ("chunk_document", chunk) for chunk in sorted(decided["chunks"])
    ]


def test_deleted_generation_call_under_drafts(
    ledger: Ledger, decided: dict[str, list[str]], raw: RawLedger
) -> None:
    calls = raw.one("SELECT count(*) FROM generation_calls")
    raw.execute("DELETE FROM generation_calls")
    breaks = verify(ledger)
    assert {b.kind for b in breaks} == {"draft_call", "call_missing"}
    assert len([b for b in breaks if b.kind == "draft_call"]) == len(decided["drafts"])
    assert len([b for b in breaks if b.kind == "call_missing"]) == calls
