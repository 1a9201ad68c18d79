"""`draftgate ingest|status|verify` as a user runs them: exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from generator.ingest import ingest_folder
from ledger import DecisionIn, Ledger, Verdict
from tests.support.builders import REPO_ROOT, SAMPLE_DOCS, add_document, add_drafts
from tests.support.tamper import RawLedger


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m draftgate`` in a subprocess, with this checkout first on the path."""
    full_env = {k: v for k, v in os.environ.items() if k != "DRAFTGATE_LEDGER"}
    full_env["PYTHONPATH"] = str(REPO_ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "draftgate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_error_line(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("draftgate: error: ")
    assert "Traceback" not in stderr


def test_ingest_status_verify_on_the_sample_docs(tmp_path: Path) -> None:
    ledger = str(tmp_path / "out" / "ledger.sqlite")
    ingest = run_cli("--ledger", ledger, "ingest", str(SAMPLE_DOCS), cwd=tmp_path)
    assert ingest.returncode == ExitCode.OK, ingest.stderr
    assert ingest.stderr == ""
    assert ingest.stdout.startswith("ingested 11 documents (")
    assert "11 new, 0 changed, 0 unchanged, 0 removed, 0 skipped" in ingest.stdout

    status = run_cli("--ledger", ledger, "status", "--json", cwd=tmp_path)
    assert status.returncode == ExitCode.OK, status.stderr
    report = json.loads(status.stdout)
    with Ledger.open(ledger) as opened:
        chunks = len(opened.current_chunks())
    chunk_count = int(ingest.stdout.split("(")[1].split()[0])
    assert report["documents"] == 11 and report["chunks"] == chunks == chunk_count
    assert report["drafts"] == 0 and report["stale"] == 0 and report["decisions"] == {}
    assert report["head"] == {"seq": 0, "hash": "b2:genesis"}

    table = run_cli("--ledger", ledger, "status", cwd=tmp_path)
    assert table.returncode == ExitCode.OK
    assert f"11 documents (0 removed), {chunks} chunks, 0 drafts" in table.stdout

    verify = run_cli("--ledger", ledger, "verify", cwd=tmp_path)
    assert verify.returncode == ExitCode.OK, verify.stdout + verify.stderr
    assert verify.stdout.startswith("ledger intact")

    again = run_cli("--ledger", ledger, "ingest", str(SAMPLE_DOCS), cwd=tmp_path)
    assert "0 new, 0 changed, 11 unchanged" in again.stdout


def test_ledger_from_the_environment(tmp_path: Path) -> None:
    ledger = tmp_path / "env.sqlite"
    result = run_cli(
        "ingest", str(SAMPLE_DOCS), cwd=tmp_path, env={"DRAFTGATE_LEDGER": str(ledger)}
    )
    assert result.returncode == ExitCode.OK, result.stderr
    assert ledger.exists()
    assert not (tmp_path / "outputs").exists()


def test_default_docs_folder_and_ledger(tmp_path: Path) -> None:
    docs = tmp_path / "product_docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nThe roster page lists shifts.\n")
    result = run_cli("ingest", cwd=tmp_path)
    assert result.returncode == ExitCode.OK, result.stderr
    assert (tmp_path / "outputs" / "ledger.sqlite").exists()


def test_missing_docs_folder_is_one_line_and_exit_3(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.sqlite"
    result = run_cli("--ledger", str(ledger), "ingest", "no_such_docs", cwd=tmp_path)
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_error_line(result.stderr)
    assert "no_such_docs" in result.stderr
    assert not ledger.exists()  # a typo must not leave a ledger behind


def test_bad_files_warn_once_each_and_still_succeed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.md").write_text("# Good\n\nShifts are published from Schedule.\n")
    (docs / "bad.md").write_bytes(b"\x00\x01\x02")
    (docs / "empty.txt").write_bytes(b"")
    result = run_cli("--ledger", str(tmp_path / "l.sqlite"), "ingest", str(docs), cwd=tmp_path)
    assert result.returncode == ExitCode.OK
    assert result.stderr.splitlines() == [
        "draftgate: warning: skipped bad.md: binary file",
        "draftgate: warning: skipped empty.txt: empty file",
    ]
    assert "1 new" in result.stdout and "2 skipped" in result.stdout


def test_foreign_ledger_is_exit_4_one_line(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE notes (body TEXT)")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    for command in (["status"], ["verify"], ["ingest", str(SAMPLE_DOCS)]):
        result = run_cli("--ledger", str(foreign), *command, cwd=tmp_path)
        assert result.returncode == ExitCode.LEDGER, command
        assert_one_error_line(result.stderr)
        assert "not a Draftgate ledger" in result.stderr
    assert foreign.read_bytes() == before


def test_ledger_path_under_a_file_is_exit_4_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "somefile"
    blocker.write_text("x")
    result = run_cli(
        "--ledger", str(blocker / "ledger.sqlite"), "ingest", str(SAMPLE_DOCS), cwd=tmp_path
    )
    assert result.returncode == ExitCode.LEDGER
    assert_one_error_line(result.stderr)
    assert "not a folder" in result.stderr


def test_tampered_ledger_verify_exit_1_one_line_per_break(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        ingest_folder(ledger, SAMPLE_DOCS)
        drafts = add_drafts(ledger, ledger.current_chunks()[0].id, count=3)
        for draft in drafts:
            ledger.record_decision(
                DecisionIn(draft_id=draft, reviewer="ana", verdict=Verdict.APPROVE)
            )
    raw = RawLedger(path)
    raw.execute("UPDATE drafts SET answer = 'We also offer payroll.' WHERE id = ?", (drafts[0],))
    raw.execute("UPDATE decisions SET reviewer = 'mallory' WHERE seq = 2")
    raw.close()
    result = run_cli("--ledger", str(path), "verify", cwd=tmp_path)
    assert result.returncode == ExitCode.INTEGRITY
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("draft_hash: ") and lines[1].startswith("decision_hash: decision #2")
    assert "Traceback" not in result.stderr
    assert "2 break(s)" in result.stderr


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("docs = [\n", "not valid TOML"),
        ('doc = "typo"\n', "doc: Extra inputs are not permitted"),
        ('[generate]\nconcurrency = "many"\n', "generate.concurrency"),
        ("[review]\nlease_seconds = 1\n", "review.lease_seconds"),
        ("[nonsense]\nx = 1\n", "nonsense"),
    ],
)
def test_bad_config_is_exit_3_one_line(tmp_path: Path, toml: str, expected: str) -> None:
    (tmp_path / "draftgate.toml").write_text(toml)
    result = run_cli("--ledger", str(tmp_path / "l.sqlite"), "status", cwd=tmp_path)
    assert result.returncode == ExitCode.BAD_INPUT
    assert_one_error_line(result.stderr)
    assert "draftgate.toml" in result.stderr and expected in result.stderr


def test_missing_explicit_config_is_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["--config", str(tmp_path / "nope.toml"), "--ledger", str(tmp_path / "l"), "status"]
    )
    assert code == ExitCode.BAD_INPUT
    assert_one_error_line(capsys.readouterr().err)


