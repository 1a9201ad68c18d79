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
built from the docs (:func:`generator.plain.answer_text`).
"""

from __future__ import annotations

import functools
import re
from collections import Counter

from generator.plain import answer_text
from generator.rules.corpus import Corpus
from generator.rules.phrasing import fill
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.qa_reference import ACTION_VERBS, config_drafts, reference_drafts
from generator.rules.text import (
    BULLET,
    STEP,
    Line,
    Section,
    block_spans,
    gerund_base,
    howto_question,
    pick,
    sentence_spans,
    step_spans,
    words_of,
)
from ledger import Chunk, DraftIn, DraftKind
from ledger.text import STOPWORDS

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
    "What's the process for {topic}?",
    "Can you walk me through {topic}?",
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
    r"\b(above|below|screenshot|image|picture|gif|video|shown here|following|"
    r"(?:found|described|explained|covered) in|refer to|this (?:page|guide|section|part)|"
    r"our [\w ]{0,30}guide|(?:the|this|that) [\w ]{0,20}section|"
    r"(?:seen|shown|highlighted|circled) (?:in|inside|on)|red box|"
    r"(?:these|the next|the) (?:steps|instructions)(?! (?:in|for|of)\b))\b",
    re.IGNORECASE,
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
    frequently-asked-questions
    """.split()  # noqa: SIM905
)
_MAX_ANSWER_CHARS = 600
_AUXILIARIES = frozenset(
    {"is", "are", "was", "were", "has", "have", "had", "can", "will", "does", "do", "did"}
)
_DETERMINERS = frozenset({"your", "a", "an", "the", "my", "all", "new", "our", "this"})
# A closing pointer ("Read more on the Sync page.") ends an answer without spoiling it.
_POINTER = re.compile(r"(?i)^(read more|learn more|see |for more (information|details))")
_GENERIC_TASKS = frozenset(
    {"setup", "installation", "configuration", "usage", "upgrading", "migration"}
)
# Headings of troubles and limits: "What are sync errors for?" is not a question.
_NOT_DEFINED = frozenset(
    {"error", "errors", "problem", "problems", "issue", "issues", "limit", "limits"}
    | {"limitations", "requirements", "troubleshooting", "faq", "faqs", "changelog"}
)
# Openings that only announce what follows ("There are a couple ways ...").
_TEASER = re.compile(
    r"(?i)\b((a )?couple (of )?ways|several ways|a few ways|the next step|consider the|"
    r"will be available (very )?soon|this guide|in this (section|page|guide)|different ways|"
    r"let's explore|can be seen here|shown here|as follows)\b"
)
# An answer to "how do I ..." names something to do or somewhere to go.
_SAYS_HOW = re.compile(
    r"(?i)\b(click\w*|select\w*|open\w*|go(?:ing)? to|navigat\w*|press\w*|use|using|run\w*|"
    r"choos\w*|enter\w*|type|add\w*|set(?:ting)?|enabl\w*|disabl\w*|toggl\w*|drag\w*|tap\w*|"
    r"switch\w*|head to)\b|\*\*|`"
)
_INTRODUCTIONS = frozenset({"introduction", "overview", "about", "what is it"})
# A verb that says what a thing is or does, in the sentences that open its section.
_DEFINES = re.compile(
    r"(?i)\b(is|are|lets|allows?|helps?|provides?|shows?|displays?|represents?|refers to|"
    r"means|gives?|enables?|keeps?|tracks?|contains?|lists?|holds?|stores?)\b"
)
# A list section's heading names anything from a feature to "Prerequisites": each phrasing
# reads right for any noun.
_LIST_QUESTIONS = [
    "What should I know about {topic}?",
    "Can you give me an overview of {topic}?",
    "What can you tell me about {topic} in {product}?",
    "What do I need to know about {topic} in {product}?",
]


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
                or _list_draft(corpus, chunk, section)
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
    text = re.sub(r"^\s*(?:\d+[.)]|step \d+:?)\s+", "", answer_text(heading), flags=re.IGNORECASE)
    # "Prepare for February: what we learned" / "Paying in full - within the budget": the
    # part before the subtitle names the task.
    text = re.split(r":\s|\s[-–—]\s", text, maxsplit=1)[0]
    return text.strip().rstrip(".:?!").strip()


