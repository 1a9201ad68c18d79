"""What identifies a drafting job, and the ledger record of its call, for every drafter.

Idempotence: a job's key is the content hash of (chunk text hash, kind, subtype, template
hash, model, params, count). A call is committed with its drafts in one transaction, and a
rerun skips every key with an ok call, so a run killed at any point loses at most the calls
in flight and never stores a draft twice. Both drafters key their jobs and build their calls
here, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger import DraftKind, GenerationCall, utc_now
from ledger.ids import content_hash, new_event_id


def job_key(
    chunk_text_hash: str,
    kind: DraftKind | str,
    subtype: str | None,
    template_hash: str,
    model: str,
    params: Mapping[str, Any],
    count: int,
) -> str:
    """The key a finished job is found by on a rerun: same inputs, same key."""
    return content_hash(
        {
            "chunk": chunk_text_hash,
            "kind": DraftKind(kind).value,
            "subtype": subtype,
            "template": template_hash,
            "model": model,
            "params": dict(params),
            "count": count,
        }
    )


@dataclass(frozen=True)
class JobSpec:
    """Everything that decides a job's output, and so its key."""

    chunk_id: str
    chunk_text_hash: str
    kind: DraftKind
    subtype: str | None
    drafter: str  # "llm" or "rules/<version>"
    template_name: str
    template_hash: str
    model: str
    params: Mapping[str, Any]  # what, besides the fields above, decides the output
    count: int  # drafts requested
    key: str = field(init=False)

    def __post_init__(self) -> None:
        key = job_key(
            self.chunk_text_hash,
            self.kind,
            self.subtype,
            self.template_hash,
            self.model,
            self.params,
            self.count,
        )
        object.__setattr__(self, "key", key)


def build_call(
    spec: JobSpec,
    *,
    started_at: str,
    produced: int,
    dropped: Mapping[str, int],
    error: str | None = None,
    attempts: int = 1,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    latency_ms: float = 0.0,
    endpoint_host: str | None = None,
    extra_params: Mapping[str, Any] | None = None,
    requested: int | None = None,
) -> GenerationCall:
    """The ledger record of one call of ``spec``: failed when ``error`` is given (already
    redacted), ok otherwise. The recorded params are the job's params with its count and
    subtype, plus ``extra_params`` (provenance that is not part of the key, e.g. a batch id).

    ``requested`` defaults to the job's count. A drafter that weighed more candidates than the
    count (and dropped the rest with reasons) records how many it weighed, so requested =
    produced + dropped holds without hiding a drop; it is never less than the count.
    """
    if requested is not None and requested < spec.count:
        raise ValueError(f"requested ({requested}) is less than the job's count ({spec.count})")
    return GenerationCall(
        id=new_event_id(),
        job_key=spec.key,
        kind=spec.kind,
        chunk_id=spec.chunk_id,
        drafter=spec.drafter,
        template_name=spec.template_name,
        template_hash=spec.template_hash,
        model=spec.model,
        endpoint_host=endpoint_host,
        params={
            **spec.params,
            "count": spec.count,
            "subtype": spec.subtype,
            **(extra_params or {}),
        },
        attempts=max(1, attempts),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        status="ok" if error is None else "failed",
        error=error,
        requested=spec.count if requested is None else requested,
        produced=produced,
        dropped=dict(dropped),
        started_at=started_at,
        finished_at=utc_now(),
    )
