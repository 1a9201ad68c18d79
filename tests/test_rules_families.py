"""The rules drafter's Q&A, clarify and false-premise families on a second, unrelated product's
docs: any section with substance makes a Q&A, values anywhere make false premises, words used
for different things make clarify drafts, and answers carry no site markup."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.ingest import ingest_folder
from generator.rules import run_rules_drafter
from generator.rules.markup import clean_answer, key_text
from generator.rules.phrasing import Phrasing
from generator.scope import Scope
from ledger import Draft, Ledger

REPO = Path(__file__).resolve().parents[1]
SAMPLE_WORDS = re.compile(r"(?i)\b(tidepool|timesheets?|payroll|gusto)\b")

DOCS = {
    "recipes.md": """# Recipes

## Creating a recipe

Recipes hold the ingredients and steps of one dish.

1. Open **Kitchen > Recipes**.
2. Click **New recipe**.
3. Enter a name and press ++ctrl+s++ to save.

## Import recipes

- Open the **Import** menu.
- Choose a file from your computer.
- Confirm the ingredient mapping.

## Sharing a recipe with the crew

You can share a recipe with every cook in your kitchen from the recipe page by clicking
**Share**. Cooks see shared recipes in their own list right away.

## Pantries

A pantry is a list of the ingredients you keep in stock, with their quantities.

## Export recipes

Export writes every recipe to a JSON file that another kitchen can import.
""",
    "settings.md": """# Settings

## Display options

| Option | Description |
| --- | --- |
| Compact mode | Shows more recipes on one screen by hiding photos. |
| Metric units | Shows quantities in grams and litres instead of cups. |

- **Auto-save**: Saves a recipe every minute while you edit it.
- **Night theme**: Uses dark colours after sunset.

## Limits and plans

Uploaded photos can be up to 8 MB each.

| Plan | Price | Recipes |
| --- | --- | --- |
| Basic | $4 | 100 recipes |
| Team | $12 | 1,000 recipes |

## Export settings

Export settings decide which fields an export file includes.
""",
    "keys.md": """# Keyboard shortcuts

## Global shortcuts

| Key | Action | Info |
|-----|--------|------|
| `` <ctrl+f> `` | Search recipes | Search every recipe by name. |
| `` n `` | New recipe | |
| `` <c-e> `` | Export the current list | Writes the list to a file. |

## Configuration

Options go in `config.yml`:

```yaml
editor:
  # Seconds of inactivity before a draft recipe is saved
  autosaveDelay: 30
  # Show the ingredient photos in lists
  showPhotos: true
```
""",
    "reports.md": """# Reports

## Export a report

1. Open **Reports**.
2. Click **Export**.

## Cost reports

