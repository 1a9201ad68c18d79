"""Answer text without site markup.

Docs sites add markup that a chat answer must not carry: ``++ctrl+s++`` key notation,
``<kbd>`` and other HTML or JSX tags, images, admonition and content-tab markers, ``{#anchor}``
ids, backslash escapes. :func:`clean_answer` turns a doc passage into the plain text an answer
is built from (after :func:`generator.rules.text.answer_text` has dropped emphasis and links),
and :func:`key_text` writes a key binding the way people read it.

Angle-bracket key notation that is not a tag (``<c-r>``, ``<space>``, ``<ctrl+r>``) is text to
a keyboard product's users and is kept (or turned into ``Ctrl+R`` by :func:`key_text`).
"""

from __future__ import annotations

import re

from generator.rules.text import answer_text

_HTML_NAMES = (
    "a|abbr|b|br|center|code|details|div|em|figcaption|figure|font|h[1-6]|hr|i|iframe|img|kbd"
    "|li|mark|ol|p|picture|pre|s|small|source|span|strong|sub|summary|sup|table|tbody|td|th"
    "|thead|tr|u|ul|video"
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(rf"</?(?:[A-Z][\w.]*|(?:{_HTML_NAMES})\b)(?:\s[^<>]*?)?/?>")
_KEY_COMPONENT = re.compile(r"<[A-Z][\w.]*\s([^<>]*?)/>")
_SITE_KEYS = re.compile(r"\+\+([A-Za-z0-9][\w-]*(?:\+[\w-]+)*)\+\+")
_ADMONITION = re.compile(r"(?m)^[ \t]*(?::{3,}[ \t]*[\w-]*.*|(?:!!!|\?\?\?\+?)[ \t]*\w+.*)$")
_CONTENT_TAB = re.compile(r"(?m)^[ \t]*===\+?[ \t]+\"[^\"]*\"[ \t]*$")
_ANCHOR = re.compile(r"[ \t]*\{#[\w-]+\}")
_FOOTNOTE = re.compile(r"\[\^[\w-]+\]")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|<>~])")
_HEADING_MARK = re.compile(r"(?m)^#{1,6}[ \t]+")
# Key names whose written form is not the word capitalised.
_KEY_NAMES = {"pgup": "PgUp", "pgdown": "PgDown", "pgdn": "PgDn"}
# Angle-bracket key notation (<c-r>, <space>, <ctrl+r>) that is text, not a tag.
_KEY_NOTATION = re.compile(rf"<(?!/)(?!(?:{_HTML_NAMES})\b)([a-z][\w+-]{{0,20}})>")


def key_text(keys: str) -> str:
    """``ctrl+alt+p``, ``<ctrl+r>`` or ``++ctrl+s++`` as people read it: ``Ctrl+Alt+P``.

    A lone character keeps its case (``K`` and ``k`` are different keys); after a modifier it
    is written in capitals, as keyboards label it.
    """
    text = keys.strip().strip("`").strip()
    text = text.removeprefix("++").removesuffix("++")
    if text.startswith("<") and text.endswith(">") and len(text) > 2:
        text = text[1:-1]
    parts = text.split("+") if len(text) > 1 else [text]
    out: list[str] = []
    for index, part in enumerate(parts):
        lower = part.lower()
        if lower in _KEY_NAMES:
            out.append(_KEY_NAMES[lower])
        elif len(part) > 1 and part.islower():
            out.append(part.capitalize())  # "ctrl" -> "Ctrl", "enter" -> "Enter"
        elif re.fullmatch(r"f\d{1,2}", lower):
            out.append(lower.upper())
        elif len(part) == 1:
            out.append(part.upper() if index > 0 else part)
        else:
            out.append(part)
    return "+".join(out)


def _key_component(match: re.Match[str]) -> str:
    """``<Key mod="ctrl" k="k" />`` (a docs site's key component) as ``Ctrl+K``."""
    attrs = dict(re.findall(r"([\w-]+)=\"([^\"]*)\"", match.group(1)))
    key = next((attrs[a] for a in ("k", "key", "keys", "shortcut") if a in attrs), "")
    if not key:
        return match.group(0)
    mods = next((attrs[a] for a in ("mod", "mods", "modifier", "modifiers") if a in attrs), "")
    return key_text("+".join(p for p in (*mods.replace(",", "+").split("+"), key) if p))


def clean_answer(text: str) -> str:
    """A doc passage as answer text: plain, and without site markup."""
    text = _COMMENT.sub("", text)
    text = _KEY_COMPONENT.sub(_key_component, text)
    text = _IMAGE.sub("", text)
    text = _BREAK.sub(" ", text)
    text = _SITE_KEYS.sub(lambda m: key_text(m.group(1)), text)
    text = _TAG.sub("", text)
    text = _ADMONITION.sub("", text)
    text = _CONTENT_TAB.sub("", text)
    text = _ANCHOR.sub("", text)
    text = _FOOTNOTE.sub("", text)
    text = _HEADING_MARK.sub("", text)
    # Key notation is kept as written through the plain-text pass, which may read it as a tag.
    keys: list[str] = []

    def hold(match: re.Match[str]) -> str:
        keys.append(match.group(0))
        return f"\x00{len(keys) - 1}\x00"

    text = answer_text(_KEY_NOTATION.sub(hold, text))
    text = re.sub(r"\x00(\d+)\x00", lambda m: keys[int(m.group(1))], text)
    text = _ESCAPE.sub(r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
