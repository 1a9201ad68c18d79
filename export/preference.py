"""Preference records from reviewers' decisions: DPO pairs (TRL, OpenAI) and KTO labels.

One rule decides what a decided draft becomes, and both sides of the door use it: the export
writes what ``preference_content`` returns, and the audit recomputes it from the ledger and
compares hashes. The sign-off rule holds for every line:

- a DPO pair (``dpo``, ``openai-dpo``) leaves only from an approve or edit by a named reviewer;
  its chosen side is the signed text (an edit's final question and answer). Its rejected side
  is, in this order, the tuned model's answer a probe caught (``meta["probe"]["model_answer"]``),
  the production model's answer an import carried (``meta["import"]["model_answer"]``), or,
  for an edit, the drafted answer the reviewer replaced. A draft with none of these, or whose
  rejected side equals the chosen one, makes no pair.
- a KTO line (``kto``) is ``label: true`` with the signed text for an approve or edit, and
  ``label: false`` with the drafted text for a reject, both by a named reviewer.

Pairs whose sides barely differ (normalised Levenshtein distance below ``min_edit_distance``)
are counted and left out: a one-character fix teaches a preference nothing but noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.store import DecidedRecord, Ledger, edit_distance

DPO_FORMATS = ("dpo", "openai-dpo")
KTO_FORMATS = ("kto",)
PREFERENCE_FORMATS = (*DPO_FORMATS, *KTO_FORMATS)
# Pairs closer than this (normalised edit distance of chosen vs rejected answer) are dropped.
DEFAULT_MIN_EDIT_DISTANCE = 0.05

_PAIR_KEYS = frozenset({"question", "system", "kind", "chosen", "rejected"})
_KTO_KEYS = frozenset({"question", "system", "kind", "completion", "label"})


class PreferenceFormatError(ValueError):
    """A line that does not have the shape its preference format writes."""


def verdicts_for(fmt: str) -> tuple[str, ...]:
    """The deciding verdicts a format's lines come from."""
    return ("approve", "edit", "reject") if fmt in KTO_FORMATS else ("approve", "edit")


@dataclass(frozen=True)
class Preference:
    """A decided draft's preference record: its canonical content, where its rejected side
    came from (``probe``, ``import``, ``edit``; ``approve``/``reject`` for KTO), and the
    distance between the two sides of a pair (None for KTO)."""

    content: dict[str, Any]
    source: str
    distance: float | None


def rejected_side(meta: dict[str, Any], verdict: str, drafted_answer: str) -> tuple[str, str]:
    """(rejected answer, its source) for a signed-off draft, or ("", "") when it has none."""
    for source in ("probe", "import"):
        block = meta.get(source)
        if isinstance(block, dict):
            answer = block.get("model_answer")
            if isinstance(answer, str) and answer.strip():
                return answer, source
    if verdict == "edit":
        return drafted_answer, "edit"
    return "", ""


def preference_content(
    fmt: str,
    *,
    kind: str,
    question: str,
    answer: str,
    meta: dict[str, Any],
    verdict: str,
    final_question: str | None,
    final_answer: str | None,
    system: str | None,
) -> Preference | None:
    """The preference record a draft decided this way makes in ``fmt``, or None."""
    signed = verdict in ("approve", "edit")
    if verdict == "edit":
        signed_q, signed_a = final_question or "", final_answer or ""
    else:
        signed_q, signed_a = question, answer
    if fmt in KTO_FORMATS:
        if not signed and verdict != "reject":
            return None
        content = {
            "question": signed_q,
            "system": system,
            "kind": kind,
            "completion": signed_a,
            "label": signed,
        }
        return Preference(content, verdict, None)
    if fmt not in DPO_FORMATS or not signed:
        return None
    rejected, source = rejected_side(meta, verdict, answer)
    if not rejected.strip() or rejected.strip() == signed_a.strip():
        return None
    content = {
        "question": signed_q,
        "system": system,
        "kind": kind,
        "chosen": signed_a,
        "rejected": rejected,
    }
    return Preference(content, source, edit_distance(rejected, signed_a))


def _messages(system: str | None, question: str) -> list[dict[str, str]]:
    prompt = [{"role": "system", "content": system}] if system else []
    return [*prompt, {"role": "user", "content": question}]


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def preference_line(fmt: str, content: dict[str, Any]) -> dict[str, Any]:
    """The JSON object a preference record becomes in its format."""
    prompt = _messages(content["system"], content["question"])
    if fmt == "dpo":
        # TRL's conversational preference type (DPOTrainer): explicit prompt.
        return {
            "prompt": prompt,
            "chosen": _assistant(content["chosen"]),
            "rejected": _assistant(content["rejected"]),
        }
    if fmt == "openai-dpo":
        # OpenAI's preference fine-tuning (method "dpo") line.
        return {
            "input": {"messages": prompt},
            "preferred_output": _assistant(content["chosen"]),
            "non_preferred_output": _assistant(content["rejected"]),
        }
    if fmt == "kto":
        # TRL's conversational unpaired preference type (KTOTrainer).
        return {
            "prompt": prompt,
            "completion": _assistant(content["completion"]),
            "label": content["label"],
        }
    raise ValueError(f"unknown preference format {fmt!r}")


