"""The LLM client: instructor over ``AsyncOpenAI``, with every transport retry in one place.

- The SDK's own retries are off (``max_retries=0``) so attempts do not multiply.
- tenacity retries transport failures (429 honouring Retry-After, 5xx, timeouts, connection
  errors, unparseable bodies) with exponential backoff and jitter.
- instructor's integer ``max_retries`` re-asks only validation failures (the grounding checks
  in ``generator.schemas``).
- Per-attempt token usage comes from instructor's ``completion:response`` hook (the usage on
  the returned completion is a running total across re-asks); a context variable ties each
  hook call to the call that made it, since one client serves many concurrent calls.
- The API key goes to the SDK and nowhere else: calls record ``endpoint_host`` only.
- A failed call is described by its LAST attempt (label and the reason that goes with it),
  and every attempt's reason is kept in order (``CallResult.attempt_errors``).
- A server that answered and then refuses or drops several connections in a row has most
  likely crashed: ``ServerGoneError`` stops the run instead of recording the same failure for
  every job left.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlparse

import instructor
import openai
from instructor.core.exceptions import (
    IncompleteOutputException,
    InstructorError,
    InstructorRetryException,
)
from instructor.v2.core.response_model import prepare_response_model
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from generator.errors import EndpointError, ServerGoneError
from generator.prompts import Message, protect_from_templating
from generator.redact import redact, remember_url_secrets
from generator.settings import DEFAULT_BASE_URL, MAX_TOKENS_PER_DRAFT

log = logging.getLogger("draftgate.client")

MODES = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}
# Connection failures in a row, after the server had answered, that mean it has gone away.
SERVER_GONE_AFTER = 3
# A stored reason is cut at this many characters, at a word, and marked as cut.
REASON_LIMIT = 500


@functools.cache
def prepared_response_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` wrapped the way instructor wraps it, made once per model class.

    Given a plain model, instructor builds a new wrapper class on every call, so its
    per-class tool-schema cache never hits and pydantic regenerates the JSON schema each
    time. Handing it the already-wrapped class skips both; validation (with its context)
    and the request it sends are the same.
    """
    return cast(type[BaseModel], prepare_response_model(model))


@dataclass(frozen=True)
class ClientSettings:
    base_url: str | None
    api_key: str | None
    model: str
    mode: str = "tools"
    temperature: float = 0.7
    timeout_s: float = 60.0
    max_attempts: int = 5  # transport attempts per call (tenacity)
    max_reasks: int = 2  # validation re-asks per attempt (instructor)
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_cap_s: float = 60.0
    server_gone_after: int = SERVER_GONE_AFTER
    max_tokens_per_draft: int = MAX_TOKENS_PER_DRAFT

    def max_tokens(self, count: int) -> int:
        """The ``max_tokens`` of a call asking for ``count`` drafts: every call is bounded."""
        return count * self.max_tokens_per_draft

    @property
    def endpoint_host(self) -> str:
        parsed = urlparse(self.base_url or DEFAULT_BASE_URL)
        host = parsed.hostname or "unknown"
        return f"{host}:{parsed.port}" if parsed.port else host


@dataclass
class CallResult:
    reply: BaseModel | None
    attempts: int = 0  # HTTP requests made (transport retries and re-asks)
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    # The last attempt's reason class (rate_limited, server_error, timeout, ...) and text.
    error: str | None = None
    error_detail: str | None = None
    errors_seen: list[str] = field(default_factory=list)  # each failed attempt's class
    # Each failed attempt's "class: reason", in order: transport failures and the validation
    # failures instructor re-asked, so a record shows what happened before the last one.
    attempt_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reply is not None


_current: contextvars.ContextVar[CallResult | None] = contextvars.ContextVar(
    "draftgate_call", default=None
)


def error_class(exc: BaseException) -> str:
    """A short, stable reason class for a failure (what the summary table counts)."""
    if isinstance(exc, InstructorRetryException):
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError) and not _from_parsing(exc, cause):
            # The HTTP body itself was not JSON (the SDK failed to read it): a transport
            # fault, retried as one. instructor retries it too, as if it were a parse error.
            return "bad_response"
        if cause is not None and not isinstance(cause, ValidationError | ValueError):
            return error_class(cause)
        return "invalid_output"
    if isinstance(exc, IncompleteOutputException):
        return "max_tokens"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return "unauthorised"
    if isinstance(exc, openai.APIStatusError):
        return "server_error" if exc.status_code >= 500 else f"http_{exc.status_code}"
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        return "bad_response"
    if isinstance(exc, ValidationError):
        return "invalid_output"
    return type(exc).__name__


