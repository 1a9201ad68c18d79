"""Generation benchmark against the loopback OpenAI-compatible server, run in its own process.

Prints:
 (a) throughput at concurrency 1, 16, 64, 256 with 1 s mean injected latency, as efficiency
     against the ideal (concurrency / mean latency, the mean of the latencies the server
     actually drew); each reply's latency varies by +/- 25% (``--jitter``) as a real
     endpoint's does, so workers are not held in lock-step waves; ``--jitter 0`` gives the
     fixed-latency figures. Each level runs ``--rounds`` calls per worker: a run of a few
     rounds is mostly start (every worker's first call leaves at once) and drain (the last
     wave's slowest reply), which says little about the rate a real run of thousands of
     calls keeps, so the whole-run figure is printed beside the steady-state one (the rate
     while every worker is busy). The bare instructor loop runs at concurrency 64 too;
 (b) client CPU ms per call of the whole generate path (prompt rendering, instructor +
     validation, corpus checks, dedup, the ledger writer) beside a bare instructor call loop
     with the same request and response model, in the same run, and their ratio (the best
     run of each, and the median runs);
 (c) with an RPM budget, the achieved rate against the budget and the 429s the server sent;
 (d) processes: efficiency at 256 and 512 calls in flight (1 s mean latency, the same jitter)
     for the whole generate path in this process (what ``generate`` does) and for
     ``generate --workers N`` with 1, 2 and 4 worker processes sharing the calls in flight,
     and each against the single process. Rates come from the ledger's call records (first
     call started to last call finished, and the steady state between the C-th and the
     (n-C)-th finish), so worker start-up and planning are not counted. The server runs in
     its own process and shares the machine's cores with the workers.

    PYTHONPATH=. python bench/generation.py            # about fifteen minutes
    PYTHONPATH=. python bench/generation.py --parts d  # (d) alone, about ten minutes
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import heapq
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generator import pipeline  # noqa: E402
from generator.client import ClientSettings, LLMClient, prepared_response_model  # noqa: E402
from generator.dedup import DedupIndex  # noqa: E402
from generator.ingest import ingest_folder  # noqa: E402
from generator.kinds import KIND_NAMES, KINDS  # noqa: E402
from generator.pacing import Pacer  # noqa: E402
from generator.prompts import PromptSet  # noqa: E402
from generator.runner import DraftChecker, Job, plan_jobs, run_jobs  # noqa: E402
from generator.scope import load_scope  # noqa: E402
from generator.settings import GenerateSettings  # noqa: E402
from generator.workers import run_pool  # noqa: E402
from ledger import Ledger  # noqa: E402
from ledger.store import parse_time  # noqa: E402

DOCS = REPO / "product_docs"
SCOPE = load_scope(DOCS / "scope.toml")


SERVER_PID: list[int] = []


def server_cpu_s() -> float:
    """CPU seconds the fake server process has used (it shares the 2 cores with the client)."""
    fields = Path(f"/proc/{SERVER_PID[-1]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def fake_server(latency: float, rpm_limit: int | None = None, jitter: float = 0.0) -> Iterator[str]:
    argv = [sys.executable, "-m", "tests.support.fake_openai", "--latency", str(latency)]
    if jitter:
        argv += ["--latency-jitter", str(jitter)]
    if rpm_limit:
        argv += ["--rpm-limit", str(rpm_limit)]
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[1])
        SERVER_PID.append(process.pid)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait()


def fresh_ledger(folder: Path, name: str) -> Ledger:
    ledger = Ledger.open(folder / f"{name}.sqlite")
    ingest_folder(ledger, DOCS)
    return ledger


def jobs_for(ledger: Ledger, count: int, kinds: list[str]) -> list[Job]:
    """``count`` jobs. Past the ledger's (chunk, kind, subtype) jobs, the same jobs again
    under another model name: a different job key, the same request and reply."""
    jobs: list[Job] = []
    copy = 0
    while len(jobs) < count:
        plan = plan_jobs(
            ledger,
            SCOPE,
            PromptSet(),
            kinds=kinds,
            per_chunk=1,
            model=f"bench-{copy}",
            params={"temperature": 0.7, "mode": "tools"},
            limit=count - len(jobs),
        )
        assert plan.jobs, "the sample docs gave no jobs"
        jobs += plan.jobs
        copy += 1
    return jobs


def client_for(base_url: str) -> LLMClient:
    return LLMClient(
        ClientSettings(
            base_url,
            "sk-bench",
            "bench",
            timeout_s=30.0,
            backoff_initial_s=0.05,
            backoff_max_s=1.0,
        )
    )


async def warm_up(client: LLMClient, jobs: list[Job]) -> None:
    """One untimed call per kind: connection set-up and instructor's per-model schema caches
    (built on a model's first call), which a long run pays once."""
    first_of_kind = {job.kind: job for job in reversed(jobs)}
    for job in first_of_kind.values():
        await client.draft(
            job.prompt.messages, KINDS[job.kind].reply_model, job.context, {"temperature": 0.7}
        )


async def run(
    ledger: Ledger,
    base_url: str,
    jobs: list[Job],
    concurrency: int,
    rpm: int | None = None,
    done_at: list[float] | None = None,
    on_start: Callable[[], None] | None = None,
) -> tuple[float, float, Any]:
    client = client_for(base_url)
    checker = DraftChecker(ledger, SCOPE, DedupIndex())
    stamps = done_at if done_at is not None else []
    try:
        await warm_up(client, jobs)
        if on_start is not None:
            on_start()
        pacer = Pacer(rpm=rpm) if rpm else None  # made after the warm-up: no banked budget
        wall, cpu = time.perf_counter(), time.process_time()
        stamps.append(wall)
        report = await run_jobs(
            ledger,
            client,
            jobs,
            checker,
            concurrency=concurrency,
            pacer=pacer,
            on_progress=lambda *_: stamps.append(time.perf_counter()),
        )
        return time.perf_counter() - wall, time.process_time() - cpu, report
    finally:
        await client.close()


async def bare_loop(
    base_url: str,
    jobs: list[Job],
    concurrency: int,
    done_at: list[float] | None = None,
    on_start: Callable[[], None] | None = None,
) -> float:
    """The same calls through instructor alone: no pacing, checks, dedup or ledger.

    It hands instructor the response model the way the generate path does (wrapped once per
    kind), and freezes the heap for the collector during the calls as ``run_jobs`` does, so
    the floor is the library used at its best, not a slower use of it.
    Returns the CPU seconds the calls took.
    """
    client = client_for(base_url)
    queue = list(reversed(jobs))
    stamps = done_at if done_at is not None else []
    await warm_up(client, jobs)

    async def worker() -> None:
        while queue:
            job = queue.pop()
            await client.client.create_with_completion(
                response_model=prepared_response_model(KINDS[job.kind].reply_model),
                max_retries=2,
                context=job.context,
                **client.request_kwargs(job.prompt.messages, {"temperature": 0.7}),
            )
            stamps.append(time.perf_counter())

    try:
        if on_start is not None:
            on_start()
        cpu = time.process_time()
        stamps.append(time.perf_counter())
        gc.freeze()
        try:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        finally:
            gc.unfreeze()
        return time.process_time() - cpu
    finally:
        await client.close()


def stats(base_url: str) -> dict[str, float]:
    with urllib.request.urlopen(base_url + "/_stats") as response:  # noqa: S310 - loopback
        return dict(json.loads(response.read()))


def drain_ceiling(concurrency: int, count: int, jitter: float, trials: int = 5) -> float:
    """The whole-run efficiency a client costing nothing would reach on this run shape.

    Simulated: ``count`` latencies drawn like the server's (mean 1, +/- ``jitter``), each
    taken by the first free worker, as the runner's queue does. The run ends when the
    slowest reply of the last wave lands, so a short run falls short of the ideal rate even
    with no client cost at all; the longer the run, the less that drain weighs.
    """
    total = 0.0
    for seed in range(trials):
        draw = random.Random(seed)
        free_at = [0.0] * concurrency
        drawn = 0.0
        for _ in range(count):
            latency = 1.0 + draw.uniform(-1.0, 1.0) * jitter
            drawn += latency
            heapq.heapreplace(free_at, free_at[0] + latency)
        total += (drawn / count) * count / max(free_at) / concurrency
    return total / trials


class Level:
    """One timed run at one concurrency: what the server drew and used, what the client did."""

    def __init__(self, url: str, concurrency: int) -> None:
        self.url = url
        self.concurrency = concurrency
        self.stamps: list[float] = []
        self._before: dict[str, float] = {}
        self._server_cpu = 0.0

    def start(self) -> None:
        self._before = stats(self.url)
        self._server_cpu = server_cpu_s()

    def line(self, label: str, count: int, cpu_s: float) -> str:
        after = stats(self.url)
        draws = after["latency_draws"] - self._before["latency_draws"]
        mean_latency = (after["latency_drawn_s"] - self._before["latency_drawn_s"]) / draws
        ideal = self.concurrency / mean_latency
        stamps, c = self.stamps, self.concurrency
        wall = stamps[-1] - stamps[0]
        # Steady state: the completions while every worker is busy, i.e. from the
        # concurrency-th completion (the first wave is in) to the (count - concurrency)-th
        # (its worker takes the last queued job), over the time between them. It leaves
        # out the start, when nothing can have finished yet, and the drain, when workers
        # run dry and the slowest latency of the last wave decides the end.
        first, last = c, count - c
        steady = (last - first) / (stamps[last] - stamps[first]) if last > first else count / wall
        server_ms = (server_cpu_s() - self._server_cpu) * 1000 / count
        return (
            f"  {label:<24} {count:>5} calls in {wall:6.2f} s = {count / wall:7.2f}/s, ideal "
            f"{ideal:6.1f}/s (mean latency {mean_latency:.3f} s): efficiency "
            f"{count / wall / ideal:.3f}, steady state {steady / ideal:.3f}; CPU ms/call "
            f"client {cpu_s * 1000 / count:.2f} server {server_ms:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument(
        "--jitter", type=float, default=0.25, help="latency spread in (a), fraction of it"
    )
    parser.add_argument("--rounds", type=int, default=40, help="calls per worker in (a)")
    parser.add_argument("--max-jobs", type=int, default=2560, help="cap on calls per level")
    parser.add_argument("--cpu-calls", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5, help="alternations in (b)")
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--rpm-seconds", type=float, default=30.0)
    parser.add_argument("--parts", default="abcd", help="which parts to run, e.g. 'c'")
    parser.add_argument("--pool-rounds", type=int, default=10, help="calls per slot in (d)")
    parser.add_argument(
        "--pool-levels", default="256,512", help="calls in flight in (d), comma-separated"
    )
    parser.add_argument("--pool-workers", default="1,2,4", help="worker counts in (d)")
    args = parser.parse_args()
    kinds = list(KIND_NAMES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "a" in args.parts:
            part_a(args, folder, kinds)
        if "b" in args.parts:
            part_b(args, folder, kinds)
        if "c" in args.parts:
            part_c(args, folder, kinds)
        if "d" in args.parts:
            part_d(args, folder)


def part_a(args: argparse.Namespace, folder: Path, kinds: list[str]) -> None:
    print(
        f"(a) throughput, {args.latency:g} s mean injected latency (+/- {args.jitter:.0%}), "
        f"{args.rounds} calls per worker (at most {args.max_jobs})"
    )
    with fake_server(args.latency, jitter=args.jitter) as url:
        for concurrency in (1, 16, 64, 256):
            ledger = fresh_ledger(folder, f"a{concurrency}")
            count = min(concurrency * args.rounds, args.max_jobs)
            jobs = jobs_for(ledger, count, kinds)
            level = Level(url, concurrency)
            _wall, cpu, report = asyncio.run(
                run(ledger, url, jobs, concurrency, done_at=level.stamps, on_start=level.start)
            )
            failed = sum(report.calls_failed.values())
            print(level.line(f"concurrency {concurrency}:", count, cpu) + f", failed {failed}")
            print(
                f"  {'':<24} a client costing nothing: efficiency "
                f"{drain_ceiling(concurrency, count, args.jitter):.3f} on this run shape "
                "(simulated)"
            )
            if concurrency == 64:
                # The library floor at the same concurrency: instructor alone, same calls.
                bare = Level(url, concurrency)
                bare_cpu = asyncio.run(
                    bare_loop(url, jobs, concurrency, done_at=bare.stamps, on_start=bare.start)
                )
                print(bare.line("bare instructor loop 64:", count, bare_cpu))
            ledger.close()


def part_b(args: argparse.Namespace, folder: Path, kinds: list[str]) -> None:
    print(f"(b) client CPU per call, {args.cpu_calls} calls, no latency, concurrency 8")
    with fake_server(0.0) as url:
        ledger = fresh_ledger(folder, "b")
        jobs = jobs_for(ledger, args.cpu_calls, kinds)
        asyncio.run(bare_loop(url, jobs, 8))  # warms imports and caches
        # The box is shared: alternate the two measurements, and compare each one's best run
        # (the least disturbed) and their medians.
        bares, fulls = [], []
        for rep in range(args.repeats):
            bares.append(asyncio.run(bare_loop(url, jobs, 8)) * 1000 / len(jobs))
            rep_ledger = fresh_ledger(folder, f"b{rep}")
            _wall, full_cpu, report = asyncio.run(
                run(rep_ledger, url, jobs_for(rep_ledger, args.cpu_calls, kinds), 8)
            )
            fulls.append(full_cpu * 1000 / len(jobs))
            rep_ledger.close()
        runs_bare = ", ".join(f"{x:.2f}" for x in bares)
        runs_full = ", ".join(f"{x:.2f}" for x in fulls)
        print(f"  bare instructor loop: {min(bares):.2f} ms/call best (runs: {runs_bare})")
        print(f"  whole generate path: {min(fulls):.2f} ms/call best (runs: {runs_full})")
        best = min(fulls) / min(bares)
        median = statistics.median(fulls) / statistics.median(bares)
        print(
            f"  ratio {best:.3f} best to best, {median:.3f} median to median "
            f"(ok calls in the last run {report.calls_ok})"
        )
        ledger.close()


def part_c(args: argparse.Namespace, folder: Path, kinds: list[str]) -> None:
    print(
        f"(c) pacing to {args.rpm} rpm for ~{args.rpm_seconds:g} s (server enforces the "
        "same limit), concurrency 16, latency 0.05 s"
    )
    with fake_server(0.05, rpm_limit=args.rpm) as url:
        ledger = fresh_ledger(folder, "c")
        count = int(args.rpm / 60 * args.rpm_seconds)
        jobs = jobs_for(ledger, count, kinds)
        wall, _cpu, report = asyncio.run(run(ledger, url, jobs, 16, rpm=args.rpm))
        achieved = count / wall * 60
        server = stats(url)
        print(
            f"  {count} calls in {wall:.2f} s = {achieved:.1f} rpm, "
            f"{achieved / args.rpm:.3f} of the budget; 429s from the server: "
            f"{server['rate_limited']}; failed calls {sum(report.calls_failed.values())}"
        )
        ledger.close()


def copied_docs(folder: Path, copies: int) -> Path:
    """The sample docs ``copies`` times over, each copy's headings marked with its number, so
    every copy's chunks have their own text (the same text would be the same jobs)."""
    root = folder / "docs"
    if root.exists():
        return root
    root.mkdir()
    (root / "scope.toml").write_text((DOCS / "scope.toml").read_text())
    for copy in range(copies):
        part = root / f"part{copy}"
        part.mkdir()
        for doc in DOCS.glob("*.md"):
            lines = [
                f"{line} (part {copy})" if line.startswith("#") else line
                for line in doc.read_text().splitlines()
            ]
            (part / doc.name).write_text("\n".join(lines) + "\n")
    return root


def call_times(path: Path) -> tuple[list[float], list[float], int]:
    """Start and finish times (s) of the ok calls the ledger recorded, and the failed count."""
    with Ledger.open(path) as ledger:
        calls = ledger.generation_calls()

    def seconds(stamp: str) -> float:
        return parse_time(stamp).timestamp()

    ok = [c for c in calls if c.status == "ok"]
    return (
        sorted(seconds(c.started_at) for c in ok),
        sorted(seconds(c.finished_at) for c in ok),
        len(calls) - len(ok),
    )


def pool_figures(
    path: Path,
    url: str,
    before: dict[str, float],
    concurrency: int,
    client_cpu_s: float,
    server_cpu: float,
) -> tuple[str, float, float]:
    """A line of figures for one run of (d), its whole-run and its steady-state efficiency."""
    server_cpu_used = server_cpu_s() - server_cpu
    after = stats(url)
    draws = after["latency_draws"] - before["latency_draws"]
    mean_latency = (after["latency_drawn_s"] - before["latency_drawn_s"]) / max(1, draws)
    ideal = concurrency / mean_latency
    starts, finishes, failed = call_times(path)
    count = len(finishes)
    wall = finishes[-1] - starts[0]
    first, last = concurrency, count - concurrency
    steady = (last - first) / (finishes[last] - finishes[first]) if last > first else count / wall
    return (
        f"{count:>5} calls in {wall:6.2f} s = {count / wall:6.1f}/s of ideal {ideal:5.1f}/s: "
        f"efficiency {count / wall / ideal:.3f}, steady {steady / ideal:.3f}, failed {failed}; "
        f"CPU ms/call client {client_cpu_s * 1000 / count:.2f} "
        f"server {server_cpu_used * 1000 / count:.2f}",
        count / wall / ideal,
        steady / ideal,
    )


def client_cpu_s() -> float:
    """CPU seconds of this process and of its waited-for children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def part_d(args: argparse.Namespace, folder: Path) -> None:
    levels = [int(x) for x in args.pool_levels.split(",")]
    worker_counts = [int(x) for x in args.pool_workers.split(",")]
    most = max(levels) * args.pool_rounds
    print(
        f"(d) processes: {args.latency:g} s mean latency (+/- {args.jitter:.0%}), "
        f"{args.pool_rounds} calls per slot; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the start (other work on the machine shares them)"
    )
    docs = copied_docs(folder, copies=max(1, -(-most // 900)))
    template = folder / "d-template.sqlite"
    with Ledger.open(template) as ledger:
        ingest_folder(ledger, docs)
    scope = load_scope(docs / "scope.toml")
    results: dict[tuple[int, str], tuple[float, float]] = {}
    with fake_server(args.latency, jitter=args.jitter) as url:
        for concurrency in levels:
            count = concurrency * args.pool_rounds
            settings = GenerateSettings(
                model="bench",
                mode="tools",  # fixed: ``auto`` would add its check calls to the figures
                concurrency=concurrency,
                per_chunk=1,
                timeout_s=60.0,
                backoff_initial_s=0.05,
                backoff_max_s=1.0,
                base_url=url,
                api_key="sk-bench",
                limit=count,
            )
            for label, workers in [("single process", 0)] + [
                (f"{n} worker{'s' if n > 1 else ''}", n) for n in worker_counts
            ]:
                path = folder / f"d-{concurrency}-{workers}.sqlite"
                path.write_bytes(template.read_bytes())
                before, server_cpu = stats(url), server_cpu_s()
                # Client CPU: this process's for the single process, the workers' (waited
                # for, so counted in RUSAGE_CHILDREN) for a pool; planning and start-up in.
                cpu_before = client_cpu_s()
                with Ledger.open(path) as ledger:
                    if workers:
                        run_pool(ledger, scope, settings, workers, pipeline.SilentObserver())
                    else:
                        pipeline.run(ledger, scope, settings)
                line, whole, steady = pool_figures(
                    path, url, before, concurrency, client_cpu_s() - cpu_before, server_cpu
                )
                results[(concurrency, label)] = (whole, steady)
                print(f"  {concurrency:>3} in flight, {label:<14} {line}", flush=True)
    print("  efficiency (whole run / steady state), and against the single process:")
    labels = ["single process"] + [f"{n} worker{'s' if n > 1 else ''}" for n in worker_counts]
    print("  in flight  " + "".join(f"{label:>26}" for label in labels))
    for concurrency in levels:
        base_whole, base_steady = results[(concurrency, "single process")]
        cells = []
        for label in labels:
            whole, steady = results[(concurrency, label)]
            cells.append(
                f"{whole:.3f}/{steady:.3f} ({whole / base_whole:.2f}x/{steady / base_steady:.2f}x)"
            )
        print(f"  {concurrency:>9}  " + "".join(f"{cell:>26}" for cell in cells))


if __name__ == "__main__":
    main()
