"""Q&As from a section's reference material: table rows and ``**Name**: description`` bullets.

- ``qa.key_binding``: a row of a table with a key column and an action column ("Key | Action")
  answers "How do I <action>?" with "Press <key>.";
- ``qa.table_row``: a row of a table whose first column names a thing (option, setting, field,
  parameter, variable, function, ...) and another describes it answers "What does X do?";
- ``qa.setting``: a ``- **Name**: description`` bullet answers "What is Name for?".
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterator

from generator.plain import answer_text, format_keys
from generator.rules.config_block import config_entries
from generator.rules.corpus import Corpus
from generator.rules.phrasing import fill
from generator.rules.plan import RULES_DRAFTER
from generator.rules.text import Section, pick
from ledger import Chunk, DraftIn, DraftKind

# Verbs that start an instruction in any product's docs. The corpus adds the verbs its own
# numbered steps start with.
ACTION_VERBS = frozenset(
    """
    add adjust allow apply archive assign back block browse build cancel change check
    choose clear click clone close commit configure connect convert copy create customize
    cut define delete deploy disable download drag duplicate edit enable enter export
    fetch filter find fix generate hide import install invite link load lock log login
    make manage mark merge migrate move open pause pick pin press pull push reconcile
    record redo refresh remove rename reorder replace reset restore revert run save
    schedule search select send set setup share show sign sort split start stash stop
    submit switch sync tag test toggle track transfer type undo uninstall unlink update
    upgrade upload use view go navigate scroll tap type wait return confirm review paste
    visit accept follow keep allocate cover pay give ensure leave drop rebase squash amend
    stage unstage discard checkout reword launch modify specify fill write repeat continue
    include exclude expand collapse hover uncheck tick download log retrieve categorize
    organize hold rollover
    """.split()  # noqa: SIM905
)

_KEY_HEADERS = re.compile(r"(?i)^(keys?|shortcuts?|key ?bindings?|hotkeys?|keyboard|binding)$")
_ACTION_HEADERS = re.compile(r"(?i)^(action|command|description|function|what it does|does)$")
_NAME_HEADERS = re.compile(
    r"(?i)^(option|setting|field|parameter|property|variable|flag|name|column|argument|"
    r"function|command|element|button|menu item|field name|key|config|environment variable|"
    r"tab|page|screen|view|panel|menu)s?$"
)
_DESCRIPTION_HEADERS = re.compile(
    r"(?i)^(description|notes?|meaning|purpose|effect|details|what it does|info|explanation|"
    r"use|usage)$"
)
# Bullet labels that are asides, not names of things ("**Note**: ...", "**Pro:** ...").
_NOT_NAMES = frozenset(
    """
    note notes tip tips warning caution important example examples pro pros con cons yes
    no info danger hint optional required default
    """.split()  # noqa: SIM905
)

_SETTINGS_HEADING = re.compile(
    r"(?i)\b(options?|settings|preferences?|fields?|columns?|parameters?|config\w*|modes?|"
    r"buttons?|menus?|actions?|commands?|controls?|toggles?|flags?|properties|variables?|"
    r"filters?|views?|panels?|tabs?|tools?|features)\b(?! up)"
)
# A sentence end, not an abbreviation's dot ("e.g. hash"): a word of two letters or more,
# a dot, then a capital.
_SENTENCE_BREAK = re.compile(r"(?<=[a-z]{2}\.)\s+(?=[A-Z])")
_KEY_QUESTIONS = [
    "How do I {action} in {product}?",
    "Which key do I press to {action}?",
    "What's the shortcut to {action}?",
    "Is there a keyboard shortcut to {action}?",
    "How can I {action} from the keyboard?",
]
_KEY_NOUN_QUESTIONS = [
    "What's the key for {action} in {product}?",
    "Which key do I use for {action}?",
    "What is the shortcut for {action}?",
]
_ROW_QUESTIONS = [
    "What does the {name} {noun} do?",
    "What is the {name} {noun} for?",
    "Can you explain the {name} {noun}?",
    "What does {name} mean in {product}?",
]
_CONFIG_QUESTIONS = [
    "What does the {key} setting do?",
    "What is {key} for in the {product} config?",
    "What does {key} control?",
    "Can you explain the {key} option?",
]
_PLAIN_ROW_QUESTIONS = [
    "What does {name} do in {product}?",
    "What is {name} for?",
    "Can you explain {name}?",
]
_SETTING_QUESTIONS = [
    "What does {name} do in {product}?",
    "What is {name} for?",
    "Can you tell me what {name} does?",
    "What happens with {name}?",
]


def reference_drafts(corpus: Corpus, chunk: Chunk, section: Section) -> Iterator[DraftIn]:
    yield from _table_drafts(corpus, chunk, section)
    yield from _key_bullets(corpus, chunk, section)
    yield from _setting_drafts(corpus, chunk, section)


# A list item that starts with a key ("- <Key k="f" /> Show only selected items.",
# "- <kbd>Ctrl</kbd>+<kbd>K</kbd>: Open the palette", "- `?`: Show help").
_KEY_BULLET = re.compile(
    r"^\s*[-*+]\s+(?P<key><[A-Z][\w.]*\s[^<>]*?/>|(?:<kbd>[^<]{1,20}</kbd>\s*\+?\s*)+"
    r"|\+\+[\w+-]{1,30}\+\+|`[^`\s]{1,12}`|`<[\w+-]{1,20}>`)\s*(?:[:–—-]\s*)?(?P<desc>\S.{5,150})$"
)


def _key_bullets(corpus: Corpus, chunk: Chunk, section: Section) -> Iterator[DraftIn]:
    heading = answer_text(section.heading or "").strip()
    for line in section.lines:
        match = _KEY_BULLET.match(line.text)
        if match is None:
            continue
        key = answer_text(match.group("key")).strip("` ")
        key = format_keys(key) if key.startswith("<") or len(key) > 1 else key
        action = answer_text(match.group("desc")).rstrip(".")
        if not key or not action or "<" in key:
            continue
        first = action.split(" ", 1)[0].lower()
        if first not in ACTION_VERBS:
            continue  # "Enter: the key that confirms" describes the key, not a task
        phrase = sentence_case(corpus, action[0].lower() + action[1:])
        when = re.match(r"(?i)^(when|while|in|on|inside|within)\b", heading)
        place = heading[0] + heading[1:].lower() if when else ""
        answer = f"{place}, press {key}." if when else f"Press {key}."
        question = fill(
            pick(_KEY_QUESTIONS, f"keyb:{line.text}"), action=phrase, product=corpus.product
        )
        yield _draft(question, answer, line.text.strip(), "qa.key_binding")


def config_drafts(corpus: Corpus, chunk: Chunk) -> Iterator[DraftIn]:
    """``qa.config_key``: a key of a commented configuration example, explained by its comment."""
    for entry in config_entries(chunk.text):
        meaning = _config_comment(entry.comment)
        if len(meaning) < 20 or len(meaning.split()) < 4 or not meaning[:1].isalpha():
            continue
        answer = meaning
        if entry.value not in {"{}", "[]", '""', "''", "null", "~"}:
            answer += f" The default is {entry.value}."
        question = fill(
            pick(_CONFIG_QUESTIONS, f"cfg:{entry.key}"), key=entry.key, product=corpus.product
        )
        yield _draft(question, answer, entry.quote, "qa.config_key")


def _config_comment(comment: str) -> str:
    """A configuration comment as answer text: without "See <url>" pointers."""
    if re.match(r"(?i)^one of\b", comment):
        return ""  # only the allowed values, not what the key does
    comment = re.sub(r"(?<=[.!?])\s*[^.!?]*:\s*$", "", comment).strip()  # "Possible values:"
    text = re.sub(r"(?i)\bsee\s+<?https?://\S+", "", comment)
    text = re.sub(r"<?https?://\S+>?", "", text)
    text = answer_text(text).strip()
    if text and not text.endswith((".", "!", ")")):
        text += "."
    return text[:1].upper() + text[1:]


def _cells(line: str) -> list[str]:
    row = line.strip()
    if row.startswith("|"):
        row = row[1:]
    if row.endswith("|"):
        row = row[:-1]
    # A "|" inside a code span is the cell's text, not a column break.
    cells, depth, current = [], False, ""
    for char in row:
        if char == "`":
            depth = not depth
        if char == "|" and not depth:
            cells.append(current.strip())
            current = ""
        else:
            current += char
    cells.append(current.strip())
    return cells


def _tables(section: Section) -> Iterator[tuple[list[str], list[tuple[str, list[str]]]]]:
    """(header cells, [(raw row line, cells)]) per table in the section."""
    lines = section.lines
    i = 0
    while i < len(lines) - 1:
        head, rule = lines[i].text, lines[i + 1].text
        if head.lstrip().startswith("|") and re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", rule):
            header = [answer_text(c).strip() for c in _cells(head)]
            rows = []
            j = i + 2
            while j < len(lines) and lines[j].text.lstrip().startswith("|"):
                rows.append((lines[j].text.strip(), _cells(lines[j].text)))
                j += 1
            yield header, rows
            i = j
        else:
            i += 1


def _column(header: list[str], pattern: re.Pattern[str], skip: int = -1) -> int | None:
    for index, cell in enumerate(header):
        if index != skip and pattern.match(cell.strip()):
            return index
    return None


def _context(section: Section) -> str:
    """The section heading as a place ("Local branches"), or "" for a global section."""
    heading = answer_text(section.heading or "").strip()
    if re.search(r"(?i)\b(global|keybindings?|shortcuts?|keys)\b", heading):
        return ""
    return heading


def _table_drafts(corpus: Corpus, chunk: Chunk, section: Section) -> Iterator[DraftIn]:
    for header, rows in _tables(section):
        key_col = _column(header, _KEY_HEADERS)
        if key_col is not None:
            action_col = _column(header, _ACTION_HEADERS, skip=key_col)
            if action_col is not None:
                yield from _key_rows(corpus, section, header, rows, key_col, action_col)
                continue
        desc_col = _column(header, _DESCRIPTION_HEADERS, skip=0)
        if not header or desc_col is None:
            continue
        named = _NAME_HEADERS.match(header[0]) is not None
        if not named and not re.fullmatch(r"(?i)description|what it does", header[desc_col]):
            continue  # a table of examples with notes, not of things and what they do
        noun = header[0].lower().rstrip("s") if header[0].lower() != "name" else "option"
        for raw, cells in rows:
            if len(cells) <= desc_col:
                continue
            name = answer_text(cells[0]).strip().strip("`").strip()
            description = _without_pointers(answer_text(cells[desc_col]))
            if not name or len(name) > 50 or len(description.split()) < 5:
                continue
            if re.match(r"(?i)^(when|assuming|if|since|because|for example|e\.g)\b", description):
                continue  # a condition or an example, not what the thing is
            if not description.endswith((".", "!", ")")):
                description += "."
            # A first column of a known kind ("Option") names it in the question; any other
            # ("User activity") is left out rather than read as a noun.
            pool = _ROW_QUESTIONS if named else _PLAIN_ROW_QUESTIONS
            question = fill(
                pick(pool, f"row:{chunk.text_hash}:{name}"),
                name=name,
                noun=noun,
                product=corpus.product,
            )
            where = _document_title(corpus, chunk)
            if where and where.lower() not in question.lower():
                question = question.replace(f" in {corpus.product}?", "?")
                # A field name alone ("name", "amount") is ambiguous across a docs site; the
                # page it is documented on says which one is meant.
                question = f"In {where}, {question[0].lower()}{question[1:]}"
            yield _draft(question, description[0].upper() + description[1:], raw, "qa.table_row")


def sentence_case(corpus: Corpus, text: str) -> str:
    from generator.rules.qa import sentence_case as case  # qa imports this module

    return case(corpus, text)


def _document_title(corpus: Corpus, chunk: Chunk) -> str:
    titles = _titles(corpus)
    title = titles.get(chunk.document_id, "")
    if not title or title.lower() == corpus.product.lower() or len(title) > 50:
        return ""
    return title


@functools.lru_cache(maxsize=8)
def _titles(corpus: Corpus) -> dict[str, str]:
    return {d.id: answer_text(d.title).strip() for d in corpus.ledger.current_documents()}


def _without_pointers(text: str) -> str:
    """Text without sentences that point elsewhere ("See below for details.")."""
    sentences = _SENTENCE_BREAK.split(text)
    kept = [s for s in sentences if not re.match(r"(?i)^(see|refer to|read more|more on)\b", s)]
    return " ".join(kept).strip()


def _key_rows(
    corpus: Corpus,
    section: Section,
    header: list[str],
    rows: list[tuple[str, list[str]]],
    key_col: int,
    action_col: int,
) -> Iterator[DraftIn]:
    context = _context(section)
    shared = _shared_actions(corpus)
    info_col = next(
        (i for i in range(len(header)) if i not in (key_col, action_col) and header[i]), None
    )
    for raw, cells in rows:
        if len(cells) <= max(key_col, action_col):
            continue
        keys = [
            k.strip() for k in answer_text(cells[key_col]).strip().strip("`").strip().split(",")
        ]
        # "Ctrl/Cmd + J" is one chord; a mouse gesture is not a key to press.
        keys = [re.sub(r"\s*\+\s*(?=\S)", "+", re.sub(r"\s*\(.*\)$", "", k)) for k in keys]
        keys = [format_keys(k) for k in keys if k and "mouse" not in k.lower()]
        action = answer_text(cells[action_col]).rstrip(".")
        info = (
            answer_text(cells[info_col]) if info_col is not None and len(cells) > info_col else ""
        )
        if not keys or not action or len(action) > 70:
            continue
        first_info = _SENTENCE_BREAK.split(info)[0].rstrip(".") if info else ""
        placed = False
        if action.lower() in shared or " " not in action:
            # The same action in several places ("Checkout"): the row's own explanation, or
            # the place, tells the question apart from the others.
            if first_info and len(first_info) <= 90:
                action, info = first_info, info[len(first_info) :].lstrip(". ")
            elif context:
                placed = True
            else:
                continue
        phrase = sentence_case(corpus, action[0].lower() + action[1:])
        if placed:
            phrase = f"{phrase} in {context}"
        key_list = " or ".join(_spoken(k) for k in keys[:2])
        answer = f"Press {key_list}" + (f" in {context}." if context else ".")
        if info:
            answer += " " + info + ("" if info.endswith((".", "!", ")")) else ".")
        is_verb = phrase.split(" ", 1)[0].lower() in ACTION_VERBS
        options = _KEY_QUESTIONS if is_verb else _KEY_NOUN_QUESTIONS
        question = fill(pick(options, f"key:{raw}"), action=phrase, product=corpus.product)
        yield _draft(question, answer, raw, "qa.key_binding")


# Punctuation keys named, so a sentence ending in one does not read as doubled punctuation.
_PUNCTUATION_KEYS = {".": "period", ",": "comma", ";": "semicolon", "/": "slash", "?": "?"}


def _spoken(key: str) -> str:
    """A key as an answer writes it: "Ctrl+." as "Ctrl+. (period)"."""
    name = _PUNCTUATION_KEYS.get(key[-1:], "")
    return f"{key} ({name})" if name and name != key[-1] else key


@functools.lru_cache(maxsize=8)
def _shared_actions(corpus: Corpus) -> frozenset[str]:
    """Key-table actions (lower case) that more than one row of the docs names."""
    seen: Counter[str] = Counter()
    for chunk in corpus.chunks:
        for section in corpus.sections[chunk.id]:
            for header, rows in _tables(section):
                key_col = _column(header, _KEY_HEADERS)
                action_col = _column(header, _ACTION_HEADERS, skip=key_col or 0)
                if key_col is None or action_col is None:
                    continue
                for _, cells in rows:
                    if len(cells) > action_col:
                        seen[answer_text(cells[action_col]).rstrip(".").lower()] += 1
    return frozenset(a for a, n in seen.items() if n > 1)


def _setting_drafts(corpus: Corpus, chunk: Chunk, section: Section) -> Iterator[DraftIn]:
    # Only where the docs list settings, options or controls: elsewhere a bold label is as
    # often a category, a pro or a con.
    if not any(_SETTINGS_HEADING.search(h) for h in section.path):
        return
    for line in section.lines:
        match = re.match(
            r"^\s*[-*+]\s+(?:\*\*([^*]{2,50}?)\*\*\s*(?::|\s[-–—])\s*|\*\*([^*]{2,50}?):\*\*\s*"
            r"|`([^`]{2,50})`\s*(?::|\s[-–—])\s*)(.+)$",
            line.text,
        )
        if match is None:
            continue
        name = (match.group(1) or match.group(2) or match.group(3)).strip().rstrip(":")
        if len(name.split()) > 4 or re.match(r"(?i)(when|if|while|once|unless)\b", name):
            continue  # "When enabled": a state of the setting above, not a setting
        description = answer_text(match.group(4))
        if name.lower() in _NOT_NAMES or len(description) < 25 or len(description) > 400:
            continue
        if not description[0].isupper():
            description = description[0].upper() + description[1:]
        if not description.endswith((".", "!", ")")):
            description += "."
        question = fill(
            pick(_SETTING_QUESTIONS, f"set:{chunk.text_hash}:{name}"),
            name=name,
            product=corpus.product,
        )
        yield _draft(question, f"{name}: {description}", line.text.strip(), "qa.setting")


def _draft(question: str, answer: str, quote: str, rule: str) -> DraftIn:
    return DraftIn(
        kind=DraftKind.QA,
        question=question,
        answer=answer,
        evidence=[quote],
        meta={"drafter": RULES_DRAFTER, "rule": rule},
    )
