"""What an exported training record is, how each format writes it, and how to read it back.

One definition serves both sides of the door: the export writes lines with ``to_line`` and
hashes them with ``record_hash``; the audit reads lines back with ``content_of_line`` and
recomputes the same hash. A record's identity covers exactly what a trainer sees (question,
answer, system prompt) plus its kind, so any change to an exported line changes its hash.
"""

from __future__ import annotations

import json
from typing import Any

from export.preference import (
    PREFERENCE_FORMATS,
    PreferenceFormatError,
    preference_content_of_line,
    preference_line,
)
from ledger.ids import content_hash, hash_bytes

EXPORT_FORMATS = ("openai", "sharegpt", "alpaca", "hf", *PREFERENCE_FORMATS)
JSONL_FORMATS = ("openai", "sharegpt", "alpaca", *PREFERENCE_FORMATS)
# "validation" is the name both ``load_dataset`` (on the folder or a Hub repo) and
# ``load_from_disk`` give the held-back split; exports before layout 2 called it "eval".
SPLITS = ("train", "validation")
EVAL_SPLIT = "validation"

# The keys of a record's content, and the string encoder json.dumps(ensure_ascii=False) uses.
_CONTENT_KEYS = frozenset({"question", "answer", "system", "kind"})
_encode_str = json.encoder.encode_basestring

# Keys OpenAI's chat fine-tuning accepts on a line and on a message.
_OPENAI_LINE_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls"})
_OPENAI_MESSAGE_KEYS = frozenset({"role", "content", "name", "weight"})
_OPENAI_ROLES = frozenset({"system", "user", "assistant"})


ALPACA_COLUMNS = frozenset({"instruction", "input", "output", "system", "prompt", "completion"})


class RecordFormatError(ValueError):
    """A line that does not have the shape its format writes."""


def record_content(question: str, answer: str, system: str | None, kind: str) -> dict[str, Any]:
    """The canonical content of an exported record (what ``record_hash`` covers)."""
    return {"question": question, "answer": answer, "system": system, "kind": kind}


def record_hash(content: dict[str, Any]) -> str:
    """``content_hash(content)``. A record's content is a flat object of fixed ASCII keys and
    string or null values, where canonical JSON is exactly sorted-key ``json.dumps`` (the fast
    path of ``canonical_json``); calling it directly skips the per-value checks, which the
    export and the audit would otherwise pay 100k times each. A test pins the equality."""
    if content.keys() == _CONTENT_KEYS:
        question, answer = content["question"], content["answer"]
        system, kind = content["system"], content["kind"]
        if (
            type(question) is str
            and type(answer) is str
            and type(kind) is str
            and (system is None or type(system) is str)
        ):
            # Exactly the text of sorted-key json.dumps, assembled from the C string encoder:
            # json.dumps(ensure_ascii=False) builds a new encoder per call, a third of the cost.
            text = (
                f'{{"answer":{_encode_str(answer)},"kind":{_encode_str(kind)},'
                f'"question":{_encode_str(question)},'
                f'"system":{"null" if system is None else _encode_str(system)}}}'
            )
            return hash_bytes(text.encode("utf-8"))
    if all(v is None or isinstance(v, str) for v in content.values()):
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hash_bytes(text.encode("utf-8"))
    return content_hash(content)


def to_line(fmt: str, content: dict[str, Any]) -> dict[str, Any]:
    """The JSON object one record becomes in a JSONL format."""
    if fmt in PREFERENCE_FORMATS:
        return preference_line(fmt, content)
    question, answer, system = content["question"], content["answer"], content["system"]
    if fmt == "openai":
        messages = [{"role": "system", "content": system}] if system else []
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        return {"messages": messages}
    if fmt == "sharegpt":
        turns = [{"from": "system", "value": system}] if system else []
        turns += [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
        return {"conversations": turns}
    if fmt == "alpaca":
        # Every column is on every line: LLaMA-Factory keeps the system prompt only when all
        # four are mapped, and axolotl's alpaca_w_system fails on a line without "system".
        # prompt/completion are the same example in the shape TRL's SFTTrainer reads.
        return {
            "instruction": question,
            "input": "",
            "output": answer,
            "system": system or "",
            "prompt": alpaca_prompt(question, system),
            "completion": answer,
        }
    raise ValueError(f"unknown JSONL format {fmt!r}")


# The Stanford Alpaca prompt for an instruction without input; a system prompt, when set,
# stands where Alpaca's fixed preamble stands.
_ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request."
)


def alpaca_derived_match(line: dict[str, Any], content: dict[str, Any]) -> bool:
    """An Alpaca line's prompt and completion are the ones its record makes: a trainer that
    reads them (TRL) reads exactly what was signed off."""
    expected = to_line("alpaca", content)
    same: bool = (
        line["prompt"] == expected["prompt"] and line["completion"] == expected["completion"]
    )
    return same


def alpaca_prompt(question: str, system: str | None) -> str:
    """The prompt half of an Alpaca record as TRL trains on it (the completion is the answer)."""
    return f"{system or _ALPACA_PREAMBLE}\n\n### Instruction:\n{question}\n\n### Response:\n"


