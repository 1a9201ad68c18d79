"""Secrets: a recognisable fake API key in ``OPENAI_API_KEY`` must appear in nothing Draftgate
writes, with verbose logging on, on the success path and on every failure path.

One trial, with ``--verbose`` and a fresh key ``sk-dgtest-<24 random characters>`` (drawn
from ``random.Random(f"{seed}:{trial}")``), in its own folder (the working directory of every
command, so default outputs land there too):

- ``generate`` against the loopback server, where some replies are a 500 whose message echoes
  the request's Authorization header and some a 401 echoing the key (as providers do);
- ``generate --batch`` killed while it polls (the batch state file is on disk), then resumed;
  one batch line fails with an error body echoing the key;
- ``generate`` refused at the endpoint check (401 echoing the key), against a server that only
  answers 500s echoing the header, and against a closed port (connection refused);
- ``review`` (the real app, headless), ``export`` in every format, ``audit`` as md, html and
  json, and ``verify``;
- ``generate`` against a base URL carrying credentials,
  ``http://<user>:<password>@host/v1?token=<token>`` (fresh random user, password and token):
  from ``OPENAI_BASE_URL`` with ``-v``, from the config's ``[generate] base_url`` with
  openai's ``OPENAI_LOG=debug`` (a subprocess), and against a closed port.

The generate runs before the batch resume and the review run as subprocesses (two at a time);
the rest go through ``main()`` in this process, output captured the same way (an interpreter
start-up costs more than most of those runs). One generate subprocess per trial runs with
openai's own ``OPENAI_LOG=debug`` (its and httpx's debug logging) and no ``-v``: the 500s run
on even trials, the interrupted batch on odd ones.

Then every file under the trial folder (the ledgers and their -wal/-shm as raw bytes, exports,
reports; the batch state file while it exists, at the kill) and every captured stdout/stderr
is scanned for the key and for every 8-character piece of its random part, and the same for
the URL's user, password, token and the Basic header value made from them. The servers must
have seen the key (the credentials server: the Basic value and the token) on every request,
or its absence proves nothing.

- undetected: the key or a URL secret, or a piece of one, found anywhere (the finding names
  the file or stream and the offset); a server that never saw the key or the credentials.
- crashed: a traceback, an undocumented exit code, or a documented one other than the
  expected one for that step (e.g. 5 for a refused key).
- lost: not used here.
"""

from __future__ import annotations

import base64
import random
import re
import signal
import socket
import string
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from draftgate.exit_codes import ExitCode
from tests.reliability.generate_harness import (
    CliRun,
    cli_argv,
    cli_env,
    fresh_ledger,
    ingested_template,
    run_cli,
    run_in_process,
    write_config,
)
from tests.reliability.outcome import Outcome
from tests.support.fake_openai import ChatRequest, FakeOpenAI, Reply, default_script

CATEGORY = "API key leaks"
SUITE_TRIALS = 1
BENCH_TRIALS = 4

KEY_PREFIX = "sk-dgtest-"
PIECE = 8  # every piece this long of the key's random part is searched for
ECHO_500_RATE = 0.15
ECHO_401_RATE = 0.1
LINE_TIMEOUT_S = 60.0
EXPORT_FORMATS = ("openai", "sharegpt", "alpaca", "hf")
CREDS_LEDGERS = ("creds-env", "creds-config", "creds-closed")
AUDIT_FORMATS = ("md", "html", "json")

# The review app driven headless, with the CLI's logging set-up as --verbose makes it.
REVIEW_DRIVER = (
    "import asyncio, sys\n"
    "from draftgate.logs import configure_logging\n"
    "configure_logging(verbose=True)\n"
    "from tests.support.review_driver import main\n"
    "asyncio.run(main(sys.argv[1]))\n"
)


def make_key(rng: random.Random) -> str:
    return KEY_PREFIX + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(24))


def key_pattern(key: str, *others: str) -> re.Pattern[bytes]:
    """The key, and every ``PIECE``-character piece of its random part; and each of
    ``others`` (the base URL's credentials) with its pieces."""
    needles: set[str] = set()
    for whole, secret in [(key, key.removeprefix(KEY_PREFIX)), *((o, o) for o in others)]:
        needles.add(whole)
        needles.update(secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1))
    ordered = sorted(needles, key=len, reverse=True)
    return re.compile(b"|".join(re.escape(n.encode()) for n in ordered))


