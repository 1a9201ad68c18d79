"""False-premise adversarials: a question that assumes a wrong number, limit or price, answered
with the value the docs give.

Three places a documented value is found:

- ``adversarial.false_premise`` (a bare limit bullet, "- Notes: 500 characters."): the question
  assumes ten times the limit;
- ``adversarial.false_premise.sentence``: a sentence stating a quantity with a unit, a currency
  or a percentage ("Backups are kept for 30 days.", "the sync pulls at most 90 days of data");
  the question restates the sentence with the wrong value, the answer gives the sentence;
- ``adversarial.false_premise.table``: a table cell holding only a quantity ("| Pro | $19 |"),
  asked about by its row and column.

The wrong value is ten times the documented one (half of it for a percentage that would pass
100), so it is wrong beyond any rounding. Versions, years, dates, step numbers and code are not
quantities and are skipped.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from generator.rules.config_block import config_entries
from generator.rules.corpus import Corpus
from generator.rules.markup import clean_answer
from generator.rules.phrasing import Phrasing
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.qa import sentence_case
from generator.rules.qa_reference import ACTION_VERBS
from generator.rules.text import lines_of, plain, sentence_spans
from ledger import Chunk, DraftIn, DraftKind

# (a plan name, a default, a range), so ten times the number is unambiguously wrong.
_LIMIT_LINE = re.compile(
    r"^[-*+][ \t]+(?P<subject>[A-Z][A-Za-z ,'’-]{2,60}):[ \t]+(?P<upto>up to )?"
    r"(?P<number>\d{1,3}(?:,\d{3})*|\d+)(?P<unit> [a-z]+)?\.(?:[ \t]|$)"
)
_FALSE_PREMISE_QUESTIONS = [
    "Is it true that {subject} can go up to {wrong}?",
    "I heard {subject} can go up to {wrong}. Is that right?",
]
_SENTENCE_QUESTIONS = [
    "Is it true that {claim}?",
    "I read that {claim}. Is that right?",
    "Someone told me {claim}. Is that correct?",
    "Can you confirm that {claim}?",
    "So {claim}, right?",
]
_DEFAULT_QUESTIONS = [
    "Is the default {key} {wrong}?",
    "Does {key} default to {wrong}?",
    "Out of the box, {key} is {wrong}, isn't it?",
    "I think {key} is set to {wrong} unless I change it. Correct?",
    "If I leave {key} alone, it's {wrong}, right?",
]
_TABLE_QUESTIONS = [
    "Is the {column} for {row} {wrong}?",
    "I heard the {column} for {row} is {wrong}. Is that right?",
    "{row} comes with a {column} of {wrong}, doesn't it?",
]
FALSE_PREMISES_PER_CHUNK = 2

_UNITS = (
    "seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|characters?|chars?"
    "|words?|lines?|items?|users?|members?|seats?|people|requests?|calls?|files?|bytes|[KMGT]i?B"
    "|rows?|records?|entries|entry|accounts?|transactions?|times|attempts?|projects?"
    "|workspaces?|collections?|teams?|tabs?|levels?|digits?|decimal places|credits?|tokens?"
)
_CURRENCY = r"[$€£¥]"
_QUANTITY = re.compile(
    rf"(?<![\w.,/#–—-])(?:(?P<cur>{_CURRENCY})\s?)?(?P<num>\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)"
    rf"(?:(?P<pct>\s?%)|\s?(?P<unit>(?:{_UNITS})\b))?(?![\w.,]\d)(?!\s?[–—-]\s?\d)"
)
# Words that make a number a limit, a period or a price rather than a count in a story.
_LIMIT_CUE = re.compile(
    r"(?i)\b(up to|at most|at least|maximum|max|minimum|min|limit(?:ed)?(?: to| of)?|per|within|"
    r"every|after|before|for|than|only|default|by default|costs?|price|free|each|expires?|"
    r"kept|valid|lasts?|older|newer|over|under|exceeds?|next|last|about|around|roughly)\W*"
    r"(?:\w+\W+){0,2}$"
)
_STRICT_CUE = re.compile(
    r"(?i)\b(up to|at most|at least|maximum|max|minimum|min|limit(?:ed)?(?: to| of)?|per|"
    r"default|by default|costs?|price|free|discount|off|fee)\W*(?:\w+\W+){0,2}$"
)
_ARITHMETIC = re.compile(r"\s[=+×*/]\s")
_PRICE_WORDS = re.compile(
    r"(?i)(per (user|seat|month|year|member)|/\s?(mo|month|yr|year|user)\b|\b(price|pricing|"
    r"costs?|plans?|fee|subscription|billed|charge[sd]?|tier)\b)"
)
_CLAUSE_BREAK = re.compile(r"(?:,\s+(?:while|whereas|but)\s+|;\s+)")
_PER_AFTER = re.compile(r"(?i)\s*(?:/|per\b|a (?:month|year|user|seat)\b|each\b|off\b)")
# A sentence that leans on an earlier one ("It keeps 30 days") does not restate on its own.
_LEANS_BACK = re.compile(
    r"(?i)^(it|its|this|that|these|those|they|them|he|she|such|here|there|also|then|however|but|"
    r"and|or|so|for example|e\.g\.)\b"
)
# A table column of limits or prices (not of worked-example amounts).
_QUANTITY_COLUMN = re.compile(
    r"(?i)\b(price|cost|fee|limit|max(imum)?|min(imum)?|quota|size|storage|users|seats|members|"
    r"retention|timeout|duration|rate|allowance|included|capacity|per month|per year|monthly|"
    r"yearly|annual)\b"
)
# A statement has a finite verb; a fragment ("2 years of history.") or a heading does not.
_FINITE = re.compile(
    r"(?i)\b(is|are|was|were|can|cannot|can't|will|won't|must|may|should|has|have|keeps?|"
    r"lasts?|stores?|expires?|supports?|includes?|holds?|allows?|pulls?|runs?|costs?|becomes?|"
    r"takes?|gets?|stays?|updates?|refreshes|syncs|pushes|retains?|deletes?|attaches)\b"
)
# Worked examples ("Let's say your income is $1,200", "we have $35 left") are not facts about
# the product.
_NARRATIVE = re.compile(
    r"(?i)\b(we|our|us|let's|let us|say|suppose|imagine|example|e\.g|i\.e|i|my)\b"
)


def plan_false_premises(corpus: Corpus, per_chunk: int) -> dict[str, Plan]:
    """Questions that assume a wrong documented value, answered with the real one."""
    plans: dict[str, Plan] = {}
    cap = min(per_chunk, FALSE_PREMISES_PER_CHUNK)
    phrasing = Phrasing()
    for chunk in corpus.chunks:
        drafts: list[DraftIn] = []
        seen: set[str] = set()
        # Lazily: a phrasing is counted as used only for a draft that is kept.
        for draft in itertools.chain(
            _limit_bullets(corpus, chunk, phrasing),
            _sentences(corpus, chunk, phrasing),
            _table_cells(chunk, phrasing),
            _config_defaults(chunk, phrasing),
        ):
            if draft.evidence[0] in seen:
                continue  # one draft per documented line
            seen.add(draft.evidence[0])
            drafts.append(draft)
            if len(drafts) >= cap:
                break
        if drafts:
            plans[chunk.id] = Plan(drafts)
    return plans


def _draft(
    question: str, answer: str, quote: str, rule: str, documented: str, premise: str
) -> DraftIn:
    return DraftIn(
        kind=DraftKind.ADVERSARIAL,
        subtype="false_premise",
        question=question,
        answer=answer,
        evidence=[quote],
        meta={
            "drafter": RULES_DRAFTER,
            "rule": rule,
            "documented": documented,
            "premise": premise,
        },
    )


def _limit_bullets(corpus: Corpus, chunk: Chunk, phrasing: Phrasing) -> Iterator[DraftIn]:
    for line in lines_of(chunk.text):
        match = _LIMIT_LINE.match(line.text)
        if match is None:
            continue
        subject = re.sub(r"^(?i:maximum|max\.?)\s+", "", match.group("subject")).strip()
        subject = corpus.lower_first(subject)
        number = int(match.group("number").replace(",", ""))
        unit = match.group("unit") or ""
        real, wrong = f"{number:,}{unit}", f"{number * 10:,}{unit}"
        question = phrasing.pick(_FALSE_PREMISE_QUESTIONS, "fp:" + line.text).format(
            subject=subject, wrong=wrong
        )
        answer = f"No. {subject[0].upper() + subject[1:]} can go up to {real}, not {wrong}."
        yield _draft(question, answer, line.text.strip(), "adversarial.false_premise", real, wrong)


def wrong_value(number: str, percent: bool) -> str | None:
    """Ten times ``number`` (as the docs write numbers), or half a percentage past 100."""
    value = float(number.replace(",", ""))
    if value <= 0:
        return None
    wrong = value * 10
    if percent and wrong > 100:
        wrong = value / 2 if value >= 2 else 50.0
    if wrong == int(wrong):
        return f"{int(wrong):,}" if "," in number or wrong >= 10_000 else str(int(wrong))
    return f"{wrong:g}"


def _is_quantity(match: re.Match[str], text: str) -> bool:
    number = match.group("num")
    if not (match.group("cur") or match.group("pct") or match.group("unit")):
        return False
    if re.fullmatch(r"(19|20)\d\d", number) and not match.group("unit"):
        return False
    before = text[max(0, match.start() - 12) : match.start()].lower()
    return not re.search(r"(step|version|v|chapter|section|page)\s*$", before)


def _fence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    opened: int | None = None
    for line in lines_of(text):
        if line.text.lstrip().startswith(("```", "~~~")):
            if opened is None:
                opened = line.start
            else:
                spans.append((opened, line.end))
                opened = None
    if opened is not None:
        spans.append((opened, len(text)))
    return spans


def _sentences(corpus: Corpus, chunk: Chunk, phrasing: Phrasing) -> Iterator[DraftIn]:
    fences = _fence_spans(chunk.text)
    for a, b in sentence_spans(chunk.text):
        raw = chunk.text[a:b].strip()
        if any(f0 <= a < f1 for f0, f1 in fences) or raw.startswith(("|", "#", "<", "!")):
            continue
        if "`" in raw:
            continue  # code in the sentence: its numbers are likely code too
        sentence = clean_answer(raw)
        if not (25 <= len(sentence) <= 200) or not sentence.endswith("."):
            continue
        if _LEANS_BACK.match(sentence) or sentence.endswith(":") or "?" in sentence:
            continue
        first = sentence.split(" ", 1)[0].lower()
        if first in ACTION_VERBS or first == "optionally":
            continue  # an instruction, not a statement a premise can contradict
        if (
            _NARRATIVE.search(sentence)
            or not _FINITE.search(sentence)
            or _ARITHMETIC.search(sentence)
        ):
            continue
        picked = _claimed_quantity(sentence)
        if picked is None:
            continue
        claim_text, match = picked
        wrong_number = wrong_value(match.group("num"), bool(match.group("pct")))
        if wrong_number is None or match.group(0) not in raw:
            continue
        documented = match.group(0).strip()
        premise = documented.replace(match.group("num"), wrong_number, 1)
        claim = claim_text[: match.start()] + premise + claim_text[match.end() :]
        claim = lower_first_word(corpus, claim.rstrip(".,;").strip())
        question = phrasing.pick(_SENTENCE_QUESTIONS, f"fps:{raw}").format(claim=claim)
        answer = f"No, not {premise}. {sentence}"
        yield _draft(
            question, answer, raw, "adversarial.false_premise.sentence", documented, premise
        )


def _clauses(sentence: str) -> list[str]:
    """The sentence's clauses, never split inside parentheses."""
    out: list[str] = []
    start = 0
    for match in _CLAUSE_BREAK.finditer(sentence):
        before = sentence[start : match.start()]
        if before.count("(") > before.count(")"):
            continue  # inside a parenthesis: the clause goes on
        out.append(before)
        start = match.end()
    out.append(sentence[start:])
    return out


