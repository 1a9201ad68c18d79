"""The generalization benchmark's measures: question templates and leftover markup."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench" / "generalization.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generalization", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_questions_that_differ_only_in_content_words_share_a_template() -> None:
    bench = _bench()
    one = bench.template_of("How do I export a budget?", "Acme")
    assert one == bench.template_of("How do I rename a payee?", "Acme") == "how do i _ a _"
    assert bench.template_of("Does Acme support SSO?", "Acme") == "does {p} _"
    assert bench.template_of("What does the Sync button do?", "Acme") != one


def test_markup_is_named_and_key_notation_in_angle_brackets_is_not() -> None:
    bench = _bench()
    assert bench.markup_in("Press ++ctrl+s++ to save.") == ["key notation"]
    assert bench.markup_in("Click **Save**.") == ["bold"]
    assert bench.markup_in("See <kbd>Tab</kbd>.") == ["html/jsx tag"]
    assert "image" in bench.markup_in("Look: ![x](a.png)")
    assert bench.markup_in("Press <c-r> or <space> to refresh.") == []


def test_the_sample_is_seeded_and_independent_of_draft_order() -> None:
    bench = _bench()

    class Draft:
        def __init__(self, n: int) -> None:
            self.question, self.answer = f"Q{n}?", f"A{n}."

    drafts = [Draft(n) for n in range(100)]
    first = [d.question for d in bench.sample_of(drafts, 14, 40)]
    again = [d.question for d in bench.sample_of(list(reversed(drafts)), 14, 40)]
    assert first == again and len(set(first)) == 40
    assert first != [d.question for d in bench.sample_of(drafts, 15, 40)]
