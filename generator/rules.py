"""The offline rules drafter: grounded drafts of every kind with no model and no network.

With no endpoint configured, ``draftgate generate`` falls back to these rules. Each rule reads
the ledger's current chunks (and the scope file) and writes drafts through the same
``Ledger.record_call`` path as the LLM runner, one call per (chunk, kind) job, so provenance,
idempotent reruns and the review queue work the same way:

- **negative** (``negative.scope``): one per does-not-offer entry of the scope file, absence-
  checked over the whole corpus, attached to the chunk that states what is offered instead.
- **adversarial / wrong_ui_name** (``adversarial.wrong_ui_name``): a common UI name the docs
  never use, paired with a real navigation path the chunk names; each path is used once.
- **adversarial / false_premise** (``adversarial.false_premise``): a question assuming ten
  times a bare numeric limit the docs list ("- Shift notes: 500 characters."), corrected.
- **qa** (``qa.howto_steps``, ``qa.faq``): "How to ..." and gerund headings over a numbered
  procedure become "How do I ...?" answered with the steps; FAQ question headings become Q&As.
- **clarify** (``clarify.term_senses``): a verb the docs use in headings of several procedures
  ("export") becomes a bare "How do I export?" answered by asking which one is meant.

Every evidence quote is an exact substring of the chunk it is attached to, and every draft's
``meta`` says which drafter and rule made it. Same docs and scope in, same drafts out.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from generator.absence import AbsenceCheck, check_absence, path_in_docs, ui_name_is_real
from generator.chunking import parse_heading
from generator.scope import AbsentFeature, Scope
from ledger import Chunk, DraftIn, DraftKind, GenerationCall, Ledger, utc_now
from ledger.ids import content_hash, new_event_id, text_hash

RULES_DRAFTER = "rules/1"
RULES_MODEL = "rules/1"
# Dropped reason for a job where the rules found fewer drafts than requested in its chunk.
NOTHING_MORE_TO_DRAFT = "nothing_more_to_draft"
# Bump a kind's version when its rule changes what it drafts: the template hash (and so every
# job key of that kind) changes with it, and a rerun drafts again instead of skipping.
RULE_VERSIONS = {
    DraftKind.QA.value: "qa-1",
    DraftKind.NEGATIVE.value: "negative-1",
    DraftKind.ADVERSARIAL.value: "adversarial-1",
    DraftKind.CLARIFY.value: "clarify-1",
}
ALL_KINDS = list(RULE_VERSIONS)

# Common UI names that products use and these docs might not. Each entry: the name as a user
# would type it, whether it takes "the" in a sentence, the noun to deny ("There is no ..."),
# and words of real path segments it is typically mistaken for (to pair it plausibly).
_WRONG_UI_NAMES: list[tuple[str, bool, str, frozenset[str]]] = [
    ("Dashboard", True, "Dashboard", frozenset({"today", "home", "reports", "schedule"})),
    ("Control Panel", True, "Control Panel", frozenset({"settings"})),
    ("Admin Console", True, "Admin Console", frozenset({"settings", "team", "security"})),
    ("Admin Panel", True, "Admin Panel", frozenset({"settings", "team", "integrations"})),
    ("Account Settings", False, "Account Settings page", frozenset({"profile", "billing"})),
    ("Preferences", False, "Preferences page", frozenset({"profile", "notifications"})),
    ("Home Screen", True, "Home Screen", frozenset({"today", "more"})),
    ("My Account", False, "My Account page", frozenset({"profile", "billing", "organizations"})),
    ("User Settings", False, "User Settings page", frozenset({"profile", "details"})),
    ("Workspace Settings", False, "Workspace Settings page", frozenset({"settings"})),
    ("Analytics", False, "Analytics page", frozenset({"reports"})),
    ("Staff Directory", True, "Staff Directory", frozenset({"team", "members", "positions"})),
    ("Payroll Center", True, "Payroll Center", frozenset({"timesheets", "payroll"})),
    ("Leave Manager", True, "Leave Manager", frozenset({"off", "policies", "balances"})),
    ("Support Portal", True, "Support Portal", frozenset({"help"})),
    ("Shift Planner", True, "Shift Planner", frozenset({"schedule"})),
    ("Main Menu", True, "Main Menu", frozenset()),
]

_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "its",
        "my",
        "of",
        "on",
        "or",
        "our",
        "should",
        "the",
        "their",
        "this",
        "to",
        "use",
        "using",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "with",
        "you",
        "your",
        "vs",
    ]
)

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
_WRONG_UI_QUESTIONS = [
    "Where is the {leaf} page in {wrong}?",
    "How do I get to {leaf} from {wrong}?",
    "I can't find {leaf} in {wrong}. Where is it?",
]
_CLARIFY_QUESTIONS = ["How do I {verb}?", "I need to {verb} something. How do I do that?"]
CLARIFY_DRAFTS_PER_TERM = 2

# The rules once read headings with their own regex, which backtracked cubically (one
# 2,400-character line took 21 s); _heading() now asks chunking's linear parser, so the rules
# and the chunker agree on what a heading is.
_STEP = re.compile(r"^(\d+)\.[ \t]+\S")
_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+\S")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]*]*\s+(?=[A-Z*\"(`])")


def _heading(text: str) -> tuple[int, str] | None:
    """A heading's level and title, or None: one line (a single final newline allowed) that
    chunking would read as an ATX heading."""
    if text.endswith("\n"):
        text = text[:-1]
    if "\n" in text:
        return None
    return parse_heading(text)


@dataclass
class RulesReport:
    calls_ok: int = 0
    jobs_skipped: int = 0
    drafts_by_kind: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    drafts_requested: int = 0


@dataclass
class _Plan:
    """What a rule would draft for one (chunk, kind) job, and what it dropped and why."""

    drafts: list[DraftIn] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)


# ---- text helpers ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    start: int  # offset of the line in the chunk text
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class _Section:
    heading: str | None
    path: list[str]  # headings above and including this one, within the document
    lines: list[_Line]  # body lines (the heading line excluded)


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    offset = 0
    for raw in text.split("\n"):
        out.append(_Line(offset, raw))
        offset += len(raw) + 1
    return out


def _sections(text: str, stack: list[tuple[int, str]]) -> list[_Section]:
    """Split a chunk's text at its heading lines; ``stack`` carries the document's headings."""
    sections: list[_Section] = []
    current = _Section(None, [h for _, h in stack], [])
    in_fence = False
    for line in _lines(text):
        if line.text.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence else _heading(line.text)
        if heading:
            if current.heading is not None or any(x.text.strip() for x in current.lines):
                sections.append(current)
            level, title = heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            current = _Section(title, [h for _, h in stack], [])
        else:
            current.lines.append(line)
    sections.append(current)
    return sections


def _document_sections(chunks: list[Chunk]) -> dict[str, list[_Section]]:
    """Sections per chunk id, with heading paths tracked across a document's chunks."""
    by_chunk: dict[str, list[_Section]] = {}
    stacks: dict[str, list[tuple[int, str]]] = {}
    for chunk in chunks:
        stack = stacks.setdefault(chunk.document_id, [])
        by_chunk[chunk.id] = _sections(chunk.text, stack)
    return by_chunk