@dataclass(frozen=True)
class UrlCredentials:
    """What a base URL can carry: a user and password, and a token in its query."""

    user: str
    password: str
    token: str

    @classmethod
    def draw(cls, rng: random.Random) -> UrlCredentials:
        def word(prefix: str, n: int) -> str:
            return prefix + "".join(
                rng.choice(string.ascii_letters + string.digits) for _ in range(n)
            )

        return cls(word("u", 10), word("pw-", 20), word("tk-", 20))

    def url(self, port: int) -> str:
        return f"http://{self.user}:{self.password}@127.0.0.1:{port}/v1?token={self.token}"

    @property
    def basic(self) -> str:
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.user, self.password, self.token, self.basic)


@dataclass
class Scan:
    """Where the key was found: one entry per file or stream, with the first offset."""

    pattern: re.Pattern[bytes]
    found: dict[str, str] = field(default_factory=dict)

    def bytes_of(self, label: str, data: bytes) -> None:
        hit = self.pattern.search(data)
        if hit and label not in self.found:
            count = len(self.pattern.findall(data))
            self.found[label] = f"offset {hit.start()} ({hit.group().decode()!r}, {count} hit(s))"

    def text_of(self, label: str, text: str) -> None:
        self.bytes_of(label, text.encode("utf-8", errors="surrogateescape"))

    def folder(self, root: Path) -> int:
        files = 0
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                self.bytes_of(str(path.relative_to(root)), path.read_bytes())
                files += 1
        return files


def _echo_script(key: str, rng: random.Random) -> Callable[[ChatRequest], Reply]:
    """Mostly good replies; some 500s echoing the Authorization header, some 401s echoing the
    key. Batch lines carry no headers: their errors echo the key itself."""
    lock = threading.Lock()
    batch_lines = [0]

    def script(request: ChatRequest) -> Reply:
        auth = request.headers.get("Authorization") or f"Bearer {key}"
        with lock:
            roll = rng.random()
            if "Authorization" not in request.headers:
                batch_lines[0] += 1
                if batch_lines[0] == 1:
                    roll = 0.0  # every batch has one failed line
        if roll < ECHO_500_RATE:
            return Reply(status=500, error_message=f"upstream refused: Authorization: {auth}")
        if roll < ECHO_500_RATE + ECHO_401_RATE:
            presented = auth.removeprefix("Bearer ")
            return Reply(status=401, error_message=f"Incorrect API key provided: {presented}")
        return default_script(request)

    return script


def _always_500_echo(request: ChatRequest) -> Reply:
    auth = request.headers.get("Authorization", "")
    return Reply(status=500, error_message=f"internal error handling {auth}")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Trial:
    key: str
    folder: Path
    config: Path
    env: dict[str, str]
    outcome: Outcome
    where: str
    scan: Scan
    creds: UrlCredentials
    lock: threading.Lock = field(default_factory=threading.Lock)

    def step(
        self, label: str, args: list[str], allowed: tuple[int, ...], extra: dict[str, str]
    ) -> CliRun:
        """A CLI run, its output scanned, its exit judged. --verbose unless ``extra`` turns
        on openai's own OPENAI_LOG=debug instead."""
        verbose = [] if "OPENAI_LOG" in extra else ["-v"]
        result = run_cli([*verbose, *args], cli_env({**self.env, **extra}), self.folder)
        self.judge(label, result, allowed)
        return result

    def judge(self, label: str, result: CliRun, allowed: tuple[int, ...]) -> None:
        with self.lock:
            self.scan.text_of(f"stdout of {label}", result.stdout)
            self.scan.text_of(f"stderr of {label}", result.stderr)
            if result.code == -signal.SIGKILL and not allowed:
                # Killed on purpose: only a traceback before the kill would count.
                result = CliRun(0, result.stdout, result.stderr)
                allowed = (0,)
            crash = result.crash(allowed=allowed)
            if crash:
                self.outcome.crash(f"{self.where}: {label}: {crash}")


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    template = ingested_template(workdir)
    for trial in range(trials):
        _trial(trial, seed, template, workdir / f"trial-{trial:03d}", outcome)
        outcome.trials += 1
    return outcome


