"""Tampering: every kind of edit to a ledger file or an export must fail the audit, by name.

A base is built once per round (every ``len(KINDS)`` trials), through the public API only: two
documents, qa and negative drafts with every decision history (``build_mixed``), a failed
generation call with no drafts, review leases, and one export in each format (openai, sharegpt,
alpaca, hf); the ledger is closed (no -wal left) and a pristine copy kept. One trial restores
the pristine copy into the folder the base was built in (so the export folders the ledger
recorded are the ones audited) and applies one tamper kind (``KINDS`` in order: trial ``i`` is
kind ``i % len(KINDS)``), choosing which row, line or page with
``random.Random(f"{seed}:{trial}")``: raw SQL through ``tests.support.tamper.RawLedger``
(guard triggers dropped for the edit and put back after it, unless the kind is about the
triggers), raw byte damage to the ledger file, or edits to the export files. Then
``draftgate audit --export <each format's folder>`` runs, and for a kind verify can see without
an export, ``draftgate verify`` too (both in-process through ``main()``).

Each kind names the exit code and the break it must produce (``EXPECTED``, the table the
README shows): exit 1 with ``BREAK <name>:`` on the audit's stdout (``<name>:`` on verify's),
or exit 4 with one ``draftgate: error:`` line for a file SQLite cannot read whole.

- undetected: a command exits 0, or exits 1/4 without naming the expected break (it named
  the wrong thing), or the untampered base (the negative control, audited and verified once
  per round) does not pass.
- crashed: a traceback, or an exit code other than 0, 1 and 4.
- lost: not used here.

A trial counts once, whichever of its commands missed or crashed.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from draftgate.exit_codes import ExitCode
from export import ExportOptions, export
from export.layout import data_file
from ledger import Ledger
from ledger.chain import call_hash, decision_entry_hash
from ledger.queue import ReviewQueue
from tests.reliability.generate_harness import CliRun, run_in_process
from tests.reliability.outcome import Outcome
from tests.support.builders import add_document, add_failed_call
from tests.support.exports import build_mixed
from tests.support.tamper import RawLedger, corrupt_page, page_count, truncate_file

CATEGORY = "tampering"
FORMATS = ("openai", "sharegpt", "alpaca", "hf")
LEDGER_NAME = "ledger.sqlite"
SYSTEM_PROMPT = "You answer questions about Acme."


@dataclass(frozen=True)
class Trial:
    """The copy one trial tampers with."""

    root: Path
    rng: random.Random

    @property
    def ledger(self) -> Path:
        return self.root / LEDGER_NAME

    def export_dir(self, fmt: str) -> Path:
        return self.root / "exports" / fmt

    def raw(self) -> RawLedger:
        return RawLedger(self.ledger)


@dataclass(frozen=True)
class Kind:
    name: str
    on_ledger: bool  # verify must name it too
    code: int  # the exit code audit (and verify) must end in
    expected: str  # the break name (or, for exit 4, "damaged")
    apply: Callable[[Trial], None]


# ---- ledger row tampering -----------------------------------------------------------------


def _pick(trial: Trial, sql: str, params: tuple[object, ...] = ()) -> object:
    with trial.raw() as raw:
        rows = [r[0] for r in raw.rows(sql, params)]
    return trial.rng.choice(rows)


def _decision_update(trial: Trial, where_verdict: str, assignment: str, params: tuple) -> None:
    seq = _pick(trial, "SELECT seq FROM decisions WHERE verdict = ?", (where_verdict,))
    with trial.raw() as raw, raw.unguarded("decisions"):
        raw.run(f"UPDATE decisions SET {assignment} WHERE seq = ?", (*params, seq))


def verdict_flipped(trial: Trial) -> None:
    _decision_update(trial, "reject", "verdict = 'approve', reason = NULL", ())


def final_text_edited(trial: Trial) -> None:
    _decision_update(trial, "edit", "final_answer = final_answer || ' (and more)'", ())


def reviewer_renamed(trial: Trial) -> None:
    _decision_update(trial, "approve", "reviewer = ?", ("mallory",))


def decision_deleted(trial: Trial) -> None:
    seq = _pick(trial, "SELECT seq FROM decisions WHERE seq < (SELECT max(seq) FROM decisions)")
    with trial.raw() as raw, raw.unguarded("decisions"):
        raw.run("DELETE FROM decisions WHERE seq = ?", (seq,))


def decisions_truncated(trial: Trial) -> None:
    with trial.raw() as raw, raw.unguarded("decisions"):
        raw.run("DELETE FROM decisions WHERE seq = (SELECT max(seq) FROM decisions)")


def decisions_reordered(trial: Trial) -> None:
    """Two neighbouring decisions swap places (their seq numbers)."""
    seq = _pick(trial, "SELECT seq FROM decisions WHERE seq < (SELECT max(seq) FROM decisions)")
    with trial.raw() as raw, raw.unguarded("decisions"):
        raw.run("UPDATE decisions SET seq = -1 WHERE seq = ?", (seq,))
        raw.run("UPDATE decisions SET seq = ? WHERE seq = ?", (seq, int(str(seq)) + 1))
        raw.run("UPDATE decisions SET seq = ? WHERE seq = -1", (int(str(seq)) + 1,))


def entry_hash_recomputed(trial: Trial) -> None:
    """An edit whose entry_hash is recomputed, but the next entry's prev_hash is left alone."""
    seq = _pick(
        trial,
        "SELECT seq FROM decisions WHERE verdict = 'edit'"
        " AND seq < (SELECT max(seq) FROM decisions)",
    )
    with trial.raw() as raw, raw.unguarded("decisions"):
        row = dict(raw.rows("SELECT * FROM decisions WHERE seq = ?", (seq,))[0])
        row["final_answer"] = "Yes, we offer that too."
        raw.run(
            "UPDATE decisions SET final_answer = ?, entry_hash = ? WHERE seq = ?",
            (row["final_answer"], decision_entry_hash(row), seq),
        )


