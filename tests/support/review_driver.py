"""Drive the real review app headless, deciding drafts until the queue is empty.

The app prints one ``saved <decision id> <draft id> <verdict>`` line to stdout after each
decision is committed, at the moment the screen shows it saved. The SIGKILL test reads those
lines, kills this process, and checks the ledger has every decision it was told about.
"""

from __future__ import annotations

import asyncio
import sys

from tests.support.review import make_app, settle, wait_for_screen
from tui.modals import RejectScreen


async def main(ledger_path: str) -> None:
    app = make_app(ledger_path, "kim", ack_stream=sys.stdout)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        turn = 0
        while app.session.current is not None:
            if turn % 3 == 2:
                await pilot.press("r")
                await wait_for_screen(pilot, app, RejectScreen)
                await pilot.press("1", "enter")
            else:
                await pilot.press("a")
            turn += 1
            await settle(pilot, app)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
