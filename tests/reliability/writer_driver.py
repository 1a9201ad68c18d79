"""Decide drafts through the review app's ledger thread, without the screen (fast to start).

Code path: ``tui.ledger_thread.LedgerThread``, the thread the review app commits on (its FIFO
job queue, its own connection, its busy-lock handling), runs the same calls the app's jobs
make: ``ReviewQueue.claim_next`` (forward scan cursor), ``ReviewQueue.release`` (skip, and
decided leases in batches of ``RELEASE_BATCH``), ``Ledger.record_decision`` (approve, edit,
reject) and, for undo, ``record_decision`` of a revert then ``ReviewQueue.claim_draft`` in one
job. The ``saved`` / ``reverted`` line is printed only once the thread has posted the job's
result back, as ``ReviewApp.on_saved`` / ``on_reverted`` do. Not exercised here: Textual's
event loop, key bindings, modals and rendering (``tui_driver`` drives the real app for those).

``--wait-for-go``: import everything, then wait for a ``go`` line on stdin before opening the
ledger (the harness starts the next trial's driver while the current one runs).

Acts are drawn from ``CRASH_MIX`` (approve, edit, reject, skip, undo; no going back, which
is the app's own navigation). Without ``--seconds``: decides until killed, or exits 0 printing
``exhausted`` when no draft is left. With ``--seconds S`` (the concurrency reviewers): pauses up
to ``--pace-ms`` between acts like a quick reviewer, starts a new session when the queue runs
dry, and after S seconds releases its leases as the app's quit does and exits 0.

    python -m tests.reliability.writer_driver LEDGER REVIEWER SEED [--seconds S]
        [--pace-ms P] [--double-review F]
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import random
import sys
import time
from typing import Any

from textual.message import Message

from ledger import Decision, DecisionIn, Verdict, utc_now
from ledger.ids import new_event_id
from ledger.queue import ReviewItem, ReviewQueue
from tests.reliability.review_acts import CRASH_MIX, choose_act, edit_text, reject_choice
from tui.ledger_thread import JobFailed, LedgerBusy, LedgerThread

REPLY_TIMEOUT_S = 120
# tui.app.RELEASE_BATCH (not imported: tui.app loads all of Textual, a third of a second per
# start; test_review_crash checks the two agree).
RELEASE_BATCH = 10


class Done(Message):
    """A job's result, posted back by the ledger thread like the app's Saved/Claimed."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


