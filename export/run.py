"""Export signed-off drafts as training data: the only door out of Draftgate.

A draft leaves only when its latest live decision is an approve or an edit by a named reviewer
(views ``draft_status`` and ``live_decisions``); an edit leaves with its final text. There is no
option to include anything else.

Memory does not grow with the number of records: the ledger is read in batches inside one
snapshot, lines are written one at a time, parquet in row groups, and the manifest's record
list is streamed into the file as records are written.

The train/eval split is a hash threshold per record (see ``split_of``): a record's split
depends only on the seed and its draft id, so adding unrelated drafts never moves it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import shlex
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ledger.chain import ProvenanceHasher, export_hash
from ledger.ids import DIGEST_BYTES, HASH_PREFIX, new_event_id
from ledger.records import (
    EXPORT_FORMATS,
    SPLITS,
    record_content,
    record_hash,
    to_line,
)
from ledger.store import Ledger, utc_now
from ledger.verify import schema_breaks

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
HF_DATASET_DIR = "dataset"
PARQUET_ROW_GROUP = 10_000
READ_BATCH = 2_000
# 2**64: split and balance positions are the first 8 bytes of a blake2b digest as an integer.
_POSITION_SPACE = 1 << 64


class ExportError(Exception):
    """A problem the user can fix (bad option, occupied folder): one clear line."""


class ExportRefused(ExportError):
    """The ledger's schema is not the one Draftgate made (a view or guard trigger was changed):
    what "signed off" means can no longer be trusted, so nothing leaves (exit 1)."""


@dataclass(frozen=True)
class Balance:
    """Per-kind caps (``qa=500``) or a target mix (``qa=0.7,negative=0.3``)."""

    caps: dict[str, int] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"caps": self.caps} if self.caps else {"ratios": self.ratios}


def parse_balance(text: str) -> Balance:
    """``kind=N,...`` caps each kind at N records; ``kind=0.7,...`` (any value with a decimal
    point) is a target mix among the named kinds, normalised. Unnamed kinds are not capped."""
    pairs: dict[str, str] = {}
    for part in text.split(","):
        kind, sep, value = part.partition("=")
        if not sep or not kind.strip() or not value.strip():
            raise ExportError(f"--balance: {part!r} is not kind=value")
        pairs[kind.strip()] = value.strip()
    if any("." in v for v in pairs.values()):
        try:
            ratios = {k: float(v) for k, v in pairs.items()}
        except ValueError as exc:
            raise ExportError(f"--balance: not a number: {exc}") from exc
        if any(r < 0 for r in ratios.values()) or sum(ratios.values()) <= 0:
            raise ExportError("--balance: ratios must be non-negative and not all zero")
        total = sum(ratios.values())
        return Balance(ratios={k: r / total for k, r in ratios.items()})
    try:
        caps = {k: int(v) for k, v in pairs.items()}
    except ValueError as exc:
        raise ExportError(f"--balance: not a whole number: {exc}") from exc
    if any(c < 0 for c in caps.values()):
        raise ExportError("--balance: caps must be non-negative")
    return Balance(caps=caps)


def caps_for(balance: Balance | None, counts: dict[str, int]) -> dict[str, int]:
    """Resolve a balance into a cap per kind, given how many signed-off records each kind has.

    For a mix, the largest set that keeps the mix is taken: total T = min(n_k / w_k), and kind
    k keeps floor(w_k * T) records.
    """
    if balance is None:
        return {}
    if balance.caps:
        return dict(balance.caps)
    weighted = {k: w for k, w in balance.ratios.items() if w > 0}
    total = min((counts.get(k, 0) / w for k, w in weighted.items()), default=0.0)
    return {k: int(balance.ratios[k] * total + 1e-9) for k in balance.ratios}


@dataclass(frozen=True)
class ExportOptions:
    format: str
    out_dir: Path
    eval_fraction: float = 0.1
    seed: int = 0
    kinds: tuple[str, ...] | None = None
    system_prompt: str | None = None
    balance: Balance | None = None
    force: bool = False
    command: str = field(default_factory=lambda: shlex.join(sys.argv))


@dataclass
class ExportResult:
    export_id: str
    out_dir: Path
    format: str
    head_seq: int
    head_hash: str
    counts: dict[str, dict[str, int]]
    files: list[str]
    manifest_hash: str

    @property
    def record_count(self) -> int:
        return sum(sum(by_kind.values()) for by_kind in self.counts.values())


def position(seed: int, purpose: str, draft_id: str) -> int:
    """A draft's fixed place in [0, 2**64) for one purpose ("split" or "balance")."""
    digest = hashlib.blake2b(f"{seed}:{purpose}:{draft_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def min_stratum_for_eval(eval_fraction: float) -> int:
    """The smallest stratum that must hold at least one eval record: one where the expected
    number of eval records, n * fraction, reaches 1."""
    if eval_fraction <= 0:
        return sys.maxsize
    return max(1, int(1 / eval_fraction + 0.999999))


# ---- reading the signed-off records -------------------------------------------------------

_SIGNED_OFF_FROM = """
    FROM draft_status s
    JOIN drafts dr ON dr.id = s.draft_id
    JOIN decisions de ON de.id = s.decision_id
    JOIN chunks c ON c.id = dr.chunk_id
    JOIN documents doc ON doc.id = c.document_id
    WHERE s.verdict IN ('approve', 'edit') AND length(trim(s.reviewer)) > 0
"""


def _signed_off_rows(ledger: Ledger, columns: str, kinds: tuple[str, ...] | None) -> Iterator[Any]:
    sql = f"SELECT {columns} {_SIGNED_OFF_FROM}"
    params: list[Any] = []
    if kinds:
        sql += f" AND dr.kind IN ({', '.join('?' for _ in kinds)})"
        params += list(kinds)
    # Creation order: a stable, meaningful order for the lines of a file.
    sql += " ORDER BY dr.rowid"
    return ledger.iter_query(sql, params, size=READ_BATCH)


@dataclass
class _Plan:
    """What the cheap id-only passes decide before any file is written."""

    kind_cutoff: dict[str, int]  # keep a record of kind k when its balance position < cutoff
    forced_eval: set[str]  # one draft per stratum that the threshold left without eval records
    threshold: int  # split position below which a record goes to eval
    record_count: int  # records the export will write


def _plan(ledger: Ledger, options: ExportOptions) -> _Plan:
    """Id-only passes: one without --balance, three with a cap that binds."""
    counts, strata = _strata_pass(ledger, options, {})
    caps = caps_for(options.balance, counts)
    binding = {k: c for k, c in caps.items() if c < counts.get(k, 0)}
    cutoff: dict[str, int] = {}
    if binding:
        cutoff = _balance_cutoffs(ledger, options, binding)
        _, strata = _strata_pass(ledger, options, cutoff)
    threshold = int(options.eval_fraction * _POSITION_SPACE)
    # Small strata: a (kind, document) stratum big enough to expect an eval record but whose
    # records all fell above the threshold sends its lowest-positioned record to eval.
    need = min_stratum_for_eval(options.eval_fraction)
    forced = {
        stratum.lowest_id
        for stratum in strata.values()
        if stratum.size >= need and stratum.lowest >= threshold
    }
    return _Plan(
        kind_cutoff=cutoff,
        forced_eval=forced,
        threshold=threshold,
        record_count=sum(stratum.size for stratum in strata.values()),
    )


@dataclass
class _Stratum:
    size: int = 0
    lowest: int = _POSITION_SPACE  # the lowest split position among its records
    lowest_id: str = ""


def _strata_pass(
    ledger: Ledger, options: ExportOptions, cutoff: dict[str, int]
) -> tuple[dict[str, int], dict[tuple[str, str], _Stratum]]:
    """Signed-off records per kind, and per (kind, document) stratum its size and lowest split
    position, keeping only records under their kind's balance cutoff."""
    counts: Counter[str] = Counter()
    strata: dict[tuple[str, str], _Stratum] = {}
    for row in _signed_off_rows(ledger, "dr.id, dr.kind, doc.path", options.kinds):
        draft_id_, kind, path = row[0], row[1], row[2]
        if kind in cutoff and position(options.seed, "balance", draft_id_) >= cutoff[kind]:
            continue
        counts[kind] += 1
        stratum = strata.setdefault((kind, path), _Stratum())
        stratum.size += 1
        pos = position(options.seed, "split", draft_id_)
        if pos < stratum.lowest:
            stratum.lowest, stratum.lowest_id = pos, draft_id_
    return dict(counts), strata


def _balance_cutoffs(
    ledger: Ledger, options: ExportOptions, binding: dict[str, int]
) -> dict[str, int]:
    """Per capped kind, the balance position under which exactly `cap` records fall.

    A max-heap of the `cap` lowest positions: memory is bounded by the cap, not the ledger.
    """
    heaps: dict[str, list[int]] = {k: [] for k in binding}
    for row in _signed_off_rows(ledger, "dr.id, dr.kind", options.kinds):
        cap = binding.get(row[1])
        if not cap:
            continue
        heap = heaps[row[1]]
        pos = -position(options.seed, "balance", row[0])
        if len(heap) < cap:
            heapq.heappush(heap, pos)
        elif pos > heap[0]:
            heapq.heapreplace(heap, pos)
    return {k: (-heap[0] + 1 if heap else 0) for k, heap in heaps.items()}


# ---- writing ------------------------------------------------------------------------------


# --force moves the previous export here (inside --out) until the new one is recorded.
REPLACED_PREFIX = ".replaced-"


def _prepare_out_dir(options: ExportOptions) -> Path | None:
    """Refuse to mix two exports in one folder. ``force`` replaces a previous export's own
    files (those its manifest lists); a folder holding anything else is never emptied. The
    previous files are moved aside (the folder returned), not deleted: they come back if the
    new export fails or cannot be recorded, and go only once it is recorded."""
    out = options.out_dir
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a folder")
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return None
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.exists():
        raise ExportError(f"--out {out} is not empty and holds no Draftgate export; pick another")
    if not options.force:
        raise ExportError(f"--out {out} already holds an export; pass --force to replace it")
    try:
        previous = json.loads(manifest_path.read_text(encoding="utf-8"))
        # Only plain names: a manifest cannot point --force at anything outside the folder.
        names = [Path(str(f["path"])).name for f in previous.get("files", [])]
        listed = [n for n in names if n not in ("", ".", "..")]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ExportError(f"--out {out}: cannot read the previous manifest: {exc}") from exc
    own = {MANIFEST_NAME, *listed}
    strangers = sorted(p.name for p in out.iterdir() if p.name not in own)
    if strangers:
        # Checked before anything is removed: --force never deletes a file it did not write.
        raise ExportError(f"--out {out} also holds files no manifest lists: {strangers[:3]}")
    aside = out / f"{REPLACED_PREFIX}{new_event_id()}"
    aside.mkdir()
    for rel in listed:
        target = out / rel
        if rel != MANIFEST_NAME and (target.exists() or target.is_symlink()):
            target.rename(aside / rel)
    manifest_path.rename(aside / MANIFEST_NAME)
    return aside


def _put_back(out: Path, aside: Path | None) -> None:
    """Undo ``_prepare_out_dir``'s move: the previous export's files return to ``out``."""
    if aside is None:
        return
    for item in aside.iterdir():
        _remove_files(out, [item.name])  # a file of the failed export under the same name
        item.rename(out / item.name)
    aside.rmdir()


class _Writer:
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


def _save_hf_dataset(out_dir: Path) -> str:
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


def export(ledger: Ledger, options: ExportOptions) -> ExportResult:
    """Write the export, its manifest, and record it in the ledger."""
    if options.format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {options.format!r}; pick one of {EXPORT_FORMATS}")
    if not 0 <= options.eval_fraction < 1:
        raise ExportError("--eval-fraction must be at least 0 and below 1")
    if options.system_prompt is not None and not options.system_prompt.strip():
        raise ExportError("--system-prompt is empty")
    export_id = new_event_id()
    created_at = utc_now()
    out = options.out_dir
    counts: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    spool_path = out / ".records.part"
    manifest_part = out / f"{MANIFEST_NAME}.part"
    with ledger.snapshot():
        # The views decide what is signed off; a redefined one could let reverted or rejected
        # drafts out, so the schema is checked before anything is read through it.
        changed = schema_breaks(ledger)
        if changed:
            raise ExportRefused(
                f"the ledger's schema was changed ({changed[0].line()}"
                + (f", and {len(changed) - 1} more" if len(changed) > 1 else "")
                + "); nothing was exported: run 'draftgate verify'"
            )
        head = ledger.head()
        plan = _plan(ledger, options)
        if plan.record_count == 0:
            raise ExportError(
                "nothing to export: no draft"
                + (f" of kind {', '.join(options.kinds)}" if options.kinds else "")
                + " is signed off (approved or edited) yet"
            )
        aside = _prepare_out_dir(options)
        writer = _Writer(options.format, out)
        try:
            with (
                open(manifest_part, "w", encoding="utf-8") as manifest,
                open(spool_path, "w", encoding="utf-8") as spool,
            ):
                header = {
                    "draftgate_export": MANIFEST_VERSION,
                    "export_id": export_id,
                    "created_at": created_at,
                    "format": options.format,
                    "seed": options.seed,
                    "eval_fraction": options.eval_fraction,
                    "kinds": list(options.kinds) if options.kinds else None,
                    "balance": options.balance.as_dict() if options.balance else None,
                    "system_prompt": options.system_prompt,
                    "command": options.command,
                    "ledger": {"path": ledger.path, "head_seq": head.seq, "head_hash": head.hash},
                    "split_rule": {
                        "eval_when": "blake2b(seed:split:draft_id) < eval_fraction * 2**64",
                        "min_stratum_for_eval": min_stratum_for_eval(options.eval_fraction),
                        "strata": "kind x source document",
                    },
                }
                # The record list is streamed into the manifest between its header and its counts.
                manifest.write(json.dumps(header, ensure_ascii=False, indent=1)[:-2] + ",\n")
                manifest.write(' "records": [\n')
                first = True
                provenance = ProvenanceHasher()
                for row in _signed_off_rows(
                    ledger,
                    "dr.id, dr.kind, dr.subtype, dr.question, dr.answer, s.decision_id, s.verdict,"
                    " s.reviewer, de.final_question, de.final_answer, doc.path, dr.chunk_id,"
                    " (SELECT gc.call_hash FROM generation_calls gc WHERE gc.id = dr.call_id)",
                    options.kinds,
                ):
                    (draft_id_, kind, subtype, question, answer, decision_id, verdict, reviewer,
                     final_q, final_a, path, chunk_id_, call_hash_) = tuple(row)  # fmt: skip
                    cutoff = plan.kind_cutoff.get(kind)
                    if (
                        cutoff is not None
                        and position(options.seed, "balance", draft_id_) >= cutoff
                    ):
                        continue
                    if verdict == "edit":
                        question, answer = final_q, final_a
                    if not question.strip() or not answer.strip():
                        # Every format (and OpenAI's validation) refuses empty turns; the ledger
                        # never stores one, so this is a guard, not a filter.
                        raise ExportError(f"draft {draft_id_}: empty question or answer")
                    content = record_content(question, answer, options.system_prompt, kind)
                    rhash = record_hash(content)
                    pos = position(options.seed, "split", draft_id_)
                    split = (
                        "eval" if pos < plan.threshold or draft_id_ in plan.forced_eval else "train"
                    )
                    extra = {
                        "subtype": subtype,
                        "document": path,
                        "draft_id": draft_id_,
                        "decision_id": decision_id,
                        "reviewer": reviewer,
                        "record_hash": rhash,
                    }
                    index = writer.write(split, content, extra)
                    counts[split][kind] += 1
                    # Ids and numbers need no escaping, so the entry is formatted directly:
                    # json.dumps of the whole entry per record costs ~0.5 s at 100k.
                    entry = (
                        f'{{"record_hash": "{rhash}", "draft_id": "{draft_id_}", '
                        f'"decision_id": "{decision_id}", "kind": {json.dumps(kind)}, '
                        f'"split": "{split}", "line": {index}}}'
                    )
                    manifest.write(("" if first else ",\n") + "  " + entry)
                    first = False
                    provenance.add(draft_id_, call_hash_, chunk_id_, path)
                    spool.write(f"{rhash}\t{draft_id_}\t{decision_id}\t{split}\n")
                files = writer.close()
                if options.format == "hf":
                    files.append(_save_hf_dataset(out))
                manifest.write("\n ],\n")
                tail = {
                    "counts": {s: dict(sorted(counts[s].items())) for s in SPLITS},
                    "record_count": sum(sum(c.values()) for c in counts.values()),
                    "files": [{"path": f, "split": _split_of_file(f)} for f in files],
                    "provenance_hash": provenance.hexdigest(),
                }
                manifest.write(json.dumps(tail, ensure_ascii=False, indent=1)[2:] + "\n")
        except BaseException:
            writer.abort()
            for part in (manifest_part, spool_path):
                part.unlink(missing_ok=True)
            _put_back(out, aside)
            raise
    os.replace(manifest_part, out / MANIFEST_NAME)
    manifest_hash = file_hash(out / MANIFEST_NAME)
    result = ExportResult(
        export_id=export_id,
        out_dir=out,
        format=options.format,
        head_seq=head.seq,
        head_hash=head.hash,
        counts={s: dict(counts[s]) for s in SPLITS},
        files=[*files, MANIFEST_NAME],
        manifest_hash=manifest_hash,
    )
    try:
        record_export(ledger, result, options, created_at, spool_path)
    except BaseException:
        # Not recorded (read-only, locked, damaged ledger; Ctrl-C): files the ledger cannot
        # vouch for must not stay, or they would pass for an export.
        _remove_files(out, result.files)
        _put_back(out, aside)
        raise
    finally:
        spool_path.unlink(missing_ok=True)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return result


def _remove_files(out: Path, names: list[str]) -> None:
    for name in names:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


def _split_of_file(name: str) -> str | None:
    stem = name.split(".", 1)[0]
    return stem if stem in SPLITS else None


def file_hash(path: Path) -> str:
    """blake2b of a file's bytes, read in blocks."""
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return HASH_PREFIX + digest.hexdigest()


def record_export(
    ledger: Ledger, result: ExportResult, options: ExportOptions, created_at: str, spool: Path
) -> None:
    """Record the export and every record's hash in the ledger, in one transaction."""
    row: dict[str, Any] = {
        "id": result.export_id,
        "created_at": created_at,
        "format": result.format,
        "out_dir": str(result.out_dir.resolve()),
        "head_seq": result.head_seq,
        "head_hash": result.head_hash,
        "record_count": result.record_count,
        "manifest_hash": result.manifest_hash,
        "seed": options.seed,
        "command": options.command,
    }
    with open(spool, encoding="utf-8") as lines:
        row["export_hash"] = export_hash(row, (_spooled(line) for line in lines))
    with ledger.transaction() as db, open(spool, encoding="utf-8") as lines:
        db.execute(
            f"INSERT INTO exports({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
        batch: list[tuple[str, ...]] = []
        for line in lines:
            batch.append((result.export_id, *_spooled(line)))
            if len(batch) >= READ_BATCH:
                _insert_records(db, batch)
        _insert_records(db, batch)


def _spooled(line: str) -> tuple[str, str, str, str]:
    """(draft_id, record_hash, decision_id, split) of one spool line."""
    rhash, draft_id_, decision_id, split = line.rstrip("\n").split("\t")
    return draft_id_, rhash, decision_id, split


def _insert_records(db: Any, batch: list[tuple[str, ...]]) -> None:
    db.executemany(
        "INSERT INTO export_records(export_id, draft_id, record_hash, decision_id, split)"
        " VALUES (?, ?, ?, ?, ?)",
        batch,
    )
    batch.clear()


def recorded_exports(ledger: Ledger) -> list[dict[str, Any]]:
    """Every export the ledger knows of, oldest first."""
    return [dict(r) for r in ledger.query("SELECT * FROM exports ORDER BY created_at, id")]


def export_record_rows(ledger: Ledger, export_id: str) -> Iterator[dict[str, Any]]:
    for row in ledger.iter_query(
        "SELECT record_hash, draft_id, decision_id, split FROM export_records WHERE export_id = ?",
        (export_id,),
    ):
        yield dict(row)
