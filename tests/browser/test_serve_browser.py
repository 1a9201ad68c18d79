"""The browser tier: `draftgate serve` as a team uses it, in Debian's chromium driven by
Playwright. Two reviewers sign in with their tokens in two browser contexts and approve at
the same time; the ledger must show each decision signed by the right one and no draft
decided twice. A second tab of one reviewer is told the name is already reviewing.

Run by `make browser` (never by `make test`). Screenshots land in .browser/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from serve.tokens import new_token, token_hash
from tests.support.builders import REPO_ROOT
from tests.support.review import seed_ledger
from tests.support.serve import ESCAPES, decisions_by, free_port

CHROMIUM = "/usr/bin/chromium"
# As root on this machine, with no network but loopback: no sandbox, no GPU, and no
# background connections that would be refused.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = REPO_ROOT / ".browser"
WAIT_LIMIT_S = 120.0
APPROVALS_EACH = 4


def start_serve(
    tmp_path: Path, port: int, *extra: str
) -> tuple[subprocess.Popen[str], Path, dict[str, str]]:
    """A real `draftgate serve` on loopback over a ledger of 12 drafts, with two reviewers'
    tokens in its config."""
    ledger = tmp_path / "ledger.sqlite"
    seed_ledger(ledger, count=12)
    tokens = {"alice": new_token(), "bob": new_token()}
    config = tmp_path / "draftgate.toml"
    config.write_text(
        "[serve.reviewers]\n"
        + "".join(f'{name} = "{token_hash(token)}"\n' for name, token in tokens.items())
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "draftgate", "--ledger", str(ledger), "--config", str(config)]
        + ["serve", "--port", str(port), *extra],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    ready = process.stdout.readline()
    print(ready.strip())
    assert "Serving the review" in ready, ready
    return process, ledger, tokens


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    finally:
        process.kill()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    port = free_port()
    process, ledger, tokens = start_serve(tmp_path, port)
    try:
        yield f"http://127.0.0.1:{port}/", ledger, tokens
    finally:
        stop(process)


class Terminal:
    """What the page's review app drew, read off its WebSocket frames (the terminal itself
    is a canvas, with no text in the page)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.raw = bytearray()
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: str | bytes) -> None:
        if isinstance(payload, bytes):
            self.raw.extend(payload)

    def text(self) -> str:
        return ESCAPES.sub("", self.raw.decode("utf-8", "replace"))

    def press(self, key: str) -> None:
        self.page.focus(".xterm-helper-textarea")
        self.page.keyboard.press(key)


