"""kill -9 a review session right after decisions: every decision shown as saved is there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from ledger import Ledger, verify
from tests.support.builders import REPO_ROOT
from tests.support.review import seed_ledger


def test_sigkill_loses_no_decision_shown_as_saved(ledger_path: Path) -> None:
    seed_ledger(ledger_path, count=200)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.review_driver", str(ledger_path)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    acked: list[tuple[str, str, str]] = []
    try:
        for line in process.stdout:
            parts = line.split()
            if parts and parts[0] == "saved":
                acked.append((parts[1], parts[2], parts[3]))
            if len(acked) >= 12:
                break
        process.send_signal(signal.SIGKILL)  # right after the 12th acknowledgement
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert len(acked) == 12
    with Ledger.open(ledger_path) as ledger:
        stored = {d.id: d for d in ledger.iter_decisions()}
        for decision_id, draft_id, verdict in acked:
            assert decision_id in stored
            assert (stored[decision_id].draft_id, stored[decision_id].verdict) == (
                draft_id,
                verdict,
            )
        assert {v for _, _, v in acked} == {"approve", "reject"}
        assert verify(ledger) == []
