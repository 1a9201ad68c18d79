"""What the generate-side reliability categories share: a small ingested corpus, a fast config,
and two ways to run the real CLI (a subprocess, or ``main()`` in this process with its output
captured), each judged the same way: a traceback or an exit code Draftgate does not document
is a crash.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from draftgate.cli import main
from draftgate.exit_codes import ExitCode
from draftgate.logs import configure_logging
from generator.ingest import ingest_folder
from ledger import Ledger
from tests.support.builders import REPO_ROOT, SAMPLE_DOCS

# The first four sections of the getting-started page: 4 chunks x 7 (kind, subtype) = 28 jobs,
# enough for calls to be in flight at every moment and few enough to run many trials.
SMALL_DOC = SAMPLE_DOCS / "getting-started.md"
SMALL_DOC_LINES = 50
JOBS_PER_CHUNK = 7  # qa, negative, clarify, and adversarial x 4 subtypes

CONFIG = """
docs = "{docs}"
scope = "{scope}"
[generate]
model = "fake-model"
timeout_s = {timeout}
max_attempts = {attempts}
max_reasks = {reasks}
backoff_initial_s = 0.001
backoff_max_s = 0.005
retry_after_cap_s = 0.2
batch_poll_s = 0.01
concurrency = {concurrency}
per_chunk = {per_chunk}
mode = "tools"
"""

# Variables a parent shell may have set that would change what a run does.
_SCRUBBED_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_LOG", "DRAFTGATE_LEDGER")


def small_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = SMALL_DOC.read_text(encoding="utf-8").splitlines()[:SMALL_DOC_LINES]
    (folder / SMALL_DOC.name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def ingested_template(workdir: Path) -> Path:
    """A ledger with the small corpus ingested, to copy for every trial."""
    template = workdir / "template" / "ledger.sqlite"
    if not template.exists():
        docs = small_docs(workdir / "template" / "docs")
        with Ledger.open(template) as ledger:
            ingest_folder(ledger, docs)
    return template


def fresh_ledger(template: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "ledger.sqlite"
    shutil.copy(template, target)
    return target


def write_config(
    folder: Path,
    *,
    timeout: float = 2.0,
    attempts: int = 3,
    reasks: int = 2,
    concurrency: int = 4,
    per_chunk: int = 1,
) -> Path:
    path = folder / "draftgate.toml"
    path.write_text(
        CONFIG.format(
            docs=SAMPLE_DOCS,
            scope=SAMPLE_DOCS / "scope.toml",
            timeout=timeout,
            attempts=attempts,
            reasks=reasks,
            concurrency=concurrency,
            per_chunk=per_chunk,
        ),
        encoding="utf-8",
    )
    return path


def cli_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a subprocess: this worktree first on the path, nothing inherited
    that points at an endpoint or a ledger."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONPATH"] = str(REPO_ROOT)
    env.update(extra)
    return env


def sigint_default() -> None:
    """``preexec_fn`` for a child that is sent Ctrl-C: a shell's background job starts with
    SIGINT ignored, the child would inherit that, and Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "draftgate", *args]


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    def crash(self, allowed: Sequence[int]) -> str | None:
        """Why this run counts as crashed, or None."""
        traceback_line = unlogged_traceback(self.stderr)
        if traceback_line is not None:
            return f"traceback on stderr (exit {self.code}): {traceback_line!r}"
        documented = {int(c) for c in ExitCode}
        if self.code not in documented:
            return f"undocumented exit code {self.code}: {self.stderr.strip()[-200:]!r}"
        if self.code not in allowed:
            return f"exit {self.code} (expected one of {sorted(allowed)}): {self.stderr[-200:]!r}"
        return None


# A record as --verbose formats it: "2026-11-21 10:00:00,123 DEBUG openai._base_client: ...".
_LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) ")
_UNCAUGHT = ("Traceback (most recent call last)", "Exception in thread", "Exception ignored in")


def unlogged_traceback(stderr: str) -> str | None:
    """The first traceback on stderr that is not part of a DEBUG log record, with the lines
    after it. With --verbose, libraries log the exceptions they handle (and re-raise as their
    own) at DEBUG with their traceback: that is a log, not a crash. An uncaught exception
    right after such a record would pass here, but it also ends the run with exit 1, which
    the exit-code check catches."""
    lines = stderr.splitlines()
    level: str | None = None
    for number, line in enumerate(lines):
        record = _LOG_RECORD.match(line)
        if record:
            level = record["level"]
        elif line.startswith("draftgate:"):
            level = None
        elif line.startswith(_UNCAUGHT) and level != "DEBUG":
            return "\n".join(lines[number : number + 12])[-600:]
    return None


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 120) -> CliRun:
    """The real CLI in a subprocess, to completion."""
    done = subprocess.run(
        cli_argv(*args),
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliRun(done.returncode, done.stdout, done.stderr)


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for an in-process run, and put everything back after."""
    saved = {k: os.environ.get(k) for k in (*_SCRUBBED_ENV, *values)}
    for key in _SCRUBBED_ENV:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_in_process(args: Sequence[str], env: Mapping[str, str]) -> CliRun:
    """``draftgate.cli.main`` in this process (no interpreter start-up), output captured; an
    exception escaping it is printed as the traceback a user would have seen."""
    out, err = io.StringIO(), io.StringIO()
    with environ(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else ExitCode.USAGE
        except Exception:  # noqa: BLE001 - an escaped exception is exactly what is counted
            traceback.print_exc(file=err)
            code = 1
        finally:
            configure_logging(verbose=False)  # a --verbose run must not leave this process loud
    return CliRun(int(code), out.getvalue(), err.getvalue())
