"""The export folder: refusing to mix two exports, and replacing one with --force."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from export.errors import ExportError
from export.manifest import MANIFEST_NAME
from ledger.ids import new_event_id

# --force moves the previous export here (inside --out) until the new one is recorded.
REPLACED_PREFIX = ".replaced-"


def prepare_out_dir(out: Path, *, force: bool) -> Path | None:
    """Refuse to mix two exports in one folder. ``force`` replaces a previous export's own
    files (those its manifest lists); a folder holding anything else is never emptied. The
    previous files are moved aside (the folder returned), not deleted: they come back if the
    new export fails or cannot be recorded, and go only once it is recorded."""
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file, not a folder")
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return None
    manifest_path = out / MANIFEST_NAME
    if not manifest_path.exists():
        raise ExportError(f"--out {out} is not empty and holds no Draftgate export; pick another")
    if not force:
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


def put_back(out: Path, aside: Path | None) -> None:
    """Undo ``prepare_out_dir``'s move: the previous export's files return to ``out``."""
    if aside is None:
        return
    for item in aside.iterdir():
        remove_files(out, [item.name])  # a file of the failed export under the same name
        item.rename(out / item.name)
    aside.rmdir()


def remove_files(out: Path, names: list[str]) -> None:
    for name in names:
        target = out / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
