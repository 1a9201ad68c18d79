"""Decide drafts through the real ``review.ReviewSession``, without the screen (fast to start).

Code path: the session the review app runs (its ledger workers, prefetch under lease, history,
undo, batched lease release, busy-lock handling), driven by a plain loop instead of Textual's
event loop: the session's ``deliver`` puts worker results on a queue that this loop drains on
its own thread. The ``saved`` / ``reverted`` line is printed on the session's
``DecisionSaved`` / ``DecisionReverted`` event, as the app's ack stream does. Not exercised
here: key bindings, modals and rendering (``tui_driver`` drives the real app for those).

``--wait-for-go``: import everything, then wait for a ``go`` line on stdin before opening the
ledger (the harness starts the next trial's driver while the current one runs).

Acts are drawn from ``CRASH_MIX`` (approve, edit, reject, skip, undo; no going back, which
is the app's own navigation). Without ``--seconds``: decides until killed, or exits 0 printing
``exhausted`` when no draft is left. With ``--seconds S`` (the concurrency reviewers): pauses up
to ``--pace-ms`` between acts like a quick reviewer, starts a new session when the queue runs
dry, and after S seconds quits the session (releasing its leases) and exits 0.

    python -m tests.reliability.writer_driver LEDGER REVIEWER SEED [--seconds S]
        [--pace-ms P] [--double-review F]
"""

from __future__ import annotations

import argparse
import queue
import random
import sys
import time
from collections.abc import Callable

from ledger.ids import new_event_id
from review import (
    DecisionReverted,
    DecisionSaved,
    Notice,
    ReviewSession,
    SessionClosed,
    SessionEvent,
)
from tests.reliability.review_acts import CRASH_MIX, choose_act, edit_text, reject_choice

# Bounded waits (a hang is a finding, never a pass).
REPLY_TIMEOUT_S = 120.0
POLL_S = 0.01


class Driver:
    def __init__(
        self,
        ledger_path: str,
        reviewer: str,
        rng: random.Random,
        double_review: float = 0.0,
        ack_without_commit: bool = False,
    ) -> None:
        self.rng = rng
        self.ack_without_commit = ack_without_commit
        self.inbox: queue.Queue[Callable[[], None]] = queue.Queue()
        self.closed = False
        self.session = ReviewSession(
            ledger_path,
            reviewer,
            deliver=self.inbox.put,
            listener=self.on_event,
            double_review=double_review,
        )

    def on_event(self, event: SessionEvent) -> None:
        if isinstance(event, DecisionSaved):
            decision = event.decision
            print(f"saved {decision.id} {decision.draft_id} {decision.verdict}", flush=True)
        elif isinstance(event, DecisionReverted):
            print(f"reverted {event.revert.id} {event.revert.draft_id}", flush=True)
        elif isinstance(event, Notice) and event.severity != "information":
            # The app shows these and goes on (a busy ledger, a draft decided elsewhere); said
            # on stderr so the harness sees them, not an error by themselves.
            print(event.text, file=sys.stderr, flush=True)
        elif isinstance(event, SessionClosed):
            self.closed = True

    def settle(self, done: Callable[[], bool]) -> None:
        """Run the session's deliveries until ``done()``; exit 1 if the session shows an error."""
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while not done():
            if self.session.error is not None:
                print(self.session.error, file=sys.stderr, flush=True)
                sys.exit(1)
            if time.monotonic() > deadline:
                print(f"the session did not settle in {REPLY_TIMEOUT_S:.0f} s", file=sys.stderr)
                sys.exit(1)
            try:
                # Short: a job that hands nothing back (a lease release) ends without waking
                # this loop, so the condition is checked again at least this often.
                step = self.inbox.get(timeout=POLL_S)
            except queue.Empty:
                continue
            step()
        if self.session.error is not None:
            print(self.session.error, file=sys.stderr, flush=True)
            sys.exit(1)

    def act(self) -> None:
        session = self.session
        entry = session.current
        assert entry is not None
        act = choose_act(self.rng, CRASH_MIX)
        if act == "undo" and session.undo_stack:
            session.undo()
            return
        if act == "skip":
            session.skip()
            return
        if entry.decision is not None or not entry.held:
            session.next()  # back on a draft decided here, or taken by another reviewer
            return
        if self.ack_without_commit:  # the negative control's broken reviewer
            verdict = "approve" if act == "undo" else act
            print(f"saved {new_event_id()} {entry.item.draft.id} {verdict}", flush=True)
            session.skip()
            return
        if act == "edit":
            session.edit(entry, *edit_text(entry.item.draft.id))
        elif act == "reject":
            session.reject(entry, *reject_choice(entry.item.draft.id))
        else:
            session.approve(entry)

    def run(self, deadline: float | None = None, pace_s: float = 0.0) -> bool:
        """Decide until the queue runs dry (True) or the deadline passes (False)."""
        session = self.session
        session.start()
        ran_dry = False
        while deadline is None or time.monotonic() < deadline:
            self.settle(session.idle)
            if session.current is None:  # idle with nothing on screen: nothing left to claim
                ran_dry = True
                break
            if pace_s:
                time.sleep(self.rng.uniform(0, pace_s))  # a reviewer reading the draft
            self.act()
        session.quit()
        self.settle(lambda: self.closed)
        session.close()
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
        Driver(args.ledger, args.reviewer, rng, 0.0, args.ack_without_commit).run()
        print("exhausted", flush=True)
        return 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        driver = Driver(
            args.ledger, args.reviewer, rng, args.double_review, args.ack_without_commit
        )
        if driver.run(deadline, args.pace_ms / 1000):
            time.sleep(0.2)  # the queue ran dry: come back a little later for new drafts
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
