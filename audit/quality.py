"""Quality signals over a ledger: is the signed-off data any good, before a training run pays?

Every signal is computed from the ledger's derived views (``live_decisions``, ``draft_status``,
``current_chunks``, ``current_documents``), so a reverted decision counts nowhere and a draft's
status is never re-derived here. Rows are streamed; the only things held in memory are the
signed-off examples' texts (the duplicate and contradiction checks need them) and counters.

The result is a plain JSON-able dict (the ``quality`` section of the audit report). Lists that
could grow with the ledger (duplicate pairs, contradictions, phantom names) are capped at
``LIST_CAP`` entries, with the full count beside them.
"""

from __future__ import annotations

import ctypes
import heapq
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, combinations
from pathlib import Path
from typing import Any, NamedTuple

from rapidfuzz import fuzz

from ledger.errors import LedgerError
from ledger.models import DraftKind
from ledger.store import DOCS_ONLY_SQL, Ledger, is_clock_anomaly
from ledger.text import normalise, references_with_keys

DEFAULT_FAST_DECISION_MS = 2000
# Normalised-text similarity (rapidfuzz ratio, 0-100) at or above which two signed-off
# examples count as near duplicates.
NEAR_DUPLICATE_MIN = 90.0
# A contradiction: questions at least this similar whose answers are at most this similar.
# Answers are compared with token_set_ratio so a mere rewording of the same answer is not one.
CONTRADICTION_QUESTION_MIN = 90.0
CONTRADICTION_ANSWER_MAX = 50.0
LIST_CAP = 500

# Blocking for the similarity checks (all pairs would be ~5e9 comparisons at 100k examples):
# texts are compared with their next few neighbours in sorted order, forwards and backwards (a
# small edit keeps a long common prefix or suffix), and within every group of at most
# RARE_TOKEN_MAX_GROUP texts that share a rare word (catches edits at both ends).
NEIGHBOUR_WINDOW = 3
RARE_TOKEN_MAX_GROUP = 16

SIGNED_OFF_VERDICTS = ("approve", "edit")
NO_SUBTYPE = "(none)"


class Example(NamedTuple):
    """A signed-off draft as it would be exported (an edit's final text)."""

    draft_id: str
    kind: str
    question: str
    answer: str
    document: str
    chunk_text_hash: str
    normalised_question: str
    normalised_answer: str


def compute_quality(
    ledger: Ledger,
    *,
    fast_decision_ms: int = DEFAULT_FAST_DECISION_MS,
    target_mix: dict[str, float] | None = None,
    glossary_names: list[str] | None = None,
) -> dict[str, Any]:
    """Every quality signal of the audit, as one JSON-able dict (see the module docstring)."""
    decision_stats = _decision_signals(ledger, fast_decision_ms)
    examples = _signed_off_examples(ledger)
    return {
        "parameters": {
            "fast_decision_ms": fast_decision_ms,
            "near_duplicate_min": NEAR_DUPLICATE_MIN,
            "contradiction_question_min": CONTRADICTION_QUESTION_MIN,
            "contradiction_answer_max": CONTRADICTION_ANSWER_MAX,
            "list_cap": LIST_CAP,
        },
        "totals": decision_stats["totals"] | {"signed_off_examples": len(examples)},
        "edit_rate": decision_stats["edit_rate"],
        "reject_reasons": decision_stats["reject_reasons"],
        "fast_decisions": decision_stats["fast_decisions"],
        "coverage": _coverage(ledger, examples),
        "balance": _balance(examples, target_mix),
        "duplicates": _duplicates(examples),
        "contradictions": _contradictions(examples),
        "phantom_references": _phantom_references(ledger, examples, glossary_names or []),
        "agreement": _agreement(ledger),
    }


