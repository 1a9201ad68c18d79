"""``draftgate``: the command line that wires ingestion, generation, review, export and audit.

Each command lives in its own module with a ``register(subparsers)`` function; this module
owns the parser, the global options, and turning user-caused errors into one stderr line and
a documented exit code (never a traceback).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from draftgate.errors import CommandError, UserInputError
from draftgate.exit_codes import ExitCode, exit_code_help
from draftgate.logs import configure_logging

# Every command, in the order `draftgate --help` lists them: name -> (the module that
# registers it, its one-line summary). Only the module of the command being run is imported,
# so `draftgate status` does not pay for the LLM and dataset libraries' imports; a test
# checks that each summary here is the one its module registers.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("draftgate.cmd_init", "draft scope.toml (and draftgate.toml) from a docs folder"),
    "ingest": ("draftgate.cmd_core", "read a docs folder into the ledger (Markdown and .txt)"),
    "status": ("draftgate.cmd_core", "counts of documents, chunks, drafts, decisions"),
    "verify": ("draftgate.cmd_core", "recompute every hash and walk the decision chain"),
    "check": (
        "draftgate.cmd_check",
        "check the configured LLM endpoint: its models and which structured-output modes work",
    ),
    "generate": (
        "draftgate.cmd_generate",
        "draft Q&As, negatives, adversarials and clarify drafts from the ingested docs",
    ),
    "import": (
        "draftgate.cmd_import",
        "bring a team's Q&As or production logs (JSONL, CSV) into the review queue",
    ),
    "review": ("draftgate.cmd_review", "approve, edit or reject drafts in a terminal UI"),
    "serve": ("draftgate.cmd_serve", "serve the review app in the browser for a team"),
    "export": (
        "draftgate.cmd_export",
        "write signed-off drafts as training data (openai, sharegpt, alpaca, hf) or "
        "preference data (dpo, openai-dpo, kto)",
    ),
    "audit": (
        "draftgate.cmd_export",
        "integrity, provenance and quality report; exit 1 on any integrity break",
    ),
    "probe": (
        "draftgate.cmd_probe",
        "ask a tuned model an export's eval and held-out questions; failures go to review",
    ),
    "runs": ("draftgate.cmd_runs", "record and list training runs (loss curves) of exports"),
    "diff": ("draftgate.cmd_diff", "list what changed between two exports"),
    "completion": (
        "draftgate.cmd_completion",
        "print a shell completion script (bash, zsh or fish)",
    ),
}

_GLOBAL_OPTIONS_WITH_VALUE = ("--ledger", "--config")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command``'s module loaded in full; other commands are summaries."""
    return _build(load={command} if command in COMMANDS else set())


def build_full_parser() -> argparse.ArgumentParser:
    """Every command's full parser: for shell completion and the help tests."""
    return _build(load=set(COMMANDS))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written, and every option's default shown unless its help says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or "%(default)" in text
            or default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
            or action.nargs == 0
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Every command's parser formats help the same way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def _build(load: set[str | None]) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="draftgate",
        description=(
            "Turn product docs into fine-tuning data that a human has signed off: "
            "ingest -> generate -> review -> export -> audit."
        ),
        epilog=exit_code_help(),
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="print Draftgate's version and exit"
    )
    _add_global_options(parser, default=None)
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    wanted = {COMMANDS[name][0] for name in load if name in COMMANDS}
    for name, (module_name, summary) in COMMANDS.items():
        if name in subparsers.choices:
            continue  # registered with an earlier command of its module
        if module_name in wanted:
            importlib.import_module(module_name).register(subparsers)
        else:
            subparsers.add_parser(name, help=summary, description=summary)
    # Accept the global options after the command too (`draftgate status --ledger x`), as
    # people type them; SUPPRESS keeps a value given before the command when none follows.
    for command_parser in _command_parsers(parser):
        _add_global_options(command_parser, default=argparse.SUPPRESS)
    return parser


def _command_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every command's parser, and its subcommands' (`runs add`), depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command_parser in action.choices.values():
                yield command_parser
                yield from _command_parsers(command_parser)


def command_in(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: the first word that is not a global option or its value."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, help: str) -> None:  # noqa: A002
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"draftgate {version()}")
        parser.exit()


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("draftgate")
    except PackageNotFoundError:
        return "unknown (not installed)"


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
        help="config file (default: $DRAFTGATE_CONFIG, else draftgate.toml in this folder or "
        "the nearest parent up to the repository root)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if default is None else default,
        help="no progress bars or spinners (they are shown only on a terminal anyway)",
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
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_in(words))
    args = parser.parse_args(words)
    configure_logging(args.verbose)
    try:
        code = args.run(args)
    except (UserInputError, CommandError) as exc:
        return _fail(str(exc), getattr(exc, "code", ExitCode.BAD_INPUT))
    except KeyboardInterrupt:
        return _fail("interrupted; finished work is kept in the ledger", ExitCode.INTERRUPTED)
    except (sqlite3.DatabaseError, OSError) as exc:
        if disk_full(exc):
            return _fail(_DISK_FULL, ExitCode.LEDGER)
        if isinstance(exc, OSError):
            raise
        return _fail(str(_damaged_or_raise(args, exc)), ExitCode.LEDGER)
    except Exception as exc:
        # Imported here, not at the top: the ledger package loads pydantic and the store,
        # which `draftgate --help` should not wait for.
        from ledger import LedgerError

        if isinstance(exc, LedgerError):
            return _fail(str(exc), ExitCode.LEDGER)
        raise
    return int(code)


def _damaged_or_raise(args: argparse.Namespace, exc: sqlite3.DatabaseError) -> Exception:
    """Opening checks the file's header and size; damage deeper in (a corrupt page) shows
    only when a command reads it. Other database errors are bugs: keep their traceback."""
    from draftgate.config import ledger_path, load_config
    from ledger.verify import as_damaged

    path = ledger_path(getattr(args, "ledger", None), load_config(args.config))
    damaged = as_damaged(path, exc)
    if damaged is exc:
        raise exc
    return damaged


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
