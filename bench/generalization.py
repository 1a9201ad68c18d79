"""How the offline rules drafter does on docs it was not written for.

    .venv/bin/python bench/generalization.py [DOCS ...] [--scope PATH] [--per-chunk 3]
        [--seed 14] [--sample-size 40] [--review-dir bench/data/generalization_review]
        [--print-sample CORPUS] [--write-samples DIR]

DOCS defaults to ``product_docs/`` and every ``../shared/corpora/*/docs`` beside the
repository. Each folder is copied into a temporary directory and run through the draftgate
CLI exactly as a new user would: ``ingest``, then a scope file, then ``generate`` with no LLM
endpoint (the rules drafter). The scope file is, in this order: ``--scope`` when given; what
``draftgate init`` drafts (when the command exists) into the temporary copy; ``scope.toml``
beside the docs (in the folder, or in its parent); else a minimal one that names only the
product (the folder's name, or its parent's when the folder is ``docs``, written the way the
docs most often write it). The results are read back through the ledger's read API.

Printed per corpus: chunks; drafts by kind and adversarial subtype; drafts per chunk; drops by
reason; the most repeated question template's share of its kind; answers with leftover markup;
answers naming UI names found nowhere in the docs or glossary (phantoms, the audit's check);
and the approvable fraction from a human review of a random sample of drafts.

Question templates. A question is lower-cased and split into words; the product's name becomes
``{P}``; every word that is not a function word (``FUNCTION_WORDS``: articles, pronouns,
auxiliaries, prepositions, question words and a few words questions are built from, such as
"way", "true", "heard") becomes ``_``, and a run of ``_`` is one ``_``. So "How do I export a
budget?" and "How do I rename a payee?" are both ``how do i _ a _``, while "What does X do?"
is ``what does _ do``. A kind whose top template holds more than a quarter of its drafts
leans on one phrasing.

Review sample. Drafts are identified by ``draft_hash`` (the first 12 hex digits of the SHA-256
of question, newline, answer); the sample is the ``--sample-size`` drafts with the smallest
SHA-256 of ``"<seed>:<draft_hash>"``, a random sample that keeps its members when the drafter
changes other drafts. ``--print-sample CORPUS`` prints that sample (question, answer,
evidence, source) as JSON lines for a reviewer; the verdicts live in
``<review-dir>/<corpus>.jsonl``, one row per draft: ``{"seed", "hash", "verdict", "reason"}``
with verdict ``approve`` (approvable as is), ``edit`` (needs an edit) or ``reject``. The
approvable fraction counts rows whose hash is in the current sample; sampled drafts with no
row (the drafter changed since the review) are reported as unreviewed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from generator.scope import SCOPE_FILE, load_scope  # noqa: E402
from ledger import Draft, Ledger  # noqa: E402
from ledger.text import ui_references  # noqa: E402

DEFAULT_REVIEW_DIR = REPO / "bench" / "data" / "generalization_review"
DRAFTGATE = [sys.executable, "-m", "draftgate"]
VERDICTS = ("approve", "edit", "reject")
# What every corpus should get: each kind, and each adversarial subtype.
EXPECTED_KINDS = (
    "qa",
    "negative",
    "clarify",
    "adversarial/wrong_ui_name",
    "adversarial/false_premise",
    "adversarial/prompt_injection",
    "adversarial/out_of_scope",
)

_FUNCTION_WORDS_TEXT = """
    a an the this that these those it its my me i we our you your they their there here
    is are was were be been being am do does did doing have has had can could would should
    will shall may might must not no yes
    how what where which who whom whose why when whether if or and but so than then
    to of in on at by for from with without into onto about as up down out off over under
    between after before during instead
    way true right heard happens happen mean means meant tell show get got
    any some all each every many much more most other another one only just also too very
    still already ever"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS_TEXT.split())

# Leftover site markup in an answer: emphasis markers, key notation, HTML or JSX tags (key
# notation in angle brackets such as <c-r> or <space> is text, not a tag), images, links,
# admonition and tab markers, heading markers.
_HTML_TAG_NAMES = (
    "a|abbr|b|br|code|details|div|em|figure|h[1-6]|hr|i|iframe|img|kbd|li|ol|p|pre|span"
    "|strong|sub|summary|sup|table|td|th|tr|u|ul|video"
)
MARKUP = {
    "bold": re.compile(r"\*\*|__\w"),
    "key notation": re.compile(r"\+\+[\w-]+(?:\+[\w-]+)*\+\+"),
    "html/jsx tag": re.compile(rf"</?(?:{_HTML_TAG_NAMES}|[A-Z][A-Za-z]+)(?:\s[^<>]*)?/?>"),
    "image": re.compile(r"!\[[^\]]*\]\("),
    "link": re.compile(r"\]\([^)\s]+\)"),
    "admonition": re.compile(r"(?m)^\s*(?::::|!!!|\?\?\?|===\s+\")"),
    "heading marker": re.compile(r"(?m)^#{1,6}\s"),
    "code fence": re.compile(r"```|~~~"),
}


