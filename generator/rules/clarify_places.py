"""Clarify drafts from any word the docs use for different things in different documents.

``clarify.term_places``: a word in the section headings of two to five documents, where the
headings around it differ ("Importing transactions", "Import from another app", "Import CSV
files"; "Payee rules", "Rules with schedules"), is ambiguous on its own: a bare question about
it ("How do I import?", "How do rules work?") is answered by asking which one is meant, naming
the places the docs give.

The draft is attached to the chunk holding the first place's heading and quotes it; every
place (document, heading, line) is in ``meta["places"]`` for the reviewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.rules.corpus import Corpus
from generator.rules.phrasing import Phrasing
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.qa import sentence_case, title_of
from generator.rules.qa_reference import ACTION_VERBS
from generator.rules.text import (
    gerund_base,
    stem_of,
    words_of,
)
from ledger import Chunk, DraftIn, DraftKind
from ledger.text import STOPWORDS

# Heading words that structure any docs site rather than name a thing of the product.
_STRUCTURAL = frozenset(
    """
    about above advanced basic basics below case cases caveat caveats common conclusion
    default details docs documentation example examples faq faqs feature features first
    general getting guide guides how info information intro introduction issue issues know
    learn limitation limitations list more new next note notes option options other
    overview part page pages question questions quick reference related requirement
    requirements section setting settings setup start started step steps summary support
    tip tips troubleshooting tutorial type types usage use using way ways what why work
    working works
    """.split()  # noqa: SIM905
)
# For a verb that is also a thing the docs name ("an export"), the bare question is the
# ambiguous one users ask.
BARE_VERB_QUESTIONS = [
    "How do I {verb}?",
    "I need to {verb} something. How do I do that?",
    "Can you show me how to {verb}?",
    "I want to {verb} something in {product}.",
    "How can I {verb} in {product}?",
    "What's the way to {verb} in {product}?",
    "How would I {verb}?",
]
# Otherwise each question names an object: most task verbs need one ("How would I manage?"
# is not a question a user asks), and "something" keeps the question as open as the user's.
VERB_QUESTIONS = [
    "How do I {verb} something in {product}?",
    "I need to {verb} something. How do I do that?",
    "Can you show me how to {verb} something?",
    "I want to {verb} something in {product}.",
    "How can I {verb} things in {product}?",
    "What's the way to {verb} something in {product}?",
    "How would I {verb} something?",
]
_NOUN_QUESTIONS = [
    "How {aux} {noun} work?",
    "Can you help me with {noun}?",
    "I have a question about {noun}.",
    "Tell me about {noun} in {product}.",
    "What should I know about {noun}?",
]
MAX_HEADING_WORDS = 6
MAX_PLACES = 5
CLARIFY_DRAFTS_PER_TERM = 2


@dataclass(frozen=True)
class _Place:
    chunk: Chunk
    document: str  # the document's title
    path: str  # the document's path
    heading: str
    quote: str  # the heading line as the chunk has it
    line: int  # the heading's line in the document
    keys: frozenset[str]  # other content stems of the heading


def plan_term_places(
    corpus: Corpus, per_chunk: int, plans: dict[str, Plan], phrasing: Phrasing
) -> dict[str, Plan]:
    """Add one or two clarify drafts per ambiguous heading word to ``plans``."""
    documents = {d.id: d for d in corpus.ledger.current_documents()}
    product_words = set(words_of(corpus.product))
    places: dict[str, dict[str, _Place]] = {}  # stem -> document id -> first place
    as_verb: dict[str, str] = {}
    as_noun: set[str] = set()  # stems some heading ends with: a thing the docs name
    forms: dict[str, str] = {}
    taken = {
        stem_of(str(d.meta.get("term", "")), corpus.vocabulary)
        for plan in plans.values()
        for d in plan.drafts
    }
    for chunk in corpus.chunks:
        document = documents.get(chunk.document_id)
        if document is None:
            continue
        for section in corpus.sections[chunk.id]:
            if section.heading is None:
                continue
            heading = title_of(section.heading)
            if not _names_a_place(heading):
                continue
            words = words_of(heading)
            stems = [stem_of(w, corpus.vocabulary) for w in words]
            for position, (word, stem) in enumerate(zip(words, stems, strict=True)):
                if (
                    len(word) < 4
                    or word in STOPWORDS
                    or word in _STRUCTURAL
                    or stem in _STRUCTURAL
                    or word in product_words
                ):
                    continue
                base = gerund_base(word, corpus.vocabulary | ACTION_VERBS)
                # A one-word heading ("Overspending") names a topic, not a task.
                leads = position == 0 and len(words) > 1 and bool(base or word in ACTION_VERBS)
                if leads:
                    as_verb.setdefault(stem, base or word)
                elif position == len(words) - 1:
                    as_noun.add(stem)
                else:
                    continue  # a modifier ("credit" in "credit cards"), not what it is about
                if stem not in forms or (word.endswith("s") and not forms[stem].endswith("s")):
                    forms[stem] = word  # the plural when the docs use one: "rules", "reports"
                per_doc = places.setdefault(stem, {})
                if chunk.document_id in per_doc:
                    continue
                line = _heading_line(chunk, section.heading)
                if line is None:
                    continue
                keys = frozenset(
                    s
                    for s, w in zip(stems, words, strict=True)
                    if s != stem and w not in STOPWORDS and len(w) > 2
                )
                per_doc[chunk.document_id] = _Place(
                    chunk,
                    document.title,
                    document.path,
                    heading,
                    line[0],
                    corpus.raw_line(chunk, line[1]),
                    keys,
                )
    as_noun |= _used_as_nouns(corpus, as_verb)
    ranked = []
    for stem, per_doc in places.items():
        found = _distinct(list(per_doc.values()))
        # A bare verb ("add") no heading uses as a thing is not ambiguous; two places of one
        # noun are as often one thing seen twice.
        if not (2 <= len(found) <= MAX_PLACES) or stem in taken or stem not in as_noun:
            continue
        if stem not in as_verb:
            continue  # "How do rules work?" wants an answer; a bare task verb is what is vague
        ranked.append((-len(found), stem, found))
    ranked.sort()
    budget = max(2, len(corpus.chunks) // 25)
    for _, stem, found in ranked[:budget]:
        verb = as_verb.get(stem)
        for made, place in enumerate(found[:CLARIFY_DRAFTS_PER_TERM]):
            plan = plans.setdefault(place.chunk.id, Plan())
            if len(plan.drafts) >= per_chunk:
                continue
            plan.drafts.append(
                _draft(corpus, phrasing, stem, verb, forms[stem], place, found, made)
            )
    return plans


def _used_as_nouns(corpus: Corpus, verbs: dict[str, str]) -> set[str]:
    """Stems of heading verbs the docs also use as things ("an export", "the import file")."""
    if not verbs:
        return set()
    by_word = {verb: stem for stem, verb in verbs.items()}
    pattern = re.compile(
        r"\b(?:an?|the|each|every|your|this|that)\s+("
        + "|".join(re.escape(v) for v in sorted(by_word, key=len, reverse=True))
        + r")(?:s|es)?\b(?!\s+(?:to|the|a|an|it|them|your|all)\b)",
        re.IGNORECASE,
    )
    found: set[str] = set()
    for chunk in corpus.chunks:
        for match in pattern.finditer(chunk.text):
            found.add(by_word[match.group(1).lower()])
    return found


def _names_a_place(heading: str) -> bool:
    """A heading short and plain enough to offer as an option (not a question, URL or line of
    code)."""
    return (
        0 < len(heading.split()) <= MAX_HEADING_WORDS
        and not re.search(r"https?:|[/\\`{}<>=]|^Q:|\?", heading)
        and not heading.endswith(",")
    )


def _distinct(found: list[_Place]) -> list[_Place]:
    """One place per distinct heading and per distinct set of other words."""
    seen_headings: set[str] = set()
    seen_keys: set[frozenset[str]] = set()
    out = []
    for place in found:
        heading = place.heading.lower()
        if heading in seen_headings or place.keys in seen_keys:
            continue
        seen_headings.add(heading)
        seen_keys.add(place.keys)
        out.append(place)
    return out


def _heading_line(chunk: Chunk, heading: str) -> tuple[str, int] | None:
    for match in re.finditer(r"(?m)^#{1,6}[ \t]+(.+?)[ \t#]*$", chunk.text):
        if match.group(1).strip() == heading.strip() or heading in match.group(1):
            return match.group(0).strip(), match.start()
    return None


def _draft(
    corpus: Corpus,
    phrasing: Phrasing,
    stem: str,
    verb: str | None,
    form: str,
    place: _Place,
    found: list[_Place],
    made: int,
) -> DraftIn:
    key = f"places:{stem}:{made}"
    if verb is not None:
        question = phrasing.pick(VERB_QUESTIONS, key).format(verb=verb, product=corpus.product)
        term = verb
    else:
        noun = sentence_case(corpus, form[0].upper() + form[1:]) if form else stem
        noun = noun if noun[:1].isupper() and noun in corpus.names else noun.lower()
        aux = "do" if noun.endswith("s") and not noun.endswith("ss") else "does"
        question = phrasing.pick(_NOUN_QUESTIONS, key).format(
            noun=noun, aux=aux, product=corpus.product
        )
        term = noun
    options = []
    for other in found:
        label = sentence_case(corpus, other.heading)
        label = label[0].upper() + label[1:]
        if other.document and other.document.lower() not in other.heading.lower():
            label += f" (in {other.document})"
        options.append(f"- {label}")
    answer = (
        f"{corpus.product} uses “{term}” in more than one place, so it depends on what you "
        "mean. Which of these is it?\n" + "\n".join(options)
    )
    return DraftIn(
        kind=DraftKind.CLARIFY,
        question=question,
        answer=answer,
        evidence=[place.quote],
        meta={
            "drafter": RULES_DRAFTER,
            "rule": "clarify.term_places",
            "term": term,
            "places": [{"document": p.path, "line": p.line, "heading": p.heading} for p in found],
        },
    )
