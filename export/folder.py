"""Where an export is written: built whole in a staging folder beside ``--out``, then moved
into place in one step once the ledger has recorded it.

A trainer reads whatever sits at ``--out``. So ``--out`` only ever holds a complete export the
ledger recorded: the old one until the new one is recorded, then the new one. Whatever an
interruption leaves behind is a hidden ``.draftgate-staging-*`` folder beside it, which the
next export there removes.

``--force`` replaces only an export this ledger recorded in that folder (its manifest is the
one the ledger recorded, so its file list is Draftgate's own), and only when the folder holds
nothing else.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from export.errors import ExportError
from export.layout import DATA_DIR
from export.manifest import MANIFEST_NAME, file_hash
from ledger import Ledger
from ledger.ids import new_event_id

# Staging folders are hidden and carry the writing process's id, so a later export can tell
# an abandoned one (its process is gone) from one being written right now.
STAGING_PREFIX = ".draftgate-staging-"


def path_error(out: Path, exc: OSError) -> ExportError:
    """One line for a path the export cannot use (or a disk that is full)."""
    if exc.errno == errno.ENOSPC:
        return ExportError(f"--out {out}: no space left on device; nothing was exported")
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(out) else ""
    return ExportError(f"--out {out}: {exc.strerror or exc}{where}")


def check_target(out: Path, ledger: Ledger, *, force: bool) -> None:
    """Refuse a target that is not a folder, or holds anything but an export this ledger
    recorded there (and that only with ``force``). Reads only."""
    try:
        _check_name_lengths(out)
        if out.exists() and not out.is_dir():
            raise ExportError(f"--out {out} is a file, not a folder")
        if not out.exists() or not any(out.iterdir()):
            return
        manifest_path = out / MANIFEST_NAME
        if not manifest_path.is_file():
            raise ExportError(
                f"--out {out} is not empty and holds no Draftgate export; pick another"
            )
        if not force:
            raise ExportError(f"--out {out} already holds an export; pass --force to replace it")
        names = _recorded_files(out, manifest_path, ledger)
        strangers = sorted(p.name for p in out.iterdir() if p.name not in names)
    except OSError as exc:
        raise path_error(out, exc) from exc
    if strangers:
        # Checked before anything is removed: --force never deletes a file it did not write.
        raise ExportError(f"--out {out} also holds files no manifest lists: {strangers[:3]}")


def _check_name_lengths(out: Path) -> None:
    """A name too long for the file system fails only when that folder is made, which for
    ``--out`` is after the ledger recorded the export: checked first instead. (A missing
    parent makes ``stat`` say "no such file" before it looks at a long name below it.)"""
    existing = out.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        limit = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    for part in out.parts:
        if len(os.fsencode(part)) > limit:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), part[:40] + "…")


def _recorded_files(out: Path, manifest_path: Path, ledger: Ledger) -> set[str]:
    """The names the previous export in ``out`` wrote, from a manifest the ledger vouches for."""
    refuse = f"--out {out}: --force replaces only an export this ledger recorded there"
    try:
        previous: Any = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ExportError(f"{refuse}; its manifest.json is not JSON ({exc})") from exc
    if not isinstance(previous, dict) or not isinstance(previous.get("export_id"), str):
        raise ExportError(f"{refuse}; its manifest.json is not a Draftgate manifest")
    row = next((r for r in ledger.recorded_exports() if r["id"] == previous["export_id"]), None)
    if row is None or Path(row["out_dir"]) != out.resolve():
        raise ExportError(f"{refuse}; export {previous['export_id']} is not recorded in {out}")
    if row["manifest_hash"] != file_hash(manifest_path):
        raise ExportError(f"{refuse}; its manifest.json differs from the one recorded")
    files = previous.get("files", [])
    paths = {str(f.get("path", "")) for f in files if isinstance(f, dict)}
    # Only names inside the folder: a manifest never points --force anywhere else.
    names = {MANIFEST_NAME}
    for path in paths:
        parts = path.split("/")
        if path and not any(part in ("", ".", "..") for part in parts):
            names.add(parts[0])
    data_dir = out / DATA_DIR
    if DATA_DIR in names and data_dir.is_dir():
        # data/ is Draftgate's, but only with the very files the manifest lists in it.
        strangers = sorted(
            p.name for p in data_dir.iterdir() if f"{DATA_DIR}/{p.name}" not in paths
        )
        if strangers:
            names.discard(DATA_DIR)
    return names


def make_staging(out: Path) -> Path:
    """A new, empty staging folder beside ``out`` (same file system, so the final move is a
    rename); abandoned ones there are removed first."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(out.parent)
        staging = out.parent / f"{STAGING_PREFIX}{os.getpid()}-{new_event_id()[:12]}"
        staging.mkdir()
    except OSError as exc:
        raise path_error(out, exc) from exc
    return staging


def remove_abandoned(parent: Path) -> None:
    """Remove staging folders whose process is gone (an export killed before it finished)."""
    for folder in parent.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            discard(folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def discard(folder: Path) -> None:
    """Remove a staging folder; its manifest first, so a folder cut short by a kill never
    holds a manifest beside data files."""
    if not folder.exists():
        return
    (folder / MANIFEST_NAME).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def move_into_place(staging: Path, out: Path) -> None:
    """Put the finished export at ``out`` in one step; the previous export (if any) ends up
    in ``staging`` and is removed."""
    if out.is_dir() and any(out.iterdir()):
        if _exchange(staging, out):
            discard(staging)
            return
        # No atomic exchange on this system: two renames, the old export kept until the new
        # one is in place.
        aside = out.parent / f"{STAGING_PREFIX}{os.getpid()}-{new_event_id()[:12]}"
        out.rename(aside)
        staging.rename(out)
        discard(aside)
        return
    # rename() replaces an empty folder in one step.
    os.rename(staging, out)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or the file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextmanager
def interrupts_between_records() -> Iterator[Callable[[], None]]:
    """Take Ctrl-C only where the writer calls the yielded check (between records, after a
    library call), never inside a library's callback: there Python prints the
    KeyboardInterrupt as "Exception ignored" and drops it. A Ctrl-C still pending when the
    block ends is raised then."""
    pending: list[int] = []

    def hold(signum: int, _frame: Any) -> None:
        pending.append(signum)

    def check() -> None:
        if pending:
            raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except ValueError:  # not the main thread: Ctrl-C goes to the main thread anyway
        yield lambda: None
        return
    try:
        yield check
        check()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends, then deliver them: recording an export
    and moving it into place happen both or neither."""
    pending: list[int] = []
    wanted: list[int] = [signal.SIGINT, signal.SIGTERM]
    previous: dict[int, Callable[..., Any] | int | None] = {}

    def hold(signum: int, _frame: Any) -> None:
        pending.append(signum)

    try:
        for signum in wanted:
            previous[signum] = signal.signal(signum, hold)
    except ValueError:  # not the main thread: signals go to the main thread anyway
        previous.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(pending):
            os.kill(os.getpid(), signum)
