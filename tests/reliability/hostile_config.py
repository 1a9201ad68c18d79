"""Hostile configuration: broken settings files, ledgers and side files, against every command
that reads them.

A *case* is one hostile thing in an otherwise working project folder (docs ingested, drafts
approved, a ``draftgate.toml`` pointing at them): a ``draftgate.toml`` that is not TOML, has a
BOM, is binary, empty, huge, has unknown keys or wrong types (a string for an int, zero or
negative concurrency, inf/nan floats), a keymap with duplicate or missing bindings; a ledger
path in a read-only folder, through a file, that is a folder, a symlink loop or a FIFO; a
ledger file that is text, zero bytes, random bytes, another app's SQLite database, from a
newer Draftgate, truncated (at four points) or read-only; a FIFO, folder or missing file as
config, scope, guidelines or system prompt; a missing prompts folder, a broken or missing
Jinja template; a malformed scope file; a ledger that is not a file (``:memory:`` through
``--ledger`` or ``DRAFTGATE_LEDGER``, an SQLite ``file:`` URI); a reviewer name with no
visible letter or digit (zero-width, bidi, braille blank, Hangul filler, ESC and C1 controls).

A *trial* is one case x one command that reads the hostile thing (``ingest``, ``status``,
``verify``, ``generate --dry-run``, ``generate``, ``review`` up to the app's start,
``export``, ``audit``), run through the real ``main()`` in a child forked from this process
(the imports are already done, so a trial costs no interpreter start-up; a hang is a child
killed at the timeout; two trials are in flight at once). ``SUITE_TRIALS`` is every trial
once; ``run(n)`` runs the whole list n // SUITE_TRIALS times and then the first
n % SUITE_TRIALS (``seed`` varies the random bytes and the truncation points).

Each trial expects the exit code draftgate/exit_codes.py documents for it (3 bad input, 4
ledger; 0 where the hostile thing must be tolerated, e.g. a read-only ledger for ``status``)
and a snapshot of the project folder (names, types, sizes, mtimes, content hashes) taken
before and after.

- crashed: a hang, a traceback, an undocumented exit code or another documented one than
  expected, or a refusal that is not exactly one ``draftgate: error:`` line on stderr.
- undetected: exit 0 where a refusal was expected (the hostile thing was accepted), the review
  app started, or a new file left behind (e.g. a ledger created by a command other than
  ``ingest``, a -wal/-shm beside a read-only ledger).
- lost: a file that existed before the trial changed or disappeared.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from draftgate.exit_codes import ExitCode
from tests.reliability.generate_harness import CliRun, small_docs
from tests.reliability.outcome import Outcome
from tests.support.builders import REPO_ROOT, SAMPLE_DOCS

CATEGORY = "hostile config"
TRIAL_TIMEOUT_S = 20.0
IN_FLIGHT = 2

COMMANDS: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest",),
    "status": ("status",),
    "verify": ("verify",),
    "dry-run": ("generate", "--dry-run"),
    "generate": ("generate", "--quiet"),
    "review": ("review", "--reviewer", "tester"),
    "export": ("export", "--out", "outputs/export"),
    "audit": ("audit", "--out", "outputs/audit.md"),
}
ALL = tuple(COMMANDS)
WRITERS = ("ingest", "generate", "review", "export")
BAD_INPUT = int(ExitCode.BAD_INPUT)
LEDGER = int(ExitCode.LEDGER)
OK = int(ExitCode.OK)

BASE_CONFIG = 'docs = "docs"\nledger = "ledger.sqlite"\n'
# For the prompts cases: an endpoint on a port nothing listens on, so `generate` takes the LLM
# path (which renders the prompts) and would end in 5 if it ever got as far as calling it.
CLOSED_ENDPOINT = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_API_KEY": "sk-unused"}
APP_STARTED = "REVIEW-APP-STARTED"
MEMORY_FLAG = ("--ledger", ":memory:")
# Names with no visible letter or digit: each must be refused by `review` before it starts.
NAMELESS_REVIEWERS = (
    ("zero-width + braille blank", "\u200b\u2800"),
    ("bidi controls + Hangul filler", "\u202e\u2066\u3164\u2069"),
    ("ESC, BEL and C1 controls", "\x1b\x07\x9b"),
    ("BOM, soft hyphen, tags", "\ufeff\u00ad\U000e0041 \u3000"),
)
_SCRUBBED_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_LOG", "DRAFTGATE_LEDGER")


# ---- the project a case breaks ------------------------------------------------------------


def build_template(workdir: Path) -> Path:
    """A working project: docs ingested, drafts made by the rules drafter, a few approved."""
    from generator.ingest import ingest_folder
    from generator.rules import run_rules_drafter
    from generator.scope import load_scope
    from ledger import DecisionIn, Ledger, Verdict

    root = workdir / "template"
    if (root / "ledger.sqlite").exists():
        return root
    small_docs(root / "docs")
    shutil.copy(SAMPLE_DOCS / "scope.toml", root / "docs" / "scope.toml")
    (root / "draftgate.toml").write_text(BASE_CONFIG, encoding="utf-8")
    with Ledger.open(root / "ledger.sqlite") as ledger:
        ingest_folder(ledger, root / "docs")
        scope = load_scope(root / "docs" / "scope.toml")
        run_rules_drafter(ledger, scope, kinds=["qa"], per_chunk=1, limit=None)
        drafts = [row[0] for row in ledger.iter_draft_texts()][:3]
        for draft in drafts:
            ledger.record_decision(
                DecisionIn(draft_id=draft, reviewer="tester", verdict=Verdict.APPROVE)
            )
    return root


# ---- cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Path, random.Random], None]
    expect: Mapping[str, int]  # command -> expected exit code
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # Where a command that is expected to succeed may add files (audit's report).
    may_add: tuple[str, ...] = ()


def _config(text: str | bytes) -> Callable[[Path, random.Random], None]:
    def setup(folder: Path, rng: random.Random) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        (folder / "draftgate.toml").write_bytes(data)

    return setup


def _random_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def _config_binary(folder: Path, rng: random.Random) -> None:
    (folder / "draftgate.toml").write_bytes(b"\xff\xfe\x00" + _random_bytes(rng, 2048))


def _config_huge(folder: Path, rng: random.Random) -> None:
    pad = "# " + "x" * 98 + "\n"
    (folder / "draftgate.toml").write_text(BASE_CONFIG + pad * 40_000, encoding="utf-8")


def _fifo(path: Path) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mkfifo(path)


def _symlink_loop(path: Path) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(path.name)


# What the current trial's set-up made read-only (checked to really be so before it runs).
_READ_ONLY: list[Path] = []


def _make_read_only(path: Path) -> None:
    """chmod, and as root (whom chmod does not stop) the immutable attribute too."""
    _READ_ONLY.append(path)
    path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=False, capture_output=True)


def _undo_read_only(folder: Path) -> None:
    if os.geteuid() == 0:
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink() and (path.is_file() or path.is_dir()):
                subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink() and path.is_dir():
            path.chmod(0o755)


def _is_read_only(path: Path) -> bool:
    probe = path / ".probe" if path.is_dir() else path
    try:
        fd = os.open(probe, os.O_WRONLY | (os.O_CREAT if path.is_dir() else 0), 0o644)
    except OSError:
        return True
    os.close(fd)
    if path.is_dir():
        probe.unlink()
    return False


def _ledger_with(mutate: Callable[[Path, random.Random], None]) -> Callable[..., None]:
    def setup(folder: Path, rng: random.Random) -> None:
        mutate(folder / "ledger.sqlite", rng)

    return setup


def _replace_ledger(data: Callable[[random.Random], bytes]) -> Callable[..., None]:
    return _ledger_with(lambda path, rng: path.write_bytes(data(rng)))


def _ledger_missing(path: Path, rng: random.Random) -> None:
    path.unlink()


def _ledger_dir(path: Path, rng: random.Random) -> None:
    path.unlink()
    path.mkdir()


def _other_app_sqlite(path: Path, rng: random.Random) -> None:
    path.unlink()
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
    db.execute("INSERT INTO notes(body) VALUES ('keep me')")
    db.commit()
    db.close()


def _newer_ledger(path: Path, rng: random.Random) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 999")
    db.close()


def _truncate(where: str) -> Callable[[Path, random.Random], None]:
    def mutate(path: Path, rng: random.Random) -> None:
        size = path.stat().st_size
        page = 4096
        cut = {
            "header": rng.randrange(16, 100),
            "first_page": page,
            "middle": rng.randrange(2, max(3, size // page - 1)) * page,
            "last_page": size - page,
        }[where]
        with open(path, "r+b") as handle:
            handle.truncate(cut)

    return mutate


def _ledger_read_only(path: Path, rng: random.Random) -> None:
    _make_read_only(path)


def _ledger_in_read_only_folder(folder: Path, rng: random.Random) -> None:
    (folder / "ro").mkdir()
    _ledger_in_read_only_folder_config(folder)
    _make_read_only(folder / "ro")


def _existing_ledger_in_read_only_folder(folder: Path, rng: random.Random) -> None:
    (folder / "ro").mkdir()
    (folder / "ledger.sqlite").rename(folder / "ro" / "ledger.sqlite")
    _ledger_in_read_only_folder_config(folder)
    _make_read_only(folder / "ro")


def _ledger_in_read_only_folder_config(folder: Path) -> None:
    (folder / "draftgate.toml").write_text(
        'docs = "docs"\nledger = "ro/ledger.sqlite"\n', encoding="utf-8"
    )


def _ledger_at(value: str) -> Callable[[Path, random.Random], None]:
    return _config(f'docs = "docs"\nledger = "{value}"\n')


def _scope(mutate: Callable[[Path, random.Random], None]) -> Callable[..., None]:
    def setup(folder: Path, rng: random.Random) -> None:
        mutate(folder / "docs" / "scope.toml", rng)

    return setup


def _write(text: str | bytes) -> Callable[[Path, random.Random], None]:
    def mutate(path: Path, rng: random.Random) -> None:
        path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)

    return mutate


def _remove(path: Path, rng: random.Random) -> None:
    path.unlink()


def _as_dir(path: Path, rng: random.Random) -> None:
    if path.exists():
        path.unlink()
    path.mkdir()


def _as_fifo(path: Path, rng: random.Random) -> None:
    _fifo(path)


def _side_file(key: str, section: str, value: str, mutate: Callable[..., None]) -> Callable:
    """Point ``[section] key`` at side.txt (a guidelines or system prompt file), then break it."""

    def setup(folder: Path, rng: random.Random) -> None:
        (folder / "draftgate.toml").write_text(
            f'{BASE_CONFIG}[{section}]\n{key} = "{value}"\n', encoding="utf-8"
        )
        side = folder / "side.txt"
        side.write_text("Be careful.\n", encoding="utf-8")
        mutate(side, rng)

    return setup


def _prompts(mutate: Callable[[Path], None]) -> Callable[[Path, random.Random], None]:
    def setup(folder: Path, rng: random.Random) -> None:
        shutil.copytree(REPO_ROOT / "prompts", folder / "prompts")
        (folder / "draftgate.toml").write_text(
            f'{BASE_CONFIG}[generate]\nprompts = "prompts"\n', encoding="utf-8"
        )
        mutate(folder / "prompts")

    return setup


def _break_template(prompts: Path) -> None:
    (prompts / "qa.j2").write_text("{% if chunk %}\nunclosed {{ chunk.text\n", encoding="utf-8")


def _undefined_in_template(prompts: Path) -> None:
    (prompts / "qa.j2").write_text("Draft kind: qa\n{{ no_such_variable }}\n", encoding="utf-8")


def _fifo_template(prompts: Path) -> None:
    _fifo(prompts / "system.j2")


def _drop_template(prompts: Path) -> None:
    (prompts / "clarify.j2").unlink()


def _no_prompts(prompts: Path) -> None:
    shutil.rmtree(prompts)


def _all(code: int) -> dict[str, int]:
    return dict.fromkeys(ALL, code)


def _only(code: int, *commands: str) -> dict[str, int]:
    return dict.fromkeys(commands, code)


def _gen(key: str, value: str) -> Callable[[Path, random.Random], None]:
    return _config(f"{BASE_CONFIG}[generate]\n{key} = {value}\n")


def _keymap(body: str) -> Callable[[Path, random.Random], None]:
    return _config(f"{BASE_CONFIG}[review.keymap]\n{body}\n")


def cases() -> list[Case]:
    bad = _all(BAD_INPUT)
    ledger_bad = _all(LEDGER)
    after_ingest = {**_all(LEDGER), "ingest": OK}
    scope_cmds = _only(BAD_INPUT, "dry-run", "generate")
    return [
        # -- draftgate.toml itself
        Case("config syntax error", _config('docs = "docs"\n[generate\nmodel = \n'), bad),
        Case(
            "config BOM + string for int",
            _config(f'\ufeff{BASE_CONFIG}[generate]\nconcurrency = "8"\n'),
            bad,
        ),
        Case("config binary", _config_binary, bad),
        Case(
            "config empty (defaults: no docs, no ledger)",
            _config(""),
            # ingest: no product_docs folder; generate: no scope file there; the rest: no ledger
            {**_all(LEDGER), **_only(BAD_INPUT, "ingest", "dry-run", "generate")},
        ),
        Case("config huge (4 MB, limit 1 MiB)", _config_huge, bad),
        Case("config unknown top-level key", _config(f'{BASE_CONFIG}ledgr = "x.sqlite"\n'), bad),
        Case("config unknown key in a section", _gen("modle", '"x"'), bad),
        Case("config unknown section", _config(f'{BASE_CONFIG}[reveiw]\nreviewer = "x"\n'), bad),
        Case("config section not a table", _config(f"{BASE_CONFIG}generate = 5\n"), bad),
        Case("config string for int", _gen("concurrency", '"8"'), bad),
        Case("config string for float", _gen("temperature", '"0.5"'), bad),
        Case("config bool for int", _gen("per_chunk", "true"), bad),
        Case("config zero concurrency", _gen("concurrency", "0"), bad),
        Case("config negative concurrency", _gen("concurrency", "-4"), bad),
        Case("config nan temperature", _gen("temperature", "nan"), bad),
        Case("config inf timeout", _gen("timeout_s", "inf"), bad),
        Case("config nan rpm", _gen("rpm", "nan"), bad),
        Case("config inf rpm", _gen("rpm", "inf"), bad),
        Case("config inf backoff", _gen("backoff_max_s", "inf"), bad),
        Case("config nan price", _gen("price_in_per_mtok", "nan"), bad),
        Case("config keymap not a table", _config(f'{BASE_CONFIG}[review]\nkeymap = "a"\n'), bad),
        Case("config missing (--config)", lambda f, r: None, bad, args=("--config", "nope.toml")),
        Case(
            "config is a folder", lambda f, r: (f / "conf").mkdir(), bad, args=("--config", "conf")
        ),
        Case(
            "config is a FIFO",
            lambda f, r: os.mkfifo(f / "conf.toml"),
            bad,
            args=("--config", "conf.toml"),
        ),
        Case(
            "config symlink loop",
            lambda f, r: _symlink_loop(f / "conf.toml"),
            bad,
            args=("--config", "conf.toml"),
        ),
        # -- keymap (read by review)
        Case(
            "keymap duplicate binding",
            _keymap('approve = "x"\nreject = "x"'),
            _only(BAD_INPUT, "review"),
        ),
        Case("keymap clashes with a default", _keymap('approve = "r"'), _only(BAD_INPUT, "review")),
        Case("keymap empty key", _keymap('approve = ""'), _only(BAD_INPUT, "review")),
        Case("keymap unknown binding", _keymap('aprove = "x"'), _only(BAD_INPUT, "review")),
        # -- the ledger
        Case(
            "ledger missing",
            _ledger_with(_ledger_missing),
            {k: v for k, v in after_ingest.items() if k != "ingest"},
        ),
        Case("ledger in a read-only folder", _ledger_in_read_only_folder, ledger_bad),
        Case(
            "ledger path through a file", _ledger_at("docs/getting-started.md/l.sqlite"), ledger_bad
        ),
        Case("ledger is a folder", _ledger_with(_ledger_dir), ledger_bad),
        Case("ledger symlink loop", _ledger_with(lambda p, r: _symlink_loop(p)), ledger_bad),
        Case("ledger is a FIFO", _ledger_with(lambda p, r: _fifo(p)), ledger_bad),
        Case("ledger text file", _replace_ledger(lambda r: b"just some notes\n" * 50), ledger_bad),
        Case("ledger zero bytes", _replace_ledger(lambda r: b""), ledger_bad),
        Case("ledger random bytes", _replace_ledger(lambda r: _random_bytes(r, 8192)), ledger_bad),
        Case("ledger of another app", _ledger_with(_other_app_sqlite), ledger_bad),
        Case("ledger from a newer version", _ledger_with(_newer_ledger), ledger_bad),
        *(
            Case(f"ledger truncated ({where})", _ledger_with(_truncate(where)), ledger_bad)
            for where in ("header", "first_page", "middle", "last_page")
        ),
        # -- a ledger that is not a file: gone when the command ends, so never "intact"
        Case("ledger :memory: (--ledger)", lambda f, r: None, ledger_bad, args=MEMORY_FLAG),
        Case(
            "ledger :memory: (DRAFTGATE_LEDGER)",
            lambda f, r: None,
            ledger_bad,
            env={"DRAFTGATE_LEDGER": ":memory:"},
        ),
        Case(
            "ledger SQLite URI mode=memory",
            _ledger_at("file:ledger.sqlite?mode=memory"),
            ledger_bad,
        ),
        Case(
            "ledger SQLite URI of the real file",
            lambda f, r: None,
            ledger_bad,
            env={"DRAFTGATE_LEDGER": "file:ledger.sqlite"},
        ),
        Case(
            "ledger read-only file",
            _ledger_with(_ledger_read_only),
            {**_only(LEDGER, *WRITERS), **_only(OK, "status", "verify", "dry-run")},
        ),
        Case(
            "ledger (existing) in a read-only folder",
            _existing_ledger_in_read_only_folder,
            {**_only(LEDGER, *WRITERS), **_only(OK, "status", "verify", "dry-run")},
        ),
        # -- the reviewer's name (review's own --reviewer comes first; the last one wins)
        *(
            Case(
                f"reviewer name {what}",
                lambda f, r: None,
                _only(BAD_INPUT, "review"),
                args=("--reviewer", name),
            )
            for what, name in NAMELESS_REVIEWERS
        ),
        # -- scope, guidelines, system prompt, prompts
        Case(
            "scope syntax error",
            _scope(_write("[product\nname=")),
            {**scope_cmds, "audit": OK},
            may_add=("outputs",),
        ),
        Case("scope wrong shape", _scope(_write('offers = "all"\n')), scope_cmds),
        Case("scope binary", _scope(_write(b"\x00\xff\xfe" * 300)), scope_cmds),
        Case("scope missing", _scope(_remove), scope_cmds),
        Case(
            "scope is a folder", _scope(_as_dir), {**scope_cmds, "audit": OK}, may_add=("outputs",)
        ),
        Case(
            "scope is a FIFO", _scope(_as_fifo), {**scope_cmds, "audit": OK}, may_add=("outputs",)
        ),
        *(
            Case(
                f"guidelines {what}",
                _side_file("guidelines", "review", "side.txt", how),
                _only(BAD_INPUT, "review"),
            )
            for what, how in (
                ("FIFO", _as_fifo),
                ("missing", _remove),
                ("folder", _as_dir),
                ("binary", _write(b"\xff\xfe\x00\x80" * 100)),
            )
        ),
        *(
            Case(
                f"system prompt {what}",
                _side_file("system_prompt", "export", "@side.txt", how),
                _only(BAD_INPUT, "export"),
            )
            for what, how in (
                ("FIFO", _as_fifo),
                ("missing", _remove),
                ("folder", _as_dir),
                ("binary", _write(b"\xff\xfe\x00\x80" * 100)),
            )
        ),
        *(
            Case(
                f"prompts {what}",
                _prompts(how),
                _only(BAD_INPUT, "dry-run", "generate"),
                env=CLOSED_ENDPOINT,
            )
            for what, how in (
                ("folder missing", _no_prompts),
                ("template broken", _break_template),
                ("template with an undefined variable", _undefined_in_template),
                ("template is a FIFO", _fifo_template),
                ("template missing", _drop_template),
            )
        ),
    ]


def trial_list() -> list[tuple[Case, str]]:
    return [(case, command) for case in cases() for command in case.expect]


SUITE_TRIALS = len(trial_list())
BENCH_TRIALS = 3 * SUITE_TRIALS


# ---- one trial ----------------------------------------------------------------------------

Snapshot = dict[str, tuple[str, int, int, str]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under ``root``: type, size, mtime and (regular files) content hash.
    Nothing is followed or opened but regular files, so a FIFO or a symlink loop is safe."""
    found: Snapshot = {}
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = os.path.relpath(entry.path, root)
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    found[rel] = ("dir", 0, 0, "")
                    stack.append(Path(entry.path))
                elif stat.S_ISREG(info.st_mode):
                    digest = hashlib.blake2b(Path(entry.path).read_bytes(), digest_size=16)
                    found[rel] = ("file", info.st_size, info.st_mtime_ns, digest.hexdigest())
                else:
                    kind = "link" if stat.S_ISLNK(info.st_mode) else "other"
                    found[rel] = (kind, 0, 0, "")
    return found


