"""The command line's habits: --version, help and defaults, completion, --json, --out -,
config discovery, progress counts and what `status` does not load."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from audit.build import build_audit
from draftgate.cli import COMMANDS, build_full_parser, main
from draftgate.config import CONFIG_ENV, find_config, ledger_path, load_config
from draftgate.exit_codes import ExitCode
from export.run import ExportOptions, export
from generator.ingest import ingest_folder
from ledger import Ledger, verify
from tests.support.builders import REPO_ROOT, SAMPLE_DOCS
from tests.support.exports import build_mixed
from tests.test_cli_core import run_cli


class Recording:
    """A Progress that keeps what it was told."""

    def __init__(self) -> None:
        self.totals: list[int] = []
        self.phases: list[str] = []
        self.done = 0

    def begin(self, total: int, what: str) -> None:
        self.totals.append(total)
        self.phases.append(what)
        self.done = 0

    def advance(self, done: int) -> None:
        self.done += done


# ---- --version, help text, defaults ---------------------------------------------------------


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"draftgate {version('draftgate')}\n"


def _walk(parser: argparse.ArgumentParser, path: list[str]) -> list[str]:
    """Every command without a summary or description, and every option without help."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{' '.join([*path, name])}: no summary")
                if not sub.description:
                    missing.append(f"{' '.join([*path, name])}: no description")
                missing += _walk(sub, [*path, name])
        elif not action.help:
            missing.append(f"{' '.join(path)} {action.option_strings or action.dest}: no help")
    return missing


def test_every_command_and_option_has_help() -> None:
    assert _walk(build_full_parser(), []) == []


def test_the_summary_table_matches_each_command_module() -> None:
    parser = build_full_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = {choice.dest: choice.help for choice in subparsers._choices_actions}
    assert registered == {name: summary for name, (_, summary) in COMMANDS.items()}


def test_help_shows_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: openai)" in text
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    assert "(default: md)" in " ".join(capsys.readouterr().out.split())


