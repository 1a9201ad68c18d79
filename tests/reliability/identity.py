"""Reviewer identity and clocks: who signed a decision, and how long they looked at it.

One trial, in its own ledger (one document, ``DRAFTS`` drafts), with a random generator drawn
from ``random.Random(f"{seed}:{trial}")``:

- ``SIGNED`` decisions, each by one of three people (names with accents, CJK, apostrophes),
  each under a disguised spelling of that person's name: invisible characters (zero-width,
  bidi controls, the braille blank, Hangul fillers, variation selectors, tags, ESC, NUL, DEL,
  C1 controls, soft hyphen, BOM) put in at random places, the name decomposed (NFD), wrapped
  in tabs or ideographic spaces. Each draft is claimed through the review queue (a lease row)
  under that spelling, then decided. About a third of the decisions have a clock that went
  backwards between showing and deciding (1 ms to 10 min); the rest a dwell of 0.1-10 s.
- ``NAMELESS`` names made only of invisible characters and spaces, each tried as a queue's
  reviewer and as a decision's reviewer.
- Then the audit's quality signals and ``verify`` on the ledger.

Counted:

- undetected: a spelling stored (decision or lease) as anything but the person's one name, or
  as a different name than another spelling of the same person (two people where there is
  one); a nameless reviewer accepted by the queue or the ledger; a backwards clock stored with
  a dwell (negative, zero or any) or not marked as a clock anomaly; a forward clock marked as
  one or stored with the wrong dwell; the quality signals listing other reviewers than the
  people, counting a clock anomaly as a fast decision, or miscounting either.
- lost: an acknowledged decision missing from the ledger, or ``verify`` finding a break.
- crashed: any exception but the documented refusal of a nameless reviewer
  (``InvalidReviewerName``).
"""

from __future__ import annotations

import random
import traceback
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.quality import compute_quality

from ledger import DecisionIn, Ledger, RejectReason, Verdict, verify
from ledger.queue import ReviewQueue
from ledger.reviewers import InvalidReviewerName
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, add_drafts

CATEGORY = "reviewer identity and clocks"
SUITE_TRIALS = 12
BENCH_TRIALS = 120

DRAFTS = 24
SIGNED = 18
NAMELESS = 6
BACKWARDS_SHARE = 0.35
FAST_MS = 2000

PEOPLE = ("alice", "Zoë Müller", "李雷", "O'Brien", "José", "Anaïs Nin", "bob2")
INVISIBLE = (
    "\u200b",  # zero-width space
    "\u200c",  # zero-width non-joiner
    "\u200d",  # zero-width joiner
    "\u200e",  # left-to-right mark
    "\u202e",  # right-to-left override
    "\u2066",  # left-to-right isolate
    "\u2069",  # pop directional isolate
    "\u2060",  # word joiner
    "\u2800",  # braille pattern blank
    "\u3164",  # Hangul filler
    "\u115f",  # Hangul choseong filler
    "\ufe0f",  # variation selector 16
    "\ufeff",  # byte order mark
    "\u00ad",  # soft hyphen
    "\u034f",  # combining grapheme joiner
    "\U000e0041",  # tag latin capital A
    "\x1b",  # ESC
    "\x00",  # NUL
    "\x7f",  # DEL
    "\x9b",  # C1 CSI
    "\x07",  # BEL
)
BLANKS = (" ", "\t", "\u3000", "\u00a0", "\n")
SHOWN = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def disguise(name: str, rng: random.Random) -> str:
    """Another spelling of ``name`` that a reader would see as the same name."""
    text = unicodedata.normalize("NFD", name) if rng.random() < 0.4 else name
    chars = list(text)
    for _ in range(rng.randint(1, 4)):
        chars.insert(rng.randint(0, len(chars)), rng.choice(INVISIBLE))
    text = "".join(chars)
    if rng.random() < 0.5:
        text = rng.choice(BLANKS) + text + rng.choice(BLANKS)
    return text


def nameless(rng: random.Random) -> str:
    """A name with nothing visible in it."""
    return "".join(rng.choice(INVISIBLE + BLANKS) for _ in range(rng.randint(1, 6)))


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    for trial in range(trials):
        where = f"seed {seed} trial {trial}"
        try:
            _trial(random.Random(f"{seed}:{trial}"), workdir / f"t{trial}", where, outcome)
        except Exception:  # noqa: BLE001 - any escaped exception is what is counted
            outcome.crash(f"{where}: {traceback.format_exc(limit=3)}")
        outcome.trials += 1
    return outcome


