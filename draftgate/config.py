"""``draftgate.toml``: settings for every command; command-line flags override them.

Unknown keys and wrong types are errors (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
)

from draftgate.errors import UserInputError as UserInputError
from generator.userfiles import UserFileError, read_user_text
from ledger.models import DraftKind

CONFIG_FILE = "draftgate.toml"
DEFAULT_LEDGER = "outputs/ledger.sqlite"


class Section(BaseModel):
    # strict: "8" is not an int and true is not a count; no inf/nan: an infinite timeout or a
    # NaN rate would pass every range check and misbehave far from the config file.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)


class GenerateConfig(Section):
    model: str = "gpt-4o-mini"
    temperature: float = Field(default=0.7, ge=0, le=2)
    concurrency: int = Field(default=8, ge=1, le=1024)
    kinds: list[str] = Field(default_factory=lambda: [kind.value for kind in DraftKind])
    per_chunk: int = Field(default=3, ge=1, le=50)
    # "auto" (the mode `draftgate check` finds working) or a structured-output mode.
    mode: str = "auto"
    # A call's max_tokens is its draft count times this (generator.settings.MAX_TOKENS_PER_DRAFT,
    # not imported: the config loads without the generator's models).
    max_tokens_per_draft: int = Field(default=600, ge=16, le=100_000)
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
    # How long a run's claim on a job lasts unless renewed (every third of it): the wait
    # before jobs of a run that hangs, or was killed on another host, come free.
    claim_ttl_s: float = Field(default=60.0, gt=0)
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
    # The dataset card's license when an export is pushed to the Hub (an SPDX-style id the
    # Hub knows, e.g. "cc-by-4.0"); unset, the card says it is not set.
    license: str | None = None


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


# `[serve.reviewers]`: reviewer name = "sha256:<hex>" of their token (`draftgate serve
# --new-token NAME` makes one); the token itself is never written to the config.
TokenHash = Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]


class ServeConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8420, ge=1, le=65535)
    public_url: str | None = None
    reviewers: dict[str, TokenHash] = Field(default_factory=dict)


class Config(Section):
    # The folder relative paths are taken from: where Draftgate was started, or the folder of
    # a draftgate.toml found above it (see find_config).
    _root: Path = PrivateAttr(default_factory=lambda: Path())
    ledger: str | None = None
    docs: str = "product_docs"
    scope: str | None = None
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    probe: ProbeConfig = Field(default_factory=ProbeConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)

    def under_root(self, path: str | Path) -> Path:
        """``path`` as the config means it: a relative one is taken from the config's root."""
        return Path(path) if Path(path).is_absolute() else self._root / path


CONFIG_ENV = "DRAFTGATE_CONFIG"


def find_config(start: Path | None = None) -> Path | None:
    """``draftgate.toml`` in ``start`` (default: the current folder), else in the nearest
    parent up to the repository root (the first folder holding ``.git``); outside a
    repository only ``start`` itself is looked in."""
    here = (start or Path.cwd()).absolute()
    folders = [here, *here.parents]
    top = next((f for f in folders if os.path.lexists(f / ".git")), None)
    for folder in folders if top is not None else [here]:
        candidate = folder / CONFIG_FILE
        if os.path.lexists(candidate):
            return candidate if folder != here else Path(CONFIG_FILE)
        if folder == top:
            break
    return None


def load_config(path: str | None) -> Config:
    """Load ``path``, else $DRAFTGATE_CONFIG, else the draftgate.toml find_config finds,
    else the defaults. A config found in a parent folder works as if Draftgate had been
    started there: its relative paths, and the default ledger, are taken from that folder."""
    given = path or os.environ.get(CONFIG_ENV) or None
    chosen = Path(given) if given else find_config()
    if chosen is None:
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
        config = Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        count = exc.error_count()
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise UserInputError(f"{chosen}: {where}: {first['msg']}{more}") from exc
    if not given and chosen.is_absolute():
        config._root = chosen.parent  # noqa: SLF001 - set once, here, where it is known
        config.ledger = str(config.under_root(config.ledger or DEFAULT_LEDGER))
        if "docs" in config.model_fields_set:
            config.docs = str(config.under_root(config.docs))
        if config.scope is not None:
            config.scope = str(config.under_root(config.scope))
    return config


def ledger_path(flag: str | None, config: Config) -> str:
    """--ledger, else $DRAFTGATE_LEDGER, else the config's ledger, else the default."""
    return flag or os.environ.get("DRAFTGATE_LEDGER") or config.ledger or DEFAULT_LEDGER
