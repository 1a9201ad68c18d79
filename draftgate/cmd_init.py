"""``draftgate init``: draft a scope file (and a config) from a docs folder."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from draftgate.config import CONFIG_FILE
from draftgate.context import CommandError, config_of
from draftgate.exit_codes import ExitCode
from generator.ingest import DocsFolderError, check_docs_folder
from generator.init_scope import draft_scope, render_config, render_scope
from generator.scope import SCOPE_FILE, ScopeError, load_scope


def register(subparsers: Any) -> None:
    init = subparsers.add_parser(
        "init",
        help="draft scope.toml (and draftgate.toml) from a docs folder",
        description="Read the docs and write a draft scope.toml beside them: product name and "
        "summary, glossary candidates, things the docs say the product does not offer, the home "
        "page. Each candidate carries the doc:line it came from. Also writes draftgate.toml "
        "when there is none. Existing files are kept unless --force is given.",
    )
    init.add_argument("docs_dir", nargs="?", help="docs folder (default: product_docs)")
    init.add_argument("--force", action="store_true", help="replace an existing scope.toml")
    init.set_defaults(run=run_init)


def _write_new(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` whole (a temporary file renamed over it) or not at all."""
    if os.path.lexists(path) and not force:
        raise CommandError(f"{path} exists; use --force to replace it", ExitCode.BAD_INPUT)
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}", ExitCode.BAD_INPUT) from exc


def run_init(args: argparse.Namespace) -> int:
    config = config_of(args)
    docs_dir = args.docs_dir or config.docs
    try:
        root = check_docs_folder(docs_dir)
    except DocsFolderError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    scope_path = root / SCOPE_FILE
    if os.path.lexists(scope_path) and not args.force:
        raise CommandError(f"{scope_path} exists; use --force to replace it", ExitCode.BAD_INPUT)
    draft = draft_scope(root)
    if not draft.files:
        raise CommandError(f"no Markdown files in {root}", ExitCode.BAD_INPUT)
    text = render_scope(draft)
    _write_new(scope_path, text, force=args.force)
    try:
        load_scope(scope_path)  # the draft must load as written, or it is a bug here
    except ScopeError as exc:
        raise CommandError(f"drafted scope file does not load: {exc}", ExitCode.BAD_INPUT) from exc
    config_path = Path(args.config or CONFIG_FILE)
    wrote_config = False
    if not os.path.lexists(config_path):
        _write_new(config_path, render_config(str(docs_dir)), force=False)
        wrote_config = True
    glossary = len(draft.glossary_names())
    print(
        f"read {draft.files} files; wrote {scope_path} ({glossary} glossary candidates, "
        f"{len(draft.denials.counts)} does-not-offer candidates, home "
        f"{'found' if draft.home else 'not found'})"
        + (f" and {config_path}" if wrote_config else "")
        + "; edit it before `draftgate generate`"
    )
    return ExitCode.OK
