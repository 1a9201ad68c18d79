"""Ctrl-C while an export writes its files is taken between records: a KeyboardInterrupt
raised inside a library's callback (a weakref finalizer in datasets) would be printed as
"Exception ignored" and lost, and the export would run on."""

from __future__ import annotations

import os
import signal
import weakref
from pathlib import Path

import pytest

from export.folder import interrupts_between_records
from export.run import ExportOptions, export
from ledger import Ledger
from tests.support.exports import build_mixed


def test_ctrl_c_waits_for_the_next_check() -> None:
    reached = []
    with pytest.raises(KeyboardInterrupt), interrupts_between_records() as interrupted:
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after the signal")  # the handler has run by now, raising nothing
        interrupted()
        reached.append("after the check")
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_in_a_finalizer_is_not_lost(capsys: pytest.CaptureFixture[str]) -> None:
    class Holder:
        pass

    with pytest.raises(KeyboardInterrupt), interrupts_between_records():
        holder = Holder()
        weakref.finalize(holder, os.kill, os.getpid(), signal.SIGINT)
        del holder  # the finalizer sends Ctrl-C while it runs
    assert "Exception ignored" not in capsys.readouterr().err


def test_an_export_stopped_between_records_leaves_nothing(
    ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_mixed(ledger)
    seen = 0

    def record_content_then_ctrl_c(*args: object) -> dict[str, object]:
        nonlocal seen
        seen += 1
        if seen == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args)

    import export.run as run

    original = run.record_content
    monkeypatch.setattr(run, "record_content", record_content_then_ctrl_c)
    exports = tmp_path / "exports"
    exports.mkdir()
    out = exports / "out"
    with pytest.raises(KeyboardInterrupt):
        export(ledger, ExportOptions(format="openai", out_dir=out))
    assert seen == 2  # stopped at the next record, not at the end
    assert list(exports.iterdir()) == []  # neither the export nor its staging folder
    assert ledger.recorded_exports() == []
