"""Wrong-key and wrong-command adversarials for keyboard-driven and command-line products.

A wrong key: the key other software uses for an action ("Ctrl+Z" to undo) asked about where the
docs bind that action to another key. The docs' key-binding table rows ("| `z` | Undo |") are
the evidence; the answer gives the documented key, and what the asked-about key does instead
when the docs bind it to something else. A key the docs bind to the same action anywhere is
never used as a wrong one.

A wrong command: a command-line flag other tools use ("--verbose") asked about where the docs
document another flag for that purpose ("<product> --debug") and never the asked-about one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.rules.corpus import Corpus
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.text import fence_spans, key_label, lines_of, plain
from ledger import Chunk, DraftIn, DraftKind

# Keys other software binds to an action, keyed by the action's first word in the docs.
COMMON_KEYS: dict[str, tuple[str, str]] = {
    # action word: (the key users bring, the action as a verb phrase)
    "undo": ("Ctrl+Z", "undo"),
    "redo": ("Ctrl+Y", "redo"),
    "quit": ("Ctrl+Q", "quit"),
    "exit": ("Ctrl+Q", "exit"),
    "search": ("Ctrl+F", "search"),
    "find": ("Ctrl+F", "find"),
    "filter": ("Ctrl+F", "filter"),
    "save": ("Ctrl+S", "save"),
    "copy": ("Ctrl+C", "copy"),
    "paste": ("Ctrl+V", "paste"),
    "refresh": ("F5", "refresh"),
    "reload": ("F5", "reload"),
    "help": ("F1", "get help"),
    "new": ("Ctrl+N", "create"),
    "close": ("Ctrl+W", "close"),
    "rename": ("F2", "rename"),
    "delete": ("Delete", "delete"),
    "commit": ("Ctrl+Enter", "commit"),
    "send": ("Ctrl+Enter", "send"),
}
# Flags other command-line tools use, keyed by the documented flag's word they stand for.
COMMON_FLAGS: dict[str, str] = {
    "debug": "--verbose",
    "logs": "--log-file",
    "version": "-V",
    "config": "--settings",
    "help": "-?",
}
# Rows of a binding table: a key cell (code spans, "+", ",") then an action cell.
_KEY_CELL = re.compile(r"^(?:`+[^`|]+`+|\*\*[^*|]+\*\*|[\s+,/]|\(|\)|[a-z]+)+$")
_KEY_HEADER = re.compile(r"\b(?:keys?|shortcuts?|key ?bindings?|hotkeys?|bindings?)\b", re.I)
# A key written in code or bold: "`q`", "`` <ctrl+c> ``", "**Ctrl + P**".
_KEY_SPAN = re.compile(r"`+\s*([^`]+?)\s*`+|\*\*\s*([^*]+?)\s*\*\*")
# One key as docs write it: "q", "<ctrl+r>", "Ctrl/Cmd+S", "enter", "F5", "Alt/Option+↑".
_KEY = re.compile(
    r"^(?:<[\w+-]+>|(?:(?:ctrl|alt|shift|cmd|option|meta|super|fn)(?:/\w+)?\s*\+\s*)*"
    r"(?:[^\s\w]|\w|f\d{1,2}|enter|return|esc|escape|tab|space|up|down|left|right|home|end|"
    r"pgup|pgdown|pageup|pagedown|delete|del|insert|backspace))$",
    flags=re.IGNORECASE,
)
_QUESTIONS = [
    "Does {wrong} {verb} in {product}?",
    "I pressed {wrong} to {verb} but nothing happened. Which key is it?",
    "Is {wrong} the shortcut to {verb} in {product}?",
    "What's the key to {verb} in {product}? {wrong} doesn't seem to work.",
    "How do I {verb} with the keyboard in {product}? Is it {wrong}?",
]
_COMMAND_QUESTIONS = [
    "Can I run {product} with {wrong}?",
    "Does {product} take a {wrong} flag?",
    "What does {exe} {wrong} do?",
    "I tried {exe} {wrong} and it didn't work. What should I use?",
]
WRONG_KEYS_PER_WORD = 2
# An action that names a thing ("Help menu", "Search & command menu") is not a verb phrase.
_NOUN_ENDS = r"\b(?:menu|panel|view|window|mode|bar|tab)$"


@dataclass(frozen=True)
class Binding:
    chunk: Chunk
    index: int
    row: str  # the table row, exactly as in the chunk
    keys: tuple[str, ...]  # the row's keys as written ("<ctrl+c>", "Ctrl/Cmd+S")
    action: str  # plain action text ("Copy to clipboard")


def normal_key(key: str) -> str:
    """Keys compared across notations: "<ctrl+z>", "Ctrl+Z", "Ctrl/Cmd + z" -> "ctrl+z"."""
    key = key.strip().strip("`").strip().strip("<>").lower()
    key = key.replace("ctrl/cmd", "ctrl").replace("cmd", "ctrl").replace("control", "ctrl")
    return re.sub(r"\s+", "", key)


def bindings(corpus: Corpus) -> list[Binding]:
    """The key-binding table rows of the docs, outside code blocks."""
    found: list[Binding] = []
    for index, chunk in enumerate(corpus.chunks):
        if "|" not in chunk.text:
            continue
        fences = fence_spans(chunk.text)
        lines = lines_of(chunk.text)
        header = ""  # the current table's header row ("| Key | Action |")
        in_key_section = any(_KEY_HEADER.search(h) for h in chunk.heading_path)
        for number, line in enumerate(lines):
            text = line.text.strip()
            if not text.startswith("|") or any(a <= line.start < b for a, b in fences):
                header = ""
                continue
            following = lines[number + 1].text.strip() if number + 1 < len(lines) else ""
            if re.fullmatch(r"\|?[\s:|-]+\|?", following) and "-" in following:
                header = text
                continue
            # Only a table headed as one of keys ("Key", "Shortcut", "Keybinding"), or in a
            # section about them, binds keys: "| **Home** | The first page |" is no binding.
            if not _KEY_HEADER.search(header) and not in_key_section:
                continue
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", text.strip("|"))]
            if len(cells) < 2 or not _KEY_CELL.match(cells[0]) or not _KEY_SPAN.search(cells[0]):
                continue
            action = plain(cells[1]).strip()
            if not re.match(r"[A-Za-z]", action):
                continue
            keys = _keys(cells[0])
            # Every key must read as a key ("#template 50" and "--host" do not), and a row
            # naming a key ("| `<insert>` | Insert |") binds nothing.
            if not keys or not all(_KEY.match(p) for k in keys for p in k.split(" then ")):
                continue
            if any(key_label(k).lower() == action.lower() for k in keys):
                continue
            if " " not in action and all(k.startswith("<") for k in keys):
                continue  # "| `<pgup>` | PageUp |": a key's name, not an action
            if keys:
                found.append(Binding(chunk, index, text, keys, action))
    return found


def _keys(cell: str) -> tuple[str, ...]:
    """ "`` q, <ctrl+c> ``" -> ("q", "<ctrl+c>"); "`Ctrl/Cmd` + `S`" -> ("Ctrl/Cmd+S",);
    "**G** then **S**" -> ("G then S",)."""
    spans = [a or b for a, b in _KEY_SPAN.findall(cell)]
    between = _KEY_SPAN.sub("", cell)
    if len(spans) > 1 and "+" in between:
        return ("+".join(spans),)  # one chord written as separate spans
    if len(spans) > 1 and re.fullmatch(r"(?:\s*then\s*)+", between):
        return (" then ".join(spans),)  # a sequence: one key after the other
    keys: list[str] = []
    for span in spans:
        # "(fn+up/shift+k)" notes another way to type the key; the keys come before it.
        span = re.sub(r"\(.*?\)", "", span)
        keys += [re.sub(r"\s*\+\s*", "+", k.strip()) for k in span.split(",") if k.strip()]
    return tuple(keys)


def plan_wrong_keys(corpus: Corpus, per_chunk: int, plans: dict[str, Plan]) -> dict[str, Plan]:
    rows = bindings(corpus)
    by_key: dict[str, list[Binding]] = {}
    for row in rows:
        for key in row.keys:
            by_key.setdefault(normal_key(key), []).append(row)
    made: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    turn = 0
    # The plainest action of a word first: "Commit" before "Commit changes without hook".
    for row in sorted(rows, key=lambda r: (len(r.action.split()), r.index)):
        word = row.action.split()[0].lower()
        if word not in COMMON_KEYS or made.get(word, 0) >= WRONG_KEYS_PER_WORD:
            continue
        wrong, verb = COMMON_KEYS[word]
        bound = by_key.get(normal_key(wrong), [])
        if any(b.action.split()[0].lower() == word for b in bound):
            continue  # the docs bind the usual key to this action somewhere: not wrong
        if (word, row.action.lower()) in seen:
            continue
        plan = plans.setdefault(row.chunk.id, Plan())
        if len(plan.drafts) >= per_chunk:
            continue
        seen.add((word, row.action.lower()))
        made[word] = made.get(word, 0) + 1
        if len(row.action.split()) > 1 and not re.search(_NOUN_ENDS, row.action.lower()):
            # "Copy path to clipboard" asks more exactly than "copy"; "New branch" is made.
            action = _bare(row.action)
            verb = action[0].lower() + action[1:]
            if word == "new":
                verb = "create a " + verb
        plan.drafts.append(_key_draft(corpus, row, wrong, verb, bound, turn))
        turn += 1
    return plans


def _bare(action: str) -> str:
    """An action without its closing note in brackets: "New note (in Edit view)" -> "New
    note"."""
    return re.sub(r"\s*\([^()]*\)\s*$", "", action) or action


