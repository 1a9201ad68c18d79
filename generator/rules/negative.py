"""Negatives: "Does X do Y?" answered with a friendly no.

Two sources: the scope file's does-not-offer entries, and the docs' own denials ("X is not
supported", "<product> does not have X", "there is no X in <product>", the items of a "what it
does not do" list). Every candidate is searched for in the whole corpus: a sentence that denies
it is the best evidence a negative can have (quoted, and kept in ``meta["docs_deny"]`` with its
``doc:line``); only an affirmative mention drops it, recorded with the ``doc:line`` of that text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.absence import TRADE_OFF_SECTION, AbsenceCheck, check_absence
from generator.plain import answer_text
from generator.rules.corpus import Corpus
from generator.rules.plan import RULES_DRAFTER, DroppedDraft, Plan, RulesReport
from generator.rules.text import (
    block_spans,
    denial_lists,
    exact_find,
    fence_spans,
    heading_of,
    mentions,
    sentence_at,
    sentence_spans,
    words_of,
)
from generator.scope import AbsentFeature
from ledger import Chunk, DraftIn, DraftKind
from ledger.text import STOPWORDS

FEATURE_IN_DOCS = "feature_in_docs"
NO_GROUNDING = "no_grounding"
# Each question form fits a name with or without its article ("a desktop app", "tax filing");
# they are dealt in turn, so none carries more than a sixth of a corpus's negatives.
_QUESTIONS = [
    "Does {product} support {feature}?",
    "Does {product} have {feature}?",
    "Is there {feature} in {product}?",
    "Can I use {feature} in {product}?",
    "Does {product} come with {feature}?",
    "How do I set up {feature} in {product}?",
]
_OPENERS = [
    "No, {product} doesn't offer {feature}.",
    "No, {product} doesn't support {feature}.",
]
_SETUP_OPENER = "{product} doesn't offer {feature}, so there is nothing to set up."

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
    ]
)


def with_article(feature: str) -> str:
    words = feature.split()
    if words and words[0].lower() in ("a", "an", "the"):
        return feature
    if words and words[-1].lower() in _COUNTABLE_HEADS:
        return ("an " if feature[0].lower() in "aeiou" else "a ") + feature
    return feature


@dataclass(frozen=True)
class _Mention:
    chunk: Chunk
    start: int
    end: int
    denied: bool


def _mentions(corpus: Corpus, terms: list[str]) -> list[_Mention]:
    """Every mention of any term in the current chunks, in corpus order."""
    found: list[_Mention] = []
    for chunk in corpus.chunks:
        lowered = chunk.text.lower()
        for term in terms:
            if term.lower() not in lowered:
                continue  # a plain find first: most chunks name none of the terms
            for start, end, denied in mentions(chunk.text, term):
                found.append(_Mention(chunk, start, end, denied))
    return found


def _quote(corpus: Corpus, mention: _Mention) -> tuple[str, str]:
    """The sentence holding a mention, exactly as the chunk has it, and its ``doc:line``."""
    a, b = sentence_at(mention.chunk.text, mention.start)
    text = mention.chunk.text
    while a < b and text[a].isspace():
        a += 1
    return text[a:b].rstrip(), corpus.where(mention.chunk, a)


def plan_negatives(corpus: Corpus, per_chunk: int, report: RulesReport) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    taken: set[str] = set()  # casefolded terms already drafted or dropped
    for index, feature in enumerate(corpus.scope.does_not_offer):
        terms = feature.all_terms()
        taken.update(t.casefold() for t in terms)
        found = _mentions(corpus, terms)
        affirmed = [m for m in found if not m.denied]
        if affirmed:
            quote, at = _quote(corpus, affirmed[0])
            _drop(plans, affirmed[0].chunk, feature.feature, FEATURE_IN_DOCS, at, quote)
            continue
        check = check_absence(corpus.ledger, terms)
        question = _question(corpus, feature.feature, index)
        instead = _ground_instead(corpus, feature, plans, per_chunk)
        if found:
            denial = found[0]
            quote, at = _quote(corpus, denial)
            end = denial.chunk.text.find(quote) + len(quote)
            follow = _follow_up(denial.chunk.text, end)
            draft = _denied_draft(corpus, feature.feature, question, denial, quote, at, follow)
            draft = _with_instead(corpus, draft, feature, instead, denial.chunk)
            plans.setdefault(denial.chunk.id, Plan()).drafts.append(draft)
            continue
        if instead is not None:
            chunk, quote, how = instead
            plans.setdefault(chunk.id, Plan()).drafts.append(
                _negative_draft(corpus, feature, question, check, quote, how)
            )
            continue
        statement = corpus.product_statement
        if statement is None:
            # Nothing in the docs says what the product is: the no would stand on nothing.
            if corpus.chunks:
                _drop(plans, corpus.chunks[0], feature.feature, NO_GROUNDING, "", "")
            else:
                report.dropped[NO_GROUNDING] = report.dropped.get(NO_GROUNDING, 0) + 1
            continue
        chunk, quote = statement
        plans.setdefault(chunk.id, Plan()).drafts.append(
            _plain_no_draft(corpus, feature, question, check, quote)
        )
    for index, mined in enumerate(_mined_denials(corpus, taken)):
        name, denial, quote, at, follow = mined
        affirmed = [m for m in _mentions(corpus, [name]) if not m.denied]
        if affirmed:
            text, where = _quote(corpus, affirmed[0])
            _drop(plans, affirmed[0].chunk, name, FEATURE_IN_DOCS, where, text)
            continue
        question = _question(corpus, name, index, mined=True)
        draft = _denied_draft(corpus, name, question, denial, quote, at, follow)
        plans.setdefault(denial.chunk.id, Plan()).drafts.append(draft)
    return plans


def _drop(plans: dict[str, Plan], chunk: Chunk, name: str, reason: str, at: str, text: str) -> None:
    plans.setdefault(chunk.id, Plan()).drop(DroppedDraft("negative", name, reason, at, text))


def _question(corpus: Corpus, feature: str, index: int, mined: bool = False) -> str:
    # Mined denials are dealt from the other end of the list, so a scope entry added later
    # does not change the question of a draft mined from the docs.
    template = _QUESTIONS[(-1 - index if mined else index) % len(_QUESTIONS)]
    return template.format(product=corpus.product, feature=with_article(feature))


def _opener(corpus: Corpus, feature: str, question: str) -> str:
    name = with_article(feature)
    if question.startswith("How "):
        # "How do I set up X?" presumes X exists: the answer corrects that, not a yes/no.
        return _SETUP_OPENER.format(product=corpus.product, feature=name)
    opener = _OPENERS[len(feature) % len(_OPENERS)]
    return opener.format(product=corpus.product, feature=name)


def _denied_draft(
    corpus: Corpus,
    feature: str,
    question: str,
    denial: _Mention,
    quote: str,
    at: str,
    follow: str = "",
) -> DraftIn:
    """A negative the docs themselves back: the answer says no and what the docs say."""
    said = answer_text(quote).lstrip("-*+ ").strip()
    answer = _opener(corpus, feature, question)
    # A full sentence of the docs ("The app is currency agnostic and does not support X.")
    # says the no in the product's own words; a bare list item ("- invoicing") does not.
    if len(words_of(said)) >= 5 and said[:1].isupper():
        said = said if said.endswith((".", "!", "?")) else said + "."
        if corpus.product.lower() in said.lower() and not question.startswith("How "):
            answer = f"No. {said}"  # the docs' sentence already names the product
        else:
            answer += " " + said
    evidence = [quote]
    if follow:
        answer += " " + answer_text(follow)
        evidence.append(follow)
    return DraftIn(
        kind=DraftKind.NEGATIVE,
        question=question,
        answer=answer,
        evidence=evidence,
        meta={
            "drafter": RULES_DRAFTER,
            "rule": "negative.docs_denial",
            "feature": feature,
            "grounding": "docs_deny",
            "docs_deny": [{"at": at, "quote": quote}],
        },
    )


def _with_instead(
    corpus: Corpus,
    draft: DraftIn,
    feature: AbsentFeature,
    instead: tuple[Chunk, str, str] | None,
    chunk: Chunk,
) -> DraftIn:
    """A scope entry's draft backed by a denial: the scope's rule, and its ``instead`` when
    the same chunk states it (evidence quotes come from the draft's own chunk)."""
    meta = {**draft.meta, "rule": "negative.scope", "instead": feature.instead}
    answer, evidence = draft.answer, list(draft.evidence)
    if instead is not None and instead[0].id == chunk.id:
        answer += " Instead, " + corpus.lower_first(answer_text(feature.instead).rstrip(".")) + "."
        evidence.append(instead[1])
    return draft.model_copy(update={"meta": meta, "answer": answer, "evidence": evidence})


def _plain_no_draft(
    corpus: Corpus, feature: AbsentFeature, question: str, check: AbsenceCheck, quote: str
) -> DraftIn:
    """No ``instead`` the docs back: a plain no, with what the product is, in its own words."""
    answer = _opener(corpus, feature.feature, question) + " " + corpus.about(quote)
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
            "grounding": "product_statement",
            "absence_check": check.as_meta(),
        },
    )