def _trial(trial: int, seed: int, template: Path, folder: Path, outcome: Outcome) -> None:
    rng = random.Random(f"{seed}:{trial}")
    key = make_key(rng)
    creds = UrlCredentials.draw(random.Random(f"{seed}:{trial}:url"))
    folder.mkdir(parents=True)
    t = Trial(
        key=key,
        folder=folder,
        config=write_config(folder, timeout=5.0, attempts=2, reasks=1),
        env={"OPENAI_API_KEY": key},
        outcome=outcome,
        where=f"seed {seed} trial {trial} (key ...{key[-4:]})",
        scan=Scan(key_pattern(key, *creds.secrets)),
        creds=creds,
    )
    ledgers = {
        name: fresh_ledger(template, folder / "outputs" / name)
        for name in ("main", "batch", "failing", "refused", "unreachable", *CREDS_LEDGERS)
    }
    # One generate subprocess per trial runs with openai's own OPENAI_LOG=debug and no -v:
    # the 500s run on even trials, the interrupted batch on odd ones.
    debug = {"OPENAI_LOG": "debug"}
    failing_extra, batch_extra = (debug, {}) if trial % 2 == 0 else ({}, debug)
    main_server = FakeOpenAI(_echo_script(key, rng)).start()
    refusing = FakeOpenAI()
    refusing.accepted_key = "sk-some-other-key-entirely"
    refusing.start()
    failing = FakeOpenAI(_always_500_echo).start()
    creds_server = FakeOpenAI().start()
    servers = (main_server, refusing, failing, creds_server)
    try:
        # Subprocesses first, two at a time (interpreter start-up is most of their cost);
        # then the in-process runs, one after another.
        with ThreadPoolExecutor(max_workers=2) as pool:
            batch = pool.submit(_interrupted_batch, t, ledgers["batch"], main_server, batch_extra)
            failed = pool.submit(
                t.step,
                "generate (500s)",
                _args(t, ledgers["failing"], "generate", "--limit", "3"),
                (ExitCode.INCOMPLETE,),
                {"OPENAI_BASE_URL": failing.base_url, **failing_extra},
            )
            _generate_and_review(t, ledgers["main"], main_server)
            batch.result()
            failed.result()
        credentials_in_the_base_url(t, ledgers, creds_server)
        _in_process_paths(t, ledgers, main_server, refusing)
    finally:
        for server in servers:
            server.stop()
    files = t.scan.folder(folder)
    for label, where in sorted(t.scan.found.items()):
        outcome.miss(f"{t.where}: the key is in {label} at {where}")
    if files == 0:
        outcome.miss(f"{t.where}: nothing was written, so nothing was scanned")
    for name, server in zip(("main", "refusing", "failing"), servers[:3], strict=True):
        seen = [r.headers.get("Authorization") for r in server.requests]
        if not seen or any(h != f"Bearer {key}" for h in seen):
            outcome.miss(f"{t.where}: the {name} server did not see the key on every request")
    # httpx sends a URL's userinfo as Basic credentials in place of the bearer key.
    sent = [(r.headers.get("Authorization"), r.path) for r in creds_server.requests]
    if not sent or any(h != f"Basic {creds.basic}" or creds.token not in p for h, p in sent):
        outcome.miss(f"{t.where}: the credentials server did not see them on every request")


def credentials_in_the_base_url(
    t: Trial, ledgers: dict[str, Path], server: FakeOpenAI, *, in_process_only: bool = False
) -> None:
    """A base URL with userinfo and a query token: from the environment with -v (in this
    process), from the config with OPENAI_LOG=debug (a subprocess, unless
    ``in_process_only``), and at a closed port."""
    url = t.creds.url(server.port)
    some_fail = (ExitCode.OK, ExitCode.INCOMPLETE)
    generate = ("generate", "--limit", "3")
    args = _args(t, ledgers["creds-env"], *generate)
    env = {**t.env, "OPENAI_BASE_URL": url}
    t.judge(
        "generate (credentials in OPENAI_BASE_URL)", run_in_process(["-v", *args], env), some_fail
    )
    if not in_process_only:
        config = t.folder / "draftgate-creds.toml"
        config.write_text(
            t.config.read_text(encoding="utf-8") + f'base_url = "{url}"\n', encoding="utf-8"
        )
        args = ["--ledger", str(ledgers["creds-config"]), "--config", str(config), *generate]
        label = "generate (credentials in [generate] base_url)"
        t.step(label, args, some_fail, {"OPENAI_LOG": "debug"})
        config.unlink()  # the user's own file holds the URL by design; the scan is for the rest
    closed = {**t.env, "OPENAI_BASE_URL": t.creds.url(_closed_port())}
    args = _args(t, ledgers["creds-closed"], *generate)
    t.judge(
        "generate (credentials, connection refused)",
        run_in_process(["-v", *args], closed),
        (ExitCode.ENDPOINT,),
    )


