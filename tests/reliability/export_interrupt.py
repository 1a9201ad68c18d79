"""Interrupted exports: ``draftgate export`` stopped at a random moment must leave, at
``--out``, either the previous export or the new one, recorded in the ledger, and nothing
beside it that a trainer could take for an export.

A base is built once: a ledger with ``RECORDS`` signed-off drafts and one export of them
(openai) recorded at ``exports/current``; a pristine copy is kept and restored before every
trial (in the folder the base was built in, so recorded paths hold). One trial runs the real
CLI in a subprocess, either replacing that export (``--force``, even trials) or writing a new
folder, in a format taken in turn from ``FORMATS``, and stops it with SIGKILL, SIGTERM or
SIGINT (in turn) at a moment drawn from ``random.Random(f"{seed}:{trial}")``: SIGKILL and
SIGTERM anywhere from the start to the end of an uninterrupted run of that format, or (every
other trial, and always for SIGINT, which Python shows as a traceback while it imports) once
the staging folder exists, anywhere from then to the end of the write and the record.

Then ``judge_state`` looks at what is left:

- lost: the ledger no longer verifies; the previous export is gone from ``--out`` and no
  recorded export took its place; a run that exited 0 whose export is not at ``--out``.
- undetected: a manifest at ``--out`` the ledger does not record, or an export there that
  ``draftgate audit --export`` does not pass; files at ``--out`` without a manifest; anything
  else beside it (a ``.replaced-*`` folder, ``*.part`` files) but hidden staging folders, and
  a staging folder the next export could not remove (its process still alive).
- crashed: a traceback, an exit code other than 0, 130 or death by the signal sent, or a run
  still alive ``HANG_S`` after the signal.

``control`` judges three hand-made bad states (an unrecorded export at ``--out``, a recorded
export whose files are gone, a ``.replaced-*`` folder with the old export) and must count each.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from export import ExportOptions, export
from export.folder import STAGING_PREFIX, remove_abandoned
from ledger import Ledger, verify
from tests.reliability.generate_harness import (
    CliRun,
    cli_argv,
    cli_env,
    run_in_process,
    sigint_default,
    unlogged_traceback,
)
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, add_drafts
from tests.support.exports import approve_all

CATEGORY = "export_interrupt"
SUITE_TRIALS = 12
BENCH_TRIALS = 120
RECORDS = 1_500
FORMATS = ("openai", "hf", "alpaca", "sharegpt")
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
LEDGER_NAME = "ledger.sqlite"
CURRENT = "current"  # the folder the base's export is recorded in
HANG_S = 60.0
POLL_S = 0.002


@dataclass(frozen=True)
class Trial:
    root: Path
    out: Path
    fmt: str
    force: bool
    signum: int
    after_staging: bool

    @property
    def ledger(self) -> Path:
        return self.root / LEDGER_NAME

    @property
    def exports(self) -> Path:
        return self.root / "exports"


def build_base(root: Path) -> None:
    root.mkdir(parents=True)
    with Ledger.open(root / LEDGER_NAME) as ledger:
        chunks = add_document(ledger, "docs/guide.md")
        drafts: list[str] = []
        while len(drafts) < RECORDS:
            drafts += add_drafts(ledger, chunks[len(drafts) % len(chunks)], count=250)
        approve_all(ledger, drafts)
        export(
            ledger,
            ExportOptions(format="openai", out_dir=root / "exports" / CURRENT, eval_fraction=0.1),
        )


def _argv(trial: Trial) -> list[str]:
    args = ["--ledger", str(trial.ledger), "export", "--format", trial.fmt, "--out"]
    return cli_argv(*args, str(trial.out), *(["--force"] if trial.force else []))


def _staging_exists(exports: Path) -> bool:
    return any(exports.glob(f"{STAGING_PREFIX}*"))


def _timed_run(trial: Trial) -> tuple[float, float]:
    """An uninterrupted run: (seconds to the end, seconds from the staging folder to the end)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        _argv(trial),
        env=cli_env({}),
        cwd=trial.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=sigint_default,  # noqa: PLW1509 - Ctrl-C must reach the export
    )
    staged = None
    while process.poll() is None:
        if staged is None and _staging_exists(trial.exports):
            staged = time.perf_counter()
        time.sleep(POLL_S)
    ended = time.perf_counter()
    _out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"an uninterrupted export failed: {err.decode()[-400:]}")
    return ended - started, ended - (staged or started)


