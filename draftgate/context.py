"""What every command needs: the loaded config, the ledger path, and a user-facing error."""

from __future__ import annotations

import argparse
import os
import sqlite3

from draftgate.config import Config, ledger_path, load_config
from draftgate.errors import CommandError as CommandError
from ledger import DraftKind, Ledger, LedgerError


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


def docs_root(args: argparse.Namespace, config: Config) -> str:
    """Where the docs (and their ``scope.toml``) are: ``docs`` when the config file sets it,
    else the folder the ledger last ingested (if it is still there), else the default.

    So after ``draftgate ingest docs`` the other commands find ``docs/scope.toml`` without
    being told. A ledger that cannot be read here (missing, from an older Draftgate, locked)
    falls back to the config; the command itself then reports what is wrong with it.
    """
    if "docs" in config.model_fields_set:
        return config.docs
    path = ledger_path(getattr(args, "ledger", None), config)
    if path == ":memory:" or not os.path.isfile(path):
        return config.docs
    try:
        with Ledger.open(path, must_exist=True, read_only=True) as ledger:
            recorded = ledger.ingest_root()
    except (LedgerError, sqlite3.Error):
        return config.docs
    if recorded is None or not os.path.isdir(recorded.root):
        return config.docs
    return recorded.root


def parse_kinds(value: str | None) -> tuple[str, ...] | None:
    """``--kinds qa,negative``: the kinds named, each checked; None when none are named."""
    if not value:
        return None
    kinds = tuple(k.strip() for k in value.split(",") if k.strip())
    known = {k.value for k in DraftKind}
    unknown = [k for k in kinds if k not in known]
    if unknown:
        raise CommandError(f"--kinds: unknown kind {unknown[0]!r}; known: {sorted(known)}")
    return kinds