def error_reason(exc: BaseException) -> str:
    """The reason that goes with ``error_class(exc)``, in one line: for an HTTP error the
    status and the server's own message; for a failed re-ask the last validation error (not
    instructor's list of every attempt, which starts with the first)."""
    if isinstance(exc, InstructorRetryException):
        cause = exc.__cause__
        if cause is not None and not (
            isinstance(cause, json.JSONDecodeError) and not _from_parsing(exc, cause)
        ):
            return error_reason(cause)
        attempts = exc.failed_attempts or []
        if attempts:
            return error_reason(attempts[-1].exception)
        return _one_line(Exception.__str__(exc))
    if isinstance(exc, IncompleteOutputException):
        return "the reply reached max_tokens before it was complete (raise max_tokens_per_draft)"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_server_message(exc)}"
    if isinstance(exc, openai.APIConnectionError) and not isinstance(exc, openai.APITimeoutError):
        cause = exc.__cause__
        detail = f" ({_one_line(str(cause))})" if cause is not None and str(cause) else ""
        return f"{exc.message}{detail}"
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'reply'}: {error['msg']}"
            for error in exc.errors()[:3]
        ) + (f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else "")
    return _one_line(str(exc))


def _server_message(exc: openai.APIStatusError) -> str:
    """The message of an error body, whichever of the usual shapes it has."""
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            for key in ("message", "detail", "msg"):
                if inner.get(key):
                    return _one_line(str(inner[key]))
            return _one_line(json.dumps(inner))
        if inner:
            return _one_line(str(inner))
    if isinstance(body, str) and body.strip():
        return _one_line(body)
    text = exc.response.text if exc.response is not None else ""
    return _one_line(text) or exc.response.reason_phrase or "no message"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def shorten(text: str, limit: int = REASON_LIMIT) -> str:
    """``text`` on one line, cut at a word before ``limit`` characters and marked as cut."""
    line = _one_line(text)
    if len(line) <= limit:
        return line
    cut = line[:limit]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return f"{cut} […{len(line) - len(cut)} more characters]"


def _from_parsing(exc: InstructorRetryException, cause: BaseException) -> bool:
    """Whether ``cause`` came from parsing the model's reply (instructor lists those as failed
    attempts) rather than from the API call itself."""
    return any(attempt.exception is cause for attempt in exc.failed_attempts or [])


TRANSIENT = frozenset(
    {
        "rate_limited",
        "timeout",
        "connection",
        "server_error",
        "bad_response",
        "http_408",
        "http_409",
    }
)


def _is_transient(exc: BaseException) -> bool:
    return error_class(exc) in TRANSIENT


def _retry_after_s(exc: BaseException) -> float | None:
    inner = exc.__cause__ if isinstance(exc, InstructorRetryException) else exc
    response = getattr(inner, "response", None)
    if response is None:
        return None
    headers = response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue  # an HTTP date: fall back to backoff
    return None


