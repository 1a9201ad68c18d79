"""Publishing an export to the Hugging Face Hub: the data, the manifest and the trainer recipes,
under a dataset card that says what the examples are, how they were made and signed off, and
what the audit found.

The Hub reads the data from ``data/`` (the card's ``configs`` name the files per split), so
``load_dataset("owner/name")`` gives the same train/validation splits as the folder. The
``hf`` format's ``dataset/`` copy (``save_to_disk``) stays local: it holds the same rows again.

The token comes from ``HF_TOKEN`` (or the login ``huggingface_hub`` already keeps); it is
passed to the library only, never printed, logged or written anywhere by Draftgate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from export.layout import DATA_DIR
from export.manifest import MANIFEST_NAME
from export.writers import HF_DATASET_DIR

CARD_NAME = "README.md"


class HubPushError(Exception):
    """The upload failed; the message is one line with no credential in it."""


@dataclass(frozen=True)
class CardFacts:
    """What the dataset card states, gathered from the manifest and the audit."""

    manifest: dict[str, Any]
    license: str | None
    audit_ok: bool
    audit_breaks: int
    # How the records were drafted (model or drafter -> records) and signed off
    # (approve/edit -> records), and by how many named reviewers.
    drafted_by: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    reviewers: int = 0


def _data_files(manifest: dict[str, Any]) -> dict[str, str]:
    return {
        str(f["split"]): str(f["path"])
        for f in manifest.get("files", [])
        if f.get("split") and str(f["path"]).startswith(f"{DATA_DIR}/")
    }


def dataset_card(repo_id: str, facts: CardFacts) -> Any:
    """The ``huggingface_hub.DatasetCard`` of an export pushed to ``repo_id``."""
    from huggingface_hub import DatasetCard, DatasetCardData

    manifest = facts.manifest
    data_files = _data_files(manifest)
    counts: dict[str, dict[str, int]] = manifest.get("counts", {})
    kinds = sorted({kind for by_kind in counts.values() for kind in by_kind})
    total = int(manifest.get("record_count", 0))
    card_data = DatasetCardData(
        license=facts.license,
        language=None,
        pretty_name=repo_id.split("/")[-1],
        task_categories=["text-generation"],
        tags=["draftgate", "human-reviewed", f"format:{manifest.get('format')}"],
        size_categories=[_size_category(total)],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": p} for s, p in data_files.items()],
            }
        ],
    )
    head = manifest.get("ledger", {})
    rows = [
        "| split | " + " | ".join(kinds) + " | total |",
        "|---|" + "---|" * (len(kinds) + 1),
    ]
    for split, by_kind in counts.items():
        if not by_kind:
            continue
        cells = [str(by_kind.get(k, 0)) for k in kinds]
        rows.append(f"| {split} | " + " | ".join(cells) + f" | {sum(by_kind.values())} |")
    drafted = ", ".join(f"{n} by {who}" for who, n in sorted(facts.drafted_by.items())) or "-"
    verdicts = ", ".join(f"{n} {v}" for v, n in sorted(facts.verdicts.items())) or "-"
    verdict = (
        "passed: every hash recomputed, every record traced to a live sign-off"
        if facts.audit_ok
        else f"FAILED with {facts.audit_breaks} break(s); run `draftgate audit` on the export"
    )
    system = manifest.get("system_prompt")
    left_out = manifest.get("empty_splits_left_out") or []
    empty = f"; left out: {', '.join(left_out)} held no record" if left_out else ""
    body = f"""
# {repo_id.split("/")[-1]}

Fine-tuning data exported by Draftgate: every example was drafted from product documentation
and signed off (approved, or edited then approved) by a named reviewer before it could leave.
Format: `{manifest.get("format")}`, {total} records.

## Kinds and splits

{chr(10).join(rows)}

Splits: {", ".join(f"`{s}`" for s in data_files)}. `validation` is the held-back fraction
{manifest.get("eval_fraction")} (seed {manifest.get("seed")}, stratified by kind and source
document){empty}. Kinds: `qa` (questions the docs answer), `negative` (things the product does not
offer, answered with a clear no), `adversarial` (false premises, wrong UI names, injection,
out of scope), `clarify` (ambiguous questions answered by asking back).

## How the examples were made and signed off

- Drafted: {drafted}.
- Signed off: {verdicts}, by {facts.reviewers} named reviewer(s). Nothing unreviewed can be
  exported.
- System prompt: {"`" + system + "`" if system else "none"}.
- Export `{manifest.get("export_id")}` at {manifest.get("created_at")}.
- Ledger head: #{head.get("head_seq")} `{head.get("head_hash")}` (the decision chain the
  export was cut from; `draftgate audit` checks the chain still passes through it).
- Audit before upload: {verdict}.
- License: {facts.license or "not set (set `license` under `[export]` in draftgate.toml)"}.

`manifest.json` lists every record's hash, draft, decision and split; `dataset_info.json`
(LLaMA-Factory) and `axolotl.yaml` (axolotl) map its columns for those trainers; the paths in
`axolotl.yaml` point at the folder it was exported to.

## Loading

```python
from datasets import load_dataset

ds = load_dataset("{repo_id}")  # splits: {", ".join(data_files)}
```
"""
    return DatasetCard(f"---\n{card_data.to_yaml()}\n---\n{body}")


def _size_category(total: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if total < limit:
            return name
    return "100K<n<1M"


def files_to_upload(folder: Path) -> list[str]:
    """The export's files as paths relative to ``folder``: data, manifest and recipes; the
    ``hf`` dataset copy stays behind."""
    names = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_file() and not relative.startswith(f"{HF_DATASET_DIR}/"):
            names.append(relative)
    return names


def push_export(folder: Path, repo_id: str, card: Any, *, private: bool, export_id: str) -> str:
    """Create the dataset repo (if new) and upload the export with its card in one commit;
    returns the commit's URL. Raises HubPushError with one clean line."""
    from huggingface_hub import CommitOperationAdd, HfApi

    token = os.environ.get("HF_TOKEN") or None
    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        operations = [
            CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name))
            for name in files_to_upload(folder)
        ]
        operations.append(
            CommitOperationAdd(path_in_repo=CARD_NAME, path_or_fileobj=str(card).encode("utf-8"))
        )
        info = api.create_commit(
            repo_id,
            operations,
            repo_type="dataset",
            commit_message=f"Draftgate export {export_id}",
            commit_description=f"Data, {MANIFEST_NAME}, trainer recipes and the dataset card.",
        )
    # Whatever the library raises (network, auth, a bad name, a refused commit) ends as one
    # line: the export on disk is complete and recorded either way.
    except Exception as exc:  # noqa: BLE001
        raise HubPushError(_one_line(exc, token)) from exc
    return str(info.commit_url)


def _one_line(exc: BaseException, token: str | None) -> str:
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if token:
        line = line.replace(token, "***")
    return line
