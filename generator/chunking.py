"""Split a document's text into chunks by heading, within size bounds.

Rules (documented in the README):
- Markdown is read with a real parser (:mod:`generator.markdown`): ATX and setext headings
  start sections; headings inside code fences, HTML blocks or front matter are text. Front
  matter is not part of any chunk; when the document has no level-1 heading its ``title`` heads
  every heading path.
- Chunks are made of whole top-level blocks (paragraphs, lists, tables, fences, HTML blocks):
  a chunk's line span starts and ends on text, never on a blank line.
- A section longer than ``max_chars`` is split between blocks; a block longer than that between
  lines (a table's later parts repeat its header row and delimiter, so each part reads as a
  table); a single line longer than that at spaces.
- A section shorter than ``min_chars`` (a bare heading, a one-line note) is merged into the next
  section, or into the previous one at the end of the document, as long as the result stays
  within ``max_chars``.
- Every chunk lists the sections it holds (``sections``: line range and heading path each), so
  a draft can name the section its evidence comes from (:func:`heading_path_for_quote`). The
  chunk's own ``heading_path`` is the deepest path all its sections share (the one section's
  path when it holds one), or, when they share none, the path of its longest section that
  has a heading.
- A piece with no text besides headings and markup (HTML comments, tags) is not a chunk: there
  is nothing in it to draft from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from generator.markdown import (
    MAX_HEADING_CHARS,
    Block,
    paragraph_blocks,
    parse_markdown,
    short_title,
    split_lines,
)
from generator.plain import plain_text
from ledger import Chunk, ChunkIn, ChunkSection

__all__ = [
    "MAX_CHUNK_CHARS",
    "MAX_HEADING_CHARS",
    "MIN_CHUNK_CHARS",
    "chunk_text",
    "document_title",
    "heading_path_at",
    "heading_path_for_quote",
    "parse_heading",
    "split_lines",
]

MAX_CHUNK_CHARS = 2400
MIN_CHUNK_CHARS = 200


def parse_heading(line: str) -> tuple[int, str] | None:
    """An ATX heading line's level and title, or None; linear in the line's length.

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


def document_title(text: str, fallback: str, *, mdx: bool = False) -> str:
    """The front-matter title, else the first level-1 heading, else the first heading."""
    return parse_markdown(text, mdx=mdx).title() or short_title(fallback)


@dataclass
class _Unit:
    """A run of lines ``start``..``end`` that stays whole unless it alone is too long."""

    start: int
    end: int
    heading: bool = False
    prefix: tuple[str, ...] = ()  # lines repeated in front (a split table's header)
    body: str | None = None  # the text, when it is a part of one overlong line

    def text(self, lines: list[str]) -> str:
        body = self.body if self.body is not None else "\n".join(lines[self.start - 1 : self.end])
        return "\n".join([*self.prefix, body])


@dataclass
class _Piece:
    units: list[_Unit]
    size: int
    sections: list[tuple[int, list[str]]] = field(default_factory=list)  # (first line, path)

    @property
    def start(self) -> int:
        return self.units[0].start

    @property
    def end(self) -> int:
        return self.units[-1].end


class _Document:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        # Prefix sums of line sizes (each line plus its newline), for the size of any range.
        self._sums = [0]
        for line in lines:
            self._sums.append(self._sums[-1] + len(line) + 1)

    def size(self, start: int, end: int) -> int:
        """Characters in lines ``start``..``end`` joined by newlines."""
        return max(self._sums[end] - self._sums[start - 1] - 1, 0)

    def gap(self, before: _Unit, after: _Unit) -> int:
        """Characters between two units: the newline after ``before`` and the lines between."""
        if after.start <= before.end:
            return 1
        return self.size(before.end + 1, after.start - 1) + 2 if after.start > before.end + 1 else 1

    def unit_size(self, unit: _Unit) -> int:
        body = len(unit.body) if unit.body is not None else self.size(unit.start, unit.end)
        return body + sum(len(line) + 1 for line in unit.prefix)

    def text(self, piece: _Piece) -> str:
        parts: list[str] = []
        previous: _Unit | None = None
        for unit in piece.units:
            if previous is not None and unit.start > previous.end + 1:
                parts.extend(self.lines[previous.end : unit.start - 1])
            parts.append(unit.text(self.lines))
            previous = unit
        return "\n".join(parts)


