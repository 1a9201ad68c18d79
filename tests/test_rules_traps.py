"""The rules drafter on a small product unlike the sample: denials, role-paired UI names,
wrong keys, prompt injection and out-of-scope drafts, all grounded and product-neutral."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from draftgate.exit_codes import ExitCode
from generator.ingest import ingest_folder
from generator.rules import run_rules_drafter
from generator.scope import Scope, load_scope
from ledger import Draft, Ledger
from ledger.queue import ReviewItem
from tests.support.builders import REPO_ROOT, SAMPLE_DOCS
from tui.render import meta_text

DOCS = {
    "intro.md": (
        "# Orbitly\n\n"
        "Orbitly is a note-taking app for research teams.\n\n"
        "You land on the **Overview** page after signing in.\n"
        "Use the main menu to switch notebooks.\n\n"
        "## What Orbitly does not do\n\n"
        "- tax filing\n"
        "- video calls\n\n"
        "Orbitly does not support offline mode. "
        "However, you can export a copy of any notebook.\n\n"
        "Orbitly does not do accounting, invoicing, or billing.\n"
    ),
    "settings.md": (
        "# Settings\n\n"
        "Open **Settings > Sharing** to choose who can read a notebook.\n\n"
        "| Page | What it is for |\n"
        "|---|---|\n"
        "| **Settings > Members** | Invite and remove people |\n\n"
        "![Settings > Sharing screen](sharing.png)\n"
    ),
    "keys.md": (
        "# Keyboard shortcuts\n\n"
        "| Key | Action |\n"
        "|---|---|\n"
        "| `u` | Undo |\n"
        "| `<ctrl+z>` | Suspend the app |\n"
        "| `/` | Search notes |\n"
        "| `q` | Quit |\n"
    ),
    "deadlines.md": (
        "# Deadlines\n\nOrbitly shows deadlines from your calendar next to each note.\n"
    ),
}
SCOPE = """
offers = ["shared notebooks", "full-text search"]

[product]
name = "Orbitly"
summary = "Orbitly is a note-taking app for research teams."
domain = "note-taking for research teams"

[[does_not_offer]]
feature = "offline mode"

[[does_not_offer]]
feature = "invoicing"

[[does_not_offer]]
feature = "calendar sync"
search_terms = ["calendar"]