def draft_hash(question: str, answer: str) -> str:
    return hashlib.sha256(f"{question}\n{answer}".encode()).hexdigest()[:12]


def template_of(question: str, product: str) -> str:
    text = question.lower()
    if product:
        text = re.sub(rf"(?<!\w){re.escape(product.lower())}(?!\w)", " {p} ", text)
    out: list[str] = []
    for word in re.findall(r"\{p\}|[a-z0-9'’+-]+", text):
        token = word if word == "{p}" or word in FUNCTION_WORDS else "_"
        if token == "_" and out and out[-1] == "_":
            continue
        out.append(token)
    return " ".join(out)


def markup_in(answer: str) -> list[str]:
    return [name for name, pattern in MARKUP.items() if pattern.search(answer)]


@dataclass
class CorpusResult:
    name: str
    product: str
    scope_source: str
    chunks: int = 0
    drafts: list[Draft] = field(default_factory=list)
    by_kind: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    top_template: dict[str, tuple[str, float, int]] = field(default_factory=dict)
    markup: Counter[str] = field(default_factory=Counter)
    markup_examples: list[str] = field(default_factory=list)
    phantoms: Counter[str] = field(default_factory=Counter)
    phantom_drafts: int = 0
    error: str = ""
    sources: dict[str, str] = field(default_factory=dict)  # chunk id -> doc:lines
    # The scope's does-not-offer entries: drafted as a negative, listed as dropped with a
    # reason, or neither.
    offers_drafted: list[str] = field(default_factory=list)
    offers_dropped: dict[str, str] = field(default_factory=dict)  # feature -> reason
    offers_missing: list[str] = field(default_factory=list)


def corpus_name(folder: Path) -> str:
    folder = folder.resolve()
    return folder.parent.name if folder.name == "docs" else folder.name


def product_name(folder: Path, name: str) -> str:
    """The corpus name as the docs most often write it ("lazygit", "Hoppscotch")."""
    spellings: Counter[str] = Counter()
    pattern = re.compile(rf"(?<![\w/.-]){re.escape(name)}(?![\w/-])", re.IGNORECASE)
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in {".md", ".mdx", ".markdown", ".txt"} and path.is_file():
            spellings.update(pattern.findall(path.read_text(encoding="utf-8", errors="replace")))
    return spellings.most_common(1)[0][0] if spellings else name.capitalize()


def has_init() -> bool:
    probe = subprocess.run([*DRAFTGATE, "init", "--help"], capture_output=True, cwd=REPO)
    return probe.returncode == 0