def _steps(section: _Section) -> list[tuple[int, int]]:
    """Spans (start, end) of the first numbered list's items, continuation lines included."""
    spans: list[tuple[int, int]] = []
    for line in section.lines:
        if _STEP.match(line.text):
            spans.append((line.start, line.end))
        elif not spans or not line.text.strip():
            continue  # before the list, or a blank line between items
        elif line.text.startswith((" ", "\t")):
            spans[-1] = (spans[-1][0], line.end)  # an item's continuation line
        else:
            break  # the list is over
    return spans


def _paragraph_after(section: _Section, after: int) -> tuple[int, int] | None:
    """The span of the first plain paragraph that starts after offset ``after``."""
    block: list[_Line] = []
    for line in section.lines:
        if line.start <= after:
            continue
        if not line.text.strip():
            if block:
                break
            continue
        if not block and (_STEP.match(line.text) or _BULLET.match(line.text)):
            return None
        if line.text.lstrip().startswith("|"):
            return None
        block.append(line)
    return (block[0].start, block[-1].end) if block else None


_CROSS_REF = re.compile(
    r"(?:;\s*see\s+\[[^\]]+\]\([^)]*\)(?=[.\s])|(?<![^\s])See\s+\[[^\]]+\]\([^)]*\)[^.]*\.)",
    flags=re.DOTALL,
)


def _answer_text(text: str) -> str:
    """A doc passage as answer text: plain, without "See [other page](...)" pointers, which
    lead nowhere once the passage stands alone as a training answer."""
    return _plain(_CROSS_REF.sub("", text))


