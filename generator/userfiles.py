"""Reading a settings file the user named (config, scope, guidelines, system prompt, template).

Such a path can be anything: a FIFO (opening it for reading blocks until a writer comes, i.e.
forever), a folder, a device, a huge file, binary bytes. Only a regular file of UTF-8 text up
to a size limit is read; anything else is one clear reason, never a hang or a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SETTINGS_BYTES = 1 << 20  # 1 MiB: far above any real settings file


class UserFileError(Exception):
    """Why the file cannot be used, as a short phrase (the caller names the file)."""


def read_user_text(path: str | Path, *, max_bytes: int = MAX_SETTINGS_BYTES) -> str:
    """The text of ``path``, a regular UTF-8 file of at most ``max_bytes`` (a BOM is dropped)."""
    try:
        # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer, and the
        # fstat below then refuses it. The flag does not change reads from a regular file.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UserFileError(exc.strerror or str(exc)) from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UserFileError("is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise UserFileError("is not a regular file (a FIFO, socket or device)")
        if info.st_size > max_bytes:
            raise UserFileError(f"is {info.st_size} bytes, more than the {max_bytes} allowed")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise UserFileError(exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise UserFileError(f"is more than the {max_bytes} bytes allowed")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserFileError(f"is not UTF-8 text (byte {exc.start})") from exc
