"""Review sessions: one reviewer name in two sessions, a source that changes under the reviewer's
eyes, and quitting after a decision failed.

One trial is one of three kinds, in turn (trial i runs KINDS[i % 3]), each on a fresh ledger:

- ``same_name``: two review sessions under one reviewer name (two terminals, one ``$USER``)
  drive the real ``ReviewSession`` headless, interleaved at random (approve, reject, skip),
  until the queue is empty; then the second session tries to decide, through the ledger, a
  draft the first one decided. Undetected: a draft held by both sessions at once (on screen
  or claimed ahead, after any act), a draft with two decisions in force, the second decision
  accepted, or the second session not told that the name is already reviewing. Lost: a
  decision the session reported saved that is not in the ledger as saved.
- ``stale_on_screen``: the real review app (Pilot) shows a draft; its document is re-ingested
  with the draft's section changed; the reviewer presses ``a`` either at once (before any tick)
  or after the periodic source check has had its chance. Undetected: the first approve saved,
  the screen never showing "source changed", or the second approve (the confirmed one) not
  saved; then ``draftgate export`` writing the stale record by default, not saying how many it
  left out, or ``--include-stale`` not keeping it and recording so in the manifest.
- ``quit_after_failure``: the real app's ledger worker fails every write with "database or
  disk is full" (injected on the worker's own connection); ``a`` fails, then ``q`` is pressed,
  with the disk still full or freed in between. Crashed: the app still running QUIT_LIMIT_S
  after ``q``, or a decision shown as saved. Undetected: with the disk still full, no word that
  the leases will expire; with it freed, a lease left live after quitting.

Counts as in outcome.py. Each kind has a negative control in test_review_sessions.py that
turns the guard off (sessions that share one id, a session that never checks its source and
an export that keeps stale records, the quit that waits for the release) and proves the
detector counts it.
"""

from __future__ import annotations

import asyncio
import io
import json
import queue
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger import DecidedElsewhereError, DecisionIn, Ledger, Verdict, verify
from ledger.queue import ReviewQueue
from review import (
    DecisionSaved,
    Notice,
    ReviewSession,
    SessionClosed,
    SessionEvent,
)
from tests.reliability.outcome import Outcome
from tests.reliability.review_acts import (
    Ack,
    ack_problems,
    alarming_lines,
    decided_twice,
    draftgate,
    reject_choice,
    stored_decisions,
)
from tests.support.builders import add_document, add_drafts
from tests.support.review import make_app, settle, wait_until
from tui.app import QUIT_WAIT_S

CATEGORY = "review sessions"
SUITE_TRIALS = 3
BENCH_TRIALS = 15
KINDS = ("same_name", "stale_on_screen", "quit_after_failure")

SAME_NAME = "ann"
SAME_NAME_DRAFTS = 24
DOC_PATH = "docs/guide.md"
DISK_FULL = "database or disk is full"
# q must end the app within this long, whatever the ledger does (the app's own limit is
# QUIT_WAIT_S; the rest is scheduling on a loaded machine).
QUIT_LIMIT_S = QUIT_WAIT_S + 10.0
WAIT_LIMIT_S = 60.0
CHANGED_SECTION = "## Billing\n\nInvoices now live under **Account > Documents**."


def run(
    trials: int,
    workdir: Path,
    seed: int,
    *,
    kinds: tuple[str, ...] = KINDS,
    guards_off: bool = False,
) -> Outcome:
    """``kinds`` and ``guards_off`` exist for the negative controls and are left alone
    otherwise: with ``guards_off`` each kind runs without the guard it checks."""
    outcome = Outcome(CATEGORY)
    rng = random.Random(seed)
    for trial in range(trials):
        kind = kinds[trial % len(kinds)]
        trial_dir = workdir / f"trial-{trial}"
        trial_dir.mkdir()
        where = f"seed {seed} trial {trial} ({kind})"
        try:
            RUNNERS[kind](outcome, trial_dir, random.Random(rng.random()), where, guards_off)
        except Exception as exc:  # noqa: BLE001 - a trial that blows up is counted, not raised
            outcome.crash(f"{where}: {type(exc).__name__}: {exc}")
        outcome.trials += 1
    return outcome


def fresh_ledger(workdir: Path, drafts: int) -> tuple[Path, list[str]]:
    ledger_path = workdir / "ledger.sqlite"
    with Ledger.open(ledger_path) as ledger:
        chunk_ids = add_document(ledger, path=DOC_PATH)
        return ledger_path, add_drafts(ledger, chunk_ids[0], count=drafts)