def chunk_text(
    text: str,
    *,
    markdown: bool = True,
    mdx: bool = False,
    root_heading: str = "",
    max_chars: int = MAX_CHUNK_CHARS,
    min_chars: int = MIN_CHUNK_CHARS,
) -> list[ChunkIn]:
    if markdown:
        parsed = parse_markdown(text, mdx=mdx)
        lines, blocks = parsed.lines, parsed.blocks
        has_h1 = any(b.kind == "heading" and b.level == 1 for b in blocks)
        root = root_heading or ("" if has_h1 else parsed.front_matter_title)
        # Text above the first heading belongs to the document's front-matter title, if any.
        preamble = [root or parsed.front_matter_title] if root or parsed.front_matter_title else []
    else:
        lines = split_lines(text)
        blocks, root = paragraph_blocks(lines), root_heading
        preamble = [root] if root else []
    doc = _Document(lines)
    pieces: list[_Piece] = []
    base = [short_title(root)] if root else []
    for path, section in _sections(blocks, base, [short_title(t) for t in preamble]):
        pieces.extend(_split_section(doc, path, section, max_chars))
    merged = _merge_small(doc, pieces, min_chars, max_chars)
    chunks = []
    for piece in merged:
        chunk_text_ = doc.text(piece)
        if not _has_body(doc, piece, chunk_text_):
            continue
        chunks.append(_to_chunk(piece, chunk_text_))
    return chunks


def _sections(
    blocks: list[Block], base: list[str], preamble: list[str]
) -> Iterator[tuple[list[str], list[Block]]]:
    """Each heading's section (the heading block and the blocks under it) with its path."""
    stack: list[tuple[int, str]] = []
    path = list(preamble)
    current: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            if current:
                yield path, current
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.title))
            path = list(base) + [title for _, title in stack]
            current = [block]
        else:
            current.append(block)
    if current:
        yield path, current


def _split_section(
    doc: _Document, path: list[str], blocks: list[Block], max_chars: int
) -> list[_Piece]:
    pieces: list[_Piece] = []
    current: _Piece | None = None
    for block in blocks:
        for unit in _units(doc, block, max_chars):
            size = doc.unit_size(unit)
            if current is not None and not unit.prefix:
                grown = current.size + doc.gap(current.units[-1], unit) + size
                if grown <= max_chars:
                    current.units.append(unit)
                    current.size = grown
                    continue
            if current is not None:
                pieces.append(current)
            current = _Piece([unit], size, [(unit.start, path)])
    if current is not None:
        pieces.append(current)
    return pieces


def _units(doc: _Document, block: Block, max_chars: int) -> Iterator[_Unit]:
    """A block within the bound stays whole; a longer one goes line by line.

    A generator: a 10 MB paragraph of one-character lines, listed whole, held hundreds of
    megabytes at once."""
    if doc.size(block.start, block.end) <= max_chars:
        yield _Unit(block.start, block.end, heading=block.kind == "heading")
        return
    if block.kind == "heading":
        # A heading line longer than a chunk: its parts past the first are text to draft from
        # (its title in heading paths is cut short).
        for index, part in enumerate(_cut_line(doc.lines[block.start - 1], max_chars - 1)):
            yield _Unit(block.start, block.start, heading=index == 0, body=part)
        for number in range(block.start + 1, block.end + 1):  # a setext heading's underline
            yield _Unit(number, number)
        return
    header: tuple[str, ...] = ()
    first_row = block.start
    if block.kind == "table" and block.header_lines:
        header = tuple(doc.lines[block.start - 1 : block.start - 1 + block.header_lines])
        if sum(len(line) + 1 for line in header) * 2 > max_chars:
            header = ()  # a header this wide would crowd out the rows it is meant to label
        first_row = block.start + block.header_lines if header else block.start
    if header:
        # The header opens the table's first part as written; later parts repeat it.
        budget = max_chars - sum(len(line) + 1 for line in header)
        part_start, part_size = block.start, doc.size(block.start, first_row - 1)
        repeat: tuple[str, ...] = ()
        for number in range(first_row, block.end + 1):
            line_size = len(doc.lines[number - 1]) + 1
            if number > part_start and part_size + line_size > (budget if repeat else max_chars):
                yield _Unit(part_start, number - 1, prefix=repeat)
                part_start, part_size, repeat = number, 0, header
            part_size += line_size
        yield _Unit(part_start, block.end, prefix=repeat)
        return
    for number in range(block.start, block.end + 1):
        line = doc.lines[number - 1]
        if not line.strip():
            continue  # blank lines join the units around them, so spans end on text
        if len(line) + 1 <= max_chars:
            yield _Unit(number, number)
            continue
        # One overlong line: cut at spaces (or hard, if there are none). All parts keep the
        # line's number, since they come from that line.
        for part in _cut_line(line, max_chars - 1):
            yield _Unit(number, number, body=part)


