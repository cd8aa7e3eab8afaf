"""Opening a legacy file and reading it without loading it whole.

PATH is the legacy ``arena.db`` (SQLite, opened read-only: the legacy file is never
written) or a JSON file holding the ``arena_state`` blob. The blob is streamed with
ijson one bot at a time — from the file, or from the SQLite row through incremental
blob I/O — so memory is bounded by the largest bot, not by the file. Table history
is read per bot through an index: the legacy tables have none on ``bot_id``, so a
TEMP table maps each bot to its rowids once (the legacy file stays untouched).
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import ijson

from arena.legacy.errors import LegacyError
from arena.legacy.values import Where

SQLITE_MAGIC = b"SQLite format 3\x00"
HISTORY_TABLES = ("trades", "positions", "bot_decisions", "bot_state_snapshots")
CONFIG_TABLES = ("users", "llm_providers", "bots", "wallets", "system_settings")
BATCH = 2000

Progress = Callable[[int, int], None]


def _first_line(exc: Exception) -> str:
    """The parser's message without the excerpt it draws under it (yajl gives bytes)."""
    message = exc.args[0] if exc.args else ""
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class _Counting:
    """A binary stream that counts what it hands to the parser, for the progress bar."""

    def __init__(self, raw: Any, total: int) -> None:
        self.raw = raw
        self.total = total
        self.done = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.done += len(data)
        return data


