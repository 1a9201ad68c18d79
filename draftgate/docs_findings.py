"""How the CLI shows what drafting left out and what the docs say to an AI: the dropped
candidates of the current generation calls, and doc sentences addressed to an AI assistant."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from draftgate.text_table import text_table
from ledger import AiAddressedText, DroppedCandidate

# ``status`` names this many dropped candidates; ``status --json`` lists all of them.
DROPPED_NAMED_IN_STATUS = 5
QUOTE_CHARS = 120

_SPACE = re.compile(r"\s+")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` on one line (runs of whitespace made one space, control characters dropped),
    cut to ``limit`` characters with an ellipsis."""
    flat = _CONTROL.sub("", _SPACE.sub(" ", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def ai_addressed_warning(flags: list[AiAddressedText]) -> str:
    """One warning line for a document's sentences addressed to an AI (the first one quoted)."""
    first = flags[0]
    line = f'{first.at}: text addressed to an AI assistant: "{one_line(first.sentence)}"'
    if len(flags) > 1:
        line += f" (and {len(flags) - 1} more in this document)"
    return line


def dropped_counts(dropped: list[DroppedCandidate]) -> dict[str, dict[str, int]]:
    """Dropped candidates counted by kind, then reason."""
    counts: dict[str, Counter[str]] = {}
    for item in dropped:
        counts.setdefault(item.kind, Counter())[item.reason] += 1
    return {kind: dict(sorted(c.items())) for kind, c in sorted(counts.items())}


def status_json(dropped: list[DroppedCandidate], flags: list[AiAddressedText]) -> dict[str, Any]:
    return {
        "dropped_candidates": {
            "count": len(dropped),
            "by_kind_and_reason": dropped_counts(dropped),
            "items": [d.as_dict() for d in dropped],
        },
        "ai_addressed_text": [
            {"at": f.at, "document": f.document, "line": f.line, "sentence": f.sentence}
            for f in flags
        ],
    }


def status_lines(dropped: list[DroppedCandidate], flags: list[AiAddressedText]) -> list[str]:
    """The dropped candidates (counts by kind and reason, the first few by name with the
    ``doc:line`` that decided each) and every doc sentence addressed to an AI."""
    lines = []
    if dropped:
        counts = dropped_counts(dropped)
        summary = "; ".join(
            f"{kind}: " + ", ".join(f"{reason} {n}" for reason, n in reasons.items())
            for kind, reasons in counts.items()
        )
        lines.append(f"dropped candidates: {len(dropped)} ({one_line(summary, 400)})")
        named = [d for d in dropped if d.judged]
        if named:
            rows = [
                [item.kind, one_line(item.name, 60), item.reason, item.at or "-"]
                for item in named[:DROPPED_NAMED_IN_STATUS]
            ]
            table = text_table(["kind", "feature or name", "reason", "where"], rows)
            lines += ["  " + line for line in table]
            if len(named) > DROPPED_NAMED_IN_STATUS:
                more = len(named) - DROPPED_NAMED_IN_STATUS
                lines.append(f"  … {more} more (all of them: draftgate status --json)")
    else:
        lines.append("dropped candidates: none")
    if flags:
        lines.append(f"text addressed to an AI assistant in the docs: {len(flags)}")
        lines += [f'  {one_line(flag.at)}: "{one_line(flag.sentence)}"' for flag in flags]
    return lines