def _read_prompt(messages: Any) -> tuple[str | None, str]:
    if not isinstance(messages, list) or len(messages) not in (1, 2):
        raise PreferenceFormatError("the prompt is [system?, user] messages")
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    if roles not in (["user"], ["system", "user"]):
        raise PreferenceFormatError(f"prompt roles are {roles}, expected [system?, user]")
    texts = [_text_of(m) for m in messages]
    return (texts[0] if len(texts) == 2 else None), texts[-1]


def _text_of(message: dict[str, Any]) -> str:
    if set(message) != {"role", "content"} or not isinstance(message["content"], str):
        raise PreferenceFormatError("a message holds exactly 'role' and a string 'content'")
    text: str = message["content"]
    return text


def _read_assistant(messages: Any, name: str) -> str:
    if (
        not isinstance(messages, list)
        or len(messages) != 1
        or not isinstance(messages[0], dict)
        or messages[0].get("role") != "assistant"
    ):
        raise PreferenceFormatError(f"'{name}' is one assistant message")
    return _text_of(messages[0])


def preference_content_of_line(fmt: str, line: Any, kind: str) -> dict[str, Any]:
    """Read a written preference line back into its canonical content."""
    if not isinstance(line, dict):
        raise PreferenceFormatError("line is not a JSON object")
    if fmt == "dpo":
        if set(line) != {"prompt", "chosen", "rejected"}:
            raise PreferenceFormatError(
                f"a DPO line holds exactly prompt, chosen, rejected; this one has {sorted(line)}"
            )
        system, question = _read_prompt(line["prompt"])
        chosen = _read_assistant(line["chosen"], "chosen")
        rejected = _read_assistant(line["rejected"], "rejected")
    elif fmt == "openai-dpo":
        if set(line) != {"input", "preferred_output", "non_preferred_output"}:
            raise PreferenceFormatError(
                "an OpenAI preference line holds exactly input, preferred_output, "
                f"non_preferred_output; this one has {sorted(line)}"
            )
        if not isinstance(line["input"], dict) or set(line["input"]) != {"messages"}:
            raise PreferenceFormatError("'input' holds exactly 'messages'")
        system, question = _read_prompt(line["input"]["messages"])
        chosen = _read_assistant(line["preferred_output"], "preferred_output")
        rejected = _read_assistant(line["non_preferred_output"], "non_preferred_output")
    elif fmt == "kto":
        if set(line) != {"prompt", "completion", "label"}:
            raise PreferenceFormatError(
                f"a KTO line holds exactly prompt, completion, label; this one has {sorted(line)}"
            )
        if not isinstance(line["label"], bool):
            raise PreferenceFormatError("'label' is true or false")
        system, question = _read_prompt(line["prompt"])
        completion = _read_assistant(line["completion"], "completion")
        return {
            "question": question,
            "system": system,
            "kind": kind,
            "completion": completion,
            "label": line["label"],
        }
    else:
        raise ValueError(f"unknown preference format {fmt!r}")
    return {
        "question": question,
        "system": system,
        "kind": kind,
        "chosen": chosen,
        "rejected": rejected,
    }


@dataclass
class PreferenceTally:
    """What a preference export made of the decided drafts it read."""

    min_edit_distance: float
    by_source: dict[str, int]
    left_out_close: int = 0  # pairs whose sides differ by less than min_edit_distance
    without_pair: int = 0  # signed-off drafts with no rejected side (approved as drafted)

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_edit_distance": self.min_edit_distance,
            "records_by_source": dict(sorted(self.by_source.items())),
            "left_out_close": self.left_out_close,
            "decided_without_pair": self.without_pair,
            "rule": {
                "chosen": "the text a named reviewer signed off (approve, or an edit's final)",
                "rejected": "meta.probe.model_answer, else meta.import.model_answer, else the "
                "drafted answer an edit replaced",
                "kto": "label true: signed-off text; label false: the drafted text a named "
                "reviewer rejected",
                "distance": "normalised Levenshtein of rejected vs chosen answer",
            },
        }


def collect_preferences(
    ledger: Ledger,
    fmt: str,
    kinds: Sequence[str] | None,
    *,
    include_stale: bool,
    system: str | None,
    min_edit_distance: float,
) -> tuple[list[tuple[DecidedRecord, Preference]], PreferenceTally]:
    """Every preference record the decided drafts make in ``fmt``, in creation order, with a
    tally of what was left out. Held in memory: one per edited, probed, imported or (KTO)
    decided draft."""
    tally = PreferenceTally(min_edit_distance, {})
    made: list[tuple[DecidedRecord, Preference]] = []
    for record in ledger.iter_decided_records(
        verdicts_for(fmt), kinds, include_stale=include_stale
    ):
        preference = preference_content(
            fmt,
            kind=record.kind,
            question=record.question,
            answer=record.answer,
            meta=record.meta,
            verdict=record.verdict,
            final_question=record.final_question,
            final_answer=record.final_answer,
            system=system,
        )
        if preference is None:
            tally.without_pair += 1
            continue
        if preference.distance is not None and preference.distance < min_edit_distance:
            tally.left_out_close += 1
            continue
        tally.by_source[preference.source] = tally.by_source.get(preference.source, 0) + 1
        made.append((record, preference))
    return made, tally
