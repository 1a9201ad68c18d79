"""What the review drivers do and how a harness checks it against the ledger.

Shared by the drivers (``writer_driver``, ``tui_driver``: processes that decide drafts and
print one acknowledgement line per committed decision) and the harnesses that kill or race
them (``review_crash``, ``concurrency``). The text of an edit and the reason and note of a
reject are derived from the draft id, so the harness knows what the reviewer typed without
being told: an acknowledged edit whose stored text differs is caught.

Acknowledgement lines, written on the session's ``DecisionSaved`` / ``DecisionReverted``:

    saved <decision id> <draft id> <verdict>
    reverted <revert decision id> <draft id>
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ledger import Decision, Ledger, RejectReason, Verdict
from ledger.queue import double_review_hit
from tests.support.builders import REPO_ROOT

# Acts a driver picks from, with weights. "undo" needs a decision of this session to undo and
# "back" (press p) a draft seen before; a driver falls back to "approve" without them.
CRASH_MIX = {"approve": 35, "edit": 20, "reject": 20, "skip": 10, "undo": 15}
CONCURRENCY_MIX = {"approve": 30, "edit": 10, "reject": 15, "skip": 15, "undo": 10, "back": 20}
MIXES = {"crash": CRASH_MIX, "concurrency": CONCURRENCY_MIX}


def choose_act(rng: random.Random, mix: dict[str, int]) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


def edit_text(draft_id: str) -> tuple[str, str]:
    """The question and answer a driver types for an edit of this draft."""
    tag = draft_id[-10:]
    return (
        f"How do I download invoice {tag}?",
        f"Open Settings > Billing > Invoices and pick invoice {tag}.",
    )


def reject_choice(draft_id: str) -> tuple[RejectReason, str]:
    """The reason and note a driver gives when it rejects this draft."""
    reasons = list(RejectReason)
    reason = reasons[int(draft_id[-4:], 16) % len(reasons)]
    return reason, f"checked {draft_id[-8:]} against the source"


@dataclass(frozen=True)
class Ack:
    """One acknowledgement a driver printed: the reviewer was told this decision is saved."""

    decision_id: str
    draft_id: str
    verdict: str  # approve | edit | reject | revert
    who: str  # the driver that printed it, for findings

    def describe(self) -> str:
        return f"{self.who} acked {self.verdict} {self.decision_id} on {self.draft_id}"


def parse_acks(lines: Iterable[str], who: str) -> list[Ack]:
    """Acks from complete stdout lines (a line cut short by a kill has no newline: skipped)."""
    acks = []
    for line in lines:
        if not line.endswith("\n"):
            continue
        parts = line.split()
        if len(parts) == 4 and parts[0] == "saved":
            acks.append(Ack(parts[1], parts[2], parts[3], who))
        elif len(parts) == 3 and parts[0] == "reverted":
            acks.append(Ack(parts[1], parts[2], Verdict.REVERT.value, who))
    return acks


def ack_problem(stored: dict[str, Decision], ack: Ack) -> str | None:
    """What is wrong with an acknowledged decision in the ledger: missing or other content."""
    decision = stored.get(ack.decision_id)
    if decision is None:
        return f"{ack.describe()}: not in the ledger"
    if (decision.draft_id, decision.verdict.value) != (ack.draft_id, ack.verdict):
        return f"{ack.describe()}: ledger has {decision.verdict.value} on {decision.draft_id}"
    if decision.verdict is Verdict.EDIT:
        if (decision.final_question, decision.final_answer) != edit_text(ack.draft_id):
            return f"{ack.describe()}: stored edit text differs from what was typed"
    elif decision.verdict is Verdict.REJECT:
        if (decision.reason, decision.note) != reject_choice(ack.draft_id):
            return f"{ack.describe()}: stored reason/note differ from what was given"
    elif decision.verdict is Verdict.REVERT:
        target = stored.get(decision.reverts_decision_id or "")
        if target is None or target.draft_id != ack.draft_id:
            return f"{ack.describe()}: reverts no decision on that draft"
    return None


def ack_problems(stored: dict[str, Decision], acks: Iterable[Ack]) -> list[str]:
    return [p for p in (ack_problem(stored, ack) for ack in acks) if p is not None]


def stored_decisions(ledger: Ledger) -> dict[str, Decision]:
    return {d.id: d for d in ledger.iter_decisions()}


def decided_twice(stored: dict[str, Decision], double_review: float) -> list[str]:
    """Drafts with more decisions in force than the double-review rule allows.

    The rule (ledger/queue.py): one decision in force per draft; a draft in the double-review
    sample (``double_review_hit``) may carry one more, by a different reviewer. Never two in
    force by the same reviewer.
    """
    reverted = {d.reverts_decision_id for d in stored.values() if d.verdict is Verdict.REVERT}
    in_force: dict[str, list[Decision]] = defaultdict(list)
    for decision in stored.values():
        if decision.verdict is not Verdict.REVERT and decision.id not in reverted:
            in_force[decision.draft_id].append(decision)
    problems = []
    for draft_id, decisions in sorted(in_force.items()):
        reviewers = [d.reviewer for d in decisions]
        allowed = 2 if double_review_hit(draft_id, double_review) else 1
        if len(decisions) > allowed or len(set(reviewers)) < len(reviewers):
            seqs = ", ".join(f"#{d.seq} {d.reviewer} {d.verdict.value}" for d in decisions)
            problems.append(f"draft {draft_id} has {len(decisions)} in force ({seqs})")
    return problems


def child_env() -> dict[str, str]:
    """The environment for a child process: this worktree first, no LLM endpoint or key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def draftgate(
    ledger_path: Path, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``draftgate --ledger LEDGER ARGS`` as a user would, capturing both streams."""
    return subprocess.run(
        [sys.executable, "-m", "draftgate", "--ledger", str(ledger_path), *args],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def verify_cli_problem(ledger_path: Path, cwd: Path) -> str | None:
    """None when ``draftgate verify`` exits 0 and says the ledger is intact."""
    done = draftgate(ledger_path, "verify", cwd=cwd)
    if done.returncode == 0 and "ledger intact" in done.stdout:
        return None
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    return f"draftgate verify exited {done.returncode}: {' | '.join(tail)}"


# What must never reach a user's screen or a process's stderr.
ALARMING = ("Traceback", "database is locked", "locked by another process", "OperationalError")


def alarming_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(word in line for word in ALARMING)]
