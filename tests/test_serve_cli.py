"""`draftgate serve` on the command line: tokens, refusals before listening, and a real run
that answers on loopback and stops on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from draftgate.cli import main
from draftgate.cmd_serve import configured_reviewers, is_loopback
from draftgate.config import load_config
from draftgate.exit_codes import ExitCode
from serve.tokens import ReviewerTokens
from tests.support.builders import REPO_ROOT
from tests.support.review import seed_ledger
from tests.support.serve import free_port


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_new_token_comes_with_the_config_line_that_accepts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--new-token", "Dana Q."]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    token = out[1].strip()
    table = out[out.index("[serve.reviewers]") :]
    assert token not in "\n".join(table)  # only the hash goes to the config
    config_path = tmp_path / "draftgate.toml"
    config_path.write_text("\n".join(table) + "\n")
    tokens = ReviewerTokens(configured_reviewers(load_config(str(config_path))))
    assert tokens.reviewer_for(token) == "Dana Q."


def test_listening_beyond_loopback_without_tokens_is_refused(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_ledger(ledger_path, count=1)
    code = main(["--ledger", str(ledger_path), "serve", "--host", "0.0.0.0"])
    assert code == ExitCode.BAD_INPUT
    assert "without [serve.reviewers] tokens" in one_error_line(capsys)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('alice = "plaintext-token"', "serve.reviewers.alice"),
        (
            f'alice = "sha256:{"a" * 64}"\n"alice\\u200b" = "sha256:{"b" * 64}"',
            "same reviewer as another entry",
        ),
        (f'alice = "sha256:{"a" * 64}"\nbob = "sha256:{"a" * 64}"', "same token"),
    ],
)
def test_a_bad_reviewers_table_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    ledger = tmp_path / "ledger.sqlite"
    seed_ledger(ledger, count=1)
    config = tmp_path / "draftgate.toml"
    config.write_text(f"[serve.reviewers]\n{table}\n")
    code = main(["--ledger", str(ledger), "--config", str(config), "serve"])
    assert code == ExitCode.BAD_INPUT
    assert message in one_error_line(capsys)


def test_a_missing_ledger_is_refused_before_listening(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--ledger", str(tmp_path / "none.sqlite"), "serve"])
    assert code == ExitCode.LEDGER
    one_error_line(capsys)


def test_loopback_addresses() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.0.2.7", "review.example"))


def test_serve_answers_on_loopback_and_stops_on_ctrl_c(ledger_path: Path, tmp_path: Path) -> None:
    seed_ledger(ledger_path, count=1)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "draftgate", "--ledger", str(ledger_path), "serve"]
        + ["--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()  # blocks until the server listens (or exits)
        assert f"on http://127.0.0.1:{port}/" in ready, ready
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as response:
            assert response.status == 200
            assert 'name="name"' in response.read().decode()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0
    assert "anyone who can open the page signs decisions as the name they type" in err


def test_each_reviewers_app_gets_the_queue_options_serve_was_given() -> None:
    from draftgate.cli import build_parser
    from draftgate.cmd_serve import review_argv

    args = build_parser("serve").parse_args(
        ["serve", "--origin", "probe", "--kind", "qa", "--doc=-x.md", "--stale"]
    )
    argv = review_argv(args, "/l.sqlite", "ann")
    assert argv[argv.index("review") :] == [
        "review",
        "--reviewer=ann",
        "--order=created",
        "--double-review=0.0",
        "--kind=qa",
        "--doc=-x.md",
        "--origin=probe",
        "--stale",
    ]
