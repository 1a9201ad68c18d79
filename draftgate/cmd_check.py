"""``draftgate check``: what the configured LLM endpoint takes, before a run pays for calls.

Needs no ledger. The answer (the recommended mode) is cached beside where the ledger would be,
for ``generate --mode auto``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from draftgate.config import ledger_path
from draftgate.context import CommandError, config_of
from draftgate.exit_codes import ExitCode
from draftgate.output import add_json_option, print_json
from generator.errors import EndpointError, SettingsError
from generator.settings import GenerateSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check the configured LLM endpoint: its models and which structured-output modes work",
        description="Ask the endpoint (OPENAI_BASE_URL / [generate] base_url, OPENAI_API_KEY) "
        "for its models, then make one tiny structured call in each mode Draftgate has "
        "(tools, json_schema, json, md_json) and print, per mode, whether it works, the "
        "server's own reason when it does not, the latency and the tokens. The recommended "
        "mode is cached beside the ledger (endpoint-modes.json) for `generate --mode auto`. "
        f"Exits {int(ExitCode.ENDPOINT)} when the endpoint cannot be reached or no mode works.",
    )
    parser.add_argument("--model", help="model name (default: [generate] model)")
    add_json_option(parser, "the check's result")
    parser.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    from generator import pipeline
    from generator.endpoint_check import ModeCache, cache_path_for, check_endpoint

    # instructor logs each failed attempt at ERROR; the table reports them (--verbose: all).
    if not getattr(args, "verbose", False):
        logging.getLogger("instructor").setLevel(logging.CRITICAL)
    config = config_of(args)
    base_url = os.environ.get("OPENAI_BASE_URL") or config.generate.base_url
    api_key = os.environ.get("OPENAI_API_KEY")
    if not (base_url or api_key):
        raise CommandError(
            "no LLM endpoint configured: set OPENAI_BASE_URL (or [generate] base_url) and/or "
            "OPENAI_API_KEY",
            ExitCode.ENDPOINT,
        )
    values = config.generate.model_dump()
    try:
        settings = GenerateSettings(
            **{
                **values,
                "kinds": tuple(values["kinds"]),
                "model": args.model or config.generate.model,
                "base_url": base_url,
                "api_key": api_key,
            }
        )
    except SettingsError as exc:
        raise CommandError(str(exc), ExitCode.BAD_INPUT) from exc
    client_settings = pipeline.client_settings(settings)
    progress = Console(stderr=True, quiet=args.json or getattr(args, "quiet", False))
    progress.print(f"checking {escape(client_settings.endpoint_host)} with model {settings.model}")
    try:
        report = asyncio.run(
            check_endpoint(
                client_settings,
                on_mode=lambda outcome: progress.print(
                    f"  {outcome.mode}: {'works' if outcome.works else 'fails'}"
                ),
            )
        )
    except EndpointError as exc:
        raise CommandError(str(exc), ExitCode.ENDPOINT) from exc
    recommended = report.recommended
    if recommended is not None:
        cache = ModeCache(cache_path_for(ledger_path(args.ledger, config)))
        cache.put(base_url, settings.model, recommended)
    if args.json:
        print_json(report.as_json())
    else:
        _print_report(report)
    if recommended is None:
        print(
            f"draftgate: no structured-output mode works on {report.endpoint} with model "
            f"{settings.model}; see the reasons above",
            file=sys.stderr,
        )
        return ExitCode.ENDPOINT
    return ExitCode.OK


def _print_report(report: Any) -> None:
    console = Console()
    models = report.models
    if models.listed:
        listed = ", ".join(models.models[:10]) + (" …" if len(models.models) > 10 else "")
        console.print(f"models: {escape(listed) or '(none listed)'}")
    else:
        console.print(f"models: not listed ({escape(models.reason or 'no reason given')})")
    table = Table("mode", "result", "reason", "latency", "tokens in / out", title="modes")
    for outcome in report.modes:
        table.add_row(
            outcome.mode,
            "works" if outcome.works else "fails",
            "" if outcome.works else escape(f"{outcome.error}: {outcome.reason or ''}"),
            f"{outcome.latency_ms:.0f} ms",
            f"{outcome.prompt_tokens} / {outcome.completion_tokens}",
        )
    console.print(table)
    if report.recommended is not None:
        console.print(f"recommended: --mode {report.recommended} (what --mode auto will use)")
