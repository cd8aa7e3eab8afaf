"""Migration operations for tables that hold millions of rows on a live arena.

``AddIndexOnline`` is ``AddIndex`` that on PostgreSQL builds the index with
``CREATE INDEX CONCURRENTLY``: trades, journal entries and snapshots keep being written
while it is built (a plain ``CREATE INDEX`` blocks every insert into the table until it
ends). Elsewhere (SQLite) it is a plain ``AddIndex``. PostgreSQL refuses a concurrent build
inside a transaction, so a migration using it sets ``atomic = False``; a concurrent build
that fails leaves an invalid index behind, which the operation drops before building it
again, so a failed migration can simply be run again.
"""
from __future__ import annotations

from typing import Any

from django.db import NotSupportedError
from django.db.migrations.operations import AddIndex


class AddIndexOnline(AddIndex):
    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            _outside_a_transaction(schema_editor, self)
            # A build that failed half-way left an INVALID index of this name: drop it first.
            name = schema_editor.quote_name(self.index.name)
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            schema_editor = _Concurrently(schema_editor)
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            _outside_a_transaction(schema_editor, self)
            schema_editor = _Concurrently(schema_editor)
        super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{super().describe()} (concurrently on PostgreSQL)"


class _Concurrently:
    """A PostgreSQL schema editor whose index builds and drops are concurrent."""

    def __init__(self, editor: Any) -> None:
        self._editor = editor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._editor, name)

    def add_index(self, model: Any, index: Any) -> None:
        self._editor.add_index(model, index, concurrently=True)

    def remove_index(self, model: Any, index: Any) -> None:
        self._editor.remove_index(model, index, concurrently=True)


def _outside_a_transaction(schema_editor: Any, operation: AddIndex) -> None:
    if schema_editor.connection.in_atomic_block:
        raise NotSupportedError(
            f"{operation.index.name}: an index built concurrently cannot be built in a transaction; "
            "set atomic = False on the migration."
        )
