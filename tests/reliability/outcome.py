"""What one reliability category reports: trials run and what was lost, undetected or crashed.

Every category module in this package (``review_crash``, ``generate_crash``, ``faults``,
``hostile_docs``, ``concurrency``, ``tampering``, ``key_leaks``, ``hostile_config``,
``identity``, ``terminal_escapes``, ``export_interrupt``, ``disk_full``, ``audit_orphans``,
``report_text``, ``review_sessions``) exposes

    CATEGORY: str            # the row name bench/reliability.py prints
    SUITE_TRIALS: int        # what the test suite runs (bounded so `make test` stays minutes)
    BENCH_TRIALS: int        # what bench/reliability.py runs by default
    def run(trials: int, workdir: Path, seed: int) -> Outcome

``run`` breaks things on purpose ``trials`` times and counts, never asserts: the tests assert
that every count is zero, the bench prints them. Each module's docstring says what one trial is
and what counts as lost, undetected and crashed for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Outcome:
    category: str
    trials: int = 0
    # Something acknowledged (a saved decision, a finished call, a ledger row) that is gone.
    lost: int = 0
    # Something that should have been caught and was not: a duplicate, an unnamed tamper,
    # a leaked key, hostile input accepted without its warning.
    undetected: int = 0
    # A traceback, an undocumented exit code, a hang, or "database is locked" shown to a user.
    crashed: int = 0
    # One line per non-zero count, saying which trial and what happened, for the test's message.
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lose(self, finding: str) -> None:
        self.lost += 1
        self.findings.append(f"lost: {finding}")

    def miss(self, finding: str) -> None:
        self.undetected += 1
        self.findings.append(f"undetected: {finding}")

    def crash(self, finding: str) -> None:
        self.crashed += 1
        self.findings.append(f"crashed: {finding}")

    @property
    def clean(self) -> bool:
        return self.lost == self.undetected == self.crashed == 0

    def summary(self) -> str:
        head = (
            f"{self.category}: {self.trials} trials, lost {self.lost}, "
            f"undetected {self.undetected}, crashed {self.crashed}"
        )
        return "\n".join([head, *self.findings])
