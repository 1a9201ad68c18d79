"""Negatives: "Can X do Y?" for each does-not-offer entry of the scope file, absence-checked
over the whole corpus and grounded in the chunk that states what is offered instead.
"""

from __future__ import annotations

from generator.absence import AbsenceCheck, check_absence
from generator.rules.corpus import Corpus
from generator.rules.plan import RULES_DRAFTER, Plan, RulesReport
from generator.rules.text import STOPWORDS, exact_find, pick, plain, sentence_spans, words_of
from generator.scope import AbsentFeature
from ledger import Chunk, DraftIn, DraftKind

_NEGATIVE_QUESTIONS = [
    "Can {product} do {feature}?",
    "Does {product} support {feature}?",
    "How do I set up {feature} in {product}?",
    "Does {product} have {feature}?",
    "Is there a way to get {feature} in {product}?",
]
_NEGATIVE_QUESTIONS_COUNTABLE = [
    "Does {product} have {feature}?",
    "Is there {feature} for {product}?",
]
_NEGATIVE_OPENERS = [
    "No, {product} doesn't offer {feature}.",
    "No, {product} doesn't support {feature}.",
]
# Head nouns that need an article ("a desktop application"); mass nouns and -ing forms do not.
_COUNTABLE_HEADS = frozenset(
    [
        "app",
        "application",
        "integration",
        "portal",
        "tool",
        "module",
        "plugin",
        "extension",
        "client",
        "kiosk",
    ]
)


def with_article(feature: str) -> str:
    words = feature.split()
    if words and words[-1].lower() in _COUNTABLE_HEADS:
        return ("an " if feature[0].lower() in "aeiou" else "a ") + feature
    return feature


def plan_negatives(corpus: Corpus, per_chunk: int, report: RulesReport) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    product = corpus.product
    for feature in corpus.scope.does_not_offer:
        check = check_absence(corpus.ledger, feature.all_terms())
        place = _ground_instead(corpus, feature, plans, per_chunk)
        if not check.absent:
            if place is not None:
                plan = plans.setdefault(place[0].id, Plan())
                plan.dropped["feature_in_docs"] = plan.dropped.get("feature_in_docs", 0) + 1
            else:
                report.dropped["feature_in_docs"] = report.dropped.get("feature_in_docs", 0) + 1
            continue
        if place is None:
            report.dropped["no_grounding"] = report.dropped.get("no_grounding", 0) + 1
            continue
        chunk, quote, how = place
        plans.setdefault(chunk.id, Plan()).drafts.append(
            _negative_draft(corpus, feature, check, quote, how, product)
        )
    return plans


def _ground_instead(
    corpus: Corpus, feature: AbsentFeature, plans: dict[str, Plan], per_chunk: int
) -> tuple[Chunk, str, str] | None:
    """The chunk and exact quote that back the entry's ``instead`` text, if any.

    Prefer a chunk that states it verbatim; among several, one with room left under
    ``per_chunk`` and then the shortest (the most focused source to show the reviewer).
    Otherwise the chunk sentence sharing the most key words with it.
    """
    instead = feature.instead.strip().rstrip(".")
    if not instead:
        return None
    found: list[tuple[bool, int, int, Chunk, str]] = []
    for index, chunk in enumerate(corpus.chunks):
        span = exact_find(chunk.text, instead)
        if span is not None:
            full = len(plans.get(chunk.id, Plan()).drafts) >= per_chunk
            found.append((full, len(chunk.text), index, chunk, chunk.text[span[0] : span[1]]))
    if found:
        best = min(found, key=lambda f: (f[0], f[1], f[2]))
        return best[3], best[4], "verbatim"
    keys = {w for w in words_of(plain(instead)) if w not in STOPWORDS and len(w) > 2}
    paths = [p for p in corpus.scope.glossary.paths if p in instead]
    best_hit: tuple[float, int, Chunk, str] | None = None
    for index, chunk in enumerate(corpus.chunks):
        if any(p not in chunk.text for p in paths):
            continue
        # A sentence's words are substrings of the chunk: a chunk without enough of the key
        # words anywhere has no sentence that shares enough (and is not split into sentences).
        lowered = chunk.text.lower()
        if sum(1 for k in keys if k in lowered) / max(1, len(keys)) < 0.6:
            continue
        for a, b in sentence_spans(chunk.text):
            sentence = chunk.text[a:b]
            share = len(keys & set(words_of(sentence))) / max(1, len(keys))
            if share >= 0.6 and (best_hit is None or share > best_hit[0]):
                best_hit = (share, index, chunk, sentence.strip())
    if best_hit is None:
        return None
    return best_hit[2], best_hit[3], "key_words"


def _negative_draft(
    corpus: Corpus,
    feature: AbsentFeature,
    check: AbsenceCheck,
    quote: str,
    how: str,
    product: str,
) -> DraftIn:
    name = with_article(feature.feature)
    templates = _NEGATIVE_QUESTIONS if name == feature.feature else _NEGATIVE_QUESTIONS_COUNTABLE
    question = pick(templates, feature.feature).format(product=product, feature=name)
    opener = pick(_NEGATIVE_OPENERS, "answer:" + feature.feature)
    if question.startswith("How "):
        # "How do I set up X?" presumes X exists: the answer corrects that, not a yes/no.
        opener = "{product} doesn't offer {feature}, so there is nothing to set up."
    instead = corpus.lower_first(plain(feature.instead).rstrip("."))
    answer = f"{opener.format(product=product, feature=name)} Instead, {instead}."
    return DraftIn(
        kind=DraftKind.NEGATIVE,
        question=question,
        answer=answer,
        evidence=[quote],
        meta={
            "drafter": RULES_DRAFTER,
            "rule": "negative.scope",
            "feature": feature.feature,
            "instead": feature.instead,
            "grounding": how,
            "absence_check": check.as_meta(),
        },
    )
