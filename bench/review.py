"""Benchmark the review app on a large ledger.

    PYTHONPATH=. python bench/review.py [--drafts 100000] [--decided 0] [--presses 200]
        [--order created|doc|kind|risk]

Fills a fresh ledger with N drafts through the ledger API (batched generation calls), optionally
decides the first D of them, then runs the real review app headless in a child process (so its
peak memory is the app's alone) and prints:

- start-up: from constructing the app to the first draft rendered (measured inside the app);
- keypress → next draft rendered, p50/p95/max over the approvals: from the approve action to
  the refresh that shows the next draft (call_after_refresh), which includes the decision's
  commit on the session's ledger worker; pilot.press's own idle wait (~60 ms) is not part of it;
- help opening: "?" pressed → help screen painted, over a few openings (measured inside the
  app);
- peak resident memory of the app process (VmHWM) and the Python heap peak (tracemalloc) while the
  queue is open.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ledger import (  # noqa: E402
    ChunkIn,
    DecisionIn,
    DraftIn,
    DraftKind,
    GenerationCall,
    Ledger,
    Verdict,
    utc_now,
)
from ledger.ids import new_event_id, text_hash  # noqa: E402
from review.order import ORDERS, Order  # noqa: E402

BATCH = 1000
KINDS = [DraftKind.QA, DraftKind.NEGATIVE, DraftKind.ADVERSARIAL, DraftKind.CLARIFY]


def fill(path: Path, drafts: int, decided: int) -> None:
    started = time.perf_counter()
    with Ledger.open(path) as ledger:
        chunks = [
            ChunkIn(
                heading_path=["Guide", f"Section {i}"],
                start_line=i * 10 + 1,
                end_line=i * 10 + 8,
                text=f"## Section {i}\n\nOpen **Settings > Area {i}** to change option {i}.",
            )
            for i in range(50)
        ]
        ledger.ingest_document("docs/guide.md", text_hash("guide"), "Guide", 5000, chunks)
        chunk_ids = [c.id for c in ledger.current_chunks()]
        made = 0
        while made < drafts:
            size = min(BATCH, drafts - made)
            kind = KINDS[(made // BATCH) % len(KINDS)]
            chunk_id = chunk_ids[(made // BATCH) % len(chunk_ids)]
            batch = [
                DraftIn(
                    kind=kind,
                    question=f"How do I change option {made + i}?",
                    answer=f"Open Settings > Area {(made + i) % 50} and change option {made + i}.",
                    evidence=[f"Open **Settings > Area {(made + i) % 50}**"],
                )
                for i in range(size)
            ]
            now = utc_now()
            call = GenerationCall(
                id=new_event_id(),
                job_key=new_event_id(),
                kind=kind,
                chunk_id=chunk_id,
                drafter="bench",
                template_name=f"{kind.value}.j2",
                template_hash="b2:bench",
                model="bench",
                requested=size,
                started_at=now,
                finished_at=now,
            )
            ledger.record_call(call, batch)
            made += size
        filled = time.perf_counter()
        if decided:
            for _, draft in ledger.pending_drafts(limit=decided):
                ledger.record_decision(
                    DecisionIn(draft_id=draft.id, reviewer="earlier", verdict=Verdict.APPROVE)
                )
    print(
        f"filled {drafts:,} drafts in {filled - started:.1f} s"
        + (f", decided {decided:,} in {time.perf_counter() - filled:.1f} s" if decided else "")
    )


def peak_rss_mb() -> float:
    """This process's peak resident memory. /proc's VmHWM belongs to this program alone; Linux
    carries ru_maxrss over from the parent across fork+exec (here: the process that filled the
    ledger), so it is only the fallback."""
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.exists() else []
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


HELP_OPENINGS = 5


async def run_app(path: str, presses: int, trace: bool, order: Order) -> dict[str, Any]:
    if trace:
        tracemalloc.start()
    from tui.app import ReviewApp

    constructed = time.perf_counter()
    guidelines = (REPO / "tui" / "guidelines.md").read_text(encoding="utf-8")
    app = ReviewApp(path, "bench", guidelines=guidelines, order=order)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.first_render_at is None:
            await pilot.pause(0.005)
        startup = app.first_render_at - constructed
        for _ in range(presses):
            await pilot.press("a")
            while app.session.saving or app.session.waiting_for_next:
                await pilot.pause(0.001)
        latencies = sorted(app.latencies_ms)
        for _ in range(HELP_OPENINGS):
            opened = len(app.help_open_ms)
            await pilot.press("question_mark")
            while len(app.help_open_ms) == opened:
                await pilot.pause(0.005)
            await pilot.press("escape")
        await pilot.press("q")
    _, heap_peak = tracemalloc.get_traced_memory()
    return {
        "startup_s": startup,
        "presses": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
        "help_ms": app.help_open_ms,
        "maxrss_mb": peak_rss_mb(),
        "heap_peak_mb": heap_peak / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=100_000)
    parser.add_argument("--decided", type=int, default=0)
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--order", default="created", choices=ORDERS)
    parser.add_argument("--run-app", metavar="LEDGER", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_app:
        print(json.dumps(asyncio.run(run_app(args.run_app, args.presses, args.trace, args.order))))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.sqlite"
        fill(path, args.drafts, args.decided)
        command = [sys.executable, __file__, "--run-app", str(path), "--order", args.order]
        child = subprocess.run(
            [*command, "--presses", str(args.presses)], capture_output=True, text=True, check=True
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        # A second, short run with tracemalloc on (it slows Python down, so not for timings).
        traced = subprocess.run(
            [*command, "--presses", "20", "--trace"], capture_output=True, text=True, check=True
        )
        result["heap_peak_mb"] = json.loads(traced.stdout.strip().splitlines()[-1])["heap_peak_mb"]
    print(f"app start-up (construct → first draft rendered): {result['startup_s'] * 1000:.0f} ms")
    print(
        f"keypress → next draft rendered over {result['presses']} approvals: "
        f"p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
        f"max {result['max_ms']:.1f} ms"
    )
    help_ms = result["help_ms"]  # in opening order
    print(
        f"help opening ('?' → help painted): first {help_ms[0]:.0f} ms, then median "
        f"{statistics.median(help_ms[1:]):.0f} ms, max {max(help_ms[1:]):.0f} ms "
        f"over {len(help_ms) - 1} more openings"
    )
    print(
        f"app peak memory: resident {result['maxrss_mb']:.0f} MB, "
        f"Python heap peak {result['heap_peak_mb']:.1f} MB (tracemalloc, 20 approvals)"
    )


if __name__ == "__main__":
    main()
