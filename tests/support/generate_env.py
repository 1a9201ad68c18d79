"""Shared set-up for the generate tests: an ingested copy of the sample docs, a fast config,
and a way to run ``draftgate generate`` in-process against the loopback server."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from draftgate.cli import main
from generator.ingest import ingest_folder
from ledger import Ledger
from tests.support.builders import SAMPLE_DOCS
from tests.support.fake_openai import FakeOpenAI

API_KEY = "sk-test-SECRET123"

FAST_CONFIG = """
docs = "{docs}"
[generate]
model = "fake-model"
timeout_s = {timeout}
max_attempts = {attempts}
max_reasks = 2
backoff_initial_s = 0.001
backoff_max_s = 0.005
retry_after_cap_s = 1.0
batch_poll_s = 0.01
concurrency = 4
per_chunk = 1
mode = "tools"
"""


def write_config(folder: Path, timeout: float = 0.5, attempts: int = 3) -> Path:
    """A fast config. Its mode is fixed (not auto) so a test sees only the drafting calls."""
    path = folder / "draftgate.toml"
    path.write_text(FAST_CONFIG.format(docs=SAMPLE_DOCS, timeout=timeout, attempts=attempts))
    return path


_TEMPLATE: dict[str, Path] = {}


def ingested_ledger(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh ledger with the sample docs ingested (copied from one ingested template)."""
    if "path" not in _TEMPLATE:
        template = tmp_path_factory.mktemp("template") / "ledger.sqlite"
        with Ledger.open(template) as ledger:
            ingest_folder(ledger, SAMPLE_DOCS)
        _TEMPLATE["path"] = template
    target = tmp_path / "ledger.sqlite"
    shutil.copy(_TEMPLATE["path"], target)
    return target


@dataclass
class GenerateRun:
    ledger_path: Path
    config_path: Path
    server: FakeOpenAI
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str) -> int:
        self.monkeypatch.setenv("OPENAI_BASE_URL", self.server.base_url)
        self.monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        return main(
            [
                "--ledger",
                str(self.ledger_path),
                "--config",
                str(self.config_path),
                "generate",
                "--quiet",
                *args,
            ]
        )

    def ledger(self) -> Ledger:
        return Ledger.open(self.ledger_path)
