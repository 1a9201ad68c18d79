"""Out-of-scope adversarials: a request outside what the product is for, declined politely
with what the product is for and offers.

The requests are product-neutral (a poem, the weather, a recipe ...); one whose topic word the
docs, the scope's domain or its offers mention is skipped, since for some product it is in
scope. The answer names the product's domain (the scope's ``product.domain``), the docs' own
sentence about what the product is (quoted as evidence), and a few of the scope's offers.
"""

from __future__ import annotations

import math

from generator.rules.corpus import Corpus
from generator.rules.plan import RULES_DRAFTER, Plan
from ledger import DraftIn, DraftKind

# (request, its topic word): the topic word decides whether the product could be about it.
REQUESTS = [
    ("Can you write me a poem about the ocean?", "poem"),
    ("What's the weather going to be like tomorrow?", "weather"),
    ("Can you recommend a good restaurant near me?", "restaurant"),
    ("Who won the football match last night?", "football"),
    ("Can you help me with my chemistry homework?", "chemistry"),
    ("What's a good recipe for banana bread?", "recipe"),
    ("Can you translate this letter into French for me?", "french"),
    ("What should I name my new puppy?", "puppy"),
    ("Can you plan a week-long trip to Japan for me?", "japan"),
    ("How do I fix a leaking kitchen tap?", "plumbing"),
]
_DECLINES = [
    "Sorry, I can't help with that.",
    "I'm afraid that's outside what I can help with.",
    "That's not something I can help with, sorry.",
    "I can't help with that one.",
]
# One out-of-scope draft per this many chunks (at least 4, at most one per request).
CHUNKS_PER_REQUEST = 40
STATEMENTS_USED = 3


def plan_out_of_scope(corpus: Corpus, per_chunk: int, plans: dict[str, Plan]) -> dict[str, Plan]:
    # The best few sentences about the product: further down the list they say less of it.
    statements = corpus.product_statements[:STATEMENTS_USED]
    if not statements:
        return plans  # nothing in the docs says what the product is for
    product = corpus.scope.product
    known = " ".join(
        [product.domain, product.summary, *corpus.scope.offers, *(c.text for c in corpus.chunks)]
    ).lower()
    requests = [(q, topic) for q, topic in REQUESTS if topic not in known]
    wanted = min(len(requests), max(4, math.ceil(len(corpus.chunks) / CHUNKS_PER_REQUEST)))
    offers = corpus.scope.offers[:3]
    for made, (question, topic) in enumerate(requests[:wanted]):
        # The sentences about the product in turn, each chunk holding at most per_chunk.
        place = next(
            (
                (chunk, sentence)
                for chunk, sentence in statements[made % len(statements) :] + statements
                if len(plans.get(chunk.id, Plan()).drafts) < per_chunk
            ),
            None,
        )
        if place is None:
            break
        chunk, sentence = place
        parts = [_DECLINES[made % len(_DECLINES)]]
        if product.domain:
            parts.append(f"I can only help with {corpus.product} ({product.domain}).")
        else:
            parts.append(f"I can only help with questions about {corpus.product}.")
        parts.append(corpus.about(sentence))
        if offers:
            listed = offers[0] if len(offers) == 1 else ", ".join(offers[:-1]) + f" or {offers[-1]}"
            parts.append(f"For example, I can help with {listed}.")
        plans.setdefault(chunk.id, Plan()).drafts.append(
            DraftIn(
                kind=DraftKind.ADVERSARIAL,
                subtype="out_of_scope",
                question=question,
                answer=" ".join(parts),
                evidence=[sentence],
                meta={
                    "drafter": RULES_DRAFTER,
                    "rule": "adversarial.out_of_scope",
                    "topic": topic,
                    "domain": product.domain,
                },
            )
        )
    return plans
