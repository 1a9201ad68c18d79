"""Exports and audit reports of the sample product, for the check that they never change.

The ledger in tests/data/sample_outputs/ was built once by ``make_sample_ledger``: product_docs/
ingested, drafted by the rules drafter, and decided by one named reviewer in a fixed pattern.
Draft and decision ids are random, so the ledger itself is kept rather than rebuilt; the
exports and reports are rebuilt from a copy of it through the ``draftgate`` command, so the
whole door out is covered, options and all.

    PYTHONPATH=. python -m tests.support.sample_outputs record   # rewrites the golden values
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "sample_outputs"
SAMPLE_LEDGER = DATA / "ledger.sqlite"
GOLDEN = DATA / "golden.json"
REVIEWER = "rowan"
EXPORT_FORMATS = ("openai", "sharegpt", "alpaca", "hf")
AUDIT_FORMATS = ("md", "json", "html")
MANIFEST = "manifest.json"
AXOLOTL = "axolotl.yaml"

# What differs between two runs of the same export or audit of the same ledger.
_ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
_STAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?")
_MANIFEST_VARYING = ("export_id", "created_at")


def _draftgate(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "draftgate.cli", "--ledger", str(workdir / "ledger.sqlite"), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )


def _write_config(workdir: Path) -> None:
    (workdir / "draftgate.toml").write_text(f'docs = "{REPO / "product_docs"}"\n', encoding="utf-8")


def make_sample_ledger(workdir: Path) -> Path:
    """Ingest, draft with the rules drafter, decide every draft in a fixed pattern."""
    from ledger import DecisionIn, Ledger, RejectReason, Verdict

    workdir.mkdir(parents=True, exist_ok=True)
    _write_config(workdir)
    for args in (("ingest", str(REPO / "product_docs")), ("generate",)):
        done = _draftgate(workdir, *args)
        if done.returncode != 0:
            raise RuntimeError(f"draftgate {args[0]} failed: {done.stderr}")
    ledger = Ledger.open(workdir / "ledger.sqlite")
    try:
        index = 0
        after = 0
        while page := ledger.pending_drafts(after_rowid=after, limit=500):
            after = page[-1][0]
            for _, draft in page:
                if index % 11 == 3:  # left pending: the export must skip it
                    index += 1
                    continue
                if index % 7 == 0:
                    decision = DecisionIn(
                        draft_id=draft.id,
                        reviewer=REVIEWER,
                        verdict=Verdict.REJECT,
                        reason=RejectReason.OFF_STYLE,
                    )
                elif index % 5 == 0:
                    decision = DecisionIn(
                        draft_id=draft.id,
                        reviewer=REVIEWER,
                        verdict=Verdict.EDIT,
                        final_question=draft.question.rstrip("?") + ", please?",
                        final_answer=draft.answer + " (Reviewed.)",
                    )
                else:
                    decision = DecisionIn(
                        draft_id=draft.id, reviewer=REVIEWER, verdict=Verdict.APPROVE
                    )
                ledger.record_decision(decision)
                index += 1
    finally:
        ledger.close()
    return workdir / "ledger.sqlite"


def build_outputs(workdir: Path) -> dict[str, Path]:
    """Every export format and every audit format from a copy of the sample ledger."""
    workdir.mkdir(parents=True, exist_ok=True)
    _write_config(workdir)
    shutil.copyfile(SAMPLE_LEDGER, workdir / "ledger.sqlite")
    outputs: dict[str, Path] = {}
    for fmt in EXPORT_FORMATS:
        out = workdir / "exports" / fmt
        done = _draftgate(workdir, "export", "--format", fmt, "--out", str(out))
        if done.returncode != 0:
            raise RuntimeError(f"draftgate export --format {fmt} failed: {done.stderr}")
        outputs[fmt] = out
    exports = [arg for fmt in EXPORT_FORMATS for arg in ("--export", str(outputs[fmt]))]
    for fmt in AUDIT_FORMATS:
        out = workdir / "reports" / f"audit.{fmt}"
        done = _draftgate(workdir, "audit", *exports, "--format", fmt, "--out", str(out))
        if done.returncode != 0:
            raise RuntimeError(f"draftgate audit --format {fmt} failed: {done.stdout}{done.stderr}")
        outputs[f"audit.{fmt}"] = out
    return outputs


def data_file_hashes(export_dir: Path) -> dict[str, str]:
    """sha256 of every file of an export but its manifest, by path inside the folder."""
    return {
        path.relative_to(export_dir).as_posix(): hashlib.sha256(_stable_bytes(path)).hexdigest()
        for path in sorted(export_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def _stable_bytes(path: Path) -> bytes:
    """A file's bytes; for the datasets library's state.json, without its ``_fingerprint``,
    which that library draws at random on every save; for axolotl.yaml, with the export's
    folder (its paths are absolute) as ``<export>``."""
    if path.name == AXOLOTL:
        text = path.read_text(encoding="utf-8").replace(str(path.parent.resolve()), "<export>")
        return text.replace(str(path.parent), "<export>").encode()
    if path.name != "state.json":
        return path.read_bytes()
    state = json.loads(path.read_text(encoding="utf-8"))
    state.pop("_fingerprint", None)
    return json.dumps(state, sort_keys=True).encode()


def comparable_manifest(export_dir: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((export_dir / MANIFEST).read_text(encoding="utf-8"))
    for key in _MANIFEST_VARYING:
        manifest.pop(key, None)
    for entry in manifest.get("files", []):
        if entry.get("path") == AXOLOTL:
            # Its paths are absolute, so its hash follows the folder; its text is compared
            # (folder aside) with the data files.
            entry["hash"] = "<follows the folder>"
    return _without_workdir(manifest, export_dir.parents[1])


def comparable_report(path: Path, workdir: Path) -> str:
    # The Markdown report escapes "_" in the path, so a temporary folder named with one
    # appears there escaped.
    text = path.read_text(encoding="utf-8").replace(str(workdir), "<workdir>")
    text = text.replace(str(workdir).replace("_", "\\_"), "<workdir>")
    return _STAMP.sub("<time>", _ULID.sub("<id>", text))


def _without_workdir(value: Any, workdir: Path) -> Any:
    if isinstance(value, str):
        return value.replace(str(workdir), "<workdir>")
    if isinstance(value, dict):
        return {k: _without_workdir(v, workdir) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_workdir(v, workdir) for v in value]
    return value


def observed(workdir: Path) -> dict[str, Any]:
    """Everything the golden file holds, from a fresh rebuild in ``workdir``."""
    outputs = build_outputs(workdir)
    return {
        "data_sha256": {fmt: data_file_hashes(outputs[fmt]) for fmt in EXPORT_FORMATS},
        "manifests": {fmt: comparable_manifest(outputs[fmt]) for fmt in EXPORT_FORMATS},
        "reports": {
            fmt: comparable_report(outputs[f"audit.{fmt}"], workdir) for fmt in AUDIT_FORMATS
        },
    }


def _main(argv: list[str]) -> None:
    import tempfile

    if argv[:1] == ["ledger"]:
        with tempfile.TemporaryDirectory() as tmp:
            built = make_sample_ledger(Path(tmp))
            DATA.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(built, SAMPLE_LEDGER)
        print(f"wrote {SAMPLE_LEDGER}")
    elif argv[:1] == ["record"]:
        with tempfile.TemporaryDirectory() as tmp:
            golden = observed(Path(tmp))
        GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {GOLDEN}")
    else:
        raise SystemExit("usage: python -m tests.support.sample_outputs ledger|record")


if __name__ == "__main__":
    _main(sys.argv[1:])
