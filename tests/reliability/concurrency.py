"""Concurrency: four reviewers and a generator writing to one ledger at the same time.

One trial = one period on a fresh ledger (a copy of product_docs ingested, SEED_DRAFTS drafts
seeded) during which, all at once:
- 2 reviewers drive the real review app (``tui_driver --mix concurrency``: approve, edit,
  reject, skip, undo and going back with p/n, reopening the app when its queue runs dry);
- 2 reviewers decide through the real review session without the screen (``writer_driver
  --seconds``: approve, edit, reject, skip, undo, up to PACE_MS between acts), so the decision
  rate is high enough to contend with the generator;
- a generator loop changes the docs folder (a new section in one doc, now and then an edited
  line, which makes older drafts stale) and runs ``draftgate ingest`` then ``draftgate
  generate`` (the offline rules drafter) as a user would, again and again.
Every reviewer uses double review DOUBLE_REVIEW, so the rule is exercised too. The period is
PERIOD_S in the suite; a run of more trials than the suite's (the bench) uses BENCH_PERIOD_S.

Checks after each period: every acked decision is in the ledger as acked (typed edit text,
reject reason and note, reverts); no draft carries more decisions in force than the
double-review rule allows (ledger/queue.py: one, or two by different reviewers for a draft in
the sample); no process's stderr shows a traceback or a locked-ledger error and every process
exits 0; ``verify()`` and ``draftgate verify`` pass; every reviewer acknowledged something.

Counts: lost = an acked decision missing or different; undetected = a draft decided more
often than the double-review rule allows (the lease check let it through); crashed = a
traceback, "database is locked" or "locked by another process" on any stderr, a bad exit, a
hang, a reviewer with nothing done, or a verify break.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ledger import Ledger, verify
from tests.reliability.driver_process import HANG_S, Driver
from tests.reliability.outcome import Outcome
from tests.reliability.review_acts import (
    Ack,
    ack_problems,
    alarming_lines,
    decided_twice,
    draftgate,
    parse_acks,
    stored_decisions,
    verify_cli_problem,
)
from tests.support.builders import SAMPLE_DOCS, add_document, add_drafts

CATEGORY = "concurrency"
SUITE_TRIALS = 1
BENCH_TRIALS = 5

PERIOD_S = 10.0
BENCH_PERIOD_S = 30.0
TUI_REVIEWERS = ("ann", "bob")
WRITER_REVIEWERS = ("cy", "dee")
DOUBLE_REVIEW = 0.3
PACE_MS = 30
SEED_DRAFTS = 150


@dataclass
class GeneratorLog:
    """What the generator loop ran: one entry per command that misbehaved, and a count."""

    commands: int = 0
    cycles: int = 0
    problems: list[str] = field(default_factory=list)


def change_docs(docs: Path, rng: random.Random, cycle: int) -> None:
    """A writer at work: a new section in one doc; every third cycle an edited line too."""
    pages = sorted(p for p in docs.glob("*.md"))
    page = rng.choice(pages)
    with page.open("a", encoding="utf-8") as handle:
        handle.write(
            f"\n\n## Release note {cycle}\n\nOpen **Settings > Billing > Invoices** to download "
            f"invoice batch {cycle}-{rng.randrange(10**6)} as a PDF.\n"
        )
    if cycle % 3 == 2:
        edited = rng.choice(pages)
        lines = edited.read_text(encoding="utf-8").splitlines()
        body = [i for i, line in enumerate(lines) if line and not line.startswith("#")]
        if body:
            at = rng.choice(body)
            lines[at] = lines[at] + f" (Updated in revision {cycle}.)"
            edited.write_text("\n".join(lines) + "\n", encoding="utf-8")


def generator_loop(
    ledger_path: Path, workdir: Path, docs: Path, rng: random.Random, stop: threading.Event
) -> GeneratorLog:
    log = GeneratorLog()
    commands = (
        ("ingest", str(docs)),
        ("generate", "--quiet", "--scope", str(docs / "scope.toml")),
    )
    while not stop.is_set():
        change_docs(docs, rng, log.cycles)
        for command in commands:
            if stop.is_set() and log.commands:
                break  # the period is over: do not start another command
            try:
                done = draftgate(ledger_path, *command, cwd=workdir, timeout=HANG_S)
            except subprocess.TimeoutExpired:
                log.problems.append(f"draftgate {command[0]} hung for {HANG_S:.0f} s (killed)")
                return log
            log.commands += 1
            shown = alarming_lines(done.stderr)
            if done.returncode != 0 or shown:
                detail = " | ".join(shown or done.stderr.strip().splitlines()[-2:])
                log.problems.append(f"draftgate {command[0]} exited {done.returncode}: {detail}")
        log.cycles += 1
    return log


def fresh_ledger(workdir: Path) -> tuple[Path, Path]:
    docs = workdir / "docs"
    shutil.copytree(SAMPLE_DOCS, docs)
    ledger_path = workdir / "ledger.sqlite"
    with Ledger.open(ledger_path) as ledger:
        chunk_ids = add_document(ledger, path="seeded/guide.md")
        add_drafts(ledger, chunk_ids[0], count=SEED_DRAFTS)
    return ledger_path, docs


def run(
    trials: int,
    workdir: Path,
    seed: int,
    *,
    seconds: float | None = None,
    tui_reviewers: tuple[str, ...] = TUI_REVIEWERS,
    writer_flags: tuple[str, ...] = (),
    with_generator: bool = True,
) -> Outcome:
    """``seconds``, ``tui_reviewers``, ``writer_flags`` and ``with_generator`` exist for the
    negative control (a short period, writer reviewers that ack without committing, no
    generator) and are left alone otherwise."""
    outcome = Outcome(CATEGORY)
    rng = random.Random(seed)
    period = (
        seconds if seconds is not None else (PERIOD_S if trials <= SUITE_TRIALS else BENCH_PERIOD_S)
    )
    for trial in range(trials):
        trial_dir = workdir / f"trial-{trial}"
        trial_dir.mkdir()
        run_trial(
            outcome,
            trial_dir,
            rng,
            f"seed {seed} trial {trial}",
            period,
            tui_reviewers,
            writer_flags,
            with_generator,
        )
        outcome.trials += 1
    return outcome


def run_trial(
    outcome: Outcome,
    workdir: Path,
    rng: random.Random,
    where: str,
    period: float,
    tui_reviewers: tuple[str, ...],
    writer_flags: tuple[str, ...],
    with_generator: bool,
) -> None:
    ledger_path, docs = fresh_ledger(workdir)
    common = ["--seconds", str(period), "--double-review", str(DOUBLE_REVIEW)]
    reviewers: dict[str, Driver] = {}
    stop = threading.Event()
    logs: list[GeneratorLog] = []
    generator = threading.Thread(
        target=lambda: logs.append(
            generator_loop(ledger_path, workdir, docs, random.Random(rng.random()), stop)
        )
    )
    try:
        for name in (*tui_reviewers, *WRITER_REVIEWERS):
            if name in tui_reviewers:
                args = ["tests.reliability.tui_driver", "--mix", "concurrency"]
            else:
                args = ["tests.reliability.writer_driver", "--pace-ms", str(PACE_MS), *writer_flags]
            args += [str(ledger_path), name, str(rng.randrange(2**32)), *common]
            reviewers[name] = Driver(args, workdir / f"{name}.stderr")
        # Everyone starts together: the drivers have imported, the generator begins now.
        if with_generator:
            generator.start()
        for driver in reviewers.values():
            driver.go()
        codes = {
            name: d.finish(kill=False, timeout=period + HANG_S) for name, d in reviewers.items()
        }
    finally:
        stop.set()
        for driver in reviewers.values():
            driver.finish(kill=True)
        if generator.is_alive():
            generator.join(HANG_S)

    acks: list[Ack] = []
    for name, driver in reviewers.items():
        who = f"{where} reviewer {name}"
        code = codes[name]
        shown = alarming_lines(driver.stderr_text())
        if code != 0 or shown:
            outcome.crash(f"{who}: exit {code}: {' | '.join(shown) or driver.stderr_tail()}")
        mine = parse_acks(driver.lines, who)
        if not mine:
            outcome.crash(f"{who}: acknowledged no decision in {period:.0f} s")
        acks += mine
    if with_generator and (not logs or logs[0].cycles == 0):
        outcome.crash(f"{where}: the generator loop never finished a cycle")
    for log in logs:
        for problem in log.problems:
            outcome.crash(f"{where}: generator: {problem}")

    with Ledger.open(ledger_path) as ledger:
        stored = stored_decisions(ledger)
        for problem in ack_problems(stored, acks):
            outcome.lose(f"{where}: {problem}")
        for problem in decided_twice(stored, DOUBLE_REVIEW):
            outcome.miss(f"{where}: {problem}")
        for broken in verify(ledger):
            outcome.crash(f"{where}: verify: {broken.line()}")
    cli_problem = verify_cli_problem(ledger_path, workdir)
    if cli_problem is not None:
        outcome.crash(f"{where}: {cli_problem}")
