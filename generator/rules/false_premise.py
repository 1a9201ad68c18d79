"""False-premise adversarials: a question assuming ten times a bare numeric limit the docs
list, corrected with the documented one.
"""

from __future__ import annotations

import re

from generator.rules.corpus import Corpus
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.text import lines_of, pick
from ledger import DraftIn, DraftKind

# (a plan name, a default, a range), so ten times the number is unambiguously wrong.
_LIMIT_LINE = re.compile(
    r"^[-*+][ \t]+(?P<subject>[A-Z][A-Za-z ,'’-]{2,60}):[ \t]+(?P<upto>up to )?"
    r"(?P<number>\d{1,3}(?:,\d{3})*|\d+)(?P<unit> [a-z]+)?\.(?:[ \t]|$)"
)
_FALSE_PREMISE_QUESTIONS = [
    "Is it true that {subject} can go up to {wrong}?",
    "I heard {subject} can go up to {wrong}. Is that right?",
]
FALSE_PREMISES_PER_CHUNK = 2


def plan_false_premises(corpus: Corpus, per_chunk: int) -> dict[str, Plan]:
    """Questions that assume ten times a documented numeric limit, answered with the real one."""
    plans: dict[str, Plan] = {}
    cap = min(per_chunk, FALSE_PREMISES_PER_CHUNK)
    for chunk in corpus.chunks:
        drafts: list[DraftIn] = []
        for line in lines_of(chunk.text):
            match = _LIMIT_LINE.match(line.text)
            if match is None or len(drafts) >= cap:
                continue
            subject = re.sub(r"^(?i:maximum|max\.?)\s+", "", match.group("subject")).strip()
            subject = corpus.lower_first(subject)
            number = int(match.group("number").replace(",", ""))
            unit = match.group("unit") or ""
            real, wrong = f"{number:,}{unit}", f"{number * 10:,}{unit}"
            question = pick(_FALSE_PREMISE_QUESTIONS, "fp:" + line.text).format(
                subject=subject, wrong=wrong
            )
            answer = f"No. {subject[0].upper() + subject[1:]} can go up to {real}, not {wrong}."
            drafts.append(
                DraftIn(
                    kind=DraftKind.ADVERSARIAL,
                    subtype="false_premise",
                    question=question,
                    answer=answer,
                    evidence=[line.text.strip()],
                    meta={
                        "drafter": RULES_DRAFTER,
                        "rule": "adversarial.false_premise",
                        "documented": real,
                        "premise": wrong,
                    },
                )
            )
        if drafts:
            plans[chunk.id] = Plan(drafts)
    return plans
