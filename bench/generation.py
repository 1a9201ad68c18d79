"""Generation benchmark against the loopback OpenAI-compatible server, run in its own process.

Prints:
 (a) throughput at concurrency 1, 16, 64, 256 with 1 s mean injected latency, as efficiency
     against the ideal (concurrency / mean latency); each reply's latency varies by +/- 25%
     (``--jitter``) as a real endpoint's does, so workers are not held in lock-step waves;
     ``--jitter 0`` gives the fixed-latency figures;
 (b) client CPU ms per call of the whole generate path (prompt rendering, instructor +
     validation, corpus checks, dedup, the ledger writer) beside a bare instructor call loop
     with the same request and response model, in the same run, and their ratio;
 (c) with an RPM budget, the achieved rate against the budget and the 429s the server sent.

    PYTHONPATH=. python bench/generation.py            # about two minutes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generator.client import ClientSettings, LLMClient, prepared_response_model  # noqa: E402
from generator.dedup import DedupIndex  # noqa: E402
from generator.ingest import ingest_folder  # noqa: E402
from generator.pacing import Pacer  # noqa: E402
from generator.prompts import PromptSet  # noqa: E402
from generator.runner import DraftChecker, Job, plan_jobs, run_jobs  # noqa: E402
from generator.schemas import REPLY_MODELS  # noqa: E402
from generator.scope import load_scope  # noqa: E402
from ledger import Ledger  # noqa: E402

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
    plan = plan_jobs(
        ledger,
        SCOPE,
        PromptSet(),
        kinds=kinds,
        per_chunk=1,
        model="bench",
        params={"temperature": 0.7, "mode": "tools"},
        limit=count,
    )
    assert len(plan.jobs) == count, f"only {len(plan.jobs)} jobs available"
    return plan.jobs


def client_for(base_url: str, timeout: float = 30.0) -> LLMClient:
    return LLMClient(
        ClientSettings(
            base_url,
            "sk-bench",
            "bench",
            timeout_s=timeout,
            backoff_initial_s=0.05,
            backoff_max_s=1.0,
        )
    )


async def run(
    ledger: Ledger,
    base_url: str,
    jobs: list[Job],
    concurrency: int,
    rpm: int | None = None,
    done_at: list[float] | None = None,
) -> tuple[float, float, Any]:
    client = client_for(base_url)
    checker = DraftChecker(ledger, SCOPE, DedupIndex())
    stamps = done_at if done_at is not None else []
    try:
        # One untimed call first: connection set-up and instructor's schema caches.
        warm = jobs[0]
        await client.draft(
            warm.prompt.messages, REPLY_MODELS[warm.kind], warm.context, {"temperature": 0.7}
        )
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
    base_url: str, jobs: list[Job], concurrency: int, started: list[float] | None = None
) -> float:
    """The same calls through instructor alone: no pacing, checks, dedup or ledger.

    It hands instructor the response model the way the generate path does (wrapped once per
    kind), so the floor is the library used at its best, not a slower use of it.
    """
    client = client_for(base_url)
    queue = list(jobs)
    await client.openai.models.list()  # untimed: connection set-up

    async def worker() -> None:
        while queue:
            job = queue.pop()
            await client.client.create_with_completion(
                response_model=prepared_response_model(REPLY_MODELS[job.kind]),
                max_retries=2,
                context=job.context,
                **client.request_kwargs(job.prompt.messages, {"temperature": 0.7}),
            )

    try:
        cpu = time.process_time()
        if started is not None:
            started.append(time.perf_counter())
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.process_time() - cpu
    finally:
        await client.close()


def stats(base_url: str) -> dict[str, int]:
    with urllib.request.urlopen(base_url + "/_stats") as response:  # noqa: S310 - loopback
        return dict(json.loads(response.read()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument(
        "--jitter", type=float, default=0.25, help="latency spread in (a), fraction of it"
    )
    parser.add_argument("--rounds", type=int, default=6, help="jobs per worker in (a)")
    parser.add_argument("--max-jobs", type=int, default=768, help="cap on jobs per level")
    parser.add_argument("--cpu-calls", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3, help="alternations in (b)")
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--rpm-seconds", type=float, default=30.0)
    parser.add_argument("--parts", default="abc", help="which parts to run, e.g. 'c'")
    args = parser.parse_args()
    kinds = ["qa", "negative", "adversarial", "clarify"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "a" in args.parts:
            part_a(args, folder, kinds)
        if "b" in args.parts:
            part_b(args, folder, kinds)
        if "c" in args.parts:
            part_c(args, folder, kinds)


def part_a(args: argparse.Namespace, folder: Path, kinds: list[str]) -> None:
    print(
        f"(a) throughput, {args.latency:g} s mean injected latency (+/- {args.jitter:.0%}), "
        f"{args.rounds} jobs/worker"
    )
    with fake_server(args.latency, jitter=args.jitter) as url:
        for concurrency in (1, 16, 64, 256):
            ledger = fresh_ledger(folder, f"a{concurrency}")
            count = min(concurrency * args.rounds, args.max_jobs)
            jobs = jobs_for(ledger, count, kinds)
            stamps: list[float] = []
            server_cpu = server_cpu_s()
            wall, cpu, report = asyncio.run(run(ledger, url, jobs, concurrency, done_at=stamps))
            ideal = concurrency / args.latency
            rate = count / wall
            # Steady state: the completions while every worker is busy, i.e. from the
            # concurrency-th completion (the first wave is in) to the (count - concurrency)-th
            # (its worker takes the last queued job), over the time between them. It leaves
            # out the start, when nothing can have finished yet, and the tail, when workers
            # run dry and the slowest latency of the last wave decides the end.
            first, last = concurrency, count - concurrency
            steady = (last - first) / (stamps[last] - stamps[first]) if last > first else rate
            failed = sum(report.calls_failed.values())
            server_ms = (server_cpu_s() - server_cpu) * 1000 / count
            print(
                f"  concurrency {concurrency:>3}: {count:>4} calls in {wall:6.2f} s = "
                f"{rate:7.2f}/s, ideal {ideal:6.1f}/s, efficiency {rate / ideal:.3f} "
                f"(steady state {steady / ideal:.3f}), "
                f"CPU ms/call client {cpu * 1000 / count:.2f} server {server_ms:.2f}, "
                f"failed {failed}"
            )
            if concurrency == 64:
                # The library floor at the same concurrency: instructor alone, same calls.
                bare_s = asyncio.run(bare_wall(url, jobs, concurrency))
                print(
                    f"  bare instructor loop at concurrency 64: {count} calls in "
                    f"{bare_s:.2f} s, efficiency {count / bare_s / ideal:.3f}"
                )
            ledger.close()


async def bare_wall(base_url: str, jobs: list[Job], concurrency: int) -> float:
    stamps: list[float] = []
    await bare_loop(base_url, jobs, concurrency, started=stamps)
    return time.perf_counter() - stamps[0]


def part_b(args: argparse.Namespace, folder: Path, kinds: list[str]) -> None:
    print(f"(b) client CPU per call, {args.cpu_calls} calls, no latency, concurrency 8")
    with fake_server(0.0) as url:
        ledger = fresh_ledger(folder, "b")
        jobs = jobs_for(ledger, args.cpu_calls, kinds)
        asyncio.run(bare_loop(url, jobs, 8))  # warms imports and caches
        # The box is shared: alternate the two measurements and keep each one's best.
        bares, fulls = [], []
        for rep in range(args.repeats):
            bares.append(asyncio.run(bare_loop(url, jobs, 8)) * 1000 / len(jobs))
            rep_ledger = fresh_ledger(folder, f"b{rep}")
            _wall, full_cpu, report = asyncio.run(
                run(rep_ledger, url, jobs_for(rep_ledger, args.cpu_calls, kinds), 8)
            )
            fulls.append(full_cpu * 1000 / len(jobs))
            rep_ledger.close()
        bare, full = min(bares), min(fulls)
        runs_bare = ", ".join(f"{x:.2f}" for x in bares)
        runs_full = ", ".join(f"{x:.2f}" for x in fulls)
        print(f"  bare instructor loop: {bare:.2f} ms/call (runs: {runs_bare})")
        print(f"  whole generate path: {full:.2f} ms/call (runs: {runs_full})")
        print(f"  ratio {full / bare:.3f} (ok calls in the last run {report.calls_ok})")
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


if __name__ == "__main__":
    main()
