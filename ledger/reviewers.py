"""Reviewer names: one spelling per person, and a name a reader can see.

A decision is signed with a name, and that name is what tells two people apart (leases, the
one-decision rule, double review) and what the audit shows as "signed by". So the ledger
stores every name in one form: NFC-normalised, with control, format and other invisible
characters removed, whitespace runs made one space, and at least one letter or digit left.
``alice`` and ``alice`` + a zero-width space are then one person, and a name of only
invisible characters cannot sign anything.
"""

from __future__ import annotations

import unicodedata

from ledger.errors import DecisionRejected

# Code points that render as nothing (Unicode's Default_Ignorable_Code_Point set, which the
# category test below does not fully cover: Hangul fillers are letters, variation selectors
# and the grapheme joiner are marks), plus the braille blank, which renders as a space.
_INVISIBLE_RANGES = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x200B, 0x200F),  # zero-width space/joiners, LRM/RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates
    (0x2800, 0x2800),  # braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFEFF, 0xFEFF),  # byte order mark / zero-width no-break space
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical formatting
    (0xE0000, 0xE0FFF),  # tags and variation selectors supplement
)
# Removed wherever they are: controls (ESC, NUL, DEL, C1), format characters, surrogates,
# private use and unassigned code points.
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_WHITESPACE_CONTROLS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85")


class InvalidReviewerName(DecisionRejected):
    """A reviewer name with no visible letter or digit left once invisible characters go."""


def _invisible(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _INVISIBLE_RANGES)


def _dropped(char: str) -> bool:
    return unicodedata.category(char) in _REMOVED_CATEGORIES or _invisible(char)


def escaped_name(raw: str) -> str:
    """``raw`` quoted, with every character the stored form drops or turns into a space
    written as an escape (``\\u200b``), so an error line shows what was given and puts
    nothing invisible or controlling on the terminal."""
    shown = []
    for char in raw:
        if char == " " or not (_dropped(char) or char.isspace()):
            shown.append(char)
        elif ord(char) <= 0xFF:
            shown.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            shown.append(f"\\u{ord(char):04x}")
        else:
            shown.append(f"\\U{ord(char):08x}")
    return "'" + "".join(shown) + "'"


def reviewer_name(raw: str) -> str:
    """The one stored spelling of ``raw``; InvalidReviewerName if nothing a reader could see
    as a name is left (no letter or digit)."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFC", raw):
        if char in _WHITESPACE_CONTROLS or unicodedata.category(char) in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif not _dropped(char):
            kept.append(char)
    # Removing a character can leave a new composable pair (e + ZWJ + combining acute).
    name = " ".join(unicodedata.normalize("NFC", "".join(kept)).split())
    if not any(unicodedata.category(char)[0] in "LN" for char in name):
        raise InvalidReviewerName(
            f"the reviewer name {escaped_name(raw)} has no visible letter or digit; a decision "
            "needs a "
            "named reviewer"
        )
    return name


def is_named(stored: str | None) -> bool:
    """Whether a stored reviewer name names someone. Decisions written before names were
    normalised can hold invisible-only names; those never count as a sign-off."""
    if not stored:
        return False
    try:
        reviewer_name(stored)
    except InvalidReviewerName:
        return False
    return True