def sentence_case(corpus: Corpus, text: str) -> str:
    """Title Case heading words in lower case, unless the docs capitalise them (names)."""
    lowercase = _lowercase_words(corpus)
    product = {w.lower() for w in corpus.product.split()}
    out: list[str] = []
    for word in text.split(" "):
        bare = word.strip("()\"'’,.:")
        if bare.lower() in STOPWORDS and bare.lower() not in product and out:
            out.append(word.replace(bare, bare.lower()))
            continue
        keep = (
            not bare
            or bare.lower() in product
            or bare[1:] != bare[1:].lower()
            or bare.lower() not in lowercase
        )
        out.append(word if keep else word.replace(bare, bare.lower()))
    return " ".join(out)


def action_of(
    corpus: Corpus, heading: str, verbs: frozenset[str] | set[str], strict: bool = True
) -> str | None:
    """The action a heading names, as the user would ask it ("create a schedule"), or None.

    ``strict``: an instruction verb the docs also use as a thing ("Export templates") heads a
    task only with a determiner after it. Over a list of steps the imperative reading wins.
    """
    text = title_of(heading)
    text = re.sub(r"(?i)^(?:steps|how)\s+to\s+", "How to ", text)
    # A gerund's base verb counts when the docs use it or it is a common instruction verb.
    question = howto_question(text, corpus.vocabulary | ACTION_VERBS)
    words = text.split()
    if question is not None:
        action = question.removeprefix("How do I ").removesuffix("?")
        if len(words) == 1 and not text.lower().startswith("how to"):
            return None  # "Formatting", "Overspending": a topic more than a task
        plural = words[-1].endswith("s") and not words[-1].endswith(("ss", "is", "us"))
        if len(words) == 2 and words[0].lower().endswith("ing") and not plural:
            return None  # "Spending analysis", "Tracking budget": a thing, not a task
    elif (
        len(words) > 2
        and words[0].lower().endswith("ly")
        and words[1].lower() in verbs
        and words[2].lower() not in _AUXILIARIES
    ):
        action = " ".join([words[0].lower(), words[1].lower(), *words[2:]])  # "Manually add"
    else:
        first, _, rest = text.partition(" ")
        second = rest.split(" ", 1)[0].lower()
        imperative = first.lower() in verbs or (
            second in _DETERMINERS and first.lower() in corpus.vocabulary
        )
        if not imperative or not rest or first[:1].islower() or second in _AUXILIARIES:
            return None  # "Sync has been reset" is a statement, not a task
        if strict and second not in _DETERMINERS and first.lower() in _noun_verbs(corpus):
            return None  # "Transfer categories", "Schedule type": a thing, not a task
        action = f"{first.lower()} {rest}"
    second_word = (action.split() + ["", ""])[1].lower()
    if second_word in _AUXILIARIES or (second_word.endswith("ed") and len(second_word) > 4):
        return None  # "Syncing has been reset", "Update required": a state, not a task
    action = re.sub(r"\byour\b", "my", action)
    # "modify and deleting saved filters" -> "modify and delete saved filters"
    known = corpus.vocabulary | ACTION_VERBS
    action = re.sub(
        r"\b(and|or) (\w+ing)\b",
        lambda m: f"{m.group(1)} {gerund_base(m.group(2), known) or m.group(2)}",
        action,
    )
    action = sentence_case(corpus, action)
    if len(action) > 80 or not re.search(r"[a-z]", action):
        return None
    return action


@functools.lru_cache(maxsize=8)
def _noun_verbs(corpus: Corpus) -> frozenset[str]:
    """Instruction verbs the docs also use as things ("a transfer", "the schedule")."""
    pattern = re.compile(r"\b(?:an?|the|each|every|this|that)\s+([a-z]+)\b")
    found: set[str] = set()
    for chunk in corpus.chunks:
        found.update(w for w in pattern.findall(chunk.text) if w in ACTION_VERBS)
    return frozenset(found)


