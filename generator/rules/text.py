"""The text toolkit every rule reads a chunk's plain text with: lines, sections, blocks,
sentences, words, mentions and exact quote spans. Answer text and key names come from
:mod:`generator.plain`; whether a mention denies a feature from :mod:`generator.absence`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from generator.absence import denies_mention, lead_in_denies
from generator.chunking import parse_heading
from generator.plain import answer_text
from ledger import Chunk
from ledger.ids import text_hash

# Headings are read by chunking's linear parser (a regex of their own backtracked cubically on
# long lines), so the rules and the chunker agree on what a heading is.
STEP = re.compile(r"^(\d+)\.[ \t]+\S")
BULLET = re.compile(r"^[ \t]*[-*+][ \t]+\S")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]*]*\s+(?=[A-Z*\"(`])")


def heading_of(text: str) -> tuple[int, str] | None:
    """A heading's level and title, or None: one line (a single final newline allowed) that
    chunking would read as an ATX heading."""
    if text.endswith("\n"):
        text = text[:-1]
    if "\n" in text:
        return None
    return parse_heading(text)


@dataclass(frozen=True)
class Line:
    start: int  # offset of the line in the chunk text
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@dataclass
class Section:
    heading: str | None
    path: list[str]  # headings above and including this one, within the document
    lines: list[Line]  # body lines (the heading line excluded)


def lines_of(text: str) -> list[Line]:
    out: list[Line] = []
    offset = 0
    for raw in text.split("\n"):
        out.append(Line(offset, raw))
        offset += len(raw) + 1
    return out


def sections_of(text: str, stack: list[tuple[int, str]]) -> list[Section]:
    """Split a chunk's text at its heading lines; ``stack`` carries the document's headings."""
    sections: list[Section] = []
    current = Section(None, [h for _, h in stack], [])
    # Fenced blocks, including one the chunk starts inside: a "# comment" there is code.
    fences = fence_spans(text)
    for line in lines_of(text):
        fenced = any(a <= line.start < b for a, b in fences)
        heading = None if fenced else heading_of(line.text)
        if heading and heading[1].startswith(("- ", "* ")):
            heading = None  # "# - 'create': ..." is a commented list item, not a heading
        if heading:
            if current.heading is not None or any(x.text.strip() for x in current.lines):
                sections.append(current)
            level, title = heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            current = Section(title, [h for _, h in stack], [])
        else:
            current.lines.append(line)
    sections.append(current)
    return sections


def document_sections(chunks: list[Chunk]) -> dict[str, list[Section]]:
    """Sections per chunk id, with heading paths tracked across a document's chunks."""
    by_chunk: dict[str, list[Section]] = {}
    stacks: dict[str, list[tuple[int, str]]] = {}
    for chunk in chunks:
        stack = stacks.setdefault(chunk.document_id, [])
        by_chunk[chunk.id] = sections_of(chunk.text, stack)
    return by_chunk


def step_spans(section: Section) -> list[tuple[int, int]]:
    """Spans (start, end) of the first numbered list's items, continuation lines included.

    After a blank line, a line belongs to the item only when indented to the item's text (as
    CommonMark reads it): a callout or component after the last step is not part of it.
    """
    spans: list[tuple[int, int]] = []
    content_indent = 0
    after_blank = False
    for line in section.lines:
        step = STEP.match(line.text)
        if step:
            spans.append((line.start, line.end))
            content_indent = step.end() - 1  # where the item's text starts
            after_blank = False
        elif not spans or not line.text.strip():
            after_blank = bool(spans)
            continue  # before the list, or a blank line between items
        elif line.text.startswith((" ", "\t")) and (
            not after_blank or len(line.text) - len(line.text.lstrip()) >= content_indent
        ):
            spans[-1] = (spans[-1][0], line.end)  # an item's continuation line
            after_blank = False
        else:
            break  # the list is over
    return spans


def words_of(text: str) -> list[str]:
    return [w.lower().strip("'’") for w in WORD.findall(text)]


def stem_of(word: str, vocabulary: set[str]) -> str:
    """A crude stem that folds "exports", "exporting" and "export" together."""
    word = word.lower()
    if word.endswith("ing") and len(word) > 5:
        return gerund_base(word, vocabulary) or word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def gerund_base(word: str, vocabulary: set[str]) -> str | None:
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


def exact_find(haystack: str, needle: str) -> tuple[int, int] | None:
    """Where ``needle`` occurs in ``haystack``: exactly, else whitespace- and case-folded."""
    at = haystack.find(needle)
    if at >= 0:
        return at, at + len(needle)
    pattern = loose_pattern(needle)
    if pattern is None:
        return None
    match = pattern.search(haystack)
    return (match.start(), match.end()) if match else None


@functools.lru_cache(maxsize=256)
def loose_pattern(needle: str) -> re.Pattern[str] | None:
    """``needle`` with any whitespace run matching any other, case-folded; compiled once (one
    needle is searched for in every chunk)."""
    tokens = needle.split()
    if not tokens:
        return None
    return re.compile(r"\s+".join(re.escape(t) for t in tokens), flags=re.IGNORECASE)


def pick(options: list[str], key: str) -> str:
    """A deterministic, evenly spread choice: the same key always gets the same option."""
    return options[int(text_hash(key)[3:11], 16) % len(options)]


