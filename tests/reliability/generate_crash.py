"""Crash during generation: ``draftgate generate`` SIGKILLed at random moments, then rerun.

One trial: a fresh copy of a small ingested corpus (4 chunks x 7 kinds/subtypes = 28 jobs).
The real CLI runs as a subprocess against the loopback test server (``LATENCY_S`` per reply,
``CONCURRENCY`` calls in flight) and gets SIGKILL at a moment drawn from
``random.Random(f"{seed}:{trial}")``: usually a random fraction of a reply's latency after the
server received its k-th chat request (k random), so kills land with calls in flight, between
replies and while the writer thread commits; sometimes a random delay after start, during
start-up or the endpoint check. Then ``draftgate generate`` is run again (in this process, to
save an interpreter start) until it finishes.

- lost: a call the killed run had recorded is gone or changed, or one of its drafts is gone;
  a planned job that has no ok call after the rerun.
- undetected: a job with two ok calls; two drafts with the same content (chunk, kind, subtype,
  normalised question); a call whose ``produced`` does not match its stored drafts.
- crashed: the rerun exits non-zero or prints a traceback; the killed run exits by itself with
  an undocumented code or a traceback; ``verify()`` finds a break; a run that hangs.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from generator import pipeline
from generator.scope import load_scope
from generator.settings import GenerateSettings
from ledger import Ledger, verify
from ledger.text import normalise
from tests.reliability.generate_harness import (
    CliRun,
    cli_argv,
    cli_env,
    fresh_ledger,
    ingested_template,
    run_in_process,
    write_config,
)
from tests.reliability.outcome import Outcome
from tests.support.builders import SAMPLE_DOCS
from tests.support.fake_openai import ChatRequest, FakeOpenAI, Reply, default_script, running

CATEGORY = "crash during generation"
SUITE_TRIALS = 20
BENCH_TRIALS = 60

LATENCY_S = 0.04
CONCURRENCY = 4
STARTUP_KILL_SHARE = 0.15  # trials killed by a delay after start, not by a request
HANG_S = 60.0  # a killed run that has not died by then counts as a hang
PARALLEL_RUNS = 2  # killed runs going on at once (this machine has 2 cores)
API_KEY = "sk-dgtest-generate-crash"


class KillSwitch:
    """A server script that SIGKILLs the run ``delay_s`` after the ``at``-th chat request.

    The kill is fired from a timer started by the server thread, so its moment depends only
    on the run's own progress, never on what the harness is doing meanwhile."""

    def __init__(self, at: int | None, delay_s: float) -> None:
        self.at = at
        self.delay_s = delay_s
        self.process: subprocess.Popen[bytes] | None = None
        self.fired = threading.Event()
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, request: ChatRequest) -> Reply:
        with self._lock:
            self._count += 1
            hit = self._count == self.at
        if hit:
            self.fire_after(self.delay_s)
        return default_script(request)

    def fire_after(self, delay_s: float) -> None:
        timer = threading.Timer(delay_s, self._kill)
        timer.daemon = True
        timer.start()

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.fired.set()


def planned_job_keys(template: Path) -> set[str]:
    """The keys of every job a full run over the template plans (what must end finished)."""
    settings = GenerateSettings(model="fake-model", per_chunk=1, mode="tools")
    with Ledger.open(template) as ledger:
        plan = pipeline.plan(ledger, load_scope(SAMPLE_DOCS / "scope.toml"), settings)
    return {job.key for job in plan.jobs}


def _snapshot(path: Path) -> tuple[dict[str, tuple[str, str, int]], dict[str, set[str]]]:
    """(call id -> (job key, status, produced), call id -> its draft ids) as stored now."""
    with Ledger.open(path) as ledger:
        calls = {c.id: (c.job_key, c.status, c.produced) for c in ledger.generation_calls()}
        drafts: dict[str, set[str]] = {}
        for _, draft in ledger.pending_drafts(limit=1_000_000):
            drafts.setdefault(draft.call_id, set()).add(draft.id)
    return calls, drafts


@dataclass
class KilledRun:
    """What one trial's killed run left: the moment chosen, and the ledger as it stood."""

    where: str
    ledger_path: Path
    calls: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    drafts: dict[str, set[str]] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    hung: bool = False


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    template = ingested_template(workdir)
    expected = planned_job_keys(template)
    # A generous client timeout: a loaded machine must not turn a slow reply into a failure.
    config = write_config(workdir, concurrency=CONCURRENCY, timeout=30.0)
    # Interpreter start-up is most of a killed run's cost, so the next trials' killed runs go
    # on while this one's rerun and checks run here; each trial has its own folder and server.
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        killed_runs = [
            pool.submit(
                _killed_run,
                trial,
                seed,
                template,
                workdir / f"trial-{trial:03d}",
                config,
                len(expected),
            )
            for trial in range(trials)
        ]
        for future in killed_runs:
            killed = future.result()
            for crash in killed.crashes:
                outcome.crash(f"{killed.where}: {crash}")
            if not killed.hung:
                _rerun_and_check(killed, config, expected, outcome)
            outcome.trials += 1
    return outcome


