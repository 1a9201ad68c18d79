"""Documented settings in commented configuration examples (YAML, TOML, INI, env files).

A docs page that shows a configuration file often documents each key with the comment above
it::

    # Period in days between update checks
    days: 14

Each such key, its value as written and its comment are a setting the docs explain: what it
does (a Q&A) and its default (a false premise can get it wrong).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from generator.rules.text import Line, lines_of

_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")
_CONFIG_LANGUAGES = frozenset({"", "yaml", "yml", "toml", "ini", "conf", "cfg", "env", "dotenv"})
_KEY_LINE = re.compile(
    r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w.-]*)\s*(?::|=)\s*(?P<value>[^#\s][^#]*?)\s*(?:#.*)?$"
)
_COMMENT = re.compile(r"^\s*[#;]\s?(?P<text>.*)$")


@dataclass(frozen=True)
class ConfigEntry:
    key: str  # the key, dotted under its parents ("update.days")
    value: str  # as written ("14", "true", "'prompt'")
    comment: str  # the comment lines above it, joined
    quote: str  # comment and key lines exactly as the chunk has them


def config_entries(text: str) -> Iterator[ConfigEntry]:
    """Keys with a comment above them, inside fenced blocks of a configuration language."""
    lines = lines_of(text)
    inside = _starts_inside(lines)
    parents: list[tuple[int, str]] = []
    comment_start: int | None = None
    comment: list[str] = []
    commented_out = False
    for line in lines:
        fence = _FENCE.match(line.text)
        if fence:
            inside = not inside and fence.group(2).lower() in _CONFIG_LANGUAGES
            parents, comment, comment_start, commented_out = [], [], None, False
            continue
        if not inside:
            continue
        if not line.text.strip():
            comment, comment_start = [], None  # a blank line parts a comment from what follows
            commented_out = False
            continue
        found = _COMMENT.match(line.text)
        if found:
            if comment_start is None:
                comment_start = line.start
            said = found.group("text").strip()
            # A commented-out example inside the comment ("# type: stdinFilter") ends what
            # the comment says about the key.
            if commented_out or _KEY_LINE.match(said) or said.startswith(("#", "|", "-")):
                commented_out = True
            else:
                comment.append(said)
            continue
        key_line = _KEY_LINE.match(line.text)
        bare_parent = re.match(r"^(\s*)([A-Za-z_][\w.-]*)\s*:\s*$", line.text)
        structured = key_line or bare_parent
        indent = len(structured.group(1)) if structured else 0
        while parents and parents[-1][0] >= indent:
            parents.pop()
        if bare_parent:
            parents.append((indent, bare_parent.group(2)))
        elif key_line and comment and comment_start is not None and not _only_a_link(comment):
            dotted = ".".join([p for _, p in parents] + [key_line.group("key")])
            yield ConfigEntry(
                key=dotted,
                value=key_line.group("value").strip(),
                comment=_joined(comment),
                quote=text[comment_start : line.end],
            )
        comment, comment_start, commented_out = [], None, False


def _only_a_link(comment: list[str]) -> bool:
    return all(re.fullmatch(r"(?i)(see\s+)?<?https?://\S+>?\.?", c) or not c for c in comment)


def _starts_inside(lines: list[Line]) -> bool:
    """Whether the text starts inside a fenced block (a chunk cut from a long example): no
    opening fence comes first, and the lines before any fence read as configuration."""
    config, other = 0, 0
    for line in lines:
        fence = _FENCE.match(line.text)
        if fence:
            if fence.group(2):
                return False  # an opening fence: the text starts outside
            break
        if not line.text.strip():
            continue
        yaml_like = (
            _COMMENT.match(line.text)
            or _KEY_LINE.match(line.text)
            or re.match(r"^\s*([A-Za-z_][\w.-]*\s*:|-\s)", line.text)
        )
        if yaml_like:
            config += 1
        else:
            other += 1
    return config >= 3 and config >= 4 * other


def _joined(lines: list[str]) -> str:
    """Comment lines as one text: a line that ends a thought without a full stop gets one."""
    out = ""
    for line in (c for c in lines if c):
        if out and not out.endswith((".", ",", ";", ":", "!", "?", "(")) and line[:1].isupper():
            out += "."
        out = f"{out} {line}".strip()
    return out