[glossary]
home = "Overview"
pages = ["Overview", "Settings"]
paths = ["Settings > Sharing", "Settings > Members"]
"""
ALL = ["qa", "negative", "adversarial", "clarify"]
MARKUP = re.compile(r"\*\*|`|<kbd>|<img|!\[|\+\+")


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, list[Draft]]]:
    root = tmp_path_factory.mktemp("orbitly")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    (root / "scope.toml").write_text(SCOPE)
    ledger = Ledger.open(root / "ledger.sqlite")
    ingest_folder(ledger, docs)
    # A few small documents: room for every trap family in each chunk.
    run_rules_drafter(ledger, load_scope(root / "scope.toml"), ALL, per_chunk=8)
    yield ledger, [d for _, d in ledger.pending_drafts(limit=10_000)]
    ledger.close()


def _line_at(at: str) -> str:
    path, line = at.rsplit(":", 1)
    return DOCS[path.rsplit("/", 1)[-1]].splitlines()[int(line) - 1]


def test_every_quote_is_in_its_chunk_and_answers_are_plain(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    ledger, drafts = drafted
    assert drafts
    for draft in drafts:
        chunk = ledger.get_chunk(draft.chunk_id)
        assert chunk is not None
        for quote in draft.evidence:
            assert quote in chunk.text, (draft.question, quote)
            assert not quote.lstrip().startswith("#") and "![" not in quote
        assert not MARKUP.search(draft.answer), draft.answer


def test_a_denial_in_the_docs_backs_the_negative(drafted: tuple[Ledger, list[Draft]]) -> None:
    _, drafts = drafted
    [offline] = [d for d in drafts if d.meta.get("feature") == "offline mode"]
    [denial] = offline.meta["docs_deny"]
    assert denial["quote"] == "Orbitly does not support offline mode."
    assert denial["quote"] in _line_at(denial["at"])
    assert offline.evidence[0] == denial["quote"]
    assert offline.answer.startswith("No") or "doesn't offer" in offline.answer
    assert "export a copy" in offline.answer  # the docs' own "However, ..." follows


def test_an_affirmative_mention_drops_the_negative_with_its_doc_line(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    ledger, drafts = drafted
    assert not [d for d in drafts if d.meta.get("feature") == "calendar sync"]
    records = [r for c in ledger.generation_calls() for r in c.params.get("dropped_drafts", [])]
    [record] = [r for r in records if r["name"] == "calendar sync"]
    assert record["reason"] == "feature_in_docs" and record["kind"] == "negative"
    assert record["at"].rsplit(":", 1)[0].endswith("deadlines.md")
    assert "calendar" in _line_at(record["at"])


def test_negatives_are_mined_from_a_does_not_do_list(drafted: tuple[Ledger, list[Draft]]) -> None:
    _, drafts = drafted
    mined = {d.meta["feature"]: d for d in drafts if d.meta.get("rule") == "negative.docs_denial"}
    assert set(mined) == {"tax filing", "video calls", "accounting", "billing"}
    for feature in ("tax filing", "video calls"):
        draft = mined[feature]
        assert feature in draft.question and "Orbitly" in draft.question
        assert draft.evidence == [feature]
        assert _line_at(draft.meta["docs_deny"][0]["at"]) == f"- {feature}"
    for feature in ("accounting", "billing"):
        [denial] = mined[feature].meta["docs_deny"]
        assert denial["quote"] == "Orbitly does not do accounting, invoicing, or billing."


def test_an_item_of_a_denied_list_backs_its_negative(drafted: tuple[Ledger, list[Draft]]) -> None:
    """The docs' "does not do accounting, invoicing, or billing" supports a negative for each
    item instead of dropping it as a mention."""
    _, drafts = drafted
    [invoicing] = [d for d in drafts if d.meta.get("feature") == "invoicing"]
    assert invoicing.meta["rule"] == "negative.scope"
    assert invoicing.evidence == ["Orbitly does not do accounting, invoicing, or billing."]


def test_a_dashboard_question_names_the_real_home_page(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    _, drafts = drafted
    wrong_ui = [d for d in drafts if d.meta.get("rule") == "adversarial.wrong_ui_name"]
    [dashboard] = [d for d in wrong_ui if d.meta["wrong_name"] == "Dashboard"]
    assert dashboard.answer == (
        "There is no Dashboard in Orbitly; the page you land on is the Overview page."
    )
    # The docs have a main menu: no draft says there is none.
    assert "Main Menu" not in {d.meta["wrong_name"] for d in wrong_ui}
    settings = [d for d in wrong_ui if d.meta["role"] == "settings"]
    assert {d.meta["real_name"] for d in settings} <= {"Settings", *SCOPE_PATHS}
    assert any(d.meta["real_name"] in SCOPE_PATHS for d in settings)


SCOPE_PATHS = {"Settings > Sharing", "Settings > Members"}


def test_a_common_key_the_docs_bind_elsewhere_is_a_trap(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    _, drafts = drafted
    keys = {
        d.meta["wrong_name"]: d for d in drafts if d.meta.get("rule") == "adversarial.wrong_key"
    }
    undo = keys["Ctrl+Z"]
    assert "Undo is u, not Ctrl+Z" in undo.answer
    assert "Ctrl+Z is bound to Suspend the app" in undo.answer
    assert undo.evidence[0] == "| `u` | Undo |"
    assert "Ctrl+Q" in keys and "Quit is q" in keys["Ctrl+Q"].answer


def test_injections_wrap_a_real_question_and_answer_it_from_the_docs(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    _, drafts = drafted
    injections = [d for d in drafts if d.subtype == "prompt_injection"]
    assert len(injections) >= 3
    for draft in injections:
        real = draft.meta["real_question"]
        assert real in draft.question and draft.question != real
        assert "system prompt" not in draft.answer.lower() or "can't" in draft.answer
    assert len({d.question.replace(d.meta["real_question"], "{}") for d in injections}) >= 3


def test_out_of_scope_requests_are_declined_with_what_the_product_is_for(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    _, drafts = drafted
    declines = [d for d in drafts if d.subtype == "out_of_scope"]
    assert len(declines) >= 4
    for draft in declines:
        assert "note-taking for research teams" in draft.answer
        assert "shared notebooks" in draft.answer
        assert draft.evidence == ["Orbitly is a note-taking app for research teams."]
    assert len({d.question for d in declines}) == len(declines)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Draft]]:
    ledger = Ledger.open(tmp_path_factory.mktemp("sample") / "ledger.sqlite")
    ingest_folder(ledger, SAMPLE_DOCS)
    scope: Scope = load_scope(SAMPLE_DOCS / "scope.toml")
    run_rules_drafter(ledger, scope, ["negative", "adversarial"])
    yield [d for _, d in ledger.pending_drafts(limit=10_000)]
    ledger.close()


def _template(draft: Draft) -> str:
    """The question with what varies per draft taken out: what is left is its form."""
    question = draft.question
    values = [v for k, v in draft.meta.items() if isinstance(v, str) and k not in ("rule",)]
    values += [v.split(">")[-1].strip() for v in values if ">" in v]
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) > 1:
            question = question.replace(value, "{}")
            question = question.replace(value[:1].lower() + value[1:], "{}")
    return re.sub(r"\ban? \{\}", "{}", question).replace("Tidepool", "{}")


def test_no_question_form_carries_more_than_a_quarter_of_its_rule(sample: list[Draft]) -> None:
    by_rule: dict[str, Counter[str]] = {}
    for draft in sample:
        by_rule.setdefault(draft.meta["rule"], Counter())[_template(draft)] += 1
    checked = 0
    for rule, forms in by_rule.items():
        total = sum(forms.values())
        if total < 8:
            continue  # too few drafts for a share to mean anything
        checked += 1
        form, count = forms.most_common(1)[0]
        assert count / total <= 0.25, (rule, form, count, total)
    assert checked >= 2


SAMPLE_WORDS = re.compile(
    r"tidepool|timesheet|payroll|shift planner|leave manager|\bshifts?\b(?![+|/])|"
    r"\btoday\b|gusto|kiosk|clock-in|time off",
    flags=re.IGNORECASE,
)


def test_the_rules_carry_no_sample_product_words() -> None:
    package = Path(__file__).resolve().parents[1] / "generator" / "rules"
    sources = sorted(package.glob("*.py"))
    assert len(sources) >= 8
    for source in sources:
        found = SAMPLE_WORDS.findall(source.read_text())
        assert not found, (source.name, found)


def test_generate_lists_each_dropped_candidate_with_its_doc_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    (tmp_path / "scope.toml").write_text(SCOPE)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DRAFTGATE_"))}
    env.update({"PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200"})

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "draftgate", "--ledger", "l.sqlite", *args]
        return subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )

    assert run("ingest", "docs").returncode == ExitCode.OK
    generate = run("generate", "--scope", "scope.toml", "--kinds", "negative", "--quiet")
    assert generate.returncode == ExitCode.OK, generate.stderr
    listed = generate.stdout[generate.stdout.index("dropped candidates") :]
    [row] = [line for line in listed.splitlines() if "calendar sync" in line]
    assert "feature_in_docs" in row and "deadlines.md:3" in row


def test_the_review_card_shows_what_the_docs_say(drafted: tuple[Ledger, list[Draft]]) -> None:
    ledger, drafts = drafted
    [offline] = [d for d in drafts if d.meta.get("feature") == "offline mode"]
    item = ReviewItem(0, offline, ledger.get_chunk(offline.chunk_id), "intro.md", False, False)
    shown = meta_text(item).plain
    assert "The docs say" in shown
    assert "“Orbitly does not support offline mode.”" in shown
    assert offline.meta["docs_deny"][0]["at"] in shown


def test_candidates_past_the_per_chunk_count_are_listed_not_lost(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "intro.md").write_text(DOCS["intro.md"])
    (tmp_path / "scope.toml").write_text(SCOPE)
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ingest_folder(ledger, docs)
        report = run_rules_drafter(ledger, load_scope(tmp_path / "scope.toml"), ["negative"], 1)
        drafted = {d.meta["feature"] for _, d in ledger.pending_drafts(limit=100)}
        over = {r["name"] for r in report.dropped_drafts if r["reason"] == "per_chunk_full"}
        # Every negative the intro holds is either drafted or listed as left out.
        assert drafted | over >= {"offline mode", "invoicing", "tax filing", "video calls"}
        assert len(drafted) == len(ledger.generation_calls()) and not drafted & over
        for call in ledger.generation_calls():
            assert call.requested == call.produced + sum(call.dropped.values())