def test_config_sets_the_ledger_and_docs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DRAFTGATE_LEDGER", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "draftgate.toml").write_text(
        f'ledger = "mine.sqlite"\ndocs = "{SAMPLE_DOCS.as_posix()}"\n'
    )
    assert main(["ingest"]) == ExitCode.OK
    assert "11 new" in capsys.readouterr().out
    assert (tmp_path / "mine.sqlite").exists()


def test_help_lists_the_exit_codes(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "exit codes:" in result.stdout
    for code in ExitCode:
        assert f"  {int(code):<4} " in result.stdout


def test_unknown_command_is_usage_error(tmp_path: Path) -> None:
    result = run_cli("frobnicate", cwd=tmp_path)
    assert result.returncode == ExitCode.USAGE
    assert "Traceback" not in result.stderr


def test_status_table_shows_drafts_by_kind_and_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path).close()
    assert main(["--ledger", str(path), "status"]) == ExitCode.OK
    assert "drafts: none yet" in capsys.readouterr().out
    with Ledger.open(path) as ledger:
        drafts = add_drafts(ledger, add_document(ledger)[0], count=3)
        ledger.record_decision(
            DecisionIn(draft_id=drafts[0], reviewer="ana", verdict=Verdict.APPROVE)
        )
    assert main(["--ledger", str(path), "status"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "1 documents (0 removed), 2 chunks, 3 drafts" in out
    assert "drafts: 2 pending, 1 decided; 0 stale, 0 of them pending" in out
    header = next(line for line in out.splitlines() if line.startswith("kind "))
    assert header.split() == ["kind", "pending", "approved", "edited", "rejected", "total"]
    qa_row = next(line for line in out.splitlines() if line.startswith("qa "))
    assert qa_row.split() == ["qa", "2", "1", "0", "0", "3"]
    assert "decisions: 1 approve" in out


def test_global_options_work_before_or_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before, after = tmp_path / "before.sqlite", tmp_path / "after.sqlite"
    assert main(["--ledger", str(before), "ingest", str(SAMPLE_DOCS)]) == ExitCode.OK
    assert main(["ingest", str(SAMPLE_DOCS), "--ledger", str(after)]) == ExitCode.OK
    assert before.exists() and after.exists()
    capsys.readouterr()
    assert main(["--ledger", str(before), "status", "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["documents"] == 11
    assert main(["status", "--json", "--ledger", str(after)]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["documents"] == 11
    config = tmp_path / "other.toml"
    config.write_text('doc = "typo"\n')
    assert main(["status", "--config", str(config), "--ledger", str(after)]) == ExitCode.BAD_INPUT
    assert "other.toml" in capsys.readouterr().err


def test_output_into_a_closed_pipe_is_no_traceback(tmp_path: Path) -> None:
    # `draftgate status --json | head -1`: the reader leaves before the output is written.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("DRAFTGATE_LEDGER", None)
    ledger = str(tmp_path / "l.sqlite")
    Ledger.open(ledger).close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "draftgate", "--ledger", ledger, "status", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, stderr = proc.communicate(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert proc.returncode == ExitCode.OK


@pytest.mark.parametrize("command", ["status", "verify"])
def test_reading_a_missing_ledger_is_exit_4_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    typo = tmp_path / "ledgr.sqlite"
    assert main(["--ledger", str(typo), command]) == ExitCode.LEDGER
    err = capsys.readouterr().err
    assert_one_error_line(err)
    assert "no ledger at" in err and "draftgate ingest" in err
    assert not typo.exists()