def _key_draft(
    corpus: Corpus, row: Binding, wrong: str, verb: str, bound: list[Binding], turn: int
) -> DraftIn:
    product = corpus.product
    question = _QUESTIONS[turn % len(_QUESTIONS)].format(wrong=wrong, verb=verb, product=product)
    keys = " or ".join(key_label(k) for k in row.keys)
    # "New note (in Edit view)": the note on where the key works follows the key.
    note = row.action[len(_bare(row.action)) :].strip()
    answer = f"In {product}, {_bare(row.action)} is {keys}{' ' + note if note else ''}"
    answer += f", not {wrong}."
    if not question.startswith(("I pressed", "What's", "How")):
        answer = "No. " + answer
    evidence = [row.row]
    if bound:
        other = bound[0]
        answer += f" {wrong} is bound to {other.action} instead."
        if other.chunk.id == row.chunk.id and other.row != row.row:
            evidence.append(other.row)
    return DraftIn(
        kind=DraftKind.ADVERSARIAL,
        subtype="wrong_ui_name",
        question=question,
        answer=answer,
        evidence=evidence,
        meta={
            "drafter": RULES_DRAFTER,
            "rule": "adversarial.wrong_key",
            "wrong_name": wrong,
            "real_name": keys,
            "action": row.action,
        },
    )