class Session:
    def __init__(
        self,
        ledger_path: str,
        reviewer: str,
        rng: random.Random,
        double_review: float = 0.0,
        ack_without_commit: bool = False,
    ) -> None:
        self.reviewer = reviewer
        self.ack_without_commit = ack_without_commit
        self.rng = rng
        self.inbox: queue.Queue[Message] = queue.Queue()
        self.thread = LedgerThread(
            lambda ledger: ReviewQueue(ledger, reviewer, double_review=double_review),
            ledger_path,
            self.inbox.put,
        )
        self.cursor = 0
        self.undo_stack: list[Decision] = []
        self.decided_leases: list[str] = []

    def ask(self, what: str, job: Any) -> Any:
        """Submit a job and wait for its posted result (as the app waits for Saved)."""
        self.thread.submit(what, lambda q: Done(job(q)))
        while True:
            reply = self.inbox.get(timeout=REPLY_TIMEOUT_S)
            if isinstance(reply, JobFailed):
                print(f"could not {reply.what}: {reply.error}", file=sys.stderr, flush=True)
                sys.exit(1)
            if isinstance(reply, LedgerBusy):
                # The app shows "ledger busy" and keeps waiting; so do we (said, not an error).
                print(f"ledger busy, attempt {reply.attempt}: {reply.what}", file=sys.stderr)
                continue
            assert isinstance(reply, Done)
            return reply.value

    def claim(self) -> ReviewItem | None:
        item: ReviewItem | None = self.ask(
            "claim the next draft", lambda q: q.claim_next(self.cursor)
        )
        if item is not None:
            self.cursor = item.rowid
        return item

    def release(self, draft_ids: list[str]) -> None:
        def release(q: ReviewQueue) -> None:  # fire and forget, as the app does
            q.release(draft_ids)

        self.thread.submit("release a lease", release)

    def decide(self, item: ReviewItem, shown_at: str, act: str) -> None:
        draft_id = item.draft.id
        fields: dict[str, Any] = {"verdict": Verdict.APPROVE}
        if act == "edit":
            question, answer = edit_text(draft_id)
            fields = {"verdict": Verdict.EDIT, "final_question": question, "final_answer": answer}
        elif act == "reject":
            reason, note = reject_choice(draft_id)
            fields = {"verdict": Verdict.REJECT, "reason": reason, "note": note}
        decision = DecisionIn(
            draft_id=draft_id,
            reviewer=self.reviewer,
            shown_at=shown_at,
            decided_at=utc_now(),
            double_review=item.double_review,
            **fields,
        )
        if self.ack_without_commit:  # the negative control's broken reviewer
            print(f"saved {new_event_id()} {draft_id} {decision.verdict}", flush=True)
            return
        saved: Decision = self.ask(
            "save the decision", lambda q: q.ledger.record_decision(decision)
        )
        print(f"saved {saved.id} {saved.draft_id} {saved.verdict}", flush=True)
        self.undo_stack.append(saved)
        self.decided_leases.append(saved.draft_id)
        if len(self.decided_leases) >= RELEASE_BATCH:
            self.release(self.decided_leases)
            self.decided_leases = []

    def undo(self) -> ReviewItem | None:
        """Revert this session's last decision; the draft comes back (claimed) if free."""
        decision = self.undo_stack.pop()
        revert = decision.undo_by(self.reviewer, utc_now())

        def record(q: ReviewQueue) -> tuple[Decision, ReviewItem | None]:
            saved = q.ledger.record_decision(revert)
            return saved, q.claim_draft(decision.draft_id)

        saved, item = self.ask("undo the decision", record)
        print(f"reverted {saved.id} {saved.draft_id}", flush=True)
        # As the app does: the draft is back in play, so its lease is not released with the
        # decided ones.
        with contextlib.suppress(ValueError):
            self.decided_leases.remove(decision.draft_id)
        return item

    def run(self, deadline: float | None = None, pace_s: float = 0.0) -> bool:
        """Decide until the queue runs dry (True) or the deadline passes (False)."""
        self.thread.start()
        # Drafts shown but not decided yet, most recent last (an undo puts the current one here).
        waiting: list[ReviewItem] = []
        current = self.claim()
        shown_at = utc_now()
        while current is not None:
            if deadline is not None and time.monotonic() >= deadline:
                break
            if pace_s:
                time.sleep(self.rng.uniform(0, pace_s))  # a reviewer reading the draft
            act = choose_act(self.rng, CRASH_MIX)
            if act == "undo" and self.undo_stack:
                back = self.undo()
                if back is not None:
                    waiting.append(current)
                    current = back
            elif act == "skip":
                self.release([current.draft.id])
                print(f"skipped {current.draft.id}", flush=True)
                current = self.claim()
            else:
                self.decide(current, shown_at, "approve" if act == "undo" else act)
                current = waiting.pop() if waiting else self.claim()
            shown_at = utc_now()
        ran_dry = current is None

        def release_all(q: ReviewQueue) -> None:  # what the app does on quit
            q.release_session()

        self.thread.submit("release leases", release_all)
        self.thread.stop()
        return ran_dry


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger")
    parser.add_argument("reviewer")
    parser.add_argument("seed", type=int)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--pace-ms", type=float, default=0.0)
    parser.add_argument("--double-review", type=float, default=0.0)
    # Negative control only: print the ack and never commit (the bug the harness must catch).
    parser.add_argument("--ack-without-commit", action="store_true")
    parser.add_argument("--wait-for-go", action="store_true")
    args = parser.parse_args()
    if args.wait_for_go and sys.stdin.readline() != "go\n":
        return 0  # started ahead of its trial, which never came
    rng = random.Random(args.seed)
    if args.seconds is None:
        Session(args.ledger, args.reviewer, rng, 0.0, args.ack_without_commit).run()
        print("exhausted", flush=True)
        return 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        session = Session(
            args.ledger, args.reviewer, rng, args.double_review, args.ack_without_commit
        )
        if session.run(deadline, args.pace_ms / 1000):
            time.sleep(0.2)  # the queue ran dry: come back a little later for new drafts
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
