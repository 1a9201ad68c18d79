"""Q&As from any section with substance.

Per section, the first rule that fits:

- ``qa.faq``: a question heading ("Can I ...?") over a short answer;
- ``qa.steps``: a numbered list, or a bulleted list of instructions, under any heading:
  "Creating a budget", "How to export", "Import CSV files", "Installation";
- ``qa.explained``: an action heading ("Adjusting the upcoming length", "How payees work") over
  prose: the opening sentences answer it;
- ``qa.definition``: a heading naming a thing whose section opens by defining it ("Payees are
  ...", "A schedule is ...").

Then, from the section's reference material (:mod:`generator.rules.qa_reference`), rows of
key-binding and option tables and ``**Name**: description`` bullets. Question wording is
chosen per draft from several phrasings, so no one phrasing dominates; answers are plain text
built from the docs (:func:`generator.rules.markup.clean_answer`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from generator.rules.corpus import Corpus
from generator.rules.markup import clean_answer
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.qa_reference import ACTION_VERBS, config_drafts, reference_drafts
from generator.rules.text import (
    BULLET,
    STEP,
    Section,
    block_spans,
    gerund_base,
    howto_question,
    pick,
    plain,
    sentence_spans,
    step_spans,
    words_of,
)
from ledger import Chunk, DraftIn, DraftKind

_ACTION_QUESTIONS = [
    "How do I {action}?",
    "How can I {action} in {product}?",
    "What are the steps to {action}?",
    "How would I {action}?",
    "Can you tell me how to {action} in {product}?",
    "What's the way to {action} in {product}?",
]
_NOUN_STEP_QUESTIONS = [
    "What are the steps for {topic} in {product}?",
    "How does {topic} go in {product}?",
    "Can you walk me through {topic}?",
    "What do I do for {topic}?",
]
_WORKS_QUESTIONS = [
    "How {aux} {topic} work?",
    "Can you explain how {topic} {verb} in {product}?",
    "What happens with {topic} in {product}?",
]
_DEFINITION_QUESTIONS = [
    "What {be} {topic}?",
    "What {be} {topic} in {product}?",
    "Can you explain {topic}?",
    "What does {product} mean by {topic}?",
    "What {be} {topic} for?",
]
# Sentences that lean on what the reader sees around them do not stand alone as an answer.
_LEANS_ON_PAGE = re.compile(
    r"\b(above|below|screenshot|image|picture|gif|video|shown here|following)\b", re.IGNORECASE
)
# An opening that promises what follows ("in one of two ways") is not an answer by itself.
_PROMISES_MORE = re.compile(
    r"(?i)\b(as follows|(?:one of |in )?(?:two|three|several|a few|many) (?:ways|methods|options))"
    r"\W*$"
)
# Headings whose section is an aside, not a task or a thing a user asks about by that name.
_STRUCTURAL = frozenset(
    """
    example examples note notes overview introduction summary usage caveats conclusion
    details misc miscellaneous other others more background reference references
    """.split()  # noqa: SIM905
)
_MAX_ANSWER_CHARS = 600


def plan_qas(corpus: Corpus, per_chunk: int) -> dict[str, Plan]:
    verbs = ACTION_VERBS
    plans: dict[str, Plan] = {}
    for chunk in corpus.chunks:
        drafts: list[DraftIn] = []
        reference: list[DraftIn] = []
        for section in corpus.sections[chunk.id]:
            if section.heading is None:
                continue
            draft = (
                _faq_draft(corpus, chunk, section)
                or _steps_draft(corpus, chunk, section, verbs)
                or _explained_draft(corpus, chunk, section, verbs)
                or _definition_draft(corpus, chunk, section, verbs)
            )
            if draft is not None:
                drafts.append(draft)
            reference.extend(reference_drafts(corpus, chunk, section))
        reference.extend(config_drafts(corpus, chunk))
        drafts = _unique(drafts + reference)
        if drafts:
            plans[chunk.id] = Plan(drafts[: max(per_chunk, 1)])
    return plans


def _unique(drafts: list[DraftIn]) -> list[DraftIn]:
    seen: set[str] = set()
    out = []
    for draft in drafts:
        key = draft.question.lower()
        if key not in seen:
            seen.add(key)
            out.append(draft)
    return out


def _draft(question: str, answer: str, evidence: list[str], rule: str, heading: str) -> DraftIn:
    return DraftIn(
        kind=DraftKind.QA,
        question=question,
        answer=answer,
        evidence=evidence,
        meta={"drafter": RULES_DRAFTER, "rule": rule, "heading": heading},
    )


@functools.lru_cache(maxsize=8)
def _lowercase_words(corpus: Corpus) -> frozenset[str]:
    """Words the docs write in lower case at least as often as capitalised mid-sentence."""
    lower: Counter[str] = Counter()
    capital: Counter[str] = Counter()
    for chunk in corpus.chunks:
        for before, word in re.findall(r"([a-z,] )?\b([A-Za-z][a-z]+)\b", chunk.text):
            if word[0].islower():
                lower[word] += 1
            elif before:
                capital[word.lower()] += 1
    return frozenset(w for w, n in lower.items() if n >= capital.get(w, 0))


def title_of(heading: str) -> str:
    """A heading as plain words: no markup, no leading "3." numbering, no closing punctuation."""
    text = re.sub(r"^\s*(?:\d+[.)]|step \d+:?)\s+", "", plain(heading), flags=re.IGNORECASE)
    return text.strip().rstrip(".:?!").strip()


def sentence_case(corpus: Corpus, text: str) -> str:
    """Title Case heading words in lower case, unless the docs capitalise them (names)."""
    lowercase = _lowercase_words(corpus)
    out = []
    for word in text.split(" "):
        bare = word.strip("()\"'’,.:")
        keep = not bare or bare[1:] != bare[1:].lower() or bare.lower() not in lowercase
        out.append(word if keep else word.replace(bare, bare.lower()))
    return " ".join(out)


def action_of(corpus: Corpus, heading: str, verbs: frozenset[str] | set[str]) -> str | None:
    """The action a heading names, as the user would ask it ("create a schedule"), or None."""
    text = title_of(heading)
    text = re.sub(r"(?i)^(?:steps|how)\s+to\s+", "How to ", text)
    # A gerund's base verb counts when the docs use it or it is a common instruction verb.
    question = howto_question(text, corpus.vocabulary | ACTION_VERBS)
    if question is not None:
        action = question.removeprefix("How do I ").removesuffix("?")
    else:
        first, _, rest = text.partition(" ")
        if first.lower() not in verbs or not rest or first[:1].islower():
            return None
        action = f"{first.lower()} {rest}"
    action = re.sub(r"\byour\b", "my", action)
    action = sentence_case(corpus, action)
    if len(action) > 80 or not re.search(r"[a-z]", action):
        return None
    return action


def _action_question(corpus: Corpus, action: str, key: str) -> str:
    return pick(_ACTION_QUESTIONS, key).format(action=action, product=corpus.product)


def _topic(corpus: Corpus, heading: str) -> str:
    return sentence_case(corpus, corpus.lower_first(title_of(heading)))


def _faq_draft(corpus: Corpus, chunk: Chunk, section: Section) -> DraftIn | None:
    """An FAQ entry ("### Can I ...?" over a short answer) is already a question and answer."""
    heading = section.heading
    if heading is None or not plain(heading).rstrip().endswith("?"):
        return None
    body = [line for line in section.lines if line.text.strip()]
    if not body or any(line.text.lstrip().startswith(("|", "```", "~~~")) for line in body):
        return None
    start, end = body[0].start, body[-1].end
    if end - start > 700:
        return None
    text = chunk.text[start:end]
    lines = []
    for a, b in block_spans(chunk.text):
        if start <= a < end:
            line = clean_answer(re.sub(r"^\s*A:\s*", "", chunk.text[a:b]))
            if line:
                lines.append(line)
    if not lines:
        return None
    question = re.sub(r"^\s*Q:\s*", "", plain(heading)).strip()
    return _draft(question, "\n".join(lines), [text], "qa.faq", heading)


def _bullet_steps(
    chunk: Chunk, section: Section, verbs: frozenset[str] | set[str]
) -> list[tuple[int, int]]:
    """Spans of the first bulleted list, if at least two of its items are instructions."""
    spans: list[tuple[int, int]] = []
    for line in section.lines:
        if BULLET.match(line.text) and not line.text.startswith((" ", "\t")):
            spans.append((line.start, line.end))
        elif not spans or not line.text.strip():
            continue
        elif line.text.startswith((" ", "\t")):
            spans[-1] = (spans[-1][0], line.end)
        else:
            break
    instructions = 0
    for a, b in spans:
        first = words_of(plain(re.sub(r"^\s*[-*+]\s+", "", chunk.text[a:b])))[:1]
        instructions += bool(first) and first[0] in verbs
    return spans if len(spans) >= 2 and instructions >= 2 else []


def _steps_draft(
    corpus: Corpus, chunk: Chunk, section: Section, verbs: frozenset[str] | set[str]
) -> DraftIn | None:
    assert section.heading is not None
    steps = step_spans(section) or _bullet_steps(chunk, section, verbs)
    if len(steps) < 2 or len(steps) > 15:
        return None
    lines, evidence = [], []
    instructions = 0
    for number, (a, b) in enumerate(steps, start=1):
        item = _list_item(chunk.text[a:b])
        if not item:
            continue
        first = words_of(item[0])[:1]
        instructions += bool(first) and first[0] in verbs
        lines.append(f"{number}. {item[0]}")
        lines.extend(f"   - {sub}" for sub in item[1:])
        evidence.append(chunk.text[a:b].strip())
    if len(lines) < 2 or len("\n".join(lines)) > 1800:
        return None
    key = f"steps:{chunk.text_hash}:{section.heading}"
    action = action_of(corpus, section.heading, verbs)
    if instructions < (1 if action is not None else (len(steps) + 1) // 2):
        return None  # a numbered list of facts or rules, not a procedure
    if action is not None:
        question = _action_question(corpus, action, key)
    else:
        topic = _topic(corpus, section.heading)
        if len(topic) > 60 or topic.lower() in _STRUCTURAL:
            return None
        question = pick(_NOUN_STEP_QUESTIONS, key).format(topic=topic, product=corpus.product)
    answer = "\n".join(lines)
    intro = _opening(chunk, section, before=steps[0][0], limit=240)
    if intro is not None:
        answer = f"{intro[0]}\n{answer}"
        evidence.insert(0, intro[1])
    return _draft(question, answer, evidence, "qa.steps", section.heading)


def _list_item(raw: str) -> list[str]:
    """A list item as answer lines: its own text, then each nested item's text."""
    parts = re.split(r"\n[ \t]+(?:\d+[.)]|[-*+])[ \t]+", raw)
    head = re.sub(r"^\s*(?:\d+[.)]|[-*+])\s+", "", parts[0])
    return [t for t in (clean_answer(p) for p in [head, *parts[1:]]) if t]