def _run_args(ledger_path: Path, config: Path) -> list[str]:
    return ["--ledger", str(ledger_path), "--config", str(config), "generate", "--quiet"]


def _killed_run(
    trial: int, seed: int, template: Path, folder: Path, config: Path, jobs: int
) -> KilledRun:
    """Start the real CLI, let the switch kill it, and return what the ledger held then."""
    rng = random.Random(f"{seed}:{trial}")
    ledger_path = fresh_ledger(template, folder)
    startup_delay: float | None = None
    if rng.random() < STARTUP_KILL_SHARE:
        switch = KillSwitch(None, 0.0)
        startup_delay = rng.uniform(0.0, 1.5)
        moment = f"{startup_delay:.2f} s after start"
    else:
        at = rng.randint(1, jobs - 1)
        switch = KillSwitch(at, rng.uniform(0.0, 1.5 * LATENCY_S))
        moment = f"{switch.delay_s * 1000:.0f} ms after chat request {at}"
    killed = KilledRun(f"seed {seed} trial {trial} (kill {moment})", ledger_path)
    stderr_path = folder / "killed.stderr"
    server = FakeOpenAI(switch, latency_s=LATENCY_S).start()
    try:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": API_KEY}
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                cli_argv(*_run_args(ledger_path, config)),
                env=cli_env(env),
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            switch.process = process
            try:
                if startup_delay is not None:
                    switch.fire_after(startup_delay)
                code = process.wait(timeout=HANG_S)
            except subprocess.TimeoutExpired:
                killed.crashes.append(f"the run neither finished nor got killed in {HANG_S} s")
                killed.hung = True
                return killed
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    finally:
        server.stop()
    if code != -signal.SIGKILL:
        # It finished before the kill landed: still a fair trial of the rerun, if it was clean.
        crash = CliRun(code, "", stderr_path.read_text(errors="replace")).crash(allowed=[0])
        if crash:
            killed.crashes.append(f"the killed run {crash}")
    killed.calls, killed.drafts = _snapshot(ledger_path)
    return killed


def _rerun_and_check(killed: KilledRun, config: Path, expected: set[str], outcome: Outcome) -> None:
    with running() as server:  # no latency: the rerun only has to finish
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": API_KEY}
        rerun = run_in_process(_run_args(killed.ledger_path, config), env)
    crash = rerun.crash(allowed=[0])
    if crash:
        outcome.crash(f"{killed.where}: rerun {crash}")
    _check(killed.ledger_path, expected, killed.calls, killed.drafts, outcome, killed.where)


def _check(
    ledger_path: Path,
    expected: set[str],
    before_calls: dict[str, tuple[str, str, int]],
    before_drafts: dict[str, set[str]],
    outcome: Outcome,
    where: str,
) -> None:
    after_calls, after_drafts = _snapshot(ledger_path)
    for call_id, recorded in before_calls.items():
        if after_calls.get(call_id) != recorded:
            outcome.lose(f"{where}: call {call_id} {recorded} is now {after_calls.get(call_id)}")
        elif not before_drafts.get(call_id, set()) <= after_drafts.get(call_id, set()):
            outcome.lose(f"{where}: drafts of call {call_id} are gone after the rerun")
    ok_jobs = Counter(key for key, status, _ in after_calls.values() if status == "ok")
    for key in sorted(expected - set(ok_jobs)):
        outcome.lose(f"{where}: job {key} never finished")
    for key, times in sorted(ok_jobs.items()):
        if times > 1:
            outcome.miss(f"{where}: job {key} finished {times} times")
        elif key not in expected:
            outcome.miss(f"{where}: job {key} finished but was never planned")
    for call_id in sorted(set(after_calls) | set(after_drafts)):
        recorded = after_calls.get(call_id)
        stored = len(after_drafts.get(call_id, ()))
        if recorded is None or recorded[2] != stored:
            outcome.miss(f"{where}: call {call_id} says {recorded} but has {stored} drafts")
    with Ledger.open(ledger_path) as ledger:
        contents = Counter(
            (d.chunk_id, d.kind.value, d.subtype, normalise(d.question))
            for _, d in ledger.pending_drafts(limit=1_000_000)
        )
        breaks = verify(ledger)
    for content, times in contents.items():
        if times > 1:
            outcome.miss(f"{where}: draft {content} stored {times} times")
    for item in breaks:
        outcome.crash(f"{where}: verify: {item}")
