"""The audit's integrity check and the provenance of every exported record.

A self-consistent hash chain proves nothing against someone who rewrites it from scratch;
what they cannot rewrite is a head hash kept somewhere else. Every export records the chain
head in the ledger and in its manifest, so the check here is, in order:

1. ``verify()``: every content hash recomputed, the decision chain walked.
2. Heads: for every export the ledger records, and every manifest given, the decision at the
   recorded head seq still carries the recorded head hash.
3. Each export folder given: its manifest matches the ledger's record of it; every line of
   every file is re-read per format, its record hash recomputed and compared with the manifest;
   lines without a manifest record (added), with a changed hash (edited) and manifest records
   without a line (removed) are breaks.
4. Each exported record against the ledger: its decision exists, is an approve or edit by a
   named reviewer, is still the draft's live decision (not reverted or superseded), and the
   text it signed off hashes to the exported record. A record whose source document changed
   since generation is flagged stale (a break: the example may teach outdated facts).

The check only reads: it never repairs anything.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from export import HF_DATASET_DIR, MANIFEST_NAME, file_hash, recorded_exports
from export.layout import DATA_DIR, data_ext, data_file, legacy_data_file
from export.preference import PREFERENCE_FORMATS, preference_content, verdicts_for
from export.records import (
    JSONL_FORMATS,
    RecordFormatError,
    alpaca_derived_match,
    content_of_line,
    record_content,
    record_hash,
    to_line,
)
from export.writers import hf_schema
from ledger.chain import GENESIS_HASH, ProvenanceHasher
from ledger.progress import NO_PROGRESS, Progress, counted
from ledger.reviewers import is_named
from ledger.store import Ledger
from ledger.verify import verify

LOOKUP_BATCH = 5_000
# How many breaks of one kind are listed one by one per export before they are summarised; a
# wholesale rewrite of a 100k-line file must not produce a 100k-line report.
MAX_LISTED_PER_KIND = 50

PROVENANCE_FIELDS = (
    "record_hash",
    "draft_id",
    "decision_id",
    "question",
    "exports",
    "kind",
    "subtype",
    "document",
    "start_line",
    "end_line",
    "chunk_hash",
    "template_name",
    "template_hash",
    "model",
    "generated_at",
    "reviewer",
    "verdict",
    "decided_at",
)


@dataclass
class IntegrityResult:
    breaks: list[dict[str, str]] = field(default_factory=list)
    exports_checked: int = 0
    heads_checked: int = 0
    stale_drafts: list[str] = field(default_factory=list)
    stale_in_export: list[str] = field(default_factory=list)
    ungrounded_drafts: list[str] = field(default_factory=list)
    ungrounded_in_export: list[str] = field(default_factory=list)
    # One row per exported record: a record in several exports checked is one row whose
    # ``exports`` lists each (export id, format, split).
    provenance: list[dict[str, Any]] = field(default_factory=list)
    provenance_at: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # The drafts that breaks and the stale-in-export list name, as a reader knows them.
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.breaks

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "breaks": self.breaks,
            "exports_checked": self.exports_checked,
            "heads_checked": self.heads_checked,
            "stale_drafts": self.stale_drafts,
            "stale_in_export": self.stale_in_export,
            "ungrounded_drafts": self.ungrounded_drafts,
            "ungrounded_in_export": self.ungrounded_in_export,
            "records": self.records,
        }


class _Breaks:
    """Collects breaks for one export, listing at most MAX_LISTED_PER_KIND of each kind.

    A break about one record carries its draft id, and every break here its export's id and
    format, so a report can name the record as a reader knows it (question, kind, export)."""

    def __init__(self, sink: list[dict[str, str]], export_id: str, fmt: str) -> None:
        self._sink = sink
        self._export = {"export_id": export_id, "format": fmt}
        self._counts: dict[str, int] = {}

    def add(self, kind: str, ref: str, detail: str, draft_id: str | None = None) -> None:
        count = self._counts.get(kind, 0) + 1
        self._counts[kind] = count
        if count <= MAX_LISTED_PER_KIND:
            item = {"kind": kind, "ref": ref, "detail": detail}
            if isinstance(draft_id, str):
                item["draft_id"] = draft_id
            self._sink.append({**item, **self._export})

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def summarise(self, ref: str) -> None:
        for kind, count in self._counts.items():
            if count > MAX_LISTED_PER_KIND:
                self._sink.append(
                    {
                        "kind": kind,
                        "ref": ref,
                        "detail": f"{count - MAX_LISTED_PER_KIND} more {kind} breaks not listed"
                        f" ({count} in all)",
                        **self._export,
                    }
                )


def check_integrity(
    ledger: Ledger, export_dirs: list[Path], progress: Progress = NO_PROGRESS
) -> IntegrityResult:
    """``progress`` counts the ledger rows verify() reads: the bulk of the work."""
    result = IntegrityResult()
    breaks = verify(ledger, progress)
    result.breaks += [{"kind": b.kind, "ref": b.ref, "detail": b.detail} for b in breaks]
    recorded = {row["id"]: row for row in recorded_exports(ledger)}
    for row in recorded.values():
        _check_head(
            ledger, result, f"export {row['id']} (ledger)", row["head_seq"], row["head_hash"]
        )
    result.stale_drafts = [r[0] for r in ledger.query(
        "SELECT draft_id FROM stale_drafts ORDER BY draft_id"
    )]  # fmt: skip
    stale = set(result.stale_drafts)
    result.ungrounded_drafts = [r[0] for r in ledger.query(_UNGROUNDED_SQL)]
    for out_dir in export_dirs:
        _check_export_dir(ledger, result, out_dir, recorded, stale, progress)
    result.records = _name_records(ledger, result)
    return result


# Imported drafts that no doc passage supports (see generator.importer).
_UNGROUNDED_SQL = """
SELECT id FROM drafts
WHERE json_valid(meta) AND json_type(meta, '$.import.grounded') = 'false'
ORDER BY id
"""


# The question a draft was signed off with (an edit's final question), else its own.
_NAMES_SQL = """
SELECT dr.id, dr.kind, coalesce(
    (SELECT ld.final_question FROM live_decisions ld
     WHERE ld.draft_id = dr.id AND ld.verdict = 'edit' ORDER BY ld.seq DESC LIMIT 1),
    dr.question)