def _plain(text: str) -> str:
    """Markdown to plain answer text: no bold/italic markers, links as their text."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "")
    text = re.sub(r"(?<![\w*])\*(\S[^*\n]*?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(\S[^_\n]*?)_(?![\w_])", r"\1", text)
    return re.sub(r"[ \t]*\n[ \t]*", " ", text).strip()


def _words(text: str) -> list[str]:
    return [w.lower().strip("'’") for w in _WORD.findall(text)]


def _stem(word: str, vocabulary: set[str]) -> str:
    """A crude stem that folds "exports", "exporting" and "export" together."""
    word = word.lower()
    if word.endswith("ing") and len(word) > 5:
        return _gerund_base(word, vocabulary) or word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _gerund_base(word: str, vocabulary: set[str]) -> str | None:
    """The base verb of an -ing word, if the docs use that base form somewhere."""
    word = word.lower()
    if not word.endswith("ing") or len(word) <= 5:
        return None
    stem = word[:-3]
    candidates = [stem, stem + "e"]
    if stem.endswith("y"):
        candidates.insert(0, stem)
    if len(stem) > 2 and stem[-1] == stem[-2]:
        candidates.insert(0, stem[:-1])
    for candidate in candidates:
        if candidate in vocabulary:
            return candidate
    return None


def _exact_find(haystack: str, needle: str) -> tuple[int, int] | None:
    """Where ``needle`` occurs in ``haystack``: exactly, else whitespace- and case-folded."""
    at = haystack.find(needle)
    if at >= 0:
        return at, at + len(needle)
    pattern = _loose_pattern(needle)
    if pattern is None:
        return None
    match = pattern.search(haystack)
    return (match.start(), match.end()) if match else None


@functools.lru_cache(maxsize=256)
def _loose_pattern(needle: str) -> re.Pattern[str] | None:
    """``needle`` with any whitespace run matching any other, case-folded; compiled once (one
    needle is searched for in every chunk)."""
    tokens = needle.split()
    if not tokens:
        return None
    return re.compile(r"\s+".join(re.escape(t) for t in tokens), flags=re.IGNORECASE)


# ---- the corpus --------------------------------------------------------------------------


class _Corpus:
    """The current chunks with what every rule needs to read them."""

    def __init__(self, ledger: Ledger, scope: Scope) -> None:
        self.ledger = ledger
        self.scope = scope
        self.product = scope.product.name
        self.chunks = ledger.current_chunks()
        self.sections = _document_sections(self.chunks)
        self.vocabulary: set[str] = set()
        self.names: set[str] = {self.product}
        for chunk in self.chunks:
            # Words the docs write in lower case somewhere: ordinary words.
            self.vocabulary.update(w for w in _WORD.findall(chunk.text) if w.islower())
            # Capitalised words in mid-sentence (after a lower-case word): names like "Gusto".
            # "**Download PDF**" mid-sentence is a button label, not a name, so bold is skipped.
            self.names.update(re.findall(r"(?<=[a-z,] )([A-Z][a-z][\w-]*)", chunk.text))

    def lower_first(self, text: str) -> str:
        """Lower-case the first word for use mid-sentence, unless it is a name or acronym."""
        match = _WORD.match(text)
        if not match:
            return text
        first = match.group(0)
        if first in self.names or first[1:] != first[1:].lower():
            return text
        return first.lower() + text[len(first) :]


def _article(feature: str) -> str:
    words = feature.split()
    if words and words[-1].lower() in _COUNTABLE_HEADS:
        return ("an " if feature[0].lower() in "aeiou" else "a ") + feature
    return feature


def _pick(options: list[str], key: str) -> str:
    """A deterministic, evenly spread choice: the same key always gets the same option."""
    return options[int(text_hash(key)[3:11], 16) % len(options)]


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of the chunk's paragraphs, list items (with continuation lines), table rows and
    headings: the units a sentence never crosses."""
    spans: list[tuple[int, int]] = []
    open_block = False
    for line in _lines(text):
        stripped = line.text.strip()
        if not stripped:
            open_block = False
            continue
        starts_unit = (
            _heading(line.text) is not None
            or stripped.startswith("|")
            or _STEP.match(stripped) is not None
            or _BULLET.match(line.text) is not None
        )
        if open_block and not starts_unit:
            spans[-1] = (spans[-1][0], line.end)
        else:
            spans.append((line.start, line.end))
        # Headings and table rows stand alone; a paragraph or an item may run on.
        open_block = not (_heading(line.text) or stripped.startswith("|"))
    return spans


