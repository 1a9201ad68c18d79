"""The text toolkit every rule reads chunks with: lines, sections, blocks, sentences, words,
plain answer text and exact quote spans.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from generator.chunking import parse_heading
from ledger import Chunk
from ledger.ids import text_hash

STOPWORDS = frozenset(
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
    in_fence = False
    for line in lines_of(text):
        if line.text.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        heading = None if in_fence else heading_of(line.text)
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
    """Spans (start, end) of the first numbered list's items, continuation lines included."""
    spans: list[tuple[int, int]] = []
    for line in section.lines:
        if STEP.match(line.text):
            spans.append((line.start, line.end))
        elif not spans or not line.text.strip():
            continue  # before the list, or a blank line between items
        elif line.text.startswith((" ", "\t")):
            spans[-1] = (spans[-1][0], line.end)  # an item's continuation line
        else:
            break  # the list is over
    return spans


def paragraph_after(section: Section, after: int) -> tuple[int, int] | None:
    """The span of the first plain paragraph that starts after offset ``after``."""
    block: list[Line] = []
    for line in section.lines:
        if line.start <= after:
            continue
        if not line.text.strip():
            if block:
                break
            continue
        if not block and (STEP.match(line.text) or BULLET.match(line.text)):
            return None
        if line.text.lstrip().startswith("|"):
            return None
        block.append(line)
    return (block[0].start, block[-1].end) if block else None


CROSS_REF = re.compile(
    r"(?:;\s*see\s+\[[^\]]+\]\([^)]*\)(?=[.\s])|(?<![^\s])See\s+\[[^\]]+\]\([^)]*\)[^.]*\.)",
    flags=re.DOTALL,
)


def answer_text(text: str) -> str:
    """A doc passage as answer text: plain, without "See [other page](...)" pointers, which
    lead nowhere once the passage stands alone as a training answer."""
    return plain(CROSS_REF.sub("", text))


# Site markup that must not reach an answer: images (Markdown and HTML), key notation
# ("++ctrl+s++", "<kbd>Tab</kbd>") and component tags ("<Note>", "</Tip>").
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>", flags=re.IGNORECASE)
_KBD = re.compile(r"</?kbd>", flags=re.IGNORECASE)
_PLUS_KEYS = re.compile(r"\+\+([A-Za-z0-9+_-]+)\+\+")
_TAG = re.compile(r"</?[A-Za-z][\w.-]*(?:\s[^<>]*)?/?>")


def key_label(key: str) -> str:
    """A key as a reader writes it: "<ctrl+r>" -> "Ctrl+R", "ctrl+s" -> "Ctrl+S", "z" -> "z"."""
    key = key.strip().strip("`").strip()
    if len(key) > 2 and key.startswith("<") and key.endswith(">"):
        key = key[1:-1]
    parts = [p for p in re.split(r"(?<=\w)\+", key) if p]
    if len(parts) == 1:
        word = parts[0]
        return word if len(word) == 1 else word[0].upper() + word[1:]
    *mods, last = parts
    return "+".join(
        ["/".join(p[:1].upper() + p[1:].lower() for p in m.split("/")) for m in mods]
        + [last.upper() if len(last) == 1 else last[0].upper() + last[1:]]
    )


def plain(text: str) -> str:
    """Markdown to plain answer text: no bold/italic markers, links as their text, no images,
    key notation or component tags, code spans as their text."""
    text = _IMAGE.sub("", text)
    text = _KBD.sub("", text)
    text = _PLUS_KEYS.sub(lambda m: key_label(m.group(1)), text)
    text = _TAG.sub("", text)
    text = re.sub(r"``\s*(.+?)\s*``", r"\1", text)
    text = re.sub(r"`([^`\n]+)`", r"\1", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "")
    text = re.sub(r"(?<![\w*])\*(\S[^*\n]*?)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_(\S[^_\n]*?)_(?![\w_])", r"\1", text)
    return re.sub(r"[ \t]*\n[ \t]*", " ", text).strip()


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
    text = plain(heading).rstrip(".:?")
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


# Words that turn a sentence about a feature into a denial of it ("does not support X",
# "X isn't available", "there is no X"), matched in the clause that names the feature.
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|neither|nor|none|without|until)\b|n[’']t\b", flags=re.IGNORECASE
)
# The lead of a list whose items are all denied: "What it does not do:", "Not supported:".
_LIST_DENIES = re.compile(
    r"\b(?:not|n['’]t|never)\s+(?:do|support|offer|include|handle|provide|have|supported|"
    r"available|included|offered|possible)\b|\blimitations\b",
    flags=re.IGNORECASE,
)
_LIST_ITEM_WORDS = 5
_CLAUSE_BREAK = re.compile(r"[;:,()]|\s(?:but|however|although|though|whereas|instead)\s", re.I)


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
        lead_denies = bool(_NEGATION.search(lead)) and (
            heading is not None or block.rstrip().endswith(":")
        )
    return spans


def is_denial(
    text: str, start: int, end: int, sentence: tuple[int, int], lists: list[tuple[int, int]]
) -> bool:
    """Whether the mention at ``text[start:end]`` is denied: a negation in its clause, or an
    item of a denying list."""
    if any(a <= start < b for a, b in lists):
        return True
    a, b = sentence
    before = text[a:start]
    after = text[end:b]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    clause_before = before[breaks[-1].end() :] if breaks else before
    stop = _CLAUSE_BREAK.search(after)
    clause_after = after[: stop.start()] if stop else after
    if _NEGATION.search(clause_before):
        return True
    # An item of a list the clause denies: "does not do accounting, invoicing, or billing".
    # Back across the commas while the pieces are short list items, to the list's head.
    if len(clause_before.split()) <= _LIST_ITEM_WORDS and before.rstrip().endswith(
        (",", ", or", ", and", " or", " and")
    ):
        for piece in reversed(re.split(r",", before)[:-1]):
            if _NEGATION.search(piece):
                return True
            if len(piece.split()) > _LIST_ITEM_WORDS:
                break
    # "X is not supported", "X isn't available": the negation right after the term.
    return bool(
        re.match(
            r"\s*(?:is|are|was|were)\s+(?:not|n[’']t)\b|\s*isn[’']t\b|\s*aren[’']t\b",
            clause_after,
            re.I,
        )
    )


def mentions(text: str, term: str) -> list[tuple[int, int, bool]]:
    """Every whole-word mention of ``term`` outside heading lines: (start, end, denied)."""
    pattern = term_pattern(term)
    if pattern.search(text) is None:
        return []
    # Link targets, image sources and HTML tags are addresses, not what the docs say.
    hidden = [m.span() for m in _ADDRESSES.finditer(text)]
    lists = denial_lists(text)
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
                is_denial(text, match.start(), match.end(), sentence, lists),
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