# ---- two sessions, one name ----------------------------------------------------------------


class HeadlessHost:
    """One session's thread, without a screen: runs what its workers hand back."""

    def __init__(self, ledger_path: Path, reviewer: str, session_id: str | None) -> None:
        self.inbox: queue.Queue[Callable[[], None]] = queue.Queue()
        self.events: list[SessionEvent] = []
        self.session = ReviewSession(
            str(ledger_path),
            reviewer,
            deliver=self.inbox.put,
            listener=self.events.append,
            session_id=session_id,
        )

    def held(self) -> set[str]:
        """Drafts this session holds for deciding now: on screen or claimed ahead, undecided.
        (A skipped draft is given back, so another session may rightly get it later.)"""
        session = self.session
        held = {e.item.draft.id for e in session.history if e.held and e.decision is None}
        return held | {i.draft.id for i in session.ahead}

    def pump(self) -> None:
        while True:
            try:
                self.inbox.get_nowait()()
            except queue.Empty:
                return

    def saved(self) -> list[SessionEvent]:
        return [e for e in self.events if isinstance(e, DecisionSaved)]

    def notices(self) -> list[str]:
        return [e.text for e in self.events if isinstance(e, Notice)]


def run_until(hosts: list[HeadlessHost], done: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {WAIT_LIMIT_S:.0f} s")
        for host in hosts:
            host.pump()
        time.sleep(0.002)


def _same_name(
    outcome: Outcome, workdir: Path, rng: random.Random, where: str, guards_off: bool
) -> None:
    ledger_path, _ = fresh_ledger(workdir, SAME_NAME_DRAFTS)
    # Guards off: both sessions carry one id, as if leases and decisions knew only the name.
    shared = "01SHAREDSESSION0000000000" if guards_off else None
    first = HeadlessHost(ledger_path, SAME_NAME, shared)
    second = HeadlessHost(ledger_path, SAME_NAME, shared)
    hosts = [first, second]
    first.session.start()
    run_until(hosts, first.session.idle, "the first session starting")
    second.session.start()
    for host in hosts:
        run_until(hosts, host.session.idle, "the sessions starting")
    acks: list[Ack] = []
    both: set[str] = set()
    steps = 0
    while any(h.session.current is not None for h in hosts) and steps < 4 * SAME_NAME_DRAFTS:
        steps += 1
        host = rng.choice([h for h in hosts if h.session.current is not None])
        session = host.session
        entry = session.decidable()
        act = rng.choice(("approve", "approve", "reject", "skip"))
        if entry is None or act == "skip":
            session.skip()
        elif act == "approve":
            session.approve(entry)
        else:
            session.reject(entry, *reject_choice(entry.item.draft.id))
        run_until(hosts, lambda: all(h.session.idle() for h in hosts), "a decision settling")
        both |= first.held() & second.held()
    for host in hosts:
        for event in host.saved():
            assert isinstance(event, DecisionSaved)
            d = event.decision
            acks.append(Ack(d.id, d.draft_id, d.verdict.value, f"{where} session {d.session_id}"))
        host.session.quit()
        run_until(hosts, lambda h=host: any(isinstance(e, SessionClosed) for e in h.events), "quit")
        host.session.close()

    if both:
        outcome.miss(f"{where}: {len(both)} drafts were held by both sessions at once")
    if not any("already reviewing" in text for text in second.notices()):
        outcome.miss(f"{where}: the second session was not told {SAME_NAME} is reviewing")
    with Ledger.open(ledger_path) as ledger:
        stored = stored_decisions(ledger)
        for problem in ack_problems(stored, acks):
            outcome.lose(f"{where}: {problem}")
        for problem in decided_twice(stored, 0.0):
            outcome.miss(f"{where}: {problem}")
        # The ledger's own rule, whatever the leases did: another session's decision on a
        # decided draft is refused.
        decided = [d for d in stored.values() if d.verdict is not Verdict.REVERT]
        if decided:
            target = rng.choice(decided)
            other_id = second.session.session_id
            if target.session_id == other_id:
                other_id = first.session.session_id
            try:
                ledger.record_decision(
                    DecisionIn(
                        draft_id=target.draft_id,
                        reviewer=SAME_NAME,
                        verdict=Verdict.APPROVE,
                        session_id=other_id,
                    )
                )
            except DecidedElsewhereError:
                pass
            else:
                outcome.miss(f"{where}: a second session's decision on a decided draft was saved")
        else:
            outcome.crash(f"{where}: no decision was made")
        for broken in verify(ledger):
            outcome.crash(f"{where}: verify: {broken.line()}")


# ---- the source changes while the draft is on screen ---------------------------------------


def _reingest_changed(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as ledger:
        add_document(
            ledger,
            path=DOC_PATH,
            sections=[
                CHANGED_SECTION,
                "## Team\n\nInvite people from **Team > Members** with **Invite member**.",
            ],
        )


def _decisions_on(ledger_path: Path, draft_id: str) -> list[str]:
    with Ledger.open(ledger_path) as ledger:
        return [d.verdict.value for d in ledger.decisions_for_draft(draft_id)]


def _blind_to_source(app: Any) -> None:
    """Guards off: a session that never looks at its draft's source again."""
    session = app.session
    session.check_source = lambda: None
    open_queue = session._open_queue

    def open_blind(ledger: Ledger) -> ReviewQueue:
        review_queue = open_queue(ledger)
        review_queue.is_stale = lambda draft_id: False  # type: ignore[method-assign]
        return review_queue

    session._open_queue = open_blind
    session.worker._open_queue = open_blind
    session.count_worker._open_queue = open_blind


async def _stale_in_app(
    outcome: Outcome, ledger_path: Path, where: str, at_once: bool, guards_off: bool
) -> str | None:
    app = make_app(ledger_path, "kim")
    if guards_off:
        _blind_to_source(app)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        entry = app.session.current
        if entry is None:
            outcome.crash(f"{where}: no draft on screen")
            return None
        draft_id = entry.item.draft.id
        _reingest_changed(ledger_path)
        if not at_once:
            # The periodic check has its chance: two ticks, waited for as a condition.
            ticks_by = time.monotonic() + 2.5 * app_source_check_s()
            await wait_until(
                pilot,
                lambda: entry.item.stale or time.monotonic() > ticks_by,
                "the source check",
            )
        await pilot.press("a")
        await settle(pilot, app)
        first = _decisions_on(ledger_path, draft_id)
        if first:
            outcome.miss(f"{where}: the approve of changed text was saved at once: {first}")
        card = str(app.query_one_screen().query_one("#card").render())
        if "source changed" not in card:
            outcome.miss(f"{where}: the screen does not say the source changed")
        if app.session.current is entry and not first:
            await pilot.press("a")
            await settle(pilot, app)
            if _decisions_on(ledger_path, draft_id) != ["approve"]:
                outcome.miss(f"{where}: the confirmed approve was not saved")
        await pilot.press("q")
        await wait_until(pilot, lambda: app.return_code is not None, "quitting")
    return draft_id


def app_source_check_s() -> float:
    from review import SOURCE_CHECK_S  # noqa: PLC0415

    return SOURCE_CHECK_S


def _stale_on_screen(
    outcome: Outcome, workdir: Path, rng: random.Random, where: str, guards_off: bool
) -> None:
    ledger_path, _ = fresh_ledger(workdir, 3)
    at_once = rng.random() < 0.5
    where += " pressed at once" if at_once else " after the tick"
    draft_id = asyncio.run(_stale_in_app(outcome, ledger_path, where, at_once, guards_off))
    if draft_id is None or not _decisions_on(ledger_path, draft_id):
        return
    out = workdir / "export"
    # Guards off: the default export run as if it kept stale records.
    keep = ("--include-stale",) if guards_off else ()
    done = draftgate(ledger_path, "export", *keep, "--out", str(out), cwd=workdir)
    shown = alarming_lines(done.stderr)
    if shown:
        outcome.crash(f"{where}: export: {' | '.join(shown)}")
    if done.returncode == 0:
        exported = _manifest_drafts(out)
        if draft_id in exported:
            outcome.miss(f"{where}: export wrote the stale record by default")
    elif "stale" not in done.stderr:
        outcome.crash(f"{where}: export exited {done.returncode}: {done.stderr.strip()}")
    if "left out 1 stale" not in done.stdout and "but 1 stale" not in done.stderr:
        outcome.miss(f"{where}: export did not say it left a stale record out")
    kept = workdir / "export-stale"
    done = draftgate(ledger_path, "export", "--include-stale", "--out", str(kept), cwd=workdir)
    if done.returncode != 0:
        outcome.crash(f"{where}: export --include-stale exited {done.returncode}")
        return
    manifest = json.loads((kept / "manifest.json").read_text(encoding="utf-8"))
    if draft_id not in _manifest_drafts(kept) or manifest.get("include_stale") is not True:
        outcome.miss(f"{where}: --include-stale did not keep and record the stale record")


def _manifest_drafts(out: Path) -> set[str]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {r["draft_id"] for r in manifest["records"]}


# ---- quitting after a failed decision ------------------------------------------------------


@contextmanager
def disk_full_on_worker(app: Any, full: list[bool]) -> Iterator[None]:
    """Every write transaction on the app's ledger worker fails while ``full[0]`` (the error
    SQLite raises when the disk is full); the connections of everyone else are untouched."""
    session = app.session
    open_queue = session._open_queue

    def open_failing(ledger: Ledger) -> ReviewQueue:
        transaction = ledger.transaction

        @contextmanager
        def failing(*, wait: bool = True) -> Iterator[sqlite3.Connection]:
            if full[0]:
                raise sqlite3.OperationalError(DISK_FULL)
            with transaction(wait=wait) as db:
                yield db

        ledger.transaction = failing  # type: ignore[method-assign]
        return open_queue(ledger)

    session.worker._open_queue = open_failing
    yield


def _old_quit(app: Any) -> None:
    """Guards off: a quit that waits for the release, and never ends when it fails."""
    session = app.session

    def quit_waiting() -> None:
        def release_all(review_queue: ReviewQueue) -> Callable[[], None]:
            review_queue.release_session()
            return lambda: session._emit(SessionClosed())

        session.worker.submit("release leases", release_all)

    session.quit = quit_waiting
    session.quit_now = lambda: None


async def _quit_in_app(
    outcome: Outcome, ledger_path: Path, where: str, freed: bool, guards_off: bool
) -> str | None:
    acks = io.StringIO()
    app = make_app(ledger_path, "kim", lease_seconds=60, ack_stream=acks)
    full = [False]
    if guards_off:
        _old_quit(app)
    with disk_full_on_worker(app, full):
        async with app.run_test() as pilot:
            await settle(pilot, app)
            if app.session.current is None:
                outcome.crash(f"{where}: no draft on screen")
                return None
            full[0] = True
            await pilot.press("a")
            await wait_until(pilot, lambda: app.session.error is not None, "the failure")
            if acks.getvalue() or app.session.note == "✓ saved":
                outcome.crash(f"{where}: the failed decision was shown as saved")
            full[0] = not freed
            await pilot.press("q")
            deadline = time.monotonic() + QUIT_LIMIT_S
            await wait_until(
                pilot,
                lambda: app.return_code is not None or time.monotonic() > deadline,
                "quitting",
            )
            if app.return_code is None:
                outcome.crash(f"{where}: q did not quit within {QUIT_LIMIT_S:.0f} s")
                app.exit()
    return app.session.release_failed or ""


def _quit_after_failure(
    outcome: Outcome, workdir: Path, rng: random.Random, where: str, guards_off: bool
) -> None:
    ledger_path, _ = fresh_ledger(workdir, 3)
    freed = rng.random() < 0.5
    where += " disk freed before q" if freed else " disk still full"
    said = asyncio.run(_quit_in_app(outcome, ledger_path, where, freed, guards_off))
    if said is None:
        return
    with Ledger.open(ledger_path) as ledger:
        if list(ledger.iter_decisions()):
            outcome.crash(f"{where}: a decision was written while the disk was full")
        live = ledger.query(
            "SELECT count(*) FROM leases l WHERE l.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ')"
            " AND l.rowid_ = (SELECT max(l2.rowid_) FROM leases l2 WHERE l2.draft_id = l.draft_id)"
        )[0][0]
        for broken in verify(ledger):
            outcome.crash(f"{where}: verify: {broken.line()}")
    if freed and live:
        outcome.miss(f"{where}: {live} leases left live after quitting with the disk freed")
    if not freed and "expire" not in said:
        outcome.miss(f"{where}: quitting with the disk full did not say the leases will expire")


RUNNERS: dict[str, Callable[[Outcome, Path, random.Random, str, bool], None]] = {
    "same_name": _same_name,
    "stale_on_screen": _stale_on_screen,
    "quit_after_failure": _quit_after_failure,
}