def draft_text_changed(trial: Trial) -> None:
    draft = _pick(trial, "SELECT id FROM drafts")
    with trial.raw() as raw, raw.unguarded("drafts"):
        raw.run(
            "UPDATE drafts SET answer = answer || ' Also: free forever.' WHERE id = ?", (draft,)
        )


def draft_garbled(trial: Trial) -> None:
    """A draft's evidence is no longer JSON: verify must name it, not trip over it."""
    draft = _pick(trial, "SELECT id FROM drafts")
    with trial.raw() as raw, raw.unguarded("drafts"):
        raw.run("UPDATE drafts SET evidence = '[\"unclosed' WHERE id = ?", (draft,))


def draft_deleted(trial: Trial) -> None:
    """A draft nobody decided on yet (no decision refers to it)."""
    draft = _pick(trial, "SELECT id FROM drafts WHERE id NOT IN (SELECT draft_id FROM decisions)")
    with trial.raw() as raw, raw.unguarded("drafts"):
        raw.run("DELETE FROM leases WHERE draft_id = ?", (draft,))
        raw.run("DELETE FROM drafts WHERE id = ?", (draft,))


def draft_moved_to_other_call(trial: Trial) -> None:
    draft = _pick(trial, "SELECT id FROM drafts")
    with trial.raw() as raw, raw.unguarded("drafts"):
        other = raw.one("SELECT id FROM generation_calls WHERE status = 'failed'")
        raw.run("UPDATE drafts SET call_id = ? WHERE id = ?", (other, draft))


def chunk_text_changed(trial: Trial) -> None:
    chunk = _pick(trial, "SELECT id FROM chunks")
    with trial.raw() as raw, raw.unguarded("chunks"):
        raw.run("UPDATE chunks SET text = text || ' Also: SSO.' WHERE id = ?", (chunk,))


def document_path_changed(trial: Trial) -> None:
    doc = _pick(trial, "SELECT id FROM documents")
    with trial.raw() as raw, raw.unguarded("documents"):
        raw.run("UPDATE documents SET path = 'docs/elsewhere.md' WHERE id = ?", (doc,))


def _call_update(trial: Trial, assignment: str, params: tuple = ()) -> None:
    call = _pick(trial, "SELECT id FROM generation_calls WHERE status = 'ok'")
    with trial.raw() as raw, raw.unguarded("generation_calls"):
        raw.run(f"UPDATE generation_calls SET {assignment} WHERE id = ?", (*params, call))


def call_template_hash_changed(trial: Trial) -> None:
    _call_update(trial, "template_hash = ?", ("b2:" + "0" * 64,))


