"""Wrong-UI-name adversarials: a common UI name the docs never use, paired with a real
navigation path a chunk names; each path is used once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator.absence import check_absence, path_in_docs, ui_name_is_real
from generator.rules.corpus import Corpus
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.text import pick, plain, sentence_spans, words_of
from ledger import Chunk, DraftIn, DraftKind
from ledger.ids import text_hash

# Common UI names that products use and these docs might not. Each entry: the name as a user
# would type it, whether it takes "the" in a sentence, the noun to deny ("There is no ..."),
# and words of real path segments it is typically mistaken for (to pair it plausibly).
_WRONG_UI_NAMES: list[tuple[str, bool, str, frozenset[str]]] = [
    ("Dashboard", True, "Dashboard", frozenset({"today", "home", "reports", "schedule"})),
    ("Control Panel", True, "Control Panel", frozenset({"settings"})),
    ("Admin Console", True, "Admin Console", frozenset({"settings", "team", "security"})),
    ("Admin Panel", True, "Admin Panel", frozenset({"settings", "team", "integrations"})),
    ("Account Settings", False, "Account Settings page", frozenset({"profile", "billing"})),
    ("Preferences", False, "Preferences page", frozenset({"profile", "notifications"})),
    ("Home Screen", True, "Home Screen", frozenset({"today", "more"})),
    ("My Account", False, "My Account page", frozenset({"profile", "billing", "organizations"})),
    ("User Settings", False, "User Settings page", frozenset({"profile", "details"})),
    ("Workspace Settings", False, "Workspace Settings page", frozenset({"settings"})),
    ("Analytics", False, "Analytics page", frozenset({"reports"})),
    ("Staff Directory", True, "Staff Directory", frozenset({"team", "members", "positions"})),
    ("Payroll Center", True, "Payroll Center", frozenset({"timesheets", "payroll"})),
    ("Leave Manager", True, "Leave Manager", frozenset({"off", "policies", "balances"})),
    ("Support Portal", True, "Support Portal", frozenset({"help"})),
    ("Shift Planner", True, "Shift Planner", frozenset({"schedule"})),
    ("Main Menu", True, "Main Menu", frozenset()),
]

_WRONG_UI_QUESTIONS = [
    "Where is the {leaf} page in {wrong}?",
    "How do I get to {leaf} from {wrong}?",
    "I can't find {leaf} in {wrong}. Where is it?",
]


@dataclass(frozen=True)
class _PathSite:
    chunk: Chunk
    index: int
    quote: str  # the table row, definition bullet or sentence naming the path
    description: str  # what the docs say the page is for ("" if they don't, in that line)
    score: int


def _path_sites(corpus: Corpus, path: str) -> list[_PathSite]:
    # The whole path, not the tail of a longer one ("X > Settings > Team") nor its head.
    pattern = re.compile(r"(?<!> )(?<![\w>])" + re.escape(path) + r"(?!\w)(?!\*{0,2}\s*>)")
    sites: list[_PathSite] = []
    for index, chunk in enumerate(corpus.chunks):
        if path not in chunk.text:
            continue  # a plain find first: the pattern's lookbehinds make it scan slowly
        for match in pattern.finditer(chunk.text):
            line_start = chunk.text.rfind("\n", 0, match.start()) + 1
            line_end = chunk.text.find("\n", match.end())
            line_end = len(chunk.text) if line_end < 0 else line_end
            line = chunk.text[line_start:line_end]
            if line.lstrip().startswith("|"):
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                others = [c for c in cells if path not in c and c]
                # A "| **path** | what it is for |" row describes the page.
                is_row = len(cells) == 2 and len(others) == 1 and cells[0].strip("*") == path
                desc = plain(others[0]) if is_row else ""
                sites.append(_PathSite(chunk, index, line.strip(), desc, 3 if desc else 1))
                continue
            definition = re.match(r"^\s*[-*+]\s+\*\*" + re.escape(path) + r"\*\*:\s+(.+)$", line)
            if definition:
                desc = plain(definition.group(1)).rstrip(".")
                sites.append(_PathSite(chunk, index, line.strip(), desc, 3))
                continue
            if line.lstrip().startswith("|"):
                continue
            for a, b in sentence_spans(chunk.text):
                if a <= match.start() < b:
                    sites.append(_PathSite(chunk, index, chunk.text[a:b].strip(), "", 2))
                    break
    return sites


def plan_wrong_ui_names(
    corpus: Corpus, per_chunk: int, plans: dict[str, Plan] | None = None
) -> dict[str, Plan]:
    plans = {} if plans is None else plans
    names = [
        entry
        for entry in _WRONG_UI_NAMES
        if not ui_name_is_real(corpus.ledger, corpus.scope, entry[0])
    ]
    if not names:
        return plans
    checks = {entry[0]: check_absence(corpus.ledger, [entry[0]]) for entry in names}
    # Deepest paths first: they name a specific page, so the question is specific too.
    paths = sorted(corpus.scope.glossary.paths, key=lambda p: (-p.count(">"), p))
    for path in paths:
        sites = _path_sites(corpus, path)
        if not sites or not path_in_docs(corpus.ledger, path):
            continue

        def rank(site: _PathSite) -> tuple[bool, int, int]:
            full = len(plans.get(site.chunk.id, Plan()).drafts) >= per_chunk
            return (full, -site.score, site.index)

        site = min(sites, key=rank)
        if len(plans.get(site.chunk.id, Plan()).drafts) >= per_chunk:
            continue
        segments = {w for w in words_of(path.replace(">", " "))}
        fitting = [n for n in names if n[3] & segments] or [n for n in names if not n[3]]
        if not fitting:
            continue
        wrong, takes_the, noun, _ = fitting[int(text_hash("ui:" + path)[3:11], 16) % len(fitting)]
        leaf = path.split(">")[-1].strip()
        wrong_ref = f"the {wrong}" if takes_the else wrong
        question = pick(_WRONG_UI_QUESTIONS, "q:" + path).format(leaf=leaf, wrong=wrong_ref)
        answer = f"There is no {noun} in {corpus.product}. Go to {path} instead"
        if site.description:
            answer += f" — {corpus.lower_first(site.description)}"
        answer += "."
        plans.setdefault(site.chunk.id, Plan()).drafts.append(
            DraftIn(
                kind=DraftKind.ADVERSARIAL,
                subtype="wrong_ui_name",
                question=question,
                answer=answer,
                evidence=[site.quote],
                meta={
                    "drafter": RULES_DRAFTER,
                    "rule": "adversarial.wrong_ui_name",
                    "wrong_name": wrong,
                    "real_path": path,
                    "absence_check": checks[wrong].as_meta(),
                },
            )
        )
    return plans
