"""A full disk: ``export --force``, ``ingest`` and ``generate`` run out of space part-way and
must end in one ``draftgate: error:`` line naming the full disk, leave nothing they wrote
behind, and keep the ledger intact.

The disk fills in this process, at the write layer, at a moment drawn from
``random.Random(f"{seed}:{trial}")``:

- ledger writes (``ingest``, ``generate``): every connection ``Ledger.open`` makes gets
  ``PRAGMA max_page_count`` at its current size plus a random share of the pages an
  uninterrupted run adds, so SQLite itself fails with SQLITE_FULL ("database or disk is
  full"), as it does on a full disk;
- export files (``export --force`` over a recorded export, openai and alpaca in turn): the
  text files the export opens take a random share of the bytes an uninterrupted run writes,
  then fail with ``OSError(ENOSPC)``, as ``write`` does on a full disk.

The commands run through ``main()`` in this process (trial ``i`` runs ``COMMANDS[i % 3]``).

- lost: the ledger no longer verifies, holds fewer documents, chunks, drafts or exports
  than before the run, or (export) the previous export no longer passes the audit.
- undetected: exit 0 though the disk was full, an exit code other than the documented one
  (3 for export, 4 for the ledger), not exactly one ``draftgate: error:`` line, or one that
  does not say the disk is full; a ``*.part`` file or a staging folder left.
- crashed: a traceback, or an exit code Draftgate does not document.

``judge`` is also run on hand-made results (``control``) and must count each.
"""

from __future__ import annotations

import contextlib
import errno
import io
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import export.run as export_run
import export.writers as export_writers
from export import ExportOptions, export
from export.folder import STAGING_PREFIX
from ledger import Ledger, verify
from tests.reliability.generate_harness import CliRun, run_in_process, unlogged_traceback
from tests.reliability.outcome import Outcome
from tests.support.builders import SAMPLE_DOCS, add_document, add_drafts
from tests.support.exports import approve_all

CATEGORY = "disk_full"
COMMANDS = ("export", "ingest", "generate")
SUITE_TRIALS = 9
BENCH_TRIALS = 90
EXPORT_FORMATS = ("openai", "alpaca")
RECORDS = 600
LEDGER_NAME = "ledger.sqlite"
EXPECTED_CODE = {"export": 3, "ingest": 4, "generate": 4}
_COUNTED = ("documents", "chunks", "drafts", "exports")


# ---- the full disk ------------------------------------------------------------------------


@contextlib.contextmanager
def ledger_pages_limited(extra_pages: int) -> Iterator[None]:
    """Every ledger opened in the block can grow by ``extra_pages`` pages, no more."""
    real_open = Ledger.open.__func__  # type: ignore[attr-defined]

    def limited_open(cls: type[Ledger], *args: Any, **kwargs: Any) -> Ledger:
        ledger: Ledger = real_open(cls, *args, **kwargs)
        db = ledger._db  # noqa: SLF001 - the connection the command writes through
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + extra_pages}")
        return ledger

    Ledger.open = classmethod(limited_open)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        Ledger.open = classmethod(real_open)  # type: ignore[assignment,method-assign]


class _Budget:
    def __init__(self, size: int) -> None:
        self.left = size
        self.used = 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.left is not None:
            self.left -= count
            if self.left < 0:
                raise OSError(errno.ENOSPC, "No space left on device")


class _FullFile(io.TextIOWrapper):
    budget: _Budget

    def write(self, text: str) -> int:
        self.budget.spend(len(text.encode("utf-8")))
        return super().write(text)


