"""Injected faults: 30% of the test server's replies are faulty; the run must finish, record
every failure with its reason, and account for every draft it was asked for.

One trial: one ``draftgate generate`` run (in this process) over a fresh copy of a small
ingested corpus (28 jobs, 2 drafts each), against a loopback server where each chat reply is
faulty with probability ``FAULT_RATE``, the fault drawn from ``FAULTS`` with
``random.Random(f"{seed}:{trial}")``: 429 with Retry-After, 500, a hang past the client
timeout, a body that is not JSON, tool arguments that are not JSON, a schema-invalid reply, and
an evidence quote that is not in the chunk. Some healthy replies are short (fewer drafts than
asked), which the totals must account for too. Trials alternate two retry budgets: a tight one
(2 attempts, no re-ask), where many calls must end recorded as failed, and a roomier one
(3 attempts, 1 re-ask), where retries and re-asks rescue most calls. The server keeps, per
job, every reply it served, so each recorded call is held against what really happened to it.

- lost: drafts stored by the run that no call accounts for, or a call's drafts missing.
- undetected: a job with no recorded call (a failure with no record); a failed call whose
  recorded reason is neither the reason its last reply failed for nor a client-side give-up
  (timeout, connection: what a hang causes, and what a loaded machine can cause to any reply),
  or that has no detail; an ok call whose last reply was a fault; fewer attempts recorded than
  requests the server saw; requested != produced + dropped + failed for a call, or in total,
  from the ledger's records or from the printed summary (or the two disagree); exit 0 with
  failed calls, or INCOMPLETE without any.
- crashed: a traceback, an exit code other than 0 or INCOMPLETE, a ``verify()`` break.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

from draftgate.exit_codes import ExitCode
from ledger import GenerationCall, Ledger, verify
from tests.reliability.generate_harness import (
    fresh_ledger,
    ingested_template,
    run_in_process,
    write_config,
)
from tests.reliability.outcome import Outcome
from tests.support.fake_openai import ChatRequest, FakeOpenAI, Reply, default_items

CATEGORY = "injected faults"
SUITE_TRIALS = 6
BENCH_TRIALS = 40

FAULT_RATE = 0.3
SHORT_RATE = 0.1  # of the healthy replies: one draft where two were asked for
PER_CHUNK = 2
TIMEOUT_S = 0.25  # the client's timeout; a hang outlasts it (so does a loaded server, at times)
HANG_S = 0.5
API_KEY = "sk-dgtest-faults"


def _ungrounded(request: ChatRequest) -> Reply:
    items = default_items(request)
    for item in items:
        item["evidence"] = ["a sentence that the excerpt does not contain anywhere"]
    return Reply(payload={"items": items})


def _late(request: ChatRequest) -> Reply:
    """A good reply sent after the client timeout. A client whose event loop was held up
    past both (a loaded machine) finds it waiting and takes it: then the call is ok."""
    return Reply(payload={"items": default_items(request)}, hang_s=HANG_S)


# Each fault: how to make the reply, and the reason class a call failing on it must record.
FAULTS: dict[str, tuple[Callable[[ChatRequest], Reply], str]] = {
    "429": (lambda r: Reply.rate_limited(retry_after=0.02), "rate_limited"),
    "500": (lambda r: Reply.server_error(), "server_error"),
    "hang": (_late, "timeout"),
    "malformed_body": (lambda r: Reply.malformed(), "bad_response"),
    "malformed_arguments": (
        lambda r: Reply(raw_arguments='{"items": [{"question": "How do I'),
        "invalid_output",
    ),
    "schema_invalid": (
        lambda r: Reply(payload={"items": [{"question": "What?"}]}),
        "invalid_output",
    ),
    "ungrounded": (_ungrounded, "invalid_output"),
}
HEALTHY = ("ok", "short")
CLIENT_GAVE_UP = {"timeout", "connection"}


class FaultyServerScript:
    """Serves ``FAULT_RATE`` faulty replies and remembers what each job was served."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.served: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._lock = threading.Lock()

    def __call__(self, request: ChatRequest) -> Reply:
        with self._lock:
            if self.rng.random() < FAULT_RATE:
                name = self.rng.choice(sorted(FAULTS))
            else:
                name = "short" if self.rng.random() < SHORT_RATE else "ok"
            self.served[(request.chunk, request.kind)].append(name)
        if name in FAULTS:
            return FAULTS[name][0](request)
        items = default_items(request)
        return Reply(payload={"items": items[:1] if name == "short" else items})


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    template = ingested_template(workdir)
    # Two retry budgets, alternating: a tight one, where many calls run out of attempts and
    # must be recorded as failed, and the default-like one, where retries and re-asks rescue
    # most calls and the records must show the attempts they took.
    configs = [
        write_config(
            folder,
            timeout=TIMEOUT_S,
            attempts=attempts,
            reasks=reasks,
            concurrency=8,
            per_chunk=PER_CHUNK,
        )
        for folder, attempts, reasks in (
            (_mkdir(workdir / "tight"), 2, 0),
            (_mkdir(workdir / "retrying"), 3, 1),
        )
    ]
    jobs = _job_count(template)
    for trial in range(trials):
        config = configs[trial % 2]
        where = f"seed {seed} trial {trial} ({config.parent.name})"
        script = FaultyServerScript(random.Random(f"{seed}:{trial}"))
        ledger_path = fresh_ledger(template, workdir / f"trial-{trial:03d}")
        server = FakeOpenAI(script).start()
        try:
            env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": API_KEY}
            args = ["--ledger", str(ledger_path), "--config", str(config), "generate", "--quiet"]
            result = run_in_process(args, env)
        finally:
            server.stop()
        crash = result.crash(allowed=[ExitCode.OK, ExitCode.INCOMPLETE])
        if crash:
            outcome.crash(f"{where}: {crash}")
        check_run(ledger_path, script.served, jobs, result.code, result.stdout, outcome, where)
        outcome.trials += 1
    return outcome


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _job_count(template: Path) -> int:
    with Ledger.open(template) as ledger:
        return len(ledger.current_chunks()) * 7