Cost reports add up what each recipe's ingredients cost.
""",
}


def _drafts(ledger: Ledger) -> list[Draft]:
    return [d for _, d in ledger.pending_drafts(limit=100_000)]


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Ledger, list[Draft]]]:
    root = tmp_path_factory.mktemp("acme")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    ledger = Ledger.open(root / "ledger.sqlite")
    ingest_folder(ledger, docs)
    scope = Scope.model_validate({"product": {"name": "Acme"}})
    run_rules_drafter(ledger, scope, ["qa", "adversarial", "clarify"])
    yield ledger, _drafts(ledger)
    ledger.close()


def _by_rule(drafts: list[Draft], rule: str) -> list[Draft]:
    return [d for d in drafts if d.meta.get("rule") == rule]


def test_every_family_drafts_from_plain_docs(drafted: tuple[Ledger, list[Draft]]) -> None:
    _, drafts = drafted
    rules = Counter(d.meta["rule"] for d in drafts)
    for rule in (
        "qa.steps",
        "qa.explained",
        "qa.definition",
        "qa.table_row",
        "qa.setting",
        "qa.key_binding",
        "qa.config_key",
        "adversarial.false_premise.sentence",
        "adversarial.false_premise.table",
        "adversarial.false_premise.default",
        "clarify.term_places",
    ):
        assert rules[rule] > 0, (rule, rules)


def test_evidence_is_exact_and_answers_are_plain(drafted: tuple[Ledger, list[Draft]]) -> None:
    ledger, drafts = drafted
    for draft in drafts:
        chunk = ledger.get_chunk(draft.chunk_id)
        assert chunk is not None and draft.evidence
        for quote in draft.evidence:
            assert quote.strip() and quote in chunk.text, (draft.question, quote)
        for marker in ("**", "++", "<kbd>", "](", "![", ":::"):
            assert marker not in draft.answer, (marker, draft.answer)
        assert not SAMPLE_WORDS.search(draft.question + draft.answer), draft.question


def test_steps_under_any_heading(drafted: tuple[Ledger, list[Draft]]) -> None:
    _, drafts = drafted
    steps = {d.meta["heading"]: d for d in _by_rule(drafts, "qa.steps")}
    creating = steps["Creating a recipe"]
    assert "create a recipe" in creating.question
    assert creating.answer.startswith("Recipes hold the ingredients")  # the section's intro
    assert "2. Click New recipe." in creating.answer
    assert "press Ctrl+S to save" in creating.answer  # site key notation as people read it
    bullets = steps["Import recipes"]  # an imperative heading over a bulleted list
    assert "import recipes" in bullets.question
    assert "1. Open the Import menu." in bullets.answer


def test_reference_material_answers_what_it_describes(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    _, drafts = drafted
    rows = {d.evidence[0]: d for d in _by_rule(drafts, "qa.table_row")}
    compact = next(d for quote, d in rows.items() if "Compact mode" in quote)
    assert "Compact mode" in compact.question
    assert compact.answer == "Shows more recipes on one screen by hiding photos."
    setting = next(d for d in _by_rule(drafts, "qa.setting") if "Auto-save" in d.question)
    assert setting.answer == "Auto-save: Saves a recipe every minute while you edit it."
    keys = {d.answer.split(".")[0]: d for d in _by_rule(drafts, "qa.key_binding")}
    assert "search recipes" in keys["Press Ctrl+F"].question
    assert keys["Press Ctrl+F"].answer == "Press Ctrl+F. Search every recipe by name."
    config = next(d for d in _by_rule(drafts, "qa.config_key") if "autosaveDelay" in d.question)
    assert "editor.autosaveDelay" in config.question
    assert config.answer.endswith("The default is 30.")
    definition = _by_rule(drafts, "qa.definition")[0]
    assert "pantr" in definition.question.lower()
    assert definition.answer.startswith("A pantry is a list")


def test_false_premises_from_sentences_tables_and_defaults(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    _, drafts = drafted
    sentence = _by_rule(drafts, "adversarial.false_premise.sentence")
    assert [d.meta["documented"] for d in sentence] == ["8 MB"]
    assert "80 MB" in sentence[0].question
    assert sentence[0].answer == "No, not 80 MB. Uploaded photos can be up to 8 MB each."
    table = _by_rule(drafts, "adversarial.false_premise.table")
    assert "$4" in {d.meta["documented"] for d in table}
    basic = next(d for d in table if d.meta["documented"] == "$4")
    assert "$40" in basic.question and basic.answer == "No. The price for Basic is $4, not $40."
    default = _by_rule(drafts, "adversarial.false_premise.default")[0]
    assert "300" in default.question
    assert default.answer.startswith("No. editor.autosaveDelay defaults to 30, not 300.")


def test_clarify_names_the_places_a_word_means_different_things(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    _, drafts = drafted
    export = [d for d in _by_rule(drafts, "clarify.term_places") if d.meta["term"] == "export"]
    assert export
    draft = export[0]
    places = {p["heading"] for p in draft.meta["places"]}
    assert {"Export recipes", "Export settings", "Export a report"} <= places
    options = [line for line in draft.answer.splitlines() if line.startswith("- ")]
    assert len(options) == len(draft.meta["places"])
    assert "export" in draft.question and "?" in draft.answer


def test_question_phrasings_spread_over_a_family(
    drafted: tuple[Ledger, list[Draft]],
) -> None:
    phrasing = Phrasing()
    pool = ["a {x}", "b {x}", "c {x}", "d {x}"]
    picks = Counter(phrasing.pick(pool, f"key{i}") for i in range(12))
    assert set(picks.values()) == {3}
    _, drafts = drafted
    qa = [d.question.split(" ")[0] for d in drafts if d.kind.value == "qa"]
    assert len(set(qa)) >= 3  # not one opening for every Q&A


def test_clean_answer_and_key_text() -> None:
    assert key_text("<ctrl+r>") == "Ctrl+R"
    assert key_text("K") == "K" and key_text("++ctrl+alt+p++") == "Ctrl+Alt+P"
    raw = ":::tip\nPress ++ctrl+s++ or <kbd>Tab</kbd>. ![shot](a.png) See **Save**.\n:::"
    assert clean_answer(raw) == "Press Ctrl+S or Tab. See Save."
    assert clean_answer("Keep <c-r> as written.") == "Keep <c-r> as written."


def test_the_families_name_no_sample_product_words() -> None:
    for name in (
        "qa",
        "qa_reference",
        "clarify",
        "clarify_places",
        "false_premise",
        "config_block",
        "markup",
        "phrasing",
    ):
        source = (REPO / "generator" / "rules" / f"{name}.py").read_text(encoding="utf-8")
        assert not SAMPLE_WORDS.search(source), name
