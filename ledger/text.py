"""What "the same text" means, for generate-time dedup and for the audit's duplicate signals.

``normalise`` casefolds, turns punctuation into spaces and collapses whitespace: two drafts
whose questions normalise equal are exact duplicates wherever Draftgate compares them.
"""

from __future__ import annotations

import string

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
