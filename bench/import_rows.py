"""Import at scale: rows of a production log into a ledger holding the sample docs.

Prints the time of the first import (grounding every row against the docs), of a rerun (which
imports nothing), and the time per row; half the rows are about the docs, half are not.

    PYTHONPATH=. python bench/import_rows.py [--rows 5000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from generator.importer import import_file
from generator.ingest import ingest_folder
from ledger import Ledger

SAMPLE_DOCS = Path(__file__).resolve().parents[1] / "product_docs"
ABOUT_DOCS = [
    ("How do I copy last week's shifts?", "Click Copy week in Schedule > Week view."),
    ("Where do I manage shift templates?", "Under Settings > Scheduling > Shift templates."),
    ("Can I export payroll?", "Open the Dashboard and pick Payroll export."),
]
NOT_ABOUT_DOCS = [
    ("What colour is the sky?", "Blue, mostly."),
    ("Who won the match last night?", "I cannot say."),
]


def write_log(path: Path, rows: int) -> None:
    pick = random.Random(7)
    with open(path, "w", encoding="utf-8") as handle:
        for index in range(rows):
            pool = ABOUT_DOCS if index % 2 == 0 else NOT_ABOUT_DOCS
            question, answer = pick.choice(pool)
            line = {
                "prompt": f"{question} (case {index})",
                "response": answer,
                "thumbs": pick.choice(["up", "down"]),
            }
            handle.write(json.dumps(line) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as folder:
        ledger = Ledger.open(Path(folder) / "ledger.sqlite")
        ingest_folder(ledger, str(SAMPLE_DOCS))
        log = Path(folder) / "prod.jsonl"
        write_log(log, args.rows)
        start = time.perf_counter()
        report = import_file(ledger, log)
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = import_file(ledger, log)
        rerun = time.perf_counter() - start
        ledger.close()
    print(f"rows: {args.rows}")
    print(f"first import: {first:.2f} s ({first / args.rows * 1000:.2f} ms per row)")
    print(f"  grounded {report.grounded}, ungrounded {report.ungrounded}, bad {len(report.bad)}")
    print(f"rerun: {rerun:.2f} s, imported {again.imported}, before {again.already_imported}")


if __name__ == "__main__":
    main()
