"""The current chunks, read once, with what every rule needs to read them."""

from __future__ import annotations

import re

from generator.rules.text import WORD, document_sections, howto_question, plain
from generator.scope import Scope
from ledger import Ledger


class Corpus:
    """The current chunks with what every rule needs to read them."""

    def __init__(self, ledger: Ledger, scope: Scope) -> None:
        self.ledger = ledger
        self.scope = scope
        self.product = scope.product.name
        self.chunks = ledger.current_chunks()
        self.sections = document_sections(self.chunks)
        self.vocabulary: set[str] = set()
        self.names: set[str] = {self.product}
        for chunk in self.chunks:
            # Words the docs write in lower case somewhere: ordinary words.
            self.vocabulary.update(w for w in WORD.findall(chunk.text) if w.islower())
            # Capitalised words in mid-sentence (after a lower-case word): names like "Gusto".
            # "**Download PDF**" mid-sentence is a button label, not a name, so bold is skipped.
            self.names.update(re.findall(r"(?<=[a-z,] )([A-Z][a-z][\w-]*)", chunk.text))

    def lower_first(self, text: str) -> str:
        """Lower-case the first word for use mid-sentence, unless it is a name or acronym."""
        match = WORD.match(text)
        if not match:
            return text
        first = match.group(0)
        if first in self.names or first[1:] != first[1:].lower():
            return text
        return first.lower() + text[len(first) :]


def action_phrase(corpus: Corpus, heading: str) -> str:
    """ "Exporting the audit log" / "How to request time off" -> "export the audit log"."""
    question = howto_question(heading, corpus.vocabulary, speaker=False)
    if question is None:
        return corpus.lower_first(plain(heading))
    return question.removeprefix("How do I ").removesuffix("?")