# A denial whose subject is the product: "<product> does not support X", "it doesn't have X".
_PRODUCT_DENIES = (
    r"(?<![\w`-])(?:{product}|we|this (?:app|application|tool|product|software))(?![\w`-])"
    r"[^.\n]{{0,60}}?"
    r"\b(?:does not|doesn['’]t|do not|don['’]t|cannot|can['’]t|won['’]t|will not)\s+"
    r"(?:currently\s+|yet\s+)?(?P<verb>support|have|offer|provide|include|do)\s+(?P<x>[^.;:\n]+)"
)
_NOT_AVAILABLE = re.compile(
    r"(?:^[\s*+-]*|,\s+)(?P<x>[A-Za-z][\w /-]{2,50}?)\s+(?:is|are)\s+(?:not|n['’]t)\s+"
    r"(?:currently\s+|yet\s+)?(?:supported|available)\b",
    flags=re.IGNORECASE,
)
_THERE_IS_NO = (
    r"\bthere (?:is|are) no (?:support for\s+)?(?P<x>[^.;:,\n]+?)\s+(?:in|for|with)\s+{product}\b"
    r"|\b{product} has no (?P<y>[^.;:,\n]+)"
)
# Where a feature phrase ends: the clause that follows qualifies it, it is not its name.
_PHRASE_END = re.compile(
    r"\s+(?:with|that|which|who|because|when|if|unless|so|but|yet|since|as|at|on|out|"
    r"for|from|to|by|via|anymore|any more|right now|currently|natively|itself)\b|[,()]",
    flags=re.IGNORECASE,
)
# Heads of "there is no need", "no way to", "no limit": phrases that deny no feature.
_NOT_FEATURES = frozenset(
    ["need", "way", "reason", "point", "difference", "limit", "option", "longer", "more"]
    + ["other", "such", "further", "guarantee", "one", "thing", "matter", "problem", "issue"]
    + ["priority", "change", "changes", "effect", "data", "results", "match", "matches"]
)
_DETERMINERS = frozenset(
    ["this", "that", "these", "those", "your", "my", "their", "its", "his", "her", "our"]
    + ["some", "all", "every", "each", "such", "both", "either", "it", "them", "they"]
)
# A denial under a condition ("if you are mid-rebase, X is not supported") or with a promise
# ("not available yet, but coming soon") is no plain no.
_HEDGED = re.compile(
    r"\b(?:if|when|while|unless|until|during|once|soon|planned|roadmap|will be|by default|"
    r"default|yet|anymore|any longer|no longer)\b|mid-",
    flags=re.IGNORECASE,
)


