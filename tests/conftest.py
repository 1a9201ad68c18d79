from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger

# The browser tier needs chromium and Playwright: `make browser` runs it, `make test` does not.
collect_ignore = [] if os.environ.get("DRAFTGATE_BROWSER_TIER") else ["browser"]


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    opened = Ledger.open(ledger_path)
    yield opened
    opened.close()