def draftgate(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DRAFTGATE_"))}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([*DRAFTGATE, *args], cwd=cwd, env=env, capture_output=True, text=True)


def prepare_scope(
    folder: Path, work: Path, docs: Path, explicit: Path | None, init: bool
) -> tuple[Path, str]:
    """The scope file to generate with, and where it came from."""
    target = docs / SCOPE_FILE
    if explicit is not None:
        shutil.copyfile(explicit, target)
        return target, f"--scope {explicit}"
    if init:
        target.unlink(missing_ok=True)
        done = draftgate(["init", str(docs)], work)
        if done.returncode == 0:
            return target, "draftgate init"
    for beside in (folder / SCOPE_FILE, folder.parent / SCOPE_FILE):
        if beside.is_file():
            shutil.copyfile(beside, target)
            return target, str(beside)
    name = product_name(folder, corpus_name(folder))
    target.write_text(f"[product]\nname = {json.dumps(name)}\n", encoding="utf-8")
    return target, "minimal (product name only)"


def run_corpus(
    folder: Path, tmp: Path, explicit: Path | None, init: bool, per_chunk: int
) -> CorpusResult:
    name = corpus_name(folder)
    work = tmp / name
    docs = work / "docs"
    shutil.copytree(folder, docs)
    scope_path, scope_source = prepare_scope(folder, work, docs, explicit, init)
    product = load_scope(scope_path).product.name
    result = CorpusResult(name, product, scope_source)
    ledger_path = work / "ledger.sqlite"
    for step in (
        ["--ledger", str(ledger_path), "ingest", str(docs)],
        [
            "--ledger",
            str(ledger_path),
            "generate",
            "--scope",
            str(scope_path),
            "--per-chunk",
            str(per_chunk),
            "--quiet",
        ],
    ):
        done = draftgate(step, work)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            result.error = f"{step[2]}: {lines[-1] if lines else f'exit {done.returncode}'}"
            return result
    scope = load_scope(scope_path)
    glossary = scope.glossary.names()
    with Ledger.open(ledger_path, read_only=True) as ledger:
        chunks = ledger.current_chunks()
        result.chunks = len(chunks)
        paths = {d.id: d.path for d in ledger.current_documents()}
        for chunk in chunks:
            doc = paths.get(chunk.document_id, "?")
            result.sources[chunk.id] = f"{doc}:{chunk.start_line}-{chunk.end_line}"
        after = 0
        while True:
            page = ledger.pending_drafts(after_rowid=after, limit=500)
            if not page:
                break
            after = page[-1][0]
            result.drafts.extend(d for _, d in page)
        dropped_names: dict[str, str] = {}
        for call in ledger.generation_calls():
            result.dropped.update(call.dropped)
            for record in call.params.get("dropped_drafts", []):
                if record.get("kind") == "negative":
                    dropped_names.setdefault(record["name"].casefold(), record["reason"])
        drafted = {
            str(d.meta.get("feature", "")).casefold()
            for d in result.drafts
            if d.kind.value == "negative"
        }
        for entry in scope.does_not_offer:
            feature = entry.feature.casefold()
            if feature in drafted:
                result.offers_drafted.append(entry.feature)
            elif feature in dropped_names:
                result.offers_dropped[entry.feature] = dropped_names[feature]
            else:
                result.offers_missing.append(entry.feature)
        real: dict[str, bool] = {}
        for draft in result.drafts:
            names = [
                n for n in ui_references(draft.answer) if n.lower() not in draft.question.lower()
            ]
            phantom = False
            for ref in names:
                if ref not in real:
                    in_glossary = any(ref.lower() in g.lower() for g in glossary)
                    real[ref] = in_glossary or bool(ledger.search_chunks(ref, limit=1))
                if not real[ref]:
                    result.phantoms[ref] += 1
                    phantom = True
            result.phantom_drafts += phantom
    templates: dict[str, Counter[str]] = {}
    for draft in result.drafts:
        kind = draft.kind.value
        label = f"{kind}/{draft.subtype}" if draft.subtype else kind
        result.by_kind[label] += 1
        templates.setdefault(kind, Counter())[template_of(draft.question, product)] += 1
        found = markup_in(draft.answer)
        result.markup.update(found)
        if found and len(result.markup_examples) < 3:
            result.markup_examples.append(draft.answer[:120].replace("\n", " "))
    for kind, counter in templates.items():
        template, count = counter.most_common(1)[0]
        result.top_template[kind] = (template, count / sum(counter.values()), count)
    return result


def sample_of(drafts: list[Draft], seed: int, size: int) -> list[Draft]:
    """The ``size`` drafts whose seeded hash is smallest: a uniform random sample that moves
    only where the drafts do. A drafter change that drops a sampled draft lets the next one in
    and leaves the rest, so a review carries over and only the changed drafts need a verdict."""

    def rank(draft: Draft) -> str:
        key = f"{seed}:{draft_hash(draft.question, draft.answer)}"
        return hashlib.sha256(key.encode()).hexdigest()

    return sorted(drafts, key=rank)[:size]


def read_review(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {row["hash"]: row for row in rows}


def print_result(result: CorpusResult, review_dir: Path, seed: int, size: int) -> None:
    print(f"== {result.name} (product {result.product!r}; scope: {result.scope_source})")
    if result.error:
        print(f"   failed: {result.error}")
    total = len(result.drafts)
    per_chunk = total / result.chunks if result.chunks else 0.0
    print(f"   chunks {result.chunks}   drafts {total}   drafts per chunk {per_chunk:.3f}")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.by_kind.items())) or "none"
    print(f"   by kind: {kinds}")
    missing = [k for k in EXPECTED_KINDS if not result.by_kind.get(k)]
    print(f"   kinds and subtypes missing: {', '.join(missing) or 'none'}")
    offers = len(result.offers_drafted) + len(result.offers_dropped) + len(result.offers_missing)
    reasons = Counter(result.offers_dropped.values())
    listed = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items()))
    print(
        f"   does-not-offer entries {offers}: drafted {len(result.offers_drafted)}, "
        f"listed with a reason {len(result.offers_dropped)}"
        + (f" ({listed})" if listed else "")
        + f", unaccounted {len(result.offers_missing)}"
        + (f": {', '.join(result.offers_missing)}" if result.offers_missing else "")
    )
    drops = ", ".join(f"{k} {n}" for k, n in sorted(result.dropped.items())) or "none"
    print(f"   dropped: {drops}")
    for kind, (template, share, count) in sorted(result.top_template.items()):
        flag = "  (over 25%)" if share > 0.25 else ""
        print(f"   top template {kind}: {share:.0%} ({count}) {template!r}{flag}")
    marked = sum(1 for d in result.drafts if markup_in(d.answer))
    kinds_of_markup = ", ".join(f"{k} {n}" for k, n in result.markup.items())
    print(f"   answers with markup: {marked}" + (f" ({kinds_of_markup})" if marked else ""))
    for example in result.markup_examples:
        print(f"      e.g. {example!r}")
    top = ", ".join(f"{n} ({c})" for n, c in result.phantoms.most_common(5))
    phantoms = f"   answers with phantom UI names: {result.phantom_drafts}"
    print(phantoms + (f": {top}" if top else ""))
    sample = sample_of(result.drafts, seed, size)
    review = read_review(review_dir / f"{result.name}.jsonl")
    verdicts = Counter(
        review[h]["verdict"]
        for h in (draft_hash(d.question, d.answer) for d in sample)
        if h in review and int(review[h].get("seed", seed)) == seed
    )
    reviewed = sum(verdicts.values())
    if not sample:
        print("   review: no drafts to sample")
    elif not reviewed:
        print(f"   review: none of the {len(sample)} sampled drafts reviewed (seed {seed})")
    else:
        share = verdicts["approve"] / reviewed
        print(
            f"   review (seed {seed}, {reviewed} of {len(sample)} sampled drafts): approvable as "
            f"is {share:.0%} (approve {verdicts['approve']}, edit {verdicts['edit']}, "
            f"reject {verdicts['reject']})"
            + (f"; {len(sample) - reviewed} unreviewed" if reviewed < len(sample) else "")
        )


