"""What one generate run is asked to do: the drafter's inputs, the endpoint, the budgets and
the prices, checked once when the settings are made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from generator.errors import SettingsError
from generator.kinds import KIND_NAMES

# The structured-output modes the LLM client knows (``generator.client.MODES``), named here
# so that checking settings does not import the client and its libraries.
STRUCTURED_MODES: tuple[str, ...] = ("tools", "json_schema", "json", "md_json")
# ``--mode auto``: the mode ``draftgate check`` finds working (``generator.endpoint_check``).
MODE_AUTO = "auto"
DEFAULT_BASE_URL = "https://api.openai.com/v1"  # the OpenAI SDK's own default
MODE_CHOICES: tuple[str, ...] = (MODE_AUTO, *STRUCTURED_MODES)
# The completion budget of a call is its draft count times this (``max_tokens``): a local
# model that never stops otherwise writes until its context is full. A draft at the schema's
# limits (600-character question, 1,500-character answer, five 400-character quotes) is about
# 1,000 tokens; a typical one is a quarter of that.
MAX_TOKENS_PER_DRAFT = 600


def estimated_cost(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    price_in_per_mtok: float,
    price_out_per_mtok: float,
    batch: bool = False,
) -> float:
    """Dollars for the tokens at the given prices per million; the Batch API costs half."""
    cost = (prompt_tokens * price_in_per_mtok + completion_tokens * price_out_per_mtok) / 1e6
    return cost / 2 if batch else cost


@dataclass(frozen=True)
class GenerateSettings:
    model: str = "gpt-4o-mini"
    temperature: float = 0.7
    concurrency: int = 8
    kinds: tuple[str, ...] = KIND_NAMES
    per_chunk: int = 3
    mode: str = MODE_AUTO
    max_tokens_per_draft: int = MAX_TOKENS_PER_DRAFT
    rpm: int | None = None
    tpm: int | None = None
    timeout_s: float = 60.0
    max_attempts: int = 5
    max_reasks: int = 2
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    retry_after_cap_s: float = 60.0
    batch_poll_s: float = 30.0
    claim_ttl_s: float = 60.0  # a job claim's life unless renewed (generator.claims)
    prompts: str | None = None  # prompts folder; None: the one shipped with Draftgate
    price_in_per_mtok: float = 0.15
    price_out_per_mtok: float = 0.60
    # The endpoint. With neither set, the rules drafter drafts instead of an LLM.
    base_url: str | None = None
    api_key: str | None = None
    limit: int | None = None  # run at most this many jobs
    batch: bool = False  # the OpenAI Batch API instead of live calls
    # Draft again where reviewers rejected drafts, with their reasons (generator.redraft).
    redraft_rejected: bool = False

    def __post_init__(self) -> None:
        unknown = [k for k in self.kinds if k not in KIND_NAMES]
        if unknown or not self.kinds:
            raise SettingsError(
                f"unknown kind(s) {', '.join(unknown) or '(none)'}; "
                f"choose from {', '.join(KIND_NAMES)}"
            )
        if self.mode not in MODE_CHOICES:
            raise SettingsError(
                f"unknown mode {self.mode!r}; choose from {', '.join(MODE_CHOICES)}"
            )
        if self.max_tokens_per_draft < 1:
            raise SettingsError("max_tokens_per_draft must be at least 1")
        if self.limit is not None and self.limit < 1:
            raise SettingsError("limit must be at least 1")

    @property
    def uses_llm(self) -> bool:
        return bool(self.base_url or self.api_key)

    def job_params(self) -> dict[str, Any]:
        """What, besides the model and the template, decides a job's output (part of its key)."""
        return {"temperature": self.temperature, "mode": self.mode}

    def cost(self, prompt_tokens: int, completion_tokens: int, *, batch: bool = False) -> float:
        return estimated_cost(
            prompt_tokens,
            completion_tokens,
            price_in_per_mtok=self.price_in_per_mtok,
            price_out_per_mtok=self.price_out_per_mtok,
            batch=batch,
        )
