"""Hostile configuration: the suite's trials, proof that the detector counts what it should,
and one focused test per problem the category found."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

import ledger.queue
from draftgate.cli import main
from draftgate.config import UserInputError, load_config
from draftgate.exit_codes import ExitCode
from generator.prompts import PromptsError, PromptSet, scope_variables
from generator.scope import Product, Scope, ScopeError, load_scope
from ledger import DamagedLedgerError, ForeignLedgerError, Ledger, LedgerUnavailableError
from tests.reliability import hostile_config
from tests.reliability.generate_harness import CliRun
from tests.reliability.outcome import Outcome
from tui.app import keymap_problem

SEED = 1


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_config.build_template(tmp_path_factory.mktemp("hostile_config"))


def project(template: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(template, folder)
    return folder


def test_every_hostile_case_ends_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    outcome = hostile_config.run(hostile_config.SUITE_TRIALS, tmp_path, SEED)
    assert outcome.trials == hostile_config.SUITE_TRIALS, outcome.summary()
    assert outcome.clean, outcome.summary()


# ---- negative controls: the detector can fail ---------------------------------------------


def test_the_judge_counts_acceptance_tracebacks_extra_lines_hangs_and_writes() -> None:
    outcome = Outcome("control")
    snap = {"ledger.sqlite": ("file", 10, 1, "aa")}
    hostile_config.judge(outcome, "accepted", CliRun(0, "", ""), 3, snap, snap)
    hostile_config.judge(
        outcome, "app", CliRun(3, hostile_config.APP_STARTED, "draftgate: error: x\n"), 3, snap,
        snap,
    )  # fmt: skip
    hostile_config.judge(outcome, "trace", CliRun(1, "", "Traceback (most recent call last)\n"),
                         3, snap, snap)  # fmt: skip
    hostile_config.judge(outcome, "two lines", CliRun(3, "", "draftgate: error: a\nb\n"), 3,
                         snap, snap)  # fmt: skip
    hostile_config.judge(outcome, "wrong code", CliRun(4, "", "draftgate: error: a\n"), 3,
                         snap, snap)  # fmt: skip
    hostile_config.judge(outcome, "hang", None, 3, snap, snap)
    after = {"ledger.sqlite": ("file", 11, 2, "bb"), "ledger.sqlite-wal": ("file", 0, 1, "")}
    hostile_config.judge(outcome, "writes", CliRun(3, "", "draftgate: error: a\n"), 3, snap, after)
    assert (outcome.lost, outcome.undetected, outcome.crashed) == (1, 3, 4), outcome.summary()


def test_a_fifo_config_read_the_old_way_is_counted_as_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real trial machinery against the bug it found: reading the config with a plain
    open() blocks on a FIFO; the forked child is killed and the trial counted crashed."""
    import draftgate.config

    monkeypatch.setattr(hostile_config, "TRIAL_TIMEOUT_S", 1.0)
    monkeypatch.setattr(
        draftgate.config, "read_user_text", lambda path: Path(path).read_text(encoding="utf-8")
    )
    template = hostile_config.build_template(tmp_path)
    (case,) = [c for c in hostile_config.cases() if c.name == "config is a FIFO"]
    outcome = Outcome("control")
    hostile_config.run_trial(outcome, case, "status", template, tmp_path, SEED, 0)
    assert outcome.crashed == 1 and "hang" in outcome.findings[0], outcome.summary()


def test_an_in_memory_ledger_that_verify_calls_intact_is_counted_as_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real trial machinery against a Ledger.open that opens ':memory:' as SQLite does:
    verify finds an empty, intact ledger and exits 0, which must count as undetected."""
    real_open = Ledger.open.__func__  # type: ignore[attr-defined]

    def sqlite_semantics(cls: type[Ledger], path: object, **kwargs: object) -> Ledger:
        if str(path) == ":memory:":
            return Ledger.in_memory()
        return real_open(cls, path, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Ledger, "open", classmethod(sqlite_semantics))
    template = hostile_config.build_template(tmp_path)
    outcome = Outcome("control")
    for name in ("ledger :memory: (--ledger)", "ledger :memory: (DRAFTGATE_LEDGER)"):
        (case,) = [c for c in hostile_config.cases() if c.name == name]
        hostile_config.run_trial(outcome, case, "verify", template, tmp_path, SEED, 0)
    assert outcome.undetected == 2, outcome.summary()
    assert all("accepted (exit 0" in f for f in outcome.findings), outcome.summary()


def test_a_nameless_reviewer_that_reaches_the_app_is_counted_as_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real trial machinery against a review command that only trims the name: the app
    starts under an invisible name, which must count as undetected."""
    import draftgate.cmd_review

    monkeypatch.setattr(draftgate.cmd_review, "reviewer_name", str.strip)
    monkeypatch.setattr(ledger.queue, "reviewer_name", str.strip)
    template = hostile_config.build_template(tmp_path)
    outcome = Outcome("control")
    for case in hostile_config.cases():
        if case.name.startswith("reviewer name "):
            hostile_config.run_trial(outcome, case, "review", template, tmp_path, SEED, 0)
    assert outcome.undetected == len(hostile_config.NAMELESS_REVIEWERS), outcome.summary()
    assert all("app started: True" in f for f in outcome.findings), outcome.summary()


