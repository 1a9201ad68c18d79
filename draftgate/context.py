"""What every command needs: the loaded config, the ledger path, and a user-facing error."""

from __future__ import annotations

import argparse
from pathlib import Path

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


def open_ledger(args: argparse.Namespace, config: Config, *, must_exist: bool = False) -> Ledger:
    """Open the ledger the user chose. ``must_exist`` is for commands that only read it: a
    mistyped path must not become a fresh, empty ledger reported as "intact"."""
    path = ledger_path(args.ledger, config)
    if must_exist and path != ":memory:" and not Path(path).exists():
        raise CommandError(
            f"no ledger at {path}; run 'draftgate ingest' first or pass --ledger",
            ExitCode.LEDGER,
        )
    return Ledger.open(path)
