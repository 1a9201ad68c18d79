"""Clarify drafts: a verb the docs use in headings of several procedures ("export") becomes a
bare "How do I export?" answered by asking which one is meant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from generator.plain import answer_text
from generator.rules.clarify_places import BARE_VERB_QUESTIONS, plan_term_places
from generator.rules.corpus import Corpus, action_phrase
from generator.rules.phrasing import Phrasing
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.text import (
    Section,
    block_spans,
    gerund_base,
    heading_of,
    stem_of,
    step_spans,
    words_of,
)
from ledger import Chunk, DraftIn, DraftKind
from ledger.text import STOPWORDS

CLARIFY_DRAFTS_PER_TERM = 2


@dataclass(frozen=True)
class _Sense:
    heading: str
    document_id: str
    keys: frozenset[str]  # stems of the heading that tell this sense from the others


def _clarify_terms(corpus: Corpus) -> dict[str, tuple[str, list[_Sense]]]:
    """Verbs that head several procedures across documents: stem -> (verb, senses).

    A candidate is a word in the headings of at least 3 distinct sections across at least 2
    documents (stopwords aside) that leads at least 3 procedure headings as a verb
    ("Exporting ...", "How to export ...") and that some heading also uses as a noun
    ("Export limits"). Its senses are the sections with that word in the heading and a numbered
    procedure below it, minus sub-sections of another sense; two or more make it ambiguous.
    """
    vocab = corpus.vocabulary
    places: dict[str, set[tuple[str, str]]] = {}
    verbs: dict[str, str] = {}
    led: dict[str, set[str]] = {}  # procedure headings that start with the word as a verb
    nouns: set[str] = set()  # words some heading uses other than as a leading verb
    candidates: dict[str, list[tuple[str, Section]]] = {}
    for chunk in corpus.chunks:
        for section in corpus.sections[chunk.id]:
            if section.heading is None:
                continue
            words = words_of(answer_text(section.heading))
            for position, word in enumerate(words):
                if word in STOPWORDS or len(word) < 3:
                    continue
                stem = stem_of(word, vocab)
                places.setdefault(stem, set()).add((chunk.document_id, section.heading))
                base = gerund_base(word, vocab)
                after_how_to = position >= 2 and words[position - 2 : position] == ["how", "to"]
                as_verb = (base is not None and position == 0) or after_how_to
                if as_verb:
                    verbs.setdefault(stem, base or word)
                else:
                    nouns.add(stem)
                if step_spans(section):
                    candidates.setdefault(stem, []).append((chunk.document_id, section))
                    if as_verb:
                        led.setdefault(stem, set()).add(section.heading)
    terms: dict[str, tuple[str, list[_Sense]]] = {}
    for stem, verb in sorted(verbs.items()):
        where = places.get(stem, set())
        if len(where) < 3 or len({doc for doc, _ in where}) < 2:
            continue
        # A bare "How do I <verb>?" is a real, ambiguous question only for a verb that is also
        # a thing ("an export") and leads several procedures; "How do I add?" is not one.
        if stem not in nouns or len(led.get(stem, ())) < 3:
            continue
        senses: list[_Sense] = []
        seen_keys: set[frozenset[str]] = set()
        sense_headings = {s.heading for _, s in candidates.get(stem, []) if s.heading}
        for document_id, section in candidates.get(stem, []):
            if section.heading is None:
                continue
            if any(parent in sense_headings for parent in section.path[:-1]):
                continue
            keys = frozenset(
                stem_of(w, vocab)
                for w in words_of(answer_text(section.heading))
                if w not in STOPWORDS
                and len(w) > 2
                and stem_of(w, vocab) != stem
                and gerund_base(w, vocab) is None
            )
            if not keys or keys in seen_keys:
                continue
            seen_keys.add(keys)
            senses.append(_Sense(section.heading, document_id, keys))
        if len(senses) >= 2:
            terms[stem] = (verb, senses)
    return terms


def _match_senses(
    corpus: Corpus, chunk: Chunk, stem: str, senses: list[_Sense]
) -> list[tuple[_Sense, str]]:
    """Each sense paired with a distinct line of the chunk that names it (best first)."""
    vocab = corpus.vocabulary
    # Only lines under a heading that names the term itself ("Which export should I use?",
    # "Exports and reports"): a table that happens to share words with the senses is not a
    # place where the docs tell the senses apart.
    lines = [
        chunk.text[a:b].strip()
        for section in corpus.sections[chunk.id]
        if section.lines
        and any(stem in {stem_of(w, vocab) for w in words_of(h)} for h in section.path)
        for a, b in block_spans(chunk.text)
        if section.lines[0].start <= a < section.lines[-1].end + 1
        and not re.fullmatch(r"[\s|:-]+", chunk.text[a:b])
        and not heading_of(chunk.text[a:b])
    ]
    used: set[int] = set()
    matched: list[tuple[_Sense, str]] = []
    for sense in senses:
        need = math.ceil(len(sense.keys) / 2)
        best: tuple[int, int] | None = None
        for i, line in enumerate(lines):
            if i in used:
                continue
            stems = {stem_of(w, vocab) for w in words_of(line)}
            hits = len(sense.keys & stems)
            if hits >= need and (best is None or hits > best[0]):
                best = (hits, i)
        if best is not None:
            used.add(best[1])
            matched.append((sense, lines[best[1]]))
    return matched


def plan_clarify(corpus: Corpus, per_chunk: int) -> dict[str, Plan]:
    """Verbs heading several procedures first (their senses are told apart in one chunk), then
    any heading word used for different things across documents."""
    phrasing = Phrasing()
    plans = _plan_term_senses(corpus, per_chunk, phrasing)
    return plan_term_places(corpus, per_chunk, plans, phrasing)


def _plan_term_senses(corpus: Corpus, per_chunk: int, phrasing: Phrasing) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for stem, (verb, senses) in _clarify_terms(corpus).items():
        ranked: list[tuple[int, int, Chunk, list[tuple[_Sense, str]]]] = []
        for index, chunk in enumerate(corpus.chunks):
            matched = _match_senses(corpus, chunk, stem, senses)
            if len(matched) >= max(2, min(3, len(senses))):
                ranked.append((-len(matched), index, chunk, matched))
        ranked.sort(key=lambda r: (r[0], r[1]))
        made = 0
        for _, _, chunk, matched in ranked:
            if made >= CLARIFY_DRAFTS_PER_TERM:
                break
            plan = plans.setdefault(chunk.id, Plan())
            if len(plan.drafts) >= per_chunk:
                continue
            question = phrasing.pick(BARE_VERB_QUESTIONS, f"senses:{stem}:{made}").format(
                verb=verb, product=corpus.product
            )
            options = []
            for sense, line in matched:
                label = action_phrase(corpus, sense.heading)
                paths = [p for p in corpus.scope.glossary.paths if p in line]
                where = max(paths, key=len) if paths else ""
                options.append(f"- {label}" + (f" ({where})" if where else ""))
            answer = (
                f"{corpus.product} has several kinds of {verb}, so it depends on what you "
                "need. Which of these do you want to do?\n" + "\n".join(options)
            )
            plan.drafts.append(
                DraftIn(
                    kind=DraftKind.CLARIFY,
                    question=question,
                    answer=answer,
                    evidence=[line for _, line in matched],
                    meta={
                        "drafter": RULES_DRAFTER,
                        "rule": "clarify.term_senses",
                        "term": verb,
                        "senses": [sense.heading for sense, _ in matched],
                        "all_senses": [sense.heading for sense in senses],
                    },
                )
            )
            made += 1
    return plans