# ---- config, scope, side files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[generate]\nconcurrency = "8"\n', "generate.concurrency"),
        ("[generate]\nper_chunk = true\n", "generate.per_chunk"),
        ("[generate]\ntimeout_s = inf\n", "finite"),
        ("[generate]\nbackoff_max_s = nan\n", "finite"),
    ],
)
def test_config_wrong_types_and_non_finite_floats_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "draftgate.toml"
    config.write_text(text)
    with pytest.raises(UserInputError, match=message):
        load_config(str(config))


def test_config_with_a_bom_loads_and_a_huge_one_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "draftgate.toml"
    config.write_bytes("\ufeff[generate]\nconcurrency = 3\n".encode())
    assert load_config(str(config)).generate.concurrency == 3
    config.write_text("# pad\n" * 300_000)
    with pytest.raises(UserInputError, match="more than"):
        load_config(str(config))


def test_fifo_and_folder_settings_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(UserInputError, match="not a regular file"):
        load_config(str(fifo))
    with pytest.raises(ScopeError, match="not a regular file"):
        load_scope(fifo)
    with pytest.raises(ScopeError, match="folder"):
        load_scope(tmp_path)


def test_keymap_duplicate_empty_and_unknown_bindings_are_named() -> None:
    assert keymap_problem({}) is None
    assert keymap_problem({"approve": "y", "reject": "x"}) is None
    assert "bound to both" in (keymap_problem({"approve": "x", "reject": "x"}) or "")
    assert "bound to both" in (keymap_problem({"approve": "r"}) or "")  # reject keeps "r"
    assert "no key" in (keymap_problem({"approve": ""}) or "")
    assert "unknown binding id 'aprove'" in (keymap_problem({"aprove": "x"}) or "")


def test_missing_prompts_folder_and_broken_template_are_named(tmp_path: Path) -> None:
    with pytest.raises(PromptsError, match="does not exist"):
        PromptSet(tmp_path / "nope").check(["qa"])
    folder = tmp_path / "prompts"
    shutil.copytree(PromptSet().folder, folder)
    PromptSet(folder).check(["qa", "clarify"])
    (folder / "qa.j2").write_text("{% if x %}\nnever closed\n")
    with pytest.raises(PromptsError, match=r"qa.j2: line \d"):
        PromptSet(folder).check(["qa"])


# ---- the ledger -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [":memory:", "", "file:x?mode=memory", "file::memory:?cache=shared", "FILE:l.sqlite"]
)
def test_a_path_that_names_no_file_is_refused_like_a_missing_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\nSome text about the product.\n")
    for kwargs in ({}, {"must_exist": True}, {"read_only": True}):
        with pytest.raises(LedgerUnavailableError, match="is not a ledger file"):
            Ledger.open(path, **kwargs)  # type: ignore[arg-type]
    if path:  # an empty --ledger means "not given" and falls back to the default path
        for command in (["ingest", "docs"], ["status"], ["verify"], ["audit"]):
            assert main(["--ledger", path, *command]) == ExitCode.LEDGER, command
        monkeypatch.setenv("DRAFTGATE_LEDGER", path)
        assert main(["verify"]) == ExitCode.LEDGER
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 5 and all("is not a ledger file" in line for line in lines)
    assert sorted(os.listdir(tmp_path)) == ["docs"]


