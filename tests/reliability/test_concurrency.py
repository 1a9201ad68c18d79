"""Concurrency: four reviewers and a generator on one ledger; plus the ledger-busy fix it pins."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import ledger.store
from ledger import Ledger, LedgerLockedError
from tests.support.review import make_app, seed_ledger, settle
from tui.app import BUSY_FLASH

# A short busy timeout so "locked for longer than the timeout" takes a fraction of a second.
SHORT_BUSY_MS = 150


@contextmanager
def lock_held_elsewhere(path: Path) -> Iterator[threading.Event]:
    """Another connection holds the write lock (BEGIN IMMEDIATE) until the event is set."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with Ledger.open(path) as other, other.transaction():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10), "the other connection never took the lock"
        yield release
    finally:
        release.set()
        holder.join()


def test_a_transaction_waits_again_while_asked_to(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_ledger(ledger_path, count=1)
    monkeypatch.setattr(ledger.store, "BUSY_TIMEOUT_MS", SHORT_BUSY_MS)
    with Ledger.open(ledger_path) as patient, lock_held_elsewhere(ledger_path) as release:
        attempts: list[int] = []

        def wait_again(attempt: int) -> bool:
            attempts.append(attempt)
            if attempt == 3:
                release.set()  # the other writer finishes while we are still waiting
            return True

        patient.wait_when_locked = wait_again
        with patient.transaction():
            pass
    assert attempts[:3] == [1, 2, 3]


def test_without_the_hook_a_long_lock_is_one_clear_error(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_ledger(ledger_path, count=1)
    monkeypatch.setattr(ledger.store, "BUSY_TIMEOUT_MS", SHORT_BUSY_MS)
    with (
        Ledger.open(ledger_path) as impatient,
        lock_held_elsewhere(ledger_path),
        pytest.raises(LedgerLockedError, match="stayed locked by another process"),
        impatient.transaction(),
    ):
        pass


async def test_review_waits_out_a_long_lock_and_saves_the_decision(
    ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the concurrency work: a lock held past the busy timeout used to fail the save
    ("stayed locked ... try again") and then refuse every later decision until a restart."""
    draft_ids = seed_ledger(ledger_path, count=3)
    monkeypatch.setattr(ledger.store, "BUSY_TIMEOUT_MS", SHORT_BUSY_MS)
    acks = io.StringIO()
    app = make_app(ledger_path, "kim", ack_stream=acks)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        with lock_held_elsewhere(ledger_path):
            await pilot.press("a")
            for _ in range(500):  # bounded wait for the busy message, not a timing check
                if app.flash.startswith(BUSY_FLASH):
                    break
                await pilot.pause(0.01)
            assert app.flash.startswith(BUSY_FLASH), app.flash
            assert app.error is None
            assert acks.getvalue() == ""  # not shown as saved while uncommitted
        await settle(pilot, app)
        assert app.error is None
        await pilot.press("a")  # the session goes on deciding
        await settle(pilot, app)
    lines = acks.getvalue().splitlines()
    assert [line.split()[2:] for line in lines] == [
        [draft_ids[0], "approve"],
        [draft_ids[1], "approve"],
    ]
    with Ledger.open(ledger_path) as reopened:
        stored = {d.id: d for d in reopened.iter_decisions()}
    assert [stored[line.split()[1]].draft_id for line in lines] == draft_ids[:2]
