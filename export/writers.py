"""Per-split data files of each format, written a record at a time, and the hf DatasetDict."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, TextIO

from export.records import SPLITS, to_line

HF_DATASET_DIR = "dataset"
PARQUET_ROW_GROUP = 10_000


class SplitWriter:
    """Per-split files of one format, written a record at a time."""

    def __init__(self, fmt: str, out_dir: Path) -> None:
        self.fmt = fmt
        self.out_dir = out_dir
        self.lines = dict.fromkeys(SPLITS, 0)
        self._jsonl: dict[str, TextIO] = {}
        self._parquet: dict[str, Any] = {}
        # Parquet rows are buffered column by column: building a table from a list of row dicts
        # (``Table.from_pylist``) cost a second per 100k records.
        self._buffers: dict[str, _ParquetColumns] = {s: _ParquetColumns() for s in SPLITS}
        if fmt == "hf":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._pa = pa
            self._schema = hf_schema()
            for split in SPLITS:
                self._parquet[split] = pq.ParquetWriter(
                    out_dir / f"{split}.parquet.part", self._schema
                )
        else:
            for split in SPLITS:
                self._jsonl[split] = open(  # noqa: SIM115 - closed in close()
                    out_dir / f"{split}.jsonl.part", "w", encoding="utf-8", newline="\n"
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
        """Finish the files and give them their final names; returns them (relative)."""
        files = []
        for split in SPLITS:
            if self.fmt == "hf":
                self._flush(split)
                self._parquet[split].close()
                name = f"{split}.parquet"
            else:
                self._jsonl[split].close()
                name = f"{split}.jsonl"
            os.replace(self.out_dir / f"{name}.part", self.out_dir / name)
            files.append(name)
        return files

    def abort(self) -> None:
        for handle in self._jsonl.values():
            handle.close()
        for writer in self._parquet.values():
            writer.close()
        for part in self.out_dir.glob("*.part"):
            part.unlink()


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


def save_hf_dataset(out_dir: Path) -> str:
    """Load the parquet files as a ``DatasetDict`` and ``save_to_disk`` beside them.

    ``Dataset.from_parquet`` converts to Arrow files on disk (memory-mapped), so this stays
    streamed; its cache goes to a temporary folder that is removed afterwards.
    """
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict, Features, disable_progress_bars

    disable_progress_bars()  # the command prints its own summary
    features = Features.from_arrow_schema(hf_schema())
    with tempfile.TemporaryDirectory(prefix="draftgate-hf-") as cache:
        splits = {}
        # An empty split saved with the default sharding has no Arrow file at all, and
        # load_from_disk then fails on it; one (empty) shard loads.
        num_shards: dict[str, int] = {}
        for split in SPLITS:
            path = out_dir / f"{split}.parquet"
            if pq.ParquetFile(path).metadata.num_rows == 0:
                # from_parquet refuses a file without rows; an empty split is still a split.
                splits[split] = Dataset.from_dict(
                    {name: [] for name in features}, features=features
                )
                num_shards[split] = 1
            else:
                splits[split] = Dataset.from_parquet(str(path), cache_dir=cache)
        DatasetDict(splits).save_to_disk(
            str(out_dir / HF_DATASET_DIR), num_shards=num_shards or None
        )
    return HF_DATASET_DIR
