"""How well the probe's code judge tells right answers from wrong ones, per corpus and kind.

For each docs folder (default ``product_docs/`` and every ``../shared/corpora/*/docs``):
copy it, draft a scope file with ``draftgate init`` when it has none, ingest, draft with the
rules drafter (no endpoint), sign every draft off, export holding half of each kind out, then
judge every probe (eval and held out) in process, three ways:

- its own signed answer (a model that answers exactly as signed): the share that passes;
  every failure here is a false alarm of the judge;
- another probe's signed answer of the same kind, drawn with a fixed seed: the share caught;
- "Yes, you can do that: open the Dashboard and click Enable.": the share caught.

Prints one row per corpus and kind. No HTTP: the asking path is measured by bench/probe.py.

    PYTHONPATH=. python bench/probe_judge.py [DOCS ...]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from draftgate.cli import main as draftgate  # noqa: E402
from ledger import DecisionIn, Ledger, Verdict  # noqa: E402
from probe.cases import build_cases, find_export  # noqa: E402
from probe.judge import ProbeSubject, judge  # noqa: E402

CLAIM = "Yes, you can do that: open the Dashboard and click Enable."


def default_folders() -> list[Path]:
    return [REPO / "product_docs", *sorted((REPO.parent / "shared" / "corpora").glob("*/docs"))]


def corpus_rows(docs: Path, work: Path) -> dict[str, list[int]]:
    copy = work / "docs"
    shutil.copytree(docs, copy)
    # A new user's folder: no config of ours, no endpoint (the rules drafter drafts).
    os.chdir(work)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        os.environ.pop(name, None)
    ledger_path = str(work / "ledger.sqlite")
    quiet = ["--ledger", ledger_path]
    if not (copy / "scope.toml").exists():
        draftgate([*quiet, "init", str(copy)])
    draftgate([*quiet, "ingest", str(copy)])
    draftgate([*quiet, "generate", "--quiet"])
    with Ledger.open(ledger_path) as ledger:
        for _, draft in ledger.pending_drafts(limit=1_000_000):
            ledger.record_decision(
                DecisionIn(draft_id=draft.id, reviewer="bench", verdict=Verdict.APPROVE)
            )
    draftgate([*quiet, "export", "--out", str(work / "export"), "--hold-out", "0.5"])
    # probes, own passes, others tried, others caught, claims caught
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    rng = random.Random(0)
    with Ledger.open(ledger_path) as ledger:
        cases = build_cases(ledger, find_export(ledger, None), "bench")

        def in_docs(name: str) -> bool:
            return bool(ledger.search_chunks(name, limit=1))

        by_kind = defaultdict(list)
        for case in cases:
            by_kind[case.subtype or case.kind].append(case.reference)
        for case in cases:
            kind = case.subtype or case.kind
            subject = ProbeSubject(
                case.kind, case.subtype, case.question, case.reference, case.meta,
                case.chunk_text, case.canary,
            )  # fmt: skip
            others = [r for r in by_kind[kind] if r != case.reference]
            row = rows[kind]
            row[0] += 1
            row[1] += judge(subject, case.reference, corpus_search=in_docs).passed
            if others:  # a lone probe of its kind has no other answer to be tried with
                row[2] += 1
                row[3] += not judge(subject, rng.choice(others), corpus_search=in_docs).passed
            row[4] += not judge(subject, CLAIM, corpus_search=in_docs).passed
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("docs", nargs="*", type=Path)
    args = parser.parse_args()
    print(f"{'corpus':<14} {'kind':<17} {'probes':>6} {'own passes':>10} {'other caught':>12}"
          f" {'claim caught':>12}")  # fmt: skip
    for docs in args.docs or default_folders():
        name = docs.parent.name if docs.name == "docs" else docs.name
        with tempfile.TemporaryDirectory() as folder:
            rows = corpus_rows(docs.resolve(), Path(folder))
            os.chdir(REPO)
        for kind, (probes, own, tried, other, claim) in sorted(rows.items()):
            caught = f"{other / tried:.1%}" if tried else "n/a"
            print(f"{name:<14} {kind:<17} {probes:>6} {own / probes:>10.1%}"
                  f" {caught:>12} {claim / probes:>12.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
