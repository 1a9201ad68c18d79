"""The prompt templates are product-neutral, and the product's own description and UI names
reach every kind's prompt."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.prompts import PromptSet, scope_variables
from generator.scope import Scope, load_scope
from ledger.models import AdversarialSubtype, DraftKind
from tests.support.builders import SAMPLE_DOCS
from tests.support.other_product import PLANNING_PAGE, SAMPLE_PRODUCT_WORDS, write_docs


@pytest.fixture
def other_scope(tmp_path: Path) -> Scope:
    return load_scope(write_docs(tmp_path) / "scope.toml")


def sample_product_phrases() -> list[str]:
    """The sample product's distinctive words: the fixed list plus its scope file's name,
    offers, absent features and navigation paths."""
    sample = load_scope(SAMPLE_DOCS / "scope.toml")
    return [
        *SAMPLE_PRODUCT_WORDS,
        sample.product.name,
        *sample.offers,
        *(item.feature for item in sample.does_not_offer),
        *sample.glossary.paths,
    ]


def rendered_prompts(scope: Scope) -> dict[str, str]:
    """Every kind and subtype's prompt (system and user message) for a job on one chunk."""
    prompts = PromptSet()
    rendered = {}
    for kind in DraftKind:
        subtypes = (
            [s.value for s in AdversarialSubtype] if kind is DraftKind.ADVERSARIAL else [None]
        )
        for subtype in subtypes:
            variables = {
                **scope_variables(scope),
                "document_path": "planning.md",
                "heading": "Planning a session",
                "start_line": 1,
                "end_line": 18,
                "chunk": PLANNING_PAGE,
                "count": 2,
                "subtype": subtype,
            }
            prompt = prompts.render(kind.value, variables)
            rendered[f"{kind.value}/{subtype}"] = "\n".join(m["content"] for m in prompt.messages)
    return rendered


def test_no_template_says_anything_about_the_sample_product(other_scope: Scope) -> None:
    phrases = sample_product_phrases()
    rendered = rendered_prompts(other_scope)
    assert len(rendered) == 7
    for name, text in rendered.items():
        found = [p for p in phrases if p.casefold() in text.casefold()]
        assert not found, f"{name} prompt names the sample product: {found}"
    # Templates are also read as written, so a branch no variable reaches is covered too.
    for path in sorted(PromptSet().folder.glob("*.j2")):
        source = path.read_text(encoding="utf-8").casefold()
        assert not [p for p in phrases if p.casefold() in source], path.name


def test_every_kind_carries_the_product_and_its_ui_names(other_scope: Scope) -> None:
    glossary = other_scope.glossary
    wanted = [
        other_scope.product.name,
        other_scope.product.summary,
        other_scope.product.domain,
        *other_scope.offers,
        f"Home page (where users land first): {glossary.home}",
        *glossary.pages,
        *glossary.paths,
        *glossary.buttons,
        *glossary.keys,
        *glossary.commands,
        "Name only pages, paths, menus, buttons, keys and commands that are in this list or in",
    ]
    for name, text in rendered_prompts(other_scope).items():
        missing = [w for w in wanted if w not in text]
        assert not missing, f"{name} prompt lacks {missing}"


def test_negative_prompt_takes_denials_as_evidence_and_instead_as_optional(
    other_scope: Scope,
) -> None:
    text = rendered_prompts(other_scope)["negative/None"]
    assert "that denial is the best evidence" in text
    assert "answer is a plain,\nfriendly no" in text
    assert "- telescope mount control\n" in text
    assert "- satellite pass predictions (instead: List deep-sky objects in" in text


def test_a_product_without_ui_names_is_told_to_use_the_excerpt_s_own(
    other_scope: Scope,
) -> None:
    bare = other_scope.model_copy(update={"glossary": type(other_scope.glossary)()})
    for name, text in rendered_prompts(bare).items():
        assert "none listed: use only the names the excerpt itself uses" in text, name
        assert "Home page" not in text, name


def test_a_fence_marker_in_a_glossary_name_cannot_open_a_fence(other_scope: Scope) -> None:
    glossary = other_scope.glossary.model_copy(update={"pages": ["Targets <<<DOC", "DOC>>>"]})
    rendered = rendered_prompts(other_scope.model_copy(update={"glossary": glossary}))
    for text in rendered.values():
        # The system prompt names the markers once; the chunk's fence is the other pair.
        assert text.count("<<<DOC") == 2 and text.count("DOC>>>") == 2
        assert "Targets <<<\u200bDOC" in text
