"""Orphaned workers: the audit's quality worker (``python -m audit.quality``) must end when the
process that started it dies, however it dies.

A ledger with ``DRAFTS`` decided drafts is built once. One trial starts a parent process that
creates the real ``QualityWorker`` on it (as ``build_audit`` does), prints the worker's pid
and then waits; the trial sends the parent SIGTERM, SIGKILL or SIGINT (in turn) at a moment
drawn from ``random.Random(f"{seed}:{trial}")`` within ``WINDOW_S`` of the pid appearing
(the worker is then starting up, importing, or computing), and waits up to ``GRACE_S`` for
the worker to be gone.

- undetected: the worker is still running ``GRACE_S`` after its parent died (an orphan).
- crashed: the parent did not start a worker, or did not die of the signal.
- lost: not used here.

``control`` runs the same judge on a child that does not watch its parent (a plain
``sleep``): it must be counted as an orphan.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger import DecisionIn, Ledger, RejectReason, Verdict
from tests.reliability.generate_harness import cli_env, sigint_default
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, add_drafts

CATEGORY = "audit_orphans"
SUITE_TRIALS = 6
BENCH_TRIALS = 60
DRAFTS = 2_000
WINDOW_S = 1.0
GRACE_S = 10.0
POLL_S = 0.005
SIGNALS = (signal.SIGTERM, signal.SIGKILL, signal.SIGINT)

_PARENT = """
import sys, time
from audit.quality import QualityWorker
worker = QualityWorker(sys.argv[1], {"fast_decision_ms": 2000})
print(worker._process.pid, flush=True)
time.sleep(600)
"""
# The negative control's parent: its child ignores the parent's death.
_CARELESS_PARENT = """
import subprocess, sys, time
child = subprocess.Popen(
    [sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.DEVNULL
)
print(child.pid, flush=True)
time.sleep(600)
"""


def build_ledger(path: Path) -> None:
    with Ledger.open(path) as ledger:
        chunks = add_document(ledger, "docs/guide.md")
        drafts: list[str] = []
        while len(drafts) < DRAFTS:
            drafts += add_drafts(ledger, chunks[len(drafts) % len(chunks)], count=250)
        for index, draft in enumerate(drafts):
            verdict = Verdict.APPROVE if index % 4 else Verdict.REJECT
            reason = None if verdict == Verdict.APPROVE else RejectReason.WRONG_FACTS
            ledger.record_decision(
                DecisionIn(draft_id=draft, reviewer="ann", verdict=verdict, reason=reason)
            )


def _alive(pid: int) -> bool:
    """Running (not a zombie waiting for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def trial(
    outcome: Outcome,
    label: str,
    script: str,
    ledger: Path,
    signum: int,
    delay: float,
    grace_s: float = GRACE_S,
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(ledger)],
        env=cli_env({}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,  # noqa: PLW1509 - Ctrl-C must reach the parent
    )
    assert parent.stdout is not None
    line = parent.stdout.readline().strip()
    if not line.isdigit():
        parent.kill()
        _out, err = parent.communicate()
        outcome.crash(f"{label}: no worker started: {err.strip()[-300:]!r}")
        return
    worker = int(line)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        time.sleep(POLL_S)
    parent.send_signal(signum)
    # wait(), not communicate(): a child that outlives the parent may hold its pipes open.
    parent.wait()
    parent.stdout.close()
    if parent.stderr is not None:
        parent.stderr.close()
    if parent.returncode not in (-signum, 1):  # SIGINT ends the sleep with KeyboardInterrupt
        outcome.crash(f"{label}: the parent exited {parent.returncode}")
    gone_by = time.monotonic() + grace_s
    while _alive(worker) and time.monotonic() < gone_by:
        time.sleep(POLL_S)
    if _alive(worker):
        outcome.miss(f"{label}: worker {worker} still running {grace_s:.0f} s after its parent")
        os.kill(worker, signal.SIGKILL)


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    ledger = workdir / "ledger.sqlite"
    build_ledger(ledger)
    for trial_no in range(trials):
        rng = random.Random(f"{seed}:{trial_no}")
        signum = SIGNALS[trial_no % len(SIGNALS)]
        delay = rng.uniform(0, WINDOW_S)
        label = f"trial {trial_no} ({signal.Signals(signum).name} after {delay * 1000:.0f} ms)"
        this = Outcome(CATEGORY)
        trial(this, label, _PARENT, ledger, signum, delay)
        outcome.trials += 1
        if this.crashed:
            outcome.crash("; ".join(this.findings))
        elif this.undetected:
            outcome.miss("; ".join(this.findings))
    return outcome


def control(workdir: Path) -> Outcome:
    outcome = Outcome(CATEGORY)
    (workdir / "unused.sqlite").touch()
    unused = workdir / "unused.sqlite"
    trial(outcome, "careless parent", _CARELESS_PARENT, unused, signal.SIGKILL, 0, grace_s=1.0)
    return outcome
