"""What every command needs: the loaded config, the ledger path, and a user-facing error."""

from __future__ import annotations

import argparse
import os

from draftgate.config import Config, ledger_path, load_config
from draftgate.exit_codes import ExitCode
from ledger import Ledger


class CommandError(Exception):
    """A failure the user can act on, with the exit code it ends in."""

    def __init__(self, message: str, code: ExitCode = ExitCode.BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


def config_of(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def open_ledger(
    args: argparse.Namespace,
    config: Config,
    *,
    create: bool = False,
    read_only: bool = False,
    reads_only: bool = False,
) -> Ledger:
    """Open the ledger the user chose. Only ``create`` (``ingest``) makes a new one: for any
    other command a mistyped path must not become a fresh, empty ledger reported as "intact".
    ``read_only`` writes nothing at all (``generate --dry-run``); ``reads_only`` is for a
    command that only reads (status, verify, audit): it opens read-only when the file cannot
    be written, instead of refusing."""
    path = ledger_path(args.ledger, config)
    if reads_only and os.path.isfile(path):
        # A connection that can write needs the file and its folder (for -wal and -shm).
        folder = os.path.dirname(os.path.abspath(path))
        writable = os.access(path, os.W_OK) and os.access(folder, os.W_OK)
        read_only = read_only or not writable
    return Ledger.open(path, must_exist=not create, read_only=read_only)