def _interrupted_run(trial: Trial, rng: random.Random, timing: tuple[float, float]) -> CliRun:
    total, after = timing
    process = subprocess.Popen(
        _argv(trial),
        env=cli_env({}),
        cwd=trial.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=sigint_default,  # noqa: PLW1509 - Ctrl-C must reach the export
    )
    if trial.after_staging:
        # A condition first (the export has begun writing), then the random moment.
        while process.poll() is None and not _staging_exists(trial.exports):
            time.sleep(POLL_S)
        delay = rng.uniform(0, after)
    else:
        delay = rng.uniform(0, total)
    deadline = time.perf_counter() + delay
    while process.poll() is None and time.perf_counter() < deadline:
        time.sleep(POLL_S)
    if process.poll() is None:
        process.send_signal(trial.signum)
    try:
        out, err = process.communicate(timeout=HANG_S)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        return CliRun(-999, out.decode(), err.decode())
    return CliRun(process.returncode, out.decode(), err.decode())


def judge_run(outcome: Outcome, label: str, run: CliRun, signum: int) -> None:
    if run.code == -999:
        outcome.crash(f"{label}: still running {HANG_S:.0f} s after the signal")
        return
    traceback_line = unlogged_traceback(run.stderr)
    if traceback_line is not None:
        outcome.crash(f"{label}: traceback: {traceback_line!r}")
    elif run.code not in (0, 130, -signum):
        outcome.crash(f"{label}: exit {run.code}: {run.stderr.strip()[-300:]!r}")


def _recorded_ids(ledger_path: Path, out: Path) -> tuple[set[str], list[str]]:
    """The export ids the ledger records at ``out``, and what verify says of the ledger."""
    with Ledger.open(ledger_path, must_exist=True, read_only=True) as ledger:
        ids = {r["id"] for r in ledger.recorded_exports() if Path(r["out_dir"]) == out.resolve()}
        breaks = [b.line() for b in verify(ledger)]
    return ids, breaks