def _trial(rng: random.Random, folder: Path, where: str, outcome: Outcome) -> None:
    folder.mkdir(parents=True)
    people = rng.sample(PEOPLE, 3)
    with Ledger.open(folder / "ledger.sqlite") as ledger:
        drafts = add_drafts(ledger, add_document(ledger)[0], count=DRAFTS)
        acknowledged: dict[str, str] = {}  # decision id -> person
        anomalies: Counter[str] = Counter()
        fast: Counter[str] = Counter()
        for draft_id in drafts[:SIGNED]:
            person = rng.choice(people)
            spelling = disguise(person, rng)
            label = f"{where}: {spelling!r} (for {person!r})"
            queue = ReviewQueue(ledger, spelling)
            if queue.reviewer != person:
                outcome.miss(f"{label}: the queue reviews as {queue.reviewer!r}")
            if queue.claim_draft(draft_id) is None:
                outcome.miss(f"{label}: could not claim an undecided draft")
                continue
            backwards = rng.random() < BACKWARDS_SHARE
            offset_ms = rng.randint(1, 600_000) if backwards else rng.randint(100, 10_000)
            decided = SHOWN + timedelta(milliseconds=-offset_ms if backwards else offset_ms)
            verdict = rng.choice((Verdict.APPROVE, Verdict.REJECT))
            decision = ledger.record_decision(
                DecisionIn(
                    draft_id=draft_id,
                    reviewer=spelling,
                    verdict=verdict,
                    reason=RejectReason.OTHER if verdict is Verdict.REJECT else None,
                    shown_at=stamp(SHOWN),
                    decided_at=stamp(decided),
                )
            )
            queue.release_session()
            acknowledged[decision.id] = person
            if decision.reviewer != person:
                outcome.miss(f"{label}: decision signed as {decision.reviewer!r}")
            if backwards:
                anomalies[person] += 1
                if decision.dwell_ms is not None or not decision.clock_anomaly:
                    outcome.miss(
                        f"{label}: clock went back {offset_ms} ms; stored dwell "
                        f"{decision.dwell_ms}, clock anomaly {decision.clock_anomaly}"
                    )
            else:
                fast[person] += offset_ms < FAST_MS
                if decision.dwell_ms != offset_ms or decision.clock_anomaly:
                    outcome.miss(
                        f"{label}: dwell {offset_ms} ms stored as {decision.dwell_ms}, "
                        f"clock anomaly {decision.clock_anomaly}"
                    )
        _nameless(ledger, drafts[SIGNED:], rng, where, outcome)
        _stored(ledger, acknowledged, set(people), where, outcome)
        _counted(ledger, set(acknowledged.values()), anomalies, fast, where, outcome)


def _nameless(
    ledger: Ledger, drafts: list[str], rng: random.Random, where: str, outcome: Outcome
) -> None:
    for n in range(NAMELESS):
        name = nameless(rng)
        try:
            ReviewQueue(ledger, name)
        except InvalidReviewerName:
            pass
        else:
            outcome.miss(f"{where}: the queue accepted the nameless reviewer {name!r}")
        try:
            ledger.record_decision(
                DecisionIn(draft_id=drafts[n % len(drafts)], reviewer=name, verdict=Verdict.APPROVE)
            )
        except InvalidReviewerName:
            continue
        outcome.miss(f"{where}: the ledger signed a decision by the nameless {name!r}")


def _stored(
    ledger: Ledger, acknowledged: dict[str, str], people: set[str], where: str, outcome: Outcome
) -> None:
    stored = {d.id: d for d in ledger.iter_decisions()}
    for decision_id, person in acknowledged.items():
        if decision_id not in stored:
            outcome.lose(f"{where}: decision {decision_id} by {person!r} is gone")
        elif stored[decision_id].reviewer != person:
            outcome.miss(f"{where}: {decision_id} reads back as {stored[decision_id].reviewer!r}")
    leased = {row[0] for row in ledger.query("SELECT DISTINCT reviewer FROM leases")}
    if not leased <= people:
        outcome.miss(f"{where}: leases under {sorted(leased - people)!r}")
    breaks = verify(ledger)
    if breaks:
        outcome.lose(f"{where}: verify found {len(breaks)} break(s), first {breaks[0]}")


def _counted(
    ledger: Ledger,
    people: set[str],
    anomalies: Counter[str],
    fast: Counter[str],
    where: str,
    outcome: Outcome,
) -> None:
    signals = compute_quality(ledger, fast_decision_ms=FAST_MS)["fast_decisions"]
    by_reviewer = signals["by_reviewer"]
    if set(by_reviewer) != people:
        outcome.miss(f"{where}: quality counts reviewers {sorted(by_reviewer)!r}, not {people}")
    for person in people & set(by_reviewer):
        got = by_reviewer[person]
        if (got["clock_anomalies"], got["fast"]) != (anomalies[person], fast[person]):
            outcome.miss(
                f"{where}: {person!r}: {got['clock_anomalies']} clock anomalies and "
                f"{got['fast']} fast counted, expected {anomalies[person]} and {fast[person]}"
            )
    if signals["clock_anomalies"] != sum(anomalies.values()):
        outcome.miss(f"{where}: {signals['clock_anomalies']} clock anomalies in all")
