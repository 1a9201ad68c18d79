"""Small pieces of the generator: template protection, grounding, dedup, job keys, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ValidationError

from generator.calls import JobSpec, build_call, job_key
from generator.dedup import DedupIndex
from generator.errors import SettingsError
from generator.kinds import KIND_NAMES, KINDS
from generator.prompts import (
    PromptSet,
    default_prompts_dir,
    defuse_fence,
    protect_from_templating,
)
from generator.schemas import AdversarialReply, QAReply, quote_in_chunk
from generator.settings import STRUCTURED_MODES, GenerateSettings
from ledger.models import AdversarialSubtype, DraftKind


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


# Keys of jobs that ledgers already hold as finished: a changed key makes a rerun draft (and
# pay for) every one of them again, so these literal values must never change.
_LLM_PARAMS = {"temperature": 0.7, "mode": "tools"}
STORED_KEYS = [
    (
        ("b2:chunk", "qa", None, "b2:tpl", "gpt-4o-mini", _LLM_PARAMS, 3),
        "b2:faaa2dc5a3b08e916927b155842576a0",
    ),
    (
        ("b2:chunk", "adversarial", "wrong_ui_name", "b2:tpl", "gpt-4o-mini", _LLM_PARAMS, 3),
        "b2:a0c0a6545311c8c3b589408cad2d1c37",
    ),
]


@pytest.mark.parametrize(("inputs", "stored"), STORED_KEYS)
def test_job_keys_of_stored_ledgers_are_unchanged(inputs: tuple, stored: str) -> None:
    assert job_key(*inputs) == stored
    chunk_hash, kind, subtype, template_hash, model, params, count = inputs
    spec = JobSpec(
        chunk_id="c1",
        chunk_text_hash=chunk_hash,
        kind=DraftKind(kind),
        subtype=subtype,
        drafter="llm",
        template_name=f"{kind}.j2",
        template_hash=template_hash,
        model=model,
        params=params,
        count=count,
    )
    assert spec.key == stored


def test_call_builder_records_the_job_and_its_outcome() -> None:
    spec = JobSpec(
        chunk_id="c1",
        chunk_text_hash="b2:chunk",
        kind=DraftKind.ADVERSARIAL,
        subtype="false_premise",
        drafter="llm",
        template_name="adversarial.j2",
        template_hash="b2:tpl",
        model="m",
        params=_LLM_PARAMS,
        count=3,
    )
    ok = build_call(spec, started_at="t0", produced=2, dropped={"duplicate_exact": 1})
    assert (ok.job_key, ok.status, ok.error, ok.requested, ok.produced) == (
        spec.key,
        "ok",
        None,
        3,
        2,
    )
    assert ok.params == {**_LLM_PARAMS, "count": 3, "subtype": "false_premise"}
    assert ok.dropped == {"duplicate_exact": 1} and ok.kind is DraftKind.ADVERSARIAL
    failed = build_call(
        spec,
        started_at="t0",
        produced=0,
        dropped={},
        error="timeout: 60 s",
        attempts=0,
        extra_params={"batch_id": "b1"},
    )
    assert (failed.status, failed.error, failed.attempts) == ("failed", "timeout: 60 s", 1)
    assert failed.params["batch_id"] == "b1" and failed.job_key == ok.job_key


def test_kinds_table_has_one_row_per_draft_kind() -> None:
    assert list(KINDS) == list(DraftKind) and tuple(k.value for k in DraftKind) == KIND_NAMES
    assert KINDS[DraftKind.ADVERSARIAL].subtypes == tuple(AdversarialSubtype)
    assert all(KINDS[k].subtypes == (None,) for k in DraftKind if k is not DraftKind.ADVERSARIAL)
    for kind, row in KINDS.items():
        assert (default_prompts_dir() / row.template_name).is_file(), kind


def test_settings_modes_are_the_clients_modes() -> None:
    from generator.client import MODES

    assert set(STRUCTURED_MODES) == set(MODES)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kinds": ("qa", "faq")}, "unknown kind(s) faq"),
        ({"kinds": ()}, "unknown kind(s) (none)"),
        ({"mode": "xml"}, "unknown mode 'xml'"),
        ({"limit": 0}, "limit must be at least 1"),
    ],
)
def test_settings_refuse_values_no_run_can_use(changes: dict, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        GenerateSettings(**changes)
    assert str(caught.value).startswith(message)


def test_cost_is_priced_per_million_tokens_and_halved_for_a_batch() -> None:
    settings = GenerateSettings(price_in_per_mtok=1.0, price_out_per_mtok=4.0, mode="json")
    assert settings.cost(2_000_000, 500_000) == pytest.approx(4.0)
    assert settings.cost(2_000_000, 500_000, batch=True) == pytest.approx(2.0)
    assert settings.job_params() == {"temperature": 0.7, "mode": "json"}
    assert not settings.uses_llm and GenerateSettings(api_key="sk-x").uses_llm


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
