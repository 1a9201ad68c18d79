"""``draftgate.toml``: settings for every command; command-line flags override them.

Unknown keys and wrong types are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from generator.kinds import KIND_NAMES
from generator.userfiles import UserFileError, read_user_text

CONFIG_FILE = "draftgate.toml"
DEFAULT_LEDGER = "outputs/ledger.sqlite"


class UserInputError(Exception):
    """A problem the user can fix (bad config, bad option): one line, exit code BAD_INPUT."""


class Section(BaseModel):
    # strict: "8" is not an int and true is not a count; no inf/nan: an infinite timeout or a
    # NaN rate would pass every range check and misbehave far from the config file.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class GenerateConfig(Section):
    model: str = "gpt-4o-mini"
    temperature: float = Field(default=0.7, ge=0, le=2)
    concurrency: int = Field(default=8, ge=1, le=1024)
    kinds: list[str] = Field(default_factory=lambda: list(KIND_NAMES))
    per_chunk: int = Field(default=3, ge=1, le=50)
    mode: str = "tools"
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    max_reasks: int = Field(default=2, ge=0, le=10)
    base_url: str | None = None
    # Transport retry backoff (exponential with jitter; a Retry-After header wins, capped).
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=30.0, ge=0)
    retry_after_cap_s: float = Field(default=60.0, ge=0)
    # --batch: seconds between polls of the batch's status.
    batch_poll_s: float = Field(default=30.0, gt=0)
    # Folder of the prompt templates (default: the prompts/ folder shipped with Draftgate).
    prompts: str | None = None
    # Price per million tokens, for the cost estimate in the progress bar and summary.
    price_in_per_mtok: float = Field(default=0.15, ge=0)
    price_out_per_mtok: float = Field(default=0.60, ge=0)


class ReviewConfig(Section):
    reviewer: str | None = None
    lease_seconds: int = Field(default=600, ge=10)
    guidelines: str | None = None
    keymap: dict[str, str] = Field(default_factory=dict)


class ExportConfig(Section):
    eval_fraction: float = Field(default=0.1, ge=0, lt=1)
    seed: int = 0
    system_prompt: str | None = None


class ProbeConfig(Section):
    # The model under test and its endpoint (default: OPENAI_BASE_URL / [generate] base_url).
    model: str | None = None
    base_url: str | None = None
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1)
    concurrency: int = Field(default=4, ge=1, le=256)
    timeout_s: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    backoff_initial_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=20.0, ge=0)
    # Share of a signed answer's key words a Q&A answer must carry, and an injection probe's.
    min_fact_share: float = Field(default=0.5, ge=0, le=1)
    min_help_share: float = Field(default=0.25, ge=0, le=1)


class AuditConfig(Section):
    fast_decision_ms: int = Field(default=2000, ge=0)
    target_mix: dict[str, float] = Field(default_factory=dict)


class Config(Section):
    ledger: str | None = None
    docs: str = "product_docs"
    scope: str | None = None
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)


def load_config(path: str | None) -> Config:
    """Load ``path``, or ``./draftgate.toml`` if present, or the defaults."""
    chosen = Path(path) if path else Path(CONFIG_FILE)
    if not path and not os.path.lexists(chosen):
        return Config()
    try:
        text = read_user_text(chosen)
    except UserFileError as exc:
        raise UserInputError(f"config file {chosen}: {exc}") from exc
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"{chosen}: not valid TOML: {exc}") from exc
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        count = exc.error_count()
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise UserInputError(f"{chosen}: {where}: {first['msg']}{more}") from exc


def ledger_path(flag: str | None, config: Config) -> str:
    """--ledger, else $DRAFTGATE_LEDGER, else the config's ledger, else the default."""
    return flag or os.environ.get("DRAFTGATE_LEDGER") or config.ledger or DEFAULT_LEDGER
