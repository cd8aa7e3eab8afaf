"""Dropping constraints inside a test's transaction, to write the rows a restore
without constraints could contain. The test's rollback brings them back."""
from __future__ import annotations

from django.db import connection


def drop_constraints(table: str, *names: str) -> None:
    """Drop the named constraints of ``table`` (PostgreSQL: DDL is transactional).

    Django's foreign keys are DEFERRABLE INITIALLY DEFERRED, and PostgreSQL refuses
    ALTER TABLE while deferred checks are pending, so they are run first.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for name in names:
            cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
