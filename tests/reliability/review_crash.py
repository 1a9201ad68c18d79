"""Crash during review: SIGKILL a deciding review session at random moments; nothing it
acknowledged may be missing, and the ledger must verify.

One trial = one driver process on the run's single ledger (seeded once, so every trial after
the first also resumes where a killed session left off: its own leases come back at once),
killed with SIGKILL after a random number of acknowledgements (1..MAX_ACKS) plus a random
extra 1 µs–5 ms, so kills land between decisions and inside their transactions. Acts mix
approve, edit, reject (reason + note), skip and undo (a revert).

Two drivers, two code paths:
- ``writer_driver`` (all trials but every TUI_EVERY-th): the real ``review.ReviewSession``
  without the screen (its ledger workers running ``ReviewQueue`` claims/releases and
  ``Ledger.record_decision``); the ack line is printed on the session's ``DecisionSaved``.
  ~0.5 s per process, so the suite can afford 50 trials.
- ``tui_driver`` (every TUI_EVERY-th trial): the real ``ReviewApp`` under ``run_test``,
  driven by key presses; the ack line is the app's own (``ack_stream``, written on the
  session's ``DecisionSaved`` / ``DecisionReverted``). ~2–3 s per process.

After each kill, every acked decision must be in the ledger with the same draft and verdict,
the typed text for an edit, the reason and note for a reject, and for an undo a revert of a
decision on that draft; ``verify()`` must report no break. ``draftgate verify`` runs as a
subprocess after the first and the last trial (the CLI must agree).

Counts: lost = an acked decision missing or different; crashed = a driver that died other
than by our SIGKILL (traceback, error exit, ran out of drafts, hung), or a verify break (in
process or CLI); undetected is not used here (0).
"""

from __future__ import annotations

import random
import signal
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ledger import Ledger, verify
from tests.reliability.driver_process import HANG_S, Driver
from tests.reliability.outcome import Outcome
from tests.reliability.review_acts import (
    Ack,
    ack_problem,
    ack_problems,
    parse_acks,
    stored_decisions,
    verify_cli_problem,
)
from tests.support.builders import add_document, add_drafts

CATEGORY = "review_crash"
# 50 trials (45 writer-thread + 5 real-app): 26 s measured on 2 cores, up to 47 s when other
# work shares the machine.
SUITE_TRIALS = 50
BENCH_TRIALS = 200

TUI_EVERY = 10
# Drivers started ahead of their trial, importing while earlier trials run.
LOOKAHEAD = 3
MAX_ACKS = 12
REVIEWER = "kim"
# Drafts consumed per trial stay well under this (acks + those decided before the kill landed).
DRAFTS_PER_TRIAL = 25


@dataclass(frozen=True)
class Plan:
    """One trial's random choices, drawn up front (the next driver starts before this one
    is killed)."""

    trial: int
    module: str
    target_acks: int
    delay_s: float
    driver_seed: int

    @classmethod
    def draw(cls, rng: random.Random, trial: int) -> Plan:
        real_app = trial % TUI_EVERY == TUI_EVERY - 1
        module = "tests.reliability." + ("tui_driver" if real_app else "writer_driver")
        return cls(
            trial,
            module,
            rng.randint(1, MAX_ACKS),
            10 ** rng.uniform(-6, -2.3),
            rng.randrange(2**32),
        )

    def describe(self) -> str:
        return f"after {self.target_acks} acks + {self.delay_s * 1e6:.0f} µs"


def seed_drafts(ledger_path: Path, count: int) -> None:
    with Ledger.open(ledger_path) as ledger:
        chunk_ids = add_document(ledger)
        add_drafts(ledger, chunk_ids[0], count=count)


def spin(seconds: float) -> None:
    """Wait ``seconds`` precisely (µs scale, which sleep cannot do): the random kill moment."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        pass


def run(
    trials: int,
    workdir: Path,
    seed: int,
    *,
    driver_flags: tuple[str, ...] = (),
    drafts: int | None = None,
) -> Outcome:
    """``driver_flags`` and ``drafts`` exist for the negative controls (a driver that acks
    without committing; a ledger too small to last) and are left alone otherwise."""
    outcome = Outcome(CATEGORY)
    rng = random.Random(seed)
    ledger_path = workdir / "review_crash.sqlite"
    seed_drafts(ledger_path, drafts if drafts is not None else DRAFTS_PER_TRIAL * trials + 100)
    plans = [Plan.draw(rng, trial) for trial in range(trials)]

    def start(plan: Plan) -> Driver:
        args = [plan.module, str(ledger_path), REVIEWER, str(plan.driver_seed), *driver_flags]
        return Driver(args, workdir / f"trial-{plan.trial}.stderr")

    kept: list[Ack] = []  # acks found intact after their trial
    upcoming: deque[Driver] = deque()
    try:
        for plan in plans:
            # Keep LOOKAHEAD drivers importing ahead (a trial can be over in milliseconds).
            for ahead in plans[plan.trial + len(upcoming) : plan.trial + LOOKAHEAD]:
                upcoming.append(start(ahead))
            driver = upcoming.popleft()
            where = f"seed {seed} trial {plan.trial}"
            who = f"{where} ({plan.module.rsplit('.', 1)[1]})"
            try:
                driver.go()
                waited = driver.wait_for_acks(plan.target_acks, HANG_S)
                if waited is None:
                    spin(plan.delay_s)
            finally:
                code = driver.finish(kill=True)
            outcome.trials += 1
            if waited is not None or code != -signal.SIGKILL:
                outcome.crash(
                    f"{who}: {waited or 'exited by itself'}, exit {code}: {driver.stderr_tail()}"
                )
            with Ledger.open(ledger_path) as ledger:
                stored = stored_decisions(ledger)
                for ack in parse_acks(driver.lines, who):
                    problem = ack_problem(stored, ack)
                    if problem is None:
                        kept.append(ack)
                    else:
                        outcome.lose(f"{problem} (killed {plan.describe()})")
                for broken in verify(ledger):
                    outcome.crash(f"{where}: verify: {broken.line()}")
            if plan.trial in (0, trials - 1):
                cli_problem = verify_cli_problem(ledger_path, workdir)
                if cli_problem is not None:
                    outcome.crash(f"{where}: {cli_problem}")
    finally:
        for unused in upcoming:
            unused.finish(kill=True)
    # Nothing acked in an earlier trial may vanish in a later one either.
    with Ledger.open(ledger_path) as ledger:
        stored = stored_decisions(ledger)
    for problem in ack_problems(stored, kept):
        outcome.lose(f"after the last trial: {problem}")
    return outcome
