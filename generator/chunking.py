"""Split a document's text into chunks by heading, within size bounds.

Rules (documented in the README):
- A chunk starts at an ATX heading (``#`` .. ``######``, outside fenced code) and carries the
  heading path above it, e.g. ["Billing", "Invoices"].
- A section longer than ``max_chars`` is split at paragraph (blank-line) boundaries; a single
  paragraph longer than that at line boundaries; a single line longer than that at spaces.
- A section shorter than ``min_chars`` (a bare heading, a one-line note) is merged into the next
  section, or into the previous one at the end of the document, as long as the result stays
  within ``max_chars``. So a chunk is shorter than ``min_chars`` only when the document is, or
  when no neighbour had room.
- A piece left with nothing but headings (it found no room to merge) is not a chunk: there is
  nothing in it to draft from, and a parent heading's title is already in the heading path of
  the chunks under it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ledger import ChunkIn

MAX_CHUNK_CHARS = 2400
MIN_CHUNK_CHARS = 200

# Heading titles longer than this are cut (with "…") in heading paths and document titles: a
# megabyte-long heading line would otherwise be copied into every chunk under it.
MAX_HEADING_CHARS = 200
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


@dataclass
class _Piece:
    heading_path: list[str]
    start_line: int  # 1-based, inclusive
    end_line: int
    lines: list[str]

    @property
    def size(self) -> int:
        return sum(len(line) + 1 for line in self.lines)

    def to_chunk(self) -> ChunkIn:
        return ChunkIn(
            heading_path=self.heading_path,
            start_line=self.start_line,
            end_line=self.end_line,
            text="\n".join(self.lines).strip("\n"),
        )


def split_lines(text: str) -> list[str]:
    """The lines of ``text``, split at ``\\n`` only (a final newline ends the last line).

    Not ``str.splitlines``: that also splits at form feeds, vertical tabs, NEL, U+2028 and
    other separators an editor shows inside one line, and line numbers would disagree with the
    file. Ingest has already turned CRLF and lone CR into ``\\n``.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def parse_heading(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and title, or None; linear in the line's length.

    ``#`` to ``######``, then a space or tab and at least one more character. A closing run of
    ``#`` counts only after a space or tab (CommonMark), so "## Using C#" keeps its "#".
    """
    if not line.startswith("#"):
        return None
    level = len(line) - len(line.lstrip("#"))
    rest = line[level:]
    if level > 6 or len(rest) < 2 or rest[0] not in " \t":
        return None
    title = rest.strip(" \t")
    opened = title.rstrip("#")
    if opened != title and opened[-1:] in (" ", "\t") and opened.strip(" \t"):
        title = opened.rstrip(" \t")
    return level, short_title(title.strip())


def short_title(title: str) -> str:
    if len(title) <= MAX_HEADING_CHARS:
        return title
    return title[: MAX_HEADING_CHARS - 1].rstrip() + "…"


def document_title(text: str, fallback: str) -> str:
    for line in split_lines(text):
        heading = parse_heading(line)
        if heading and heading[0] == 1:
            return heading[1]
    return short_title(fallback)


def chunk_text(
    text: str,
    *,
    markdown: bool = True,
    root_heading: str = "",
    max_chars: int = MAX_CHUNK_CHARS,
    min_chars: int = MIN_CHUNK_CHARS,
) -> list[ChunkIn]:
    sections = _sections(split_lines(text), markdown=markdown, root_heading=root_heading)
    pieces: list[_Piece] = []
    for section in sections:
        pieces.extend(_split_long(section, max_chars))
    merged = _merge_small(pieces, min_chars, max_chars)
    return [p.to_chunk() for p in merged if _has_body(p, markdown=markdown)]


def _has_body(piece: _Piece, *, markdown: bool) -> bool:
    """Whether a piece has any text besides headings (bare headings give nothing to draft)."""
    return any(line.strip() and not (markdown and parse_heading(line)) for line in piece.lines)


def _sections(lines: list[str], *, markdown: bool, root_heading: str) -> list[_Piece]:
    stack: list[tuple[int, str]] = []
    base = [short_title(root_heading)] if root_heading else []
    current = _Piece(list(base), 1, 0, [])
    sections: list[_Piece] = []
    fence = ""  # the marker of the open code fence ("```" or "~~~"), or "" outside one
    for number, line in enumerate(lines, start=1):
        fence_match = _FENCE.match(line) if markdown else None
        if fence_match and not fence:
            fence = fence_match.group(1)
        elif fence_match and fence_match.group(1) == fence:
            # Only the opening kind closes a fence: "~~~" inside a ``` block is code.
            fence = ""
        heading = parse_heading(line) if markdown and not fence else None
        if heading:
            if current.lines:
                sections.append(current)
            level, title = heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title))
            current = _Piece([title for _, title in stack] or list(base), number, number, [line])
        else:
            if not current.lines:
                current.start_line = number
            current.lines.append(line)
            current.end_line = number
    if current.lines:
        sections.append(current)
    return sections


def _split_long(section: _Piece, max_chars: int) -> list[_Piece]:
    if section.size <= max_chars:
        return [section]
    # Units that must not be broken further unless they alone exceed the bound: paragraphs
    # (runs of lines separated by blank lines), each with its first line number.
    units: list[tuple[int, list[str]]] = []
    start = section.start_line
    block: list[str] = []
    for offset, line in enumerate(section.lines):
        number = section.start_line + offset
        if not block:
            start = number
        block.append(line)
        if not line.strip():
            units.append((start, block))
            block = []
    if block:
        units.append((start, block))
    # A heading stays with the paragraph under it rather than becoming a piece of its own.
    if len(units) > 1 and sum(1 for x in units[0][1] if x.strip()) == 1:
        units[1] = (units[0][0], units[0][1] + units[1][1])
        units.pop(0)

    pieces: list[_Piece] = []
    current: _Piece | None = None
    current_size = 0  # current.size, kept as lines are added (summing each time is quadratic)
    for unit_start, unit_lines in units:
        for sub_start, sub_lines in _split_unit(unit_start, unit_lines, max_chars):
            sub_size = sum(len(x) + 1 for x in sub_lines)
            if current is not None and current_size + sub_size <= max_chars:
                current.lines.extend(sub_lines)
                current.end_line = sub_start + len(sub_lines) - 1
                current_size += sub_size
                continue
            if current is not None:
                pieces.append(current)
            current = _Piece(
                list(section.heading_path), sub_start, sub_start + len(sub_lines) - 1, sub_lines
            )
            current_size = sub_size
    if current is not None:
        pieces.append(current)
    for piece in pieces:
        _trim_blank_edges(piece)
    return pieces


def _split_unit(start: int, lines: list[str], max_chars: int) -> Iterator[tuple[int, list[str]]]:
    """A paragraph within the bound stays whole; a longer one goes line by line.

    A generator: a 10 MB paragraph of one-character lines, listed whole as (number, [line])
    pairs, held 700 MB at once."""
    if sum(len(x) + 1 for x in lines) <= max_chars:
        yield start, lines
        return
    for offset, line in enumerate(lines):
        if len(line) + 1 <= max_chars:
            yield start + offset, [line]
            continue
        # One overlong line: cut at spaces (or hard, if there are none). All parts keep the
        # line's number, since they come from that line.
        for part in _cut_line(line, max_chars - 1):
            yield start + offset, [part]


def _cut_line(line: str, width: int) -> list[str]:
    parts = []
    while len(line) > width:
        cut = line.rfind(" ", 0, width)
        if cut <= 0:
            cut = width
        parts.append(line[:cut])
        line = line[cut:].lstrip(" ")
    if line:
        parts.append(line)
    return parts


def _trim_blank_edges(piece: _Piece) -> None:
    while len(piece.lines) > 1 and not piece.lines[-1].strip():
        piece.lines.pop()
        piece.end_line -= 1
    while len(piece.lines) > 1 and not piece.lines[0].strip():
        piece.lines.pop(0)
        piece.start_line += 1


def _merge_small(pieces: list[_Piece], min_chars: int, max_chars: int) -> list[_Piece]:
    merged: list[_Piece] = []
    carry: _Piece | None = None
    for piece in pieces:
        if carry is not None:
            if carry.end_line < piece.start_line and carry.size + piece.size <= max_chars:
                # The small piece goes in front; the heading path of the fuller section wins.
                piece = _Piece(
                    piece.heading_path,
                    carry.start_line,
                    piece.end_line,
                    carry.lines + [""] * (piece.start_line - carry.end_line - 1) + piece.lines,
                )
            else:
                merged.append(carry)
            carry = None
        if piece.size < min_chars:
            carry = piece
        else:
            merged.append(piece)
    if carry is not None:
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.size + carry.size <= max_chars
            and last.end_line < carry.start_line
        ):
            gap = carry.start_line - last.end_line - 1
            last.lines.extend([""] * gap + carry.lines)
            last.end_line = carry.end_line
        else:
            merged.append(carry)
    return merged
