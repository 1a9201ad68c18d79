"""The product's real UI elements, each with the role it plays, and where the docs name them.

A wrong-UI-name trap pairs a name users bring from other software ("Dashboard", "Control
Panel") with the product's real element of the same role (its home page, its settings, its
navigation ...). The elements are what a user can go to or press: the scope glossary's home,
pages and paths, and the home page and pages the docs name ("You land on the Overview page",
"Open the **Settings** page").
Each is used only where a sentence, definition or table row of the docs names it, never a
heading line, an image or a code block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.plain import answer_text
from generator.rules.corpus import Corpus
from generator.rules.text import (
    fence_spans,
    heading_of,
    is_prose,
    sentence_spans,
    words_of,
)
from ledger import Chunk

# Roles in the order they are tried: the first whose words a name contains is its role
# ("Team settings" administers the team before it is a settings page).
ROLE_WORDS: list[tuple[str, frozenset[str]]] = [
    ("admin", frozenset(["admin", "administration", "team", "members", "roles", "users"])),
    ("admin", frozenset(["permissions", "organization", "organisation", "workspace"])),
    # "Accounts" (plural) is as often the product's own records (bank or ad accounts) as the
    # user's account, so only the singular marks the role.
    ("account", frozenset(["profile", "account", "me"])),
    ("help", frozenset(["help", "support", "faq", "shortcuts", "keybindings", "docs"])),
    ("settings", frozenset(["settings", "preferences", "options", "configuration", "config"])),
    ("search", frozenset(["search", "spotlight", "find"])),
    ("reports", frozenset(["reports", "report", "analytics", "insights", "statistics"])),
    ("navigation", frozenset(["sidebar", "menu", "navigation", "nav", "tabs", "panels"])),
    ("home", frozenset(["home", "overview", "welcome", "landing"])),
]
# Words of a sentence that says something about an element of the role, beyond naming it:
# "You land on Overview when you sign in" speaks of the home page.
ROLE_HINTS = {
    "home": frozenset(["land", "lands", "first", "open", "opens", "main", "home", "start"]),
}

# "You land on the **Overview** page", "**Overview** is the page you land on".
_HOME_SAID = re.compile(
    r"\b(?:lands?|start) on (?:the )?\**(?P<a>[A-Z][\w-]*(?: [A-Z][\w-]*){0,3})\**"
    r"|\**(?P<b>[A-Z][\w-]*(?: [A-Z][\w-]*){0,3})\** is the (?:page|screen|view) you "
    r"(?:land on|see first|start on)"
)


@dataclass(frozen=True)
class Element:
    name: str  # as the scope or the docs write it
    kind: str  # "home", "page" or "path": places a user goes to
    role: str | None

    @property
    def leaf(self) -> str:
        return self.name.split(">")[-1].strip()


@dataclass(frozen=True)
class Site:
    """Where the docs name an element: the exact quote, what they say it is for, if they do."""

    chunk: Chunk
    index: int
    quote: str  # a sentence, a definition bullet or a table row, exactly as in the chunk
    description: str
    score: int


# A name is the user's own account page only when it says nothing else: "Close Account",
# "Joint Account" or "Chase Account Summary" name a product's accounts, not the user's.
_ACCOUNT_PAGE_WORDS = frozenset(
    ["my", "your", "user", "account", "profile", "me", "settings", "details", "page"]
)


def role_of(name: str) -> str | None:
    words = set(words_of(name.split(">")[0] if ">" in name else name))
    for role, keys in ROLE_WORDS:
        if role == "account" and not words <= _ACCOUNT_PAGE_WORDS:
            continue
        if words & keys:
            return role
    return None


def home_in_docs(corpus: Corpus) -> tuple[str, Chunk, str] | None:
    """The home page as the docs name it, with the sentence that says so."""
    for chunk in corpus.chunks:
        if "land" not in chunk.text and "start on" not in chunk.text:
            continue
        for a, b in sentence_spans(chunk.text):
            match = _HOME_SAID.search(chunk.text, a, b)
            if match:
                name = match.group("a") or match.group("b")
                return name, chunk, chunk.text[a:b].strip()
    return None


# "the **Settings** page", "the Reports screen": a place the docs name as one.
_PAGE_SAID = re.compile(
    r"(?:\*\*(?P<bold>[A-Z][A-Za-z &-]{1,30}?)\*\*|\bthe (?P<plain>[A-Z][A-Za-z-]*"
    r"(?: [A-Z][A-Za-z-]*){0,2}))\s+(?:page|screen|tab|panel|view|menu|sidebar)\b"
)


def pages_in_docs(corpus: Corpus) -> list[str]:
    """Pages the docs name as pages ("Open the **Settings** page"), outside code blocks, in
    the order first named."""
    found: dict[str, None] = {}
    for chunk in corpus.chunks:
        fences = fence_spans(chunk.text)
        for match in _PAGE_SAID.finditer(chunk.text):
            if not any(a <= match.start() < b for a, b in fences):
                found.setdefault((match.group("bold") or match.group("plain")).strip(), None)
    return list(found)


def elements(corpus: Corpus) -> list[Element]:
    """The glossary's elements, the home page and pages the docs name, each once, with its
    role."""
    glossary = corpus.scope.glossary
    found: list[Element] = []
    home = glossary.home
    if not home:
        said = home_in_docs(corpus)
        home = said[0] if said else ""
    if home:
        found.append(Element(home, "home", "home"))
    for page in [*glossary.pages, *pages_in_docs(corpus)]:
        found.append(Element(page, "page", "home" if page == home else role_of(page)))
    for path in glossary.paths:
        found.append(Element(path, "path", role_of(path)))
    seen: set[tuple[str, str]] = set()
    unique = []
    for element in found:
        if (element.name, element.kind) not in seen:
            seen.add((element.name, element.kind))
            unique.append(element)
    return unique


def sites(corpus: Corpus, name: str) -> list[Site]:
    """Where the docs name ``name`` as a whole (not the tail or head of a longer path)."""
    pattern = re.compile(r"(?<!> )(?<![\w>])" + re.escape(name) + r"(?![\w-])(?!\*{0,2}\s*>)")
    found: list[Site] = []
    for index, chunk in enumerate(corpus.chunks):
        if name not in chunk.text:
            continue  # a plain find first: the pattern's lookbehinds make it scan slowly
        fences = fence_spans(chunk.text)
        for match in pattern.finditer(chunk.text):
            if any(a <= match.start() < b for a, b in fences):
                continue
            line_start = chunk.text.rfind("\n", 0, match.start()) + 1
            line_end = chunk.text.find("\n", match.end())
            line_end = len(chunk.text) if line_end < 0 else line_end
            line = chunk.text[line_start:line_end]
            if heading_of(line) or re.search(r"!\[|<img\b", line, flags=re.IGNORECASE):
                continue  # a heading or an image names no place a user goes to
            site = _site(chunk, index, line, name, match.start(), match.end())
            if site is not None:
                found.append(site)
    return found


def _site(chunk: Chunk, index: int, line: str, name: str, start: int, end: int) -> Site | None:
    if line.lstrip().startswith("|"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        others = [c for c in cells if name.lower() not in c.lower() and c]
        # A "| **name** | what it is for |" row describes the element.
        is_row = len(cells) == 2 and len(others) == 1 and answer_text(cells[0]) == name
        description = answer_text(others[0]) if is_row else ""
        return Site(chunk, index, line.strip(), description, 3 if description else 1)
    definition = re.match(r"^\s*[-*+]\s+\*\*" + re.escape(name) + r"\*\*:\s+(.+)$", line)
    if definition:
        description = answer_text(definition.group(1)).rstrip(".")
        return Site(chunk, index, line.strip(), description, 3)
    for a, b in sentence_spans(chunk.text):
        if a <= start < b:
            quote = chunk.text[a:b].strip()
            if not is_prose(quote) or b < end:
                return None
            # "Open the **Settings** page" names the place; "your settings" may not.
            bold = f"**{name}**" in quote
            return Site(chunk, index, quote, "", 3 if bold else 2)
    return None