class LegacySource:
    """One legacy file. Use as a context manager; every read error is a ``LegacyError``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(path)
        self.kind = self._detect()
        self.connection: sqlite3.Connection | None = None
        self.tables: set[str] = set()
        self.blob_total = 0
        self.updated_at: datetime | None = None
        self._stream: _Counting | None = None
        self._handle: IO[bytes] | Any = None
        self._indexed: set[str] = set()

    # --- opening -----------------------------------------------------------------------

    def _detect(self) -> str:
        where = Where(self.name, "")
        if not self.path.exists():
            raise where.error("no such file")
        if not self.path.is_file():
            raise where.error("not a file")
        try:
            with self.path.open("rb") as handle:
                head = handle.read(4096)
        except OSError as exc:
            raise where.error(f"cannot be read ({exc.strerror})") from None
        if head.startswith(SQLITE_MAGIC):
            return "sqlite"
        if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
            return "json"
        raise where.error(
            "is neither a legacy SQLite database (arena.db) nor a JSON file holding the "
            "arena_state blob (it should start with '{')"
        )

    def __enter__(self) -> LegacySource:
        if self.kind == "sqlite":
            self._open_sqlite()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _open_sqlite(self) -> None:
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            self.connection = sqlite3.connect(uri, uri=True)
            self.connection.row_factory = sqlite3.Row
            names = self.connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            self.tables = {row[0] for row in names}
        except sqlite3.DatabaseError as exc:
            raise LegacyError(self.name, "", f"cannot be read as SQLite ({exc})") from None
        if not self.tables & {"arena_state", "bots"}:
            raise LegacyError(
                self.name, "", "is SQLite but not a legacy arena database (no arena_state or bots table)"
            )

    def _query(self, table: str, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        if self.connection is None:
            raise RuntimeError("the source is not open")
        try:
            return self.connection.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            raise LegacyError(self.name, f"table {table}", f"cannot be read ({exc})") from None

    def rows(self, table: str, where_sql: str = "", params: tuple = ()) -> list[dict[str, Any]]:
        """All rows of a (small, configuration) table; none if the file lacks the table."""
        if table not in self.tables:
            return []
        return [dict(row) for row in self._query(table, f"SELECT * FROM {table} {where_sql}", params)]

    @property
    def missing_tables(self) -> list[str]:
        if self.kind != "sqlite":
            return []
        return [t for t in (*CONFIG_TABLES, *HISTORY_TABLES, "arena_state") if t not in self.tables]

    # --- configuration -----------------------------------------------------------------

    def bot_rows(self) -> list[dict[str, Any]]:
        """The bots table without its avatars (read one at a time with ``avatar``)."""
        if "bots" not in self.tables:
            return []
        columns = [row[1] for row in self._query("bots", "PRAGMA table_info(bots)")]
        wanted = ", ".join(f'"{c}"' for c in columns if c != "avatar_image")
        return [dict(row) for row in self._query("bots", f"SELECT {wanted} FROM bots ORDER BY rowid")]

    def avatar(self, bot_id: str) -> str | None:
        if "bots" not in self.tables:
            return None
        columns = {row[1] for row in self._query("bots", "PRAGMA table_info(bots)")}
        if "avatar_image" not in columns:
            return None
        row = self._query("bots", "SELECT avatar_image FROM bots WHERE id = ?", (bot_id,)).fetchone()
        return row[0] if row else None

    # --- the blob ----------------------------------------------------------------------

    def blob_bots(self) -> Iterator[tuple[int, Any]]:
        """Each element of the blob's ``bots`` list, streamed, with its index."""
        stream = self._open_blob()
        if stream is None:
            return
        index = -1
        try:
            for index, item in enumerate(ijson.items(stream, "bots.item")):
                yield index, item
        except ijson.JSONError as exc:
            record = f"the arena_state blob after bots[{index}]" if index >= 0 else "the arena_state blob"
            detail = _first_line(exc)
            raise LegacyError(
                self.name, record, f"is not complete, valid JSON (truncated or corrupt: {detail})"
            ) from None

    def blob_progress(self) -> tuple[int, int]:
        if self._stream is None:
            return 0, 0
        return self._stream.done, self._stream.total

    def _open_blob(self) -> _Counting | None:
        if self.kind == "json":
            self._handle = self.path.open("rb")
            if self._handle.read(3) != b"\xef\xbb\xbf":  # a byte-order mark the parser would refuse
                self._handle.seek(0)
            self.blob_total = self.path.stat().st_size
        else:
            if "arena_state" not in self.tables:
                return None
            row = self._query(
                "arena_state", "SELECT rowid, updated_at, length(state) FROM arena_state ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None or not row[2]:
                return None
            if row[1] is not None:
                self.updated_at = Where(self.name, "table arena_state").moment(row[1], "updated_at")
            assert self.connection is not None
            self._handle = self.connection.blobopen("arena_state", "state", row[0], readonly=True)
            self.blob_total = len(self._handle)
        self._stream = _Counting(self._handle, self.blob_total)
        return self._stream

    # --- history tables, per bot -------------------------------------------------------

    def _bot_index(self, table: str) -> None:
        """A TEMP map bot_id → rowid (unless the legacy file already indexes bot_id)."""
        if table in self._indexed:
            return
        indexes = self._query(table, f"PRAGMA index_list({table})").fetchall()
        for index in indexes:
            first = self._query(table, f"PRAGMA index_info({index[1]})").fetchone()
            if first is not None and first[2] == "bot_id":
                self._indexed.add(table)
                return
        self._query(table, f"CREATE TEMP TABLE map_{table} AS SELECT bot_id, rowid AS rid FROM {table}")
        self._query(table, f"CREATE INDEX temp.map_{table}_idx ON map_{table} (bot_id, rid)")
        self._indexed.add(table)

    def history(self, table: str, bot_id: str) -> Iterator[list[dict[str, Any]]]:
        """One bot's rows of a history table, in batches, oldest row first."""
        if table not in self.tables:
            return
        self._bot_index(table)
        if self._query(table, "SELECT name FROM sqlite_temp_master WHERE name = ?",
                       (f"map_{table}",)).fetchone():
            sql = (f"SELECT t.* FROM {table} t WHERE t.rowid IN "
                   f"(SELECT rid FROM map_{table} WHERE bot_id = ?) ORDER BY t.rowid")
        else:
            sql = f"SELECT * FROM {table} WHERE bot_id = ? ORDER BY rowid"
        cursor = self._query(table, sql, (bot_id,))
        while True:
            try:
                batch = cursor.fetchmany(BATCH)
            except sqlite3.DatabaseError as exc:
                raise LegacyError(self.name, f"table {table}", f"cannot be read ({exc})") from None
            if not batch:
                return
            yield [dict(row) for row in batch]

    def history_bot_ids(self) -> dict[str, int]:
        """Every bot id the history tables mention, with its row count."""
        counts: dict[str, int] = {}
        for table in HISTORY_TABLES:
            if table in self.tables:
                for bot_id, count in self._query(
                    table, f"SELECT bot_id, count(*) FROM {table} GROUP BY bot_id"
                ):
                    counts[bot_id] = counts.get(bot_id, 0) + count
        return counts
