"""What commands print for programs: ``--json`` summaries, one JSON document on stdout."""

from __future__ import annotations

import argparse
import json
from typing import Any

from draftgate.progress import TerminalProgress


def add_json_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help=f"print {what} as one JSON document on stdout instead of text",
    )


def print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def progress_for(args: argparse.Namespace, label: str) -> TerminalProgress:
    """The progress bar for this command on stderr: off with --quiet or when not a terminal."""
    return TerminalProgress(label, enabled=not getattr(args, "quiet", False))
