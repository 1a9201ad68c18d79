"""Probe benchmark against the loopback server, run in its own process.

Builds a ledger of N signed-off Q&As, exports it holding half out, and runs ``run_probe`` (ask,
judge in code, store the run and the failure drafts) at several concurrency levels against a
server that answers every question after a fixed latency. Prints per level: probes, wall time,
probes per second against the ideal (concurrency / latency), and the time after the last answer
(judging, storing the run and its drafts, building the report).

    PYTHONPATH=. python bench/probe.py [--drafts 400] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from export import ExportOptions, export  # noqa: E402
from ledger import DecisionIn, DraftIn, DraftKind, Ledger, Verdict  # noqa: E402
from ledger.probes import probe_answers, probe_runs  # noqa: E402
from probe import AskSettings, ProbeOptions, run_probe  # noqa: E402
from tests.support.builders import add_document, add_drafts  # noqa: E402

ANSWER = "Open Settings > Billing > Invoices to download each invoice."


class Timing:
    """A progress that notes when the last answer came in."""

    def __init__(self) -> None:
        self.last_answer = 0.0

    def begin(self, total: int, what: str) -> None:
        pass

    def advance(self, done: int) -> None:
        self.last_answer = time.perf_counter()


def build(path: Path, count: int) -> None:
    with Ledger.open(path) as ledger:
        chunk = add_document(ledger)[0]
        drafts = [
            DraftIn(
                kind=DraftKind.QA,
                question=f"How do I get invoice batch {i}?",
                answer=f"Open **Settings > Billing > Invoices** and pick batch {i} to download it.",
            )
            for i in range(count)
        ]
        for draft_id in add_drafts(ledger, chunk, drafts):
            ledger.record_decision(
                DecisionIn(draft_id=draft_id, reviewer="ann", verdict=Verdict.APPROVE)
            )
        export(ledger, ExportOptions(format="openai", out_dir=path.parent / "export", hold_out=0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--levels", default="1,8,32")
    args = parser.parse_args()
    argv = [sys.executable, "-m", "tests.support.fake_openai", "--latency", str(args.latency),
            "--plain-answer", ANSWER]  # fmt: skip
    server = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        base_url = f"http://127.0.0.1:{port}/v1"
        columns = ("concurrency", "probes", "errors", "wall s", "probes/s", "ideal/s", "p50 ms",
                   "p99 ms", "after last answer s")  # fmt: skip
        widths = (11, 6, 6, 7, 8, 8, 7, 7, 20)
        print(" ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
        for level in (int(x) for x in args.levels.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "ledger.sqlite"
                build(path, args.drafts)
                options = ProbeOptions(
                    ask=AskSettings(base_url=base_url, api_key=None, model="m", concurrency=level)
                )
                timing = Timing()
                with Ledger.open(path) as ledger:
                    started = time.perf_counter()
                    report = run_probe(ledger, options, timing)
                    ended = time.perf_counter()
                wall = ended - started
                probes = report.totals.probes
                ideal = level / args.latency
                after = ended - timing.last_answer
                with Ledger.open(path) as ledger:
                    [run] = probe_runs(ledger)
                    latencies = sorted(a["latency_ms"] for a in probe_answers(ledger, run["id"]))
                p50 = latencies[len(latencies) // 2]
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                print(f"{level:>11} {probes:>6} {report.totals.errors:>6} {wall:>7.2f}"
                      f" {probes / wall:>8.1f} {ideal:>8.1f} {p50:>7.0f} {p99:>7.0f}"
                      f" {after:>20.3f}")  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