def plan_wrong_commands(corpus: Corpus, per_chunk: int, plans: dict[str, Plan]) -> dict[str, Plan]:
    """Documented ``<exe> --flag`` commands paired with the flag other tools use for it."""
    exe = corpus.product.lower().replace(" ", "")
    documented = re.compile(rf"`({re.escape(exe)}(?:\s+[^`\n]*)?\s(--?[a-z][\w-]*)[^`\n]*)`")
    all_text = "\n".join(c.text for c in corpus.chunks)
    turn = 0
    for chunk in corpus.chunks:
        if exe not in chunk.text.lower():
            continue
        for match in documented.finditer(chunk.text):
            command, flag = match.group(1), match.group(2)
            wrong = COMMON_FLAGS.get(flag.lstrip("-"))
            if wrong is None or re.search(rf"(?<![\w-]){re.escape(wrong)}(?![\w-])", all_text):
                continue
            plan = plans.setdefault(chunk.id, Plan())
            if len(plan.drafts) >= per_chunk:
                continue
            start = chunk.text.rfind("\n", 0, match.start()) + 1
            end = chunk.text.find("\n", match.end())
            line = chunk.text[start : len(chunk.text) if end < 0 else end].strip()
            template = _COMMAND_QUESTIONS[turn % len(_COMMAND_QUESTIONS)]
            question = template.format(product=corpus.product, exe=exe, wrong=wrong)
            answer = (
                f"{corpus.product} has no documented {wrong} option. "
                f"The documented command is {command}."
            )
            plan.drafts.append(
                DraftIn(
                    kind=DraftKind.ADVERSARIAL,
                    subtype="wrong_ui_name",
                    question=question,
                    answer=answer,
                    evidence=[line],
                    meta={
                        "drafter": RULES_DRAFTER,
                        "rule": "adversarial.wrong_command",
                        "wrong_name": wrong,
                        "real_name": command,
                    },
                )
            )
            turn += 1
    return plans