def block_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the chunk's paragraphs, list items (with continuation lines), table rows and
    headings: the units a sentence never crosses."""
    spans: list[tuple[int, int]] = []
    open_block = False
    for line in lines_of(text):
        stripped = line.text.strip()
        if not stripped:
            open_block = False
            continue
        starts_unit = (
            heading_of(line.text) is not None
            or stripped.startswith("|")
            or STEP.match(stripped) is not None
            or BULLET.match(line.text) is not None
        )
        if open_block and not starts_unit:
            spans[-1] = (spans[-1][0], line.end)
        else:
            spans.append((line.start, line.end))
        # Headings and table rows stand alone; a paragraph or an item may run on.
        open_block = not (heading_of(line.text) or stripped.startswith("|"))
    return spans


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Exact spans of the chunk's sentences (list markers excluded), in order."""
    spans: list[tuple[int, int]] = []
    for start, end in block_spans(text):
        marker = re.match(r"\s*(\d+\.|[-*+])\s+", text[start:end])
        cursor = start + (marker.end() if marker else 0)
        for match in SENTENCE_END.finditer(text, cursor, end):
            spans.append((cursor, match.start()))
            cursor = match.end()
        spans.append((cursor, end))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def howto_question(heading: str, vocabulary: set[str], speaker: bool = True) -> str | None:
    """ "How to change someone's role" / "Exporting reports" -> "How do I ...?" or None."""
    text = answer_text(heading).rstrip(".:?")
    match = re.match(r"(?i)^how to\s+(.+)$", text)
    if match:
        rest = match.group(1)
    else:
        first, _, tail = text.partition(" ")
        base = gerund_base(first, vocabulary)
        if base is None:
            return None
        rest = f"{base} {tail}".strip()
    if speaker:  # the user asks: "your team" in a heading is "my team" in the question
        rest = re.sub(r"\byour\b", "my", rest)
        rest = re.sub(r"\byourself\b", "myself", rest)
    return f"How do I {rest[0].lower() + rest[1:]}?"


_HEDGE = re.compile(
    r"\b(?:will be (?:available|supported|added)|planned|coming soon|roadmap|in the future)\b"
    r"|\bwhen\b[^.]*\b(?:is|are) (?:enabled|available|supported|added)\b",
    flags=re.IGNORECASE,
)
_ADDRESSES = re.compile(r"\]\([^)\n]*\)|<[A-Za-z/!][^<>\n]*>")


def term_pattern(term: str) -> re.Pattern[str]:
    """``term`` as whole words, any whitespace run matching any other, case-folded."""
    tokens = term.split()
    body = r"\s+".join(re.escape(t) for t in tokens)
    return re.compile(r"(?<![\w-])" + body + r"(?![\w-])", flags=re.IGNORECASE)


def denial_lists(text: str) -> list[tuple[int, int]]:
    """Spans of list items under a lead line or heading that denies ("What it does not do:",
    "Not supported:"): every item of such a list is itself a denial."""
    spans: list[tuple[int, int]] = []
    lead_denies = False
    for start, end in block_spans(text):
        block = text[start:end]
        is_item = BULLET.match(block) is not None or STEP.match(block.lstrip()) is not None
        if is_item:
            if lead_denies:
                spans.append((start, end))
            continue
        heading = heading_of(block)
        lead = heading[1] if heading else block
        lead_denies = lead_in_denies(lead) and (heading is not None or block.rstrip().endswith(":"))
    return spans


def mentions(text: str, term: str) -> list[tuple[int, int, bool]]:
    """Every whole-word mention of ``term`` outside heading lines: (start, end, denied)."""
    pattern = term_pattern(term)
    if pattern.search(text) is None:
        return []
    # Link targets, image sources and HTML tags are addresses, not what the docs say.
    hidden = [m.span() for m in _ADDRESSES.finditer(text)]
    sentences = sentence_spans(text)
    found: list[tuple[int, int, bool]] = []
    for match in pattern.finditer(text):
        if any(a <= match.start() < b for a, b in hidden):
            continue
        line_start = text.rfind("\n", 0, match.start()) + 1
        sentence = next(
            ((a, b) for a, b in sentences if a <= match.start() < b), (line_start, match.end())
        )
        if _HEDGE.search(text[sentence[0] : sentence[1]]):
            continue  # "when X is enabled", "X will come": neither has nor denies it now
        line_end = text.find("\n", match.end())
        if heading_of(text[line_start : len(text) if line_end < 0 else line_end]):
            continue  # a heading names a topic; its body says whether the product has it
        found.append(
            (
                match.start(),
                match.end(),
                denies_mention(text, match.start(), match.end()),
            )
        )
    return found


def sentence_at(text: str, offset: int) -> tuple[int, int]:
    """The span of the sentence holding ``offset`` (its line if no sentence does)."""
    for a, b in sentence_spans(text):
        if a <= offset < b:
            return a, b
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    return start, len(text) if end < 0 else end


def fence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the chunk's fenced code blocks (an unclosed fence runs to the end). A chunk cut
    out of the middle of a block starts inside it: with an odd number of fence lines, a bare
    first one (a closing fence: opening ones mostly name a language) closes a block that began
    at the chunk's start."""
    marks = [line for line in lines_of(text) if line.text.lstrip().startswith(("```", "~~~"))]
    spans: list[tuple[int, int]] = []
    start: int | None = None
    if len(marks) % 2 == 1 and marks[0].text.strip() in ("```", "~~~"):
        start = 0
    for line in marks:
        if start is None:
            start = line.start
        else:
            spans.append((start, line.end))
            start = None
    if start is not None:
        spans.append((start, len(text)))
    return spans


def is_prose(text: str) -> bool:
    """Whether a span reads as prose: not front matter, a "key: value" block, a comment line
    or a heading."""
    if re.search(r"^\s*(?:---|[\w-]+:\s|#|:::|!!!)", text, flags=re.MULTILINE):
        return False
    return heading_of(text.strip()) is None
