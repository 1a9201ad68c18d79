"""``draftgate generate --batch``: the OpenAI Batch API (half the price, results within 24 h).

Steps: write one request line per job (the same request body instructor would send, built
by instructor's own request handler for the configured mode), upload the file, create the
batch, poll, download the output, and pass every reply through the same validation, corpus
checks, dedup and single writer as a live run. A batch cannot re-ask: a reply that fails
validation is recorded as a failed call (``invalid_output``) and a rerun drafts that job live
or in a new batch.

Resuming: the batch id is kept in a state file beside the ledger (``<ledger>.batch.json``)
from the moment the batch exists until its results are stored, so a rerun after an interrupt
polls the same batch instead of paying for a new one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from instructor.processing.response import handle_response_model
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from generator.client import CallResult, LLMClient, error_reason, shorten
from generator.kinds import KINDS
from generator.runner import (
    DraftChecker,
    Job,
    LedgerWriter,
    RunReport,
    call_params,
    store_result,
)
from ledger import Ledger, utc_now

TERMINAL = {"completed", "failed", "expired", "cancelled"}


def request_line(client: LLMClient, job: Job) -> tuple[dict[str, Any], type[BaseModel]]:
    prepared, body = handle_response_model(
        KINDS[job.kind].reply_model,
        mode=client.mode,
        model=client.settings.model,
        messages=[dict(m) for m in job.prompt.messages],
        **call_params(job, client),
    )
    line = {"custom_id": job.key, "method": "POST", "url": "/v1/chat/completions", "body": body}
    assert prepared is not None
    return line, prepared


async def run_batch(
    ledger: Ledger,
    client: LLMClient,
    jobs: Sequence[Job],
    checker: DraftChecker,
    state_path: Path,
    *,
    poll_s: float = 30.0,
    log: Callable[[str], None] = print,
) -> RunReport:
    report = RunReport()
    by_key = {job.key: job for job in jobs}
    state: dict[str, Any] | None = None
    if state_path.exists():
        state = json.loads(state_path.read_text(encoding="utf-8"))
        log(f"resuming batch {state['batch_id']} ({len(state['job_keys'])} requests)")
    if state is None:
        if not jobs:
            return report
        lines = [request_line(client, job)[0] for job in jobs]
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        uploaded = await client.openai.files.create(
            file=("draftgate-batch.jsonl", data.encode("utf-8")), purpose="batch"
        )
        batch = await client.openai.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        state = {
            "batch_id": batch.id,
            "input_file_id": uploaded.id,
            "created_at": utc_now(),
            "job_keys": [job.key for job in jobs],
        }
        state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")
        log(f"created batch {batch.id} with {len(jobs)} requests; state in {state_path}")
    started_at = state["created_at"]
    started = time.monotonic()
    while True:
        batch = await client.openai.batches.retrieve(state["batch_id"])
        if batch.status in TERMINAL:
            break
        log(f"batch {batch.id}: {batch.status}")
        await asyncio.sleep(poll_s)
    outputs: dict[str, dict[str, Any]] = {}
    if batch.output_file_id:
        content = await client.openai.files.content(batch.output_file_id)
        for raw in content.text.splitlines():
            if raw.strip():
                item = json.loads(raw)
                outputs[item["custom_id"]] = item
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    writer = LedgerWriter(ledger, report)
    try:
        for key in state["job_keys"]:
            job = by_key.get(key)
            if job is None:
                continue  # finished meanwhile, or no longer planned (docs changed)
            result = _result_of(client, job, outputs.get(key), batch.status)
            result.latency_ms = latency_ms
            store_result(
                job, result, client, started_at, checker, report, writer,
                {"batch_id": state["batch_id"]},
            )  # fmt: skip
    finally:
        await writer.close()
    state_path.unlink(missing_ok=True)
    return report


def _result_of(client: LLMClient, job: Job, item: dict[str, Any] | None, status: str) -> CallResult:
    result = CallResult(reply=None, attempts=1)
    if item is None:
        result.error, result.error_detail = "batch_missing", f"no result (batch {status})"
        return result
    response = item.get("response") or {}
    if response.get("status_code") != 200:
        code = response.get("status_code")
        result.error = "server_error" if (code or 500) >= 500 else f"http_{code}"
        result.error_detail = shorten(json.dumps(item.get("error") or response.get("body")))
        return result
    try:
        completion = ChatCompletion.model_validate(response["body"])
    except ValidationError as exc:
        result.error, result.error_detail = "bad_response", shorten(str(exc))
        return result
    if completion.usage is not None:
        result.prompt_tokens = completion.usage.prompt_tokens
        result.completion_tokens = completion.usage.completion_tokens
    _line, prepared = request_line(client, job)
    try:
        result.reply = prepared.from_response(  # type: ignore[attr-defined]
            completion, validation_context=job.context, mode=client.mode
        )
    except (ValidationError, ValueError) as exc:
        result.error = "invalid_output"
        result.error_detail = shorten(error_reason(exc))
    return result