@contextlib.contextmanager
def export_bytes_limited(budget: _Budget) -> Iterator[None]:
    """The export's text files (data, manifest, spool) share ``budget`` bytes."""

    def limited(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" not in mode:
            return open(file, mode, *args, **kwargs)  # noqa: SIM115
        raw = open(file, "wb")  # noqa: SIM115
        wrapper = _FullFile(raw, encoding=kwargs.get("encoding", "utf-8"), newline="\n")
        wrapper.budget = budget
        return wrapper

    patched: list[tuple[Any, Callable[..., Any] | None]] = []
    for module in (export_run, export_writers):
        patched.append((module, getattr(module, "open", None)))
        module.open = limited  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, previous in patched:
            if previous is None:
                del module.open  # type: ignore[attr-defined]
            else:
                module.open = previous  # type: ignore[attr-defined]


# ---- the base -----------------------------------------------------------------------------


def build_base(root: Path) -> None:
    """An ingested ledger with signed-off drafts and one recorded export at exports/current."""
    root.mkdir(parents=True)
    with Ledger.open(root / LEDGER_NAME) as ledger:
        chunks = add_document(ledger, "docs/guide.md")
        drafts: list[str] = []
        while len(drafts) < RECORDS:
            drafts += add_drafts(ledger, chunks[len(drafts) % len(chunks)], count=200)
        approve_all(ledger, drafts)
        export(ledger, ExportOptions(format="openai", out_dir=root / "exports" / "current"))


def _args(command: str, root: Path, fmt: str) -> list[str]:
    ledger = ["--ledger", str(root / LEDGER_NAME)]
    if command == "export":
        out = str(root / "exports" / "current")
        return [*ledger, "export", "--format", fmt, "--out", out, "--force"]
    if command == "ingest":
        return [*ledger, "ingest", str(SAMPLE_DOCS)]
    return [*ledger, "--config", str(root / "draftgate.toml"), "generate", "--quiet"]


def _write_config(root: Path) -> None:
    (root / "draftgate.toml").write_text(
        f'docs = "{SAMPLE_DOCS}"\nscope = "{SAMPLE_DOCS / "scope.toml"}"\n'
        "[generate]\nper_chunk = 1\n",
        encoding="utf-8",
    )


def _counts(root: Path) -> dict[str, int]:
    with Ledger.open(root / LEDGER_NAME, must_exist=True, read_only=True) as ledger:
        return {t: ledger.query(f"SELECT count(*) FROM {t}")[0][0] for t in _COUNTED}


def _ledger_breaks(root: Path) -> list[str]:
    with Ledger.open(root / LEDGER_NAME, must_exist=True, read_only=True) as ledger:
        return [b.line() for b in verify(ledger)]


def _pages(root: Path) -> int:
    with Ledger.open(root / LEDGER_NAME, must_exist=True, read_only=True) as ledger:
        return int(ledger.query("PRAGMA page_count")[0][0])


# ---- judging ------------------------------------------------------------------------------


def judge(outcome: Outcome, label: str, command: str, run: CliRun) -> None:
    """Count one run that met a full disk."""
    traceback_line = unlogged_traceback(run.stderr)
    if traceback_line is not None:
        outcome.crash(f"{label}: traceback (exit {run.code}): {traceback_line!r}")
        return
    if run.code == 0:
        outcome.miss(f"{label}: exited 0 on a full disk")
        return
    errors = [line for line in run.stderr.splitlines() if line.startswith("draftgate: error:")]
    if run.code != EXPECTED_CODE[command] or len(errors) != 1:
        outcome.miss(f"{label}: exit {run.code} with {len(errors)} error lines: {run.stderr!r}")
    elif "no space left" not in errors[0]:
        outcome.miss(f"{label}: the error does not name the full disk: {errors[0]!r}")


def judge_leftovers(outcome: Outcome, label: str, root: Path) -> None:
    left = [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.name.endswith(".part") or p.name.startswith(STAGING_PREFIX)
    ]
    if left:
        outcome.miss(f"{label}: left behind: {left[:3]}")


def judge_ledger(
    outcome: Outcome, label: str, root: Path, before: dict[str, int], command: str
) -> None:
    breaks = _ledger_breaks(root)
    if breaks:
        outcome.lose(f"{label}: the ledger no longer verifies: {breaks[:2]}")
        return
    after = _counts(root)
    shrunk = {t: (before[t], after[t]) for t in _COUNTED if after[t] < before[t]}
    if shrunk:
        outcome.lose(f"{label}: rows gone (before, after): {shrunk}")
    if command == "export":
        audit = run_in_process(
            ["--ledger", str(root / LEDGER_NAME), "audit", "--format", "json", "--export",
             str(root / "exports" / "current"), "--out", str(root / "audit.json")], {},
        )  # fmt: skip
        if audit.code != 0:
            outcome.lose(f"{label}: the previous export fails the audit: {audit.stdout[-300:]!r}")


# ---- trials -------------------------------------------------------------------------------


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    root = workdir / "home"
    pristine = workdir / "pristine"
    build_base(root)
    _write_config(root)
    shutil.copytree(root, pristine)
    # generate's trials start from a ledger with the sample docs ingested.
    ingested = workdir / "pristine-ingested"
    needs = _measure(root, pristine, ingested)
    _restore(pristine, root)
    for trial_no in range(trials):
        rng = random.Random(f"{seed}:{trial_no}")
        command = COMMANDS[trial_no % len(COMMANDS)]
        fmt = EXPORT_FORMATS[(trial_no // len(COMMANDS)) % len(EXPORT_FORMATS)]
        need = needs[(command, fmt) if command == "export" else (command, "")]
        allowed = rng.randrange(0, need)
        label = f"trial {trial_no} ({command}{' ' + fmt if command == 'export' else ''}, "
        label += f"{allowed} of {need} {'bytes' if command == 'export' else 'pages'})"
        before = _counts(root)
        args = _args(command, root, fmt)
        if command == "export":
            with export_bytes_limited(_Budget(allowed)):
                result = run_in_process(args, {})
        else:
            with ledger_pages_limited(allowed):
                result = run_in_process(args, {})
        outcome.trials += 1
        this = Outcome(CATEGORY)
        judge(this, label, command, result)
        judge_leftovers(this, label, root)
        judge_ledger(this, label, root, before, command)
        _merge(outcome, this)
        next_command = COMMANDS[(trial_no + 1) % len(COMMANDS)]
        _restore(ingested if next_command == "generate" else pristine, root)
    return outcome


def _restore(source: Path, root: Path) -> None:
    shutil.rmtree(root)
    shutil.copytree(source, root)


def _measure(root: Path, pristine: Path, ingested: Path) -> dict[tuple[str, str], int]:
    """What an uninterrupted run of each command writes: bytes (export) or pages. Leaves a
    copy of the ledger with the sample docs ingested in ``ingested``."""
    needs: dict[tuple[str, str], int] = {}
    for fmt in EXPORT_FORMATS:
        budget = _Budget(1 << 60)
        with export_bytes_limited(budget):
            done = run_in_process(_args("export", root, fmt), {})
        if done.code != 0:
            raise RuntimeError(f"an export with room to spare failed: {done.stderr}")
        needs[("export", fmt)] = budget.used
        _restore(pristine, root)
    for command in ("ingest", "generate"):
        before = _pages(root)
        done = run_in_process(_args(command, root, ""), {})
        if done.code != 0:
            raise RuntimeError(f"{command} with room to spare failed: {done.stderr}")
        needs[(command, "")] = max(1, _pages(root) - before)
        if command == "ingest":
            shutil.copytree(root, ingested)
    return needs


def control() -> Outcome:
    """The judge on hand-made results: each must be counted."""
    outcome = Outcome(CATEGORY)
    full = "draftgate: error: --out x: no space left on device; nothing was exported\n"
    judge(outcome, "success claimed", "export", CliRun(0, "exported", ""))
    judge(outcome, "two lines", "ingest", CliRun(4, "", "draftgate: error: a\ndraftgate: error: b"))
    judge(outcome, "wrong code", "export", CliRun(1, "", full))
    judge(outcome, "disk not named", "generate", CliRun(4, "", "draftgate: error: failed\n"))
    judge(outcome, "traceback", "ingest", CliRun(1, "", "Traceback (most recent call last):\n"))
    return outcome


def _merge(outcome: Outcome, trial: Outcome) -> None:
    details = "; ".join(f.split(": ", 1)[1] for f in trial.findings)
    if trial.crashed:
        outcome.crash(details)
    elif trial.lost:
        outcome.lose(details)
    elif trial.undetected:
        outcome.miss(details)