def _job_of(call: GenerationCall, chunk_text: str) -> tuple[str, str]:
    subtype = call.params.get("subtype")
    return chunk_text, call.kind.value + (f"/{subtype}" if subtype else "")


def check_run(
    ledger_path: Path,
    served: dict[tuple[str, str], list[str]],
    jobs: int,
    code: int,
    stdout: str,
    outcome: Outcome,
    where: str,
) -> None:
    """Hold the ledger's records and the printed summary against what the server served."""
    with Ledger.open(ledger_path) as ledger:
        calls = ledger.generation_calls()
        chunk_text = {c.id: c.text for c in ledger.current_chunks()}
        drafts = Counter(d.call_id for _, d in ledger.pending_drafts(limit=1_000_000))
        breaks = verify(ledger)
    for item in breaks:
        outcome.crash(f"{where}: verify: {item}")
    by_job: dict[tuple[str, str], list[GenerationCall]] = defaultdict(list)
    for call in calls:
        by_job[_job_of(call, chunk_text.get(call.chunk_id, ""))].append(call)
    if len(by_job) != jobs:
        outcome.miss(f"{where}: {jobs} jobs planned, {len(by_job)} have a recorded call")
    for job in served.keys() - by_job.keys():
        outcome.miss(f"{where}: job {job[1]} was served {served[job]} and has no recorded call")
    totals: Counter[str] = Counter()
    for job, job_calls in by_job.items():
        if len(job_calls) != 1:
            outcome.miss(f"{where}: job {job[1]} has {len(job_calls)} calls in one run")
            continue
        (call,) = job_calls
        _check_call(call, served.get(job, []), drafts[call.id], outcome, f"{where} call {call.id}")
        totals["requested"] += call.requested
        totals["stored"] += call.produced
        totals["dropped"] += sum(call.dropped.values())
        totals["failed"] += call.requested if call.status == "failed" else 0
    if totals["requested"] != totals["stored"] + totals["dropped"] + totals["failed"]:
        outcome.miss(f"{where}: ledger totals do not add up: {dict(totals)}")
    if sum(drafts.values()) != totals["stored"]:
        outcome.lose(f"{where}: {sum(drafts.values())} drafts stored, calls say {totals['stored']}")
    failed = [c for c in calls if c.status == "failed"]
    if (code == ExitCode.INCOMPLETE) != bool(failed):
        outcome.miss(f"{where}: exit {code} with {len(failed)} failed call(s)")
    _check_summary(stdout, calls, totals, outcome, where)


