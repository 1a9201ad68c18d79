"""Corpus-wide checks that something is NOT in the docs, with the evidence kept for reviewers.

A negative ("no, we don't offer X") is only believable if X occurs nowhere in the docs, or
only where the docs themselves deny it ("Acme does not do payroll"): a denial is the best
evidence a negative can have. A wrong-UI-name adversarial is only believable if the wrong name
occurs nowhere in the docs or the glossary. Both search every current chunk through the
ledger's full-text index, and the terms searched and what was found are stored with the draft
so the reviewer sees why it is believed.

The index holds chunks as written; a hit counts only when the term's words also occur in the
chunk's plain text (:mod:`generator.plain`), so a commented-out line (``<!-- brew install … -->``)
or a tag attribute is not taken for the docs offering something.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from generator.plain import plain_text
from generator.scope import Scope
from ledger import Chunk, ChunkHit, Ledger

# Mentions read per term to tell denials from affirmative mentions. A term found in more
# chunks than this is not a feature the docs only deny.
MENTION_CHUNKS_SCANNED = 20
# A negation this many words or fewer before the term denies it ("does not do accounting,
# payroll, or tax filing").
DENIAL_WINDOW_WORDS = 12

_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|without|neither|nor|unsupported|unavailable|none)\b|n't\b",
    re.I,
)
# A negation inside a condition ("If you do not see the Payroll tab, ...") denies nothing.
_CONDITION = re.compile(r"\b(?:if|when|unless|until|once|whether|before|after|while)\b", re.I)
# Between the negation and the term, one of these turns the sentence affirmative again ("does
# not charge extra but includes payroll export").
_TURN = re.compile(r"\b(?:but|however|instead|then|so|except|only)\b|[.;]", re.I)
# "Payroll processing isn't available", "SSO is not supported": the denial after the term.
_DENIED_AFTER = re.compile(
    r"[^.;!?\n]{0,40}?\b(?:is|are|was|were)(?:n't|\s+not)\s+(?:yet\s+)?"
    r"(?:available|supported|offered|included|possible|provided|part\s+of)\b",
    re.I,
)
_HEADING_LINE = re.compile(r"^#{1,6} [^\n]*\n", re.M)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?])\s+|\n\s*\n)")
_WORD = re.compile(r"\w+")


# Sections that weigh one way of working against another ("Cons of not pooling money",
# "Strategies for joint accounts", "Notes on all templates"): a denial there is about that
# way or that syntax ("You don't have a zero based budget"), not something the product lacks.
TRADE_OFF_SECTION = re.compile(
    r"(?i)\b(cons|drawbacks?|disadvantages?|downsides?|trade-?offs?|caveats?|strateg(?:y|ies)"
    r"|option \d+|examples?|notes? on)\b"
)


@dataclass(frozen=True)
class AbsenceCheck:
    terms: list[str]
    # Mentions that do not deny the feature, one per term at most: term, document path,
    # heading, snippet and line (``document:line``). Any one of them sinks a negative.
    hits: list[dict[str, Any]]
    # Mentions that deny it: term, line (``document:line``) and the denying sentence.
    denials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def absent(self) -> bool:
        """The docs never mention the feature at all."""
        return not self.hits and not self.denials

    @property
    def supports_negative(self) -> bool:
        """The docs never mention the feature, or mention it only to deny it."""
        return not self.hits

    def as_meta(self) -> dict[str, Any]:
        """The form stored in a draft's ``meta`` under ``absence_check``."""
        return {
            "terms": self.terms,
            "hits": self.hits,
            "absent": self.absent,
            "denied": not self.hits and bool(self.denials),
            "denials": self.denials,
        }


def check_absence(ledger: Ledger, terms: list[str]) -> AbsenceCheck:
    """Search every current chunk for each term (token sequence, case-insensitive) and tell
    the mentions that deny it from those that do not."""
    clean = list(dict.fromkeys(t.strip() for t in terms if t.strip()))
    hits: list[dict[str, Any]] = []
    denials: list[dict[str, Any]] = []
    for term in clean:
        found = _plain_hits(ledger, term, limit=MENTION_CHUNKS_SCANNED)
        affirmative: dict[str, Any] | None = None
        for hit in found:
            chunk = ledger.get_chunk(hit.chunk_id)
            mentions = mentions_of(term, chunk) if chunk is not None else []
            # Matched by the index but not found in the text (markup between the words), or
            # too many chunks to read them all: counted as a mention that does not deny.
            if not mentions or len(found) >= MENTION_CHUNKS_SCANNED:
                line = mentions[0].line if mentions else (chunk.start_line if chunk else 0)
                mentions = [Mention(line, "", denial=False)]
            for mention in mentions:
                where = f"{hit.document_path}:{mention.line}"
                if mention.denial:
                    denials.append({"term": term, "line": where, "sentence": mention.sentence})
                elif affirmative is None:
                    affirmative = {
                        "term": term,
                        "document": hit.document_path,
                        "heading": " > ".join(hit.heading_path),
                        "snippet": hit.snippet,
                        "line": where,
                    }
        if affirmative is not None:
            hits.append(affirmative)
    return AbsenceCheck(clean, hits, denials)


