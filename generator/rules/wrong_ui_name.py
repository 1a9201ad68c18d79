"""Wrong-UI-name adversarials: a name users bring from other software, paired with the
product's real element of the same role.

Each name in the list below has a role (home, settings, navigation, account, admin, search,
help, reports). A name is used only where the docs and the glossary never have it, and only
paired with a real element of its role that the docs name in a sentence, definition or table
row: "There is no Control Panel in Acme. Billing is under Settings > Billing." A product whose
docs name no element of a role gets no trap for it; a home page with its own name (the scope's
``glossary.home`` or "You land on the Overview page" in the docs) answers the home names:
"There is no Dashboard in Acme; the page you land on is the Overview."
"""

from __future__ import annotations

from dataclasses import dataclass

from generator.absence import check_absence, ui_name_is_real
from generator.rules.corpus import Corpus
from generator.rules.elements import (
    ROLE_HINTS,
    ROLE_WORDS,
    Element,
    Site,
    elements,
    home_in_docs,
    sites,
)
from generator.rules.plan import RULES_DRAFTER, Plan
from generator.rules.text import words_of
from ledger import DraftIn, DraftKind


@dataclass(frozen=True)
class WrongName:
    name: str
    role: str
    takes_the: bool  # "the Dashboard", but "Preferences"
    noun: str = ""  # what "There is no ..." denies, when the name alone reads oddly there

    @property
    def ref(self) -> str:
        return f"the {self.name}" if self.takes_the else self.name

    @property
    def denied(self) -> str:
        return self.noun or self.name


WRONG_NAMES = [
    WrongName("Dashboard", "home", True),
    WrongName("Home Screen", "home", True),
    WrongName("Start Page", "home", True),
    WrongName("Control Panel", "settings", True),
    WrongName("Preferences", "settings", False, "Preferences page"),
    WrongName("Options menu", "settings", True),
    WrongName("Configuration screen", "settings", True),
    WrongName("Account Settings", "account", False, "Account Settings page"),
    WrongName("My Account", "account", False, "My Account page"),
    WrongName("User Profile", "account", True),
    WrongName("Admin Console", "admin", True),
    WrongName("Admin Panel", "admin", True),
    WrongName("Management Console", "admin", True),
    WrongName("Main Menu", "navigation", True),
    WrongName("Sidebar", "navigation", True),
    WrongName("Navigation bar", "navigation", True),
    WrongName("Hamburger menu", "navigation", True),
    WrongName("Search bar", "search", True),
    WrongName("Global Search", "search", False),
    WrongName("Help Center", "help", True),
    WrongName("Support Portal", "help", True),
    WrongName("Analytics", "reports", False, "Analytics page"),
    WrongName("Insights page", "reports", True),
]
# Words that make a name a kind of place rather than a place: "Settings page" is the real
# "Settings" page, not a wrong name for it.
_PLACE_WORDS = frozenset(["page", "screen", "menu", "panel", "bar", "tab", "center", "console"])
# How many real elements one wrong name is paired with, so no name dominates the set.
TARGETS_PER_NAME = 4

# Questions about a sub-page reached through the wrong name ({leaf} is under it).
_LEAF_QUESTIONS = [
    "Where is {leaf} in {wrong}?",
    "How do I get to {leaf} from {wrong}?",
    "I can't find {leaf} in {wrong}. Where is it?",
    "Is {leaf} still under {wrong}?",
    "Which part of {wrong} has {leaf}?",
    "How do I open {leaf} in {wrong}?",
    "Where can I change {leaf} in {wrong}?",
]
# Questions about the wrong place itself.
_PLACE_QUESTIONS = [
    "How do I open {wrong} in {product}?",
    "Where is {wrong} in {product}?",
    "I can't find {wrong} anywhere. Where did it go?",
    "What's the quickest way to {wrong}?",
    "Can you take me to {wrong} in {product}?",
    "Which button opens {wrong}?",
    "Does {product} still have {wrong}?",
    "Where did {wrong} go after the last update?",
]
# What the real element is, by role: "Settings are in Settings > General."
_ROLE_SAYS = {
    "home": "the page you land on is {target}",
    "settings": "settings are in {target}",
    "account": "your account details are in {target}",
    "admin": "administration is done in {target}",
    "navigation": "you move around {product} with {target}",
    "search": "to search, use {target}",
    "help": "help is in {target}",
    "reports": "reports are in {target}",
}