def _feature_names(phrase: str) -> list[str]:
    """ "accounting, invoicing, or tax filing" -> its items; each kept only if it reads as a
    short name (1 to 5 words, no code, not "need"/"way"/...)."""
    cut = _PHRASE_END.search(phrase)
    if cut is not None and cut.start() > 0 and phrase[cut.start()] != ",":
        phrase = phrase[: cut.start()]
    items = re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or|nor)\s+", phrase)
    names: list[str] = []
    for item in items:
        item = answer_text(item).strip(" *_\"'“”")
        words = item.split()
        if not 1 <= len(words) <= 5 or re.search(r"[`<>{}\[\]=/]|\d", item):
            continue
        if words[0].lower() in _DETERMINERS or item.endswith((".", "!", "?", ":")):
            continue  # "those funds" points back at its paragraph; a sentence is no name
        bare = [w for w in words_of(item) if w not in ("a", "an", "the", "any")]
        if not bare or bare[0] in _NOT_FEATURES or all(w in STOPWORDS for w in bare):
            continue
        names.append(item)
    return names


def _mined_denials(corpus: Corpus, taken: set[str]) -> list[tuple[str, _Mention, str, str, str]]:
    """The docs' own denials: (feature, the mention, its sentence, doc:line, follow-up)."""
    product = re.escape(corpus.product)
    product_denies = re.compile(_PRODUCT_DENIES.format(product=product), flags=re.IGNORECASE)
    there_is_no = re.compile(_THERE_IS_NO.format(product=product), flags=re.IGNORECASE)
    found: list[tuple[str, _Mention, str, str, str]] = []
    seen_blocks: set[tuple[str, int]] = set()
    for chunk in corpus.chunks:
        text = chunk.text
        candidates: list[tuple[int, int, list[str]]] = []  # sentence span, names
        fences = fence_spans(text)
        for a, b in sentence_spans(text):
            if any(x <= a < y for x, y in fences):
                continue  # code and config comments deny nothing about the product
            sentence = text[a:b]
            if heading_of(sentence) or sentence.lstrip().startswith(("|", ">", "#")):
                continue
            names: list[str] = []
            if _HEDGED.search(sentence) or _in_trade_off_section(corpus, chunk, a):
                continue
            for match in product_denies.finditer(sentence):
                names += _feature_names(match.group("x"))
            for match in there_is_no.finditer(sentence):
                names += _feature_names(match.group("x") or match.group("y") or "")
            for match in _NOT_AVAILABLE.finditer(sentence):
                if _PHRASE_END.search(match.group("x")) is None:
                    names += _feature_names(match.group("x"))
            if names:
                candidates.append((a, b, names))
        for a, b in denial_lists(text):
            item = text[a:b].lstrip(" -*+\t")
            if any(x <= a < y for x, y in fences) or len(item.split()) > 8 or ":" in item:
                continue  # a long item explains something; it names no feature
            if re.search(r"[`<>{}\[\]=/#]", item) or text[a:b][:1].isspace():
                continue  # a long item explains something; it names no feature
            candidates.append((a, b, _feature_names(text[a:b].lstrip(" -*+\t"))))
        for a, b, names in candidates:
            block = next((s for s, e in block_spans(text) if s <= a < e), a)
            if (chunk.id, block) in seen_blocks:
                continue  # one denial per paragraph: its other sentences say the same no
            # Every item of the denial's own list ("does not do X, Y, or Z") is a negative.
            for name in names:
                if name.casefold() in taken:
                    continue
                at = text.find(name, a, b)
                span = (at, at + len(name)) if at >= 0 else exact_find(text[a:b], name)
                if span is None:
                    continue
                start = span[0] if at >= 0 else a + span[0]
                taken.add(name.casefold())
                mention = _Mention(chunk, start, start + len(name), True)
                quote, where = _quote(corpus, mention)
                # "Thousands separators are not supported": the name mid-sentence is lower case.
                name = corpus.lower_first(name)
                found.append((name, mention, quote, where, _follow_up(text, b)))
            if found and found[-1][1].chunk.id == chunk.id and a <= found[-1][1].start < b:
                seen_blocks.add((chunk.id, block))
    return found