def _cut_line(line: str, width: int) -> Iterator[str]:
    start = 0
    while len(line) - start > width:
        cut = line.rfind(" ", start, start + width)
        if cut <= start:
            cut = start + width
        yield line[start:cut]
        start = cut
        while start < len(line) and line[start] == " ":
            start += 1
    if start < len(line):
        yield line[start:]


def _merge_small(
    doc: _Document, pieces: list[_Piece], min_chars: int, max_chars: int
) -> list[_Piece]:
    merged: list[_Piece] = []
    carry: _Piece | None = None
    for piece in pieces:
        if carry is not None:
            if _can_join(doc, carry, piece, max_chars):
                piece = _join(doc, carry, piece)
            else:
                merged.append(carry)
            carry = None
        if piece.size < min_chars:
            carry = piece
        else:
            merged.append(piece)
    if carry is not None:
        if merged and _can_join(doc, merged[-1], carry, max_chars):
            merged[-1] = _join(doc, merged[-1], carry)
        else:
            merged.append(carry)
    return merged


def _can_join(doc: _Document, first: _Piece, second: _Piece, max_chars: int) -> bool:
    if first.end >= second.start or second.units[0].prefix:
        return False
    return first.size + doc.gap(first.units[-1], second.units[0]) + second.size <= max_chars


def _join(doc: _Document, first: _Piece, second: _Piece) -> _Piece:
    size = first.size + doc.gap(first.units[-1], second.units[0]) + second.size
    sections = list(first.sections)
    for start, path in second.sections:
        if sections and sections[-1][1] == path:
            continue  # one section split into pieces and joined again
        sections.append((start, path))
    return _Piece(first.units + second.units, size, sections)


def _has_body(doc: _Document, piece: _Piece, text: str) -> bool:
    """Whether a piece has text besides headings and markup (bare headings give nothing)."""
    if all(unit.heading for unit in piece.units):
        return False
    body = "\n".join(unit.text(doc.lines) for unit in piece.units if not unit.heading)
    return bool(plain_text(body).strip()) if text.strip() else False


def _to_chunk(piece: _Piece, text: str) -> ChunkIn:
    sections = [
        ChunkSection(
            start_line=start,
            end_line=(piece.sections[i + 1][0] - 1 if i + 1 < len(piece.sections) else piece.end),
            heading_path=path,
        )
        for i, (start, path) in enumerate(piece.sections)
    ]
    return ChunkIn(
        heading_path=_chunk_path(sections),
        start_line=piece.start,
        end_line=piece.end,
        text=text,
        sections=sections if len(sections) > 1 else [],
    )


def _chunk_path(sections: list[ChunkSection]) -> list[str]:
    paths = [s.heading_path for s in sections]
    shared: list[str] = []
    for entries in zip(*paths, strict=False):
        if any(entry != entries[0] for entry in entries):
            break
        shared.append(entries[0])
    if len(paths) == 1 or shared:
        return shared
    named = [s for s in sections if s.heading_path] or sections
    largest = max(named, key=lambda s: s.end_line - s.start_line)
    return list(largest.heading_path)


def chunk_sections(chunk: Chunk | ChunkIn) -> list[ChunkSection]:
    """The sections a chunk holds; a chunk of one section lists none and is its own."""
    if chunk.sections:
        return list(chunk.sections)
    return [
        ChunkSection(
            start_line=chunk.start_line, end_line=chunk.end_line, heading_path=chunk.heading_path
        )
    ]


def heading_path_at(chunk: Chunk | ChunkIn, line: int) -> list[str]:
    """The heading path of the section that holds file line ``line`` of ``chunk``."""
    found = chunk_sections(chunk)[0]
    for section in chunk_sections(chunk):
        if section.start_line <= line:
            found = section
    return list(found.heading_path)


def heading_path_for_quote(chunk: Chunk | ChunkIn, quote: str) -> list[str]:
    """The heading path of the section a quote from ``chunk`` comes from.

    The quote is looked up in the chunk's text as written (then ignoring case); a quote not
    found there gets the chunk's first section.
    """
    offset = chunk.text.find(quote) if quote else -1
    if offset < 0:
        offset = chunk.text.lower().find(quote.lower()) if quote else -1
    if offset < 0:
        return list(chunk_sections(chunk)[0].heading_path)
    # Counted from the end: a chunk's last line is always its end_line, while its first lines
    # may be a split table's repeated header.
    line = chunk.end_line - chunk.text.count("\n", offset)
    return heading_path_at(chunk, max(line, chunk.start_line))
