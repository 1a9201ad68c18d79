"""Asking the model under test: plain chat completions, as a user of the tuned model would.

Bounded concurrency (a semaphore), a timeout per request, and tenacity retries of transport
failures only (429 honouring Retry-After, 5xx, timeouts, connection errors); the SDK's own
retries are off so attempts do not multiply. The API key goes to the SDK and nowhere else:
the run records the endpoint's host only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from generator.client import TRANSIENT, error_class
from generator.redact import redact, remember_url_secrets


@dataclass(frozen=True)
class AskSettings:
    base_url: str | None
    api_key: str | None
    model: str
    temperature: float = 0.0
    max_tokens: int = 512
    concurrency: int = 4
    timeout_s: float = 60.0
    max_attempts: int = 3
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 20.0

    def params(self) -> dict[str, Any]:
        """What, besides the model, decides the answers (stored with the run)."""
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


@dataclass
class Asked:
    answer: str | None
    error: str | None = None
    latency_ms: float = 0.0


def messages_for(question: str, system_prompt: str | None) -> list[dict[str, str]]:
    """The conversation as the export trained it: its system prompt (if any), then the user."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*messages, {"role": "user", "content": question}]


def _retry_after_s(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class ChatAsker:
    """One AsyncOpenAI client shared by every question of a run."""

    def __init__(self, settings: AskSettings) -> None:
        self.settings = settings
        remember_url_secrets(settings.base_url)
        self.client = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "no-key",
            max_retries=0,
            timeout=settings.timeout_s,
        )
        backoff = wait_random_exponential(
            multiplier=settings.backoff_initial_s, max=settings.backoff_max_s
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            after = _retry_after_s(exc) if exc is not None else None
            return (
                min(after, settings.backoff_max_s) if after is not None else float(backoff(state))
            )

        self._wait = wait

    async def ask(self, question: str, system_prompt: str | None) -> Asked:
        started = time.perf_counter()
        try:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.settings.max_attempts),
                wait=self._wait,
                retry=retry_if_exception(lambda exc: error_class(exc) in TRANSIENT),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    completion = await self.client.chat.completions.create(
                        model=self.settings.model,
                        messages=messages_for(question, system_prompt),  # type: ignore[arg-type]
                        temperature=self.settings.temperature,
                        max_tokens=self.settings.max_tokens,
                    )
            content = completion.choices[0].message.content if completion.choices else None
            if content is None:
                return Asked(None, "empty_reply", _ms(started))
            return Asked(content, None, _ms(started))
        except (openai.OpenAIError, ValueError) as exc:
            detail = redact(str(exc), self.settings.api_key)
            return Asked(
                None, f"{error_class(exc)}: {' '.join(detail.split())[:200]}", _ms(started)
            )

    async def close(self) -> None:
        await self.client.close()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


T = TypeVar("T")
R = TypeVar("R")


async def bounded(
    items: Sequence[T],
    work: Callable[[T], Awaitable[R]],
    concurrency: int,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """``work`` on every item, at most ``concurrency`` at once; results in item order."""
    gate = asyncio.Semaphore(max(1, concurrency))
    done = 0

    async def one(item: T) -> R:
        nonlocal done
        async with gate:
            result = await work(item)
        done += 1
        if on_done is not None:
            on_done(done)
        return result

    return list(await asyncio.gather(*(one(item) for item in items)))