def _action_question(corpus: Corpus, action: str, key: str) -> str:
    return fill(pick(_ACTION_QUESTIONS, key), action=action, product=corpus.product)


def _topic(corpus: Corpus, heading: str) -> str:
    return sentence_case(corpus, corpus.lower_first(title_of(heading)))


_LEADING_PREPOSITION = re.compile(r"(?i)^(with|without|for|from|in|on|via|using|by|after|before)\b")


def _topic_in_context(corpus: Corpus, section: Section) -> str:
    """The section's topic; a heading that starts with a preposition ("Without SMTP") is a
    variant of the heading above it ("Inviting users without SMTP")."""
    assert section.heading is not None
    topic = _topic(corpus, section.heading)
    if _LEADING_PREPOSITION.match(title_of(section.heading)) and len(section.path) >= 2:
        topic = f"{_topic(corpus, section.path[-2])} {topic[0].lower()}{topic[1:]}"
    return topic


def _faq_draft(corpus: Corpus, chunk: Chunk, section: Section) -> DraftIn | None:
    """An FAQ entry ("### Can I ...?" over a short answer) is already a question and answer."""
    heading = section.heading
    if heading is None or not answer_text(heading).rstrip().endswith("?"):
        return None
    if re.match(r"(?i)^\s*(are|do|have|did|were|want) you\b", answer_text(heading)):
        return None  # the docs asking their reader ("Are you new here?"), not a user's question
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
            line = answer_text(chunk.text[a:b])
            line = re.sub(r"^\s*A:\s*", "", line)
            if line:
                lines.append(line)
    if not lines:
        return None
    question = re.sub(r"^\s*Q:\s*", "", answer_text(heading)).strip()
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
        first = words_of(answer_text(re.sub(r"^\s*[-*+]\s+", "", chunk.text[a:b])))[:1]
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
        if re.search(r"^[ \t]*(```|~~~)", chunk.text[a:b], flags=re.MULTILINE):
            return None  # a step holding a code block: flattened into a line, it reads wrong
        item = _list_item(chunk.text[a:b])
        if not item:
            continue
        if item[-1].endswith(":"):
            return None  # the step introduces a code block or image the answer cannot carry
        instructions += _is_instruction(chunk.text[a:b], item[0], verbs)
        lines.append(f"{number}. {item[0]}")
        lines.extend(f"   - {sub}" for sub in item[1:])
        evidence.append(chunk.text[a:b].strip())
    if len(lines) < 2 or len("\n".join(lines)) > 1800:
        return None
    if any(line.rstrip().endswith(":") for line in lines):
        return None  # an item that introduces what the answer cannot carry (code, image, tabs)
    key = f"steps:{chunk.text_hash}:{section.heading}"
    action = action_of(corpus, section.heading, verbs, strict=False)
    heading = title_of(section.heading)
    if action is None and _LEADING_PREPOSITION.match(heading) and len(section.path) >= 2:
        # "Without SMTP" under "Invite users": the task above, done this way.
        parent = action_of(corpus, section.path[-2], verbs, strict=False)
        if parent is not None:
            action = f"{parent} {heading[0].lower()}{heading[1:]}"
    if instructions < (len(steps) + 1) // 2:
        return None  # a numbered list of facts or rules, not a procedure
    if action is not None:
        question = _action_question(corpus, action, key)
    else:
        if re.match(r"(?i)^(how|what|why|when|where|which|who)\b", title_of(section.heading)):
            return None  # a question heading that is not a task: not a list of steps for it
        # "Steps for OAuth 2.0 setup": the question supplies "the steps for" itself.
        topic = _topic_in_context(corpus, section)
        topic = re.sub(r"(?i)^(?:steps|instructions|process) (?:for|to) ", "", topic)
        if topic.lower() in _GENERIC_TASKS and len(section.path) >= 2:
            topic = f"{topic} for {_topic(corpus, section.path[-2])}"
        if topic.lower() == "frequently asked questions":
            return None
        if len(topic) > 60 or topic.lower() in _STRUCTURAL or not _names_a_topic(section.heading):
            return None
        question = fill(pick(_NOUN_STEP_QUESTIONS, key), topic=topic, product=corpus.product)
    answer = "\n".join(lines)
    intro = _opening(chunk, section, before=steps[0][0], limit=240)
    if intro is not None and not re.match(r"(?i)^(if|when|note|warning|important)\b", intro[0]):
        answer = f"{intro[0]}\n{answer}"
        evidence.insert(0, intro[1])
    return _draft(question, answer, evidence, "qa.steps", section.heading)


