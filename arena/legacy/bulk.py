"""Inserting many new rows fast, for the import's bulk history.

``QuerySet.bulk_create`` compiles its SQL field by field for every batch; on the
audit-size arena that compilation took about two thirds of the import's time
(profiled). Rows that need no id back (trades, decisions, snapshots) go through
one ``executemany`` instead, with every value prepared by its own field exactly
as ``bulk_create`` prepares it (``pre_save`` then ``get_db_prep_save``), so the
stored values are the same.
"""
from __future__ import annotations

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

CHUNK = 2000


def insert(objects: Sequence[Model]) -> int:
    """INSERT ``objects`` (all of one model, not yet saved); returns how many."""
    if not objects:
        return 0
    # The wrapper itself, not the ``connection`` proxy: every value preparation asks it
    # for its ops, and through the proxy each ask costs a thread-local lookup.
    connection = connections[DEFAULT_DB_ALIAS]
    meta = objects[0]._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
           f"VALUES ({', '.join(['%s'] * len(fields))})")
    with connection.cursor() as cursor:
        for start in range(0, len(objects), CHUNK):
            rows = [[f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
                    for obj in objects[start:start + CHUNK]]
            cursor.executemany(sql, rows)
    return len(objects)
