"""Approve one draft through the real review app, headless (Textual's Pilot), as a reviewer
pressing `a` would. Prints the `saved <decision> <draft> <verdict>` line the app acknowledges
once the decision is committed; exits 1 if no draft came up or nothing was saved in time.

Usage: PYTHONPATH=<Draftgate checkout> python compat/review_one.py LEDGER REVIEWER
"""

from __future__ import annotations

import asyncio
import io
import sys
import time

from tui.app import ReviewApp, ReviewScreen

WAIT_LIMIT_S = 120.0  # a loaded machine can take long to schedule the app; a hang still ends


class Acks(io.StringIO):
    def saved(self) -> list[str]:
        return [line for line in self.getvalue().splitlines() if line.startswith("saved ")]


async def approve_one(ledger: str, reviewer: str) -> int:
    acks = Acks()
    app = ReviewApp(ledger, reviewer, guidelines="Judge against the source.", ack_stream=acks)
    async with app.run_test() as pilot:

        async def until(condition: object, what: str) -> bool:
            deadline = time.monotonic() + WAIT_LIMIT_S
            while not condition():  # type: ignore[operator]
                if time.monotonic() > deadline:
                    print(f"review: {what} not within {WAIT_LIMIT_S:.0f} s", file=sys.stderr)
                    return False
                await pilot.pause(0.05)
            return True

        ready = await until(
            lambda: isinstance(app.screen, ReviewScreen) and app.session.idle(),
            "the queue loading",
        )
        if not ready:
            return 1
        if app.session.current is None:
            print("review: no undecided draft in the queue", file=sys.stderr)
            return 1
        await pilot.press("a")
        if not await until(lambda: bool(acks.saved()), "the approval being saved"):
            return 1
    print(acks.saved()[0])
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(approve_one(sys.argv[1], sys.argv[2])))
