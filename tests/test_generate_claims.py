"""Runs sharing a ledger pay for each job once: two ``generate`` processes at the same time, a
hung run whose claims run out, and ``generate --workers``.

Every run here is a real process against one loopback server; the server counts what it was
asked, per job, so "paid once" is checked where the money would go.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from draftgate.exit_codes import ExitCode
from ledger import Ledger
from tests.support.builders import REPO_ROOT
from tests.support.fake_openai import ChatRequest, FakeOpenAI, Reply, default_script
from tests.support.generate_env import ingested_ledger, write_config

KINDS = "qa,clarify"  # no subtypes: a job is one (chunk, kind) the server can tell apart
WAIT_S = 120.0


def bearer(request: ChatRequest) -> str:
    return next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")


def jobs_asked(server: FakeOpenAI) -> Counter[tuple[str, str]]:
    """First asks per job (chunk text, kind) the server received; re-asks are not new calls."""
    return Counter((r.chunk, r.kind) for r in server.chat_requests() if not r.is_reask)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class Gate:
    """Holds every reply until requests from ``clients`` different API keys have arrived, so
    the runs are known to overlap (a condition, not a pause)."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.keys: set[str] = set()
        self.open = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: ChatRequest) -> Reply:
        with self._lock:
            self.keys.add(bearer(request))
            if len(self.keys) >= self.clients:
                self.open.set()
        self.open.wait(WAIT_S)
        return default_script(request)


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


@pytest.fixture
def ledger_path(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ingested_ledger(tmp_path, tmp_path_factory)


def start_generate(
    ledger_path: Path, config: Path, server: FakeOpenAI, key: str, *args: str
) -> subprocess.Popen[str]:
    argv = [
        sys.executable,
        "-m",
        "draftgate",
        "--ledger",
        str(ledger_path),
        "--config",
        str(config),
        "generate",
        "--quiet",
        "--kinds",
        KINDS,
        *args,
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": key,
    }
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=WAIT_S)
    return process.returncode, out, err


def recorded(ledger_path: Path) -> tuple[list[str], int, int]:
    """(job keys of the recorded calls, drafts stored, drafts the calls say they produced)."""
    with Ledger.open(ledger_path) as ledger:
        calls = ledger.generation_calls()
        drafts = ledger.pending_drafts(limit=10_000)
    return [c.job_key for c in calls], len(drafts), sum(c.produced for c in calls)


def live_claims(ledger_path: Path) -> int:
    with Ledger.open(ledger_path) as ledger:
        keys = [c.job_key for c in ledger.generation_calls()]
        rows = ledger.query("SELECT DISTINCT job_key FROM job_claims")
        return len(ledger.job_claim_holders([r[0] for r in rows] + keys))


def test_two_runs_at_once_pay_for_each_job_once(
    ledger_path: Path, tmp_path: Path, server: FakeOpenAI
) -> None:
    gate = Gate(clients=2)
    server.script = gate
    config = write_config(tmp_path, timeout=WAIT_S)
    jobs = 40
    runs = [
        start_generate(ledger_path, config, server, key, "--limit", str(jobs))
        for key in ("sk-run-a", "sk-run-b")
    ]
    results = [finish(run) for run in runs]
    assert [code for code, _, _ in results] == [ExitCode.OK, ExitCode.OK], results
    assert gate.open.is_set()  # both runs were calling at the same time

    asked = jobs_asked(server)
    assert len(asked) == jobs and set(asked.values()) == {1}  # each job paid for once
    by_run = Counter(bearer(r) for r in server.chat_requests() if not r.is_reask)
    assert set(by_run) == {"Bearer sk-run-a", "Bearer sk-run-b"}
    keys, stored, produced = recorded(ledger_path)
    assert len(keys) == len(set(keys)) == jobs
    assert stored == produced
    # Each run says how many planned jobs it left to the other.
    left = [out for _, out, _ in results if "jobs left to other runs" in out]
    assert len(left) == 2
    assert live_claims(ledger_path) == 0  # both gave their claims back


