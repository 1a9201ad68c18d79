"""The HTTP and WebSocket side of ``draftgate serve`` (aiohttp), with textual-serve's
browser terminal and its app-process protocol.

Routes: ``/`` the review page (or the sign-in form), ``/login`` (POST the form, or GET with
``?token=`` from a link), ``/logout``, ``/ws/{ticket}`` the WebSocket that runs one review app
process, ``/static`` textual-serve's script, styles and fonts.

Trust: the reviewer name comes from the browser session the cookie names (set at sign-in,
HttpOnly, SameSite=Strict), never from anything the page sends; the server puts it on the
review app's command line itself. A WebSocket from another site's page is refused (Origin).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import textual_serve
from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from ledger.reviewers import InvalidReviewerName, reviewer_name
from serve import pages
from serve.sessions import BrowserSession, BrowserSessions, LiveReview, LiveReviews
from serve.tokens import ReviewerTokens

log = logging.getLogger("draftgate.serve")

COOKIE = "draftgate_session"
STATIC_DIR = Path(textual_serve.__file__).resolve().parent / "static"
BUSY_RETRY_S = 5
# How long an app process may take to end after it was told to quit (it gives its leases
# back first); then it is killed and its leases run out on their own.
APP_EXIT_WAIT_S = 10.0
DEFAULT_COLUMNS, DEFAULT_ROWS = 120, 40
MAX_COLUMNS, MAX_ROWS = 500, 200


@dataclass(frozen=True)
class ServeSettings:
    """What the server needs. ``review_argv`` turns a reviewer name into the command line of
    that reviewer's review app (an argument list: no shell ever sees the name)."""

    review_argv: Callable[[str], Sequence[str]]
    tokens: ReviewerTokens = field(default_factory=lambda: ReviewerTokens({}))
    public_url: str | None = None
    cwd: str | None = None


class ReviewProcess(AppService):
    """textual-serve's app service, started from an argument list instead of a shell line."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None,
        socket: web.WebSocketResponse,
        download_manager: DownloadManager,
    ) -> None:
        super().__init__(
            shlex.join(argv),
            write_bytes=socket.send_bytes,
            write_str=socket.send_str,
            close=self._close_socket,
            download_manager=download_manager,
        )
        self._socket = socket
        self._argv = list(argv)
        self._cwd = cwd

    async def _close_socket(self) -> None:
        await self._socket.close()

    async def _open_app_process(
        self, width: int = 80, height: int = 24
    ) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            cwd=self._cwd,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        return process

    async def ended(self) -> None:
        """Return once the app process has ended, whoever ended it."""
        if self._process is not None:
            await self._process.wait()

    async def stop_and_wait(self) -> None:
        """Tell the app to quit and wait until its process has ended (so its leases are given
        back before its reviewer name is free again); kill it if it does not end."""
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(self.stop(), APP_EXIT_WAIT_S)
        process = self._process
        if process is None:
            return
        if process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), APP_EXIT_WAIT_S)
            except TimeoutError:
                log.warning("review app %s did not quit; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        # The pipe into the app is the last one open; closing it lets the transport finish.
        if process.stdin is not None:
            process.stdin.close()
            with contextlib.suppress(ConnectionError):
                await process.stdin.wait_closed()


def _redirect(location: str) -> web.Response:
    """A 303 to a relative address, so the server works under a proxy's path prefix."""
    return web.Response(status=303, headers={"Location": location})