def judge_state(
    outcome: Outcome, label: str, trial: Trial, previous_id: str | None, exited_ok: bool
) -> None:
    """Count what an export run (interrupted or not) left at ``trial.out`` and beside it."""
    out = trial.out
    recorded, breaks = _recorded_ids(trial.ledger, out)
    if breaks:
        outcome.lose(f"{label}: the ledger no longer verifies: {breaks[:2]}")
        return
    manifest = out / "manifest.json"
    problems: list[str] = []
    if manifest.is_file():
        export_id = json.loads(manifest.read_text(encoding="utf-8")).get("export_id")
        if export_id not in recorded:
            problems.append(f"an export the ledger does not record ({export_id}) is at {out}")
        audit = run_in_process(
            ["--ledger", str(trial.ledger), "audit", "--format", "json", "--export", str(out),
             "--out", str(trial.root / "audit.json")], {},
        )  # fmt: skip
        if audit.code != 0:
            named = [line for line in audit.stdout.splitlines() if line.startswith("BREAK")]
            problems.append(f"the export at {out} fails the audit: {named[:3] or audit.stderr}")
        if exited_ok and export_id == previous_id:
            outcome.lose(f"{label}: exited 0 but the previous export is still at {out}")
            return
    else:
        leftovers = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
        if leftovers:
            problems.append(f"files without a manifest at {out}: {leftovers[:4]}")
        if previous_id is not None:
            outcome.lose(f"{label}: the previous export is gone from {out}, nothing replaced it")
            return
        if exited_ok:
            outcome.lose(f"{label}: exited 0 but no export is at {out}")
            return
    for path in trial.exports.rglob("*"):
        if path.name.endswith(".part") or path.name.startswith(".replaced-"):
            problems.append(f"{path.relative_to(trial.root)} is left")
    expected = {CURRENT, out.name}
    for path in trial.exports.iterdir():
        if path.name not in expected and not path.name.startswith(STAGING_PREFIX):
            problems.append(f"{path.relative_to(trial.root)} is left beside the export")
    remove_abandoned(trial.exports)
    if _staging_exists(trial.exports):
        problems.append("a staging folder is left that the next export cannot remove")
    if problems:
        outcome.miss(f"{label}: {'; '.join(problems)}")


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    root = workdir / "home"
    pristine = workdir / "pristine"
    build_base(root)
    shutil.copytree(root, pristine)
    previous_id = json.loads((root / "exports" / CURRENT / "manifest.json").read_text())[
        "export_id"
    ]
    timings: dict[tuple[str, bool], tuple[float, float]] = {}
    for trial_no in range(trials):
        rng = random.Random(f"{seed}:{trial_no}")
        force = trial_no % 2 == 0
        signum = SIGNALS[trial_no % len(SIGNALS)]
        trial = Trial(
            root=root,
            out=root / "exports" / (CURRENT if force else "new"),
            fmt=FORMATS[(trial_no // 6) % len(FORMATS)],
            force=force,
            signum=signum,
            after_staging=signum == signal.SIGINT or (trial_no // 3) % 2 == 1,
        )
        if (trial.fmt, force) not in timings:
            timings[(trial.fmt, force)] = _timed_run(trial)
            _restore(pristine, root)
        label = (
            f"trial {trial_no} ({trial.fmt}, {'--force' if force else 'new folder'}, "
            f"{signal.Signals(signum).name}{' after staging' if trial.after_staging else ''})"
        )
        run_ = _interrupted_run(trial, rng, timings[(trial.fmt, force)])
        outcome.trials += 1
        this = Outcome(CATEGORY)
        judge_run(this, label, run_, signum)
        judge_state(this, label, trial, previous_id if force else None, run_.code == 0)
        _merge(outcome, this)
        _restore(pristine, root)
    return outcome


def control(workdir: Path) -> Outcome:
    """The judge on three hand-made bad states; each must be counted."""
    outcome = Outcome(CATEGORY)
    root = workdir / "home"
    build_base(root)
    current = root / "exports" / CURRENT
    base = Trial(root, current, "openai", True, signal.SIGKILL, False)
    previous_id = json.loads((current / "manifest.json").read_text())["export_id"]
    # An export written in place and never recorded (a kill before the record).
    stray = Trial(root, root / "exports" / "new", "openai", False, signal.SIGKILL, False)
    shutil.copytree(current, stray.out)
    manifest = json.loads((stray.out / "manifest.json").read_text())
    manifest["export_id"] = "01UNRECORDED0000000000000000"
    (stray.out / "manifest.json").write_text(json.dumps(manifest))
    judge_state(outcome, "unrecorded export", stray, None, False)
    shutil.rmtree(stray.out)
    # The previous export moved aside and left there.
    aside = current / ".replaced-01X"
    aside.mkdir()
    for item in list(current.iterdir()):
        if item != aside:
            item.rename(aside / item.name)
    judge_state(outcome, "previous export stranded", base, previous_id, False)
    shutil.rmtree(aside)
    # A recorded export whose files were deleted after the record.
    judge_state(outcome, "recorded export deleted", base, previous_id, False)
    return outcome


def _restore(pristine: Path, root: Path) -> None:
    shutil.rmtree(root)
    shutil.copytree(pristine, root)


def _merge(outcome: Outcome, trial: Outcome) -> None:
    details = "; ".join(f.split(": ", 1)[1] for f in trial.findings)
    if trial.crashed:
        outcome.crash(details)
    elif trial.lost:
        outcome.lose(details)
    elif trial.undetected:
        outcome.miss(details)
