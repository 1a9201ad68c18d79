"""``draftgate serve``'s sign-in and session binding over HTTP (no review app is started:
each refusal happens before one would be)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

from serve.server import COOKIE, ReviewServer, ServeSettings
from serve.sessions import BrowserSessions, LiveReviews
from serve.tokens import ReviewerTokens, new_token, token_hash
from tests.support.serve import TICKET, TOKENS, WAIT_LIMIT_S, wait_for

Client = TestClient[object, object]


def no_app(reviewer: str) -> Sequence[str]:
    raise AssertionError(f"a review app was started for {reviewer}")


def make_server(
    tokens: dict[str, str] | None = TOKENS, public_url: str | None = None
) -> ReviewServer:
    hashes = {name: token_hash(t) for name, t in (tokens or {}).items()}
    return ReviewServer(
        ServeSettings(review_argv=no_app, tokens=ReviewerTokens(hashes), public_url=public_url)
    )


def client_for(server: ReviewServer) -> Client:
    return TestClient(TestServer(server.application(), host="127.0.0.1"))


async def signed_in(server: ReviewServer, token: str) -> Client:
    client = client_for(server)
    await client.start_server()
    response = await client.post("/login", data={"token": token}, allow_redirects=False)
    assert response.status == 303
    return client


async def ticket_of(client: Client) -> str:
    response = await client.get("/")
    assert response.status == 200
    found = TICKET.search(await response.text())
    assert found is not None
    return found.group(1)


async def test_without_a_session_the_page_sends_you_to_sign_in() -> None:
    async with client_for(make_server()) as client:
        response = await client.get("/", allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "login"
        form = await client.get("/login")
        assert 'name="token"' in await form.text()


async def test_a_wrong_token_signs_no_one_in() -> None:
    async with client_for(make_server()) as client:
        response = await client.post("/login", data={"token": "not-a-token"})
        assert response.status == 401
        assert "signs in no reviewer" in await response.text()
        assert COOKIE not in response.cookies
        again = await client.get("/", allow_redirects=False)
        assert again.status == 303


async def test_a_token_signs_in_its_own_reviewer_with_a_locked_down_cookie() -> None:
    server = make_server(public_url="https://review.example.com/")
    async with client_for(server) as client:
        response = await client.post("/login", data={"token": TOKENS["bob"]}, allow_redirects=False)
        assert response.status == 303
        cookie = response.cookies[COOKIE]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Strict"
        assert cookie["secure"] is True
        session = server.sessions.get(cookie.value)
        assert session is not None and session.reviewer == "bob"


async def test_a_token_link_signs_in_and_leaves_a_clean_address() -> None:
    server = make_server()
    async with client_for(server) as client:
        response = await client.get(f"/login?token={TOKENS['alice']}", allow_redirects=False)
        assert response.status == 303
        assert response.headers["Location"] == "./"
        page = await client.get("/")
        assert page.status == 200
        assert "Draftgate review · alice" in await page.text()


async def test_the_page_carries_no_name_the_browser_could_change() -> None:
    server = make_server()
    client = await signed_in(server, TOKENS["alice"])
    try:
        # A name in the query string or a form field is ignored: the session decides.
        response = await client.get("/?reviewer=bob&name=bob")
        text = await response.text()
        assert "Draftgate review · alice" in text
        assert server.live.names() == ["alice"]
    finally:
        await client.close()


async def test_a_ticket_opens_an_app_only_for_the_session_it_was_issued_to() -> None:
    server = make_server()
    alice = await signed_in(server, TOKENS["alice"])
    bob = await signed_in(server, TOKENS["bob"])
    stranger = client_for(server)
    await stranger.start_server()
    try:
        path = await ticket_of(alice)
        # bob's cookie with alice's ticket: refused before any app starts (no_app would fail).
        refused = await bob.get(f"/{path}")
        assert refused.status == 409
        unsigned = await stranger.get(f"/{path}")
        assert unsigned.status == 401
        # alice's own cookie from another site's page: refused too.
        foreign = await alice.get(f"/{path}", headers={"Origin": "https://evil.example"})
        assert foreign.status == 403
        assert server.live.names() == ["alice"]
    finally:
        for client in (alice, bob, stranger):
            await client.close()


async def test_sign_in_from_another_sites_page_is_refused() -> None:
    async with client_for(make_server()) as client:
        response = await client.post(
            "/login", data={"token": TOKENS["alice"]}, headers={"Origin": "https://evil.example"}
        )
        assert response.status == 403


async def test_a_second_page_under_one_name_is_told_and_asks_again() -> None:
    server = make_server()
    first = await signed_in(server, TOKENS["alice"])
    second = await signed_in(server, TOKENS["alice"])
    try:
        await ticket_of(first)
        busy = await second.get("/")
        assert busy.status == 409
        text = await busy.text()
        assert "alice is already reviewing" in text
        assert 'http-equiv="refresh"' in text
        # bob is not held up by alice.
        bob = await signed_in(server, TOKENS["bob"])
        try:
            await ticket_of(bob)
        finally:
            await bob.close()
    finally:
        await first.close()
        await second.close()


async def test_sign_out_ends_the_browser_session() -> None:
    server = make_server()
    client = await signed_in(server, TOKENS["alice"])
    try:
        response = await client.post("/logout", allow_redirects=False)
        assert response.status == 303
        after = await client.get("/", allow_redirects=False)
        assert after.status == 303
    finally:
        await client.close()


async def test_without_tokens_the_typed_name_signs_in_its_stored_spelling() -> None:
    server = make_server(tokens=None)
    async with client_for(server) as client:
        form = await client.get("/login")
        assert 'name="name"' in await form.text()
        invisible = await client.post("/login", data={"name": "\u200b\u200b"})
        assert invisible.status == 400
        response = await client.post(
            "/login", data={"name": "  carol\u200b  "}, allow_redirects=False
        )
        assert response.status == 303
        session = server.sessions.get(response.cookies[COOKIE].value)
        assert session is not None and session.reviewer == "carol"


def test_token_hashes_name_their_reviewer_only() -> None:
    token = new_token()
    tokens = ReviewerTokens({"alice": token_hash(token), "bob": token_hash(new_token())})
    assert tokens.reviewer_for(token) == "alice"
    assert tokens.reviewer_for(token + " ") == "alice"  # pasted with a trailing space
    assert tokens.reviewer_for(token[:-1]) is None
    assert tokens.reviewer_for(token_hash(token)) is None  # the hash itself signs no one in
    with pytest.raises(ValueError):
        ReviewerTokens({"a": token_hash(token), "b": token_hash(token)})


def test_a_reserved_name_is_freed_when_its_page_never_connects() -> None:
    now = [0.0]
    sessions = BrowserSessions(clock=lambda: now[0])
    live = LiveReviews(clock=lambda: now[0], pending_ttl_s=30)
    tab = sessions.open("alice")
    other_tab = sessions.open("alice")
    ticket = live.reserve(tab)
    assert ticket is not None
    assert live.reserve(other_tab) is None
    now[0] = 31.0
    assert not live.reviewing("alice")
    assert live.connect(ticket, tab) is None  # expired
    fresh = live.reserve(other_tab)
    assert fresh is not None
    held = live.connect(fresh, other_tab)
    assert held is not None
    assert live.connect(fresh, other_tab) is None  # a ticket is spent once
    now[0] = 10_000.0
    assert live.reviewing("alice")  # a connected app holds the name however long it runs
    live.release(held)
    assert not live.reviewing("alice")


def test_browser_sessions_expire() -> None:
    now = [0.0]
    sessions = BrowserSessions(clock=lambda: now[0], ttl_s=60)
    session = sessions.open("alice")
    assert sessions.get(session.id) is session
    now[0] = 61.0
    assert sessions.get(session.id) is None
    assert sessions.get(None) is None


async def test_an_app_that_ends_by_itself_closes_its_page() -> None:
    """A review app that fails at start (here: a command that exits at once) must not leave
    the page on a dead terminal, nor hold the name."""
    server = ReviewServer(
        ServeSettings(
            review_argv=lambda _: [sys.executable, "-c", "raise SystemExit(3)"],
            tokens=ReviewerTokens({"alice": token_hash(TOKENS["alice"])}),
        )
    )
    client = await signed_in(server, TOKENS["alice"])
    try:
        socket = await client.ws_connect("/" + await ticket_of(client))
        message = await asyncio.wait_for(socket.receive(), WAIT_LIMIT_S)
        assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        await socket.close()
        await wait_for(lambda: not server.live.reviewing("alice"), "the name freed")
    finally:
        await client.close()
