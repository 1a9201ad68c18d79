"""Text rules every stage shares: what "the same text" means, and what a UI name in an answer
looks like.

``normalise`` casefolds, turns punctuation into spaces and collapses whitespace: two drafts
whose questions normalise equal are exact duplicates wherever Draftgate compares them.
``ui_references`` finds the candidate UI names in an answer; generate-time checks and the
audit's phantom signal test each against the docs and the glossary.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

# Punctuation becomes a space. A translation table, not a regex: it halves the cost of
# normalising 200k texts (ASCII punctuation plus the typographic marks LLMs like to use).
_PUNCTUATION = string.punctuation + "“”‘’„«»–—…•·¿¡"
_PUNCTUATION_TO_SPACE = str.maketrans(_PUNCTUATION, " " * len(_PUNCTUATION))

# Words too common in questions to say what two questions share.
STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "can", "could", "do", "does", "for", "from", "how", "i", "in",
        "is", "it", "me", "my", "of", "on", "or", "the", "to", "what", "when", "where", "which",
        "who", "why", "will", "with", "you", "your",
    }
)  # fmt: skip


def normalise(text: str) -> str:
    """Casefolded words separated by single spaces."""
    return " ".join(text.casefold().translate(_PUNCTUATION_TO_SPACE).split())


# ---- UI names in an answer -----------------------------------------------------------------
# Candidate UI references in an answer. Each is checked against the glossary and the docs; a
# name found in neither is a phantom (a page or button the model invented).
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_SEGMENT = r"[A-Z][\w'&-]*(?:[ ][A-Z][\w'&-]*){0,3}"
_PATH = re.compile(rf"{_SEGMENT}(?:[ ]?>[ ]?{_SEGMENT})+")
_QUOTED = re.compile(r"[\"“]([A-Z][^\"”\n]{0,48})[\"”]")
# "the Admin Console page": the capitalised words just before one of these words.
_UI_WORD = re.compile(r"[ ](?:page|tab|menu|button|screen|settings|panel|dialog)\b", re.I)
_NAME_WORDS_BEFORE_UI_WORD = 4
# Words that start a sentence or an instruction rather than a UI name ("Open Settings > ...").
_NOISE_WORDS = (
    "a an the open go click tap select choose use visit navigate head in on from under then "
    "and or to see find press via at your this that"
)
_LEADING_NOISE = frozenset(_NOISE_WORDS.split())
_MAX_NAME_WORDS = 8


@lru_cache(maxsize=65_536)
def _clean_name(raw: str) -> tuple[str, str]:
    """(name, its padded normalised key), or ('', '') if nothing name-like is left.

    Trims punctuation and leading instruction words. Cached: answers repeat the same few
    names ("Settings > Billing > Invoices") tens of thousands of times.
    """
    words = raw.strip().strip(".,:;!?()[]'\"“”").split()
    while words and words[0].casefold() in _LEADING_NOISE:
        words = words[1:]
    if words and words[0] == ">":
        words = words[1:]
    name = " ".join(words).strip(".,:;!?")
    key = normalise(name)
    if not key or not name[0].isupper() or len(words) > _MAX_NAME_WORDS:
        return "", ""
    return name, f" {key} "


def ui_references(answer: str) -> list[str]:
    """Candidate UI names in an answer: bold text, "A > B" paths, quoted names, "X page"."""
    return [name for name, _ in references_with_keys(answer)]


def references_with_keys(answer: str) -> list[tuple[str, str]]:
    """(name, padded normalised key) per candidate UI name in ``answer``.

    Each pattern runs only when its marker occurs: this is done for every signed-off answer.
    """
    raw: list[str] = []
    if "**" in answer:
        raw += _BOLD.findall(answer)
    if ">" in answer:
        raw += _PATH.findall(answer)
    if '"' in answer or "“" in answer:
        raw += _QUOTED.findall(answer)
    for match in _UI_WORD.finditer(answer):
        before = answer[max(0, match.start() - 80) : match.start()].split()
        name_words: list[str] = []
        for word in reversed(before[-_NAME_WORDS_BEFORE_UI_WORD:]):
            if not word[:1].isupper() or word[-1:] in ".,:;!?":
                break
            name_words.insert(0, word)
        if name_words:
            raw.append(" ".join(name_words))
    found = list(dict.fromkeys(c for c in map(_clean_name, raw) if c[0]))
    if len(found) < 2:
        return found
    # "Reports > Labor" (plain text, cut at the lowercase word) inside "Reports > Labor cost"
    # (bold) is one reference, not two.
    keys = [key for _, key in found]
    return [
        (name, key)
        for name, key in found
        if not any(key in other and key != other for other in keys)
    ]


# ---- control characters -------------------------------------------------------------------
# A terminal acts on control characters instead of showing them (ESC starts a sequence that
# can retitle the window, clear the screen or hide text; bidi controls reorder what follows).
# Newline and tab are kept; C0 controls become their Unicode "control picture" (U+2400 +
# code), DEL becomes U+2421, and C1 and bidi controls U+FFFD.
_KEPT_CONTROLS = "\n\t"
_BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_VISIBLE_CONTROLS = {
    **{code: chr(0x2400 + code) for code in range(0x20) if chr(code) not in _KEPT_CONTROLS},
    0x7F: "\u2421",
    **{code: "\ufffd" for code in range(0x80, 0xA0)},
    **{ord(char): "\ufffd" for char in _BIDI_CONTROLS},
}
_CONTROL_CHARS = re.compile("[" + "".join(re.escape(chr(c)) for c in _VISIBLE_CONTROLS) + "]")


def visible_controls(text: str) -> str:
    """``text`` with every control character replaced by one visible character."""
    if _CONTROL_CHARS.search(text) is None:
        return text
    return text.translate(_VISIBLE_CONTROLS)
