"""``generate --workers N``: N worker processes draft from one ledger, one parent reports.

One Python process tops out near 200 calls/s (the client libraries cost a few ms of CPU a
call), so a run that may keep more calls in flight than that spreads them over processes, each
with its own event loop and its share of the concurrency and rate budgets. The workers share
nothing but the ledger: each claims its jobs there (``generator.claims``), so no job is paid
for twice, and worker i starts at i/N of the plan, so they meet only at its end.

Each worker is a plain ``python -m generator.workers`` subprocess (as the audit's quality
worker is): spawn would re-import the caller's main module, fork would hand the child this
process's SQLite connection. It reads its orders as JSON lines on stdin (the run, then ``go``
or ``stop``; end of file, when the parent is gone, means stop) and writes events as JSON lines
on stdout: ``ready`` once it has planned, ``progress``, ``busy``, ``message``, and at the end
``summary``, or ``error`` with a kind the parent raises again as the matching error.

The workers run in their own session, so Ctrl-C reaches the parent alone: the first tells every
worker to take no new job and to finish and store the calls in flight; a second interrupts the
calls in flight (what finished is stored either way).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from generator import pipeline
from generator.claims import ClaimOptions
from generator.errors import (
    EndpointError,
    GenerateError,
    InputError,
    NoChunksError,
    SettingsError,
)
from generator.pipeline import RunObserver, RunProgress, RunSummary
from generator.scope import Scope
from generator.settings import GenerateSettings
from ledger import Ledger, LedgerError

# A worker tells its progress at most this often (the parent's bar needs no more).
PROGRESS_EVERY_S = 0.2
# A wait for the ledger's write lock with no progress for this long is told to the user.
BUSY_TOLD_AFTER_S = 3.0

_ERROR_KINDS: dict[str, type[Exception]] = {
    "endpoint": EndpointError,
    "no_chunks": NoChunksError,
    "input": InputError,
    "settings": SettingsError,
    "generate": GenerateError,
    "ledger": LedgerError,
}


def _error_kind(exc: BaseException) -> str:
    for kind, error_type in _ERROR_KINDS.items():  # most specific first
        if isinstance(exc, error_type):
            return kind
    return "generate"


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` whole shares that add up to it."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def budget_shares(total: int | None, parts: int) -> list[int | None]:
    """A budget split like ``shares``; no budget stays none for every part."""
    return [None] * parts if total is None else list(shares(total, parts))


def worker_settings(settings: GenerateSettings, workers: int) -> list[GenerateSettings]:
    """Each worker's settings: its share of the calls in flight and of the rpm/tpm budgets."""
    if workers < 1:
        raise SettingsError("--workers must be at least 1")
    if settings.batch:
        raise SettingsError("--workers runs live calls; --batch sends one batch from one process")
    if not settings.uses_llm:
        raise SettingsError(
            "--workers needs an LLM endpoint (OPENAI_BASE_URL or OPENAI_API_KEY); the rules "
            "drafter runs in one process"
        )
    if settings.concurrency < workers:
        raise SettingsError(
            f"--workers {workers} needs --concurrency of at least {workers} (each worker gets "
            f"its share of the {settings.concurrency} calls in flight)"
        )
    for budget, name in ((settings.rpm, "--rpm"), (settings.tpm, "--tpm")):
        if budget is not None and budget < workers:
            raise SettingsError(f"--workers {workers} needs {name} of at least {workers}")
    return [
        dataclasses.replace(settings, concurrency=c, rpm=r, tpm=t)
        for c, r, t in zip(
            shares(settings.concurrency, workers),
            budget_shares(settings.rpm, workers),
            budget_shares(settings.tpm, workers),
            strict=True,
        )
    ]


def _settings_of(data: dict[str, Any]) -> GenerateSettings:
    return GenerateSettings(**{**data, "kinds": tuple(data["kinds"])})


def merged(summaries: list[RunSummary], planned: int, interrupted: bool) -> RunSummary:
    """One summary for the pool: counts added up. Every worker planned the same jobs, so the
    jobs skipped as finished are counted once, and the jobs left to other runs are those of
    the plan no worker called for (none are when the run was interrupted: they are left)."""
    total = RunSummary()
    failed: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for one in summaries:
        total.calls_ok += one.calls_ok
        failed.update(one.calls_failed)
        by_kind.update(one.drafts_by_kind)
        dropped.update(one.dropped)
        total.prompt_tokens += one.prompt_tokens
        total.completion_tokens += one.completion_tokens
        total.cost += one.cost
        total.drafts_requested += one.drafts_requested
        total.drafts_failed += one.drafts_failed
        total.dropped_drafts += one.dropped_drafts
        total.jobs_skipped = max(total.jobs_skipped, one.jobs_skipped)
    total.calls_failed, total.drafts_by_kind, total.dropped = (
        dict(failed),
        dict(by_kind),
        dict(dropped),
    )
    calls = total.calls_ok + sum(failed.values())
    total.jobs_left_to_other_runs = 0 if interrupted else max(0, planned - calls)
    total.interrupted = interrupted
    return total


