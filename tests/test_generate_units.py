"""Small pieces of the generator: template protection, grounding, dedup, job keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ValidationError

from generator.dedup import DedupIndex
from generator.prompts import PromptSet, defuse_fence, protect_from_templating
from generator.runner import job_key
from generator.schemas import AdversarialReply, QAReply, quote_in_chunk


@pytest.mark.parametrize(
    "text",
    ["plain", "{{ 7*7 }} and {% if x %}", "{% raw %}x{% endraw %}{%- endraw -%}", "{# c #} }}"],
)
def test_protected_text_renders_to_itself_under_instructors_templating(text: str) -> None:
    # instructor renders every message with a SandboxedEnvironment when a context is passed.
    assert SandboxedEnvironment().from_string(protect_from_templating(text)).render(x=1) == text


def test_quote_matching_ignores_case_spacing_and_markdown_emphasis() -> None:
    chunk = "Open **Settings >  Billing** to\ndownload invoices."
    assert quote_in_chunk("settings > billing to download", chunk)
    assert not quote_in_chunk("settings > invoices", chunk)


def test_a_quote_of_a_defused_fence_marker_is_still_a_quote_of_the_docs() -> None:
    chunk = "Paste DOC>>> into the field and press Save."
    prompt_text = defuse_fence(chunk)
    assert prompt_text != chunk  # what the model saw carries the zero-width space
    assert quote_in_chunk(prompt_text[:22], chunk)


def test_reply_validation_uses_the_chunk_from_the_context() -> None:
    item = {"question": "Q?", "answer": "A.", "evidence": ["download invoices"]}
    context = {"chunk": "Go there to download invoices.", "count": 2}
    assert QAReply.model_validate({"items": [item]}, context=context).items[0].evidence
    with pytest.raises(ValidationError, match="duplicate question"):
        QAReply.model_validate({"items": [item, item]}, context=context)
    with pytest.raises(ValidationError, match="at most 1"):
        QAReply.model_validate(
            {"items": [item, {**item, "question": "Other?"}]}, context={**context, "count": 1}
        )
    with pytest.raises(ValidationError, match="not found in the document excerpt"):
        QAReply.model_validate(
            {"items": [{**item, "evidence": ["upload invoices"]}]}, context=context
        )


def test_wrong_ui_name_answer_must_name_the_real_path() -> None:
    item = {
        "subtype": "wrong_ui_name",
        "question": "Where is the Dashboard?",
        "answer": "There is none.",
        "evidence": ["Settings > Billing"],
        "wrong_name": "Dashboard",
        "real_path": "Settings > Billing",
    }
    context = {"chunk": "Open Settings > Billing.", "subtype": "wrong_ui_name"}
    with pytest.raises(ValidationError, match="must name the real path"):
        AdversarialReply.model_validate({"items": [item]}, context=context)
    item["answer"] = "There is no Dashboard; open Settings > Billing."
    assert AdversarialReply.model_validate({"items": [item]}, context=context)


def test_dedup_finds_exact_and_near_repeats_of_the_same_kind_only() -> None:
    index = DedupIndex.from_drafts([("qa", "How do I export timesheets to payroll?")])
    assert index.check("qa", "how do I export timesheets to payroll") == "duplicate_exact"
    assert index.check("qa", "How do I export timesheet to payroll?") == "duplicate_near"
    assert index.check("clarify", "How do I export timesheets to payroll?") is None
    assert index.check("qa", "How do I approve time off requests?") is None


def test_job_key_changes_with_template_model_params_and_count() -> None:
    base = ("b2:chunk", "qa", None, "b2:tpl", "m", {"temperature": 0.7}, 3)
    key = job_key(*base)
    assert job_key(*base) == key
    variants = [
        ("b2:chunk", "qa", None, "b2:tpl2", "m", {"temperature": 0.7}, 3),
        ("b2:chunk", "qa", None, "b2:tpl", "m2", {"temperature": 0.7}, 3),
        ("b2:chunk", "qa", None, "b2:tpl", "m", {"temperature": 0.2}, 3),
        ("b2:chunk", "qa", None, "b2:tpl", "m", {"temperature": 0.7}, 4),
    ]
    assert len({job_key(*v) for v in variants} | {key}) == 5


def test_template_hash_is_the_hash_of_the_template_text(tmp_path: Path) -> None:
    prompts = PromptSet()
    for name in ("system.j2", "_product.j2", "_chunk.j2", "qa.j2"):
        (tmp_path / name).write_text(prompts.source(name))
    copy = PromptSet(tmp_path)
    assert copy.template_hash("qa") == prompts.template_hash("qa")
    (tmp_path / "qa.j2").write_text(prompts.source("qa.j2") + "\nBe brief.\n")
    assert PromptSet(tmp_path).template_hash("qa") != prompts.template_hash("qa")


def test_error_text_bound_for_the_ledger_has_no_key() -> None:
    from generator.client import redact

    text = "Incorrect API key provided: sk-test-SECRET123 (also sk-proj-****abcd1234)"
    cleaned = redact(text, "sk-test-SECRET123")
    assert "SECRET123" not in cleaned and "abcd1234" not in cleaned
    assert cleaned.startswith("Incorrect API key provided: [redacted]")