def _check_call(
    call: GenerationCall, served: list[str], stored: int, outcome: Outcome, where: str
) -> None:
    # The client may make attempts the server never reads (it gave up first: a loaded machine
    # can delay the server thread past the client timeout), never fewer than the server saw.
    if call.attempts < len(served):
        outcome.miss(f"{where}: {call.attempts} attempts recorded, server saw {served}")
    last = served[-1] if served else None
    dropped = sum(call.dropped.values())
    if stored != call.produced:
        outcome.lose(f"{where}: produced {call.produced}, {stored} drafts stored")
    if call.status == "ok":
        if last not in (*HEALTHY, "hang"):
            outcome.miss(f"{where}: ok, but its last reply was {last} (served {served})")
        if call.requested != call.produced + dropped:
            outcome.miss(
                f"{where}: requested {call.requested} != produced {call.produced} + dropped "
                f"{call.dropped}"
            )
        return
    reason, _, detail = (call.error or "").partition(":")
    # The reason its last reply failed for; or the client gave up waiting, which the hang
    # fault does on purpose and a loaded machine can do to any reply.
    expected = {FAULTS[last][1]} if last in FAULTS else set()
    if reason not in expected | CLIENT_GAVE_UP:
        outcome.miss(f"{where}: failed with {call.error!r}; its last reply was {last} ({served})")
    elif not detail.strip():
        outcome.miss(f"{where}: failed as {reason} with no detail")
    if call.produced or dropped:
        outcome.miss(f"{where}: failed, yet produced {call.produced} and dropped {call.dropped}")


_ROW = re.compile(r"^\W*(?P<label>[a-z][^│|]*?)\s*[│|]\s*(?P<value>[^│|]*?)\s*[│|]?\s*$")


def summary_rows(stdout: str) -> dict[str, str]:
    """The printed summary table's rows, label -> value."""
    rows = {}
    for line in stdout.splitlines():
        found = _ROW.match(line)
        if found:
            rows[found["label"]] = found["value"]
    return rows


def _check_summary(
    stdout: str, calls: list[GenerationCall], totals: Counter[str], outcome: Outcome, where: str
) -> None:
    rows = summary_rows(stdout)

    def count(prefix: str) -> int:
        return sum(int(v) for label, v in rows.items() if label.startswith(prefix))

    printed = {
        "requested": count("drafts requested"),
        "stored": count("drafts stored:"),
        "dropped": count("drafts dropped:"),
        "failed": count("drafts failed"),
    }
    if printed != {k: totals[k] for k in printed}:
        outcome.miss(f"{where}: summary {printed} != ledger {dict(totals)}")
    if printed["requested"] != printed["stored"] + printed["dropped"] + printed["failed"]:
        outcome.miss(f"{where}: the summary's totals do not add up: {printed}")
    reasons = Counter((c.error or "").split(":")[0] for c in calls if c.status == "failed")
    shown = {
        label.removeprefix("calls failed: "): int(v)
        for label, v in rows.items()
        if label.startswith("calls failed: ")
    }
    if shown != dict(reasons):
        outcome.miss(f"{where}: summary failures {shown} != ledger {dict(reasons)}")
    if count("calls ok") != sum(1 for c in calls if c.status == "ok"):
        outcome.miss(f"{where}: summary calls ok {count('calls ok')} disagrees with the ledger")
