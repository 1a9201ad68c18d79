"""The current chunks, read once, with what every rule needs to read them."""

from __future__ import annotations

import functools
import re

from generator.rules.text import (
    STOPWORDS,
    WORD,
    document_sections,
    heading_of,
    howto_question,
    is_prose,
    plain,
    sentence_spans,
    words_of,
)
from generator.scope import Scope
from ledger import Chunk, Ledger


def _tagline(text: str) -> bool:
    """ "A simple terminal UI for git commands": a noun phrase with no verb of its own, which
    reads as what the product is."""
    verbs = r"\b(?:is|are|was|were|has|have|lets|allows|helps|can|will|does|do|makes|uses)\b"
    return re.match(r"(?i)an?\s", text) is not None and re.search(verbs, text) is None


class Corpus:
    """The current chunks with what every rule needs to read them."""

    def __init__(self, ledger: Ledger, scope: Scope) -> None:
        self.ledger = ledger
        self.scope = scope
        self.product = scope.product.name
        self.chunks = ledger.current_chunks()
        self.document_paths = {d.id: d.path for d in ledger.current_documents()}
        self.sections = document_sections(self.chunks)
        self.vocabulary: set[str] = set()
        self.names: set[str] = {self.product}
        for chunk in self.chunks:
            # Words the docs write in lower case somewhere: ordinary words.
            self.vocabulary.update(w for w in WORD.findall(chunk.text) if w.islower())
            # Capitalised words in mid-sentence (after a lower-case word): names like "Stripe".
            # "**Download PDF**" mid-sentence is a button label, not a name, so bold is skipped.
            self.names.update(re.findall(r"(?<=[a-z,] )([A-Z][a-z][\w-]*)", chunk.text))

    def where(self, chunk: Chunk, offset: int) -> str:
        """``doc:line`` of an offset in a chunk, as the reviewer and the audit cite it."""
        line = chunk.start_line + chunk.text.count("\n", 0, offset)
        return f"{self.document_paths.get(chunk.document_id, chunk.document_id)}:{line}"

    @property
    def product_statement(self) -> tuple[Chunk, str] | None:
        """The best of ``product_statements``, if any."""
        return self.product_statements[0] if self.product_statements else None

    @functools.cached_property
    def product_statements(self) -> list[tuple[Chunk, str]]:
        """The docs' own sentence saying what the product is or does ("X is a ...", "X lets
        you ..."), or naming the product and sharing words with the scope's summary and domain,
        best first (one per chunk): what a plain no or a decline points to."""
        name = re.escape(self.product)
        # The sentence starts with the name ("Acme is a ...", "The Acme app lets you ...").
        says = re.compile(
            rf"^[\W_]*(?:the\s+)?{name}\b[\w\s'’-]{{0,20}}?\s"
            rf"(?:is|are)\s+(?:a|an|the|your)\b"
            rf"|^[\W_]*(?:the\s+)?{name}\b[\w\s'’-]{{0,20}}?\s"
            rf"(?:lets|helps|allows|enables)\s+you\b",
            flags=re.IGNORECASE,
        )
        named = re.compile(rf"(?<![\w/.-]){name}(?![\w/-])", flags=re.IGNORECASE)
        about = set(words_of(f"{self.scope.product.summary} {self.scope.product.domain}"))
        about -= STOPWORDS | {self.product.lower()}
        found: list[tuple[int, int, int, Chunk, str]] = []
        for index, chunk in enumerate(self.chunks):
            if named.search(chunk.text) is None and len(about & set(words_of(chunk.text))) < 3:
                continue
            depth = self.document_paths.get(chunk.document_id, "").count("/")
            for a, b in sentence_spans(chunk.text):
                sentence = chunk.text[a:b].strip()
                first, _, rest = sentence.partition("\n")
                if rest and all(
                    r.lstrip().startswith(("<", "[![", "![")) for r in rest.split("\n")
                ):
                    sentence = first.strip()  # a tagline with markup lines below it
                if heading_of(sentence) or sentence.startswith(("|", "#", ">")):
                    continue
                if len(sentence) > 300:
                    continue
                if re.search(r"[`<>{}\[\]$]|\bnot\b|n['’]t\b|\?$", sentence):
                    continue
                if not is_prose(sentence):
                    continue
                shared = len(about & set(words_of(sentence)))
                score = 2 * shared + (3 if says.search(sentence) else 0)
                # A sentence that does not name the product counts only as a tagline ("A simple
                # terminal UI for git") saying much of what the scope says the product is.
                if score >= 4 and (named.search(sentence) or (shared >= 3 and _tagline(sentence))):
                    found.append((-score, depth, index, chunk, sentence))
        found.sort(key=lambda f: (f[0], f[1], f[2]))
        best: list[tuple[Chunk, str]] = []
        for *_, chunk, sentence in found:
            if all(chunk.id != c.id for c, _ in best):
                best.append((chunk, sentence))
        return best

    def about(self, statement: str) -> str:
        """A product statement as an answer sentence: a tagline that does not name the product
        ("A simple terminal UI for git") becomes "<product> is a simple terminal UI for git."."""
        said = plain(statement).strip()
        if _tagline(said) and self.product.lower() not in said.lower():
            said = f"{self.product} is {said[0].lower()}{said[1:]}"
        return said if said.endswith((".", "!", "?")) else said + "."

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
    """ "Exporting the audit log" / "How to invite a member" -> "export the audit log"."""
    question = howto_question(heading, corpus.vocabulary, speaker=False)
    if question is None:
        return corpus.lower_first(plain(heading))
    return question.removeprefix("How do I ").removesuffix("?")