def warm_imports() -> None:
    """Everything any command imports lazily, so a forked child starts with it loaded."""
    import draftgate.cli  # noqa: F401
    import generator.batch  # noqa: F401
    import generator.client  # noqa: F401
    import generator.dedup  # noqa: F401
    import generator.pacing  # noqa: F401
    import generator.prompts  # noqa: F401
    import generator.runner  # noqa: F401
    import tui.app  # noqa: F401


def _child(folder: Path, argv: list[str], env: Mapping[str, str], out: Path, err: Path) -> None:
    """In the forked child: become a fresh `draftgate` run in ``folder``; never returns."""
    code = 1
    try:
        os.chdir(folder)
        for key in _SCRUBBED_ENV:
            os.environ.pop(key, None)
        os.environ.update(env)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, out), (2, err)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(target, fd)
            os.close(target)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        import tui.app
        from draftgate.cli import main

        def app_started(self: object, *args: object, **kwargs: object) -> None:
            print(APP_STARTED)

        tui.app.ReviewApp.run = app_started  # type: ignore[method-assign,assignment]
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(ExitCode.USAGE)
    except BaseException:  # noqa: BLE001 - an escaped exception is exactly what is counted
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(int(code))


def _spawn(folder: Path, argv: list[str], env: Mapping[str, str], out: Path, err: Path) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(folder, argv, env, out, err)
    return pid


