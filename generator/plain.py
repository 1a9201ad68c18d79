"""Plain text for drafting, from chunk text as written.

A chunk is stored as the file has it (the review screen shows the source as written). Drafts
are built from its plain text, where site markup is normalised:

- ``++ctrl+s++`` becomes ``Ctrl+S``; ``<kbd>Tab</kbd>`` becomes ``Tab``;
- HTML comments, image tags and Markdown images are removed;
- admonition markers (``:::tip``, ``:::``, ``!!! note "Title"``, ``??? info``) and content-tab
  markers (``=== "Tab"``) are removed, keeping a title they carry;
- HTML and JSX-style tags (``<Note>``, ``<Steps>``, ``<Card title="Setup" …>``) are dropped and
  their inner text kept (a ``title`` attribute is kept as text);
- MDX ``import``/``export`` statement lines are removed;
- a line left with nothing but spaces is removed whole, and runs of blank lines become one.

Code fences and inline code spans are left exactly as written. Key notation inside angle
brackets that is not an HTML tag (``<space>``, ``<c-r>``) is kept.

Evidence quotes stay exact substrings of the stored (raw) chunk text, so the audit checks them
with a plain substring test: a drafter that read the plain text gives a plain quote, and
:func:`raw_quote` turns it into the span of the raw text it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_ADMONITION_COLON = re.compile(r":{3,}[ \t]*([A-Za-z][\w-]*)?")
_ADMONITION_BANG = re.compile(r"(?:!!!|\?\?\?\+?)[ \t]*[A-Za-z][\w-]*")
_CONTENT_TAB = re.compile(r"===\+?(?=[ \t]+\")")
_MDX_STATEMENT = re.compile(
    r"^(?:import\s.*\bfrom\s+['\"]|import\s+['\"]|export\s+(?:default|const|let|function)\b)"
)
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
_KEYS = re.compile(r"\+\+([A-Za-z0-9][\w-]*(?:\+[\w-]+)*)\+\+")
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_HTML_NAMES = (
    "a|abbr|b|br|center|code|details|div|em|figcaption|figure|font|h[1-6]|hr|i|iframe|img|kbd"
    "|li|mark|ol|p|picture|pre|s|small|source|span|strong|sub|summary|sup|table|tbody|td|th"
    "|thead|tr|u|ul|video"
)
_TAG = re.compile(rf"</?(?:[A-Z][\w.]*|(?:{_HTML_NAMES})\b)(?:\s[^<>]*?)?/?>")
_TAG_OPEN_UNCLOSED = re.compile(rf"<(?:[A-Z][\w.]*|(?:{_HTML_NAMES}))(?:\s[^<>]*)?$")
_TITLE_ATTR = re.compile(r"\btitle\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|\{\"([^\"]*)\"\})")
_KEY_NAMES = {"ctrl": "Ctrl", "cmd": "Cmd", "esc": "Esc", "pgup": "PgUp", "pgdn": "PgDn"}


@dataclass(frozen=True)
class _Edit:
    start: int  # raw offsets
    end: int
    text: str  # what replaces raw[start:end] in the plain text


def format_keys(keys: str) -> str:
    """``ctrl+shift+p`` as people read it: ``Ctrl+Shift+P``."""
    parts = []
    for part in keys.split("+"):
        lower = part.lower()
        if lower in _KEY_NAMES:
            parts.append(_KEY_NAMES[lower])
        elif len(part) == 1 or re.fullmatch(r"f\d{1,2}", lower):
            parts.append(part.upper())
        else:
            parts.append(" ".join(w.capitalize() for w in part.split("-")))
    return "+".join(parts)


def _title_of(tag: str) -> str:
    found = _TITLE_ATTR.search(tag)
    return next((g for g in found.groups() if g), "") if found else ""


def _inline_edits(line: str, offset: int) -> Iterator[_Edit]:
    """Edits within one line's text outside code spans (``offset``: the line's raw start)."""
    cursor = 0
    for span in [*_CODE_SPAN.finditer(line), None]:
        stop = span.start() if span else len(line)
        segment = line[cursor:stop]
        edits: list[tuple[int, int, str]] = []
        for found in _KEYS.finditer(segment):
            edits.append((found.start(), found.end(), format_keys(found.group(1))))
        for found in _IMAGE.finditer(segment):
            edits.append((found.start(), found.end(), ""))
        for found in _TAG.finditer(segment):
            keep = _title_of(found.group()) if not found.group().startswith("<img") else ""
            edits.append((found.start(), found.end(), keep))
        last = -1
        for start, end, text in sorted(edits):
            if start < last:
                continue  # inside an earlier edit (a tag inside an image's alt text)
            last = end
            yield _Edit(offset + cursor + start, offset + cursor + end, text)
        if span is None:
            break
        cursor = span.end()


def _edits(raw: str) -> Iterator[_Edit]:
    fence = ""
    in_comment = False
    in_tag = False
    tag_title = ""
    offset = 0
    for line in raw.split("\n"):
        start, end = offset, offset + len(line)
        offset = end + 1
        if fence:
            found = _FENCE.match(line)
            if found and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence):
                fence = ""
            continue
        if in_tag:
            # A tag written over several lines (<Card\n  title="x"\n  href="y"\n>).
            tag_title = tag_title or _title_of(line)
            close = line.find(">")
            if close < 0:
                yield _Edit(start, end, "")
                continue
            in_tag = False
            yield _Edit(start, start + close + 1, tag_title)
            line_from = close + 1
        else:
            line_from = 0
        rest = line[line_from:]
        if in_comment:
            close = rest.find("-->")
            if close < 0:
                yield _Edit(start, end, "")
                continue
            in_comment = False
            yield _Edit(start + line_from, start + line_from + close + 3, "")
            line_from += close + 3
            rest = line[line_from:]
        if line_from == 0:
            found_fence = _FENCE.match(line)
            if found_fence:
                fence = found_fence.group(1)
                continue
            whole = _whole_line(line)
            if whole is not None:
                yield _Edit(start, end, whole)
                continue
        # Comments first: a tag or key written inside a comment is part of the comment.
        position = line_from
        while True:
            opened = line.find("<!--", position)
            if opened < 0 or _in_code_span(line, opened):
                yield from _inline_edits(line[position:], start + position)
                break
            yield from _inline_edits(line[position:opened], start + position)
            close = line.find("-->", opened + 4)
            if close < 0:
                yield _Edit(start + opened, end, "")
                in_comment = True
                break
            yield _Edit(start + opened, start + close + 3, "")
            position = close + 3
        if not in_comment:
            unclosed = _TAG_OPEN_UNCLOSED.search(line[line_from:])
            if unclosed and not _in_code_span(line, line_from + unclosed.start()):
                in_tag = True
                tag_title = _title_of(unclosed.group())
                yield _Edit(start + line_from + unclosed.start(), end, "")


def _in_code_span(line: str, index: int) -> bool:
    return any(s.start() <= index < s.end() for s in _CODE_SPAN.finditer(line))


def _whole_line(line: str) -> str | None:
    """What a line that is nothing but site markup becomes, or None for an ordinary line.

    Matched with anchored patterns and string methods only: no pattern here can backtrack
    over a long run of spaces."""
    if _MDX_STATEMENT.match(line):
        return ""
    stripped = line.strip()
    found = _ADMONITION_COLON.match(stripped)
    if found:
        return stripped[found.end() :].strip().strip("[]\"' ")
    found = _ADMONITION_BANG.match(stripped) or _CONTENT_TAB.match(stripped)
    if found:
        rest = stripped[found.end() :].strip()
        if not rest:
            return ""
        if len(rest) >= 2 and rest[0] == rest[-1] == '"':
            return rest[1:-1]
    return None


def _segments(raw: str) -> Iterator[tuple[int, int, str]]:
    """(raw start, raw end, plain text) pieces in order; copied text has end - start == len.

    Lines left blank by the edits are dropped with their newline."""
    edits = list(_edits(raw))
    # Sort by position; later overlapping edits (from separate passes) are skipped.
    edits.sort(key=lambda e: (e.start, e.end))
    cleaned: list[_Edit] = []
    for edit in edits:
        if cleaned and edit.start < cleaned[-1].end:
            continue
        cleaned.append(edit)
    index = 0
    line_start = 0
    last_blank = False
    pending: list[tuple[int, int, str]] = []
    for line in raw.split("\n"):
        line_end = line_start + len(line)
        pieces: list[tuple[int, int, str]] = []
        cursor = line_start
        while index < len(cleaned) and cleaned[index].start < line_end + 1:
            edit = cleaned[index]
            if edit.start > cursor:
                pieces.append((cursor, edit.start, raw[cursor : edit.start]))
            pieces.append((edit.start, min(edit.end, line_end), edit.text))
            cursor = max(cursor, min(edit.end, line_end))
            if edit.end > line_end:
                break
            index += 1
        if cursor < line_end:
            pieces.append((cursor, line_end, raw[cursor:line_end]))
        edited = any(
            end - start != len(text) or raw[start:end] != text for start, end, text in pieces
        )
        produced = "".join(text for _, _, text in pieces)
        has_newline = line_end < len(raw)
        if (edited or last_blank) and not produced.strip():
            # A line of markup only is gone, newline and all; so is a blank line after a blank
            # line (removed markup leaves runs of them).
            line_start = line_end + 1
            continue
        last_blank = not produced.strip()
        pending.extend(pieces)
        if has_newline:
            pending.append((line_end, line_end + 1, "\n"))
        line_start = line_end + 1
    yield from pending


def plain_text(raw: str) -> str:
    """The text drafts are built from (see the module doc)."""
    text = "".join(text for _, _, text in _segments(raw))
    return text.strip("\n")


def raw_quote(raw: str, quote: str) -> str | None:
    """The span of ``raw`` that a quote of its plain text comes from, or None.

    A quote already in ``raw`` is itself. Otherwise the quote is found in the plain text (exact,
    then ignoring case) and widened to the raw characters it was made from, so the result is an
    exact substring of ``raw`` that holds the quoted words (and the markup between them).
    """
    if not quote:
        return None
    if quote in raw:
        return quote
    starts: list[int] = []
    ends: list[int] = []
    plain_parts: list[str] = []
    for start, end, text in _segments(raw):
        copied = end - start == len(text) and raw[start:end] == text
        for i in range(len(text)):
            starts.append(start + i if copied else start)
            ends.append(start + i + 1 if copied else end)
        plain_parts.append(text)
    plain = "".join(plain_parts)
    found = plain.find(quote)
    if found < 0:
        found = plain.lower().find(quote.lower())
    if found < 0:
        return None
    return raw[starts[found] : ends[found + len(quote) - 1]]