def call_model_changed(trial: Trial) -> None:
    _call_update(trial, "model = ?", ("gpt-6-ultra",))


def call_usage_changed(trial: Trial) -> None:
    _call_update(trial, "prompt_tokens = prompt_tokens + 1000, completion_tokens = 1")


def call_rehashed(trial: Trial) -> None:
    """A call's model changed and its call_hash recomputed: self-consistent in the ledger, so
    only the provenance hash the exports carry can tell."""
    call = _pick(
        trial, "SELECT call_id FROM drafts WHERE id IN (SELECT draft_id FROM export_records)"
    )
    with trial.raw() as raw, raw.unguarded("generation_calls"):
        row = dict(raw.rows("SELECT * FROM generation_calls WHERE id = ?", (call,))[0])
        row["model"] = "gpt-6-ultra"
        raw.run(
            "UPDATE generation_calls SET model = ?, call_hash = ? WHERE id = ?",
            (row["model"], call_hash(row), call),
        )


def call_deleted(trial: Trial) -> None:
    call = _pick(trial, "SELECT id FROM generation_calls WHERE status = 'ok'")
    with trial.raw() as raw, raw.unguarded("generation_calls"):
        raw.run("DELETE FROM generation_calls WHERE id = ?", (call,))


def failed_call_deleted(trial: Trial) -> None:
    with trial.raw() as raw, raw.unguarded("generation_calls"):
        raw.run("DELETE FROM generation_calls WHERE status = 'failed'")


def lease_altered(trial: Trial) -> None:
    lease = _pick(trial, "SELECT rowid_ FROM leases")
    with trial.raw() as raw, raw.unguarded("leases"):
        raw.run("UPDATE leases SET reviewer = 'mallory' WHERE rowid_ = ?", (lease,))


def lease_deleted(trial: Trial) -> None:
    lease = _pick(trial, "SELECT rowid_ FROM leases")
    with trial.raw() as raw, raw.unguarded("leases"):
        raw.run("DELETE FROM leases WHERE rowid_ = ?", (lease,))


def guard_dropped(trial: Trial) -> None:
    name = _pick(
        trial, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_no_%'"
    )
    with trial.raw() as raw:
        raw.run(f'DROP TRIGGER "{name}"')


def guard_redefined(trial: Trial) -> None:
    """The guard is still there by name, but lets the write through."""
    name = str(
        _pick(trial, "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_no_%'")
    )
    with trial.raw() as raw:
        table = raw.one("SELECT tbl_name FROM sqlite_master WHERE name = ?", (name,))
        event = "UPDATE" if "_no_update" in name else "DELETE"
        raw.replace_schema_object(
            "trigger",
            name,
            f'CREATE TRIGGER "{name}" BEFORE {event} ON {table} BEGIN SELECT 1; END',
        )


def status_view_redefined(trial: Trial) -> None:
    """live_decisions forgets reverts: reverted sign-offs look approved again."""
    with trial.raw() as raw:
        raw.replace_schema_object(
            "view",
            "live_decisions",
            "CREATE VIEW live_decisions AS SELECT d.* FROM decisions d WHERE d.verdict != 'revert'",
        )


def index_dropped(trial: Trial) -> None:
    with trial.raw() as raw:
        raw.run("DROP INDEX decisions_draft")


def export_row_changed(trial: Trial) -> None:
    draft = _pick(trial, "SELECT draft_id FROM export_records")
    with trial.raw() as raw, raw.unguarded("export_records"):
        raw.run(
            "UPDATE export_records SET split = CASE split WHEN 'train' THEN 'validation'"
            " ELSE 'train' END WHERE draft_id = ? AND export_id ="
            " (SELECT min(export_id) FROM export_records)",
            (draft,),
        )


def export_unrecorded(trial: Trial) -> None:
    """The ledger's record of the openai export is removed, rows and all."""
    export_id = json.loads((trial.export_dir("openai") / "manifest.json").read_text())["export_id"]
    with trial.raw() as raw, raw.unguarded("exports", "export_records"):
        raw.run("DELETE FROM export_records WHERE export_id = ?", (export_id,))
        raw.run("DELETE FROM exports WHERE id = ?", (export_id,))