def _opening(
    chunk: Chunk, section: Section, before: int | None = None, limit: int = _MAX_ANSWER_CHARS
) -> tuple[str, str] | None:
    """The section's opening sentences that stand alone: (answer text, exact quote)."""
    if not section.lines:
        return None
    start, end = section.lines[0].start, section.lines[-1].end
    if before is not None:
        end = min(end, before)
    taken: list[tuple[int, int]] = []
    length = 0
    for a, b in sentence_spans(chunk.text):
        if a < start or b > end:
            continue
        raw = chunk.text[a:b]
        stripped = raw.strip()
        if (
            stripped.startswith(("|", "```", "~~~", "!", "<", ">", ":::"))
            or STEP.match(stripped)
            or BULLET.match(raw)
        ):
            break  # a table, code, image or list: the opening prose is over
        if taken and chunk.text[taken[-1][1] : a].count("\n") >= 2:
            break  # one paragraph only: the next may start another thought
        text = clean_answer(raw)
        if not text or _LEANS_ON_PAGE.search(text) or text.endswith(":"):
            break
        if not taken and re.match(r"(?i)^(this|these|that|those|it|they|however|but|also)\b", text):
            return None  # leans on what came before
        if length + len(text) > limit:
            break
        taken.append((a, b))
        length += len(text) + 1
    if not taken:
        return None
    quote = chunk.text[taken[0][0] : taken[-1][1]]
    answer = clean_answer(quote)
    if len(answer) < 40 or not re.search(r"[.!]$", answer) or _PROMISES_MORE.search(answer):
        return None
    return answer, quote.strip()


