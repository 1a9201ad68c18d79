"""Injected faults: the suite's trials, and proof that the harness can fail."""

from __future__ import annotations

from pathlib import Path

from draftgate.exit_codes import ExitCode
from ledger import GenerationCall, Ledger
from tests.reliability import faults
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, generation_call

SEED = 1

SUMMARY = """
             generation summary
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┓
┃                                  ┃ count      ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━┩
│ calls ok                         │ 0          │
│ calls failed: server_error       │ 1          │
│ drafts requested                 │ 2          │
│ drafts failed (with their calls) │ {failed}          │
└──────────────────────────────────┴────────────┘
"""


def test_a_run_with_30_percent_faulty_replies_records_and_counts_everything(
    tmp_path: Path,
) -> None:
    outcome = faults.run(faults.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == faults.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


def _failed_call(chunk_id: str, error: str | None) -> GenerationCall:
    return generation_call(
        chunk_id,
        id="01FAILEDCALL",
        job_key="job",
        drafter="llm",
        status="failed",
        error=error,
        requested=2,
    )


def _check(
    tmp_path: Path, error: str | None, failed_in_summary: int, unrecorded_job: bool = False
) -> Outcome:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        chunk_id = add_document(ledger)[0]
        chunk = ledger.get_chunk(chunk_id)
        assert chunk is not None
        ledger.record_call(_failed_call(chunk_id, error), [])
    served = {(chunk.text, "qa"): ["500"]}
    if unrecorded_job:
        served[("another chunk", "qa")] = ["500"]
    outcome = Outcome("control")
    stdout = SUMMARY.format(failed=failed_in_summary)
    jobs = len(served)
    faults.check_run(path, served, jobs, ExitCode.INCOMPLETE, stdout, outcome, "control")
    return outcome


def test_the_checks_pass_a_well_recorded_failure(tmp_path: Path) -> None:
    outcome = _check(tmp_path, "server_error: Error code: 500", failed_in_summary=2)
    assert outcome.clean, outcome.summary()


def test_the_checks_count_a_failure_without_its_reason_and_totals_that_do_not_add_up(
    tmp_path: Path,
) -> None:
    """Negative control: a failed call recorded with no reason, a job the server failed that
    has no record at all, and a printed summary whose requested != stored + dropped + failed."""
    outcome = _check(tmp_path, None, failed_in_summary=1, unrecorded_job=True)
    text = outcome.summary()
    assert "failed with None; its last reply was 500" in text, text
    assert "served ['500'] and has no recorded call" in text, text
    assert "the summary's totals do not add up" in text, text
    assert "summary {" in text, text  # the summary disagrees with the ledger too


def test_the_summary_table_is_read_row_by_row() -> None:
    rows = faults.summary_rows(SUMMARY.format(failed=2))
    assert rows["calls failed: server_error"] == "1"
    assert rows["drafts failed (with their calls)"] == "2"
