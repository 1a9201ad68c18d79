"""Per-split data files of each format, written a record at a time, and the hf DatasetDict."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any, TextIO

from export.layout import DATA_DIR, data_ext, data_file
from export.records import SPLITS, to_line

HF_DATASET_DIR = "dataset"
PARQUET_ROW_GROUP = 10_000


class SplitWriter:
    """Per-split files of one format, written a record at a time into a staging folder (the
    whole folder is the unfinished export, so files carry their final names). A split that
    received no record is left out: loaders refuse an empty data file."""

    def __init__(self, fmt: str, out_dir: Path) -> None:
        self.fmt = fmt
        self.out_dir = out_dir
        self.lines = dict.fromkeys(SPLITS, 0)
        self._jsonl: dict[str, TextIO] = {}
        self._parquet: dict[str, Any] = {}
        # Parquet rows are buffered column by column: building a table from a list of row dicts
        # (``Table.from_pylist``) cost a second per 100k records.
        self._buffers: dict[str, _ParquetColumns] = {s: _ParquetColumns() for s in SPLITS}
        self.paths = {split: data_file(split, data_ext(fmt)) for split in SPLITS}
        (out_dir / DATA_DIR).mkdir(exist_ok=True)
        if fmt == "hf":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._pa = pa
            self._schema = hf_schema()
            for split in SPLITS:
                self._parquet[split] = pq.ParquetWriter(out_dir / self.paths[split], self._schema)
        else:
            for split in SPLITS:
                self._jsonl[split] = open(  # noqa: SIM115 - closed in close()
                    out_dir / self.paths[split], "w", encoding="utf-8", newline="\n"
                )

    def write(self, split: str, content: dict[str, Any], extra: dict[str, Any]) -> int:
        index = self.lines[split]
        self.lines[split] += 1
        if self.fmt == "hf":
            buffer = self._buffers[split]
            buffer.add(content, extra)
            if buffer.rows >= PARQUET_ROW_GROUP:
                self._flush(split)
            return index
        line = to_line(self.fmt, content)
        self._jsonl[split].write(_json_line(line) + "\n")
        return index

    def _flush(self, split: str) -> None:
        buffer = self._buffers[split]
        if buffer.rows:
            table = buffer.table(self._pa, self._schema)
            self._parquet[split].write_table(table, row_group_size=PARQUET_ROW_GROUP)
            self._buffers[split] = _ParquetColumns()

    def close(self) -> list[str]:
        """Finish the files; returns those of the splits that hold records (relative)."""
        files = []
        for split in SPLITS:
            if self.fmt == "hf":
                self._flush(split)
                self._parquet[split].close()
            else:
                self._jsonl[split].close()
            name = self.paths[split]
            if self.lines[split]:
                files.append(name)
            else:
                (self.out_dir / name).unlink()
        return files

    def abort(self) -> None:
        """Close every file (the caller removes the staging folder)."""
        for handle in self._jsonl.values():
            handle.close()
        for writer in self._parquet.values():
            # A full disk fails the close too; the staging folder goes anyway.
            with contextlib.suppress(OSError):
                writer.close()


# json.dumps(line, ensure_ascii=False) builds a new encoder on every call; one encoder with the
# same settings writes the same text.
_json_line = json.JSONEncoder(ensure_ascii=False).encode

# The hf columns after ``messages``, each copied from a record's provenance (``extra``).
_HF_EXTRA_COLUMNS = ("subtype", "document", "draft_id", "decision_id", "reviewer", "record_hash")


class _ParquetColumns:
    """One row group of the hf schema, held as a list per column; ``messages`` as a flat list
    of roles and contents plus list offsets (the same values ``to_line("openai")`` gives)."""

    def __init__(self) -> None:
        self.rows = 0
        self.content: dict[str, list[Any]] = {
            k: [] for k in ("question", "answer", "system", "kind")
        }
        self.extra: dict[str, list[Any]] = {k: [] for k in _HF_EXTRA_COLUMNS}
        self.offsets = [0]
        self.roles: list[str] = []
        self.texts: list[str] = []

    def add(self, content: dict[str, Any], extra: dict[str, Any]) -> None:
        for key, values in self.content.items():
            values.append(content[key])
        for key, values in self.extra.items():
            values.append(extra[key])
        for message in to_line("openai", content)["messages"]:
            self.roles.append(message["role"])
            self.texts.append(message["content"])
        self.offsets.append(len(self.roles))
        self.rows += 1

    def table(self, pa: Any, schema: Any) -> Any:
        text = pa.string()
        message_type = schema.field("messages").type
        messages = pa.ListArray.from_arrays(
            pa.array(self.offsets, pa.int32()),
            pa.StructArray.from_arrays(
                [pa.array(self.roles, text), pa.array(self.texts, text)],
                fields=list(message_type.value_type),
            ),
            type=message_type,
        )
        columns = {name: pa.array(values, text) for name, values in self.content.items()}
        columns["messages"] = messages
        columns |= {name: pa.array(values, text) for name, values in self.extra.items()}
        return pa.Table.from_arrays([columns[name] for name in schema.names], schema=schema)


def hf_schema() -> Any:
    import pyarrow as pa

    text = pa.string()
    return pa.schema(
        [
            ("question", text),
            ("answer", text),
            ("system", text),
            ("kind", text),
            ("messages", pa.list_(pa.struct([("role", text), ("content", text)]))),
            ("subtype", text),
            ("document", text),
            ("draft_id", text),
            ("decision_id", text),
            ("reviewer", text),
            ("record_hash", text),
        ]
    )


def save_hf_dataset(out_dir: Path, splits: list[str]) -> str:
    """Load the parquet files of ``splits`` (those holding records) as a ``DatasetDict`` and
    ``save_to_disk`` beside them, readable by datasets 3.x as well as 4.x and later.

    ``Dataset.from_parquet`` converts to Arrow files on disk (memory-mapped), so this stays
    streamed; its cache goes to a temporary folder that is removed afterwards.
    """
    from datasets import Dataset, DatasetDict, disable_progress_bars

    disable_progress_bars()  # the command prints its own summary
    with tempfile.TemporaryDirectory(prefix="draftgate-hf-") as cache:
        datasets = {}
        for split in splits:
            path = out_dir / data_file(split, "parquet")
            datasets[split] = Dataset.from_parquet(str(path), cache_dir=cache)
        DatasetDict(datasets).save_to_disk(str(out_dir / HF_DATASET_DIR))
    for split in splits:
        make_features_portable(out_dir / HF_DATASET_DIR / split)
    return HF_DATASET_DIR


def portable_features(features: Any) -> Any:
    """A features description both datasets 3.x and 4.x+ read: 4.x writes a list column as
    ``{"_type": "List", "feature": X}``, a type 3.x does not know ("Feature type 'List' not
    found"); ``[X]``, the older spelling of the same list, is read by both."""
    if isinstance(features, dict):
        if features.get("_type") == "List" and set(features) <= {"_type", "feature"}:
            return [portable_features(features["feature"])]
        return {key: portable_features(value) for key, value in features.items()}
    if isinstance(features, list):
        return [portable_features(value) for value in features]
    return features


def make_features_portable(split_dir: Path) -> None:
    """Rewrite one saved split's features (its ``dataset_info.json`` and the copy in each Arrow
    file's schema metadata, which datasets also reads) in the portable spelling."""
    import pyarrow as pa

    info_path = split_dir / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["features"] = portable_features(info["features"])
    info_path.write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")
    for arrow_path in sorted(split_dir.glob("*.arrow")):
        with pa.memory_map(str(arrow_path)) as source:
            reader = pa.ipc.open_stream(source)
            metadata = dict(reader.schema.metadata or {})
            hf_meta = json.loads(metadata.get(b"huggingface", b"{}"))
            if "info" in hf_meta and "features" in hf_meta["info"]:
                hf_meta["info"]["features"] = portable_features(hf_meta["info"]["features"])
            metadata[b"huggingface"] = json.dumps(hf_meta).encode("utf-8")
            schema = reader.schema.with_metadata(metadata)
            rewritten = arrow_path.with_name(arrow_path.name + ".tmp")
            with pa.OSFile(str(rewritten), "wb") as sink, pa.ipc.new_stream(sink, schema) as out:
                for batch in reader:
                    out.write_batch(batch)
        rewritten.replace(arrow_path)