@dataclass(frozen=True)
class Mention:
    line: int  # 1-based line in the document
    sentence: str
    denial: bool


def mentions_of(term: str, chunk: Chunk) -> list[Mention]:
    """Each place ``term`` occurs in the chunk, and whether its sentence (or the lead-in of
    the list it is an item of) denies it."""
    words = re.findall(r"\w+", term)
    if not words:
        return []
    pattern = re.compile(r"\b" + r"[\W_]+".join(map(re.escape, words)) + r"\b", re.I)
    text = chunk.text
    mentions = []
    for match in pattern.finditer(text):
        sentence, _, _ = _sentence_around(text, match.start(), match.end())
        denial = denies_mention(text, match.start(), match.end())
        line = chunk.start_line + text.count("\n", 0, match.start())
        mentions.append(Mention(line, sentence, denial))
    return mentions


def denies_mention(text: str, start: int, end: int) -> bool:
    """Whether the mention at ``text[start:end]`` is denied: a negation shortly before it in
    its sentence, a denial right after it ("X is not supported"), or the lead-in of the list
    it is an item of ("What Acme does not do:")."""
    _, before, after = _sentence_around(text, start, end)
    return _denies(before) or bool(_DENIED_AFTER.match(after)) or _list_lead_in_denies(text, start)


def _sentence_around(text: str, start: int, end: int) -> tuple[str, str, str]:
    """The sentence holding text[start:end], and its parts before and after the match."""
    begin = 0
    for boundary in _SENTENCE_START.finditer(text, 0, start):
        begin = boundary.end()
    line_start = text.rfind("\n", 0, start) + 1
    # A heading line is a sentence of its own, though it ends without a full stop.
    for heading in _HEADING_LINE.finditer(text, begin, line_start):
        begin = max(begin, heading.end())
    if _LIST_ITEM.match(text[line_start : start + 1] or ""):
        begin = max(begin, line_start)
    stop = len(text)
    found = re.search(r"[.!?](?:\s|$)|\n\s*\n|\n\s*(?:[-*+]|\d+[.)])\s", text[end:])
    if found:
        stop = end + found.start() + 1
    return " ".join(text[begin:stop].split()), text[begin:start], text[end:stop]


def _denies(before: str) -> bool:
    """A negation shortly before the term, not inside a condition, not turned around."""
    tail_words = before.split()[-DENIAL_WINDOW_WORDS:]
    window = " ".join(tail_words)
    negations = list(_NEGATION.finditer(window))
    if not negations:
        return False
    negation = negations[-1]
    if _TURN.search(window[negation.end() :]):
        return False
    return not _CONDITION.search(before[: len(before) - len(window) + negation.start()])


def lead_in_denies(line: str) -> bool:
    """Whether a list's lead-in line or heading denies its items ("Acme does not:", "What it
    does not do")."""
    return _denies(line.lstrip("# ").rstrip(":"))


def _list_lead_in_denies(text: str, start: int) -> bool:
    """The term is on a list item whose lead-in line or heading denies ("Acme does not:")."""
    lines = text[:start].split("\n")
    if not _LIST_ITEM.match(lines[-1]):
        return False
    for line in reversed(lines[:-1]):
        if not line.strip() or _LIST_ITEM.match(line):
            continue
        return lead_in_denies(line)
    return False


def ui_name_is_real(ledger: Ledger, scope: Scope, name: str) -> bool:
    """A UI name counts as real if the glossary lists it or any doc mentions it."""
    wanted = name.strip().casefold()
    if any(wanted == known.casefold() for known in scope.glossary.names()):
        return True
    return bool(_plain_hits(ledger, name, limit=1))


def path_in_docs(ledger: Ledger, path: str) -> bool:
    """A navigation path ("Settings > Billing") the answer names must occur in the docs."""
    return bool(_plain_hits(ledger, path, limit=1))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def _has_sequence(words: list[str], wanted: list[str]) -> bool:
    width = len(wanted)
    return any(words[i : i + width] == wanted for i in range(len(words) - width + 1))


def _plain_hits(ledger: Ledger, term: str, *, limit: int) -> list[ChunkHit]:
    """Index hits for ``term`` whose chunk's plain text holds the term's words in order."""
    wanted = _words(term)
    found = []
    for hit in ledger.search_chunks(term, limit=MENTION_CHUNKS_SCANNED):
        chunk = ledger.get_chunk(hit.chunk_id)
        if chunk is None or (wanted and not _has_sequence(_words(plain_text(chunk.text)), wanted)):
            continue
        found.append(hit)
        if len(found) >= limit:
            break
    return found
