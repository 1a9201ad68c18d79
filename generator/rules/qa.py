"""Q&As: "How to ..." and gerund headings over a numbered procedure become "How do I ...?"
answered with the steps; FAQ question headings become Q&As.
"""

from __future__ import annotations

import re

from generator.rules.corpus import Corpus
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.text import (
    Section,
    answer_text,
    block_spans,
    howto_question,
    paragraph_after,
    plain,
    step_spans,
)
from ledger import Chunk, DraftIn, DraftKind


def plan_qas(corpus: Corpus, per_chunk: int) -> dict[str, Plan]:
    plans: dict[str, Plan] = {}
    for chunk in corpus.chunks:
        drafts: list[DraftIn] = []
        for section in corpus.sections[chunk.id]:
            if section.heading is None or len(drafts) >= per_chunk:
                continue
            draft = _howto_draft(corpus, chunk, section) or _faq_draft(chunk, section)
            if draft is not None:
                drafts.append(draft)
        if drafts:
            plans[chunk.id] = Plan(drafts)
    return plans


def _howto_draft(corpus: Corpus, chunk: Chunk, section: Section) -> DraftIn | None:
    steps = step_spans(section)
    if section.heading is None or len(steps) < 2:
        return None
    question = howto_question(section.heading, corpus.vocabulary)
    if question is None:
        return None
    lines = []
    for number, (a, b) in enumerate(steps, start=1):
        body = re.sub(r"^\d+\.\s+", "", chunk.text[a:b])
        lines.append(f"{number}. {answer_text(body)}")
    evidence = [chunk.text[a:b] for a, b in steps]
    answer = "\n".join(lines)
    note = paragraph_after(section, steps[-1][1])
    if note is not None:
        note_text = chunk.text[note[0] : note[1]]
        # A short closing note ("The change takes effect ...") completes the answer; one that
        # leans on its surroundings ("as described above", a link) would not read on its own.
        if len(note_text) <= 300 and not re.search(r"\b(above|below)\b|\]\(", note_text):
            answer += "\n\n" + answer_text(note_text)
            evidence.append(note_text)
    return DraftIn(
        kind=DraftKind.QA,
        question=question,
        answer=answer,
        evidence=evidence,
        meta={"drafter": RULES_DRAFTER, "rule": "qa.howto_steps", "heading": section.heading},
    )


def _faq_draft(chunk: Chunk, section: Section) -> DraftIn | None:
    """An FAQ entry ("### Can I ...?" over a short answer) is already a question and answer."""
    if section.heading is None or not section.heading.endswith("?"):
        return None
    body = [line for line in section.lines if line.text.strip()]
    if not body or any(line.text.lstrip().startswith("|") for line in body):
        return None
    start, end = body[0].start, body[-1].end
    if end - start > 600:
        return None
    text = chunk.text[start:end]
    # One answer line per paragraph or list item, so a list stays a list.
    answer = "\n".join(
        answer_text(text[a - start : b - start])
        for a, b in block_spans(chunk.text)
        if start <= a < end
    )
    return DraftIn(
        kind=DraftKind.QA,
        question=plain(section.heading),
        answer=answer,
        evidence=[text],
        meta={"drafter": RULES_DRAFTER, "rule": "qa.faq", "heading": section.heading},
    )