class LLMClient:
    def __init__(self, settings: ClientSettings) -> None:
        if settings.mode not in MODES:
            raise ValueError(f"unknown mode {settings.mode!r}; choose one of {', '.join(MODES)}")
        self.settings = settings
        self.mode = MODES[settings.mode]
        # Whether the server has answered anything yet, and connection failures since its
        # last answer: the two tell a crashed server from one that was never reachable.
        self.server_answered = False
        self._connection_failures = 0
        # The SDK and httpx print the base URL whole (userinfo, query) in their logs and
        # errors; from here on redact() removes its credentials wherever they appear.
        remember_url_secrets(settings.base_url)
        self.openai = openai.AsyncOpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "no-key",
            max_retries=0,
            timeout=settings.timeout_s,
        )
        self.client = instructor.from_openai(self.openai, mode=self.mode)
        self.client.on("completion:kwargs", self._on_request)
        self.client.on("completion:response", self._on_response)
        self.client.on("parse:error", self._on_parse_error)
        backoff = wait_random_exponential(
            multiplier=settings.backoff_initial_s, max=settings.backoff_max_s
        )

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            after = _retry_after_s(exc) if exc is not None else None
            if after is not None:
                return min(after, settings.retry_after_cap_s)
            return float(backoff(state))

        self._wait: Callable[[RetryCallState], float] = wait

    # -- hooks: attribute each HTTP attempt and its usage to the call that made it ---------

    @staticmethod
    def _on_request(*_args: Any, **_kwargs: Any) -> None:
        current = _current.get()
        if current is not None:
            current.attempts += 1

    def _on_response(self, response: Any) -> None:
        self._answered()
        current = _current.get()
        usage = getattr(response, "usage", None)
        if current is not None and usage is not None:
            current.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            current.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)

    @staticmethod
    def _on_parse_error(error: BaseException, *_args: Any, **_kwargs: Any) -> None:
        current = _current.get()
        if current is not None:
            current.reasks += 1
            current.attempt_errors.append(f"invalid_output: {shorten(error_reason(error))}")

    def _answered(self) -> None:
        self.server_answered = True
        self._connection_failures = 0

    def _note_failure(self, label: str) -> None:
        """Count connection failures since the server's last answer; past the limit, after
        it had answered, raise ServerGoneError (an HTTP error is an answer)."""
        if label != "connection":
            if label not in {"timeout", "bad_response"}:
                self._answered()
            return
        self._connection_failures += 1
        if self.server_answered and self._connection_failures >= self.settings.server_gone_after:
            raise ServerGoneError(
                f"the server at {self.settings.endpoint_host} closed the connection; it may "
                "have crashed; see its log (finished calls are kept: rerun `draftgate "
                "generate` once it is back)"
            )

    # -- calls ----------------------------------------------------------------------------

    async def preflight(self) -> None:
        """Fail fast on a bad key or an unreachable endpoint, before any job starts."""
        try:
            await self.openai.models.list()
            self._answered()
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise EndpointError(
                f"the endpoint {self.settings.endpoint_host} refused the API key "
                f"(HTTP {exc.status_code}); check OPENAI_API_KEY"
            ) from exc
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise EndpointError(
                f"cannot reach the endpoint {self.settings.endpoint_host}; check "
                "OPENAI_BASE_URL or [generate] base_url"
            ) from exc
        except openai.APIStatusError:
            self._answered()
            return  # some local servers have no /models; the calls themselves will tell

    def request_kwargs(self, messages: list[Message], params: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.settings.model,
            "messages": [
                {"role": m["role"], "content": protect_from_templating(m["content"])}
                for m in messages
            ],
            **params,
        }

    async def draft(
        self,
        messages: list[Message],
        response_model: type[BaseModel],
        context: dict[str, Any],
        params: dict[str, Any],
    ) -> CallResult:
        result = CallResult(reply=None)
        token = _current.set(result)
        started = time.perf_counter()
        try:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.settings.max_attempts),
                wait=self._wait,
                retry=retry_if_exception(_is_transient),
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    try:
                        reply, _completion = await self.client.create_with_completion(
                            response_model=prepared_response_model(response_model),
                            max_retries=self.settings.max_reasks,
                            context=context,
                            **self.request_kwargs(messages, params),
                        )
                    except Exception as exc:
                        label = error_class(exc)
                        result.errors_seen.append(label)
                        if label != "invalid_output":  # re-asks are listed by the hook
                            reason = redact(error_reason(exc), self.settings.api_key)
                            result.attempt_errors.append(f"{label}: {shorten(reason)}")
                        log.debug("attempt failed (%s): %s", label, exc)
                        self._note_failure(label)
                        raise
            result.reply = reply
        except (
            InstructorRetryException,
            InstructorError,
            openai.OpenAIError,
            ValidationError,
            ValueError,
        ) as exc:
            result.error = error_class(exc)
            result.error_detail = shorten(redact(error_reason(exc), self.settings.api_key))
        finally:
            result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            _current.reset(token)
        return result

    async def close(self) -> None:
        await self.openai.close()
