"""Crash during generation: the suite's trials, and proof that the harness can fail."""

from __future__ import annotations

from pathlib import Path

from ledger import DraftIn, DraftKind, GenerationCall, Ledger
from tests.reliability import generate_crash
from tests.reliability.generate_harness import CliRun, unlogged_traceback
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, generation_call

SEED = 1


def test_killed_generate_runs_resume_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    outcome = generate_crash.run(generate_crash.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == generate_crash.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


def _call(chunk_id: str, job_key: str, produced: int = 1) -> GenerationCall:
    return generation_call(
        chunk_id, id=f"01CALL{job_key}{produced}", job_key=job_key, produced=produced
    )


def test_the_checks_count_a_lost_call_a_doubled_job_and_an_unfinished_one(tmp_path: Path) -> None:
    """Negative control: a ledger where one job finished twice (same content both times,
    stored once), one planned job never finished, and a call the killed run 'recorded' that
    the ledger does not have."""
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        chunk = add_document(ledger)[0]
        draft = DraftIn(kind=DraftKind.QA, question="How?", answer="Like so.", evidence=["x"])
        ledger.record_call(_call(chunk, "job-a"), [draft])
        ledger.record_call(_call(chunk, "job-a", produced=2), [draft])
    outcome = Outcome("control")
    acknowledged = {"01NEVERSTORED": ("job-b", "ok", 1)}
    generate_crash._check(
        path, {"job-a", "job-c"}, acknowledged, {"01NEVERSTORED": {"d1"}}, outcome, "control"
    )
    assert outcome.lost == 2, outcome.summary()  # the acknowledged call; job-c never finished
    assert outcome.undetected >= 1, outcome.summary()  # job-a finished twice
    assert any("job-a finished 2 times" in f for f in outcome.findings), outcome.summary()


def test_a_traceback_counts_as_a_crash_unless_it_is_a_debug_log_record() -> None:
    logged = (
        "2026-11-21 10:00:00,123 DEBUG openai._base_client: Encountered Exception\n"
        "Traceback (most recent call last):\n  File 'x.py', line 1\nValueError: boom\n"
        "draftgate: error: cannot reach the endpoint\n"
    )
    assert unlogged_traceback(logged) is None
    assert CliRun(5, "", logged).crash(allowed=[5]) is None
    uncaught = "draftgate: note\nTraceback (most recent call last):\nKeyError: 'x'\n"
    assert unlogged_traceback(uncaught) is not None
    assert CliRun(1, "", uncaught).crash(allowed=[0]) is not None
    assert CliRun(7, "", "").crash(allowed=[0]) is not None  # not a documented exit code
    assert CliRun(6, "", "").crash(allowed=[0]) is not None  # documented, not expected here