def test_the_reviewer_name_from_any_source_is_stored_spelling_or_one_line_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from draftgate.cmd_review import resolve_reviewer

    config = tmp_path / "draftgate.toml"
    config.write_text('[review]\nreviewer = "\\u00a0Jose\\u0301\\u200b"\n')
    assert resolve_reviewer(None, load_config(str(config))) == "Jos\u00e9"
    assert resolve_reviewer("alice\u200b", load_config(None)) == "alice"
    config.write_text('[review]\nreviewer = "\\u200b\\u2800"\n')
    ledger_file = tmp_path / "ledger.sqlite"
    Ledger.open(ledger_file).close()
    code = main(["--config", str(config), "--ledger", str(ledger_file), "review"])
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_INPUT
    assert err.count("\n") == 1 and "no visible letter or digit" in err
    assert "'\\u200b\\u2800'" in err  # shown escaped, so the reader sees what was given


def test_only_ingest_creates_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with pytest.raises(LedgerUnavailableError, match="run 'draftgate ingest' first"):
        Ledger.open(path, must_exist=True)
    with pytest.raises(LedgerUnavailableError):
        Ledger.open(path, read_only=True)
    assert os.listdir(tmp_path) == []


def test_ledger_creation_is_atomic_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite"

    def broken_migrate(self: Ledger, target: int) -> None:
        raise KeyboardInterrupt  # as if killed halfway through building the schema

    monkeypatch.setattr(Ledger, "_migrate", broken_migrate)
    with pytest.raises(KeyboardInterrupt):
        Ledger.open(path)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    with Ledger.open(path) as ledger:
        assert ledger.schema_version() > 0
    assert os.listdir(tmp_path) == ["ledger.sqlite"]


def test_zero_byte_ledger_is_refused_not_adopted(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"")
    with pytest.raises(ForeignLedgerError, match="empty file"):
        Ledger.open(path)
    assert path.read_bytes() == b"" and os.listdir(tmp_path) == ["ledger.sqlite"]


@pytest.mark.parametrize("cut", [50, 4096, -4096])
def test_truncated_ledger_is_damaged_exit_4(template: Path, tmp_path: Path, cut: int) -> None:
    folder = project(template, tmp_path)
    ledger = folder / "ledger.sqlite"
    size = ledger.stat().st_size
    with open(ledger, "r+b") as handle:
        handle.truncate(cut if cut > 0 else size + cut)
    with pytest.raises(DamagedLedgerError, match="damaged"):
        Ledger.open(ledger)
    code = main(["--ledger", str(ledger), "status"])
    assert code == ExitCode.LEDGER


def test_a_file_that_only_looks_cut_short_is_opened_when_sqlite_reads_it_whole(
    template: Path, tmp_path: Path
) -> None:
    """The size check is a heuristic (a healthy ledger shared by several processes once
    looked cut short to it); SQLite's page check decides. Stray bytes after the last page
    leave a size that is not whole pages, yet every page is there."""
    folder = project(template, tmp_path)
    ledger = folder / "ledger.sqlite"
    with open(ledger, "ab") as handle:
        handle.write(b"\0" * 100)
    with Ledger.open(ledger, must_exist=True) as opened:
        assert opened.query("PRAGMA quick_check")[0][0] == "ok"
    assert main(["--ledger", str(ledger), "verify"]) == ExitCode.OK


