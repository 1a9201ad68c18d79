"""``draftgate review``: open the review TUI on the ledger's queue."""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from draftgate.config import Config, ledger_path
from draftgate.context import CommandError, config_of, open_ledger
from draftgate.exit_codes import ExitCode
from generator.userfiles import UserFileError, read_user_text
from ledger import DraftKind, DraftOrigin
from ledger.queue import QueueFilter
from ledger.reviewers import InvalidReviewerName, escaped_name, reviewer_name
from review.order import ORDERS

DEFAULT_GUIDELINES = Path(__file__).resolve().parent.parent / "tui" / "guidelines.md"


def register(subparsers: Any) -> None:
    review = subparsers.add_parser(
        "review",
        help="approve, edit or reject drafts in a terminal UI",
        description="Show each undecided draft beside its source; one key per decision. "
        "Every decision is committed before the next draft appears. Several reviewers can "
        "work on one ledger at once: each draft on screen is leased to one of them.",
    )
    review.add_argument(
        "--reviewer",
        metavar="NAME",
        help="who signs the decisions (default: config review.reviewer, else git "
        "user.name, else $USER)",
    )
    add_queue_options(review)
    review.set_defaults(run=run_review)


def add_queue_options(parser: argparse.ArgumentParser) -> None:
    """Which drafts a review app shows and in what order: shared by `review` and `serve`,
    which passes them on to each reviewer's app (queue_argv)."""
    parser.add_argument("--kind", choices=[k.value for k in DraftKind], help="only this kind")
    parser.add_argument(
        "--doc", metavar="TEXT", help="only drafts from documents whose path contains TEXT"
    )
    parser.add_argument("--stale", action="store_true", help="only drafts whose source changed")
    parser.add_argument(
        "--origin",
        choices=[o.value for o in DraftOrigin],
        help="only drafts of this origin: generate (drafted from the docs), probe (a tuned "
        "model's failed answers, from 'draftgate probe') or import",
    )
    parser.add_argument(
        "--order",
        choices=ORDERS,
        default="created",
        help="review order: created (default), doc (by document and line), kind, or risk "
        "(drafts with findings first, then by kind); in doc, kind and risk order "
        "near-duplicate drafts follow one another",
    )
    parser.add_argument(
        "--double-review",
        metavar="FRACTION",
        type=float,
        default=0.0,
        help="also show this fraction (0-1) of drafts decided by another reviewer, blind, "
        "so the audit can measure agreement",
    )


def queue_argv(args: argparse.Namespace) -> list[str]:
    """The options add_queue_options parsed, as `review` arguments (``--opt=value``, so a
    value that starts with a dash stays a value)."""
    argv = [f"--order={args.order}", f"--double-review={args.double_review!r}"]
    for option in ("kind", "doc", "origin"):
        value = getattr(args, option)
        if value:
            argv.append(f"--{option}={value}")
    if args.stale:
        argv.append("--stale")
    return argv


def git_user_name() -> str:
    try:
        done = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def resolve_reviewer(flag: str | None, config: Config) -> str:
    """--reviewer, else config, else git user.name, else $USER, in the form the ledger stores
    (ledger.reviewers); a name with no visible letter or digit is refused."""
    if flag is not None:
        name = flag.strip()
    else:
        name = (config.review.reviewer or "").strip() or git_user_name()
        if not name:
            name = os.environ.get("USER", "").strip()
            if not name:
                try:
                    name = getpass.getuser().strip()
                except (OSError, KeyError):
                    name = ""
    if not name:
        raise CommandError(
            "a reviewer name is required: pass --reviewer NAME or set review.reviewer",
            ExitCode.BAD_INPUT,
        )
    try:
        return reviewer_name(name)
    except InvalidReviewerName as exc:
        raise CommandError(
            f"the reviewer name {escaped_name(name)} has no visible letter or digit "
            "(invisible and control characters do not count): pass --reviewer NAME or set "
            "review.reviewer",
            ExitCode.BAD_INPUT,
        ) from exc


def load_guidelines(config: Config) -> str:
    path = Path(config.review.guidelines) if config.review.guidelines else DEFAULT_GUIDELINES
    try:
        return read_user_text(path)
    except UserFileError as exc:
        raise CommandError(
            f"review.guidelines: cannot read {path}: {exc}", ExitCode.BAD_INPUT
        ) from exc


def glossary_names(config: Config) -> list[str]:
    """The scope file's real UI names: an edit naming one the docs lack is not warned about."""
    from generator.scope import ScopeError, load_scope, scope_path_for

    path = scope_path_for(config.docs, config.scope)
    if not path.exists():
        return []
    try:
        return load_scope(path).glossary.names()
    except ScopeError as exc:
        # The glossary only spares the reviewer a warning; a bad scope file must not stop
        # the review (`draftgate generate` refuses it).
        print(f"draftgate: warning: {exc}; edit warnings use no glossary", file=sys.stderr)
        return []


def run_review(args: argparse.Namespace) -> int:
    from tui.app import ReviewApp, keymap_problem  # Textual loads only for this command

    config = config_of(args)
    reviewer = resolve_reviewer(args.reviewer, config)
    if not 0.0 <= args.double_review <= 1.0:
        raise CommandError("--double-review must be between 0 and 1", ExitCode.BAD_INPUT)
    problem = keymap_problem(config.review.keymap)
    if problem is not None:
        raise CommandError(f"review.keymap: {problem}", ExitCode.BAD_INPUT)
    guidelines = load_guidelines(config)
    # Open (and migrate) once here so a foreign, newer or locked ledger ends in one clear line
    # before the screen takes over; the review session's worker opens its own connection.
    with open_ledger(args, config):
        pass
    app = ReviewApp(
        ledger_path(args.ledger, config),
        reviewer,
        filters=QueueFilter(
            kind=args.kind, doc=args.doc, stale=True if args.stale else None, origin=args.origin
        ),
        order=args.order,
        double_review=args.double_review,
        lease_seconds=config.review.lease_seconds,
        keymap=config.review.keymap,
        guidelines=guidelines,
        glossary=glossary_names(config),
    )
    app.run()
    if app.session.release_failed:
        # The app has ended; the reviewer reads this on the terminal it leaves behind.
        print(f"draftgate: warning: {app.session.release_failed}", file=sys.stderr)
    return ExitCode.OK
