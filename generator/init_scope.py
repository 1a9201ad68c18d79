"""Draft a scope file from a docs folder, for a person to edit (``draftgate init``).

Everything here is a candidate with the ``doc:line`` it came from: the product's name and
summary, glossary names (bold names, ``A > B`` paths, key notation, quoted button labels,
headings of UI sections, commands), things the docs say the product does not offer (their own
explicit denials), and the home page when the docs name one.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from generator.absence import TRADE_OFF_SECTION
from generator.markdown import parse_markdown
from generator.plain import answer_text, format_keys, plain_text

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdx")
MAX_PER_LIST = 60  # candidates per list, most frequent first: a draft a person can read through

_STOP_WORDS = (
    "a an the this that these those it its you your we our to of in on for with and or but "
    "is are be can will not no if then when from by as at use using how what which all new "
    "more see also about into out up set get make here there"
)
_STOP = frozenset(_STOP_WORDS.split())
_UI_NOUNS = (
    r"(?:page|tab|panel|panels|view|views|screen|menu|sidebar|bar|dialog|window|pane|section"
    r"|header|table|list|corner|toolbar|topbar|footer)"
)
_UI_PARENT = re.compile(
    rf"\b(?:interface|ui|layout|navigat\w*|panels?|views?|screens?|menus?|tabs?|keybindings?"
    rf"|shortcuts|{_UI_NOUNS})\b",
    re.IGNORECASE,
)
_BOLD = re.compile(r"\*\*([^*\n]{2,40}?)\*\*|__([^_\n]{2,40}?)__")
_PATH = re.compile(
    r"(?:\*\*)?([A-Z][\w'&.-]*(?: [\w'&.-]+){0,3})(?:\*\*)?"
    r"((?:\s*(?:>|→|›|&gt;)\s*(?:\*\*)?[A-Z0-9][\w'&.-]*(?: [\w'&.-]+){0,3}(?:\*\*)?)+)"
)
_KEY_PLUS = re.compile(r"\+\+([A-Za-z0-9][\w-]*(?:\+[\w-]+)*)\+\+")
_KBD = re.compile(r"((?:<kbd>[^<]{1,20}</kbd>\s*\+?\s*)+)", re.IGNORECASE)
_KEY_COMBO = re.compile(
    r"\b((?:Ctrl|Cmd|Command|Alt|Option|Shift|Meta|Super)(?:\s*\+\s*(?:Ctrl|Cmd|Alt|Shift|"
    r"Option|[A-Z0-9]\b|F\d{1,2}|Enter|Tab|Space|Esc|Escape|Delete|Backspace|[A-Z][a-z]+))+)"
)
_ANGLE_KEY = re.compile(
    r"`(<(?:[csam]-[^>\s]{1,8}|space|enter|tab|esc|backspace|up|down|left|right|"
    r"pgup|pgdown|home|end|delete|f\d{1,2})>)`",
    re.IGNORECASE,
)
_QUOTED_ACTION = re.compile(
    r"\b(?:click|press|select|tap|choose|hit)\s+(?:on\s+)?(?:the\s+)?"
    r"(?:\"\*\*([^*\n]{1,40})\*\*\"|\*\*\"([^\"\n]{1,40})\"\*\*|\"([^\"\n]{1,40})\""
    r"|“([^”\n]{1,40})”|\*\*([^*\n]{1,40})\*\*)",
    re.IGNORECASE,
)
# A key table's first cell: "| `` <ctrl+r> `` | Switch to a recent repo |".
_KEY_CELL = re.compile(r"^\|\s*``?\s*([^`|]{1,60}?)\s*``?\s*\|")
_QUOTED_BUTTON = re.compile(r"(?:\"([^\"\n]{1,40})\"|“([^”\n]{1,40})”)\s+button\b")
_HOME = re.compile(
    r"\b(?:lands? on|opens (?:on|to|with)|first (?:page|screen|view) (?:you see )?is|"
    r"home (?:page|screen) (?:is|called))\s+(?:the\s+)?\**([A-Z][\w ]{1,30}?)\**"
    rf"(?:\s+{_UI_NOUNS})?[.,;:)]",
)
_DENIALS = [
    # "X is not supported", "X are not available", "X isn't supported"
    re.compile(
        r"(?:^|[.;:!?]\s+|,\s*)(?:but\s+)?([A-Za-z][\w ./+#'-]{2,60}?)\s+(?:is|are)(?: currently)?"
        r"(?: not|n't) (?:yet )?(?:supported|available|possible)\b",
        re.IGNORECASE,
    ),
    # "does not support X", "doesn't support X", "do not support X"
    re.compile(
        r"\b(?:does|do)(?: not|n't) (?:currently )?(?:support|offer|provide|have)\s+"
        r"([\w ./+#'-]{3,60}?)(?=[.,;:!?()]|$| yet\b| at the moment\b| out of the box\b)",
        re.IGNORECASE,
    ),
    # "there is no X", "there's no X"
    re.compile(
        r"\bthere(?: is|'s|’s) no\s+([\w ./+#'-]{3,50}?)(?=[.,;:!?()]|$| for\b| in\b| to\b)",
        re.IGNORECASE,
    ),
]
_DENIAL_SECTION = re.compile(
    r"(?:does not|doesn't|do not|don't|won't|will not|cannot|can't)\b.*\b(?:do|support|offer)"
    r"|\b(?:unsupported|not supported|limitations)\b",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.+)$")
# Words that start "there is no …" / "… is not possible" without naming a feature.
_NOT_A_FEATURE_WORDS = (
    "need way reason point guarantee limit longer more such one other it this that there "
    "they which these those option to doing anything something everything you your we our "
    "made enough previous separate additional extra support configuration"
)
_NOT_A_FEATURE = frozenset(_NOT_A_FEATURE_WORDS.split())
# Document titles that name a kind of page, not something the product offers.
_NOT_AN_OFFER = re.compile(
    r"(?i)\b(faq|troubleshoot\w*|getting started|introduction|overview|index|readme|changelog"
    r"|contribut\w*|license|support|migrat\w*|install\w*|release notes|glossary|about"
    r"|frequently asked|limits|navigat\w*|pricing)\b"
)
_HOME_FILES = ("index", "readme", "introduction", "intro", "overview", "getting-started")
_SUMMARY_SKIP = re.compile(r"^\s*(?:[#<>|!\[`:=-]|\*\*?\s*$|import |export )")


@dataclass
class Candidates:
    """Each found name with its count and the first place it was seen."""

    counts: Counter[str] = field(default_factory=Counter)
    where: dict[str, str] = field(default_factory=dict)
    spelled: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, where: str, weight: int = 1) -> None:
        name = _clean(name)
        if not name:
            return
        key = name.lower()
        self.counts[key] += weight
        self.where.setdefault(key, where)
        self.spelled.setdefault(key, name)

    def ranked(self, limit: int = MAX_PER_LIST) -> list[tuple[str, str]]:
        keys = sorted(self.counts, key=lambda k: (-self.counts[k], self.where[k]))[:limit]
        return [(self.spelled[k], self.where[k]) for k in keys]


@dataclass
class ScopeDraft:
    files: int = 0
    product_name: str = ""
    product_where: str = ""
    summary: str = ""
    summary_where: str = ""
    domain: str = ""
    home: tuple[str, str] | None = None
    pages: Candidates = field(default_factory=Candidates)
    paths: Candidates = field(default_factory=Candidates)
    buttons: Candidates = field(default_factory=Candidates)
    keys: Candidates = field(default_factory=Candidates)
    commands: Candidates = field(default_factory=Candidates)
    denials: Candidates = field(default_factory=Candidates)
    offers: Candidates = field(default_factory=Candidates)

    def glossary_names(self) -> list[str]:
        names = [self.home[0]] if self.home else []
        for group in (self.pages, self.paths, self.buttons, self.keys, self.commands):
            names.extend(name for name, _ in group.ranked())
        return names


def _clean(name: str) -> str:
    name = re.sub(r"\s+", " ", name.replace("**", "").replace("`", "")).strip(" .,:;\"'“”")
    return name if 1 < len(name) <= 60 else ""


def markdown_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") for p in parts) or path.suffix.lower() not in MARKDOWN_SUFFIXES:
            continue
        if path.is_file() and not path.is_symlink():
            files.append(path)
    return files


def _text_lines(text: str, mdx: bool) -> Iterator[tuple[int, str, list[str], str]]:
    """(line number, line, heading path, block kind) for lines outside code and comments."""
    parsed = parse_markdown(text, mdx=mdx)
    stack: list[tuple[int, str]] = []
    for block in parsed.blocks:
        if block.kind == "heading":
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.title))
        if block.kind in ("fence", "comment"):
            continue
        for number in range(block.start, block.end + 1):
            line = parsed.lines[number - 1]
            if "<!--" in line:
                line = re.sub(r"<!--.*?(-->|$)", "", line)
            yield number, line, [t for _, t in stack], block.kind


def draft_scope(root: Path) -> ScopeDraft:
    draft = ScopeDraft()
    words: Counter[str] = Counter()
    title_words: Counter[str] = Counter()
    shell_first: Counter[str] = Counter()
    code_spans: list[tuple[str, str]] = []
    summary_rank = len(_HOME_FILES) + 1
    for path in markdown_files(root):
        try:
            text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
        except (OSError, UnicodeDecodeError):
            continue
        draft.files += 1
        rel = path.relative_to(root).as_posix()
        mdx = path.suffix.lower() == ".mdx"
        parsed = parse_markdown(text, mdx=mdx)
        for word in re.findall(r"[A-Za-z][\w-]+", parsed.title()):
            title_words[word] += 1
        if parsed.title() and not _NOT_AN_OFFER.search(parsed.title()) and path.stem != "index":
            title_line = next((b.start for b in parsed.blocks if b.title == parsed.title()), 1)
            draft.offers.add(parsed.title(), f"{rel}:{title_line}")
        _shell_lines(parsed.lines, shell_first)
        rank = _home_rank(path.stem)
        for number, line, headings, kind in _text_lines(text, mdx):
            where = f"{rel}:{number}"
            words.update(w for w in re.findall(r"\b[A-Z][a-z]+\b|\b[a-z]+\b", line))
            code_spans.extend((span, where) for span in re.findall(r"`([^`\n]{2,60})`", line))
            if kind == "heading":
                _ui_heading(draft, line, headings, where)
                continue
            if rank < summary_rank and kind == "paragraph" and not _SUMMARY_SKIP.match(line):
                sentence = _first_sentence(_paragraph_at(parsed.lines, number))
                if sentence:
                    draft.summary, draft.summary_where, summary_rank = sentence, where, rank
            _names_in_line(draft, line, where)
            if draft.home is None:
                home = _HOME.search(line)
                if home:
                    draft.home = (_clean(home.group(1)), where)
            trade_off = any(TRADE_OFF_SECTION.search(h) for h in headings)
            for pattern in _DENIALS:
                for found in pattern.finditer(line):
                    if not trade_off and not _hedged_or_about_something_else(line, found.start()):
                        draft.denials.add(_feature(found.group(1)), where)
            item = _LIST_ITEM.match(line)
            if item and headings and _DENIAL_SECTION.search(headings[-1]):
                draft.denials.add(_feature(item.group(1)), where)
    draft.product_name, draft.product_where = _product_name(title_words, words), root.name
    name_lower = draft.product_name.lower()
    cli = {w for w, n in shell_first.items() if n >= 3} | ({name_lower} if name_lower else set())
    for span, where in code_spans:
        first = span.split(" ", 1)[0]
        if first in cli and " " in span:
            draft.commands.add(span, where)
    draft.domain = _domain(draft.summary, draft.product_name)
    return draft


def _home_rank(stem: str) -> int:
    """How early a file with this name is read for the product summary: a home file's place
    in ``_HOME_FILES`` (a name ending in one, such as ``repo-root-README``, counts), else 99."""
    words = re.split(r"[^a-z0-9]+", stem.lower())
    for rank, name in enumerate(_HOME_FILES):
        if stem.lower() == name or (words and words[-1] == name):
            return rank
    return 99


def _paragraph_at(lines: list[str], number: int) -> str:
    """The line ``number`` and the lines after it up to the paragraph's end (a blank line, or
    a line of HTML such as the ``<br/>`` under a centred tagline), as one line."""
    out = []
    for index, line in enumerate(lines[number - 1 :]):
        if not line.strip() or (index and line.lstrip().startswith("<")):
            break
        out.append(line.strip())
    return " ".join(out)


def _shell_lines(lines: list[str], counter: Counter[str]) -> None:
    in_shell = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            info = stripped.strip("`~ ").lower()
            in_shell = not in_shell and info in ("sh", "bash", "shell", "console", "zsh")
            continue
        if in_shell and stripped:
            first = stripped.removeprefix("$ ").split(" ", 1)[0]
            if re.fullmatch(r"[a-z][\w-]{1,30}", first):
                counter[first] += 1


def _ui_heading(draft: ScopeDraft, line: str, headings: list[str], where: str) -> None:
    title = headings[-1] if headings else ""
    parents = headings[:-1]
    if (
        re.search(rf"\b{_UI_NOUNS}$", title, re.IGNORECASE)
        and len(title.split()) <= 4
        or (
            parents
            and _UI_PARENT.search(parents[-1])
            and len(title.split()) <= 3
            and not re.match(r"(?i)(how|what|why|when|where|can|do|does|is)\b", title)
        )
    ):
        draft.pages.add(title, where)


_LEADS_TO_PATH = re.compile(
    r"^(?:navigate|go|head|browse|switch|click|open|select|choose|tap|visit)\b"
    r"(?:\s+(?:to|on|into|over to|back to))?(?:\s+the)?\s*",
    re.IGNORECASE,
)
_ADMONITION_WORDS = {"note", "info", "tip", "warning", "caution", "danger", "important", "check"}


def _names_in_line(draft: ScopeDraft, raw: str, where: str) -> None:
    """Names from the line's plain text (site markup gone); keys from the line as written."""
    line = plain_text(raw)
    for found in _PATH.finditer(line):
        path = found.group(0).replace("**", "")
        parts = [p.strip() for p in re.split(r"\s*(?:>|→|›|&gt;)\s*", path)]
        # "Navigate to Menu > Documentation": the verb leads to the path, it is not part of it.
        parts[0] = _LEADS_TO_PATH.sub("", parts[0])
        if (
            not parts[0]
            or parts[0].lower() in _ADMONITION_WORDS
            or parts[-1].split()[-1].lower() in _STOP
        ):
            continue
        if all(0 < len(p.split()) <= 3 for p in parts):
            draft.paths.add(" > ".join(parts), where)
    buttons = set()
    for found in _QUOTED_ACTION.finditer(line):
        name = next(g for g in found.groups() if g)
        buttons.add(name)
        draft.buttons.add(name, where)
    for found in _QUOTED_BUTTON.finditer(line):
        draft.buttons.add(next(g for g in found.groups() if g), where)
    for found in _BOLD.finditer(line):
        name = (found.group(1) or found.group(2)).strip()
        if name in buttons or not name[:1].isupper() or name.endswith((":", ".")):
            continue
        if found.group(0) == line.strip():
            continue  # a bold line on its own is a caption or a heading, not a UI name
        if len(name.split()) <= 4 and not re.search(r"[>→]", name):
            draft.pages.add(name, where)
    line = raw
    for found in _KEY_PLUS.finditer(line):
        draft.keys.add(format_keys(found.group(1)), where)
    for found in _KBD.finditer(line):
        keys = re.findall(r"<kbd>([^<]+)</kbd>", found.group(1), re.IGNORECASE)
        draft.keys.add("+".join(k.strip() for k in keys), where)
    for found in _KEY_COMBO.finditer(line):
        draft.keys.add(re.sub(r"\s*\+\s*", "+", found.group(1)), where)
    for found in _ANGLE_KEY.finditer(line):
        draft.keys.add(found.group(1), where)
    cell = _KEY_CELL.match(line)
    if cell:
        for key in re.sub(r"\([^)]*\)", "", cell.group(1)).split(","):
            if re.fullmatch(r"<[\w+-]{1,20}>", key.strip()):
                draft.keys.add(key.strip(), where)


