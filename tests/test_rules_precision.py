"""Drafts the rules drafter leaves out because a reviewer would reject or rewrite them: steps
that swallow a callout or flatten a code block, "how do I" answers that say nothing to do,
openings that point at steps the answer lacks, and questions no user would type."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.ingest import ingest_folder
from generator.init_scope import draft_scope
from generator.rules import run_rules_drafter
from generator.rules.elements import role_of
from generator.rules.text import sections_of, step_spans
from generator.scope import Scope
from ledger import Draft, Ledger

DOCS = {
    "tokens.mdx": """# Tokens

## Create a token

Follow these steps to create a new token and manage its settings. Tokens cannot read the
data in your personal space.

## Delete a recipe

To delete a recipe, open it and click **Delete** at the bottom of the page; the recipe stays
in the trash for 30 days before it is gone for good.

## Manage kitchen groups

Kitchen groups can be managed by admins to ensure that the right cooks always have the
appropriate permissions for every recipe they work on.

## Connect the printer

1. Open **Settings > Devices**.
2. Run this command on the printer's computer:

    ```
    acme-print --pair
    ```

3. Click **Pair**.

## Import a menu

1. Open **Menus**.
2. Click **Import** and choose the file.
3. Click **Save**.

<Info>
  **Imported menus:** Imported menus keep the names of their dishes, and their prices are
  converted to your kitchen's currency.
</Info>

## Share a token

1. Open the token.
2. Click **Share** and pick the cook.

## Steps for printer setup

1. Open **Settings > Devices**.
2. Click **Add printer**.
3. Choose the printer and click **Save**.
""",
    "guide.md": """# Guide

## Scripts

Acme lets you run code around each order. Your code runs at two moments in the flow:

- Scripts run after the order is placed
- You can add several scripts to an order
- Scripts work on saved and unsaved orders

## Requirements

Before you begin, ensure you have the following:

- The Acme app on your computer
- A printer certificate in one of these formats:
    - .pem certificate
    - .pfx certificate

## Display settings

- **Dark mode**: Uses dark colours for every page of the app after sunset.
- **When enabled**: The app also dims the photos of your recipes at night.

## Implicit

The Implicit grant is meant for apps in a browser, where the token comes back at once
without a code exchange.

## Invite cooks

Admins invite the cooks of a kitchen.

### Without email

1. Open **Kitchen > Cooks**.
2. Click **Invite** and copy the link.
3. Send the link to the cook.
""",
    "cooking.md": """# Cooking

## Share a recipe

1. Open the recipe.
2. Click **Share** and pick the cooks.

## Share a menu

1. Open the menu.
2. Click **Share** and pick the kitchens.

## Shared lists

Everything others shared with you is in one list. Each share stays there until its owner
removes it.

Navigate to Menu > Shared lists.

**Tuesday Lunch Summary**

