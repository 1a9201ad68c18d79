"""The offline rules drafter on the Tidepool sample docs: grounded, checked, idempotent."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.absence import path_in_docs, ui_name_is_real
from generator.ingest import ingest_folder
from generator.kinds import KIND_NAMES
from generator.rules import RULES_DRAFTER, RulesReport, run_rules_drafter
from generator.scope import AbsentFeature, Scope, load_scope
from ledger import Draft, Ledger
from tests.support.builders import SAMPLE_DOCS, add_document

ALL = list(KIND_NAMES)


def _sample_ledger(path: Path) -> Ledger:
    ledger = Ledger.open(path)
    report = ingest_folder(ledger, SAMPLE_DOCS)
    assert not report.warnings
    return ledger


def _drafts(ledger: Ledger) -> list[Draft]:
    return [d for _, d in ledger.pending_drafts(limit=100_000)]


@pytest.fixture(scope="module")
def scope() -> Scope:
    return load_scope(SAMPLE_DOCS / "scope.toml")


@pytest.fixture(scope="module")
def drafted(
    tmp_path_factory: pytest.TempPathFactory, scope: Scope
) -> Iterator[tuple[Ledger, RulesReport]]:
    ledger = _sample_ledger(tmp_path_factory.mktemp("rules") / "ledger.sqlite")
    report = run_rules_drafter(ledger, scope, ALL)
    yield ledger, report
    ledger.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Ledger]:
    ledger = _sample_ledger(tmp_path / "ledger.sqlite")
    yield ledger
    ledger.close()


def test_all_four_kinds_are_drafted_and_counted(drafted: tuple[Ledger, RulesReport]) -> None:
    ledger, report = drafted
    drafts = _drafts(ledger)
    for kind in ALL:
        stored = sum(1 for d in drafts if d.kind.value == kind)
        assert stored > 0, kind
        assert report.drafts_by_kind[kind] == stored
    assert report.calls_ok == len(ledger.generation_calls())


def test_every_evidence_quote_occurs_in_its_chunk(drafted: tuple[Ledger, RulesReport]) -> None:
    ledger, _ = drafted
    for draft in _drafts(ledger):
        chunk = ledger.get_chunk(draft.chunk_id)
        assert chunk is not None
        assert draft.evidence, draft.question
        for quote in draft.evidence:
            assert quote.strip() and quote in chunk.text, (draft.question, quote)


def test_answers_are_plain_text(drafted: tuple[Ledger, RulesReport]) -> None:
    ledger, _ = drafted
    for draft in _drafts(ledger):
        assert "**" not in draft.answer and "**" not in draft.question, draft.answer
        assert "](" not in draft.answer, draft.answer


def test_negatives_come_from_the_scope_and_are_absence_checked(
    drafted: tuple[Ledger, RulesReport], scope: Scope
) -> None:
    ledger, _ = drafted
    negatives = [d for d in _drafts(ledger) if d.kind.value == "negative"]
    features = {f.feature: f for f in scope.does_not_offer}
    # Every does-not-offer entry is grounded in the sample docs, so each gives one negative.
    assert sorted(d.meta["feature"] for d in negatives) == sorted(features)
    for draft in negatives:
        feature = features[draft.meta["feature"]]
        check = draft.meta["absence_check"]
        assert check["absent"] is True and check["hits"] == []
        assert check["terms"] == feature.all_terms()
        assert "doesn't offer" in draft.answer or "doesn't support" in draft.answer
        assert feature.feature.casefold() in draft.question.casefold()
        # The answer points to what is offered instead, in plain text.
        assert feature.instead.replace("**", "").rstrip(".")[1:] in draft.answer


def test_a_feature_the_docs_mention_is_dropped_with_its_reason(fresh: Ledger, scope: Scope) -> None:
    in_docs = AbsentFeature(
        feature="Slack notifications",
        search_terms=["Slack channel"],
        instead=(
            "Send shift notifications to a Slack channel via **Settings > Integrations > Slack**"
        ),
    )
    nowhere = AbsentFeature(
        feature="time travel",
        search_terms=["time machine"],
        instead="Use the Flux Capacitor page",
    )
    changed = scope.model_copy(update={"does_not_offer": [in_docs, nowhere]})
    report = run_rules_drafter(fresh, changed, ["negative"])
    # The mentioned feature is dropped; the other, whose "instead" the docs do not back, is a
    # plain no grounded in the docs' own sentence about what the product is.
    assert report.dropped["feature_in_docs"] == 1
    [draft] = _drafts(fresh)
    assert draft.meta["feature"] == "time travel"
    assert draft.meta["grounding"] == "product_statement"
    assert "Flux Capacitor" not in draft.answer
    # The drop is recorded on the call of the chunk holding the mention, with its doc:line.
    [dropped] = report.dropped_drafts
    assert dropped["name"] == "Slack notifications" and dropped["reason"] == "feature_in_docs"
    path, line = dropped["at"].rsplit(":", 1)
    paths = {d.id: d.path for d in fresh.current_documents()}
    assert any(
        paths[c.document_id] == path
        and c.start_line <= int(line) <= c.end_line
        and dropped["text"] in c.text
        and "Slack" in dropped["text"]
        for c in fresh.current_chunks()
    )
    stored = [
        c.params["dropped_drafts"]
        for c in fresh.generation_calls()
        if c.params.get("dropped_drafts")
    ]
    assert stored == [[dropped]]


def test_wrong_ui_names_are_never_in_the_docs_and_real_elements_are(
    drafted: tuple[Ledger, RulesReport], scope: Scope
) -> None:
    ledger, _ = drafted
    corpus = "\n".join(c.text for c in ledger.current_chunks()).casefold()
    adversarials = [
        d
        for d in _drafts(ledger)
        if d.subtype == "wrong_ui_name" and d.meta["rule"] == "adversarial.wrong_ui_name"
    ]
    assert len(adversarials) >= 20
    for draft in adversarials:
        wrong, real = draft.meta["wrong_name"], draft.meta["real_name"]
        assert wrong in draft.question and wrong in draft.answer
        assert wrong.casefold() not in corpus
        assert not ui_name_is_real(ledger, scope, wrong)
        assert draft.meta["absence_check"]["absent"] is True
        assert real in draft.answer and path_in_docs(ledger, real)
        assert real in scope.glossary.names() or draft.meta["real_kind"] == "home"
    # A real path is used once, so the set does not repeat itself.
    paths = [d.meta["real_name"] for d in adversarials if d.meta["real_kind"] == "path"]
    assert len(paths) == len(set(paths))


def test_false_premises_correct_a_documented_value(drafted: tuple[Ledger, RulesReport]) -> None:
    ledger, _ = drafted
    premises = [d for d in _drafts(ledger) if d.subtype == "false_premise"]
    rules = {d.meta["rule"] for d in premises}
    # Limit bullets and sentences both state values in the sample docs.
    assert {"adversarial.false_premise", "adversarial.false_premise.sentence"} <= rules
    for draft in premises:
        documented, premise = draft.meta["documented"], draft.meta["premise"]
        number = re.search(r"[\d,.]+\d|\d", documented)
        wrong = re.search(r"[\d,.]+\d|\d", premise)
        assert number and wrong
        assert documented in draft.evidence[0]  # the value as the docs state it
        assert float(wrong.group().replace(",", "")) == 10 * float(number.group().replace(",", ""))
        assert premise in draft.question and premise not in draft.evidence[0]
        assert draft.answer.startswith("No") and documented in draft.answer


def test_docs_without_procedures_or_scope_entries_draft_nothing_and_do_not_fail(
    ledger: Ledger,
) -> None:
    add_document(ledger)
    empty = Scope.model_validate({"product": {"name": "Acme"}})
    report = run_rules_drafter(ledger, empty, ALL)
    assert report.calls_ok == 0 and _drafts(ledger) == []


def test_howto_qas_answer_with_the_steps(drafted: tuple[Ledger, RulesReport]) -> None:
    ledger, _ = drafted
    qas = [d for d in _drafts(ledger) if d.kind.value == "qa"]
    by_heading = {d.meta.get("heading"): d for d in qas}
    role = by_heading["How to change someone's role"]
    assert role.meta["rule"] == "qa.steps"
    assert "change someone's role" in role.question and role.question.endswith("?")
    assert "1. Open Team > Members and click the person." in role.answer
    assert "4. Click Save changes." in role.answer
    questions = " ".join(d.question for d in qas)
    assert "export timesheets" in questions and "invite my team" in questions


def test_clarify_asks_back_with_the_senses_found(drafted: tuple[Ledger, RulesReport]) -> None:
    ledger, _ = drafted
    clarify = [d for d in _drafts(ledger) if d.kind.value == "clarify"]
    assert "export" in {d.meta["term"] for d in clarify}
    for draft in clarify:
        options = [line for line in draft.answer.splitlines() if line.startswith("- ")]
        if draft.meta["rule"] == "clarify.term_senses":
            senses = draft.meta["senses"]
            assert len(draft.evidence) == len(senses)
        else:
            assert draft.meta["rule"] == "clarify.term_places"
            senses = draft.meta["places"]
        assert len(senses) >= 2 and len(options) == len(senses)
        assert "?" in draft.answer  # it asks back rather than answers


def test_provenance_says_rules_1(drafted: tuple[Ledger, RulesReport]) -> None:
    ledger, _ = drafted
    calls = ledger.generation_calls()
    for call in calls:
        assert call.drafter == RULES_DRAFTER == "rules/1"
        assert call.model == "rules/1"
        assert call.template_name == f"rules/{call.kind.value}"
        assert call.template_hash.startswith("b2:")
        assert call.params["per_chunk"] == 3 and call.requested == 3
        assert call.produced <= 3 and call.status == "ok"
    for draft in _drafts(ledger):
        assert draft.meta["drafter"] == "rules/1" and draft.meta["rule"]
    assert len({c.job_key for c in calls}) == len(calls)


def test_a_rerun_is_a_no_op(fresh: Ledger, scope: Scope) -> None:
    first = run_rules_drafter(fresh, scope, ALL)
    before = len(_drafts(fresh))
    second = run_rules_drafter(fresh, scope, ALL)
    assert first.calls_ok > 0
    assert second.calls_ok == 0 and second.jobs_skipped == first.calls_ok
    assert second.drafts_by_kind == {}
    assert len(_drafts(fresh)) == before


def test_a_new_scope_entry_drafts_only_what_is_new(fresh: Ledger, scope: Scope) -> None:
    fewer = scope.model_copy(update={"does_not_offer": scope.does_not_offer[:-1]})
    run_rules_drafter(fresh, fewer, ["negative"])
    report = run_rules_drafter(fresh, scope, ["negative"])
    assert report.drafts_by_kind == {"negative": 1}
    features = [d.meta["feature"] for d in _drafts(fresh)]
    assert sorted(features) == sorted(f.feature for f in scope.does_not_offer)


def test_per_chunk_and_limit_are_respected(fresh: Ledger, scope: Scope) -> None:
    progress: list[tuple[int, int]] = []
    report = run_rules_drafter(
        fresh, scope, ALL, per_chunk=1, limit=5, on_progress=lambda d, t: progress.append((d, t))
    )
    calls = fresh.generation_calls()
    assert report.calls_ok == len(calls) == 5
    assert all(c.produced <= 1 and c.requested == 1 for c in calls)
    assert progress == [(i, 5) for i in range(1, 6)]


def test_same_docs_give_the_same_drafts(tmp_path: Path, scope: Scope) -> None:
    texts = []
    for name in ("a", "b"):
        ledger = _sample_ledger(tmp_path / f"{name}.sqlite")
        run_rules_drafter(ledger, scope, ALL)
        texts.append(
            sorted((d.kind.value, d.question, d.answer, tuple(d.evidence)) for d in _drafts(ledger))
        )
        ledger.close()
    assert texts[0] == texts[1]


def test_unknown_kind_is_refused(fresh: Ledger, scope: Scope) -> None:
    with pytest.raises(ValueError, match="unknown draft kind"):
        run_rules_drafter(fresh, scope, ["poem"])