def _args(t: Trial, ledger: Path, *args: str) -> list[str]:
    return ["--ledger", str(ledger), "--config", str(t.config), *args]


def _generate_and_review(t: Trial, ledger: Path, server: FakeOpenAI) -> None:
    env = {"OPENAI_BASE_URL": server.base_url}
    some_fail = (ExitCode.OK, ExitCode.INCOMPLETE)
    t.step("generate", _args(t, ledger, "generate", "--limit", "10"), some_fail, env)
    review = subprocess.run(
        [sys.executable, "-c", REVIEW_DRIVER, str(ledger)],
        env=cli_env(t.env),
        cwd=t.folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    t.judge("review", CliRun(review.returncode, review.stdout, review.stderr), (0,))
    if "saved" not in review.stdout:
        t.outcome.crash(f"{t.where}: review decided nothing: {review.stderr[-300:]!r}")


def _interrupted_batch(t: Trial, ledger: Path, server: FakeOpenAI, extra: dict[str, str]) -> None:
    """--batch killed while it polls; everything on disk then (the batch state file beside
    the ledger, the ledger's -wal) is scanned as it stands: a resumed batch deletes the state."""
    server.hold_batches = True
    args = _args(t, ledger, "generate", "--batch", "--limit", "4")
    env = {"OPENAI_BASE_URL": server.base_url, **extra}
    t.judge("generate --batch (killed)", _killed_at_line(t, args, env, "in_progress"), ())
    with t.lock:
        if not Path(str(ledger) + ".batch.json").exists():
            t.outcome.crash(f"{t.where}: no batch state file after the interrupted batch")
        t.scan.folder(t.folder)


def _in_process_paths(
    t: Trial, ledgers: dict[str, Path], server: FakeOpenAI, refusing: FakeOpenAI
) -> None:
    """The rest through ``main()`` in this process, with --verbose, output captured."""

    def step(label: str, args: list[str], allowed: tuple[int, ...], env: dict[str, str]) -> None:
        t.judge(label, run_in_process(["-v", *args], {**t.env, **env}), allowed)

    server.hold_batches = False
    main_env = {"OPENAI_BASE_URL": server.base_url}
    batch = _args(t, ledgers["batch"], "generate", "--batch", "--limit", "4")
    step("generate --batch (resumed)", batch, (ExitCode.OK, ExitCode.INCOMPLETE), main_env)
    refused = _args(t, ledgers["refused"], "generate", "--limit", "3")
    step(
        "generate (key refused)",
        refused,
        (ExitCode.ENDPOINT,),
        {"OPENAI_BASE_URL": refusing.base_url},
    )
    closed = {"OPENAI_BASE_URL": f"http://127.0.0.1:{_closed_port()}/v1"}
    unreachable = _args(t, ledgers["unreachable"], "generate", "--limit", "3")
    step("generate (connection refused)", unreachable, (ExitCode.ENDPOINT,), closed)
    exports = t.folder / "outputs" / "exports"
    main = ledgers["main"]
    for fmt in EXPORT_FORMATS:
        args = _args(t, main, "export", "--format", fmt, "--out", str(exports / fmt))
        step(f"export {fmt}", args, (ExitCode.OK,), {})
    for fmt in AUDIT_FORMATS:
        report = t.folder / "outputs" / f"audit.{fmt}"
        args = _args(t, main, "audit", "--format", fmt, "--export", str(exports / "openai"))
        step(f"audit {fmt}", [*args, "--out", str(report)], (ExitCode.OK,), {})
    step("verify", _args(t, main, "verify"), (ExitCode.OK,), {})


def _killed_at_line(t: Trial, args: list[str], extra: dict[str, str], marker: str) -> CliRun:
    """Run the CLI until a stderr line contains ``marker``, then SIGKILL it."""
    verbose = [] if "OPENAI_LOG" in extra else ["-v"]
    process = subprocess.Popen(
        cli_argv(*verbose, *args),
        env=cli_env({**t.env, **extra}),
        cwd=t.folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if marker in line and line.startswith("draftgate:"):
                seen.set()
        seen.set()  # the stream ended: stop waiting either way

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        seen.wait(LINE_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        stdout = process.stdout.read() if process.stdout else ""
        process.wait()
        reader.join(timeout=10)
    return CliRun(process.returncode, stdout, "".join(lines))