Open the **Favourites** page to see the recipes you starred.
""",
}


@pytest.fixture(scope="module")
def drafts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Draft]]:
    root = tmp_path_factory.mktemp("acme")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    with Ledger.open(root / "ledger.sqlite") as ledger:
        ingest_folder(ledger, docs)
        scope = Scope.model_validate({"product": {"name": "Acme"}})
        run_rules_drafter(ledger, scope, ["qa", "clarify"])
        yield [d for _, d in ledger.pending_drafts(limit=10_000)]


def _qas_under(drafts: list[Draft], heading: str) -> list[Draft]:
    return [d for d in drafts if d.kind.value == "qa" and d.meta.get("heading") == heading]


def test_a_step_list_ends_at_a_block_indented_less_than_its_text() -> None:
    # An MDX component's tag lines are blanked at ingest, leaving its body indented by two.
    text = "## Import\n\n1. Open **Menus**.\n2. Click **Save**.\n\n\n  **Note:** Prices convert.\n"
    (section,) = [s for s in sections_of(text, []) if s.heading == "Import"]
    spans = step_spans(section)
    assert [text[a:b] for a, b in spans] == ["1. Open **Menus**.", "2. Click **Save**."]


def test_an_indented_paragraph_after_a_blank_line_stays_in_its_step() -> None:
    text = (
        "## Pair\n\n1. Open **Devices**.\n\n   The list shows every device.\n2. Click **Pair**.\n"
    )
    (section,) = [s for s in sections_of(text, []) if s.heading == "Pair"]
    first, second = step_spans(section)
    assert text[first[0] : first[1]].endswith("The list shows every device.")
    assert text[second[0] : second[1]] == "2. Click **Pair**."


def test_steps_after_a_callout_leave_the_callout_out(drafts: list[Draft]) -> None:
    (draft,) = _qas_under(drafts, "Import a menu")
    assert draft.answer.endswith("3. Click Save.")
    assert "prices are" not in draft.answer


def test_a_step_holding_a_code_block_drafts_no_steps(drafts: list[Draft]) -> None:
    assert not [d for d in _qas_under(drafts, "Connect the printer") if "```" in d.answer]
    assert not [d for d in _qas_under(drafts, "Connect the printer") if "acme-print" in d.answer]


def test_an_opening_that_points_at_missing_steps_is_no_answer(drafts: list[Draft]) -> None:
    assert _qas_under(drafts, "Create a token") == []


def test_a_how_question_needs_an_answer_that_says_what_to_do(drafts: list[Draft]) -> None:
    assert _qas_under(drafts, "Manage kitchen groups") == []
    (deleting,) = _qas_under(drafts, "Delete a recipe")
    assert "click Delete" in deleting.answer


def test_a_steps_heading_is_not_repeated_in_the_question(drafts: list[Draft]) -> None:
    (draft,) = _qas_under(drafts, "Steps for printer setup")
    assert "printer setup" in draft.question
    # "What are the steps for printer setup", never "... through steps for printer setup".
    assert not re.search(r"(?<!the )steps for printer setup", draft.question.lower())


def test_clarify_questions_name_an_object(drafts: list[Draft]) -> None:
    share = [d for d in drafts if d.meta.get("rule") == "clarify.term_places"]
    assert share, "the fixture shares a token, a recipe and a menu"
    for draft in share:
        assert "something" in draft.question or "things" in draft.question, draft.question


def test_init_paths_leave_out_the_verb_that_leads_to_them(tmp_path: Path) -> None:
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    paths = [name for name, _ in draft_scope(tmp_path).paths.ranked()]
    assert "Menu > Shared lists" in paths
    assert not [p for p in paths if p.lower().startswith(("navigate", "open "))]


def test_init_takes_no_page_name_from_a_bold_caption_line(tmp_path: Path) -> None:
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    pages = [name for name, _ in draft_scope(tmp_path).pages.ranked()]
    assert "Favourites" in pages
    assert "Tuesday Lunch Summary" not in pages


def test_a_list_that_is_not_the_one_its_intro_counts_is_no_answer(drafts: list[Draft]) -> None:
    assert _qas_under(drafts, "Scripts") == []


def test_nested_list_items_stay_nested(drafts: list[Draft]) -> None:
    (draft,) = _qas_under(drafts, "Requirements")
    assert "\n  - .pem certificate\n  - .pfx certificate" in draft.answer
    assert "\n- The Acme app on your computer" in draft.answer


def test_a_setting_state_is_not_a_setting(drafts: list[Draft]) -> None:
    names = [d.question for d in drafts if d.meta.get("rule") == "qa.setting"]
    assert any("Dark mode" in q for q in names)
    assert not any("When enabled" in q for q in names)


def test_a_definition_asks_about_the_thing_as_the_docs_name_it(drafts: list[Draft]) -> None:
    (draft,) = _qas_under(drafts, "Implicit")
    assert "the Implicit grant" in draft.question


def test_a_heading_starting_with_a_preposition_asks_about_the_task_above(
    drafts: list[Draft],
) -> None:
    (draft,) = _qas_under(drafts, "Without email")
    assert "invite cooks without email" in draft.question


def test_only_a_page_about_the_user_plays_the_account_role() -> None:
    assert role_of("Profile") == "account"
    assert role_of("My Account") == "account"
    assert role_of("Account settings") == "account"
    # A product's own accounts (a budget's bank accounts, an example's statement) are not it.
    assert role_of("Close Account") is None
    assert role_of("Joint Account") is None
    assert role_of("Chase Account Summary") is None


def test_init_takes_no_denial_from_a_section_weighing_trade_offs(tmp_path: Path) -> None:
    (tmp_path / "budget.md").write_text(
        "# Budgeting\n\nAcme does not support offline mode.\n\n"
        "## Cons of not pooling money\n\nYou don't have a zero based budget.\n",
        encoding="utf-8",
    )
    denials = [name.lower() for name, _ in draft_scope(tmp_path).denials.ranked()]
    assert "offline mode" in denials
    assert not [d for d in denials if "zero based" in d]


def test_the_rules_mine_no_negative_from_template_notes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "templates.md").write_text(
        "# Templates\n\nTemplates fill a budget from a note.\n\n"
        "## Notes on all templates\n\nThousands separators are not supported (e.g., 1,234).\n\n"
        "## Sharing\n\nAcme does not support shared templates.\n",
        encoding="utf-8",
    )
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ingest_folder(ledger, docs)
        run_rules_drafter(ledger, Scope.model_validate({"product": {"name": "Acme"}}), ["negative"])
        features = [d.meta.get("feature") for _, d in ledger.pending_drafts(limit=100)]
    assert "shared templates" in features
    assert not [f for f in features if "separator" in str(f)]
