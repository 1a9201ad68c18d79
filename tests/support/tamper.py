"""Tampering with a ledger file as someone who holds it would: raw SQL, no Draftgate checks.

``RawLedger`` opens the file with plain ``sqlite3`` (no migrations, no foreign keys). Its
``unguarded`` context drops a table's guard triggers for the edit and puts them back exactly as
they were after it, so what is left is a changed row and an intact schema: the kind of edit the
content hashes, not the guards, must catch. Byte damage goes through ``corrupt_page`` and
``truncate_file``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PAGE_HEADER_SKIP = 100  # page 1 starts with the 100-byte database header


class RawLedger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.row_factory = sqlite3.Row

    def __enter__(self) -> RawLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # Leave no -wal beside the file: a copy of the folder is then the whole ledger.
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement as a tamperer who hides their tracks runs it: a write runs with every
        guard trigger dropped, and the guards are put back after it, so verify() reports the
        edit itself rather than a missing guard."""
        if sql.lstrip().upper().startswith("SELECT"):
            return self.db.execute(sql, params)
        tables = [
            r[0]
            for r in self.rows("SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'")
        ]
        with self.unguarded(*tables):
            return self.db.execute(sql, params)

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.db.execute(sql, params).rowcount

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def triggers_on(self, table: str) -> list[tuple[str, str]]:
        return [
            (r[0], r[1])
            for r in self.rows(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                (table,),
            )
        ]

    @contextmanager
    def unguarded(self, *tables: str) -> Iterator[RawLedger]:
        """Drop the tables' triggers for the edit, then re-create them from their own SQL."""
        saved = [t for table in tables for t in self.triggers_on(table)]
        for name, _ in saved:
            self.db.execute(f'DROP TRIGGER "{name}"')
        try:
            yield self
        finally:
            for _, sql in saved:
                self.db.execute(sql)

    def replace_schema_object(self, kind: str, name: str, new_sql: str) -> None:
        """Drop a view/trigger/index and create ``new_sql`` in its place."""
        self.db.execute(f'DROP {kind.upper()} "{name}"')
        self.db.execute(new_sql)


def corrupt_page(path: Path, page: int, *, offset: int = 0, length: int = 64) -> None:
    """Overwrite ``length`` bytes of one page (1-based) with 0xA5."""
    with open(path, "r+b") as handle:
        header = handle.read(PAGE_HEADER_SKIP)
        page_size = int.from_bytes(header[16:18], "big") or 65536
        start = (page - 1) * page_size + (PAGE_HEADER_SKIP if page == 1 else 0) + offset
        handle.seek(start)
        handle.write(b"\xa5" * length)


def page_count(path: Path) -> int:
    with open(path, "rb") as handle:
        header = handle.read(PAGE_HEADER_SKIP)
    page_size = int.from_bytes(header[16:18], "big") or 65536
    return path.stat().st_size // page_size


def truncate_file(path: Path, fraction: float) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(int(size * fraction))