def _in_trade_off_section(corpus: Corpus, chunk: Chunk, offset: int) -> bool:
    """Whether the text at ``offset`` sits under a heading that weighs trade-offs."""
    for section in corpus.sections[chunk.id]:
        if section.lines and section.lines[0].start <= offset <= section.lines[-1].end:
            return any(TRADE_OFF_SECTION.search(heading) for heading in section.path)
    return any(TRADE_OFF_SECTION.search(heading) for heading in chunk.heading_path)


def _follow_up(text: str, after: int) -> str:
    """The next sentence of the same paragraph when it says what to do instead ("However, we
    do have an API package ..."), exactly as the chunk has it; else ""."""
    for a, b in sentence_spans(text):
        if a < after:
            continue
        sentence = text[a:b].strip()
        if "\n\n" in text[after:a]:
            return ""
        if re.match(r"(?:However|Instead|But|You can|Use)\b", sentence) and len(sentence) <= 300:
            return sentence
        return ""
    return ""


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
    keys = {w for w in words_of(answer_text(instead)) if w not in STOPWORDS and len(w) > 2}
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
    question: str,
    check: AbsenceCheck,
    quote: str,
    how: str,
) -> DraftIn:
    instead = corpus.lower_first(answer_text(feature.instead).rstrip("."))
    answer = f"{_opener(corpus, feature.feature, question)} Instead, {instead}."
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