def _dimension(value: str | None, default: int, limit: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return min(max(number, 10), limit)


class ReviewServer:
    def __init__(
        self,
        settings: ServeSettings,
        *,
        sessions: BrowserSessions | None = None,
        live: LiveReviews | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions or BrowserSessions()
        self.live = live or LiveReviews()
        self.download_manager = DownloadManager()
        self._sockets: set[web.WebSocketResponse] = set()
        self._endings: set[asyncio.Future[Any]] = set()
        public = urlsplit(settings.public_url) if settings.public_url else None
        self._public_origin = f"{public.scheme}://{public.netloc}" if public else None
        self._secure_cookie = public is not None and public.scheme == "https"

    def application(self) -> web.Application:
        app = web.Application()
        app.add_routes(
            [
                web.get("/", self.index),
                web.get("/login", self.login_link),
                web.post("/login", self.login_form),
                web.post("/logout", self.logout),
                web.get("/ws/{ticket}", self.review_socket),
                web.static("/static", STATIC_DIR),
            ]
        )
        app.on_shutdown.append(self._close_sockets)
        app.on_cleanup.append(self._await_endings)
        return app

    # ---- sign-in ----------------------------------------------------------------------

    def _session_of(self, request: web.Request) -> BrowserSession | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    def _signed_in(self, reviewer: str) -> web.Response:
        session = self.sessions.open(reviewer)
        response = _redirect("./")
        response.set_cookie(
            COOKIE,
            session.id,
            httponly=True,
            samesite="Strict",
            secure=self._secure_cookie,
            path="/",
        )
        log.info("signed in: %s", reviewer)
        return response

    def _sign_in_refused(self, error: str, status: int = 401) -> web.Response:
        return web.Response(
            text=pages.sign_in_page(tokens=bool(self.settings.tokens), error=error),
            status=status,
            content_type="text/html",
        )

    def _reviewer_from(self, token: str | None, name: str | None) -> str | web.Response:
        tokens = self.settings.tokens
        if tokens:
            reviewer = tokens.reviewer_for(token or "")
            if reviewer is None:
                log.warning("sign-in refused: unknown token")
                return self._sign_in_refused("That token signs in no reviewer on this server.")
            return reviewer
        try:
            return reviewer_name(name or "")
        except InvalidReviewerName:
            return self._sign_in_refused(
                "A name needs at least one visible letter or digit.", status=400
            )

    async def login_link(self, request: web.Request) -> web.StreamResponse:
        """GET /login: the form, or, with ``?token=`` (a link a lead hands out), a sign-in
        that sends the browser on to a clean address."""
        token = request.query.get("token")
        if token is None or not self.settings.tokens:
            return web.Response(
                text=pages.sign_in_page(tokens=bool(self.settings.tokens)),
                content_type="text/html",
            )
        found = self._reviewer_from(token, None)
        return found if isinstance(found, web.Response) else self._signed_in(found)

    async def login_form(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="sign-in from another site's page refused")
        form = await request.post()
        token, name = form.get("token"), form.get("name")
        found = self._reviewer_from(
            token if isinstance(token, str) else None, name if isinstance(name, str) else None
        )
        return found if isinstance(found, web.Response) else self._signed_in(found)

    async def logout(self, request: web.Request) -> web.StreamResponse:
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="sign-out from another site's page refused")
        self.sessions.close(request.cookies.get(COOKIE))
        response = _redirect("login")
        response.del_cookie(COOKIE, path="/")
        return response

    def _same_origin(self, request: web.Request) -> bool:
        """A browser names the page a request comes from; only this server's own pages may
        sign in, sign out or open a review app with the cookie. (No Origin: not a browser.)"""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        allowed = {f"http://{request.host}", f"https://{request.host}"}
        if self._public_origin is not None:
            allowed.add(self._public_origin)
        return origin in allowed

    # ---- the review page and its app ----------------------------------------------------

    async def index(self, request: web.Request) -> web.StreamResponse:
        session = self._session_of(request)
        if session is None:
            raise web.HTTPSeeOther("login")
        ticket = self.live.reserve(session)
        if ticket is None:
            return web.Response(
                text=pages.busy_page(session.reviewer, BUSY_RETRY_S),
                status=409,
                content_type="text/html",
            )
        return web.Response(
            text=pages.review_page(session.reviewer, f"ws/{ticket}", "static/"),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    async def review_socket(self, request: web.Request) -> web.StreamResponse:
        session = self._session_of(request)
        if session is None:
            raise web.HTTPUnauthorized(text="sign in first")
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="a review app opened from another site's page")
        live = self.live.connect(request.match_info["ticket"], session)
        if live is None:
            raise web.HTTPConflict(
                text=f"{session.reviewer} is already reviewing, or this page is out of date"
            )
        socket = web.WebSocketResponse(heartbeat=15)
        app: ReviewProcess | None = None
        try:
            await socket.prepare(request)
            self._sockets.add(socket)
            width = _dimension(request.query.get("width"), DEFAULT_COLUMNS, MAX_COLUMNS)
            height = _dimension(request.query.get("height"), DEFAULT_ROWS, MAX_ROWS)
            app = ReviewProcess(
                self.settings.review_argv(live.reviewer),
                cwd=self.settings.cwd,
                socket=socket,
                download_manager=self.download_manager,
            )
            await app.start(width, height)
            log.info("review app started: %s", live.reviewer)
            # An app that ends by itself (q, or a failure at start) closes its page's socket,
            # so the page says so instead of waiting on a dead terminal.
            watcher = asyncio.ensure_future(app.ended())
            watcher.add_done_callback(lambda _: self._keep(socket.close()))
            await self._pump(socket, app)
        finally:
            # The handler is cancelled when the browser drops the connection: ending the app
            # and freeing the name run as their own task, which the cancellation cannot cut.
            await asyncio.shield(self._keep(self._end_app(app, live, socket)))
        return socket

    def _keep(self, step: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Run ``step`` as a task the server holds until it is done (and waits for at exit)."""
        task = asyncio.ensure_future(step)
        self._endings.add(task)
        task.add_done_callback(self._endings.discard)
        return task

    async def _end_app(
        self, app: ReviewProcess | None, live: LiveReview, socket: web.WebSocketResponse
    ) -> None:
        try:
            self._sockets.discard(socket)
            if app is not None:
                await app.stop_and_wait()
            if not socket.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await socket.close()
        finally:
            self.live.release(live)
            log.info("review app ended: %s", live.reviewer)

    async def _pump(self, socket: web.WebSocketResponse, app: ReviewProcess) -> None:
        """The browser's side of textual-serve's protocol: keys, size, focus, pings."""
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind = envelope[0]
            data = envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str):
                await app.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await app.set_terminal_size(
                    _dimension(str(data.get("width")), DEFAULT_COLUMNS, MAX_COLUMNS),
                    _dimension(str(data.get("height")), DEFAULT_ROWS, MAX_ROWS),
                )
            elif kind == "ping":
                await socket.send_json(["pong", data])
            elif kind == "blur":
                await app.blur()
            elif kind == "focus":
                await app.focus()

    async def _close_sockets(self, _app: web.Application) -> None:
        # On shutdown: closing each socket ends its pump, which stops that app process.
        for socket in list(self._sockets):
            await socket.close(code=1001, message=b"server stopping")

    async def _await_endings(self, _app: web.Application) -> None:
        # Every app told to quit has ended (and given its leases back) before the server exits.
        if self._endings:
            await asyncio.gather(*self._endings, return_exceptions=True)
