"""``draftgate import``: good, bad and ungrounded rows of JSONL and CSV files, reruns, the
imported file kept apart from the docs, and imported drafts reviewed, exported and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from draftgate.cli import main
from export.layout import data_file
from generator.importer import ImportFileError, import_file, parse_mapping
from ledger import IMPORT_DRAFTER, ChunkIn, DraftOrigin, Ledger, draft_origin
from ledger.ids import hash_bytes
from tests.support.builders import add_document
from tests.support.review import make_app, settle, wait_for_screen
from tui.modals import EditScreen
from tui.render import card_text

GROUNDED_Q = "How do I download invoices?"
GROUNDED_A = "Open Settings > Billing > Invoices to download them."
PRODUCTION_Q = "How do I invite people to my team?"
PRODUCTION_A = "Open Team > Members and click Invite member."
UNGROUNDED_Q = "What colour is the sky?"


def write_jsonl(path: Path, rows: list[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def production_file(tmp_path: Path) -> Path:
    return write_jsonl(
        tmp_path / "prod.jsonl",
        [
            {"question": GROUNDED_Q, "answer": GROUNDED_A},  # line 1
            {"prompt": PRODUCTION_Q, "response": PRODUCTION_A, "thumbs": "down"},  # line 2
            "{not json",  # line 3
            {"prompt": "   ", "response": "An answer to nothing."},  # line 4
            "",  # line 5: blank lines are skipped, not bad
            {"question": UNGROUNDED_Q, "answer": "Blue, mostly."},  # line 6
            {"question": "Q?", "answer": "A.", "kind": "essay"},  # line 7
            [1, 2],  # line 8
        ],
    )


def import_cli(ledger: Ledger, path: Path, *extra: str) -> int:
    return main(["--ledger", ledger.path, "import", str(path), *extra])


def imported(ledger: Ledger) -> list[dict]:
    rows = ledger.query(
        "SELECT dr.question, dr.answer, dr.kind, dr.meta, doc.path, gc.drafter, gc.job_key"
        " FROM drafts dr JOIN chunks c ON c.id = dr.chunk_id"
        " JOIN documents doc ON doc.id = c.document_id"
        " JOIN generation_calls gc ON gc.id = dr.call_id ORDER BY dr.rowid"
    )
    return [
        {
            "question": r[0],
            "answer": r[1],
            "kind": r[2],
            "import": json.loads(r[3])["import"],
            "document": r[4],
            "drafter": r[5],
            "job_key": r[6],
        }
        for r in rows
    ]


def test_jsonl_rows_are_imported_grounded_or_not_and_bad_lines_named(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_document(ledger)
    path = production_file(tmp_path)
    assert import_cli(ledger, path) == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if ": skipped: " in line]
    assert [line.split(":")[1] for line in skipped] == ["3", "4", "7", "8"]
    assert "not JSON" in skipped[0] and "no question" in skipped[1]
    assert "unknown kind 'essay'" in skipped[2] and "not a JSON object" in skipped[3]
    assert "imported 3 (2 grounded, 1 ungrounded)" in captured.out
    assert "4 bad" in captured.out

    rows = imported(ledger)
    assert [r["question"] for r in rows] == [GROUNDED_Q, PRODUCTION_Q, UNGROUNDED_Q]
    assert all(draft_origin(r["drafter"]) is DraftOrigin.IMPORT for r in rows)
    assert all(r["drafter"] == IMPORT_DRAFTER and r["kind"] == "qa" for r in rows)
    grounded, production, ungrounded = rows
    file_hash = grounded["import"]["file_hash"]
    assert file_hash == hash_bytes(path.read_bytes())
    assert [r["import"]["line"] for r in rows] == [1, 2, 6]
    assert grounded["document"] == "docs/guide.md" and grounded["import"]["grounded"] is True
    assert grounded["import"]["support"]["share"] >= 0.5
    assert "model_answer" not in grounded["import"]
    # A production row: the model's answer is the starting answer and is kept for pairs.
    assert production["answer"] == PRODUCTION_A
    assert production["import"]["model_answer"] == PRODUCTION_A
    assert production["import"]["feedback"] == "down"
    assert production["document"] == "docs/guide.md"
    # A row no doc supports sits on its own row's chunk in the imported file's document.
    assert ungrounded["import"]["grounded"] is False
    assert ungrounded["document"].startswith("import://prod.jsonl@")
    assert all(r["job_key"].startswith(f"import:{file_hash}:") for r in rows)

    # A rerun imports nothing twice and still exits 0 (the file holds importable rows).
    assert import_cli(ledger, path) == 0
    assert "imported 0 (0 grounded, 0 ungrounded), 3 imported before" in capsys.readouterr().out
    assert len(imported(ledger)) == 3


def test_a_file_with_nothing_importable_exits_3(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_document(ledger)
    path = write_jsonl(tmp_path / "bad.jsonl", ["nope", {"answer": "no question"}])
    assert import_cli(ledger, path) == 3
    err = capsys.readouterr().err
    assert "bad.jsonl:1: skipped" in err and "bad.jsonl:2: skipped" in err
    assert "draftgate: error:" in err and "no importable row" in err
    assert import_cli(ledger, tmp_path / "missing.csv") == 3
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    assert import_cli(ledger, tmp_path / "notes.txt") == 3
    assert "unknown file type .txt" in capsys.readouterr().err


def test_csv_rows_with_a_mapping_and_multiline_cells_keep_their_lines(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_document(ledger)
    path = tmp_path / "team.csv"
    path.write_text(
        "Frage,Antwort,Note\n"  # line 1
        f'"{GROUNDED_Q}","Open Settings > Billing > Invoices,\nthen download them.",ok\n'  # 2-3
        "only one cell\n"  # line 4
        f'"{UNGROUNDED_Q}","Blue.",\n',  # line 5
        encoding="utf-8",
    )
    assert import_cli(ledger, path, "--map", "question=Frage,answer=Antwort", "--map",
                      "feedback=Note") == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "team.csv:4: skipped: 1 cells, the header has 3" in captured.err
    rows = imported(ledger)
    assert [(r["import"]["line"], r["import"]["grounded"]) for r in rows] == [(2, True), (5, False)]
    assert rows[0]["import"]["feedback"] == "ok" and "feedback" not in rows[1]["import"]
    # The ungrounded row's chunk spans its lines and holds the row as read.
    chunk = ledger.query(
        "SELECT c.start_line, c.end_line, c.text FROM drafts dr JOIN chunks c"
        " ON c.id = dr.chunk_id WHERE dr.question = ?",
        (UNGROUNDED_Q,),
    )[0]
    assert (chunk[0], chunk[1]) == (5, 5)
    assert chunk[2] == f"Question: {UNGROUNDED_Q}\nAnswer: Blue."
    # A mapped column a row lacks is that row's problem, named.
    assert import_cli(ledger, path, "--map", "question=Question") == 3
    assert "no column 'Question' (--map question=Question)" in capsys.readouterr().err


def test_openai_chat_lines_read_the_last_user_turn_and_the_reply(
    ledger: Ledger, tmp_path: Path
) -> None:
    add_document(ledger)
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hello"},
                    {"role": "assistant", "content": "Hi!"},
                    {"role": "user", "content": PRODUCTION_Q},
                    {"role": "assistant", "content": PRODUCTION_A},
                ],
                "rating": 1,
            }
        ],
    )
    report = import_file(ledger, path)
    assert (report.imported, report.grounded) == (1, 1)
    [row] = imported(ledger)
    assert row["question"] == PRODUCTION_Q and row["answer"] == PRODUCTION_A
    assert row["import"]["model_answer"] == PRODUCTION_A and row["import"]["feedback"] == "1"


def test_mapping_errors_are_one_line() -> None:
    assert parse_mapping(["question=q,answer=a", "feedback=f"]) == {
        "question": "q",
        "answer": "a",
        "feedback": "f",
    }
    with pytest.raises(ImportFileError, match="unknown role 'colour'"):
        parse_mapping(["colour=c"])
    with pytest.raises(ImportFileError, match="is not role=column"):
        parse_mapping(["question"])


def test_the_imported_file_is_no_doc(ledger: Ledger, tmp_path: Path) -> None:
    """Not drafted from, searched, counted or covered, and a later ingest does not remove it
    (which would make its ungrounded drafts stale)."""
    add_document(ledger)
    import_file(ledger, production_file(tmp_path))
    assert all(not d.path.startswith("import://") for d in ledger.current_documents())
    assert len(ledger.current_chunks()) == 2
    assert ledger.search_chunks("colour") == []
    # Not only filtered out: the rows are not in the docs' full-text index at all.
    indexed = ledger.query("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'colour'")
    assert indexed[0][0] == 0
    assert ledger.status().documents == 1 and ledger.status().chunks == 2
    # An ingest of the docs folder marks what it did not see removed: never an imported file.
    ledger.ingest_document(
        "docs/other.md", "b2:other", "Other", 10, [ChunkIn(heading_path=["O"], start_line=1,
                                                           end_line=1, text="Other text.")]
    )  # fmt: skip
    assert ledger.mark_removed("", {"docs/other.md"}) == ["docs/guide.md"]
    stale = ledger.query(
        "SELECT count(*) FROM stale_drafts st JOIN drafts dr ON dr.id = st.draft_id"
        " WHERE dr.question = ?",
        (UNGROUNDED_Q,),
    )
    assert stale[0][0] == 0


async def test_imported_drafts_are_reviewed_exported_and_audited(
    ledger_path: Path, tmp_path: Path
) -> None:
    with Ledger.open(ledger_path) as ledger:
        add_document(ledger)
        import_file(ledger, production_file(tmp_path))
    app = make_app(ledger_path)
    ungrounded_card = ""
    async with app.run_test() as pilot:
        await settle(pilot, app)
        for _ in range(3):
            item = app.session.current.item
            info = item.draft.meta["import"]
            if info.get("grounded") is False:
                ungrounded_card = card_text(item, None, held=True).plain
            if "model_answer" in info:
                await pilot.press("e")
                await wait_for_screen(pilot, app, EditScreen)
                await pilot.press("ctrl+a", *"Open Team > Members and press Invite member.")
                await pilot.press("ctrl+s")
            else:
                await pilot.press("a")
            await settle(pilot, app)
        assert app.session.counts.approved == 2 and app.session.counts.edited == 1
    assert "UNGROUNDED" in ungrounded_card and "from prod.jsonl line 6" in ungrounded_card

    with Ledger.open(ledger_path) as ledger:
        verdicts = sorted(d.verdict.value for d in ledger.iter_decisions())
    assert verdicts == ["approve", "approve", "edit"]
    sft, dpo = tmp_path / "sft", tmp_path / "dpo"
    for fmt, out in (("openai", sft), ("dpo", dpo)):
        assert main(["--ledger", str(ledger_path), "export", "--format", fmt, "--out", str(out),
                     "--eval-fraction", "0"]) == 0  # fmt: skip
    sft_lines = [
        json.loads(x) for x in (sft / data_file("train", "jsonl")).read_text().splitlines()
    ]
    assert {m["messages"][0]["content"] for m in sft_lines} == {
        GROUNDED_Q,
        PRODUCTION_Q,
        UNGROUNDED_Q,
    }
    [pair] = [json.loads(x) for x in (dpo / data_file("train", "jsonl")).read_text().splitlines()]
    assert pair == {
        "prompt": [{"role": "user", "content": PRODUCTION_Q}],
        "chosen": [
            {"role": "assistant", "content": "Open Team > Members and press Invite member."}
        ],
        "rejected": [{"role": "assistant", "content": PRODUCTION_A}],
    }
    for out in (sft, dpo):
        report = tmp_path / f"audit-{out.name}.json"
        code = main(["--ledger", str(ledger_path), "audit", "--export", str(out), "--format",
                     "json", "--out", str(report)])  # fmt: skip
        audit = json.loads(report.read_text(encoding="utf-8"))
        assert code == 0, audit["integrity"]["breaks"]
        assert len(audit["integrity"]["ungrounded_drafts"]) == 1
        expected = 1 if out is sft else 0
        assert len(audit["integrity"]["ungrounded_in_export"]) == expected
    md = tmp_path / "audit.md"
    main(["--ledger", str(ledger_path), "audit", "--export", str(sft), "--out", str(md)])
    assert "Ungrounded imported drafts (no doc passage supports them): 1" in md.read_text()


def test_a_json_array_file_and_raw_line_separators_keep_their_lines() -> None:
    from generator.importer import parse_rows

    array = (
        "[\n"
        '  {"question": "How do I download invoices?",\n'  # line 2
        '   "answer": "Open Settings > Billing > Invoices."},\n'
        '  {"question": "", "answer": "x"},\n'  # line 4
        "  42,\n"  # line 5
        '  {"question": "Sky?", "answer": "Blue."}\n'  # line 6
        "]\n"
    )
    rows, bad = parse_rows(array.encode(), "jsonl", {})
    assert [(r.line, r.end_line) for r in rows] == [(2, 3), (6, 6)]
    assert [(b.line, b.reason.split(" (")[0]) for b in bad] == [
        (4, "no question"),
        (5, "not a JSON object"),
    ]
    # A raw U+2028 inside a JSON string is no line break: the next line is still line 2.
    lines = '{"question": "a\u2028b?", "answer": "c"}\n{"question": "q?"}\n'
    rows, bad = parse_rows(lines.encode(), "jsonl", {})
    assert [r.question for r in rows] == ["a\u2028b?"]
    assert [b.line for b in bad] == [2]


def test_json_summary(ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_document(ledger)
    assert import_cli(ledger, production_file(tmp_path), "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["rows"], summary["imported"], summary["ungrounded"]) == (7, 3, 1)
    assert [b["line"] for b in summary["bad"]] == [3, 4, 7, 8]
    assert summary["document"].startswith("import://prod.jsonl@")
