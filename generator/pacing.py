"""Pace calls to a requests-per-minute and tokens-per-minute budget.

Two token buckets refilled continuously. Each holds at most one second of budget, so a run never
bursts far above the average rate (a provider's per-minute limit is usually enforced over a
sliding window, and a full minute's burst at the start would meet it as 429s). A call may take
the token bucket below zero (one call can need more tokens than a second of budget); the
next caller then waits for the debt to refill, so the average rate still holds.
"""

from __future__ import annotations

import asyncio
import time


class Pacer:
    def __init__(self, rpm: int | None = None, tpm: int | None = None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._req_rate = rpm / 60.0 if rpm else 0.0
        self._tok_rate = tpm / 60.0 if tpm else 0.0
        self._req_cap = max(1.0, self._req_rate)
        self._tok_cap = max(1.0, self._tok_rate)
        # Start with one request, not a full second's burst: over any minute the run then
        # sends at most the budget (plus one), even in its first minute.
        self._req_level = 1.0
        self._tok_level = self._tok_cap
        self._at = time.monotonic()
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm)

    def _refill(self) -> None:
        now = time.monotonic()
        elapsed = now - self._at
        self._at = now
        if self.rpm:
            self._req_level = min(self._req_cap, self._req_level + elapsed * self._req_rate)
        if self.tpm:
            self._tok_level = min(self._tok_cap, self._tok_level + elapsed * self._tok_rate)

    async def acquire(self, tokens: int) -> None:
        """Wait until one request of about ``tokens`` tokens fits the budget, then take it."""
        if not self.active:
            return
        async with self._lock:  # FIFO: waiters are served in arrival order
            while True:
                self._refill()
                wait = 0.0
                if self.rpm and self._req_level < 1.0:
                    wait = max(wait, (1.0 - self._req_level) / self._req_rate)
                if self.tpm and self._tok_level <= 0.0:
                    wait = max(wait, (1e-3 - self._tok_level) / self._tok_rate)
                if wait <= 0.0:
                    break
                await asyncio.sleep(wait)
            if self.rpm:
                self._req_level -= 1.0
            if self.tpm:
                self._tok_level -= tokens

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token bucket once the real usage of a call is known."""
        if self.tpm:
            self._tok_level += estimated - actual