def plan_wrong_ui_names(
    corpus: Corpus, per_chunk: int, plans: dict[str, Plan] | None = None
) -> dict[str, Plan]:
    plans = {} if plans is None else plans
    real = elements(corpus)
    real_words = {" ".join(words_of(e.name)) for e in real}
    names = [w for w in WRONG_NAMES if _usable(corpus, w, real_words)]
    if not names:
        return plans
    checks = {w.name: check_absence(corpus.ledger, [w.name]) for w in names}
    used: set[str] = set()
    counters = {"leaf": 0, "place": 0}
    for role in dict.fromkeys(w.role for w in names):
        wrong_names = [w for w in names if w.role == role]
        # Deepest paths first: they name a specific page, so the question is specific too.
        targets = sorted(
            (e for e in real if e.role == role),
            key=lambda e: (e.kind != "home", -e.name.count(">"), e.name),
        )
        turn = 0
        pairs: list[tuple[WrongName, Element]] = []
        for target in targets:
            if target.name in used or turn >= TARGETS_PER_NAME * len(wrong_names):
                continue
            used.add(target.name)
            pairs.append((wrong_names[turn % len(wrong_names)], target))
            turn += 1
        # Fewer real elements than names (one home page, one settings page): each name left
        # over is still a trap, paired with the same elements in turn.
        for extra, wrong in enumerate(wrong_names[turn:]):
            if pairs:
                pairs.append((wrong, pairs[extra % turn][1]))
        for wrong, target in pairs:
            site = _best_site(corpus, target, plans, per_chunk)
            if site is None:
                continue
            draft = _draft(corpus, wrong, target, site, counters)
            meta = {**draft.meta, "absence_check": checks[wrong.name].as_meta()}
            plans.setdefault(site.chunk.id, Plan()).drafts.append(
                draft.model_copy(update={"meta": meta})
            )
    return plans


def _usable(corpus: Corpus, wrong: WrongName, real_words: set[str]) -> bool:
    """A wrong name the docs and glossary never use, and that is not a real element's name
    with a place word added ("Settings page" for the "Settings" page)."""
    core = " ".join(w for w in words_of(wrong.name) if w not in _PLACE_WORDS)
    if core in real_words:
        return False
    return not ui_name_is_real(corpus.ledger, corpus.scope, wrong.name)


def _best_site(
    corpus: Corpus, target: Element, plans: dict[str, Plan], per_chunk: int
) -> Site | None:
    found = sites(corpus, target.name)
    if target.kind == "home" and not corpus.scope.glossary.home:
        said = home_in_docs(corpus)
        if said is not None:
            index = corpus.chunks.index(said[1])
            found.append(Site(said[1], index, said[2], "", 4))

    hints = ROLE_HINTS.get(target.role or "", frozenset()) | {
        w for role, keys in ROLE_WORDS if role == target.role for w in keys
    }
    name_words = set(words_of(target.name))

    def hinted(site: Site) -> bool:
        return bool((set(words_of(site.quote)) - name_words) & hints)

    if target.kind == "home":
        # Any sentence with "Budget" in it does not show that Budget is where one lands.
        found = [site for site in found if hinted(site)]

    def rank(site: Site) -> tuple[bool, int, int, int]:
        full = len(plans.get(site.chunk.id, Plan()).drafts) >= per_chunk
        return (full, -site.score, not hinted(site), site.index)

    if not found:
        return None
    best = min(found, key=rank)
    if len(plans.get(best.chunk.id, Plan()).drafts) >= per_chunk:
        return None
    return best


def _place(target: Element) -> str:
    """ "the Overview page", "the sidebar", "the Status panel"."""
    words = target.name.split()
    if words[-1].lower() in _PLACE_WORDS | {"view", "sidebar", "window", "dashboard"}:
        return f"the {target.name}"
    return f"the {target.name} page"


def _draft(
    corpus: Corpus, wrong: WrongName, target: Element, site: Site, counters: dict[str, int]
) -> DraftIn:
    product = corpus.product
    if target.kind == "path":
        form = "leaf"
        template = _LEAF_QUESTIONS[counters[form] % len(_LEAF_QUESTIONS)]
        question = template.format(leaf=target.leaf, wrong=wrong.ref, product=product)
        answer = f"There is no {wrong.denied} in {product}. {target.leaf} is under {target.name}"
        if site.description:
            answer += f": {corpus.lower_first(site.description)}"
        answer += "."
    else:
        form = "place"
        template = _PLACE_QUESTIONS[counters[form] % len(_PLACE_QUESTIONS)]
        question = template.format(wrong=wrong.ref, product=product)
        says = _ROLE_SAYS[wrong.role].format(target=_place(target), product=product)
        answer = f"There is no {wrong.denied} in {product}; {says}"
        if site.description:
            answer += f" ({corpus.lower_first(site.description)})"
        answer += "."
    counters[form] += 1
    return DraftIn(
        kind=DraftKind.ADVERSARIAL,
        subtype="wrong_ui_name",
        question=question,
        answer=answer,
        evidence=[site.quote],
        meta={
            "drafter": RULES_DRAFTER,
            "rule": "adversarial.wrong_ui_name",
            "wrong_name": wrong.name,
            "role": wrong.role,
            "real_name": target.name,
            "real_kind": target.kind,
        },
    )