# A denial that is only for now ("not yet available", "will be available very soon") or
# whose subject is something other than the product ("an older version, which doesn't have
# the export button") is no does-not-offer entry.
_HEDGE = re.compile(r"\b(?:yet|for now|will be|very soon|though|coming soon)\b", re.IGNORECASE)
_OTHER_SUBJECT = frozenset(
    ["which", "that", "who", "they", "these", "those", "it", "this", "there"]
)


def _hedged_or_about_something_else(line: str, start: int) -> bool:
    if _HEDGE.search(line):
        return True
    before = re.findall(r"[\w']+", line[:start])
    return bool(before) and before[-1].lower() in _OTHER_SUBJECT


def _feature(phrase: str) -> str:
    words = phrase.strip().split()
    while words and words[0].lower() in ("the", "a", "an", "any", "that", "this", "but", "and"):
        words.pop(0)
    if not words or len(words) > 8:
        return ""
    feature = " ".join(words)
    if words[0].lower() in _NOT_A_FEATURE or feature.lower() in _STOP:
        return ""
    if words[-1].lower() in ("limit", "limits") or {"will", "can", "should"} & {
        w.lower() for w in words
    }:
        return ""  # "no monthly limit": a limit, not a feature; a clause, not a name
    return feature


def _first_sentence(line: str) -> str:
    text = answer_text(line)
    if len(text) < 30:
        return ""
    end = re.search(r"(?<=[.!?])\s", text)
    return (text[: end.start()] if end else text)[:200].strip()