class QualityWorker:
    """``compute_quality`` in a process of its own, so it runs beside the integrity check.

    The audit's two halves only read the ledger and each takes seconds at 100k records; on two
    cores they overlap. The worker is a plain ``python -m audit.quality`` subprocess rather
    than multiprocessing: spawn re-imports the caller's main module (breaking scripts without a
    ``__main__`` guard) and fork would hand the child this process's SQLite connection. The
    child opens the file itself (WAL lets it read alongside) and prints the result as JSON.
    """

    def __init__(self, path: str, options: dict[str, Any]) -> None:
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        # The same ledger code as this process, wherever it was imported from.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        # stderr goes to a file, so the worker never blocks on a full pipe nobody reads
        # while the parent is busy with the integrity check.
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        # The worker's stdin stays open for its whole life: when this process dies, however
        # it dies, the worker reads end-of-file and exits (``watch_parent``).
        self._process = subprocess.Popen(
            [sys.executable, "-m", "audit.quality", path, json.dumps(options), str(os.getpid())],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def result(self) -> dict[str, Any]:
        # Not communicate(): it would close stdin, which the worker takes as its parent gone.
        assert self._process.stdout is not None
        out = self._process.stdout.read()
        self._process.wait()
        self._stderr.seek(0)
        err = self._stderr.read()
        self._close_pipes()
        if self._process.returncode != 0:
            last_line = (err.strip().splitlines() or [f"exit {self._process.returncode}"])[-1]
            raise LedgerError(f"the quality signals could not be computed: {last_line}")
        result: dict[str, Any] = json.loads(out)
        return result

    def stop(self) -> None:
        """End the worker if the caller gives up on it (an error in the integrity check)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        self._stderr.close()


_PR_SET_PDEATHSIG = 1


def watch_parent(parent_pid: int) -> None:
    """Exit when the parent does. On Linux the kernel sends SIGKILL when the parent dies
    (``prctl(PR_SET_PDEATHSIG)``); everywhere, a thread waits for end-of-file on stdin,
    which the parent holds open until it dies or is done with the worker."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    # The parent may have died before prctl took effect: then this process was reparented.
    if os.getppid() != parent_pid:
        os._exit(1)

    def wait_for_eof() -> None:
        # The raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered
        # reader makes interpreter shutdown abort.
        while os.read(0, 4096):
            pass
        os._exit(1)

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()


def _worker_main(argv: list[str]) -> None:
    path, options = argv[0], json.loads(argv[1])
    watch_parent(int(argv[2]))
    # The parent has opened (and upgraded) this ledger already; the worker only reads it.
    with Ledger.open(path, must_exist=True, read_only=True) as ledger:
        json.dump(compute_quality(ledger, **options), sys.stdout, ensure_ascii=False)


# ---- decisions: edit rate, reject reasons, fast decisions ---------------------------------


class _VerdictTally:
    __slots__ = ("approved", "edited", "rejected", "distance_sum")

    def __init__(self) -> None:
        self.approved = 0
        self.edited = 0
        self.rejected = 0
        self.distance_sum = 0.0

    def add(self, verdict: str, distance: float | None) -> None:
        if verdict == "approve":
            self.approved += 1
        elif verdict == "edit":
            self.edited += 1
            self.distance_sum += distance or 0.0
        elif verdict == "reject":
            self.rejected += 1

    def as_dict(self) -> dict[str, Any]:
        signed_off = self.approved + self.edited
        return {
            "decisions": signed_off + self.rejected,
            "approved": self.approved,
            "edited": self.edited,
            "rejected": self.rejected,
            # Share of sign-offs that needed an edit; None when nothing was signed off.
            "edit_rate": round(self.edited / signed_off, 4) if signed_off else None,
            # Mean normalised Levenshtein distance of the edits (0 = unchanged, 1 = rewritten).
            "mean_edit_distance": round(self.distance_sum / self.edited, 4)
            if self.edited
            else None,
        }


class _DwellTally:
    __slots__ = ("clock_anomalies", "decisions", "dwell", "fast", "fast_approvals")

    def __init__(self) -> None:
        self.decisions = 0
        self.dwell: list[int] = []
        self.fast = 0
        self.fast_approvals = 0
        # Decided before shown (the clock went backwards): no dwell, so never "fast".
        self.clock_anomalies = 0

    def as_dict(self) -> dict[str, Any]:
        measured = len(self.dwell)
        return {
            "decisions": self.decisions,
            "measured": measured,
            "fast": self.fast,
            "fast_signoffs": self.fast_approvals,
            "share": round(self.fast / measured, 4) if measured else None,
            "median_dwell_ms": int(statistics.median(self.dwell)) if self.dwell else None,
            "clock_anomalies": self.clock_anomalies,
        }


_GROUPS = ("kind", "subtype", "template", "model", "document", "reviewer")


def _decision_signals(ledger: Ledger, fast_decision_ms: int) -> dict[str, Any]:
    """One streamed pass over the decisions in force (each is one reviewer's judgement)."""
    overall = _VerdictTally()
    groups: dict[str, dict[str, _VerdictTally]] = {g: defaultdict(_VerdictTally) for g in _GROUPS}
    template_names: dict[str, set[str]] = defaultdict(set)
    reasons: Counter[str] = Counter()
    dwell_by_reviewer: dict[str, _DwellTally] = defaultdict(_DwellTally)
    drafts_decided: set[str] = set()
    rows = ledger.iter_query(
        "SELECT ld.draft_id, ld.reviewer, ld.verdict, ld.reason, ld.dwell_ms, ld.edit_distance,"
        " dr.kind, dr.subtype, gc.template_hash, gc.template_name, gc.model, d.path,"
        " ld.shown_at, ld.decided_at"
        " FROM live_decisions ld"
        " JOIN drafts dr ON dr.id = ld.draft_id"
        " JOIN generation_calls gc ON gc.id = dr.call_id"
        " JOIN chunks c ON c.id = dr.chunk_id"
        " JOIN documents d ON d.id = c.document_id",
        size=5000,
    )
    for row in rows:
        (draft_id, reviewer, verdict, reason, dwell_ms, distance) = tuple(row[:6])
        (kind, subtype, template_hash, template_name, model, path) = tuple(row[6:12])
        drafts_decided.add(draft_id)
        overall.add(verdict, distance)
        for group, key in (
            ("kind", kind),
            ("subtype", subtype or NO_SUBTYPE),
            ("template", template_hash),
            ("model", model),
            ("document", path),
            ("reviewer", reviewer),
        ):
            groups[group][key].add(verdict, distance)
        template_names[template_hash].add(template_name)
        if verdict == "reject":
            reasons[reason or "unspecified"] += 1
        dwell = dwell_by_reviewer[reviewer]
        dwell.decisions += 1
        if is_clock_anomaly(row[12], row[13], dwell_ms):
            dwell.clock_anomalies += 1
        elif dwell_ms is not None:
            dwell.dwell.append(dwell_ms)
            if dwell_ms < fast_decision_ms:
                dwell.fast += 1
                if verdict in SIGNED_OFF_VERDICTS:
                    dwell.fast_approvals += 1

    edit_rate: dict[str, Any] = {"overall": overall.as_dict()}
    for group in _GROUPS:
        edit_rate[f"by_{group}"] = {
            key: tally.as_dict() for key, tally in sorted(groups[group].items())
        }
    # A template's hash is its identity; its name is what people recognise.
    for template_hash, entry in edit_rate["by_template"].items():
        entry["template_names"] = sorted(template_names[template_hash])

    all_dwell = _DwellTally()
    for tally in dwell_by_reviewer.values():
        all_dwell.decisions += tally.decisions
        all_dwell.dwell.extend(tally.dwell)
        all_dwell.fast += tally.fast
        all_dwell.fast_approvals += tally.fast_approvals
        all_dwell.clock_anomalies += tally.clock_anomalies
    overall_counts = overall.as_dict()
    return {
        "totals": {
            "live_decisions": overall_counts["decisions"],
            "drafts_decided": len(drafts_decided),
        },
        "edit_rate": edit_rate,
        "reject_reasons": dict(reasons.most_common()),
        "fast_decisions": {
            "threshold_ms": fast_decision_ms,
            **all_dwell.as_dict(),
            "by_reviewer": {r: t.as_dict() for r, t in sorted(dwell_by_reviewer.items())},
        },
    }


# ---- signed-off examples ------------------------------------------------------------------


def _signed_off_examples(ledger: Ledger) -> list[Example]:
    """Drafts whose status is approved or edited, with the text an export would carry."""
    # Two streamed reads, joined here: the draft_status view alone, then the drafts with their
    # chunk and document. Joining drafts onto the view in SQL cost twice as much at 100k.
    signed_off: dict[str, tuple[str | None, str | None]] = {}
    for draft_id, final_q, final_a in ledger.iter_query(
        "SELECT s.draft_id, dc.final_question, dc.final_answer FROM draft_status s"
        " LEFT JOIN decisions dc ON dc.id = s.decision_id AND s.verdict = 'edit'"
        " WHERE s.verdict IN ('approve', 'edit')",
        size=5000,
    ):
        signed_off[draft_id] = (final_q, final_a)
    rows = ledger.iter_query(
        "SELECT dr.id, dr.kind, dr.question, dr.answer, c.text_hash, d.path FROM drafts dr"
        " JOIN chunks c ON c.id = dr.chunk_id JOIN documents d ON d.id = c.document_id"
        " ORDER BY dr.rowid",
        size=5000,
    )
    examples = []
    for draft_id, kind, question, answer, chunk_hash, path in rows:
        final = signed_off.get(draft_id)
        if final is None:
            continue
        question = final[0] if final[0] is not None else question
        answer = final[1] if final[1] is not None else answer
        examples.append(
            Example(
                draft_id=draft_id,
                kind=kind,
                question=question,
                answer=answer,
                document=path,
                chunk_text_hash=chunk_hash,
                normalised_question=normalise(question),
                normalised_answer=normalise(answer),
            )
        )
    return examples


# ---- coverage -----------------------------------------------------------------------------


def _coverage(ledger: Ledger, examples: Sequence[Example]) -> dict[str, Any]:
    """Current chunks and documents with no signed-off example.

    A chunk is covered by an example drafted from the same text of the same document: chunk ids
    change whenever a document is re-ingested, its unchanged sections' text does not.
    """
    covered_keys = {(e.document, e.chunk_text_hash) for e in examples}
    total = 0
    uncovered: list[dict[str, Any]] = []
    docs_seen: dict[str, bool] = {}
    rows = ledger.iter_query(
        "SELECT c.id, d.path, c.heading_path, c.start_line, c.end_line, c.text_hash"
        " FROM current_chunks c JOIN documents d ON d.id = c.document_id"
        f" WHERE d.path {DOCS_ONLY_SQL} ORDER BY d.path, c.ordinal"
    )
    for chunk_id, path, heading_json, start_line, end_line, text_hash in rows:
        total += 1
        covered = (path, text_hash) in covered_keys
        docs_seen[path] = docs_seen.get(path, False) or covered
        if not covered:
            uncovered.append(
                {
                    "chunk_id": chunk_id,
                    "path": path,
                    "heading": " > ".join(json.loads(heading_json)),
                    "start_line": start_line,
                    "end_line": end_line,
                }
            )
    # A current document with no chunks at all (empty file) is uncovered too.
    for doc in ledger.current_documents():
        docs_seen.setdefault(doc.path, False)
    covered_chunks = total - len(uncovered)
    uncovered_docs = sorted(path for path, covered in docs_seen.items() if not covered)
    return {
        "chunks_total": total,
        "chunks_covered": covered_chunks,
        "chunk_share": round(covered_chunks / total, 4) if total else None,
        "documents_total": len(docs_seen),
        "documents_covered": len(docs_seen) - len(uncovered_docs),
        "uncovered_chunks": uncovered,
        "uncovered_documents": uncovered_docs,
    }


# ---- balance ------------------------------------------------------------------------------


def default_target_mix() -> dict[str, float]:
    kinds = [k.value for k in DraftKind]
    return {k: 1 / len(kinds) for k in kinds}


def _balance(examples: Sequence[Example], target_mix: dict[str, float] | None) -> dict[str, Any]:
    """Share of each kind among signed-off examples, against the wanted mix (normalised)."""
    target = dict(target_mix) if target_mix else default_target_mix()
    weight = sum(v for v in target.values() if v > 0)
    target = {k: (v / weight if weight and v > 0 else 0.0) for k, v in target.items()}
    counts = Counter(e.kind for e in examples)
    total = len(examples)
    kinds: dict[str, dict[str, Any]] = {}
    for kind in [*target, *sorted(set(counts) - set(target))]:
        share = counts[kind] / total if total else 0.0
        wanted = target.get(kind, 0.0)
        kinds[kind] = {
            "count": counts[kind],
            "share": round(share, 4),
            "target": round(wanted, 4),
            "deviation": round(share - wanted, 4),
        }
    return {
        "total": total,
        "kinds": kinds,
        "max_abs_deviation": max((abs(v["deviation"]) for v in kinds.values()), default=0.0),
    }


# ---- duplicates and contradictions --------------------------------------------------------


Scorer = Callable[..., float]


def similar_pairs(
    texts: Sequence[str], scorer: Scorer, min_score: float
) -> dict[tuple[int, int], float]:
    """Index pairs (a < b) of normalised ``texts`` scoring at least ``min_score``, by blocking.

    Never all pairs: each text is compared with its next ``NEIGHBOUR_WINDOW`` neighbours in
    sorted order, forwards and by reversed text (a small edit leaves a long common prefix or
    suffix), and with every text sharing a word that occurs at most ``RARE_TOKEN_MAX_GROUP``
    times in all (catches edits at both ends). The neighbour comparisons run as tight
    comprehensions over shifted lists, which is what keeps 100k texts within about a second.
    """
    found: dict[tuple[int, int], float] = {}

    def keep(a: int, b: int, score: float) -> None:
        found[(a, b) if a < b else (b, a)] = score

    count = len(texts)
    forward = sorted(range(count), key=texts.__getitem__)
    backward = sorted(range(count), key=lambda i: texts[i][::-1])
    for order in (forward, backward):
        ordered = [texts[i] for i in order]
        for step in range(1, NEIGHBOUR_WINDOW + 1):
            scores = [
                scorer(x, y, score_cutoff=min_score)
                for x, y in zip(ordered, ordered[step:], strict=False)
            ]
            # Inline rather than keep(): at 100k near-identical texts this runs a million times.
            found.update(
                ((a, b) if a < b else (b, a), score)
                for a, b, score in zip(order, order[step:], scores, strict=False)
                if score
            )
    frequency = Counter(chain.from_iterable(map(str.split, texts)))
    rare = {token for token, n in frequency.items() if 1 < n <= RARE_TOKEN_MAX_GROUP}
    groups: dict[str, list[int]] = defaultdict(list)
    for index, text in enumerate(texts):
        for token in rare.intersection(text.split()):
            groups[token].append(index)
    for members in groups.values():
        for a, b in combinations(members, 2):
            score = scorer(texts[a], texts[b], score_cutoff=min_score)
            if score:
                keep(a, b, score)
    return found


def _snippet(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duplicates(examples: Sequence[Example]) -> dict[str, Any]:
    """Exact duplicates (same normalised question and answer) and near duplicates among them."""
    by_text: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        by_text[example.normalised_question + " " + example.normalised_answer].append(index)
    exact_groups = [ids for ids in by_text.values() if len(ids) > 1]
    # Near duplicates are looked for between distinct texts: one representative per exact group.
    distinct = list(by_text)
    near_scores = similar_pairs(distinct, fuzz.ratio, NEAR_DUPLICATE_MIN)
    # Only the first LIST_CAP pairs are listed: nsmallest keeps those (the same ones, in the
    # same order, as sorting all of them would) without a sorted list of every pair.
    first = [by_text[text][0] for text in distinct]
    near = heapq.nsmallest(
        LIST_CAP, ((-score, first[a], first[b]) for (a, b), score in near_scores.items())
    )
    return {
        "exact_group_count": len(exact_groups),
        # Copies beyond the first in each group: what deduplication would remove.
        "exact_extra_copies": sum(len(g) - 1 for g in exact_groups),
        "exact_groups": [
            {
                "draft_ids": [examples[i].draft_id for i in group],
                "question": _snippet(examples[group[0]].question),
            }
            for group in exact_groups[:LIST_CAP]
        ],
        "near_pair_count": len(near_scores),
        "near_pairs": [
            {
                "a": examples[a].draft_id,
                "b": examples[b].draft_id,
                "similarity": round(-negated, 1),
                "question_a": _snippet(examples[a].question),
                "question_b": _snippet(examples[b].question),
            }
            for negated, a, b in near
        ],
    }


def _contradictions(examples: Sequence[Example]) -> dict[str, Any]:
    """Near-identical questions whose answers diverge: one of the two is probably wrong."""
    questions = [e.normalised_question for e in examples]
    found: list[tuple[float, float, int, int]] = []
    similar_questions = similar_pairs(questions, fuzz.ratio, CONTRADICTION_QUESTION_MIN)
    answers = [e.normalised_answer for e in examples]
    score = fuzz.token_set_ratio
    # One comprehension over every pair, then a pass for the few below the bar: 100k
    # near-identical questions make hundreds of thousands of pairs.
    answer_scores = [score(answers[a], answers[b]) for a, b in similar_questions]
    for ((a, b), q_score), a_score in zip(similar_questions.items(), answer_scores, strict=True):
        if a_score <= CONTRADICTION_ANSWER_MAX:
            found.append((q_score, a_score, a, b))
    found.sort(key=lambda item: (item[1], -item[0], item[2], item[3]))
    return {
        "count": len(found),
        "pairs": [
            {
                "a": examples[a].draft_id,
                "b": examples[b].draft_id,
                "question_similarity": round(q_score, 1),
                "answer_similarity": round(a_score, 1),
                "question_a": _snippet(examples[a].question),
                "question_b": _snippet(examples[b].question),
                "answer_a": _snippet(examples[a].answer),
                "answer_b": _snippet(examples[b].answer),
            }
            for q_score, a_score, a, b in found[:LIST_CAP]
        ],
    }


# ---- phantom references -------------------------------------------------------------------


def _phantom_references(
    ledger: Ledger, examples: Sequence[Example], glossary_names: Iterable[str]
) -> dict[str, Any]:
    """UI names in signed-off answers that occur nowhere in the docs or the glossary.

    A name "occurs" when its words appear in that order in a current chunk (the ledger's
    full-text index) or inside a glossary entry, so "Reports > Labor" found as part of
    "Reports > Labor vs. sales" is real. A name the question already uses is skipped: answering
    "there is no Dashboard page" to a question about the Dashboard is the right answer, not an
    invention.
    """
    glossary = [f" {normalise(name)} " for name in glossary_names if normalise(name)]
    verdicts: dict[str, bool] = {}
    phantoms: dict[str, dict[str, Any]] = {}
    affected = 0  # examples naming at least one phantom
    checked = 0
    for example in examples:
        named_here: set[str] = set()
        question = f" {example.normalised_question} "
        for name, padded in references_with_keys(example.answer):
            if padded in question:
                continue
            checked += 1
            key = padded.strip()
            real = verdicts.get(key)
            if real is None:
                real = any(padded in entry for entry in glossary) or bool(
                    ledger.search_chunks(name, limit=1)
                )
                verdicts[key] = real
            if real:
                continue
            if key in named_here:
                continue  # a name repeated in one answer is still one example
            named_here.add(key)
            entry = phantoms.setdefault(
                key, {"name": name, "count": 0, "draft_ids": [], "example": ""}
            )
            entry["count"] += 1
            if len(entry["draft_ids"]) < 5:
                entry["draft_ids"].append(example.draft_id)
            if not entry["example"]:
                entry["example"] = _snippet(example.answer, 200)
        affected += bool(named_here)
    ranked = sorted(phantoms.values(), key=lambda p: (-p["count"], p["name"]))
    return {
        "references_checked": checked,
        "distinct_names_checked": len(verdicts),
        "count": len(ranked),
        "affected_examples": affected,
        "phantoms": ranked[:LIST_CAP],
    }


# ---- reviewer agreement -------------------------------------------------------------------


def cohen_kappa(pairs: Sequence[tuple[str, str]], categories: Sequence[str]) -> dict[str, Any]:
    """Cohen's kappa of two raters' labels, with the agreement matrix it was computed from.

    kappa = (p_o - p_e) / (1 - p_e); None when undefined (no pairs, or p_e = 1: both raters
    used one and the same label throughout, so chance explains all agreement).
    """
    n = len(pairs)
    matrix = {a: {b: 0 for b in categories} for a in categories}
    for first, second in pairs:
        matrix[first][second] += 1
    if not n:
        return {"kappa": None, "observed": None, "expected": None, "matrix": matrix}
    observed = sum(matrix[c][c] for c in categories) / n
    first_totals = {c: sum(matrix[c].values()) for c in categories}
    second_totals = {c: sum(matrix[a][c] for a in categories) for c in categories}
    expected = sum(first_totals[c] * second_totals[c] for c in categories) / (n * n)
    kappa = None if expected >= 1 else (observed - expected) / (1 - expected)
    return {
        "kappa": None if kappa is None else round(kappa, 4),
        "observed": round(observed, 4),
        "expected": round(expected, 4),
        "matrix": matrix,
    }


def _sign_off_or_reject(verdict: str) -> str:
    return "sign_off" if verdict in SIGNED_OFF_VERDICTS else "reject"


def _agreement(ledger: Ledger) -> dict[str, Any]:
    """Kappa between a double review and the other reviewer's decision on the same draft.

    Raters are roles, not people: "first" is the other reviewer's latest decision in force (a
    regular review when there is one), "second" the double review, pooled over all drafts.
    """
    rows = ledger.iter_query(
        "SELECT draft_id, reviewer, verdict, double_review FROM live_decisions"
        " WHERE draft_id IN (SELECT draft_id FROM live_decisions WHERE double_review = 1)"
        " ORDER BY draft_id, seq"
    )
    by_draft: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for draft_id, reviewer, verdict, double_review in rows:
        by_draft[draft_id].append((reviewer, verdict, double_review))
    three_way: list[tuple[str, str]] = []
    reviewer_pairs: Counter[str] = Counter()
    unpaired = 0
    for decisions in by_draft.values():
        for reviewer, verdict, double_review in decisions:
            if not double_review:
                continue
            others = [d for d in decisions if d[0] != reviewer]
            regular = [d for d in others if not d[2]]
            candidates = regular or others
            if not candidates:
                unpaired += 1
                continue
            first = candidates[-1]
            three_way.append((first[1], verdict))
            reviewer_pairs[f"{first[0]} / {reviewer}"] += 1
    two_way = [
        (_sign_off_or_reject(first), _sign_off_or_reject(second)) for first, second in three_way
    ]
    return {
        "pairs": len(three_way),
        "unpaired_double_reviews": unpaired,
        "reviewer_pairs": dict(reviewer_pairs.most_common()),
        "two_way": cohen_kappa(two_way, ["sign_off", "reject"]),
        "three_way": cohen_kappa(three_way, ["approve", "edit", "reject"]),
    }


if __name__ == "__main__":
    _worker_main(sys.argv[1:])
