"""Answer checks on real docs: how often ordinary doc text trips them, and what they cost.

For each docs folder (default: ``product_docs/`` and every ``../shared/corpora/*/docs``) the
folder is ingested into a temporary ledger, and then:

- every doc sentence is checked as if it were an answer drafted from its own chunk: a
  blocking finding on ordinary doc text is a false alarm (it would make the model re-ask an
  honest answer), so the blocking count should be the AI-addressed sentences and no more;
- the sentences addressed to an AI (what ingest would flag) are counted and shown, cut to 90
  characters, for a person to judge;
- the CPU time of ``blocking_findings`` (the part run inside validation, on every reply) and
  of ``check_answer`` with a cached corpus search is printed per answer.

    PYTHONPATH=. python bench/answer_checks.py [DOCS_DIR ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generator.checks import (  # noqa: E402
    ai_addressed_sentences,
    blocking_findings,
    check_answer,
)
from generator.ingest import ingest_folder  # noqa: E402
from generator.prompts import PromptSet  # noqa: E402
from ledger import Ledger  # noqa: E402

SENTENCE_MIN_CHARS = 20
SHOWN = 90


def default_folders() -> list[Path]:
    corpora = sorted((REPO.parent / "shared" / "corpora").glob("*/docs"))
    return [REPO / "product_docs", *corpora]


def sentences_of(text: str) -> list[str]:
    """Prose sentences of a chunk (lines that are not headings, code fences or tables)."""
    prose = " ".join(
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "```", "|", "<", "import "))
    )
    parts = [p.strip() for p in prose.replace("? ", "?\n").replace(". ", ".\n").split("\n")]
    return [p for p in parts if len(p) >= SENTENCE_MIN_CHARS]


def bench_folder(folder: Path, phrases: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(Path(tmp) / "l.sqlite") as ledger:
        ingest_folder(ledger, folder)
        chunks = ledger.current_chunks()
        cache: dict[str, bool] = {}

        def corpus_search(name: str) -> bool:
            if name not in cache:
                cache[name] = bool(ledger.search_chunks(name, limit=1))
            return cache[name]

        pairs = [(s, c.text) for c in chunks for s in sentences_of(c.text)]
        flagged = [s for c in chunks for s in ai_addressed_sentences(c.text)]
        started = time.process_time()
        blocking = Counter(
            f.check for answer, chunk in pairs for f in blocking_findings(answer, chunk, phrases)
        )
        blocking_s = time.process_time() - started
        started = time.process_time()
        recorded = Counter(
            f.check
            for answer, chunk in pairs
            for f in check_answer(
                answer, chunk, corpus_search=corpus_search, prompt_phrases=phrases
            )
            if not f.blocking
        )
        full_s = time.process_time() - started
    if not pairs:
        print(f"{folder}: {len(chunks)} chunks, no prose sentences (no file type ingest reads?)")
        return
    n = len(pairs)
    print(f"{folder}: {len(chunks)} chunks, {len(pairs)} prose sentences checked as answers")
    print(f"  blocking findings on doc sentences: {dict(blocking) or 0}")
    print(f"  recorded findings on doc sentences: {dict(recorded) or 0} (markup is expected here)")
    print(f"  sentences addressed to an AI: {len(flagged)}")
    for sentence in flagged[:5]:
        print(f"    - {sentence[:SHOWN]}")
    print(
        f"  CPU per answer: blocking checks {blocking_s / n * 1e6:.0f} us, "
        f"all checks {full_s / n * 1e6:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="*", type=Path)
    args = parser.parse_args()
    prompts = PromptSet()
    phrases = tuple(
        dict.fromkeys(p for k in ("qa", "adversarial") for p in prompts.prompt_phrases(k))
    )
    for folder in args.folders or default_folders():
        bench_folder(folder, phrases)


if __name__ == "__main__":
    main()