def _is_instruction(raw: str, text: str, verbs: frozenset[str] | set[str]) -> bool:
    """A list item that tells the reader to do something ("Open the menu."), not one that
    names or describes something ("**Check templates** will test ...", "Set to be recurring")."""
    first = words_of(text)[:3]
    if not first or first[0] not in verbs:
        return False
    body = re.sub(r"^\s*(?:\d+[.)]|[-*+])\s+", "", raw)
    named = re.match(r"^\*\*[^*]+\*\*\s+(will|is|are|can|runs?|lets?|shows?)\b", body)
    return named is None and first[1:3] != ["to", "be"]


def _list_item(raw: str) -> list[str]:
    """A list item as answer lines: its own text, then each nested item's text."""
    parts = re.split(r"\n[ \t]+(?:\d+[.)]|[-*+])[ \t]+", raw)
    head = re.sub(r"^\s*(?:\d+[.)]|[-*+])\s+", "", parts[0])
    return [t for t in (answer_text(p) for p in [head, *parts[1:]]) if t]


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
        line_head = chunk.text[chunk.text.rfind("\n", 0, a) + 1 : a]
        if re.fullmatch(r"(?:!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>|:::\s*\w*|:::)\s*", stripped):
            continue  # an image or an admonition marker between the heading and the prose
        if (
            stripped.startswith(("|", "```", "~~~", "!", "<", ">", ":::"))
            or STEP.match(stripped)
            or BULLET.match(raw)
            or re.fullmatch(r"\s*(?:[-*+]|\d+[.)])\s+", line_head)
        ):
            break  # a table, code, image or list: the opening prose is over
        if taken and chunk.text[taken[-1][1] : a].count("\n") >= 2:
            break  # one paragraph only: the next may start another thought
        text = answer_text(raw)
        if _POINTER.match(text):
            break
        if text and _LEANS_ON_PAGE.search(text) and len(taken) < 2:
            return None  # the opening leans on the page around it
        if not text or _LEANS_ON_PAGE.search(text) or text.endswith(":"):
            break
        if not taken and re.match(
            r"(?i)^(this|these|that|those|it|they|however|but|also|well|so|now|ok|okay)\b", text
        ):
            return None  # leans on what came before
        if length + len(text) > limit:
            break
        taken.append((a, b))
        length += len(text) + 1
    if not taken:
        return None
    quote = chunk.text[taken[0][0] : taken[-1][1]]
    answer = answer_text(quote)
    if len(answer) < 40 or not re.search(r"[.!]$", answer) or _PROMISES_MORE.search(answer):
        return None
    if _TEASER.search(answer):
        return None
    return answer, quote.strip()