class _Worker:
    """One worker process, seen from the parent."""

    def __init__(self, index: int, spec: dict[str, Any], events: queue.Queue[Any]) -> None:
        self.index = index
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "generator.workers"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if spec.get("verbose") else self._stderr,
            text=True,
            # Ctrl-C at the terminal reaches the parent alone, which stops workers in order.
            start_new_session=True,
        )
        self.ready: dict[str, Any] | None = None
        self.summary: RunSummary | None = None
        self.error: dict[str, Any] | None = None
        self.progress: dict[str, Any] = {}
        self.finished = False
        # The run's settings include the API key: they go through the pipe, never argv.
        self.tell(json.dumps(spec))
        self._reader = threading.Thread(target=self._read, args=(events,), daemon=True)
        self._reader.start()

    def _read(self, events: queue.Queue[Any]) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                events.put((self, json.loads(line)))
        events.put((self, None))

    def tell(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a worker that is gone hears nothing
            assert self.process.stdin is not None
            self.process.stdin.write(line + "\n")
            self.process.stdin.flush()

    def interrupt(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)

    def last_error_line(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().strip().splitlines()
        return lines[-1] if lines else f"exit status {self.process.returncode}"

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        if self.process.poll() is None:
            self.process.wait()
        self._reader.join(5)
        self._stderr.close()


def run_pool(
    ledger: Ledger,
    scope: Scope,
    settings: GenerateSettings,
    workers: int,
    observer: RunObserver,
    *,
    verbose: bool = False,
) -> RunSummary:
    """Draft every unfinished job with ``workers`` processes on ``ledger``'s file.

    Raises what a one-process run raises (EndpointError, InputError, a LedgerError) when a
    worker hits it. After one Ctrl-C the summary of what was stored says ``interrupted``;
    after a second (calls in flight interrupted) KeyboardInterrupt is raised once every worker
    has stopped. What the workers finished is stored either way.
    """
    worker_settings(settings, workers)  # refuses what the pool cannot run before any call
    if not ledger.current_chunks():
        raise NoChunksError(f"no ingested docs in {ledger.path}")
    # ``--mode auto`` is settled once here: the workers then share the mode, and so the jobs.
    per_worker = worker_settings(pipeline.resolve_mode(ledger, settings, observer), workers)
    events: queue.Queue[Any] = queue.Queue()
    pool = [
        _Worker(
            i,
            {
                "ledger": str(ledger.path),
                "scope": scope.model_dump(mode="json"),
                "settings": dataclasses.asdict(one),
                "start_fraction": i / workers,
                "verbose": verbose,
            },
            events,
        )
        for i, one in enumerate(per_worker)
    ]
    pool_run = _PoolRun(pool, observer, settings)
    try:
        pool_run.follow(events)
    finally:
        for worker in pool:
            if pool_run.interrupts and not worker.finished:
                worker.interrupt()
            worker.close()
    return pool_run.result()


class _PoolRun:
    def __init__(
        self, pool: list[_Worker], observer: RunObserver, settings: GenerateSettings
    ) -> None:
        self.pool = pool
        self.observer = observer
        self.settings = settings
        self.interrupts = 0
        self.planned = 0
        self._started = False
        # Workers take turns at the ledger's write lock all the time; a wait is told only
        # when one reported the lock taken and the pool then made no progress for a while
        # (another process holds it).
        self._busy_since: float | None = None
        self._busy_wait_s = 0.0
        self._busy_told = False

    def follow(self, events: queue.Queue[Any]) -> None:
        while not all(worker.finished for worker in self.pool):
            try:
                worker, event = events.get(timeout=0.5)
                self._handle(worker, event)
            except queue.Empty:
                pass
            except KeyboardInterrupt:
                self._interrupted()
            self._tell_long_busy()
        if self._started:
            self.observer.finished()

    def _interrupted(self) -> None:
        self.interrupts += 1
        if self.interrupts == 1:
            self.observer.message(
                "stopping: each worker finishes and stores its calls in flight "
                "(Ctrl-C again to interrupt them)"
            )
            for worker in self.pool:
                worker.tell("stop")
        else:
            for worker in self.pool:
                worker.interrupt()

    def _handle(self, worker: _Worker, event: dict[str, Any] | None) -> None:
        if event is None:
            worker.finished = True
            worker.process.wait()
            if worker.summary is None and worker.error is None and not self.interrupts:
                worker.error = {"kind": "generate", "message": worker.last_error_line()}
            if worker.error is not None:
                self._stop_all()
            self._start_when_ready()
            return
        name = event.get("event")
        if name == "ready":
            worker.ready = event
            self._start_when_ready()
        elif name == "progress":
            worker.progress = event
            self._busy_since = None
            self._advance()
        elif name == "busy" and self._busy_since is None:
            self._busy_since = time.monotonic()
            self._busy_wait_s = float(event["wait_s"])
        elif name == "message":
            self.observer.message(f"worker {worker.index + 1}: {event['text']}")
        elif name == "summary":
            worker.summary = RunSummary(**event["summary"])
        elif name == "error":
            worker.error = event

    def _tell_long_busy(self) -> None:
        if self._busy_told or self._busy_since is None:
            return
        if time.monotonic() - self._busy_since >= BUSY_TOLD_AFTER_S:
            self._busy_told = True
            self.observer.ledger_busy(self._busy_wait_s)

    def _stop_all(self) -> None:
        for other in self.pool:
            other.tell("stop")

    def _start_when_ready(self) -> None:
        """Every worker planned (or ended): they start calling together."""
        if self._started or not all(w.ready is not None or w.finished for w in self.pool):
            return
        self._started = True
        ready = [w.ready for w in self.pool if w.ready is not None]
        self.planned = max((int(r["total"]) for r in ready), default=0)
        description = ready[0]["description"] if ready else "generate"
        self.observer.started(f"{description} x {len(self.pool)} workers", self.planned)
        for worker in self.pool:
            worker.tell("go")

    def _advance(self) -> None:
        if not self._started:
            return
        seen = [w.progress for w in self.pool if w.progress]
        self.observer.advanced(
            RunProgress(
                done=sum(int(p["done"]) for p in seen),
                total=self.planned,
                tokens=sum(int(p["tokens"]) for p in seen),
                cost=sum(float(p["cost"]) for p in seen),
                calls_failed=sum(int(p["failed"]) for p in seen),
            )
        )

    def result(self) -> RunSummary:
        errors = [w.error for w in self.pool if w.error is not None]
        if errors:
            first = errors[0]
            raise _ERROR_KINDS.get(first["kind"], GenerateError)(first["message"])
        summaries = [w.summary for w in self.pool if w.summary is not None]
        if self.interrupts and len(summaries) < len(self.pool):
            raise KeyboardInterrupt  # calls in flight were interrupted: no whole summary
        return merged(summaries, self.planned, interrupted=bool(self.interrupts))


# ---- the worker process ------------------------------------------------------------------


class _Emitter:
    """A worker's events, one JSON line each on stdout (the parent reads them)."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields: Any) -> None:
        with self._lock:
            self._out.write(json.dumps({"event": event, **fields}) + "\n")
            self._out.flush()


class _WorkerObserver:
    """Tells the parent what the run does; holds the start until the parent says go."""

    def __init__(self, emit: _Emitter, go: threading.Event) -> None:
        self._emit = emit
        self._go = go
        self._last = 0.0
        self._pending: RunProgress | None = None

    def started(self, description: str, total: int | None) -> None:
        self._emit("ready", description=description, total=total or 0)
        self._go.wait()

    def advanced(self, progress: RunProgress) -> None:
        self._pending = progress
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self.flush()

    def flush(self) -> None:
        progress, self._pending = self._pending, None
        if progress is not None:
            self._emit(
                "progress",
                done=progress.done,
                tokens=progress.tokens or 0,
                cost=progress.cost or 0.0,
                failed=progress.calls_failed,
            )

    def finished(self) -> None:
        self.flush()

    def ledger_busy(self, wait_s: float) -> None:
        self._emit("busy", wait_s=wait_s)

    def message(self, text: str) -> None:
        self._emit("message", text=text)


def _listen(orders: IO[str], go: threading.Event, stop: threading.Event) -> None:
    for line in orders:
        if line.strip() == "go":
            go.set()
        elif line.strip() == "stop":
            stop.set()
            go.set()
    # End of file: the parent is gone (or gave up on this worker).
    stop.set()
    go.set()


def worker_main(orders: IO[str], out: IO[str], run: Callable[..., RunSummary]) -> int:
    """One worker: the run read from ``orders``' first line, events written to ``out``."""
    emit = _Emitter(out)
    spec = json.loads(orders.readline())
    logging.getLogger("instructor").setLevel(
        logging.NOTSET if spec.get("verbose") else logging.CRITICAL
    )
    go, stop = threading.Event(), threading.Event()
    threading.Thread(target=_listen, args=(orders, go, stop), daemon=True).start()
    settings = _settings_of(spec["settings"])
    options = ClaimOptions(
        ttl_s=settings.claim_ttl_s, start_fraction=float(spec["start_fraction"]), stop=stop
    )
    try:
        with Ledger.open(spec["ledger"], must_exist=True) as ledger:
            summary = run(
                ledger,
                Scope.model_validate(spec["scope"]),
                settings,
                _WorkerObserver(emit, go),
                claim_options=options,
            )
    except (GenerateError, LedgerError) as exc:
        emit("error", kind=_error_kind(exc), message=str(exc))
        return 1
    emit("summary", summary=dataclasses.asdict(summary))
    return 0


def main() -> None:
    from generator.pipeline import run

    try:
        code = worker_main(sys.stdin, sys.stdout, run)
    except KeyboardInterrupt:
        code = 130  # the parent's second Ctrl-C: what finished is stored
    sys.exit(code)


if __name__ == "__main__":
    main()
