"""Reading files a user points Draftgate at: settings (config, scope, guidelines, system prompt,
templates) and the documents ingest reads.

Such a path can be anything: a FIFO (opening it for reading blocks until a writer comes, i.e.
forever), a folder, a device, a huge file, binary bytes, or a file swapped for one of those
after it was listed. Only a regular file up to a size limit is read, and every check is made
on the opened descriptor; anything else is one clear reason, never a hang or a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_SETTINGS_BYTES = 1 << 20  # 1 MiB: far above any real settings file
_READ_CHUNK = 1 << 20


class UserFileError(Exception):
    """Why the file cannot be used, as a short phrase (the caller names the file)."""


class NotRegularFileError(Exception):
    """What was opened is a folder, FIFO, socket or device."""

    def __init__(self, is_dir: bool) -> None:
        super().__init__("a folder" if is_dir else "not a regular file")
        self.is_dir = is_dir


class TooLargeError(Exception):
    """The file holds more than the limit (``size`` is what was seen)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


def read_regular_file(path: str | Path, max_bytes: int, *, no_follow: bool = False) -> bytes:
    """The bytes of ``path`` when, once opened, it is a regular file of at most ``max_bytes``.

    ``O_NONBLOCK``: opening a FIFO returns at once instead of waiting for a writer, and the
    ``fstat`` of the descriptor then refuses it (the flag does not change reads from a regular
    file). ``no_follow`` refuses a path that is (or became) a symlink, with ``ELOOP``. Errors
    of the open or the read are raised as the ``OSError`` they are.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if no_follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(stat.S_ISDIR(info.st_mode))
        if info.st_size > max_bytes:
            raise TooLargeError(info.st_size)
        parts: list[bytes] = []
        left = max_bytes + 1  # one byte more tells a file that grew after the fstat
        while left > 0:
            part = os.read(fd, min(left, _READ_CHUNK))
            if not part:
                break
            parts.append(part)
            left -= len(part)
    finally:
        os.close(fd)
    data = b"".join(parts)
    if len(data) > max_bytes:
        raise TooLargeError(len(data))
    return data


def read_user_text(path: str | Path, *, max_bytes: int = MAX_SETTINGS_BYTES) -> str:
    """The text of ``path``, a regular UTF-8 file of at most ``max_bytes`` (a BOM is dropped)."""
    try:
        data = read_regular_file(path, max_bytes)
    except NotRegularFileError as exc:
        raise UserFileError(
            "is a folder, not a file"
            if exc.is_dir
            else "is not a regular file (a FIFO, socket or device)"
        ) from exc
    except TooLargeError as exc:
        raise UserFileError(f"is {exc.size} bytes, more than the {max_bytes} allowed") from exc
    except OSError as exc:
        raise UserFileError(exc.strerror or str(exc)) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserFileError(f"is not UTF-8 text (byte {exc.start})") from exc
