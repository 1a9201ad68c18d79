"""What every command needs: the loaded config, the ledger path, and a user-facing error."""

from __future__ import annotations

import argparse

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


def open_ledger(args: argparse.Namespace, config: Config) -> Ledger:
    return Ledger.open(ledger_path(args.ledger, config))