def test_status_loads_no_llm_ui_or_dataset_library(tmp_path: Path) -> None:
    ledger = tmp_path / "l.sqlite"
    assert main(["--ledger", str(ledger), "ingest", "-q", str(SAMPLE_DOCS)]) == ExitCode.OK
    probe = (
        "import sys; from draftgate.cli import main; "
        f"code = main(['--ledger', {str(ledger)!r}, 'status']); "
        "heavy = {'openai', 'instructor', 'textual', 'datasets', 'pyarrow', 'markdown_it', "
        "'jinja2', 'httpx'}; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy)); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# ---- completion ----------------------------------------------------------------------------


def _bash_complete(script: str, words: list[str]) -> list[str]:
    quoted = " ".join(f"'{w}'" for w in words)
    program = (
        f"{script}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        '_draftgate draftgate "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completion_completes_commands_options_and_choices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["completion", "bash"]) == ExitCode.OK
    script = capsys.readouterr().out
    assert _bash_complete(script, ["draftgate", "ex"]) == ["export"]
    assert set(_bash_complete(script, ["draftgate", ""])) == set(COMMANDS)
    assert _bash_complete(script, ["draftgate", "export", "--format", ""]) == [
        "openai",
        "sharegpt",
        "alpaca",
        "hf",
        "dpo",
        "openai-dpo",
        "kto",
    ]
    assert _bash_complete(script, ["draftgate", "--ledger", "x", "audit", "--form"]) == ["--format"]
    assert _bash_complete(script, ["draftgate", "completion", "z"]) == ["zsh"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_scripts_parse(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", shell]) == ExitCode.OK
    script = capsys.readouterr().out
    assert "export" in script and "format" in script
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed: the script's syntax is not checked here")
    done = subprocess.run([shell, "-n"], input=script, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_choices(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["completion", "fish"]) == ExitCode.OK
    script = tmp_path / "draftgate.fish"
    script.write_text(capsys.readouterr().out)
    done = subprocess.run(
        ["fish", "-c", f"source {script}; complete -C 'draftgate export --format '"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    values = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert values == ["alpaca", "dpo", "hf", "kto", "openai", "openai-dpo", "sharegpt"]


# ---- --json and --out - --------------------------------------------------------------------


@pytest.fixture
def signed_off(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(str(path)) as ledger:
        build_mixed(ledger)
    return path


def test_json_summaries(
    signed_off: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--ledger", str(signed_off)]
    assert main([*base, "verify", "--json"]) == ExitCode.OK
    verified = json.loads(capsys.readouterr().out)
    with Ledger.open(str(signed_off)) as ledger:
        head = ledger.head()
    assert verified == {"intact": True, "decisions": head.seq, "head_hash": head.hash, "breaks": []}

    out = tmp_path / "export"
    assert main([*base, "export", "--json", "--out", str(out)]) == ExitCode.OK
    exported = json.loads(capsys.readouterr().out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert exported["export_id"] == manifest["export_id"]
    assert exported["record_count"] == len(manifest["records"])
    assert exported["out_dir"] == str(out)

    report = tmp_path / "audit.md"
    code = main([*base, "audit", "--json", "--export", str(out), "--out", str(report)])
    assert code == ExitCode.OK
    audited = json.loads(capsys.readouterr().out)
    assert audited["integrity_ok"] is True and audited["breaks"] == []
    assert audited["report"] == str(report) and report.is_file()


def test_verify_json_names_the_breaks(signed_off: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.support.tamper import RawLedger

    with RawLedger(signed_off) as raw:
        raw.execute("UPDATE decisions SET note = 'changed' WHERE seq = 1")
    assert main(["--ledger", str(signed_off), "verify", "--json"]) == ExitCode.INTEGRITY
    verified = json.loads(capsys.readouterr().out)
    assert verified["intact"] is False
    assert any(b["kind"] == "decision_hash" for b in verified["breaks"])


def test_audit_out_dash_writes_the_report_to_stdout(
    signed_off: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["--ledger", str(signed_off), "audit", "--format", "json", "--out", "-"])
    assert code == ExitCode.OK
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout holds the report and nothing else
    assert report["integrity"]["ok"] is True
    assert "report written to stdout" in captured.err
    assert not (tmp_path / "-").exists()


def test_audit_refuses_out_dash_with_json(
    signed_off: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--ledger", str(signed_off), "audit", "--json", "--out", "-"])
    assert code == ExitCode.BAD_INPUT
    assert "pick one" in capsys.readouterr().err


def test_ingest_and_generate_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    base = ["--ledger", str(tmp_path / "l.sqlite")]
    assert main([*base, "ingest", "--json", str(SAMPLE_DOCS)]) == ExitCode.OK
    ingested = json.loads(capsys.readouterr().out)
    assert ingested["documents"] == ingested["new"] == 11
    assert main([*base, "generate", "--dry-run", "--json"]) == ExitCode.OK
    planned = json.loads(capsys.readouterr().out)
    assert planned["dry_run"] is True and planned["drafter"] == "rules"
    assert main([*base, "generate", "--json", "-q"]) == ExitCode.OK
    ran = json.loads(capsys.readouterr().out)
    # The dry run drafted in memory exactly what the real run then stored.
    assert ran["drafts_by_kind"] == planned["drafts_by_kind"]
    assert ran["calls_ok"] == planned["calls_ok"]
    with Ledger.open(str(tmp_path / "l.sqlite")) as ledger:
        assert ledger.status().drafts == sum(ran["drafts_by_kind"].values())


# ---- config discovery ------------------------------------------------------------------------


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "draftgate.toml").write_text('docs = "documentation"\n[export]\nseed = 7\n')
    (root / "sub" / "deeper").mkdir(parents=True)
    return root


def test_config_is_found_in_a_parent_folder_up_to_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv("DRAFTGATE_LEDGER", raising=False)
    monkeypatch.chdir(root / "sub" / "deeper")
    assert find_config() == root / "draftgate.toml"
    config = load_config(None)
    assert config.export.seed == 7
    # Relative paths mean what they mean from the config's folder.
    assert config.docs == str(root / "documentation")
    assert ledger_path(None, config) == str(root / "outputs" / "ledger.sqlite")


def test_config_search_stops_at_the_repository_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "draftgate.toml").write_text("[export]\nseed = 1\n")  # above the repository
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(repo / "src")
    assert find_config() is None
    assert load_config(None).export.seed == 0


def test_config_outside_a_repository_is_only_looked_for_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "draftgate.toml").write_text("[export]\nseed = 1\n")
    (tmp_path / "inner").mkdir()
    if any((parent / ".git").exists() for parent in tmp_path.parents):
        pytest.skip("the temporary folder lies inside a repository")
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path / "inner")
    assert find_config() is None
    monkeypatch.chdir(tmp_path)
    assert load_config(None).export.seed == 1


def test_config_from_the_environment_and_the_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text("[export]\nseed = 11\n")
    monkeypatch.chdir(root)
    monkeypatch.setenv(CONFIG_ENV, str(other))
    assert load_config(None).export.seed == 11
    assert load_config(str(root / "draftgate.toml")).export.seed == 7  # the flag wins


def test_config_discovery_through_the_cli(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "draftgate.toml").write_text("[export]\nseed = 7\n")
    ingest = run_cli("ingest", str(SAMPLE_DOCS), cwd=root / "sub" / "deeper")
    assert ingest.returncode == ExitCode.OK, ingest.stderr
    assert (root / "outputs" / "ledger.sqlite").is_file()
    assert not (root / "sub" / "deeper" / "outputs").exists()


# ---- progress --------------------------------------------------------------------------------


def test_progress_counts_reach_their_totals(tmp_path: Path) -> None:
    with Ledger.open(str(tmp_path / "l.sqlite")) as ledger:
        ingesting = Recording()
        ingest_folder(ledger, SAMPLE_DOCS, progress=ingesting)
        files = [p for p in SAMPLE_DOCS.rglob("*") if p.is_file() and not p.name.startswith(".")]
        assert ingesting.totals == [len(files)] and ingesting.done == len(files)

        mixed = build_mixed(ledger)
        verifying = Recording()
        assert verify(ledger, verifying) == []
        assert len(verifying.totals) == 1 and verifying.done == verifying.totals[0] > 0

        exporting = Recording()
        result = export(ledger, ExportOptions(format="openai", out_dir=tmp_path / "e"), exporting)
        assert exporting.totals == [result.record_count] == [len(mixed.exported)]
        assert exporting.done == result.record_count

        auditing = Recording()
        audit = build_audit(
            ledger,
            [tmp_path / "e"],
            fast_decision_ms=2000,
            target_mix={},
            glossary_names=[],
            progress=auditing,
        )
        assert audit.integrity.ok
        assert auditing.phases == ["ledger rows", "records of e"]
        assert auditing.totals[-1] == result.record_count == auditing.done


def test_no_bar_when_stderr_is_not_a_terminal(
    signed_off: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--ledger", str(signed_off), "verify"]) == ExitCode.OK
    assert capsys.readouterr().err == ""


def test_plain_tables_show_control_characters_instead_of_obeying_them() -> None:
    from draftgate.text_table import text_table

    lines = text_table(["name", "n"], [["evil\x1b[2Jname", 3], ["ok", 10]], title="t")
    assert lines[0] == "t"
    assert all("\x1b" not in line for line in lines)
    assert lines[1].split() == ["name", "n"]
    # Columns line up: each row's second cell starts where the header's does.
    start = lines[1].index(" n") + 1
    assert [line[start:] for line in lines[3:]] == ["3", "10"]