def _claimed_quantity(sentence: str) -> tuple[str, re.Match[str]] | None:
    """The clause that states one documented quantity, and that quantity.

    A sentence with two values ("Cloud imports up to 10 MB, while self-hosted allows 50 MB")
    is read clause by clause: the first clause with one value is the claim.
    """
    for clause in _clauses(sentence):
        found = [m for m in _QUANTITY.finditer(clause) if _is_quantity(m, clause)]
        if len(found) != 1:
            continue  # none, or two values: which one a premise gets wrong is unclear
        match = found[0]
        if match.group("cur") and not _PRICE_WORDS.search(sentence):
            continue  # an amount of the reader's money in a worked example, not a price
        before = clause[max(0, match.start() - 40) : match.start()]
        cue = _STRICT_CUE if match.group("cur") or match.group("pct") else _LIMIT_CUE
        if not cue.search(before) and not _PER_AFTER.match(clause[match.end() :]):
            continue  # a count in passing, not a documented limit, period or price
        opener = re.match(r"(?i)^(for|if|when|to|after|before|within|in)\b[^,]*,", clause)
        if opener and match.start() < opener.end():
            continue  # the value sits in a framing clause, not in what the sentence claims
        return clause, match
    return None


def _table_cells(chunk: Chunk, phrasing: Phrasing) -> Iterator[DraftIn]:
    lines = lines_of(chunk.text)
    header: list[str] | None = None
    for index, line in enumerate(lines):
        text = line.text.strip()
        if not text.startswith("|"):
            header = None
            continue
        cells = [plain(c).strip() for c in text.strip("|").split("|")]
        following = lines[index + 1].text.strip() if index + 1 < len(lines) else ""
        if header is None:
            if re.fullmatch(r"\|?[\s:|-]+\|?", following):
                header = cells
            continue
        if re.fullmatch(r"[\s:|-]+", text) or len(cells) != len(header) or not cells[0]:
            continue
        row_name = cells[0]
        if len(row_name) > 40 or re.search(r"[`#{}<>]", row_name):
            continue
        for column, cell in zip(header[1:], cells[1:], strict=False):
            match = _QUANTITY.fullmatch(cell)
            if not column or match is None or not _QUANTITY_COLUMN.search(column):
                continue
            if not (match.group("cur") or match.group("pct") or match.group("unit")):
                continue
            wrong_number = wrong_value(match.group("num"), bool(match.group("pct")))
            if wrong_number is None:
                continue
            premise = cell.replace(match.group("num"), wrong_number, 1)
            name = column[0].lower() + column[1:] if column[1:2].islower() else column
            question = phrasing.pick(_TABLE_QUESTIONS, f"fpt:{text}:{column}").format(
                column=name, row=row_name, wrong=premise
            )
            answer = f"No. The {name} for {row_name} is {cell}, not {premise}."
            yield _draft(question, answer, text, "adversarial.false_premise.table", cell, premise)
            break


def _config_defaults(chunk: Chunk, phrasing: Phrasing) -> Iterator[DraftIn]:
    """A numeric default in a commented configuration example."""
    for entry in config_entries(chunk.text):
        if not re.fullmatch(r"\d+", entry.value) or int(entry.value) == 0:
            continue
        wrong = wrong_value(entry.value, percent=bool(re.search(r"(?i)percent|%", entry.comment)))
        meaning = clean_answer(re.sub(r"<?https?://\S+>?", "", entry.comment)).strip()
        if wrong is None or len(meaning) < 15:
            continue
        question = phrasing.pick(_DEFAULT_QUESTIONS, f"fpd:{entry.key}").format(
            key=entry.key, wrong=wrong
        )
        answer = f"No. {entry.key} defaults to {entry.value}, not {wrong}. {meaning}"
        if not answer.endswith((".", "!", ")")):
            answer += "."
        yield _draft(
            question, answer, entry.quote, "adversarial.false_premise.default", entry.value, wrong
        )


def lower_first_word(corpus: Corpus, text: str) -> str:
    """The first word in lower case for use mid-sentence, unless the docs capitalise it."""
    first, _, rest = text.partition(" ")
    return f"{sentence_case(corpus, first)} {rest}".strip()
