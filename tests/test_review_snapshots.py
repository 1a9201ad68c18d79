"""SVG snapshots of the review screen, the editor and the reject form (fixed data, no clocks),
at the two terminal sizes reviewers use. A style leaking from the badge onto the card's text,
or the source pane disappearing behind the editor, changes the picture.

Update after an intended change: pytest tests/test_review_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from ledger import DraftIn, DraftKind, Ledger
from tests.support.builders import add_document, add_drafts
from tests.support.review import make_app, settle, wait_for_screen, wait_until
from tui.modals import EditScreen, RejectScreen

SIZES = [pytest.param((120, 40), id="120x40"), pytest.param((80, 24), id="80x24")]


def fixed_ledger(path: Path) -> None:
    with Ledger.open(path) as ledger:
        chunk_ids = add_document(ledger)
        add_drafts(
            ledger,
            chunk_ids[0],
            [
                DraftIn(
                    kind=DraftKind.QA,
                    question="Where do I download my invoices?",
                    answer="Open Settings > Billing > Invoices and pick the month you need.",
                    evidence=["Open **Settings > Billing > Invoices**"],
                ),
                DraftIn(
                    kind=DraftKind.NEGATIVE,
                    question="Can I pay invoices in bitcoin?",
                    answer="No, Tidepool does not take crypto payments; cards and bank "
                    "transfer are supported.",
                    meta={
                        "absence_check": {
                            "terms": ["bitcoin", "crypto"],
                            "hits": [],
                            "denials": [
                                {
                                    "term": "crypto",
                                    "line": "docs/guide.md:3",
                                    "sentence": "Crypto payments are not supported.",
                                }
                            ],
                        },
                        "findings": [{"check": "phantom_ui_name", "detail": "Wallet page"}],
                    },
                ),
            ],
        )


def app_for(path: Path) -> Any:
    fixed_ledger(path)
    return make_app(path, "ann")


def settled(app: Any) -> Any:
    async def run_before(pilot: Any) -> None:
        await settle(pilot, app)

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = app_for(tmp_path / "ledger.sqlite")
    assert snap_compare(app, terminal_size=size, run_before=settled(app))


@pytest.mark.parametrize("size", SIZES)
def test_negative_with_absence_check(
    snap_compare: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    app = app_for(tmp_path / "ledger.sqlite")

    async def run_before(pilot: Any) -> None:
        await settle(pilot, app)
        await pilot.press("a")
        await settle(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_editor(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = app_for(tmp_path / "ledger.sqlite")

    async def run_before(pilot: Any) -> None:
        await settle(pilot, app)
        await pilot.press("e")
        await wait_for_screen(pilot, app, EditScreen)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_reject_dialog(snap_compare: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    app = app_for(tmp_path / "ledger.sqlite")

    async def run_before(pilot: Any) -> None:
        await settle(pilot, app)
        await pilot.press("r")
        dialog = await wait_for_screen(pilot, app, RejectScreen)
        await pilot.press("3", *"page does not exist")
        note = dialog.query_one("#note", Input)
        await wait_until(pilot, lambda: note.value == "page does not exist", "the typed note")
        await pilot.wait_for_scheduled_animations()

    assert snap_compare(app, terminal_size=size, run_before=run_before)