def test_a_corrupt_page_found_while_reading_is_one_line_exit_4(
    template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(template, tmp_path)
    ledger = folder / "ledger.sqlite"
    data = bytearray(ledger.read_bytes())
    for page in range(2, len(data) // 4096):  # every page but the schema's: garbage
        data[page * 4096 : page * 4096 + 64] = random.Random(page).randbytes(64)
    ledger.write_bytes(bytes(data))
    code = main(["--ledger", str(ledger), "verify"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == ExitCode.LEDGER, err
    assert len(err) == 1 and "damaged" in err[0]


def test_symlink_loop_ledger_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.symlink_to(path.name)
    with pytest.raises(LedgerUnavailableError, match="symbolic links"):
        Ledger.open(path)


def _read_only(path: Path) -> bool:
    path.chmod(0o444)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True)
    return not os.access(path, os.W_OK)


def test_read_only_ledger_refuses_writes_and_reads_leave_nothing(
    template: Path, tmp_path: Path
) -> None:
    folder = project(template, tmp_path)
    ledger = folder / "ledger.sqlite"
    try:
        if not _read_only(ledger):
            pytest.skip("cannot make a file read-only here")
        with pytest.raises(LedgerUnavailableError, match="read-only"):
            Ledger.open(ledger)
        with Ledger.open(ledger, read_only=True) as opened:
            assert opened.status().chunks > 0
        assert main(["--ledger", str(ledger), "verify"]) == ExitCode.OK
        assert not list(folder.glob("ledger.sqlite-*"))
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(ledger)], check=False, capture_output=True)


def test_dry_run_writes_nothing(template: Path, tmp_path: Path) -> None:
    folder = project(template, tmp_path)
    before = hostile_config.snapshot(folder)
    run = hostile_config.run_forked(folder, ["generate", "--dry-run"], {}, tmp_path)
    assert run is not None and run.code == ExitCode.OK, run
    assert hostile_config.snapshot(folder) == before


def test_read_only_open_refuses_writes(template: Path, tmp_path: Path) -> None:
    folder = project(template, tmp_path)
    with (
        Ledger.open(folder / "ledger.sqlite", read_only=True) as ledger,
        pytest.raises(sqlite3.OperationalError, match="readonly"),
        ledger.transaction() as db,
    ):
        db.execute("CREATE TABLE intruder(x)")


def test_an_export_the_ledger_could_not_record_removes_its_files(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import export.run
    from ledger import LedgerLockedError

    def unrecordable(*args: object) -> None:
        raise LedgerLockedError("locked")

    folder = project(template, tmp_path)
    out = tmp_path / "out"
    monkeypatch.setattr(export.run, "record_export", unrecordable)
    with Ledger.open(folder / "ledger.sqlite") as opened, pytest.raises(LedgerLockedError):
        export.run.export(opened, export.run.ExportOptions(format="openai", out_dir=out))
    # The export was written in a staging folder beside --out; neither is left.
    assert not out.exists()
    assert not list(tmp_path.glob(".draftgate-staging-*"))


def test_a_template_with_an_undefined_variable_is_named_when_rendered(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    shutil.copytree(PromptSet().folder, folder)
    (folder / "qa.j2").write_text("{{ no_such_variable }}\n")
    prompts = PromptSet(folder)
    prompts.check(["qa"])  # it parses; only rendering finds the undefined name
    with pytest.raises(PromptsError, match="no_such_variable"):
        product = scope_variables(Scope(product=Product(name="x")))
        prompts.render("qa", {**product, "chunk": ""})


def test_a_killed_creations_temp_file_is_removed_by_the_next_one(tmp_path: Path) -> None:
    from ledger.store import STALE_CREATION_S

    leftover = tmp_path / ".ledger.sqlite.abc123.creating"
    fresh = tmp_path / ".ledger.sqlite.def456.creating"  # another process creating right now
    for path in (leftover, fresh):
        path.write_bytes(b"SQLite format 3\x00half-made")
    old = leftover.stat().st_mtime - STALE_CREATION_S - 1
    os.utime(leftover, (old, old))
    Ledger.open(tmp_path / "ledger.sqlite").close()
    assert sorted(os.listdir(tmp_path)) == [fresh.name, "ledger.sqlite"]


def test_a_forced_export_that_cannot_be_recorded_keeps_the_previous_one(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import export.run
    from ledger import LedgerLockedError

    folder = project(template, tmp_path)
    out = tmp_path / "out"
    options = export.run.ExportOptions(format="openai", out_dir=out, force=True)
    with Ledger.open(folder / "ledger.sqlite") as opened:
        export.run.export(opened, options)
        previous = hostile_config.snapshot(out)
        record = export.run.record_export

        def unrecordable(*args: object) -> None:
            raise LedgerLockedError("locked")

        monkeypatch.setattr(export.run, "record_export", unrecordable)
        with pytest.raises(LedgerLockedError):
            export.run.export(opened, options)
        assert hostile_config.snapshot(out) == previous
        monkeypatch.setattr(export.run, "record_export", record)
        export.run.export(opened, options)
    # The same files (data/ included) as before, written anew.
    assert sorted(hostile_config.snapshot(out)) == sorted(previous)


def test_read_only_open_refuses_an_older_schema_instead_of_migrating(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path, upgrade_to=1).close()
    before = path.read_bytes()
    with pytest.raises(LedgerUnavailableError, match="older schema"):
        Ledger.open(path, read_only=True)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ledger.sqlite"]