def _explained_draft(
    corpus: Corpus, chunk: Chunk, section: Section, verbs: frozenset[str] | set[str]
) -> DraftIn | None:
    assert section.heading is not None
    heading = title_of(section.heading)
    key = f"explained:{chunk.text_hash}:{section.heading}"
    works = re.match(r"(?i)^how\s+(.+?)\s+(works?)$", heading)
    does = re.match(r"^[Hh]ow\s+((?:\S+\s+){0,2}?\S+)\s+([a-z]+[^s\s]s)\s+(.+)$", heading)
    if does and not works:
        subject = sentence_case(corpus, corpus.lower_first(does.group(1)))
        verb = does.group(2)[:-2] if does.group(2).endswith("es") else does.group(2)[:-1]
        rest = sentence_case(corpus, does.group(3))
        question = f"How does {subject} {verb} {rest}?"
    elif works:
        if works.group(1).lower() in {"it", "this", "that", "they", "these"}:
            return None  # "How it works": what "it" is, the heading does not say
        topic = sentence_case(corpus, corpus.lower_first(works.group(1)))
        verb = works.group(2).lower()
        aux = "does" if verb == "works" else "do"
        question = fill(
            pick(_WORKS_QUESTIONS, key), aux=aux, topic=topic, verb=verb, product=corpus.product
        )
    else:
        action = action_of(corpus, section.heading, verbs)
        if action is None or " " not in heading:
            return None  # "Overspending" names a topic more than a task
        question = _action_question(corpus, action, key)
    opening = _opening(chunk, section)
    if opening is None or len(opening[0]) < 100:
        return None
    if not (works or does) and not _SAYS_HOW.search(opening[0]):
        return None  # "User groups can be managed by admins" answers no "how do I"
    return _draft(question, opening[0], [opening[1]], "qa.explained", section.heading)


def _definition_draft(
    corpus: Corpus, chunk: Chunk, section: Section, verbs: frozenset[str] | set[str]
) -> DraftIn | None:
    """A heading naming a thing, over prose that says what it is or does.

    The opening sentences must name the thing (its last word, singular or plural) and say what
    it is or does ("is", "lets", "shows", ...). An "Introduction" or "Overview" heading stands
    for the heading above it.
    """
    assert section.heading is not None
    heading = title_of(section.heading)
    if re.match(r"(?i)^(how|what|why|when|where|which|who)\b", heading):
        return None
    if heading.lower() in _INTRODUCTIONS and len(section.path) >= 2:
        heading = title_of(section.path[-2])
    words = heading.split()
    if (
        not words
        or len(words) > 4
        or heading.lower() in _STRUCTURAL
        or words[0].lower() in verbs
        or gerund_base(words[0], corpus.vocabulary | ACTION_VERBS)
    ):
        return None
    opening = _opening(chunk, section, limit=400)
    if opening is None:
        return None
    if words[0].lower() in STOPWORDS or (len(words) > 1 and words[1].lower() in _DETERMINERS):
        return None  # "By type", "How to ...", "Group your categories": not a thing's name
    if opening[0].split(" ", 1)[0].lower() in ACTION_VERBS:
        return None  # the section opens with an instruction, not a description
    head = words[-1].lower()
    if head in _NOT_DEFINED:
        return None
    forms = {head, head.removesuffix("s"), head[:-3] + "y" if head.endswith("ies") else head}
    if not any(_is_subject(sentence, forms) for sentence in _first_sentences(opening[0], 2)):
        return None
    plural = heading.endswith("s") and not heading.endswith("ss")
    topic = sentence_case(corpus, corpus.lower_first(heading))
    # "The **Help** menu contains ...": the thing is a UI element, named as the docs name it.
    element = re.search(
        rf"\*\*{re.escape(heading)}\*\*\s+(menu|page|tab|button|panel|screen|view|dialog|"
        r"section|field|column|report|setting|option|card)\b",
        opening[1],
    )
    if element:
        topic, plural = f"the {heading} {element.group(1)}", False
    else:
        # "Implicit" over "The Implicit grant is ...": the docs' own name for the thing.
        named = re.match(
            rf"^(?:(the|an?) )?({re.escape(heading)}(?: [A-Za-z][\w-]*){{1,2}}?)"
            r" (?:is|are|allows?|lets?|provides?|refers to|means)\b",
            opening[0],
            flags=re.IGNORECASE,
        )
        extra = words_of(named.group(2))[len(words) :] if named else []
        if named and extra and not any(w.lower() in STOPWORDS for w in extra):
            topic = ("the " if named.group(1) else "") + named.group(2)
            plural = topic.endswith("s") and not topic.endswith("ss")
    question = fill(
        pick(_DEFINITION_QUESTIONS, f"def:{chunk.text_hash}:{heading}"),
        be="are" if plural else "is",
        topic=topic,
        product=corpus.product,
    )
    return _draft(question, opening[0], [opening[1]], "qa.definition", section.heading)


