"""Benchmark drawing one draft: the card and the source pane's text for every draft in a ledger.

    PYTHONPATH=. python bench/review_render.py LEDGER [--rounds 3]

Prints, per round, p50 / p95 / max milliseconds of ``card_text`` + ``source_text`` per draft
(control characters made visible, findings, evidence spans in the source). This is the part of
a keypress that grows with the draft and its chunk; bench/review.py measures the whole keypress.
The evidence-span cache is cleared before each draft, so every figure is a first draw.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger import Ledger  # noqa: E402
from ledger.queue import ReviewItem  # noqa: E402
from ledger.text import folded_spans  # noqa: E402
from tui.render import card_text, source_text  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    items = []
    with Ledger.open(args.ledger, must_exist=True, read_only=True) as ledger:
        for draft_id, chunk_id in ledger.query("SELECT id, chunk_id FROM drafts"):
            draft = ledger.get_draft(draft_id)
            if draft is not None:
                items.append(ReviewItem(0, draft, ledger.get_chunk(chunk_id), "doc", False, False))
    if not items:
        print("no drafts in the ledger", file=sys.stderr)
        return 1
    for round_ in range(1, args.rounds + 1):
        times = []
        for item in items:
            folded_spans.cache_clear()
            started = time.perf_counter()
            card_text(item, None, held=True)
            source_text(item)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        print(
            f"round {round_}: {len(items)} drafts, card + source per draft: "
            f"p50 {statistics.median(times):.3f} ms, p95 {times[int(0.95 * len(times))]:.3f} ms, "
            f"max {times[-1]:.3f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