FROM drafts dr WHERE dr.id IN (SELECT value FROM json_each(?))
"""


def _name_records(ledger: Ledger, result: IntegrityResult) -> dict[str, dict[str, Any]]:
    """Question, kind and exports of every draft a break or the stale list names."""
    named = [b["draft_id"] for b in result.breaks if b.get("draft_id")]
    wanted = sorted(set(named) | set(result.stale_in_export) | set(result.ungrounded_in_export))
    if not wanted:
        return {}
    exports: dict[str, list[dict[str, Any]]] = {draft_id: [] for draft_id in wanted}
    for row in result.provenance:
        if row["draft_id"] in exports:
            exports[row["draft_id"]].extend(row["exports"])
    # A record whose line or manifest entry is broken may be missing from the provenance:
    # the export its break was found in still holds it.
    for item in result.breaks:
        draft_id = item.get("draft_id")
        listed = exports.get(draft_id) if draft_id else None
        if listed is not None and not any(e["export_id"] == item["export_id"] for e in listed):
            listed.append({"export_id": item["export_id"], "format": item["format"]})
    found = {row[0]: (row[1], row[2]) for row in ledger.query(_NAMES_SQL, (json.dumps(wanted),))}
    return {
        draft_id: {
            "question": found[draft_id][1] if draft_id in found else "(not in the ledger)",
            "kind": found[draft_id][0] if draft_id in found else "",
            "exports": exports[draft_id],
        }
        for draft_id in wanted
    }


def _check_head(
    ledger: Ledger, result: IntegrityResult, ref: str, head_seq: Any, head_hash: Any
) -> None:
    result.heads_checked += 1
    if head_seq == 0:
        if head_hash != GENESIS_HASH:
            result.breaks.append(
                {"kind": "export_head", "ref": ref, "detail": "empty-chain head is not genesis"}
            )
        return
    rows = ledger.query("SELECT entry_hash FROM decisions WHERE seq = ?", (head_seq,))
    if not rows:
        detail = f"decision #{head_seq}, the chain head at export time, is gone"
    elif rows[0][0] != head_hash:
        detail = (
            f"the chain no longer passes through head #{head_seq} {head_hash} recorded at "
            f"export time (now {rows[0][0]}): decisions up to it were rewritten"
        )
    else:
        return
    result.breaks.append({"kind": "export_head", "ref": ref, "detail": detail})


def _check_export_dir(
    ledger: Ledger,
    result: IntegrityResult,
    out_dir: Path,
    recorded: dict[str, dict[str, Any]],
    stale: set[str],
    progress: Progress,
) -> None:
    result.exports_checked += 1
    manifest_path = out_dir / MANIFEST_NAME
    try:
        manifest = json.loads(
            manifest_path.read_text(encoding="utf-8"), object_pairs_hook=unique_keys
        )
        export_id = str(manifest["export_id"])
        fmt = str(manifest["format"])
        head = manifest["ledger"]
        records: list[dict[str, Any]] = manifest["records"]
        system_prompt = manifest.get("system_prompt")
        provenance_hash = manifest.get("provenance_hash")  # absent from older exports
        layout = int(manifest.get("draftgate_export", 1))
        file_entries: list[dict[str, Any]] = [dict(f) for f in manifest["files"]]
        listed = {str(f["path"]) for f in file_entries}
    except FileNotFoundError:
        result.breaks.append(
            {"kind": "manifest_missing", "ref": str(manifest_path), "detail": "it was removed"}
        )
        return
    except (OSError, ValueError, KeyError, TypeError) as exc:
        result.breaks.append(
            {"kind": "manifest_unreadable", "ref": str(manifest_path), "detail": str(exc)}
        )
        return
    ref = f"export {export_id}"
    progress.begin(len(records), f"records of {out_dir.name}")
    breaks = _Breaks(result.breaks, export_id, fmt)
    _check_head(ledger, result, f"{ref} (manifest)", head.get("head_seq"), head.get("head_hash"))

    row = recorded.get(export_id)
    if row is None:
        breaks.add("export_unrecorded", ref, f"{out_dir} is not an export the ledger recorded")
    else:
        if row["manifest_hash"] != file_hash(manifest_path):
            breaks.add("manifest_changed", ref, "manifest.json differs from the one recorded")
        if (row["head_seq"], row["head_hash"]) != (head.get("head_seq"), head.get("head_hash")):
            breaks.add("manifest_changed", ref, "manifest head differs from the ledger's record")
        _compare_with_ledger_records(ledger, breaks, ref, export_id, records)

    by_line = {(r["split"], r["line"]): r for r in records}
    by_hash: dict[tuple[str, str], dict[str, Any]] | None = None
    manifest_kinds: list[str] = []
    # hf rows carry provenance columns (subtype, document, reviewer) that only the ledger can
    # vouch for: kept here per draft (the parquet file and the dataset copy must agree with each
    # other), compared with the ledger in _check_against_ledger. Repeated values are shared,
    # so this costs a tuple per record.
    hf_columns: dict[str, tuple[str, tuple[Any, ...]]] = {}
    shared: dict[Any, Any] = {}
    clean_parquet: set[str] = set()
    # Every split with records must have its file; a split the export left out (it held no
    # record) has none, and a file there would be one nobody signed off.
    data_paths = {
        str(f["split"]): str(f["path"]) for f in file_entries if f.get("split") is not None
    }
    for r in records:
        if r["split"] not in data_paths:
            data_paths[r["split"]] = _expected_data_file(layout, fmt, r["split"])
    splits = list(data_paths)
    _check_file_set(breaks, out_dir, fmt, listed, splits)
    _check_recipes(breaks, out_dir, file_entries)
    if fmt == "hf":
        _check_columns(breaks, out_dir, data_paths)
    for source, split, items in _read_files(out_dir, fmt, data_paths):
        if not (out_dir / source).exists():
            breaks.add("file_missing", f"{out_dir / source}", "an export file is gone")
            continue
        # The dataset copy holds the parquet file's rows again. When that file passed every
        # line check and the copy's table equals it, re-checking the copy row by row would
        # find exactly nothing: only a copy that differs is read line by line.
        if (
            source.startswith(f"{HF_DATASET_DIR}/")
            and split in clean_parquet
            and _same_table(out_dir, split, data_paths[split])
        ):
            continue
        breaks_before = breaks.total
        seen: set[int] = set()
        try:
            for index, item in counted(items, progress):
                where = f"{source}:{index + 1}"
                entry = by_line.get((split, index))
                if entry is None:
                    breaks.add("line_without_decision", where, "a line the manifest does not list")
                    continue
                seen.add(index)
                try:
                    content, columns = _content_of(fmt, item, entry["kind"], layout)
                except RecordFormatError as exc:
                    breaks.add("line_malformed", where, str(exc))
                    continue
                line_hash = record_hash(content)
                if line_hash != entry["record_hash"]:
                    if by_hash is None:
                        by_hash = {(r["split"], r["record_hash"]): r for r in records}
                        # Once, not per line: after a removed line every later line is moved.
                        manifest_kinds = sorted({r["kind"] for r in records})
                    # A JSONL line does not carry its kind: a moved line is looked for under
                    # every kind the manifest lists.
                    moved = next(
                        (
                            by_hash[key]
                            for k in manifest_kinds
                            if (key := (split, record_hash({**content, "kind": k}))) in by_hash
                        ),
                        None,
                    )
                    if moved is not None:
                        breaks.add(
                            "line_reordered",
                            where,
                            f"draft {moved['draft_id']}'s record, listed at line "
                            f"{moved['line'] + 1}",
                            moved["draft_id"],
                        )
                        continue
                    breaks.add(
                        "record_edited",
                        where,
                        f"draft {entry['draft_id']}: the line's text no longer hashes to the "
                        f"record hash {entry['record_hash']}",
                        entry["draft_id"],
                    )
                if fmt == "alpaca" and layout >= 2 and not alpaca_derived_match(item, content):
                    breaks.add(
                        "record_edited",
                        where,
                        "prompt or completion no longer match the line's instruction, output "
                        "and system",
                        entry["draft_id"],
                    )
                for column in ("draft_id", "decision_id", "record_hash"):
                    if column in columns and columns[column] != entry[column]:
                        value = columns[column]
                        breaks.add(
                            "record_edited",
                            where,
                            f"column {column} changed to {value!r}",
                            entry["draft_id"],
                        )
                if "messages" in columns:
                    if columns["messages"] != to_line("openai", content)["messages"]:
                        breaks.add(
                            "record_edited",
                            where,
                            "column messages differs from the record",
                            entry["draft_id"],
                        )
                    values = tuple(
                        shared.setdefault(columns[c], columns[c]) for c in _HF_LEDGER_COLUMNS
                    )
                    first = hf_columns.setdefault(entry["draft_id"], (where, values))
                    if first[1] != values:
                        breaks.add(
                            "record_edited",
                            where,
                            f"columns {', '.join(_HF_LEDGER_COLUMNS)} differ from {first[0]}",
                            entry["draft_id"],
                        )
        except (OSError, ValueError) as exc:  # pyarrow's errors are OSError or ValueError
            breaks.add("file_unreadable", f"{out_dir / source}", _first_line(exc))
            continue
        for entry in records:
            if entry["split"] == split and entry["line"] not in seen:
                breaks.add(
                    "line_removed",
                    f"{source}:{entry['line'] + 1}",
                    f"draft {entry['draft_id']} is in the manifest but its line is gone",
                    entry["draft_id"],
                )
        if fmt == "hf" and source == data_paths[split] and breaks.total == breaks_before:
            clean_parquet.add(split)

    provenance = _check_against_ledger(
        ledger, result, breaks, records, system_prompt, stale, hf_columns, export_id, fmt
    )
    if provenance_hash is not None and provenance != provenance_hash:
        breaks.add(
            "provenance_changed",
            ref,
            "the generation calls, chunks or documents behind the exported records are not the "
            "ones recorded in the manifest",
        )
    breaks.summarise(ref)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _compare_with_ledger_records(
    ledger: Ledger, breaks: _Breaks, ref: str, export_id: str, records: list[dict[str, Any]]
) -> None:
    in_ledger = {
        draft_id_: (record_hash_, decision_id, split)
        for draft_id_, record_hash_, decision_id, split in ledger.iter_query(
            "SELECT draft_id, record_hash, decision_id, split FROM export_records"
            " WHERE export_id = ?",
            (export_id,),
            size=5000,
        )
    }
    for entry in records:
        expected = in_ledger.pop(entry["draft_id"], None)
        actual = (entry["record_hash"], entry["decision_id"], entry["split"])
        if expected is None:
            breaks.add(
                "manifest_record_mismatch",
                ref,
                f"draft {entry['draft_id']} is in the manifest but not in the ledger's record",
                entry["draft_id"],
            )
        elif expected != actual:
            breaks.add(
                "manifest_record_mismatch",
                ref,
                f"draft {entry['draft_id']}: manifest {actual} but ledger {expected}",
                entry["draft_id"],
            )
    for draft_id_ in in_ledger:
        breaks.add(
            "manifest_record_mismatch",
            ref,
            f"draft {draft_id_} was exported per the ledger but is missing from the manifest",
            draft_id_,
        )


def _expected_data_file(layout: int, fmt: str, split: str) -> str:
    """Where the export put a split's data file (for a split whose file is not listed)."""
    ext = data_ext(fmt)
    return legacy_data_file(split, ext) if layout < 2 else data_file(split, ext)


