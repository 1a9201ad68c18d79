"""A review driver process as a harness sees it: started ahead, told to go, its acks read.

The driver (``writer_driver`` or ``tui_driver``) is started with ``--wait-for-go``: it imports
everything, then waits for a ``go`` line on stdin before touching the ledger, so a harness can
start it while something else runs and release it at the moment it chooses. Its stdout lines
are read on a thread, so every wait has a bound (a hang is a finding, never a pass).
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.reliability.review_acts import child_env
from tests.support.builders import REPO_ROOT

# A driver that shows no new line for this long is hung.
HANG_S = 120.0


class Driver:
    """A driver process whose stdout lines are read on a thread (so waits have a bound).

    Started with ``--wait-for-go`` ahead of its trial: it imports while the previous trial
    runs and touches the ledger only after ``go()``.
    """

    def __init__(self, args: list[str], stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        with stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *args, "--wait-for-go"],
                cwd=REPO_ROOT,
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        self.lines: list[str] = []
        self._fresh: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def go(self) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write("go\n")
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # it died while waiting; wait_for_acks reports it

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            self._fresh.put(line)
        self._fresh.put(None)

    def wait_for_acks(self, count: int, timeout: float) -> str | None:
        """Block until ``count`` ack lines were printed; else say why not."""
        seen = 0
        deadline = time.monotonic() + timeout
        while seen < count:
            try:
                line = self._fresh.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return f"no ack for {timeout:.0f} s (hung) after {seen} of {count}"
            if line is None:
                return f"stdout closed after {seen} of {count} acks"
            if line.startswith(("saved ", "reverted ")):
                seen += 1
        return None

    def finish(self, kill: bool, timeout: float = HANG_S) -> int | None:
        """SIGKILL (``kill``) or wait for the process, then read every line it got out before
        dying. Returns its exit code (negative: the signal), or None when it did not end within
        ``timeout`` (hung; killed then)."""
        if kill and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()  # a driver never told to go exits at EOF
        try:
            code: int | None = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=HANG_S)
        return code

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stderr_tail(self) -> str:
        lines = self.stderr_text().strip().splitlines()
        return " | ".join(lines[-3:]) or "(no stderr)"