def wait_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` while Playwright delivers the pages' events (frames arrive only
    while a Playwright call is waiting)."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_LIMIT_S:.0f} s")
        page.wait_for_timeout(50)


def sign_in(browser: Browser, base: str, token: str, **context: Any) -> tuple[Page, Terminal]:
    page = browser.new_context(viewport={"width": 1400, "height": 900}, **context).new_page()
    terminal = Terminal(page)
    page.goto(base + "login")
    page.fill("#token", token)
    page.click("#sign-in")
    page.wait_for_selector("body.-first-byte", timeout=WAIT_LIMIT_S * 1000)
    return page, terminal


def test_two_reviewers_approve_in_parallel_in_chromium(
    served: tuple[str, Path, dict[str, str]],
) -> None:
    base, ledger, tokens = served
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print(f"chromium {browser.version}")
            alice, alice_term = sign_in(browser, base, tokens["alice"])
            bob, bob_term = sign_in(browser, base, tokens["bob"])
            reviewers = [("alice", alice, alice_term), ("bob", bob, bob_term)]
            for n in range(1, APPROVALS_EACH + 1):
                # Both see their draft #n, both press approve, then both decisions are in.
                for name, page, term in reviewers:
                    wait_until(page, lambda t=term, n=n: f"#{n} ·" in t.text(), f"{name} #{n}")
                for _, _, term in reviewers:
                    term.press("a")
                for name, page, _ in reviewers:
                    wait_until(
                        page,
                        lambda name=name, n=n: (
                            Counter(r for _, r, _ in decisions_by(ledger))[name] == n
                        ),
                        f"{name}'s decision {n} in the ledger",
                    )
            for name, page, term in reviewers:
                wait_until(page, lambda t=term: f"#{APPROVALS_EACH + 1} ·" in t.text(), name)
                assert f"Draftgate review · {name}" in term.text()
                assert f"approved {APPROVALS_EACH}" in term.text()
                page.screenshot(path=str(SHOTS / f"{name}-review.png"))

            # alice opens a second tab: told her name is already reviewing, no second app.
            second = alice.context.new_page()
            response = second.goto(base)
            assert response is not None and response.status == 409
            assert "alice is already reviewing" in second.inner_text("#busy")
            second.screenshot(path=str(SHOTS / "alice-second-tab.png"))
        finally:
            browser.close()

    rows = decisions_by(ledger)
    for draft, reviewer, verdict in rows:
        print(f"decision {draft} {reviewer} {verdict}")
    assert Counter(r for _, r, _ in rows) == {"alice": APPROVALS_EACH, "bob": APPROVALS_EACH}
    assert {v for _, _, v in rows} == {"approve"}
    decided = [d for d, _, _ in rows]
    assert len(set(decided)) == len(decided), "a draft was decided twice"
    print(f"{len(rows)} decisions, {len(set(decided))} distinct drafts, screenshots in {SHOTS}")
    for shot in ("alice-review.png", "bob-review.png", "alice-second-tab.png"):
        assert (SHOTS / shot).stat().st_size > 0


NGINX_CONF = """\
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        server_name localhost;
        ssl_certificate     {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        # The README's snippet, under a path.
        location /review/ {{
            proxy_pass http://127.0.0.1:{serve_port}/;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_read_timeout 1h;
        }}
    }}
}}
"""


@pytest.fixture
def behind_tls_proxy(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """`draftgate serve` on loopback behind nginx with TLS (a self-signed certificate for
    localhost), at https://localhost:PORT/review/ as the README shows."""
    root = tmp_path / "nginx"
    root.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=localhost", "-keyout", str(root / "key.pem")]
        + ["-out", str(root / "cert.pem")],
        check=True,
        capture_output=True,
    )
    serve_port, tls_port = free_port(), free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, tls_port=tls_port, serve_port=serve_port))
    public = f"https://localhost:{tls_port}/review/"
    process, ledger, tokens = start_serve(tmp_path, serve_port, "--public-url", public)
    nginx = subprocess.Popen(["nginx", "-c", str(conf), "-g", "daemon off;"])
    try:
        yield public, ledger, tokens
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        stop(process)


def test_a_reviewer_signs_in_and_approves_through_nginx_with_tls(
    behind_tls_proxy: tuple[str, Path, dict[str, str]],
) -> None:
    base, ledger, tokens = behind_tls_proxy
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # nginx may take a moment to listen: the sign-in page is retried until it answers.
            deadline = time.monotonic() + WAIT_LIMIT_S
            page, terminal = None, None
            while page is None:
                try:
                    page, terminal = sign_in(
                        browser, base, tokens["alice"], ignore_https_errors=True
                    )
                except PlaywrightError:
                    if time.monotonic() > deadline:
                        raise
            assert terminal is not None
            wait_until(page, lambda: "#1 ·" in terminal.text(), "alice #1 over TLS")
            terminal.press("a")
            wait_until(page, lambda: len(decisions_by(ledger)) == 1, "the decision over TLS")
            cookie = next(c for c in page.context.cookies() if c["name"] == "draftgate_session")
            assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert page.url == base
            wait_until(page, lambda: "#2 ·" in terminal.text(), "alice #2 over TLS")
            page.screenshot(path=str(SHOTS / "alice-behind-nginx-tls.png"))
        finally:
            browser.close()
    assert [(r, v) for _, r, v in decisions_by(ledger)] == [("alice", "approve")]
    print(f"through nginx at {base}: 1 decision by alice, cookie Secure/HttpOnly/Strict")
