"""``draftgate serve``: the review app in the browser, one reviewer per browser session."""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import sys
from typing import Any

from draftgate.cmd_review import add_queue_options, queue_argv
from draftgate.config import Config, ledger_path
from draftgate.context import CommandError, config_of, open_ledger
from draftgate.exit_codes import ExitCode
from ledger.reviewers import InvalidReviewerName, escaped_name, reviewer_name


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="serve the review app in the browser for a team",
        description="Serve the review app over HTTP: each browser session signs in as one "
        "reviewer (a token from [serve.reviewers], or a typed name when no tokens are set) "
        "and gets its own review app, so every decision is signed by the person who made it "
        "and no two reviewers are shown the same draft. Listens on loopback unless --host "
        "says otherwise; put a TLS reverse proxy in front to reach it from other machines.",
    )
    serve.add_argument(
        "--host",
        metavar="ADDRESS",
        help="address to listen on (default: config serve.host, else 127.0.0.1); anything "
        "but loopback needs [serve.reviewers] tokens and is warned about",
    )
    serve.add_argument(
        "--port",
        type=int,
        metavar="N",
        help="port to listen on (default: config serve.port, else 8420)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the address reviewers open, when a reverse proxy serves it (e.g. "
        "https://review.example.com/); marks the sign-in cookie Secure for https",
    )
    serve.add_argument(
        "--new-token",
        metavar="NAME",
        help="print a new sign-in token for reviewer NAME and the [serve.reviewers] line to "
        "add to draftgate.toml, then exit (the config keeps only the token's hash)",
    )
    add_queue_options(serve)
    serve.set_defaults(run=run_serve)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def configured_reviewers(config: Config) -> dict[str, str]:
    """``[serve.reviewers]`` with each name in the ledger's stored spelling."""
    hashes: dict[str, str] = {}
    for raw, digest in config.serve.reviewers.items():
        try:
            name = reviewer_name(raw)
        except InvalidReviewerName as exc:
            raise CommandError(
                f"serve.reviewers: the name {escaped_name(raw)} has no visible letter or digit",
                ExitCode.BAD_INPUT,
            ) from exc
        if name in hashes:
            raise CommandError(
                f"serve.reviewers: {escaped_name(raw)} is the same reviewer as another entry",
                ExitCode.BAD_INPUT,
            )
        if digest in hashes.values():
            raise CommandError(
                f"serve.reviewers: {escaped_name(raw)} has the same token as another reviewer",
                ExitCode.BAD_INPUT,
            )
        hashes[name] = digest
    return hashes


def review_argv(args: argparse.Namespace, ledger: str, reviewer: str) -> list[str]:
    """The command line of one reviewer's review app. ``--opt=value`` throughout, so a name
    or path that starts with a dash stays a value."""
    argv = [sys.executable, "-m", "draftgate", f"--ledger={ledger}"]
    if args.config:
        argv.append(f"--config={os.path.abspath(args.config)}")
    return [*argv, "review", f"--reviewer={reviewer}", *queue_argv(args)]


def print_new_token(raw_name: str) -> int:
    from serve.tokens import new_token, token_hash

    try:
        name = reviewer_name(raw_name)
    except InvalidReviewerName as exc:
        raise CommandError(
            f"the reviewer name {escaped_name(raw_name)} has no visible letter or digit",
            ExitCode.BAD_INPUT,
        ) from exc
    token = new_token()
    print(f"Token for {name} (give it to them; Draftgate keeps only its hash):")
    print(f"  {token}")
    print("Add this to draftgate.toml:")
    print("[serve.reviewers]")
    # A JSON string is a valid TOML basic string: any name is a valid key.
    print(f"{json.dumps(name, ensure_ascii=False)} = {json.dumps(token_hash(token))}")
    return ExitCode.OK


def run_serve(args: argparse.Namespace) -> int:
    if args.new_token is not None:
        return print_new_token(args.new_token)
    from draftgate.cmd_review import load_guidelines
    from tui.app import keymap_problem

    config = config_of(args)
    host = args.host or config.serve.host
    port = args.port if args.port is not None else config.serve.port
    if not 1 <= port <= 65535:
        raise CommandError("--port must be between 1 and 65535", ExitCode.BAD_INPUT)
    if not 0.0 <= args.double_review <= 1.0:
        raise CommandError("--double-review must be between 0 and 1", ExitCode.BAD_INPUT)
    hashes = configured_reviewers(config)
    if not is_loopback(host) and not hashes:
        raise CommandError(
            f"refusing to listen on {host} without [serve.reviewers] tokens: anyone who "
            "reached it could sign as anyone (make tokens with `draftgate serve --new-token "
            "NAME`)",
            ExitCode.BAD_INPUT,
        )
    # The review apps would each stop on these; say so once, before anyone signs in.
    problem = keymap_problem(config.review.keymap)
    if problem is not None:
        raise CommandError(f"review.keymap: {problem}", ExitCode.BAD_INPUT)
    load_guidelines(config)
    with open_ledger(args, config):
        pass
    ledger = os.path.abspath(ledger_path(args.ledger, config))
    public_url = args.public_url or config.serve.public_url
    if not is_loopback(host):
        print(
            f"draftgate: warning: listening on {host}: reachable from other machines over "
            "plain HTTP, tokens included; put a TLS reverse proxy in front (README: "
            '"Team review in the browser")',
            file=sys.stderr,
        )
    if not hashes:
        print(
            "draftgate: warning: no [serve.reviewers] tokens: anyone who can open the page "
            "signs decisions as the name they type",
            file=sys.stderr,
        )
    from serve.run import serve_forever
    from serve.server import ServeSettings
    from serve.tokens import ReviewerTokens

    settings = ServeSettings(
        review_argv=lambda reviewer: review_argv(args, ledger, reviewer),
        tokens=ReviewerTokens(hashes),
        public_url=public_url,
        cwd=os.getcwd(),
    )
    shown = public_url or f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    names = ", ".join(sorted(hashes)) if hashes else "any typed name"
    try:
        serve_forever(
            settings,
            host,
            port,
            ready=lambda: print(
                f"Serving the review of {ledger} on {shown} (reviewers: {names}); Ctrl-C stops.",
                flush=True,
            ),
        )
    except OSError as exc:
        raise CommandError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return ExitCode.OK