def _read_files(
    out_dir: Path, fmt: str, data_paths: dict[str, str]
) -> Iterator[tuple[str, str, Iterator[tuple[int, Any]]]]:
    """(source name, split, (line index, raw record) pairs) for every file of the export."""
    for split, source in data_paths.items():
        if fmt in JSONL_FORMATS:
            yield source, split, _jsonl_items(out_dir / source)
        else:
            yield source, split, _parquet_items(out_dir / source)
    if fmt == "hf":
        for split in data_paths:
            yield (
                f"{HF_DATASET_DIR}/{split}",
                split,
                _dataset_items(out_dir / HF_DATASET_DIR, split),
            )


class DuplicateKeyError(ValueError):
    """A JSON object naming one key twice: Python's json keeps the last value, other readers
    the first, so two trainers would read two different records from one line."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` that refuses an object naming a key twice, at any depth."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for index, key in enumerate(keys) if key in keys[:index])
        raise DuplicateKeyError(f"the key {twice!r} appears twice in one object")
    return obj


def _jsonl_items(path: Path) -> Iterator[tuple[int, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for index, text in enumerate(handle):
            try:
                yield index, json.loads(text, object_pairs_hook=unique_keys)
            except DuplicateKeyError as exc:
                yield index, exc  # reported as malformed by _content_of
            except ValueError:
                yield index, text  # not JSON: reported as malformed by _content_of


# What save_to_disk writes for a DatasetDict: these, plus one folder per split.
_DATASET_DICT_FILES = frozenset({"dataset_dict.json"})
_DATASET_SPLIT_FILES = frozenset({"dataset_info.json", "state.json"})


def _check_file_set(
    breaks: _Breaks, out_dir: Path, fmt: str, listed: set[str], splits: list[str]
) -> None:
    """The folder holds exactly the files the manifest lists (and, for hf, exactly what the
    dataset copy's own index names): a file nobody listed is one no reviewer signed off, and
    a trainer pointed at the folder may read it."""
    expected = {MANIFEST_NAME, *(path.split("/", 1)[0] for path in listed)}
    try:
        present = {p.name for p in out_dir.iterdir()}
        for name in sorted(present - expected):
            breaks.add("file_unexpected", str(out_dir / name), "a file the manifest does not list")
        if DATA_DIR in expected and (out_dir / DATA_DIR).is_dir():
            for path in sorted((out_dir / DATA_DIR).iterdir()):
                if f"{DATA_DIR}/{path.name}" not in listed:
                    breaks.add("file_unexpected", str(path), "a file the manifest does not list")
    except OSError as exc:
        breaks.add("file_unreadable", str(out_dir), _first_line(exc))
        return
    if fmt == "hf" and HF_DATASET_DIR in listed and (out_dir / HF_DATASET_DIR).is_dir():
        _check_dataset_files(breaks, out_dir / HF_DATASET_DIR, splits)


def _check_recipes(breaks: _Breaks, out_dir: Path, file_entries: list[dict[str, Any]]) -> None:
    """A trainer recipe decides which columns and roles a trainer reads: it must be the one
    the export wrote (its hash is in the manifest)."""
    for entry in file_entries:
        expected = entry.get("hash")
        if expected is None:
            continue
        path = out_dir / str(entry["path"])
        try:
            changed = file_hash(path) != expected
        except FileNotFoundError:
            breaks.add("file_missing", str(path), "an export file is gone")
            continue
        except OSError as exc:
            breaks.add("file_unreadable", str(path), _first_line(exc))
            continue
        if changed:
            breaks.add("recipe_changed", str(path), "differs from the recipe the export wrote")


def _check_columns(breaks: _Breaks, out_dir: Path, data_paths: dict[str, str]) -> None:
    """Each parquet file and each split of the dataset copy has exactly the export's columns,
    of its types: an added column (a ``text`` a trainer would read) is a break. A file that
    cannot be read is left to the read, which names it."""
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    expected = hf_schema()
    tables: list[tuple[str, Any]] = []
    for source in data_paths.values():
        with contextlib.suppress(OSError, ValueError):
            tables.append((source, pq.read_schema(out_dir / source)))
    try:
        copy = load_from_disk(str(out_dir / HF_DATASET_DIR))
        for split in data_paths:
            if split in copy:
                tables.append((f"{HF_DATASET_DIR}/{split}", copy[split].data.table.schema))
    except (OSError, ValueError, KeyError, FileNotFoundError):
        pass
    for source, schema in tables:
        if not schema.equals(expected, check_metadata=False):
            added = sorted(set(schema.names) - set(expected.names))
            missing = sorted(set(expected.names) - set(schema.names))
            detail = (
                f"columns added {added}, missing {missing}"
                if added or missing
                else "column types or order differ from the export's"
            )
            breaks.add("columns_changed", str(out_dir / source), detail)


def _check_dataset_files(breaks: _Breaks, folder: Path, splits: list[str]) -> None:
    try:
        present = {p.name for p in folder.iterdir()}
        for name in sorted(present - _DATASET_DICT_FILES - set(splits)):
            breaks.add("file_unexpected", str(folder / name), "not part of the dataset copy")
        for split in splits:
            split_dir = folder / split
            if not split_dir.is_dir():
                continue  # reported by the read (file_missing / file_unreadable)
            state = json.loads((split_dir / "state.json").read_text(encoding="utf-8"))
            data_files = {str(f["filename"]) for f in state["_data_files"]}
            for path in sorted(split_dir.iterdir()):
                if path.name not in _DATASET_SPLIT_FILES | data_files:
                    breaks.add("file_unexpected", str(path), "not part of the dataset copy")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        breaks.add("file_unreadable", str(folder), _first_line(exc))


_HF_COLUMNS = [
    "question",
    "answer",
    "system",
    "kind",
    "messages",
    "subtype",
    "document",
    "reviewer",
    "draft_id",
    "decision_id",
    "record_hash",
]
# The hf columns that copy the ledger's provenance, as named in _LOOKUP_SQL's result.
_HF_LEDGER_COLUMNS = ("subtype", "document", "reviewer")


def _parquet_items(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    if not path.exists():
        return
    batches = pq.ParquetFile(path).iter_batches(batch_size=10_000, columns=_HF_COLUMNS)
    yield from enumerate(_rows_of(batches))


def _dataset_items(path: Path, split: str) -> Iterator[tuple[int, Any]]:
    from datasets import load_from_disk

    if not path.exists():
        return
    table = load_from_disk(str(path))[split].data.table.select(_HF_COLUMNS)
    yield from enumerate(_rows_of(table.to_batches(max_chunksize=10_000)))


def _rows_of(batches: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Each row of each Arrow record batch as a dict, as ``batch.to_pylist()`` gives it, but
    converted a column at a time: half the cost of converting row by row."""
    for batch in batches:
        names = batch.schema.names
        for values in zip(*(column.to_pylist() for column in batch.columns), strict=True):
            yield dict(zip(names, values, strict=True))


def _same_table(out_dir: Path, split: str, parquet_path: str) -> bool:
    """The dataset copy's split has the very rows of the split's parquet file (the checked
    columns, same types, same values, same order), compared batch by batch in Arrow. False
    when either cannot be read: the line-by-line pass then reports what is wrong."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    try:
        copy = load_from_disk(str(out_dir / HF_DATASET_DIR))[split].data.table.select(_HF_COLUMNS)
        parquet = pq.ParquetFile(out_dir / parquet_path)
        if parquet.metadata.num_rows != copy.num_rows:
            return False
        offset = 0
        for batch in parquet.iter_batches(batch_size=10_000, columns=_HF_COLUMNS):
            rows = pa.Table.from_batches([batch])
            same: bool = rows.equals(copy.slice(offset, batch.num_rows))
            if not same:
                return False
            offset += batch.num_rows
        whole: bool = offset == copy.num_rows
        return whole
    except (OSError, ValueError, KeyError):
        return False


def _content_of(
    fmt: str, item: Any, kind: str, layout: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A line's canonical content, and the provenance columns it carries (hf only)."""
    if isinstance(item, DuplicateKeyError):
        raise RecordFormatError(str(item))
    if fmt in JSONL_FORMATS:
        return content_of_line(fmt, item, kind, layout=layout), {}
    if not isinstance(item, dict):
        raise RecordFormatError("row is not a record")
    content = record_content(item["question"], item["answer"], item["system"], item["kind"])
    columns = {k: item[k] for k in _HF_COLUMNS if k not in content}
    return content, columns


_LOOKUP_SQL = """
WITH m(i, draft_id, decision_id) AS (
    SELECT key, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)
)
SELECT m.i, m.draft_id, m.decision_id,
       dr.id AS found_draft, dr.kind, dr.subtype, dr.question, dr.answer, dr.meta,
       dr.chunk_id AS draft_chunk, dr.call_id AS draft_call,
       md.id AS found_decision, md.draft_id AS decision_draft, md.verdict, md.reviewer,
       md.final_question, md.final_answer, md.decided_at,
       (SELECT ld.id FROM live_decisions ld WHERE ld.draft_id = m.draft_id
        ORDER BY ld.seq DESC LIMIT 1) AS live_id
FROM m
LEFT JOIN drafts dr ON dr.id = m.draft_id
LEFT JOIN decisions md ON md.id = m.decision_id
ORDER BY m.i
"""
# A batch's drafts come from a few chunks and calls: those are read once per batch and joined
# here (as the LEFT JOINs would), not looked up again for every record.
_SOURCES_SQL = """
SELECT c.id, c.id AS chunk_hash, c.start_line, c.end_line, doc.path AS document
FROM chunks c LEFT JOIN documents doc ON doc.id = c.document_id
WHERE c.id IN (SELECT value FROM json_each(?))
"""
_CALLS_SQL = """
SELECT gc.id, gc.template_name, gc.template_hash, gc.model, gc.finished_at AS generated_at,
       gc.call_hash
FROM generation_calls gc WHERE gc.id IN (SELECT value FROM json_each(?))
"""
_SOURCE_COLUMNS = ("chunk_hash", "start_line", "end_line", "document")
_CALL_COLUMNS = ("template_name", "template_hash", "model", "generated_at", "call_hash")


def _by_id(ledger: Ledger, sql: str, ids: set[Any]) -> dict[Any, tuple[Any, ...]]:
    """id -> the other columns of ``sql``'s rows for these ids (ids are TEXT: a value of any
    other type matches nothing, as in the join)."""
    wanted = json.dumps([i for i in ids if isinstance(i, str)])
    return {row[0]: tuple(row[1:]) for row in ledger.query(sql, (wanted,))}


def _lookup(ledger: Ledger, batch: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Per manifest record of ``batch``, in order: its draft, decision, live decision, chunk,
    document and generation call as the ledger has them (None where missing)."""
    pairs = json.dumps([[r["draft_id"], r["decision_id"]] for r in batch])
    rows = ledger.query(_LOOKUP_SQL, (pairs,))
    if not rows:
        return
    names = rows[0].keys()
    chunk_at, call_at = names.index("draft_chunk"), names.index("draft_call")
    sources = _by_id(ledger, _SOURCES_SQL, {r[chunk_at] for r in rows})
    calls = _by_id(ledger, _CALLS_SQL, {r[call_at] for r in rows})
    no_source = (None,) * len(_SOURCE_COLUMNS)
    no_call = (None,) * len(_CALL_COLUMNS)
    for r in rows:
        # A dict: a sqlite3.Row finds a column by name by comparing it with every column name
        # in turn, and each of 100k rows is read by name some thirty times.
        row = dict(zip(names, r, strict=True))
        row.update(zip(_SOURCE_COLUMNS, sources.get(r[chunk_at], no_source), strict=True))
        row.update(zip(_CALL_COLUMNS, calls.get(r[call_at], no_call), strict=True))
        yield row


def _check_against_ledger(
    ledger: Ledger,
    result: IntegrityResult,
    breaks: _Breaks,
    records: list[dict[str, Any]],
    system_prompt: str | None,
    stale: set[str],
    hf_columns: dict[str, tuple[str, tuple[Any, ...]]],
    export_id: str,
    fmt: str,
) -> str:
    """Check every record against the ledger; returns the provenance hash recomputed from it."""
    stale_listed = set(result.stale_in_export)
    ungrounded_listed = set(result.ungrounded_in_export)
    ungrounded = set(result.ungrounded_drafts)
    provenance = ProvenanceHasher()
    for start in range(0, len(records), LOOKUP_BATCH):
        batch = records[start : start + LOOKUP_BATCH]
        for row in _lookup(ledger, batch):
            entry = batch[row["i"]]
            ref = f"draft {entry['draft_id']}"
            provenance.add(entry["draft_id"], row["call_hash"], row["chunk_hash"], row["document"])
            if row["found_draft"] is None:
                breaks.add(
                    "record_unknown_draft",
                    ref,
                    "the exported draft is not in the ledger",
                    entry["draft_id"],
                )
                continue
            if row["found_decision"] is None or row["decision_draft"] != entry["draft_id"]:
                breaks.add(
                    "record_unsigned",
                    ref,
                    f"decision {entry['decision_id']} that signed it off is not in the ledger",
                    entry["draft_id"],
                )
            elif row["verdict"] not in verdicts_for(fmt) or not is_named(row["reviewer"]):
                breaks.add(
                    "record_unsigned",
                    ref,
                    f"decision {entry['decision_id']} is a {row['verdict']}"
                    + ("" if is_named(row["reviewer"]) else " by no named reviewer")
                    + ", not a sign-off",
                    entry["draft_id"],
                )
            else:
                if fmt in PREFERENCE_FORMATS:
                    _check_preference_text(breaks, ref, entry, row, system_prompt, fmt)
                else:
                    _check_signed_text(breaks, ref, entry, row, system_prompt)
                _check_still_live(ledger, breaks, ref, entry["decision_id"], row["live_id"])
            if entry["draft_id"] in hf_columns:
                where, values = hf_columns[entry["draft_id"]]
                for column, value in zip(_HF_LEDGER_COLUMNS, values, strict=True):
                    if value != row[column]:
                        breaks.add(
                            "record_edited",
                            where,
                            f"column {column} is {value!r}, the ledger says {row[column]!r}",
                            entry["draft_id"],
                        )
            if entry["draft_id"] in stale:
                if entry["draft_id"] not in stale_listed:
                    stale_listed.add(entry["draft_id"])
                    result.stale_in_export.append(entry["draft_id"])
                breaks.add(
                    "stale_in_export",
                    ref,
                    f"its source {row['document']} changed after generation",
                    entry["draft_id"],
                )
            if entry["draft_id"] in ungrounded and entry["draft_id"] not in ungrounded_listed:
                ungrounded_listed.add(entry["draft_id"])
                result.ungrounded_in_export.append(entry["draft_id"])
            exported = {"export_id": export_id, "format": fmt, "split": entry["split"]}
            key = (entry["draft_id"], entry["decision_id"], entry["record_hash"])
            known = result.provenance_at.get(key)
            if known is not None:
                known["exports"].append(exported)
                continue
            signed_question = row["final_question"] if row["verdict"] == "edit" else row["question"]
            result.provenance.append(
                {
                    "record_hash": entry["record_hash"],
                    "draft_id": entry["draft_id"],
                    "decision_id": entry["decision_id"],
                    "question": signed_question,
                    "exports": [exported],
                    "kind": row["kind"],
                    "subtype": row["subtype"],
                    "document": row["document"],
                    "start_line": row["start_line"],
                    "end_line": row["end_line"],
                    "chunk_hash": row["chunk_hash"],
                    "template_name": row["template_name"],
                    "template_hash": row["template_hash"],
                    "model": row["model"],
                    "generated_at": row["generated_at"],
                    "reviewer": row["reviewer"],
                    "verdict": row["verdict"],
                    "decided_at": row["decided_at"],
                }
            )
            result.provenance_at[key] = result.provenance[-1]
    return provenance.hexdigest()


def _check_still_live(
    ledger: Ledger, breaks: _Breaks, ref: str, decision_id: str, live_id: str | None
) -> None:
    """The exported sign-off must still be the draft's live decision."""
    if live_id == decision_id:
        return
    # Only the rare record whose sign-off is no longer live costs this extra read.
    reverted = ledger.query(
        "SELECT 1 FROM decisions WHERE verdict = 'revert' AND reverts_decision_id = ?",
        (decision_id,),
    )
    if reverted:
        breaks.add("record_reverted", ref, "its sign-off was reverted after export")
    else:
        breaks.add(
            "record_superseded", ref, f"a later decision {live_id} replaced the exported sign-off"
        )


def _check_preference_text(
    breaks: _Breaks,
    ref: str,
    entry: dict[str, Any],
    row: Any,
    system_prompt: str | None,
    fmt: str,
) -> None:
    """The preference record the ledger's draft and decision make must hash to the exported
    one: a chosen side nobody signed off, or a rejected side that is not the drafted or the
    model's answer, is a break."""
    try:
        meta = json.loads(row["meta"]) if isinstance(row["meta"], str) else {}
    except ValueError:
        meta = {}
    expected = preference_content(
        fmt,
        kind=row["kind"],
        question=row["question"],
        answer=row["answer"],
        meta=meta if isinstance(meta, dict) else {},
        verdict=row["verdict"],
        final_question=row["final_question"],
        final_answer=row["final_answer"],
        system=system_prompt,
    )
    if expected is None:
        breaks.add(
            "record_text_mismatch",
            ref,
            f"decision {entry['decision_id']} makes no {fmt} record in the ledger",
            entry["draft_id"],
        )
    elif record_hash(expected.content) != entry["record_hash"]:
        breaks.add(
            "record_text_mismatch",
            ref,
            f"the {fmt} record decision {entry['decision_id']} makes does not hash to the "
            "exported record",
            entry["draft_id"],
        )


def _check_signed_text(
    breaks: _Breaks,
    ref: str,
    entry: dict[str, Any],
    row: Any,
    system_prompt: str | None,
) -> None:
    """The text the reviewer signed off must hash to the record that was exported."""
    if row["verdict"] == "edit":
        question, answer = row["final_question"], row["final_answer"]
    else:
        question, answer = row["question"], row["answer"]
    signed = record_hash(record_content(question, answer, system_prompt, row["kind"]))
    if signed != entry["record_hash"]:
        breaks.add(
            "record_text_mismatch",
            ref,
            f"the text decision {entry['decision_id']} signed off does not hash to the "
            "exported record",
        )