def test_a_hung_runs_claims_run_out_and_a_later_run_drafts_its_jobs(
    ledger_path: Path, tmp_path: Path, server: FakeOpenAI
) -> None:
    hung_key = "Bearer sk-hung"
    release = threading.Event()

    def script(request: ChatRequest) -> Reply:
        if bearer(request) == hung_key:
            release.wait(WAIT_S)  # the hung run's calls never come back while it lives
        return default_script(request)

    server.script = script
    # Long enough that a run on a loaded machine renews its claims in time before the stop;
    # the wait below is on the condition, so a longer lifetime costs only its own seconds.
    ttl = 5.0
    config = write_config(tmp_path, timeout=WAIT_S)
    config.write_text(config.read_text() + f"claim_ttl_s = {ttl}\n")
    jobs = 12
    hung = start_generate(ledger_path, config, server, "sk-hung", "--limit", str(jobs))
    try:
        wait_for(lambda: live_claims(ledger_path) >= 4, "the first run to claim its jobs")
        hung.send_signal(signal.SIGSTOP)  # alive, but renewing nothing
        held = live_claims(ledger_path)
        assert held >= 4
        # Its process is still there, so only the expiry frees its jobs.
        wait_for(lambda: live_claims(ledger_path) == 0, "the hung run's claims to run out")
        later = start_generate(ledger_path, config, server, "sk-later", "--limit", str(jobs))
        code, out, err = finish(later)
        assert code == ExitCode.OK, err
    finally:
        hung.kill()
        hung.wait()
        release.set()
    keys, stored, produced = recorded(ledger_path)
    assert len(keys) == len(set(keys)) == jobs  # the later run drafted every job, once each
    assert stored == produced
    later_asked = [r for r in server.chat_requests() if bearer(r) == "Bearer sk-later"]
    assert len({(r.chunk, r.kind) for r in later_asked if not r.is_reask}) == jobs


def test_workers_draft_every_job_once(
    ledger_path: Path, tmp_path: Path, server: FakeOpenAI
) -> None:
    config = write_config(tmp_path, timeout=WAIT_S)
    jobs = 48
    run = start_generate(
        ledger_path,
        config,
        server,
        "sk-pool",
        "--workers",
        "2",
        "--concurrency",
        "8",
        "--limit",
        str(jobs),
    )
    code, out, err = finish(run)
    assert code == ExitCode.OK, err
    asked = jobs_asked(server)
    assert len(asked) == jobs and set(asked.values()) == {1}
    keys, stored, produced = recorded(ledger_path)
    assert len(keys) == len(set(keys)) == jobs
    assert stored == produced
    # Two worker processes did the calls, and the parent printed one summary for both.
    with Ledger.open(ledger_path) as ledger:
        pids = ledger.query("SELECT DISTINCT pid FROM job_claims")
    assert len(pids) == 2 and run.pid not in {r[0] for r in pids}
    assert out.count("generation summary") == 1
    assert re.search(rf"calls ok\s*│\s*{jobs}\s*│", out), out


def test_ctrl_c_stops_every_worker_and_keeps_what_finished(
    ledger_path: Path, tmp_path: Path, server: FakeOpenAI
) -> None:
    server.latency_s = 0.2
    config = write_config(tmp_path, timeout=WAIT_S)
    run = start_generate(
        ledger_path, config, server, "sk-pool", "--workers", "2", "--concurrency", "4"
    )
    wait_for(lambda: len(recorded(ledger_path)[0]) >= 6, "the workers to store some calls")
    run.send_signal(signal.SIGINT)
    code, out, err = finish(run)
    assert code == ExitCode.INTERRUPTED, err
    assert "interrupted" in err and "generation summary" in out
    keys, stored, produced = recorded(ledger_path)
    # Every call the server answered finished and was stored; no job twice; nothing held.
    assert len(keys) == len(set(keys)) == sum(jobs_asked(server).values())
    assert stored == produced
    assert live_claims(ledger_path) == 0
    with Ledger.open(ledger_path) as ledger:
        planned = len(ledger.current_chunks()) * 2
    assert len(keys) < planned  # it was stopped mid-way