def _product_name(title_words: Counter[str], words: Counter[str]) -> str:
    scores: Counter[str] = Counter()
    for word, count in title_words.items():
        if word.lower() not in _STOP and len(word) > 2:
            scores[word] += count * 5 + words.get(word, 0)
    return scores.most_common(1)[0][0] if scores else ""


def _domain(summary: str, product: str) -> str:
    found = re.search(r"\bis an? ([^.;:]{3,120}?)(?:\s+(?:that|which|for|with)\b|[.;:]|$)", summary)
    return found.group(1).strip() if found else ""


# ---- writing ---------------------------------------------------------------------------------


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, for what json.dumps emits)."""
    return json.dumps(value, ensure_ascii=False)


def _array(name: str, items: list[tuple[str, str]], note: str) -> list[str]:
    out = [f"# {note}"]
    if not items:
        return [*out, f"{name} = []"]
    out.append(f"{name} = [")
    out.extend(f"    {_string(value)},  # {where}" for value, where in items)
    out.append("]")
    return out


def render_scope(draft: ScopeDraft) -> str:
    """The draft as a scope.toml that loads (every value is a candidate to check)."""
    lines = [
        "# Drafted by `draftgate init` from the docs: every entry is a candidate with the",
        "# doc:line it came from. Check each one, delete what is wrong, add what is missing.",
        "",
        *_array(
            "offers",
            draft.offers.ranked(),
            "What the product offers, one short phrase each (out-of-scope and clarify answers\n"
            "# point people to these). Candidates: the titles of the docs' feature pages.",
        ),
        "",
        "[product]",
        f"name = {_string(draft.product_name or 'Product')}  # most frequent name in titles",
        f"summary = {_string(draft.summary)}  # {draft.summary_where or 'not found'}",
        "# One line: what the product is for (out-of-scope drafts use it).",
        f"domain = {_string(draft.domain)}",
        "",
    ]
    denials = draft.denials.ranked()
    if denials:
        lines.append(
            "# From the docs' own denials. `instead` is optional: a sentence the docs state,"
        )
        lines.append("# found in a chunk, that the negative's answer points to.")
    else:
        lines.append("# No explicit denials found. Add what the product does not offer:")
        lines.append(
            '# [[does_not_offer]]\n# feature = "…"\n# search_terms = ["…"]\n# instead = "…"'
        )
    for feature, where in denials:
        lines += ["", f"[[does_not_offer]]  # {where}", f"feature = {_string(feature)}"]
        lines.append("search_terms = []")
    lines += ["", "[glossary]"]
    if draft.home:
        lines.append(f"home = {_string(draft.home[0])}  # {draft.home[1]}")
    else:
        lines.append('home = ""  # the first page people land on: not named in the docs')
    lines += _array("pages", draft.pages.ranked(), "Bold names and headings of UI sections.")
    lines += _array("paths", draft.paths.ranked(), "Menu paths as the docs write them (A > B).")
    lines += _array("buttons", draft.buttons.ranked(), "Labels people click or press.")
    lines += _array("keys", draft.keys.ranked(), "Key bindings as the docs write them.")
    lines += _array("commands", draft.commands.ranked(), "Commands (CLI or command palette).")
    return "\n".join(lines) + "\n"


def render_config(docs: str) -> str:
    return (
        "# Draftgate settings; see the README for every key.\n"
        f"docs = {_string(docs)}\n"
        "\n[generate]\n"
        '# model = "gpt-4o-mini"\n'
        "\n[review]\n"
        '# reviewer = "Your Name"\n'
    )
