"""``draftgate check``: which structured-output modes an endpoint takes, and ``--mode auto``.

The check asks the endpoint for its models (a server without ``GET /models`` is not fatal),
then makes one tiny structured call in each mode, through the same client a run uses, and
records per mode whether it works, the server's own reason when it does not, the latency and
the tokens. The recommended mode is the first that works in ``PREFERENCE`` order.

``generate --mode auto`` reads the answer from a small JSON cache beside the ledger
(``endpoint-modes.json``), keyed by the endpoint (host, port and path of the base URL; never
the key) and the model. A cached mode is confirmed with one tiny call before a run; when that
call fails, or nothing is cached, every mode is checked again and the cache rewritten.

The LLM libraries load only when a check runs (``draftgate --help`` must not load them).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from generator.errors import EndpointError, NoWorkingModeError
from generator.settings import DEFAULT_BASE_URL, STRUCTURED_MODES

if TYPE_CHECKING:
    from generator.client import ClientSettings

# The order a working mode is recommended in: the modes where the server itself constrains
# the output to the schema first, then JSON asked for in the prompt.
PREFERENCE: tuple[str, ...] = STRUCTURED_MODES
CACHE_FILE = "endpoint-modes.json"
CHECK_MAX_TOKENS = 200


class CheckItem(BaseModel):
    question: str = Field(description="A short question a user might ask.")
    answer: str = Field(description="A one-sentence answer.")


class CheckReply(BaseModel):
    """One question and answer: a reply shaped like a draft reply, only smaller."""

    items: list[CheckItem] = Field(description="Exactly one object.")


CHECK_MESSAGES = [
    {"role": "system", "content": "You write short test data as JSON."},
    {
        "role": "user",
        "content": "Write one question a user might ask about saving a file, and a "
        "one-sentence answer.",
    },
]


@dataclass
class ModeOutcome:
    mode: str
    works: bool
    error: str | None = None  # the failure's class: server_error, http_400, connection, ...
    reason: str | None = None  # the server's own reason (HTTP status and message), shortened
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ModelsOutcome:
    listed: bool
    models: list[str] = field(default_factory=list)
    reason: str | None = None  # why the list was not available


@dataclass
class CheckReport:
    endpoint: str  # host:port/path, never the key
    model: str
    models: ModelsOutcome
    modes: list[ModeOutcome] = field(default_factory=list)

    @property
    def recommended(self) -> str | None:
        working = {m.mode for m in self.modes if m.works}
        return next((mode for mode in PREFERENCE if mode in working), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "model": self.model,
            "models": asdict(self.models),
            "modes": [asdict(m) for m in self.modes],
            "recommended": self.recommended,
        }

    def failure_summary(self) -> str:
        return "; ".join(f"{m.mode}: {m.reason or m.error}" for m in self.modes if not m.works)


def endpoint_key(base_url: str | None) -> str:
    """The endpoint as the cache and the report name it: host, port and path only."""
    parsed = urlparse(base_url or DEFAULT_BASE_URL)
    host = parsed.hostname or "unknown"
    if parsed.port:
        host = f"{host}:{parsed.port}"
    return host + parsed.path.rstrip("/")


async def check_endpoint(
    settings: ClientSettings,
    modes: Sequence[str] = PREFERENCE,
    *,
    on_mode: Callable[[ModeOutcome], None] | None = None,
) -> CheckReport:
    """List the models, then one tiny call per mode in ``modes``.

    Raises EndpointError when the endpoint cannot be reached at all or refuses the key.
    """
    report = CheckReport(endpoint_key(settings.base_url), settings.model, await _models(settings))
    for mode in modes:
        outcome = await check_mode(settings, mode, server_answered=True)
        report.modes.append(outcome)
        if on_mode is not None:
            on_mode(outcome)
    return report


async def check_mode(
    settings: ClientSettings, mode: str, *, server_answered: bool = False
) -> ModeOutcome:
    """One tiny structured call in ``mode``: one transport attempt, one re-ask."""
    from generator.client import LLMClient

    client = LLMClient(replace(settings, mode=mode, max_attempts=1, max_reasks=1))
    try:
        result = await client.draft(
            list(CHECK_MESSAGES),
            CheckReply,
            {},
            {"temperature": 0.0, "max_tokens": CHECK_MAX_TOKENS},
        )
    finally:
        await client.close()
    outcome = ModeOutcome(
        mode,
        works=result.ok,
        error=result.error,
        reason=result.error_detail,
        latency_ms=result.latency_ms,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
    )
    if result.error == "connection" and (server_answered or client.server_answered):
        outcome.reason = (
            f"{outcome.reason}; the server closed the connection after it had answered: "
            "it may have crashed; see its log"
        )
    return outcome


async def _models(settings: ClientSettings) -> ModelsOutcome:
    import openai

    client = openai.AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key or "no-key",
        max_retries=0,
        timeout=settings.timeout_s,
    )
    host = endpoint_key(settings.base_url)
    try:
        listed = await client.models.list()
        return ModelsOutcome(True, sorted(m.id for m in listed.data))
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise EndpointError(
            f"the endpoint {host} refused the API key (HTTP {exc.status_code}); "
            "check OPENAI_API_KEY"
        ) from exc
    except (openai.APIConnectionError, openai.APITimeoutError) as exc:
        raise EndpointError(
            f"cannot reach the endpoint {host}; check OPENAI_BASE_URL or [generate] base_url"
        ) from exc
    except openai.APIStatusError as exc:
        from generator.client import error_reason, shorten

        return ModelsOutcome(False, reason=shorten(error_reason(exc)))
    finally:
        await client.close()


# ---- the cache --------------------------------------------------------------------------


def cache_path_for(ledger_path: str | Path) -> Path:
    """The mode cache: beside the ledger (``outputs/endpoint-modes.json`` by default)."""
    return Path(ledger_path).parent / CACHE_FILE


class ModeCache:
    """``{endpoint: {model: {"mode", "checked_at"}}}`` in one JSON file; a file that is missing
    or unreadable is an empty cache (the check is redone and the file rewritten)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, base_url: str | None, model: str) -> str | None:
        entry = self._load().get(endpoint_key(base_url), {}).get(model)
        mode = entry.get("mode") if isinstance(entry, dict) else None
        return mode if mode in STRUCTURED_MODES else None

    def put(self, base_url: str | None, model: str, mode: str) -> None:
        data = self._load()
        endpoint = data.setdefault(endpoint_key(base_url), {})
        endpoint[model] = {"mode": mode, "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)


def resolve_auto_mode(
    settings: ClientSettings, cache: ModeCache, say: Callable[[str], None]
) -> str:
    """The mode for ``--mode auto``: the cached one if one tiny call in it still works, else
    the check's recommendation (cached). NoWorkingModeError when no mode works."""
    cached = cache.get(settings.base_url, settings.model)
    if cached is not None:
        outcome = asyncio.run(check_mode(settings, cached))
        if outcome.works:
            say(f"mode auto: {cached} (cached in {cache.path}, confirmed by one call)")
            return cached
        say(f"mode auto: the cached mode {cached} now fails ({outcome.reason}); checking again")
    report = asyncio.run(check_endpoint(settings))
    mode = report.recommended
    if mode is None:
        raise NoWorkingModeError(
            f"the endpoint {report.endpoint} took no structured-output mode with model "
            f"{settings.model} ({report.failure_summary()}); run `draftgate check` for details"
        )
    cache.put(settings.base_url, settings.model, mode)
    say(f"mode auto: {mode} (checked every mode; cached in {cache.path})")
    return mode