def _explained_draft(
    corpus: Corpus, chunk: Chunk, section: Section, verbs: frozenset[str] | set[str]
) -> DraftIn | None:
    assert section.heading is not None
    heading = title_of(section.heading)
    key = f"explained:{chunk.text_hash}:{section.heading}"
    works = re.match(r"(?i)^how\s+(.+?)\s+(works?)$", heading)
    if works:
        topic = sentence_case(corpus, corpus.lower_first(works.group(1)))
        verb = works.group(2).lower()
        aux = "does" if verb == "works" else "do"
        question = pick(_WORKS_QUESTIONS, key).format(
            aux=aux, topic=topic, verb=verb, product=corpus.product
        )
    else:
        action = action_of(corpus, section.heading, verbs)
        if action is None or " " not in heading:
            return None  # "Overspending" names a topic more than a task
        question = _action_question(corpus, action, key)
    opening = _opening(chunk, section)
    if opening is None or len(opening[0]) < 80:
        return None
    return _draft(question, opening[0], [opening[1]], "qa.explained", section.heading)


def _definition_draft(
    corpus: Corpus, chunk: Chunk, section: Section, verbs: frozenset[str] | set[str]
) -> DraftIn | None:
    assert section.heading is not None
    heading = title_of(section.heading)
    words = heading.split()
    if heading.lower() in _STRUCTURAL:
        return None
    if (
        not words
        or len(words) > 4
        or words[0].lower() in verbs
        or gerund_base(words[0], corpus.vocabulary)
    ):
        return None
    opening = _opening(chunk, section, limit=400)
    if opening is None:
        return None
    term = re.escape(heading.lower())
    lowered = heading.lower()
    singular = re.escape(
        lowered[:-3] + "y" if lowered.endswith("ies") else lowered.removesuffix("s")
    )
    defines = re.match(
        rf"(?i)^(?:an?\s+|the\s+)?(?:{term}|{singular})\s+(?:(?:in|on)\s+[\w ]{{1,30}}?\s+)?"
        r"(is|are|was|lets|let|allows?|helps?|provides?|shows?|represents?|refers?|can|gives?)\b",
        opening[0],
    )
    if defines is None:
        return None
    plural = defines.group(1).lower() in {"are", "let", "allow", "help", "provide", "show"} or (
        heading.endswith("s") and not heading.endswith("ss")
    )
    topic = _topic(corpus, section.heading)
    question = pick(_DEFINITION_QUESTIONS, f"def:{chunk.text_hash}:{heading}").format(
        be="are" if plural else "is", topic=topic, product=corpus.product
    )
    return _draft(question, opening[0], [opening[1]], "qa.definition", section.heading)
