"""Hostile text in reports: a reviewer name, a note or a document name holding terminal
escapes, bidi controls or markup must reach the audit's Markdown and HTML reports (and its
terminal summary) inert: control characters made visible, markup escaped.

One trial takes one hostile string (``HOSTILE``, in turn; ``random.Random(f"{seed}:{trial}")``
wraps it in ordinary text) and one report format (md, html, in turn), builds a small ledger
whose drafts were decided by a reviewer of that name, with a reject note holding it, from a
document whose path holds it, and runs ``draftgate audit --format <fmt>`` through ``main()``.

- undetected: a control character (C0 but newline and tab, DEL, C1, bidi controls) in the
  report file or on stdout; in Markdown, a raw ``<`` tag or an unescaped ``|`` `*` ``[`` from
  the hostile string; in HTML, a raw ``<`` tag from it.
- crashed: a traceback, or an exit code other than 0 (the ledger is intact).
- lost: not used here.

``control`` runs the judge on a report that carries the string raw: it must be counted.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from ledger import DecisionIn, Ledger, RejectReason, Verdict
from ledger.text import visible
from tests.reliability.generate_harness import CliRun, run_in_process
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, add_drafts

CATEGORY = "report_text"
HOSTILE = (
    "\x1b]0;OWNED\x07",  # window title
    "\x1b[2J\x1b[H",  # clear screen
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",  # OSC 8 link
    "\x1b[8mhidden\x1b[0m",  # concealed text
    "\u202eevil\u202c",  # right-to-left override
    "\x9b31m",  # C1 CSI
    "<script>alert(1)</script>",
    "**bold** | [link](javascript:x) `code`",
    "\r\x08\x7f",
)
FORMATS = ("md", "html")
SUITE_TRIALS = len(HOSTILE) * len(FORMATS)
BENCH_TRIALS = 5 * SUITE_TRIALS

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def build_ledger(path: Path, name: str) -> None:
    with Ledger.open(path) as ledger:
        chunks = add_document(ledger, f"docs/{name}.md")
        drafts = add_drafts(ledger, chunks[0], count=4)
        for draft in drafts[:3]:
            ledger.record_decision(
                DecisionIn(draft_id=draft, reviewer=name, verdict=Verdict.APPROVE)
            )
        ledger.record_decision(
            DecisionIn(
                draft_id=drafts[3],
                reviewer=name,
                verdict=Verdict.REJECT,
                reason=RejectReason.OTHER,
                note=f"note: {name}",
            )
        )


def judge(outcome: Outcome, label: str, fmt: str, hostile: str, report: str, run: CliRun) -> None:
    if "Traceback" in run.stderr or run.code != 0:
        outcome.crash(f"{label}: exit {run.code}: {run.stderr.strip()[-300:]!r}")
        return
    problems = []
    for where, text in (("report", report), ("stdout", run.stdout)):
        found = _CONTROLS.search(text)
        if found:
            problems.append(f"{where} holds control character {found.group()!r}")
    if "<" in hostile and visible(hostile) in report:
        problems.append("a raw tag from the hostile text is in the report")
    if fmt == "md":
        shown = visible(hostile)
        for token in ("|", "*", "[", "`"):
            if token in hostile and shown in report:
                problems.append(f"the hostile text's {token!r} is not escaped")
                break
    if problems:
        outcome.miss(f"{label}: {'; '.join(problems)}")


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    for trial_no in range(trials):
        rng = random.Random(f"{seed}:{trial_no}")
        hostile = HOSTILE[trial_no % len(HOSTILE)]
        fmt = FORMATS[(trial_no // len(HOSTILE)) % len(FORMATS)]
        name = f"{rng.choice(['ann', 'bob', 'eve'])}{hostile}{rng.choice(['', ' x', '!'])}"
        folder = workdir / f"t{trial_no}"
        folder.mkdir()
        build_ledger(folder / "ledger.sqlite", name)
        out = folder / f"audit.{fmt}"
        result = run_in_process(
            [
                "--ledger",
                str(folder / "ledger.sqlite"),
                "audit",
                "--format",
                fmt,
                "--out",
                str(out),
            ],
            {},
        )
        report = out.read_text(encoding="utf-8") if out.exists() else ""
        outcome.trials += 1
        judge(outcome, f"trial {trial_no} ({fmt}, {hostile!r})", fmt, hostile, report, result)
    return outcome


def control() -> Outcome:
    outcome = Outcome(CATEGORY)
    ok = CliRun(0, "", "")
    judge(outcome, "raw escape", "md", HOSTILE[0], f"| {HOSTILE[0]} |", ok)
    judge(outcome, "raw tag", "html", HOSTILE[6], f"<td>{HOSTILE[6]}</td>", ok)
    judge(outcome, "raw pipes", "md", HOSTILE[7], f"| {HOSTILE[7]} |", ok)
    return outcome