def _reap(pid: int, deadline: float, out: Path, err: Path) -> CliRun | None:
    """Wait for the child; None if it was still running at ``deadline`` (it is killed)."""
    pause = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return CliRun(
        os.waitstatus_to_exitcode(status),
        out.read_text(encoding="utf-8", errors="replace"),
        err.read_text(encoding="utf-8", errors="replace"),
    )


def run_forked(folder: Path, argv: list[str], env: Mapping[str, str], logs: Path) -> CliRun | None:
    """``main(argv)`` in a forked child in ``folder``; None if it was still running at the
    timeout (it is killed)."""
    out, err = logs / "stdout", logs / "stderr"
    pid = _spawn(folder, argv, env, out, err)
    return _reap(pid, time.monotonic() + TRIAL_TIMEOUT_S, out, err)


def judge(
    outcome: Outcome,
    label: str,
    run: CliRun | None,
    expected: int,
    before: Snapshot,
    after: Snapshot,
    may_add: tuple[str, ...] = (),
) -> None:
    """Count what is wrong with one trial's run (at most one count per kind)."""
    if run is None:
        outcome.crash(f"{label}: still running after {TRIAL_TIMEOUT_S:.0f} s (hang)")
    elif expected == OK:
        why = run.crash([OK])
        if why is not None:
            outcome.crash(f"{label}: {why}")
    elif run.code == OK or APP_STARTED in run.stdout:
        outcome.miss(
            f"{label}: accepted (exit {run.code}, app started: {APP_STARTED in run.stdout})"
        )
    else:
        why = run.crash([expected])
        lines = [line for line in run.stderr.splitlines() if line.strip()]
        if why is None and (len(lines) != 1 or not lines[0].startswith("draftgate: error: ")):
            why = f"{len(lines)} stderr line(s), not one error line: {run.stderr[-300:]!r}"
        if why is not None:
            outcome.crash(f"{label}: {why}")
    changed = sorted(p for p in before if before[p] != after.get(p))
    added = sorted(
        p for p in after if p not in before and not any(p.startswith(m) for m in may_add)
    )
    if changed:
        outcome.lose(f"{label}: changed or removed {changed[:4]}")
    if added:
        outcome.miss(f"{label}: left new file(s) {added[:4]}")


