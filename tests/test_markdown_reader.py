"""The Markdown reader, plain text for drafting, the recorded docs root, and ``init``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from draftgate.cli import main
from generator.chunking import chunk_text, document_title, heading_path_for_quote
from generator.ingest import ingest_folder
from generator.plain import plain_text, raw_quote
from generator.scope import Scope
from ledger import ChunkIn, Ledger, verify
from ledger.ids import text_hash
from ledger.migrations import SCHEMA_VERSION
from ledger.store import chunk_id, document_id, utc_now

BODY = "Shifts are published from the Schedule page every week for the whole team. " * 3


def test_setext_headings_front_matter_and_comments() -> None:
    text = (
        "---\ntitle: Billing guide\nsidebar: 2\n---\n\n"
        "Billing\n=======\n\n" + BODY + "\n\n"
        "Invoices\n--------\n\n<!-- brew install tidepool -->\n" + BODY + "\n"
    )
    chunks = chunk_text(text)
    assert document_title(text, "fallback") == "Billing guide"
    assert all("title:" not in c.text for c in chunks)  # front matter is in no chunk
    paths = [s.heading_path for c in chunks for s in (c.sections or [c])]
    assert ["Billing"] in paths and ["Billing", "Invoices"] in paths
    joined = "\n".join(c.text for c in chunks)
    assert "brew install" in joined  # the source as written keeps the comment
    assert all("brew install" not in plain_text(c.text) for c in chunks)


def test_title_is_never_a_comment_inside_a_code_fence() -> None:
    text = "```sh\n# quick install on MacOS/Linux\ncurl x | sh\n```\n\n## Install\n\n" + BODY
    assert document_title(text, "install") == "Install"
    assert [c.heading_path for c in chunk_text(text)] == [["Install"]]


def test_spans_start_and_end_on_text_and_sections_are_listed() -> None:
    text = "# Guide\n\n\n## Exiting\n\nPress q.\n\n\n## Focus\n\n" + BODY + "\n\n\n"
    (chunk,) = chunk_text(text)
    lines = text.split("\n")
    assert lines[chunk.start_line - 1].strip() and lines[chunk.end_line - 1].strip()
    assert [s.heading_path for s in chunk.sections] == [
        ["Guide"],
        ["Guide", "Exiting"],
        ["Guide", "Focus"],
    ]
    assert chunk.heading_path == ["Guide"]
    assert heading_path_for_quote(chunk, "Press q.") == ["Guide", "Exiting"]
    assert heading_path_for_quote(chunk, "Shifts are published") == ["Guide", "Focus"]


def test_a_split_table_repeats_its_header_row() -> None:
    rows = "\n".join(f"| plan {i} | {'x' * 40} |" for i in range(120))
    text = f"## Plans\n\n| Plan | Notes |\n| --- | --- |\n{rows}\n"
    chunks = chunk_text(text)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.split("\n")[0 if chunk is not chunks[0] else 2] == "| Plan | Notes |"
        assert len(chunk.text) <= 2400


def test_mdx_imports_and_jsx_tags() -> None:
    text = (
        'import Tabs from "/snippets/tabs.mdx"\n\n## Setup\n\n<Note>\n'
        "Keep your token secret.\n</Note>\n\n"
        '<Card title="Self-host" href="/x">\nRun it yourself.\n</Card>\n\n' + BODY
    )
    (chunk,) = chunk_text(text, mdx=True)
    plain = plain_text(chunk.text)
    assert "import" not in chunk.text and "<Note>" in chunk.text
    assert "<Note>" not in plain and "Keep your token secret." in plain
    assert "Self-host" in plain and "<Card" not in plain


def test_plain_text_normalises_site_markup_and_quotes_map_back() -> None:
    raw = (
        ":::tip Save often\nPress ++ctrl+s++ to save, <kbd>Tab</kbd> to move.\n:::\n"
        '!!! note "Heads up"\n<img src="x.png" />\nUse `<space>` to stage; `++x++` stays code.'
    )
    plain = plain_text(raw)
    assert plain.splitlines() == [
        "Save often",
        "Press Ctrl+S to save, Tab to move.",
        "Heads up",
        "Use `<space>` to stage; `++x++` stays code.",
    ]
    quote = raw_quote(raw, "Press Ctrl+S to save, Tab")
    assert quote == "Press ++ctrl+s++ to save, <kbd>Tab"
    assert quote in raw
    assert raw_quote(raw, "not in the text") is None


def test_scope_files_of_the_current_format_load_unchanged() -> None:
    data = tomllib.loads(Path("product_docs/scope.toml").read_text())
    scope = Scope.model_validate(data)
    assert scope.product.name == "Tidepool"


def _docs(folder: Path, text: str = "# Billing\n\n" + BODY) -> Path:
    folder.mkdir(parents=True)
    (folder / "billing.md").write_text(text)
    (folder / "faq.md").write_text("# FAQ\n\n" + BODY)
    return folder


def test_documents_are_keyed_inside_the_root_and_a_moved_tree_replaces_the_set(
    tmp_path: Path,
) -> None:
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ingest_folder(ledger, _docs(tmp_path / "docs"))
        assert [d.path for d in ledger.current_documents()] == ["billing.md", "faq.md"]
        assert ledger.ingest_root().root == str((tmp_path / "docs").resolve())  # type: ignore[union-attr]
        moved = _docs(tmp_path / "docs_v2", "# Billing\n\nInvoices are monthly now.\n")
        (moved / "faq.md").unlink()
        report = ingest_folder(ledger, moved)
        assert report.replaced_root == str((tmp_path / "docs").resolve())
        assert report.removed == ["faq.md"]
        assert [d.path for d in ledger.current_documents()] == ["billing.md"]
        assert ledger.ingest_root().root == str(moved.resolve())  # type: ignore[union-attr]


def test_generate_finds_the_scope_file_beside_the_ingested_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    docs = _docs(tmp_path / "docs")
    (docs / "scope.toml").write_text('[product]\nname = "Tidepool"\n')
    assert main(["--ledger", "l.sqlite", "ingest", "docs"]) == 0
    assert main(["--ledger", "l.sqlite", "generate", "--dry-run"]) == 0
    assert "scope file not found" not in capsys.readouterr().err


def test_a_ledger_of_the_previous_schema_opens_migrates_and_verifies(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with Ledger.open(path, upgrade_to=3) as old:
        now = utc_now()
        doc = document_id("product_docs/a.md", "h", False, now)
        chunk = ChunkIn(heading_path=["A"], start_line=1, end_line=3, text="# A\n\nText.")
        with old.transaction() as tx:
            tx.execute(
                "INSERT INTO documents(id, path, content_hash, title, size_bytes, ingested_at,"
                " removed) VALUES (?, ?, 'h', 'A', 10, ?, 0)",
                (doc, "product_docs/a.md", now),
            )
            tx.execute(
                "INSERT INTO chunks(id, document_id, ordinal, heading_path, start_line,"
                " end_line, text, text_hash) VALUES (?, ?, 0, '[\"A\"]', 1, 3, ?, ?)",
                (chunk_id(doc, 0, chunk, text_hash(chunk.text)), doc, chunk.text,
                 text_hash(chunk.text)),
            )  # fmt: skip
    with Ledger.open(path) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        assert verify(ledger) == []
        assert ledger.current_chunks()[0].sections == []
        assert ledger.ingest_root() is None
    # Ingesting the same folder again keeps the old "<folder>/" keys, so nothing goes stale.
    docs = tmp_path / "product_docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nText.\n")
    with Ledger.open(path) as ledger:
        ingest_folder(ledger, docs)
        assert [d.path for d in ledger.current_documents()] == ["product_docs/a.md"]


def test_init_drafts_a_scope_file_that_loads_and_never_overwrites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text(
        "# Tidepool\n\nTidepool is a shift scheduling app for small teams.\n\n"
        "## Schedule page\n\nOpen **Schedule** and go to Settings > Billing > Invoices, then "
        'click "Publish schedule". Press ++ctrl+s++ to save.\n\n'
        "Offline mode is not supported.\n"
    )
    assert main(["init", "docs"]) == 0
    scope_text = (docs / "scope.toml").read_text()
    scope = Scope.model_validate(tomllib.loads(scope_text))
    assert scope.product.name == "Tidepool"
    assert scope.product.domain == "shift scheduling app"
    assert "Settings > Billing > Invoices" in scope.glossary.paths
    assert "Publish schedule" in scope.glossary.buttons
    assert "Ctrl+S" in scope.glossary.keys
    assert "Schedule page" in scope.glossary.pages
    assert [f.feature for f in scope.does_not_offer] == ["Offline mode"]
    assert "# index.md:" in scope_text
    assert (tmp_path / "draftgate.toml").is_file()
    capsys.readouterr()
    assert main(["init", "docs"]) == 3
    assert "use --force" in capsys.readouterr().err
    assert (docs / "scope.toml").read_text() == scope_text
    assert main(["init", "docs", "--force"]) == 0
    assert main(["init", "missing"]) == 3


def test_the_absence_check_reads_plain_text(tmp_path: Path) -> None:
    from generator.absence import check_absence

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "install.md").write_text(
        "# Install\n\n<!-- brew install tidepool -->\nDownload the installer. " + BODY + "\n"
    )
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ingest_folder(ledger, docs)
        assert check_absence(ledger, ["brew install"]).absent
        assert not check_absence(ledger, ["Download the installer"]).absent


def test_a_quote_of_the_plain_text_is_stored_as_the_source_span() -> None:
    from generator.schemas import QAItem

    chunk = "## Saving\n\nPress ++ctrl+s++ to save a draft at any time."
    item = QAItem.model_validate(
        {
            "question": "How do I save?",
            "answer": "Press Ctrl+S.",
            "evidence": ["Press Ctrl+S to save"],
        },
        context={"chunk": chunk},
    )
    assert item.evidence == ["Press ++ctrl+s++ to save"]
    with pytest.raises(ValueError, match="not found"):
        QAItem.model_validate(
            {"question": "q?", "answer": "a", "evidence": ["Press Ctrl+Q to quit"]},
            context={"chunk": chunk},
        )


def test_init_offers_candidates_come_from_feature_page_titles(tmp_path: Path) -> None:
    from generator.init_scope import draft_scope

    (tmp_path / "faq.md").write_text("# FAQ\n\nQuestions.\n")
    (tmp_path / "shifts.md").write_text("---\ntitle: Shift scheduling\n---\n\nText.\n")
    offers = draft_scope(tmp_path).offers.ranked()
    assert offers == [("Shift scheduling", "shifts.md:1")]


def test_init_reads_a_centred_tagline_in_a_repository_readme(tmp_path: Path) -> None:
    from generator.init_scope import draft_scope

    (tmp_path / "guide.md").write_text("# Guide\n\nSome steps.\n")
    (tmp_path / "repo-root-README.md").write_text(
        '<div align="center">\n\nA small terminal app for tidy notes\n<br/>\n\n'
        "[![badge](https://example.com/b.svg)](https://example.com)\n</div>\n"
    )
    draft = draft_scope(tmp_path)
    assert draft.summary == "A small terminal app for tidy notes"
    assert draft.summary_where == "repo-root-README.md:3"


def test_init_skips_denials_that_are_for_now_or_about_something_else(tmp_path: Path) -> None:
    from generator.init_scope import draft_scope

    (tmp_path / "notes.md").write_text(
        "# Notes\n\n"
        "Acme does not support offline mode.\n\n"
        "Bulk import is not available yet, but it will be very soon.\n\n"
        "Use the old desktop build, which doesn't have the export button.\n\n"
        "There is no monthly limit, just the daily one.\n"
    )
    features = [feature for feature, _ in draft_scope(tmp_path).denials.ranked()]
    assert features == ["offline mode"]


def test_a_quote_after_a_repeated_table_header_names_its_own_section() -> None:
    rows = "\n".join(f"| plan {i} | {'x' * 40} |" for i in range(60))
    table = f"| Plan | Notes |\n| --- | --- |\n{rows}"
    text = f"## Plans\n\n{table}\n\n## Extras\n\nAdd-ons are billed monthly.\n"
    chunks = chunk_text(text)
    last = chunks[-1]
    assert last.text.startswith("| Plan | Notes |")  # a continued table
    assert heading_path_for_quote(last, "Add-ons are billed monthly.") == ["Extras"]
    assert heading_path_for_quote(last, "| plan 59 |") == ["Plans"]


def test_docs_set_in_the_config_wins_over_the_recorded_root(tmp_path: Path) -> None:
    import argparse

    from draftgate.config import load_config
    from draftgate.context import docs_root

    docs = _docs(tmp_path / "docs")
    ledger_file = tmp_path / "l.sqlite"
    with Ledger.open(ledger_file) as ledger:
        ingest_folder(ledger, docs)
    args = argparse.Namespace(ledger=str(ledger_file))
    config_file = tmp_path / "draftgate.toml"
    config_file.write_text('docs = "elsewhere"\n')
    assert docs_root(args, load_config(str(config_file))) == "elsewhere"
    config_file.write_text("")
    assert docs_root(args, load_config(str(config_file))) == str(docs.resolve())