def page_corrupted(trial: Trial) -> None:
    pages = page_count(trial.ledger)
    corrupt_page(trial.ledger, trial.rng.randrange(2, pages + 1), offset=0, length=256)


def ledger_truncated(trial: Trial) -> None:
    truncate_file(trial.ledger, trial.rng.uniform(0.3, 0.8))


# ---- export file tampering ----------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _jsonl_edit(trial: Trial, fmt: str, edit: Callable[[list[str], int], list[str]]) -> None:
    path = trial.export_dir(fmt) / data_file("train", "jsonl")
    lines = _lines(path)
    path.write_text("".join(edit(lines, trial.rng.randrange(len(lines) - 1))), encoding="utf-8")


def _edit_text(line: str, fmt: str) -> str:
    record = json.loads(line)
    if fmt == "openai":
        record["messages"][-1]["content"] += " We also offer SSO."
    elif fmt == "sharegpt":
        record["conversations"][-1]["value"] += " We also offer SSO."
    else:
        record["output"] += " We also offer SSO."
    return json.dumps(record, ensure_ascii=False) + "\n"


def _line_edited(fmt: str) -> Callable[[Trial], None]:
    def apply(trial: Trial) -> None:
        def edit(lines: list[str], i: int) -> list[str]:
            lines[i] = _edit_text(lines[i], fmt)
            return lines

        _jsonl_edit(trial, fmt, edit)

    return apply


def line_deleted(trial: Trial) -> None:
    _jsonl_edit(trial, "openai", lambda lines, i: lines[:i] + lines[i + 1 :])


def line_added(trial: Trial) -> None:
    _jsonl_edit(trial, "openai", lambda lines, i: [*lines, lines[i]])


def lines_reordered(trial: Trial) -> None:
    def swap(lines: list[str], i: int) -> list[str]:
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
        return lines

    _jsonl_edit(trial, "openai", swap)


def line_extra_key(trial: Trial) -> None:
    def edit(lines: list[str], i: int) -> list[str]:
        record = json.loads(lines[i])
        record["tools"] = [{"type": "function", "function": {"name": "exfiltrate"}}]
        lines[i] = json.dumps(record, ensure_ascii=False) + "\n"
        return lines

    _jsonl_edit(trial, "openai", edit)