def content_of_line(fmt: str, line: Any, kind: str, *, layout: int = 2) -> dict[str, Any]:
    """Read a written line back into its canonical content; raise RecordFormatError if it
    does not have the shape the export writes. ``layout`` is the manifest's version: layout 1
    wrote Alpaca lines without prompt/completion, and "system" only when set."""
    if fmt in PREFERENCE_FORMATS:
        try:
            return preference_content_of_line(fmt, line, kind)
        except PreferenceFormatError as exc:
            raise RecordFormatError(str(exc)) from exc
    if not isinstance(line, dict):
        raise RecordFormatError("line is not a JSON object")
    if fmt == "openai":
        # The export writes exactly one key; a line with more (tools, functions, ...) would
        # train on something no reviewer saw, though its messages hash the same.
        if set(line) != {"messages"}:
            raise RecordFormatError(
                f"an OpenAI line holds exactly 'messages'; this one has {sorted(line)}"
            )
        fast = _openai_content_if_plain(line, kind)
        if fast is not None:
            return fast
        errors = validate_openai_chat_line(line)
        if errors:
            raise RecordFormatError("; ".join(errors))
        by_role = _single_turn(line["messages"], "role", "content", ("system", "user", "assistant"))
        return record_content(by_role["user"], by_role["assistant"], by_role.get("system"), kind)
    if fmt == "sharegpt":
        if set(line) != {"conversations"} or not isinstance(line["conversations"], list):
            raise RecordFormatError("a ShareGPT line holds exactly one 'conversations' list")
        by_role = _single_turn(line["conversations"], "from", "value", ("system", "human", "gpt"))
        return record_content(by_role["human"], by_role["gpt"], by_role.get("system"), kind)
    if fmt == "alpaca" and layout >= 2:
        if set(line) != ALPACA_COLUMNS or not all(isinstance(v, str) for v in line.values()):
            raise RecordFormatError(
                f"an Alpaca line holds exactly the strings {sorted(ALPACA_COLUMNS)}"
            )
        if line["input"] != "":
            raise RecordFormatError("the export writes an empty Alpaca 'input'")
        # prompt and completion repeat the record; whoever reads the line checks them
        # against it (alpaca_extra_columns_match).
        return record_content(line["instruction"], line["output"], line["system"] or None, kind)
    if fmt == "alpaca":
        keys = set(line)
        if (
            not {"instruction", "input", "output"}
            <= keys
            <= {"instruction", "input", "output", "system"}
        ):
            raise RecordFormatError("an Alpaca line holds instruction, input, output (and system)")
        if line["input"] != "":
            raise RecordFormatError("the export writes an empty Alpaca 'input'")
        return record_content(line["instruction"], line["output"], line.get("system"), kind)
    raise ValueError(f"unknown JSONL format {fmt!r}")


_MESSAGE_KEYS = frozenset({"role", "content"})


def _openai_content_if_plain(line: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The content of a line shaped exactly as the export writes it ([system,] user,
    assistant; only role and content; non-blank strings), else None. Such a line passes
    ``validate_openai_chat_line`` and ``_single_turn`` with this same result; anything else
    takes that full path, which names the problem. Skipping it halves the audit's per-line
    cost."""
    messages = line.get("messages")
    if len(line) != 1 or type(messages) is not list or len(messages) not in (2, 3):
        return None
    texts = []
    roles = ("user", "assistant") if len(messages) == 2 else ("system", "user", "assistant")
    for message, role in zip(messages, roles, strict=True):
        if type(message) is not dict or message.keys() != _MESSAGE_KEYS:
            return None
        text = message["content"]
        if message["role"] != role or type(text) is not str or not text.strip():
            return None
        texts.append(text)
    system = texts.pop(0) if len(texts) == 3 else None
    return record_content(texts[0], texts[1], system, kind)


def _single_turn(
    turns: list[Any], role_key: str, text_key: str, roles: tuple[str, str, str]
) -> dict[str, str]:
    """One exported example is [system?] + question + answer, in that order."""
    system_role, user_role, assistant_role = roles
    names = [t.get(role_key) if isinstance(t, dict) else None for t in turns]
    if names not in ([user_role, assistant_role], [system_role, user_role, assistant_role]):
        raise RecordFormatError(
            f"turns are {names}, expected [{system_role}?, {user_role}, {assistant_role}]"
        )
    by_role: dict[str, str] = {}
    for turn in turns:
        if set(turn) != {role_key, text_key} or not isinstance(turn[text_key], str):
            raise RecordFormatError(f"a turn holds exactly '{role_key}' and a string '{text_key}'")
        by_role[turn[role_key]] = turn[text_key]
    return by_role


def validate_openai_chat_line(line: Any) -> list[str]:
    """The checks of OpenAI's chat fine-tuning format validation, for one JSONL line.

    Mirrors the cookbook's data-prep checks (data_type, missing_messages_list,
    message_missing_key, message_unrecognized_key, unrecognized_role, missing_content,
    example_missing_assistant_message) and adds what the upload also refuses: unknown keys on
    the line and a conversation that does not end with the assistant. Returns the problems
    found (empty when the line is valid).
    """
    if not isinstance(line, dict):
        return ["data_type: line is not a JSON object"]
    errors = [f"unrecognized_key: {key!r}" for key in sorted(set(line) - _OPENAI_LINE_KEYS)]
    messages = line.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*errors, "missing_messages_list: no non-empty 'messages' list"]
    for index, message in enumerate(messages):
        where = f"message {index}"
        if not isinstance(message, dict):
            errors.append(f"data_type: {where} is not an object")
            continue
        if "role" not in message or "content" not in message:
            errors.append(f"message_missing_key: {where} needs 'role' and 'content'")
        unknown = sorted(set(message) - _OPENAI_MESSAGE_KEYS)
        if unknown:
            errors.append(f"message_unrecognized_key: {where} has {unknown}")
        if message.get("role") not in _OPENAI_ROLES:
            errors.append(f"unrecognized_role: {where} role {message.get('role')!r}")
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            errors.append(f"missing_content: {where} content is not a non-empty string")
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "assistant" not in roles:
        errors.append("example_missing_assistant_message: no assistant message")
    elif roles[-1] != "assistant":
        errors.append("assistant_not_last: the last message is not the assistant's")
    return errors
