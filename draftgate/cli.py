"""``draftgate``: the command line that wires ingestion, generation, review, export and audit.

Each command lives in its own module with a ``register(subparsers)`` function; this module
owns the parser, the global options, and turning user-caused errors into one stderr line and
a documented exit code (never a traceback).
"""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3
import sys
from collections.abc import Sequence
from types import ModuleType

from draftgate import cmd_core, cmd_export, cmd_generate, cmd_init, cmd_probe, cmd_review
from draftgate.config import UserInputError, ledger_path, load_config
from draftgate.context import CommandError
from draftgate.exit_codes import ExitCode, exit_code_help
from draftgate.logs import configure_logging
from ledger import LedgerError
from ledger.verify import as_damaged

COMMAND_MODULES: list[ModuleType] = [
    cmd_init,
    cmd_core,
    cmd_generate,
    cmd_review,
    cmd_export,
    cmd_probe,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="draftgate",
        description=(
            "Turn product docs into fine-tuning data that a human has signed off: "
            "ingest -> generate -> review -> export -> audit."
        ),
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_global_options(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    # Accept the global options after the command too (`draftgate status --ledger x`), as
    # people type them; SUPPRESS keeps a value given before the command when none follows.
    for command_parser in subparsers.choices.values():
        _add_global_options(command_parser, default=argparse.SUPPRESS)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--ledger",
        metavar="PATH",
        default=default,
        help="ledger file (default: $DRAFTGATE_LEDGER, else the config's, "
        "else outputs/ledger.sqlite)",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=default,
        help="config file (default: ./draftgate.toml if present)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if default is None else default,
        help="debug logging on stderr (Draftgate, openai, httpx); API keys and base-URL "
        "credentials are redacted",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        code = args.run(args)
    except (UserInputError, CommandError) as exc:
        return _fail(str(exc), getattr(exc, "code", ExitCode.BAD_INPUT))
    except LedgerError as exc:
        return _fail(str(exc), ExitCode.LEDGER)
    except sqlite3.DatabaseError as exc:
        if disk_full(exc):
            return _fail(_DISK_FULL, ExitCode.LEDGER)
        # Opening checks the file's header and size; damage deeper in (a corrupt page) shows
        # only when a command reads it. Other database errors are bugs: keep their traceback.
        path = ledger_path(getattr(args, "ledger", None), load_config(args.config))
        damaged = as_damaged(path, exc)
        if damaged is exc:
            raise
        return _fail(str(damaged), ExitCode.LEDGER)
    except KeyboardInterrupt:
        return _fail("interrupted; finished work is kept in the ledger", ExitCode.INTERRUPTED)
    except OSError as exc:
        if not disk_full(exc):
            raise
        return _fail(_DISK_FULL, ExitCode.LEDGER)
    return int(code)


_DISK_FULL = (
    "no space left on device: the write failed and was rolled back; the ledger holds what "
    "was committed before it (free some space and run the command again)"
)


def disk_full(exc: BaseException) -> bool:
    """SQLite's SQLITE_FULL, or ENOSPC from a file write, anywhere in the exception's chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if isinstance(seen, sqlite3.DatabaseError) and (
            getattr(seen, "sqlite_errorname", "") == "SQLITE_FULL"
            or "database or disk is full" in str(seen)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _fail(message: str, code: int) -> int:
    print(f"draftgate: error: {message}", file=sys.stderr)
    return int(code)


def entry() -> None:
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`draftgate status --json | head`): not worth a traceback.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = ExitCode.OK
    sys.exit(code)


if __name__ == "__main__":
    entry()