def line_garbled(trial: Trial) -> None:
    def edit(lines: list[str], i: int) -> list[str]:
        lines[i] = lines[i][: len(lines[i]) // 2] + "\n"
        return lines

    _jsonl_edit(trial, "alpaca", edit)


def jsonl_deleted(trial: Trial) -> None:
    (trial.export_dir("sharegpt") / data_file("train", "jsonl")).unlink()


def manifest_edited(trial: Trial) -> None:
    path = trial.export_dir("openai") / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["command"] = "draftgate export --format openai"
    manifest["seed"] = 7
    path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def manifest_deleted(trial: Trial) -> None:
    (trial.export_dir(trial.rng.choice(FORMATS)) / "manifest.json").unlink()


def schema_version_rolled_back(trial: Trial) -> None:
    """The file claims an older schema than it has: the next open would migrate it again."""
    with trial.raw() as raw:
        version = raw.one("PRAGMA user_version")
        raw.run(f"PRAGMA user_version = {version - 1}")
        raw.run("DELETE FROM schema_migrations WHERE version = ?", (version,))


def parquet_truncated(trial: Trial) -> None:
    path = trial.export_dir("hf") / data_file("train", "parquet")
    truncate_file(path, trial.rng.uniform(0.2, 0.9))


def parquet_deleted(trial: Trial) -> None:
    (trial.export_dir("hf") / data_file("train", "parquet")).unlink()


def arrow_truncated(trial: Trial) -> None:
    arrow = sorted((trial.export_dir("hf") / "dataset" / "train").glob("*.arrow"))[0]
    truncate_file(arrow, trial.rng.uniform(0.2, 0.9))


def _rewrite_parquet(trial: Trial, column: str, value: object) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = trial.export_dir("hf") / data_file("train", "parquet")
    table = pq.read_table(path)
    row = trial.rng.randrange(table.num_rows)
    values = table.column(column).to_pylist()
    values[row] = value(values[row]) if callable(value) else value
    index = table.schema.get_field_index(column)
    table = table.set_column(index, column, pa.array(values, table.schema.field(column).type))
    pq.write_table(table, path)


def parquet_reviewer_changed(trial: Trial) -> None:
    _rewrite_parquet(trial, "reviewer", "mallory")


def parquet_messages_changed(trial: Trial) -> None:
    def edit(messages: list[dict[str, str]]) -> list[dict[str, str]]:
        messages[-1] = {"role": "assistant", "content": messages[-1]["content"] + " Also SSO."}
        return messages

    _rewrite_parquet(trial, "messages", edit)


def hf_text_column_added(trial: Trial) -> None:
    """A ``text`` column of unsigned chat content in the parquet file and the dataset copy:
    the checked columns are untouched, and trainers read ``text``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    folder = trial.export_dir("hf")
    path = folder / data_file("train", "parquet")
    table = pq.read_table(path)
    text = pa.array(["<|user|>Is it free?<|assistant|>Yes, forever."] * table.num_rows)
    pq.write_table(table.append_column("text", text), path)
    copy = load_from_disk(str(folder / "dataset"))
    train = copy["train"].add_column("text", text.to_pylist())
    copy["train"] = train
    staged = folder / "dataset.new"
    copy.save_to_disk(str(staged))
    shutil.rmtree(folder / "dataset")
    staged.rename(folder / "dataset")


def extra_file_added(trial: Trial) -> None:
    fmt = trial.rng.choice(FORMATS)
    # A data/ file with a split name is one load_dataset(folder) would read as a split.
    name = trial.rng.choice(
        ["extra.jsonl", "train.txt", "README.md", "data/test-00000-of-00001.jsonl"]
    )
    (trial.export_dir(fmt) / name).write_text('{"text": "unsigned"}\n', encoding="utf-8")


def recipe_edited(trial: Trial) -> None:
    """LLaMA-Factory's recipe told to drop the system column: every line still checks out."""
    path = trial.export_dir(trial.rng.choice(FORMATS)) / "dataset_info.json"
    info = json.loads(path.read_text(encoding="utf-8"))
    for entry in info.values():
        entry.get("columns", {}).pop("system", None)
        entry.get("tags", {}).pop("system_tag", None)
    path.write_text(json.dumps(info), encoding="utf-8")


def dataset_file_added(trial: Trial) -> None:
    train = trial.export_dir("hf") / "dataset" / "train"
    arrow = sorted(train.glob("*.arrow"))[0]
    shutil.copy(arrow, train / "data-00001-of-00002.arrow")


def _duplicate_key_line(nested: bool) -> Callable[[Trial], None]:
    """``{"messages": [EVIL], "messages": [original]}``: Python keeps the last value, other
    readers the first. ``nested``: the same inside the assistant message's object."""

    def apply(trial: Trial) -> None:
        def edit(lines: list[str], i: int) -> list[str]:
            original = lines[i].rstrip("\n")
            if nested:
                evil = original.replace('"content": ', '"content": "We offer SSO.", "content": ')
            else:
                evil = (
                    '{"messages": [{"role": "user", "content": "Is SSO offered?"}, '
                    '{"role": "assistant", "content": "Yes."}], ' + original[1:]
                )
            lines[i] = evil + "\n"
            return lines

        _jsonl_edit(trial, "openai", edit)

    return apply


KINDS: list[Kind] = [
    # the decision chain
    Kind("decision verdict flipped", True, 1, "decision_hash", verdict_flipped),
    Kind("decision final text edited", True, 1, "decision_hash", final_text_edited),
    Kind("decision reviewer renamed", True, 1, "decision_hash", reviewer_renamed),
    Kind("decision deleted mid-chain", True, 1, "chain_gap", decision_deleted),
    Kind("newest decisions deleted", True, 1, "chain_truncated", decisions_truncated),
    Kind("decisions reordered", True, 1, "decision_hash", decisions_reordered),
    Kind("entry_hash recomputed, not relinked", True, 1, "chain_link", entry_hash_recomputed),
    # what a decision signs off
    Kind("draft text changed", True, 1, "draft_hash", draft_text_changed),
    Kind("draft evidence garbled", True, 1, "draft_hash", draft_garbled),
    Kind("undecided draft deleted", True, 1, "call_drafts", draft_deleted),
    Kind("draft moved to another call", True, 1, "call_drafts", draft_moved_to_other_call),
    Kind("chunk text changed", True, 1, "chunk_text", chunk_text_changed),
    Kind("document path changed", True, 1, "document_hash", document_path_changed),
    # generation provenance
    Kind("call prompt hash changed", True, 1, "call_hash", call_template_hash_changed),
    Kind("call model changed", True, 1, "call_hash", call_model_changed),
    Kind("call token usage changed", True, 1, "call_hash", call_usage_changed),
    Kind("call edited and re-hashed", False, 1, "provenance_changed", call_rehashed),
    Kind("call with drafts deleted", True, 1, "draft_call", call_deleted),
    Kind("failed call deleted", True, 1, "call_missing", failed_call_deleted),
    # review leases
    Kind("lease row altered", True, 1, "lease_hash", lease_altered),
    Kind("lease row deleted", True, 1, "lease_missing", lease_deleted),
    # the schema
    Kind("guard trigger dropped", True, 1, "guard_missing", guard_dropped),
    Kind("guard trigger redefined", True, 1, "guard_altered", guard_redefined),
    Kind("status view redefined", True, 1, "schema_changed", status_view_redefined),
    Kind("index dropped", True, 1, "schema_changed", index_dropped),
    # the ledger's record of exports
    Kind("export record row changed", True, 1, "export_row_changed", export_row_changed),
    Kind("export record deleted", False, 1, "export_unrecorded", export_unrecorded),
    # byte damage
    Kind("ledger page corrupted", True, 4, "damaged", page_corrupted),
    Kind("ledger file truncated", True, 4, "damaged", ledger_truncated),
    Kind("schema version rolled back", True, 4, "damaged", schema_version_rolled_back),
    # export files
    Kind("openai line edited", False, 1, "record_edited", _line_edited("openai")),
    Kind("sharegpt line edited", False, 1, "record_edited", _line_edited("sharegpt")),
    Kind("alpaca line edited", False, 1, "record_edited", _line_edited("alpaca")),
    Kind("export line deleted", False, 1, "line_removed", line_deleted),
    Kind("export line added", False, 1, "line_without_decision", line_added),
    Kind("export lines reordered", False, 1, "line_reordered", lines_reordered),
    Kind("export line with an extra key", False, 1, "line_malformed", line_extra_key),
    Kind("export line cut in half", False, 1, "line_malformed", line_garbled),
    Kind("export file deleted", False, 1, "file_missing", jsonl_deleted),
    Kind("manifest edited", False, 1, "manifest_changed", manifest_edited),
    Kind("manifest deleted", False, 1, "manifest_missing", manifest_deleted),
    Kind("parquet truncated", False, 1, "file_unreadable", parquet_truncated),
    Kind("parquet deleted", False, 1, "file_missing", parquet_deleted),
    Kind("hf dataset arrow truncated", False, 1, "file_unreadable", arrow_truncated),
    Kind("parquet reviewer column changed", False, 1, "record_edited", parquet_reviewer_changed),
    Kind("parquet messages column changed", False, 1, "record_edited", parquet_messages_changed),
    Kind("hf text column added", False, 1, "columns_changed", hf_text_column_added),
    Kind("extra file in an export", False, 1, "file_unexpected", extra_file_added),
    Kind("trainer recipe edited", False, 1, "recipe_changed", recipe_edited),
    Kind("extra file in the hf dataset copy", False, 1, "file_unexpected", dataset_file_added),
    Kind("duplicate key in a line", False, 1, "line_malformed", _duplicate_key_line(False)),
    Kind("duplicate key in a message", False, 1, "line_malformed", _duplicate_key_line(True)),
]

EXPECTED = {kind.name: (kind.code, kind.expected) for kind in KINDS}
SUITE_TRIALS = len(KINDS)
BENCH_TRIALS = 10 * len(KINDS)


# ---- the base and the commands ------------------------------------------------------------


def build_base(folder: Path) -> None:
    """A ledger with every kind of record, and one export per format, through the public API."""
    folder.mkdir(parents=True)
    ledger = Ledger.open(folder / LEDGER_NAME)
    try:
        chunks = add_document(ledger, "docs/extra.md")
        add_failed_call(ledger, chunks[0], requested=3)
        mixed = build_mixed(ledger)
        queue = ReviewQueue(ledger, "bob")
        for _ in range(3):
            item = queue.claim_next()
            if item is not None:
                queue.release([item.draft.id])
        assert mixed.exported
        for fmt in FORMATS:
            export(
                ledger,
                ExportOptions(
                    format=fmt,
                    out_dir=folder / "exports" / fmt,
                    eval_fraction=0.2,
                    system_prompt=SYSTEM_PROMPT if fmt != "alpaca" else None,
                    command=f"draftgate export --format {fmt}",
                ),
            )
    finally:
        ledger.close()


def audit(trial_root: Path) -> CliRun:
    args = ["--ledger", str(trial_root / LEDGER_NAME), "audit", "--format", "json"]
    for fmt in FORMATS:
        args += ["--export", str(trial_root / "exports" / fmt)]
    args += ["--out", str(trial_root / "audit.json")]
    return run_in_process(args, {})


def verify(trial_root: Path) -> CliRun:
    return run_in_process(["--ledger", str(trial_root / LEDGER_NAME), "verify"], {})


def named_breaks(run: CliRun, command: str) -> set[str]:
    if command == "audit":
        lines = [
            line[len("BREAK ") :] for line in run.stdout.splitlines() if line.startswith("BREAK ")
        ]
    else:
        lines = run.stdout.splitlines()
    return {line.split(":", 1)[0] for line in lines if ":" in line}


def judge(outcome: Outcome, label: str, command: str, run: CliRun, kind: Kind | None) -> None:
    """Count one command's result against what the kind expects (None: the negative control)."""
    documented = {int(code) for code in ExitCode}
    if "Traceback" in run.stderr or run.code not in documented or run.code not in (0, 1, 4):
        tail = (run.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        outcome.crash(f"{label}: {command} exited {run.code}: {tail}")
        return
    if kind is None:
        if run.code != 0:
            outcome.miss(
                f"{label}: {command} of an untampered copy exited {run.code}: "
                f"{sorted(named_breaks(run, command))} {run.stderr.strip()[:200]}"
            )
        return
    if run.code == 0:
        outcome.miss(f"{label}: {command} exited 0 (expected {kind.expected})")
        return
    if kind.code == 4:
        errors = [line for line in run.stderr.splitlines() if line.strip()]
        if run.code != 4 or len(errors) != 1 or not errors[0].startswith("draftgate: error:"):
            outcome.miss(
                f"{label}: {command} exited {run.code}, not 4 with one error line: "
                f"{run.stderr.strip()[:200]}"
            )
        return
    names = named_breaks(run, command)
    if run.code != 1 or kind.expected not in names:
        outcome.miss(
            f"{label}: {command} exited {run.code} naming {sorted(names)}, not {kind.expected}"
        )


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    outcome = Outcome(CATEGORY)
    # Every trial runs in the folder the base was built in, so the export folders the ledger
    # recorded are the ones audited; a pristine copy is kept beside it.
    root = workdir / "ledger-home"
    pristine = workdir / "pristine"
    for trial_no in range(trials):
        round_no, index = divmod(trial_no, len(KINDS))
        if index == 0:
            for folder in (root, pristine):
                shutil.rmtree(folder, ignore_errors=True)
            build_base(root)
            shutil.copytree(root, pristine)
            this = Outcome(CATEGORY)
            judge(this, f"round {round_no} control", "audit", audit(root), None)
            judge(this, f"round {round_no} control", "verify", verify(root), None)
            _merge(outcome, this)
        kind = KINDS[index]
        shutil.rmtree(root)
        shutil.copytree(pristine, root)
        trial = Trial(root, random.Random(f"{seed}:{trial_no}"))
        label = f"trial {trial_no} ({kind.name})"
        kind.apply(trial)
        outcome.trials += 1
        # Both commands are judged; the trial counts once (a crash over a miss).
        this = Outcome(CATEGORY)
        judge(this, label, "audit", audit(root), kind)
        if kind.on_ledger:
            judge(this, label, "verify", verify(root), kind)
        _merge(outcome, this)
    return outcome


def _merge(outcome: Outcome, trial: Outcome) -> None:
    details = "; ".join(f.split(": ", 1)[1] for f in trial.findings)
    if trial.crashed:
        outcome.crash(details)
    elif trial.undetected:
        outcome.miss(details)