def _sentences(text: str) -> list[tuple[int, int]]:
    """Exact spans of the chunk's sentences (list markers excluded), in order."""
    spans: list[tuple[int, int]] = []
    for start, end in _blocks(text):
        marker = re.match(r"\s*(\d+\.|[-*+])\s+", text[start:end])
        cursor = start + (marker.end() if marker else 0)
        for match in _SENTENCE_END.finditer(text, cursor, end):
            spans.append((cursor, match.start()))
            cursor = match.end()
        spans.append((cursor, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


# ---- negatives ---------------------------------------------------------------------------


def _plan_negatives(corpus: _Corpus, per_chunk: int, report: RulesReport) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
    product = corpus.product
    for feature in corpus.scope.does_not_offer:
        check = check_absence(corpus.ledger, feature.all_terms())
        place = _ground_instead(corpus, feature, plans, per_chunk)
        if not check.absent:
            if place is not None:
                plan = plans.setdefault(place[0].id, _Plan())
                plan.dropped["feature_in_docs"] = plan.dropped.get("feature_in_docs", 0) + 1
            else:
                report.dropped["feature_in_docs"] = report.dropped.get("feature_in_docs", 0) + 1
            continue
        if place is None:
            report.dropped["no_grounding"] = report.dropped.get("no_grounding", 0) + 1
            continue
        chunk, quote, how = place
        plans.setdefault(chunk.id, _Plan()).drafts.append(
            _negative_draft(corpus, feature, check, quote, how, product)
        )
    return plans


def _ground_instead(
    corpus: _Corpus, feature: AbsentFeature, plans: dict[str, _Plan], per_chunk: int
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
        span = _exact_find(chunk.text, instead)
        if span is not None:
            full = len(plans.get(chunk.id, _Plan()).drafts) >= per_chunk
            found.append((full, len(chunk.text), index, chunk, chunk.text[span[0] : span[1]]))
    if found:
        best = min(found, key=lambda f: (f[0], f[1], f[2]))
        return best[3], best[4], "verbatim"
    keys = {w for w in _words(_plain(instead)) if w not in _STOPWORDS and len(w) > 2}
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
        for a, b in _sentences(chunk.text):
            sentence = chunk.text[a:b]
            share = len(keys & set(_words(sentence))) / max(1, len(keys))
            if share >= 0.6 and (best_hit is None or share > best_hit[0]):
                best_hit = (share, index, chunk, sentence.strip())
    if best_hit is None:
        return None
    return best_hit[2], best_hit[3], "key_words"


def _negative_draft(
    corpus: _Corpus,
    feature: AbsentFeature,
    check: AbsenceCheck,
    quote: str,
    how: str,
    product: str,
) -> DraftIn:
    name = _article(feature.feature)
    templates = _NEGATIVE_QUESTIONS if name == feature.feature else _NEGATIVE_QUESTIONS_COUNTABLE
    question = _pick(templates, feature.feature).format(product=product, feature=name)
    opener = _pick(_NEGATIVE_OPENERS, "answer:" + feature.feature)
    if question.startswith("How "):
        # "How do I set up X?" presumes X exists: the answer corrects that, not a yes/no.
        opener = "{product} doesn't offer {feature}, so there is nothing to set up."
    instead = corpus.lower_first(_plain(feature.instead).rstrip("."))
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


# ---- wrong UI names ----------------------------------------------------------------------


@dataclass(frozen=True)
class _PathSite:
    chunk: Chunk
    index: int
    quote: str  # the table row, definition bullet or sentence naming the path
    description: str  # what the docs say the page is for ("" if they don't, in that line)
    score: int


def _path_sites(corpus: _Corpus, path: str) -> list[_PathSite]:
    # The whole path, not the tail of a longer one ("X > Settings > Team") nor its head.
    pattern = re.compile(r"(?<!> )(?<![\w>])" + re.escape(path) + r"(?!\w)(?!\*{0,2}\s*>)")
    sites: list[_PathSite] = []
    for index, chunk in enumerate(corpus.chunks):
        if path not in chunk.text:
            continue  # a plain find first: the pattern's lookbehinds make it scan slowly
        for match in pattern.finditer(chunk.text):
            line_start = chunk.text.rfind("\n", 0, match.start()) + 1
            line_end = chunk.text.find("\n", match.end())
            line_end = len(chunk.text) if line_end < 0 else line_end
            line = chunk.text[line_start:line_end]
            if line.lstrip().startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                others = [c for c in cells if path not in c and c]
                # A "| **path** | what it is for |" row describes the page.
                is_row = len(cells) == 2 and len(others) == 1 and cells[0].strip("*") == path
                desc = _plain(others[0]) if is_row else ""
                sites.append(_PathSite(chunk, index, line.strip(), desc, 3 if desc else 1))
                continue
            definition = re.match(r"^\s*[-*+]\s+\*\*" + re.escape(path) + r"\*\*:\s+(.+)$", line)
            if definition:
                desc = _plain(definition.group(1)).rstrip(".")
                sites.append(_PathSite(chunk, index, line.strip(), desc, 3))
                continue
            if line.lstrip().startswith("|"):
                continue
            for a, b in _sentences(chunk.text):
                if a <= match.start() < b:
                    sites.append(_PathSite(chunk, index, chunk.text[a:b].strip(), "", 2))
                    break
    return sites


# "- Shift notes: 500 characters." -- a bare limit, with nothing after it that qualifies it
# (a plan name, a default, a range), so ten times the number is unambiguously wrong.
_LIMIT_LINE = re.compile(
    r"^[-*+][ \t]+(?P<subject>[A-Z][A-Za-z ,'’-]{2,60}):[ \t]+(?P<upto>up to )?"
    r"(?P<number>\d{1,3}(?:,\d{3})*|\d+)(?P<unit> [a-z]+)?\.(?:[ \t]|$)"
)
_FALSE_PREMISE_QUESTIONS = [
    "Is it true that {subject} can go up to {wrong}?",
    "I heard {subject} can go up to {wrong}. Is that right?",
]
FALSE_PREMISES_PER_CHUNK = 2


def _plan_false_premises(corpus: _Corpus, per_chunk: int) -> dict[str, _Plan]:
    """Questions that assume ten times a documented numeric limit, answered with the real one."""
    plans: dict[str, _Plan] = {}
    cap = min(per_chunk, FALSE_PREMISES_PER_CHUNK)
    for chunk in corpus.chunks:
        drafts: list[DraftIn] = []
        for line in _lines(chunk.text):
            match = _LIMIT_LINE.match(line.text)
            if match is None or len(drafts) >= cap:
                continue
            subject = re.sub(r"^(?i:maximum|max\.?)\s+", "", match.group("subject")).strip()
            subject = corpus.lower_first(subject)
            number = int(match.group("number").replace(",", ""))
            unit = match.group("unit") or ""
            real, wrong = f"{number:,}{unit}", f"{number * 10:,}{unit}"
            question = _pick(_FALSE_PREMISE_QUESTIONS, "fp:" + line.text).format(
                subject=subject, wrong=wrong
            )
            answer = f"No. {subject[0].upper() + subject[1:]} can go up to {real}, not {wrong}."
            drafts.append(
                DraftIn(
                    kind=DraftKind.ADVERSARIAL,
                    subtype="false_premise",
                    question=question,
                    answer=answer,
                    evidence=[line.text.strip()],
                    meta={
                        "drafter": RULES_DRAFTER,
                        "rule": "adversarial.false_premise",
                        "documented": real,
                        "premise": wrong,
                    },
                )
            )
        if drafts:
            plans[chunk.id] = _Plan(drafts)
    return plans


def _plan_wrong_ui_names(
    corpus: _Corpus, per_chunk: int, plans: dict[str, _Plan] | None = None
) -> dict[str, _Plan]:
    plans = {} if plans is None else plans
    names = [
        entry
        for entry in _WRONG_UI_NAMES
        if not ui_name_is_real(corpus.ledger, corpus.scope, entry[0])
    ]
    if not names:
        return plans
    checks = {entry[0]: check_absence(corpus.ledger, [entry[0]]) for entry in names}
    # Deepest paths first: they name a specific page, so the question is specific too.
    paths = sorted(corpus.scope.glossary.paths, key=lambda p: (-p.count(">"), p))
    for path in paths:
        sites = _path_sites(corpus, path)
        if not sites or not path_in_docs(corpus.ledger, path):
            continue

        def rank(site: _PathSite) -> tuple[bool, int, int]:
            full = len(plans.get(site.chunk.id, _Plan()).drafts) >= per_chunk
            return (full, -site.score, site.index)

        site = min(sites, key=rank)
        if len(plans.get(site.chunk.id, _Plan()).drafts) >= per_chunk:
            continue
        segments = {w for w in _words(path.replace(">", " "))}
        fitting = [n for n in names if n[3] & segments] or [n for n in names if not n[3]]
        if not fitting:
            continue
        wrong, takes_the, noun, _ = fitting[int(text_hash("ui:" + path)[3:11], 16) % len(fitting)]
        leaf = path.split(">")[-1].strip()
        wrong_ref = f"the {wrong}" if takes_the else wrong
        question = _pick(_WRONG_UI_QUESTIONS, "q:" + path).format(leaf=leaf, wrong=wrong_ref)
        answer = f"There is no {noun} in {corpus.product}. Go to {path} instead"
        if site.description:
            answer += f" — {corpus.lower_first(site.description)}"
        answer += "."
        plans.setdefault(site.chunk.id, _Plan()).drafts.append(
            DraftIn(
                kind=DraftKind.ADVERSARIAL,
                subtype="wrong_ui_name",
                question=question,
                answer=answer,
                evidence=[site.quote],
                meta={
                    "drafter": RULES_DRAFTER,
                    "rule": "adversarial.wrong_ui_name",
                    "wrong_name": wrong,
                    "real_path": path,
                    "absence_check": checks[wrong].as_meta(),
                },
            )
        )
    return plans


# ---- how-to Q&As -------------------------------------------------------------------------


def _howto_question(heading: str, vocabulary: set[str], speaker: bool = True) -> str | None:
    """ "How to change someone's role" / "Exporting timesheets" -> "How do I ...?" or None."""
    text = _plain(heading).rstrip(".:?")
    match = re.match(r"(?i)^how to\s+(.+)$", text)
    if match:
        rest = match.group(1)
    else:
        first, _, tail = text.partition(" ")
        base = _gerund_base(first, vocabulary)
        if base is None:
            return None
        rest = f"{base} {tail}".strip()
    if speaker:  # the user asks: "your team" in a heading is "my team" in the question
        rest = re.sub(r"\byour\b", "my", rest)
        rest = re.sub(r"\byourself\b", "myself", rest)
    return f"How do I {rest[0].lower() + rest[1:]}?"


def _action_phrase(corpus: _Corpus, heading: str) -> str:
    """ "Exporting the audit log" / "How to request time off" -> "export the audit log"."""
    question = _howto_question(heading, corpus.vocabulary, speaker=False)
    if question is None:
        return corpus.lower_first(_plain(heading))
    return question.removeprefix("How do I ").removesuffix("?")


def _plan_qas(corpus: _Corpus, per_chunk: int) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
    for chunk in corpus.chunks:
        drafts: list[DraftIn] = []
        for section in corpus.sections[chunk.id]:
            if section.heading is None or len(drafts) >= per_chunk:
                continue
            draft = _howto_draft(corpus, chunk, section) or _faq_draft(chunk, section)
            if draft is not None:
                drafts.append(draft)
        if drafts:
            plans[chunk.id] = _Plan(drafts)
    return plans


def _howto_draft(corpus: _Corpus, chunk: Chunk, section: _Section) -> DraftIn | None:
    steps = _steps(section)
    if section.heading is None or len(steps) < 2:
        return None
    question = _howto_question(section.heading, corpus.vocabulary)
    if question is None:
        return None
    lines = []
    for number, (a, b) in enumerate(steps, start=1):
        body = re.sub(r"^\d+\.\s+", "", chunk.text[a:b])
        lines.append(f"{number}. {_answer_text(body)}")
    evidence = [chunk.text[a:b] for a, b in steps]
    answer = "\n".join(lines)
    note = _paragraph_after(section, steps[-1][1])
    if note is not None:
        note_text = chunk.text[note[0] : note[1]]
        # A short closing note ("The change takes effect ...") completes the answer; one that
        # leans on its surroundings ("as described above", a link) would not read on its own.
        if len(note_text) <= 300 and not re.search(r"\b(above|below)\b|\]\(", note_text):
            answer += "\n\n" + _answer_text(note_text)
            evidence.append(note_text)
    return DraftIn(
        kind=DraftKind.QA,
        question=question,
        answer=answer,
        evidence=evidence,
        meta={"drafter": RULES_DRAFTER, "rule": "qa.howto_steps", "heading": section.heading},
    )


def _faq_draft(chunk: Chunk, section: _Section) -> DraftIn | None:
    """An FAQ entry ("### Can I ...?" over a short answer) is already a question and answer."""
    if section.heading is None or not section.heading.endswith("?"):
        return None
    body = [line for line in section.lines if line.text.strip()]
    if not body or any(line.text.lstrip().startswith("|") for line in body):
        return None
    start, end = body[0].start, body[-1].end
    if end - start > 600:
        return None
    text = chunk.text[start:end]
    # One answer line per paragraph or list item, so a list stays a list.
    answer = "\n".join(
        _answer_text(text[a - start : b - start])
        for a, b in _blocks(chunk.text)
        if start <= a < end
    )
    return DraftIn(
        kind=DraftKind.QA,
        question=_plain(section.heading),
        answer=answer,
        evidence=[text],
        meta={"drafter": RULES_DRAFTER, "rule": "qa.faq", "heading": section.heading},
    )


# ---- clarify -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sense:
    heading: str
    document_id: str
    keys: frozenset[str]  # stems of the heading that tell this sense from the others


def _clarify_terms(corpus: _Corpus) -> dict[str, tuple[str, list[_Sense]]]:
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
    candidates: dict[str, list[tuple[str, _Section]]] = {}
    for chunk in corpus.chunks:
        for section in corpus.sections[chunk.id]:
            if section.heading is None:
                continue
            words = _words(_plain(section.heading))
            for position, word in enumerate(words):
                if word in _STOPWORDS or len(word) < 3:
                    continue
                stem = _stem(word, vocab)
                places.setdefault(stem, set()).add((chunk.document_id, section.heading))
                base = _gerund_base(word, vocab)
                after_how_to = position >= 2 and words[position - 2 : position] == ["how", "to"]
                as_verb = (base is not None and position == 0) or after_how_to
                if as_verb:
                    verbs.setdefault(stem, base or word)
                else:
                    nouns.add(stem)
                if _steps(section):
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
                _stem(w, vocab)
                for w in _words(_plain(section.heading))
                if w not in _STOPWORDS
                and len(w) > 2
                and _stem(w, vocab) != stem
                and _gerund_base(w, vocab) is None
            )
            if not keys or keys in seen_keys:
                continue
            seen_keys.add(keys)
            senses.append(_Sense(section.heading, document_id, keys))
        if len(senses) >= 2:
            terms[stem] = (verb, senses)
    return terms


def _match_senses(
    corpus: _Corpus, chunk: Chunk, stem: str, senses: list[_Sense]
) -> list[tuple[_Sense, str]]:
    """Each sense paired with a distinct line of the chunk that names it (best first)."""
    vocab = corpus.vocabulary
    # Only lines under a heading that names the term itself ("Which export should I use?",
    # "Exports and reports"): a table that happens to share words with the senses is not a
    # place where the docs tell the senses apart.
    lines = [
        chunk.text[a:b].strip()
        for section in corpus.sections[chunk.id]
        if section.lines and any(stem in {_stem(w, vocab) for w in _words(h)} for h in section.path)
        for a, b in _blocks(chunk.text)
        if section.lines[0].start <= a < section.lines[-1].end + 1
        and not re.fullmatch(r"[\s|:-]+", chunk.text[a:b])
        and not _heading(chunk.text[a:b])
    ]
    used: set[int] = set()
    matched: list[tuple[_Sense, str]] = []
    for sense in senses:
        need = math.ceil(len(sense.keys) / 2)
        best: tuple[int, int] | None = None
        for i, line in enumerate(lines):
            if i in used:
                continue
            stems = {_stem(w, vocab) for w in _words(line)}
            hits = len(sense.keys & stems)
            if hits >= need and (best is None or hits > best[0]):
                best = (hits, i)
        if best is not None:
            used.add(best[1])
            matched.append((sense, lines[best[1]]))
    return matched


def _plan_clarify(corpus: _Corpus, per_chunk: int) -> dict[str, _Plan]:
    plans: dict[str, _Plan] = {}
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
            plan = plans.setdefault(chunk.id, _Plan())
            if len(plan.drafts) >= per_chunk:
                continue
            question = _CLARIFY_QUESTIONS[made % len(_CLARIFY_QUESTIONS)].format(verb=verb)
            options = []
            for sense, line in matched:
                label = _action_phrase(corpus, sense.heading)
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


# ---- the run -----------------------------------------------------------------------------


def _template(kind: str) -> tuple[str, str]:
    name = f"rules/{kind}"
    return name, text_hash(f"{RULES_DRAFTER}|{kind}|{RULE_VERSIONS[kind]}")


def _plans_for(kind: str, corpus: _Corpus, per_chunk: int, report: RulesReport) -> dict[str, _Plan]:
    if kind == DraftKind.NEGATIVE.value:
        return _plan_negatives(corpus, per_chunk, report)
    if kind == DraftKind.ADVERSARIAL.value:
        # False premises first (few chunks state bare limits); wrong UI names fill the rest.
        return _plan_wrong_ui_names(corpus, per_chunk, _plan_false_premises(corpus, per_chunk))
    if kind == DraftKind.QA.value:
        return _plan_qas(corpus, per_chunk)
    if kind == DraftKind.CLARIFY.value:
        return _plan_clarify(corpus, per_chunk)
    raise ValueError(f"unknown draft kind for the rules drafter: {kind}")


def _params(per_chunk: int, plan: _Plan) -> dict[str, Any]:
    # inputs_hash: what this chunk's drafts depend on beyond the chunk itself (the scope file,
    # the glossary, other chunks). Keying the job on it means a changed scope entry or a new
    # doc elsewhere drafts again, while an unchanged corpus reruns as a no-op.
    inputs = [d.model_dump(mode="json") for d in plan.drafts]
    return {"per_chunk": per_chunk, "inputs_hash": content_hash([inputs, plan.dropped])}


def run_rules_drafter(
    ledger: Ledger,
    scope: Scope,
    kinds: list[str],
    per_chunk: int = 3,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RulesReport:
    """Draft the given kinds from the ledger's current chunks with rules; no network."""
    if per_chunk < 1:
        raise ValueError("per_chunk must be at least 1")
    unknown = [k for k in kinds if k not in RULE_VERSIONS]
    if unknown:
        raise ValueError(f"unknown draft kind for the rules drafter: {', '.join(unknown)}")
    report = RulesReport()
    corpus = _Corpus(ledger, scope)
    finished = ledger.finished_job_keys()
    jobs: list[tuple[GenerationCall, list[DraftIn]]] = []
    for kind in dict.fromkeys(kinds):
        plans = _plans_for(kind, corpus, per_chunk, report)
        template_name, template_hash = _template(kind)
        for chunk in corpus.chunks:
            plan = plans.get(chunk.id)
            if plan is None:
                continue
            drafts = plan.drafts[:per_chunk]
            params = _params(per_chunk, _Plan(drafts, plan.dropped))
            job_key = content_hash(
                {
                    "chunk": chunk.text_hash,
                    "kind": kind,
                    "template_hash": template_hash,
                    "model": RULES_MODEL,
                    "params": params,
                    "count": per_chunk,
                }
            )
            if job_key in finished:
                report.jobs_skipped += 1
                continue
            dropped = dict(plan.dropped)
            # The rules found fewer things worth drafting in this chunk than were asked for.
            # Said in the drafter's own words, so the summary does not read as drafts that went
            # missing (the ledger would otherwise count them as a short reply).
            unfound = per_chunk - len(drafts) - sum(dropped.values())
            if unfound > 0:
                dropped[NOTHING_MORE_TO_DRAFT] = unfound
            now = utc_now()
            call = GenerationCall(
                id=new_event_id(),
                job_key=job_key,
                kind=DraftKind(kind),
                chunk_id=chunk.id,
                drafter=RULES_DRAFTER,
                template_name=template_name,
                template_hash=template_hash,
                model=RULES_MODEL,
                params=params,
                attempts=1,
                requested=per_chunk,
                dropped=dropped,
                started_at=now,
                finished_at=now,
            )
            jobs.append((call, drafts))
    if limit is not None:
        jobs = jobs[: max(0, limit)]
    for done, (call, drafts) in enumerate(jobs, start=1):
        outcome = ledger.record_call(call, drafts)
        report.calls_ok += 1
        report.drafts_requested += call.requested
        kind = call.kind.value
        stored = len(outcome.stored_draft_ids)
        report.drafts_by_kind[kind] = report.drafts_by_kind.get(kind, 0) + stored
        for reason, count in outcome.call.dropped.items():
            report.dropped[reason] = report.dropped.get(reason, 0) + count
        if on_progress is not None:
            on_progress(done, len(jobs))
    return report
