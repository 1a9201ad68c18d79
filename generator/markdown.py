"""Read a Markdown document into top-level blocks with line numbers.

markdown-it-py (CommonMark plus tables, front matter, ``!!!`` admonitions and definition lists)
gives each top-level block its line span. Only block structure is parsed: chunking needs where
headings, fences, tables and paragraphs start and end, and inline markup is left as written.

``.mdx`` files are read as Markdown with their ``import``/``export`` lines blanked first (line
numbers stay those of the file). JSX-like tags (``<Note>``, ``<Steps>``, ``<Card …>``) are HTML
blocks here; :mod:`generator.plain` drops the tags from the text drafts are built from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from markdown_it import MarkdownIt
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.deflist import deflist_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

# Heading titles longer than this are cut (with "…") in heading paths and document titles: a
# megabyte-long heading line would otherwise be copied into every chunk under it.
MAX_HEADING_CHARS = 200

# Deeper nesting (lists in lists, quotes in quotes) is read as the text of its parent block;
# the parser recurses per level, and a hostile file can nest thousands deep.
_MAX_NESTING = 40
_ANCHOR_ID = re.compile(r"[\w.:-]+")
_MDX_STATEMENT = re.compile(r"^(import|export)\s")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_FRONT_MATTER_TITLE = re.compile(r"^title[ \t]*:(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """One top-level block: lines ``start``..``end`` (1-based, inclusive, ending on text)."""

    kind: str  # heading, fence, table, html, comment, paragraph, list, quote, ...
    start: int
    end: int
    level: int = 0  # headings: 1..6
    title: str = ""  # headings: the title as written, anchors removed
    header_lines: int = 0  # tables: the header row and its delimiter row


@dataclass
class ParsedDocument:
    lines: list[str]
    blocks: list[Block] = field(default_factory=list)
    # The front matter's ``title``, if any (the first heading is the fallback title).
    front_matter_title: str = ""

    def title(self) -> str:
        """The front-matter title, else the first level-1 heading, else the first heading."""
        if self.front_matter_title:
            return self.front_matter_title
        headings = [b for b in self.blocks if b.kind == "heading"]
        for block in headings:
            if block.level == 1:
                return block.title
        return headings[0].title if headings else ""


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


def short_title(title: str) -> str:
    if len(title) <= MAX_HEADING_CHARS:
        return title
    return title[: MAX_HEADING_CHARS - 1].rstrip() + "…"


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"maxNesting": _MAX_NESTING})
    md.enable("table").use(front_matter_plugin).use(admon_plugin).use(deflist_plugin)
    # Inline markup is not needed to find blocks, and parsing it is most of the cost.
    md.disable("inline")
    return md


def blank_mdx_statements(lines: list[str]) -> list[str]:
    """``lines`` with MDX ``import``/``export`` statements (outside code fences) blanked.

    A statement runs until its braces and brackets balance and it names its source or ends;
    the lines stay, empty, so the rest of the file keeps its line numbers.
    """
    out = list(lines)
    fence = ""
    index = 0
    while index < len(out):
        line = out[index]
        marker = _FENCE.match(line)
        if marker and (not fence or marker.group(1).startswith(fence)):
            fence = "" if fence else marker.group(1)[:3]
        if fence or not _MDX_STATEMENT.match(line):
            index += 1
            continue
        depth = 0
        while index < len(out):
            depth += sum(out[index].count(c) for c in "{([") - sum(
                out[index].count(c) for c in "})]"
            )
            out[index] = ""
            index += 1
            if depth <= 0:
                break
    return out


def parse_markdown(text: str, *, mdx: bool = False) -> ParsedDocument:
    lines = split_lines(text)
    source_lines = blank_mdx_statements(lines) if mdx else lines
    doc = ParsedDocument(lines)
    try:
        tokens = _parser().parse("\n".join(source_lines) + "\n")
    except RecursionError:
        # Nesting the parser cannot follow: read the file as paragraphs.
        doc.blocks = paragraph_blocks(lines)
        return doc
    for index, token in enumerate(tokens):
        if token.level != 0 or token.nesting == -1 or token.map is None:
            continue
        start, end = token.map[0] + 1, token.map[1]
        while end > start and not source_lines[end - 1].strip():
            end -= 1  # block maps can take in the blank line after them
        if token.type == "front_matter":
            found = _FRONT_MATTER_TITLE.search(token.content)
            if found:
                doc.front_matter_title = short_title(found.group(1).strip().strip("'\"").strip())
            continue
        if not any(source_lines[n - 1].strip() for n in range(start, end + 1)):
            continue
        kind = _KINDS.get(token.type, token.type.removesuffix("_open"))
        if token.type == "heading_open":
            content = tokens[index + 1].content if index + 1 < len(tokens) else ""
            title = short_title(heading_title(content))
            doc.blocks.append(Block("heading", start, end, int(token.tag[1:]), title))
        elif token.type == "table_open":
            doc.blocks.append(Block("table", start, end, header_lines=2))
        elif token.type == "html_block" and _only_comments(token.content):
            doc.blocks.append(Block("comment", start, end))
        else:
            doc.blocks.append(Block(kind, start, end))
    return doc


_KINDS = {
    "fence": "fence",
    "code_block": "fence",
    "html_block": "html",
    "bullet_list_open": "list",
    "ordered_list_open": "list",
    "blockquote_open": "quote",
    "paragraph_open": "paragraph",
    "admonition_open": "admonition",
    "dl_open": "deflist",
    "hr": "rule",
}


def heading_title(content: str) -> str:
    """A heading's title: its text without a ``{#custom-id}`` anchor; linear in its length
    (a hostile heading can be megabytes of spaces)."""
    title = content.strip()
    if title.endswith("}"):
        opened = title.rfind("{#")
        if opened >= 0 and _ANCHOR_ID.fullmatch(title, opened + 2, len(title) - 1):
            title = title[:opened].rstrip() or title
    return title


def _only_comments(html: str) -> bool:
    """Whether an HTML block holds nothing but comments (an unclosed one runs to its end)."""
    rest = []
    position = 0
    while True:
        opened = html.find("<!--", position)
        if opened < 0:
            rest.append(html[position:])
            break
        rest.append(html[position:opened])
        closed = html.find("-->", opened + 4)
        if closed < 0:
            break
        position = closed + 3
    return not "".join(rest).strip()


def paragraph_blocks(lines: list[str]) -> list[Block]:
    """Runs of non-blank lines, for plain text (and Markdown the parser cannot follow)."""
    blocks: list[Block] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            if not start:
                start = number
        elif start:
            blocks.append(Block("paragraph", start, number - 1))
            start = 0
    if start:
        blocks.append(Block("paragraph", start, len(lines)))
    return blocks