def print_sample(result: CorpusResult, seed: int, size: int, out: TextIO = sys.stdout) -> None:
    for draft in sample_of(result.drafts, seed, size):
        row = {
            "seed": seed,
            "hash": draft_hash(draft.question, draft.answer),
            "kind": draft.kind.value + (f"/{draft.subtype}" if draft.subtype else ""),
            "rule": draft.meta.get("rule"),
            "source": result.sources.get(draft.chunk_id, "?"),
            "question": draft.question,
            "answer": draft.answer,
            "evidence": draft.evidence,
        }
        print(json.dumps(row, ensure_ascii=False), file=out)


def default_folders() -> list[Path]:
    folders = [REPO / "product_docs"]
    folders += sorted((REPO.parent / "shared" / "corpora").glob("*/docs"))
    return [f for f in folders if f.is_dir()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("docs", nargs="*", type=Path, help="docs folders (default: see above)")
    parser.add_argument("--scope", type=Path, help="one scope file for every corpus")
    parser.add_argument("--per-chunk", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14, help="review sample seed")
    parser.add_argument("--sample-size", type=int, default=40)
    parser.add_argument("--review-dir", type=Path, default=DEFAULT_REVIEW_DIR)
    parser.add_argument(
        "--print-sample", metavar="CORPUS", help="print CORPUS's review sample as JSON lines"
    )
    parser.add_argument(
        "--write-samples",
        metavar="DIR",
        type=Path,
        help="also write each corpus's review sample to DIR/<corpus>.jsonl",
    )
    args = parser.parse_args()
    folders = args.docs or default_folders()
    init = has_init() and args.scope is None
    with tempfile.TemporaryDirectory(prefix="draftgate-generalization-") as tmp:
        for folder in folders:
            if args.print_sample and corpus_name(folder) != args.print_sample:
                continue
            result = run_corpus(folder, Path(tmp), args.scope, init, args.per_chunk)
            if args.print_sample:
                print_sample(result, args.seed, args.sample_size)
            else:
                print_result(result, args.review_dir, args.seed, args.sample_size)
                if args.write_samples:
                    args.write_samples.mkdir(parents=True, exist_ok=True)
                    target = args.write_samples / f"{result.name}.jsonl"
                    with target.open("w", encoding="utf-8") as out:
                        print_sample(result, args.seed, args.sample_size, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
