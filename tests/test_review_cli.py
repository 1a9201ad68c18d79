"""`draftgate review` option handling (everything before the screen opens) and import rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from draftgate.cli import main
from draftgate.cmd_review import resolve_reviewer
from draftgate.config import Config, ReviewConfig
from draftgate.context import CommandError
from draftgate.exit_codes import ExitCode
from tests.support.builders import REPO_ROOT


def test_reviewer_comes_from_flag_then_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("draftgate.cmd_review.git_user_name", lambda: "git-name")
    monkeypatch.setenv("USER", "env-name")
    configured = Config(review=ReviewConfig(reviewer="cfg-name"))
    assert resolve_reviewer(" ann ", configured) == "ann"
    assert resolve_reviewer(None, configured) == "cfg-name"
    assert resolve_reviewer(None, Config()) == "git-name"
    monkeypatch.setattr("draftgate.cmd_review.git_user_name", lambda: "")
    assert resolve_reviewer(None, Config()) == "env-name"


def test_an_empty_reviewer_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["--ledger", str(tmp_path / "l.sqlite"), "review", "--reviewer", "  "])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "reviewer name is required" in err[0]
    with pytest.raises(CommandError):
        resolve_reviewer("", Config())


@pytest.mark.parametrize(
    ("config_text", "args", "message"),
    [
        ("", ["--double-review", "1.5"], "--double-review must be between 0 and 1"),
        ('[review.keymap]\nbogus = "x"\n', [], "unknown binding id 'bogus'"),
        ('[review]\nguidelines = "missing.md"\n', [], "review.guidelines: cannot read"),
    ],
)
def test_bad_options_end_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    config_text: str,
    args: list[str],
    message: str,
) -> None:
    config = tmp_path / "draftgate.toml"
    config.write_text(config_text)
    code = main(
        [
            "--config",
            str(config),
            "--ledger",
            str(tmp_path / "l.sqlite"),
            "review",
            "--reviewer",
            "ann",
            *args,
        ]
    )
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_review_imports_no_llm_client_and_ledger_no_ui() -> None:
    script = (
        "import sys, tui.app, draftgate.cmd_review\n"
        "assert not {'openai', 'instructor'} & set(sys.modules), 'tui imports an LLM client'\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=True)
    script = "import sys, ledger.queue\nassert 'textual' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=True)
