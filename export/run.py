"""Export signed-off drafts as training data: the only door out of Draftgate.

A draft leaves only when its latest live decision is an approve or an edit by a named reviewer
(views ``draft_status`` and ``live_decisions``); an edit leaves with its final text. There is no
option to include anything else. The one other decision that leaves is a named reviewer's
reject, only in the ``kto`` format, as a ``label: false`` line (``export.preference``).

Memory does not grow with the number of records: the ledger is read in batches inside one
snapshot, lines are written one at a time, parquet in row groups, and the manifest's record
list is streamed into the file as records are written.

Which records and which split: ``export.selection``. The files: ``export.writers``.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from export.errors import ExportError, ExportRefused
from export.folder import (
    check_target,
    discard,
    interrupts_between_records,
    make_staging,
    move_into_place,
    path_error,
    signals_deferred,
)
from export.manifest import MANIFEST_NAME, MANIFEST_VERSION, file_hash
from export.preference import (
    DEFAULT_MIN_EDIT_DISTANCE,
    PREFERENCE_FORMATS,
    Preference,
    PreferenceTally,
    collect_preferences,
)
from export.recipes import write_recipes
from export.recording import record_export
from export.records import EVAL_SPLIT, EXPORT_FORMATS, SPLITS, record_content, record_hash
from export.selection import (
    Balance,
    ExportPlan,
    min_stratum_for_eval,
    plan_export,
    position,
)
from export.writers import SplitWriter, save_hf_dataset
from ledger import Ledger, utc_now
from ledger.chain import ProvenanceHasher
from ledger.ids import new_event_id
from ledger.progress import NO_PROGRESS, Progress
from ledger.store import ChainHead, DecidedRecord
from ledger.verify import schema_breaks


@dataclass(frozen=True)
class ExportOptions:
    format: str
    out_dir: Path
    eval_fraction: float = 0.1
    seed: int = 0
    kinds: tuple[str, ...] | None = None
    system_prompt: str | None = None
    balance: Balance | None = None
    # Signed-off drafts whose source changed since they were drafted stay out unless asked for.
    include_stale: bool = False
    # Preference formats: pairs whose two answers are closer than this are left out.
    min_edit_distance: float = DEFAULT_MIN_EDIT_DISTANCE
    # A share of each kind kept out of train and eval, listed in the manifest for probing.
    hold_out: float = 0.0
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
    # Splits that held no record and so got no file.
    left_out_splits: list[str] = field(default_factory=list)
    stale_left_out: int = 0
    # Preference formats: what was made of the decided drafts, and what was left out.
    preference: dict[str, Any] | None = None
    held_out: dict[str, int] = field(default_factory=dict)  # kind -> records held out

    @property
    def record_count(self) -> int:
        return sum(sum(by_kind.values()) for by_kind in self.counts.values())


def export(
    ledger: Ledger, options: ExportOptions, progress: Progress = NO_PROGRESS
) -> ExportResult:
    """Write the export, its manifest, and record it in the ledger; ``progress`` counts the
    records written."""
    if options.format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {options.format!r}; pick one of {EXPORT_FORMATS}")
    if not 0 <= options.eval_fraction < 1:
        raise ExportError("--eval-fraction must be at least 0 and below 1")
    if not 0 <= options.hold_out < 1:
        raise ExportError("--hold-out must be at least 0 and below 1")
    if options.system_prompt is not None and not options.system_prompt.strip():
        raise ExportError("--system-prompt is empty")
    if not 0 <= options.min_edit_distance <= 1:
        raise ExportError("--min-edit-distance must be between 0 and 1")
    export_id = new_event_id()
    created_at = utc_now()
    out = options.out_dir
    counts: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
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
        preferences: list[tuple[DecidedRecord, Preference]] | None = None
        tally: PreferenceTally | None = None
        if options.format in PREFERENCE_FORMATS:
            preferences, tally, stale_left_out = _preferences(ledger, options)
            pairs = preferences
            plan = plan_export(
                ledger, options, keys=lambda: ((r.draft_id, r.kind, r.document) for r, _ in pairs)
            )
        else:
            stale_left_out = (
                0 if options.include_stale else ledger.count_stale_signed_off(options.kinds)
            )
            plan = plan_export(ledger, options)
        if plan.record_count == 0 and plan.held_out:
            raise ExportError(
                f"nothing to export: --hold-out {options.hold_out:g} holds out all "
                f"{len(plan.held_out)} signed-off drafts; lower it"
            )
        if plan.record_count == 0:
            raise ExportError(
                "nothing to export: no draft"
                + (f" of kind {', '.join(options.kinds)}" if options.kinds else "")
                + (
                    " makes a preference record (an edit, a probed or imported model answer, "
                    "or for kto any decision by a named reviewer)"
                    if preferences is not None
                    else " is signed off (approved or edited) yet"
                )
                + (
                    f" but {stale_left_out} stale (--include-stale keeps them)"
                    if stale_left_out
                    else ""
                )
            )
        check_target(out, ledger, force=options.force)
        # Everything is written into a staging folder beside --out; --out itself changes only
        # once the ledger has recorded the export (move_into_place below).
        staging = make_staging(out)
        try:
            with interrupts_between_records() as interrupted:
                records = (
                    _sft_records(ledger, options)
                    if preferences is None
                    else _preference_records(preferences)
                )
                files, left_out, provenance_hash, held_out = _write_files(
                    records, options, plan, staging, counts, export_id, created_at, head,
                    stale_left_out, interrupted, progress, ledger.path, tally,
                )  # fmt: skip
        except BaseException as exc:
            discard(staging)
            if isinstance(exc, OSError):
                raise path_error(out, exc) from exc
            raise
    manifest_hash = file_hash(staging / MANIFEST_NAME)
    result = ExportResult(
        export_id=export_id,
        out_dir=out,
        format=options.format,
        head_seq=head.seq,
        head_hash=head.hash,
        counts={s: dict(counts[s]) for s in SPLITS},
        files=[*files, MANIFEST_NAME],
        manifest_hash=manifest_hash,
        left_out_splits=left_out,
        stale_left_out=stale_left_out,
        preference=tally.as_dict() if tally is not None else None,
        held_out=dict(Counter(str(entry["kind"]) for entry in held_out)),
    )
    spool_path = staging / SPOOL_NAME
    # Recorded and in place, or neither: Ctrl-C and SIGTERM wait for both steps. A kill
    # between them leaves the previous export at --out (still recorded) and this one in the
    # hidden staging folder, which the next export removes.
    with signals_deferred():
        try:
            record_export(ledger, result, options, created_at, spool_path)
        except BaseException:
            discard(staging)
            raise
        spool_path.unlink()
        try:
            move_into_place(staging, out)
        except OSError as exc:
            discard(staging)
            raise ExportError(
                f"export {export_id} was recorded but could not be moved to {out}: "
                f"{exc.strerror or exc}; run the export again"
            ) from exc
    return result


SPOOL_NAME = ".records.spool"


class _Outgoing(NamedTuple):
    """A record ready to write: its canonical content and its provenance."""

    draft_id: str
    kind: str
    subtype: str | None
    decision_id: str
    reviewer: str
    document: str
    chunk_id: str
    call_hash: str | None
    content: dict[str, Any]


def _sft_records(ledger: Ledger, options: ExportOptions) -> Iterator[_Outgoing]:
    for record in ledger.iter_signed_off_records(
        options.kinds, include_stale=options.include_stale
    ):
        (draft_id_, kind, subtype, question, answer, decision_id, verdict, reviewer,
         final_q, final_a, path, chunk_id_, call_hash_) = record  # fmt: skip
        if verdict == "edit":
            # An edit always carries its final text; a missing one is caught below.
            question, answer = final_q or "", final_a or ""
        if not question.strip() or not answer.strip():
            # Every format (and OpenAI's validation) refuses empty turns; the ledger
            # never stores one, so this is a guard, not a filter.
            raise ExportError(f"draft {draft_id_}: empty question or answer")
        content = record_content(question, answer, options.system_prompt, kind)
        yield _Outgoing(
            draft_id_, kind, subtype, decision_id, reviewer, path, chunk_id_, call_hash_, content
        )


def _preferences(
    ledger: Ledger, options: ExportOptions
) -> tuple[list[tuple[DecidedRecord, Preference]], PreferenceTally, int]:
    """The preference records this export makes, their tally, and how many more stale drafts
    would have made (left out unless --include-stale)."""

    def collect(include_stale: bool) -> tuple[list[tuple[DecidedRecord, Preference]], Any]:
        return collect_preferences(
            ledger,
            options.format,
            options.kinds,
            include_stale=include_stale,
            system=options.system_prompt,
            min_edit_distance=options.min_edit_distance,
        )

    made, tally = collect(options.include_stale)
    stale_left_out = 0 if options.include_stale else len(collect(True)[0]) - len(made)
    return made, tally, stale_left_out


def _preference_records(
    preferences: list[tuple[DecidedRecord, Preference]],
) -> Iterator[_Outgoing]:
    for record, preference in preferences:
        texts = [v for k, v in preference.content.items() if k not in ("system", "kind", "label")]
        if not all(isinstance(t, str) and t.strip() for t in texts):
            raise ExportError(f"draft {record.draft_id}: an empty side in its preference record")
        yield _Outgoing(
            record.draft_id,
            record.kind,
            record.subtype,
            record.decision_id,
            record.reviewer,
            record.document,
            record.chunk_id,
            record.call_hash,
            preference.content,
        )


def _write_files(
    records: Iterator[_Outgoing],
    options: ExportOptions,
    plan: ExportPlan,
    staging: Path,
    counts: dict[str, Counter[str]],
    export_id: str,
    created_at: str,
    head: ChainHead,
    stale_left_out: int,
    interrupted: Callable[[], None],
    progress: Progress,
    ledger_path: str,
    tally: PreferenceTally | None,
) -> tuple[list[str], list[str], str, list[dict[str, str | None]]]:
    """Write the data files and the manifest into ``staging``; returns the files written,
    the splits left out for holding no record, the provenance hash and the held-out drafts."""
    held_out: list[dict[str, str | None]] = []
    writer = SplitWriter(options.format, staging)
    try:
        with (
            open(staging / MANIFEST_NAME, "w", encoding="utf-8") as manifest,
            open(staging / SPOOL_NAME, "w", encoding="utf-8") as spool,
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
                "include_stale": options.include_stale,
                "stale_left_out": stale_left_out,
                "system_prompt": options.system_prompt,
                "command": options.command,
                "ledger": {
                    "path": ledger_path,
                    "head_seq": head.seq,
                    "head_hash": head.hash,
                },
                "split_rule": {
                    "eval_when": "blake2b(seed:split:draft_id) < eval_fraction * 2**64",
                    "min_stratum_for_eval": min_stratum_for_eval(options.eval_fraction),
                    "strata": "kind x source document",
                },
            }
            if tally is not None:
                header["preference"] = tally.as_dict()
            if options.hold_out > 0:
                # Only exports that hold records out say so: older manifests stay as they were.
                header["hold_out"] = {
                    "fraction": options.hold_out,
                    "rule": "per kind and subtype, the round(fraction * n) lowest"
                    " blake2b(0:hold_out:draft_id)",
                }
            # The record list is streamed into the manifest between its header and its counts.
            manifest.write(json.dumps(header, ensure_ascii=False, indent=1)[:-2] + ",\n")
            manifest.write(' "records": [\n')
            first = True
            provenance = ProvenanceHasher()
            progress.begin(plan.record_count, "records")
            for record in records:
                interrupted()
                (draft_id_, kind, subtype, decision_id, reviewer, path, chunk_id_, call_hash_,
                 content) = record  # fmt: skip
                if draft_id_ in plan.held_out:
                    held_out.append(
                        {"draft_id": draft_id_, "decision_id": decision_id, "kind": kind,
                         "subtype": subtype, "document": path}
                    )  # fmt: skip
                    continue
                cutoff = plan.kind_cutoff.get(kind)
                if cutoff is not None and position(options.seed, "balance", draft_id_) >= cutoff:
                    continue
                rhash = record_hash(content)
                pos = position(options.seed, "split", draft_id_)
                split = (
                    EVAL_SPLIT if pos < plan.threshold or draft_id_ in plan.forced_eval else "train"
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
                progress.advance(1)
            writer.close()
            written = [split for split in SPLITS if writer.lines[split]]
            left_out = [split for split in SPLITS if not writer.lines[split]]
            data_files = {split: writer.paths[split] for split in written}
            listed: list[dict[str, Any]] = [
                {"path": path, "split": split} for split, path in data_files.items()
            ]
            if options.format == "hf":
                interrupted()
                listed.append({"path": save_hf_dataset(staging, written), "split": None})
                interrupted()
            recipes = write_recipes(staging, options.format, options.out_dir.resolve(), data_files)
            # A recipe decides what a trainer reads (which columns, which roles): its hash is
            # kept so the audit can tell one that was changed.
            listed += [
                {"path": name, "split": None, "hash": file_hash(staging / name)} for name in recipes
            ]
            files = [str(item["path"]) for item in listed]
            manifest.write("\n ],\n")
            tail = {
                "counts": {s: dict(sorted(counts[s].items())) for s in SPLITS},
                "record_count": sum(sum(c.values()) for c in counts.values()),
                "files": listed,
                # A split without records gets no file: loaders refuse an empty one.
                "empty_splits_left_out": left_out,
                "provenance_hash": provenance.hexdigest(),
            }
            if options.hold_out > 0:
                tail["held_out"] = held_out
            manifest.write(json.dumps(tail, ensure_ascii=False, indent=1)[2:] + "\n")
    except BaseException:
        writer.abort()
        raise
    return files, left_out, provenance.hexdigest(), held_out
