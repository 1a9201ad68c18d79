"""Drive ``draftgate serve`` over HTTP and its WebSocket the way the browser page does, with
real review app processes. Every wait is for a condition, bounded so a hang fails the test."""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from draftgate.cmd_serve import review_argv
from ledger import Ledger
from serve.server import ReviewServer, ServeSettings
from serve.tokens import ReviewerTokens, token_hash
from tests.support.builders import REPO_ROOT

WAIT_LIMIT_S = 90.0
TICKET = re.compile(r'"(ws/[A-Za-z0-9_-]+)"')
ESCAPES = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")

TOKENS = {"alice": "alice-token-1f0c9e", "bob": "bob-token-77a3d2"}


def review_server(ledger_path: Path, config_path: Path, tokens: dict[str, str]) -> ReviewServer:
    args = argparse.Namespace(
        config=str(config_path),
        order="created",
        double_review=0.0,
        kind=None,
        doc=None,
        origin=None,
        stale=False,
    )
    ledger = str(ledger_path)
    return ReviewServer(
        ServeSettings(
            review_argv=lambda reviewer: review_argv(args, ledger, reviewer),
            tokens=ReviewerTokens({name: token_hash(t) for name, t in tokens.items()}),
            cwd=str(REPO_ROOT),
        )
    )


def client_for(server: ReviewServer) -> TestClient[object, object]:
    return TestClient(TestServer(server.application(), host="127.0.0.1"))


async def sign_in(client: TestClient[object, object], token: str) -> None:
    response = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert response.status == 303, await response.text()


async def open_review_page(client: TestClient[object, object]) -> str:
    """GET / and return the WebSocket path the page would open."""
    response = await client.get("/")
    text = await response.text()
    assert response.status == 200, text
    found = TICKET.search(text)
    assert found is not None, text
    return found.group(1)


class Screen:
    """What one review app has drawn, as plain text (escape sequences taken out)."""

    def __init__(self, socket: ClientWebSocketResponse) -> None:
        self.socket = socket
        self.raw = bytearray()
        self.closed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type == WSMsgType.BINARY:
                self.raw.extend(message.data)
        self.closed.set()

    def text(self) -> str:
        return ESCAPES.sub("", self.raw.decode("utf-8", "replace"))

    def tail(self, size: int = 4000) -> str:
        return self.text()[-size:]

    async def press(self, key: str) -> None:
        await self.socket.send_json(["stdin", key])

    async def close(self) -> None:
        await self.socket.close()
        await self._reader


async def open_app(client: TestClient[object, object], path: str) -> Screen:
    socket = await client.ws_connect(f"/{path}?width=140&height=40")
    return Screen(socket)


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_LIMIT_S:.0f} s")
        await asyncio.sleep(0.05)


def decisions_by(ledger_path: Path) -> list[tuple[str, str, str]]:
    """(draft id, reviewer, verdict) of every decision, in order."""
    with Ledger.open(ledger_path) as ledger:
        return [(d.draft_id, d.reviewer, str(d.verdict)) for d in ledger.iter_decisions()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