def _names_a_topic(heading: str) -> bool:
    """A heading that names a topic, not an exclamation or a suggestion ("Let's pay it off!")."""
    text = answer_text(heading).strip()
    return not text.endswith("!") and not re.match(r"(?i)^(let's|let us|we|you|i)\b", text)


def _first_sentences(text: str, count: int) -> list[str]:
    return re.split(r"(?<=[.!])\s+", text)[:count]


def _is_subject(sentence: str, forms: set[str]) -> bool:
    """The thing is named early in the sentence and a describing verb follows it."""
    words = words_of(sentence)
    at = next((i for i, w in enumerate(words[:6]) if w in forms), None)
    if at is None:
        return False
    rest = " ".join(words[at + 1 :])
    return _DEFINES.search(rest) is not None


_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "2": 2, "3": 3, "4": 4, "5": 5}
# An intro that counts what follows: "executes at two events in the flow:".
_COUNTED = re.compile(r"(?i)\b(two|three|four|five|six|[2-5]) (?!of\b)[a-z]+\b[^.:]*:$")


def _list_draft(corpus: Corpus, chunk: Chunk, section: Section) -> DraftIn | None:
    """A heading over "... the following:" and a short bulleted list: what the section covers."""
    assert section.heading is not None
    lines = [line for line in section.lines if line.text.strip()]
    intro_at = next((i for i, line in enumerate(lines) if line.text.rstrip().endswith(":")), None)
    if intro_at is None or intro_at > 1 or not lines[intro_at].text.lstrip()[:1].isupper():
        return None  # no intro, or a chunk that starts mid-paragraph
    items = []
    for line in lines[intro_at + 1 :]:
        if not BULLET.match(line.text):
            break
        items.append(line)
    if not 2 <= len(items) <= 10 or any(len(i.text) > 200 for i in items):
        return None
    if all(re.match(r"^\s*[-*+]\s+\[[^\]]+\]\([^)]*\)", i.text) for i in items):
        return None  # a list of links is navigation (or other products), not an answer
    intro = lines[intro_at]
    intro_text = answer_text(intro.text)
    if not intro_text or _LEANS_ON_PAGE.search(intro_text.replace("following", "")):
        return None
    base = len(items[0].text) - len(items[0].text.lstrip())

    def nested(line: Line) -> bool:
        return len(line.text) - len(line.text.lstrip()) > base + 1

    counted = _COUNTED.search(intro_text)
    top_level = [i for i in items if not nested(i)]
    if counted and _NUMBERS[counted.group(1).lower()] != len(top_level):
        return None  # "at two events:" over three bullets: the list is not the one announced
    # A nested item stays nested, so "one of these formats:" keeps its formats under it.
    bullets = [
        ("  - " if nested(i) else "- ") + answer_text(re.sub(r"^\s*[-*+]\s+", "", i.text))
        for i in items
    ]
    topic = sentence_case(corpus, corpus.lower_first(title_of(section.heading)))
    if len(topic) > 50 or topic.lower() in _STRUCTURAL or not _names_a_topic(section.heading):
        return None
    key = f"list:{chunk.text_hash}:{topic}"
    action = action_of(corpus, section.heading, ACTION_VERBS)
    if action is not None:
        question = _action_question(corpus, action, key)
    else:
        question = fill(pick(_LIST_QUESTIONS, key), topic=topic, product=corpus.product)
    answer = intro_text + "\n" + "\n".join(b for b in bullets if not b.endswith("- "))
    quote = chunk.text[intro.start : items[-1].end]
    return _draft(question, answer, [quote], "qa.list", section.heading)
