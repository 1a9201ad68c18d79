"""Export and audit at scale: 100,000 signed-off records by default.

Prints the time of each export format, of the audit, and each phase's peak memory (RSS of a
fresh process running only that phase, so the numbers are not polluted by filling the ledger).

    PYTHONPATH=. python bench/export_audit.py [--records 100000] [--workdir DIR]

Targets (issue 5): JSONL + parquet export <= 5 s, audit <= 10 s, memory flat in the record count.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ledger import ChunkIn, DecisionIn, DraftIn, DraftKind, GenerationCall, Ledger, Verdict, utc_now
from ledger.ids import new_event_id, text_hash

DOCUMENTS = 20
CHUNKS_PER_DOCUMENT = 5
DRAFTS_PER_CALL = 500
EDIT_EVERY = 10  # one record in ten is an edit, so exports read final text too
FORMATS = ("openai", "sharegpt", "alpaca", "hf")


def fill(path: Path, records: int) -> None:
    """Signed-off drafts through the public ledger API: calls of 500 drafts, one decision each."""
    ledger = Ledger.open(path)
    chunk_ids = []
    for d in range(DOCUMENTS):
        chunks = [
            ChunkIn(
                heading_path=[f"Section {c}"],
                start_line=1 + 10 * c,
                end_line=8 + 10 * c,
                text=f"## Section {c}\n\nDocument {d} section {c}: open **Settings > Area {c}**.",
            )
            for c in range(CHUNKS_PER_DOCUMENT)
        ]
        outcome = ledger.ingest_document(
            f"docs/doc-{d:02}.md", text_hash(str(d)), f"Doc {d}", 1, chunks
        )
        chunk_ids += [c.id for c in ledger.current_chunks() if c.document_id == outcome.document_id]
    kinds = list(DraftKind)
    made = 0
    call_index = 0
    while made < records:
        count = min(DRAFTS_PER_CALL, records - made)
        kind = kinds[call_index % len(kinds)]
        chunk = chunk_ids[call_index % len(chunk_ids)]
        drafts = [
            DraftIn(
                kind=kind,
                question=f"How do I change setting {made + i} in area {call_index}?",
                answer=f"Open Settings > Area {call_index % 5} and change setting {made + i}. "
                "Changes apply to every location at once.",
            )
            for i in range(count)
        ]
        now = utc_now()
        call = GenerationCall(
            id=new_event_id(), job_key=new_event_id(), kind=kind, chunk_id=chunk, drafter="bench",
            template_name=f"{kind.value}.j2", template_hash="b2:bench", model="bench-model",
            requested=count, started_at=now, finished_at=now,
        )  # fmt: skip
        stored = ledger.record_call(call, drafts).stored_draft_ids
        for i, draft_id in enumerate(stored):
            if (made + i) % EDIT_EVERY == 0:
                decision = DecisionIn(
                    draft_id=draft_id, reviewer="bench", verdict=Verdict.EDIT,
                    final_question=f"Edited question {made + i}?", final_answer="Edited answer.",
                )  # fmt: skip
            else:
                decision = DecisionIn(draft_id=draft_id, reviewer="bench", verdict=Verdict.APPROVE)
            ledger.record_decision(decision)
        made += len(stored)
        call_index += 1
    ledger.close()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_peak_rss_mb() -> float:
    """Peak of the largest finished child: the audit's quality worker on a large ledger."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def rss_split_mb() -> dict[str, float]:
    """Resident memory now, split into heap (anonymous) and file-backed pages: memory-mapped
    Arrow files (datasets) count in RSS but are page cache, not the process's own memory."""
    status = Path("/proc/self/status")
    if not status.exists():
        return {}
    fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
    return {
        key: int(fields[key].split()[0]) / 1024 for key in ("RssAnon", "RssFile") if key in fields
    }


def phase(args: argparse.Namespace) -> None:
    """Run one measured phase in this (fresh) process and print one JSON line."""
    # Imports first, so the timing covers the work, not loading pyarrow/datasets.
    import datasets  # noqa: F401
    import pyarrow  # noqa: F401

    from audit import build_audit
    from export import ExportOptions, export

    ledger = Ledger.open(args.ledger)
    baseline = peak_rss_mb()
    started = time.perf_counter()
    if args.phase == "export":
        result = export(
            ledger, ExportOptions(format=args.format, out_dir=Path(args.out), command="bench")
        )
        detail = {"records": result.record_count}
    else:
        audit = build_audit(
            ledger, [Path(p) for p in args.export_dirs], fast_decision_ms=2000, target_mix={},
            glossary_names=[],
        )  # fmt: skip
        detail = {
            "ok": audit.integrity.ok,
            "breaks": len(audit.integrity.breaks),
            "provenance": len(audit.provenance),
            "quality": audit.quality.totals.signed_off_examples > 0,
        }
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_rss_mb(), "baseline_mb": baseline,
                      "worker_peak_mb": worker_peak_rss_mb(), **rss_split_mb(),
                      **detail}))  # fmt: skip


def run_phase(*extra: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *extra], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workdir", help="keep the ledger and exports here (default: a temp dir)")
    parser.add_argument("--phase", choices=("export", "audit"), help=argparse.SUPPRESS)
    parser.add_argument("--ledger", help=argparse.SUPPRESS)
    parser.add_argument("--format", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--export-dirs", nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="draftgate-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ledger_path = workdir / f"ledger-{args.records}.sqlite"
    if not ledger_path.exists():
        started = time.perf_counter()
        fill(ledger_path, args.records)
        print(f"filled {args.records} signed-off records in {time.perf_counter() - started:.1f} s")
    print(f"ledger {ledger_path}")
    stamp = str(int(time.time()))
    outs = {}
    for fmt in FORMATS:
        out = workdir / f"export-{fmt}-{stamp}"
        outs[fmt] = out
        r = run_phase("--phase", "export", "--ledger", str(ledger_path), "--format", fmt,
                      "--out", str(out))  # fmt: skip
        print(f"export {fmt:9} {r['records']:>7} records  {r['seconds']:6.2f} s  "
              f"peak RSS {r['peak_mb']:.0f} MB "
              f"(after imports {r['baseline_mb']:.0f} MB; at the end anon "
              f"{r.get('RssAnon', 0):.0f} MB, "
              f"file-backed {r.get('RssFile', 0):.0f} MB)")  # fmt: skip
    for label, dirs in (("openai", [outs["openai"]]), ("hf", [outs["hf"]])):
        r = run_phase("--phase", "audit", "--ledger", str(ledger_path), "--export-dirs",
                      *map(str, dirs))  # fmt: skip
        print(f"audit of the {label:6} export  {r['seconds']:6.2f} s  ok={r['ok']} "
              f"breaks={r['breaks']} provenance={r['provenance']} quality={r['quality']}  "
              f"peak RSS {r['peak_mb']:.0f} MB "
              f"(after imports {r['baseline_mb']:.0f} MB; quality worker "
              f"{r['worker_peak_mb']:.0f} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
