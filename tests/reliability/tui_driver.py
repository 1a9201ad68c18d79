"""Drive the real review app (``tui.app.ReviewApp`` under ``App.run_test``, headless) with keys.

Code path: everything a reviewer's keys go through: the bindings (a, e, r, s, u, p, n, q), the
edit and reject modals (ctrl+s / enter), the app's ``ReviewSession`` submitting to its ledger
worker, and the app printing its own acknowledgement line to stdout (``ack_stream``) once the
commit is back. The only shortcut: edit and note text is put into the TextArea/Input directly
rather than typed key by key (the keys that open, save and submit the modals are real presses).

``--wait-for-go``: import everything, then wait for a ``go`` line on stdin before opening the
ledger (the harness starts the next trial's driver while the current one runs).
``--mix crash``: decide until killed (exit 0 with ``exhausted`` when nothing is left).
``--mix concurrency --seconds S``: decide for S seconds, reopening the app whenever its queue
runs dry (a reviewer coming back later), then quit with q and exit 0. If the app ever shows an
error, it is printed to stderr and the driver exits 1: a user would have seen it.

    python -m tests.reliability.tui_driver LEDGER REVIEWER SEED [--mix M] [--seconds S]
        [--double-review F]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tests.reliability.review_acts import MIXES, choose_act, edit_text, reject_choice
from tests.support.review import idle, make_app, wait_for_screen
from tui.app import ReviewApp, ReviewScreen
from tui.modals import REASON_LABELS, EditScreen, RejectScreen

# Bounded waits (a hang is a finding, never a pass): the app must settle within this.
SETTLE_LIMIT_S = 120.0


class AppError(Exception):
    pass


async def settle(pilot: Pilot[Any], app: ReviewApp) -> None:
    """Wait until the review screen is on top and the session has answered everything;
    raise if the app shows an error."""
    deadline = time.monotonic() + SETTLE_LIMIT_S
    await pilot.pause()
    while time.monotonic() < deadline:
        if app.session.error is not None:
            raise AppError(app.session.error)
        if isinstance(app.screen, ReviewScreen) and idle(app):
            await pilot.pause()
            return
        await pilot.pause(0.005)
    raise AppError(f"the review app did not settle within {SETTLE_LIMIT_S:.0f} s")


async def decide(pilot: Pilot[Any], app: ReviewApp, act: str) -> None:
    entry = app.session.current
    assert entry is not None
    draft_id = entry.item.draft.id
    if act == "edit":
        await pilot.press("e")
        editor = await wait_for_screen(pilot, app, EditScreen)
        question, answer = edit_text(draft_id)
        editor.query_one("#question", TextArea).text = question
        editor.query_one("#answer", TextArea).text = answer
        await pilot.press("ctrl+s")
        if app.screen is editor:  # asked to confirm a warning: save anyway
            await pilot.press("ctrl+s")
    elif act == "reject":
        reason, note = reject_choice(draft_id)
        await pilot.press("r")
        dialog = await wait_for_screen(pilot, app, RejectScreen)
        await pilot.press(str(list(REASON_LABELS).index(reason) + 1))
        dialog.query_one("#note", Input).value = note
        await pilot.press("enter")
    else:
        await pilot.press("a")


async def session(app: ReviewApp, rng: random.Random, mix: dict[str, int], deadline: float) -> bool:
    """One app run. True when its queue ran dry (the caller may open a new session)."""
    async with app.run_test() as pilot:
        await settle(pilot, app)
        while time.monotonic() < deadline:
            entry = app.session.current
            if entry is None:
                if app.session.exhausted:
                    await pilot.press("q")
                    return True
                await settle(pilot, app)
                continue
            act = choose_act(rng, mix)
            if act == "undo" and app.session.undo_stack:
                await pilot.press("u")
            elif act == "back" and app.session.pos > 0:
                await pilot.press(*["p"] * rng.randint(1, min(3, app.session.pos)))
            elif act == "skip":
                await pilot.press("s")
            elif entry.decision is not None or not entry.held:
                await pilot.press("n")  # seen again after going back: decided, or not ours
            else:
                await decide(pilot, app, act if act in ("edit", "reject") else "approve")
            await settle(pilot, app)
        await pilot.press("q")  # quitting releases this session's leases
        return False


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger")
    parser.add_argument("reviewer")
    parser.add_argument("seed", type=int)
    parser.add_argument("--mix", choices=sorted(MIXES), default="crash")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--double-review", type=float, default=0.0)
    parser.add_argument("--wait-for-go", action="store_true")
    args = parser.parse_args()
    if args.wait_for_go and sys.stdin.readline() != "go\n":
        return 0  # started ahead of its trial, which never came
    rng = random.Random(args.seed)
    deadline = time.monotonic() + (args.seconds if args.seconds is not None else 10**9)
    try:
        while True:
            app = make_app(
                args.ledger, args.reviewer, ack_stream=sys.stdout, double_review=args.double_review
            )
            ran_dry = await session(app, rng, MIXES[args.mix], deadline)
            if not ran_dry or time.monotonic() >= deadline:
                break
            if args.seconds is None:
                print("exhausted", flush=True)
                break
            await asyncio.sleep(0.2)  # a reviewer comes back a little later for new drafts
    except AppError as exc:
        print(f"review app error: {exc}", file=sys.stderr, flush=True)
        return 1
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
