"""``draftgate serve`` with real review app processes behind its WebSocket: two reviewers
approving at once never share a draft and each decision is signed by the right one; a second
tab under one name is refused while the first is open."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

from aiohttp import ClientSession, CookieJar

from ledger import Ledger
from ledger.queue import ReviewQueue
from tests.support.builders import REPO_ROOT
from tests.support.review import seed_ledger
from tests.support.serve import (
    TICKET,
    TOKENS,
    Screen,
    client_for,
    decisions_by,
    free_port,
    open_app,
    open_review_page,
    review_server,
    sign_in,
    wait_for,
)

APPROVALS_EACH = 3


async def approve(screen: Screen, ledger_path: Path, reviewer: str, count: int) -> None:
    """Press approve ``count`` times, each once the app shows the next draft (#n in its
    status bar) and only after the previous decision is in the ledger."""
    for n in range(1, count + 1):
        await wait_for(lambda n=n: f"#{n} ·" in screen.text(), f"{reviewer}: draft #{n} shown")
        await screen.press("a")
        await wait_for(
            lambda n=n: sum(r == reviewer for _, r, _ in decisions_by(ledger_path)) == n,
            f"{reviewer}: decision {n} in the ledger",
        )


async def test_two_reviewers_in_parallel_never_share_a_draft(
    ledger_path: Path, tmp_path: Path
) -> None:
    drafts = seed_ledger(ledger_path, count=10)
    config = tmp_path / "draftgate.toml"
    config.write_text("")
    server = review_server(ledger_path, config, TOKENS)
    async with client_for(server) as alice, client_for(server) as bob:
        await sign_in(alice, TOKENS["alice"])
        await sign_in(bob, TOKENS["bob"])
        screens = [
            await open_app(alice, await open_review_page(alice)),
            await open_app(bob, await open_review_page(bob)),
        ]
        try:
            await asyncio.gather(
                approve(screens[0], ledger_path, "alice", APPROVALS_EACH),
                approve(screens[1], ledger_path, "bob", APPROVALS_EACH),
            )
            assert server.live.names() == ["alice", "bob"]
            # Each app was started under its own browser session's name.
            assert "Draftgate review · alice" in screens[0].text()
            assert "Draftgate review · bob" in screens[1].text()
        finally:
            for screen in screens:
                await screen.close()
        # Closing the page quits its app; the name is free once the process has ended.
        await wait_for(lambda: server.live.names() == [], "both review apps ended")
    rows = decisions_by(ledger_path)
    assert Counter(r for _, r, _ in rows) == {"alice": APPROVALS_EACH, "bob": APPROVALS_EACH}
    assert {v for _, _, v in rows} == {"approve"}
    decided = [d for d, _, _ in rows]
    assert len(set(decided)) == len(decided) == 2 * APPROVALS_EACH  # no draft decided twice
    assert set(decided) <= set(drafts)


async def test_second_tab_of_one_name_is_told_it_is_already_reviewing(
    ledger_path: Path, tmp_path: Path
) -> None:
    seed_ledger(ledger_path, count=4)
    config = tmp_path / "draftgate.toml"
    config.write_text("")
    server = review_server(ledger_path, config, TOKENS)
    async with client_for(server) as first_tab, client_for(server) as other_browser:
        await sign_in(first_tab, TOKENS["alice"])
        screen = await open_app(first_tab, await open_review_page(first_tab))
        try:
            await wait_for(lambda: "#1 ·" in screen.text(), "alice's first draft shown")
            # The same browser's second tab (same cookie), and alice's token in another browser.
            for tab in (first_tab, other_browser):
                if tab is other_browser:
                    await sign_in(tab, TOKENS["alice"])
                response = await tab.get("/")
                assert response.status == 409
                assert "alice is already reviewing" in await response.text()
        finally:
            await screen.close()
        await wait_for(lambda: not server.live.reviewing("alice"), "alice's app ended")
        # Once the first tab's app has ended, the name may review again.
        response = await other_browser.get("/")
        assert response.status == 200


def live_sessions(ledger_path: Path, reviewer: str) -> int:
    """Review sessions under ``reviewer`` that hold live leases now."""
    with Ledger.open(ledger_path) as ledger:
        return ReviewQueue(ledger, reviewer).other_sessions()


async def test_stopping_the_server_ends_its_apps_and_gives_their_leases_back(
    ledger_path: Path, tmp_path: Path
) -> None:
    seed_ledger(ledger_path, count=6)
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "draftgate", "--ledger", str(ledger_path), "serve"],
        *["--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        ready = await server.stdout.readline()
        assert b"Serving the review" in ready, ready
        base = f"http://127.0.0.1:{port}/"
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as browser:
            signed = await browser.post(base + "login", data={"name": "carol"})
            assert signed.status == 200  # followed the redirect to the review page
            found = TICKET.search(await signed.text())
            assert found is not None
            screen = Screen(await browser.ws_connect(f"{base}{found.group(1)}?width=120&height=40"))
            await wait_for(lambda: "#1 ·" in screen.text(), "carol's first draft shown")
            assert live_sessions(ledger_path, "carol") == 1
            server.send_signal(signal.SIGINT)
            await asyncio.wait_for(screen.closed.wait(), 60)
        assert await asyncio.wait_for(server.wait(), 60) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    assert live_sessions(ledger_path, "carol") == 0