@dataclass
class _Running:
    case: Case
    command: str
    folder: Path
    before: Snapshot
    pid: int
    deadline: float
    out: Path
    err: Path

    @property
    def label(self) -> str:
        return f"{self.case.name} x {self.command}"


def _start(
    outcome: Outcome, case: Case, command: str, template: Path, workdir: Path, seed: int, n: int
) -> _Running | None:
    """Set the trial up and fork its command; None if this machine cannot set it up."""
    folder = workdir / "trials" / f"t{n}"
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, folder, symlinks=True)
    _READ_ONLY.clear()
    try:
        case.setup(folder, random.Random(f"{seed}:{case.name}:{n}"))
        if not all(_is_read_only(p) for p in _READ_ONLY):
            outcome.findings.append(f"skipped: {case.name} x {command}: no read-only files here")
            _cleanup(folder)
            return None
        before = snapshot(folder)
    except BaseException:
        _cleanup(folder)
        raise
    out, err = logs / f"t{n}.out", logs / f"t{n}.err"
    pid = _spawn(folder, [*COMMANDS[command], *case.args], case.env, out, err)
    deadline = time.monotonic() + TRIAL_TIMEOUT_S
    return _Running(case, command, folder, before, pid, deadline, out, err)


def _finish(outcome: Outcome, running: _Running) -> None:
    try:
        run = _reap(running.pid, running.deadline, running.out, running.err)
        after = snapshot(running.folder)
        expected = running.case.expect[running.command]
        judge(outcome, running.label, run, expected, running.before, after, running.case.may_add)
        outcome.trials += 1
    finally:
        _cleanup(running.folder)
        for log in (running.out, running.err):
            log.unlink(missing_ok=True)


def _cleanup(folder: Path) -> None:
    _undo_read_only(folder)
    shutil.rmtree(folder, ignore_errors=True)


def run_trial(
    outcome: Outcome, case: Case, command: str, template: Path, workdir: Path, seed: int, n: int
) -> None:
    running = _start(outcome, case, command, template, workdir, seed, n)
    if running is not None:
        _finish(outcome, running)


def run(trials: int, workdir: Path, seed: int) -> Outcome:
    """Two trials in flight at once (this machine has two cores); each in its own folder."""
    warm_imports()
    outcome = Outcome(CATEGORY)
    template = build_template(workdir)
    plan = trial_list()
    in_flight: deque[_Running] = deque()
    try:
        for n in range(trials):
            case, command = plan[n % len(plan)]
            running = _start(outcome, case, command, template, workdir, seed, n)
            if running is not None:
                in_flight.append(running)
            if len(in_flight) >= IN_FLIGHT:
                _finish(outcome, in_flight.popleft())
        while in_flight:
            _finish(outcome, in_flight.popleft())
    finally:
        for running in in_flight:  # only after an error in this process: no orphans
            os.kill(running.pid, signal.SIGKILL)
            os.waitpid(running.pid, 0)
            _cleanup(running.folder)
    return outcome
