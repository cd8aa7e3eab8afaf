"""Set-up shared by the benchmarks: Django on a fresh database of their own."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup_django(database_url: str | None, *, prefix: str = "arena-bench-") -> Path:
    """Configure Django on a new SQLite file in a temporary directory, or on the
    (scratch!) database at ``database_url``, migrate it, and return the directory."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["DEBUG"] = "1"
    os.environ["ARENA_VAR_DIR"] = str(workdir)
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
    os.environ["LOG_LEVEL"] = "warning"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return workdir


@contextlib.contextmanager
def scratch_django(*, prefix: str = "arena-bench-", keep: bool = False) -> Iterator[str]:
    """Django on a scratch database that is dropped on the way out, whatever happens.

    ``DATABASE_URL`` (or its alias ``BENCH_DATABASE_URL``) is read the way
    ``arena/settings.py`` reads it. Unset or ``sqlite://``: a new SQLite file in a
    temporary directory (the named file is never touched). ``postgres://``: a database
    ``<name>_bench_<pid>`` created beside the named one — or, without CREATEDB, a schema
    ``bench_<pid>`` in it — migrated, and dropped at the end, also on an error, Ctrl-C or
    SIGTERM, so the bench runs again and again against one server. DEBUG is off, so
    there is no query log to slow the figures. Yields the database's vendor. ``keep``
    leaves the database (and the SQLite file) in place and prints its URL, to be measured
    again (``bench/admin.py --reuse URL``).
    """
    source = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    drop = None
    try:
        if source.startswith(("postgres://", "postgresql://", "pgsql://")):
            url, drop = _postgres_scratch(source)
        else:
            url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        _configure(url, workdir, debug=False)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from django.db import connection

        yield connection.vendor
    finally:
        try:
            if "django.db" in sys.modules:
                from django.db import connections

                connections.close_all()
            if keep:
                print(f"kept: {os.environ['DATABASE_URL']}", file=sys.stderr)
            elif drop is not None:
                drop()
        finally:
            signal.signal(signal.SIGTERM, previous)
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def kept_django(url: str) -> Iterator[str]:
    """Django on a database ``scratch_django(keep=True)`` left, migrated again (so new
    indexes are built on its rows) and left in place. Yields the database's vendor."""
    workdir = Path(tempfile.mkdtemp(prefix="arena-bench-kept-"))
    _configure(url, workdir, debug=False)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=1)
    from django.db import connection, connections

    try:
        yield connection.vendor
    finally:
        connections.close_all()
        shutil.rmtree(workdir, ignore_errors=True)


def _configure(url: str, workdir: Path, *, debug: bool) -> None:
    # Production settings when debug is off, with throwaway keys (as bench/migrate.py).
    os.environ.update({
        "DEBUG": "1" if debug else "0", "ARENA_VAR_DIR": str(workdir), "DATABASE_URL": url,
        "LOG_LEVEL": "warning", "SECRET_KEY": "bench-" + "k3y-" * 16,
        "ENCRYPTION_KEY": "bXlfYmVuY2hfZW5jcnlwdGlvbl9rZXlfMzJfYnl0ZXM=",
    })
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that drop the scratch database


def _postgres_scratch(url: str) -> tuple[str, Callable[[], None]]:
    """Create a scratch database beside the one ``url`` names (or a scratch schema in it);
    return its URL and the function that drops it."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    scratch = f"{name[:40]}_bench_{os.getpid()}"
    admin = urlunsplit(("postgresql", *parts[1:]))
    with psycopg.connect(admin, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        except psycopg.errors.InsufficientPrivilege:
            schema = f"bench_{os.getpid()}"
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            query = "&".join(filter(None, [parts.query, f"options=-csearch_path%3D{schema}"]))

            def drop_schema() -> None:
                with psycopg.connect(admin, autocommit=True) as c:
                    c.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
                print(f"scratch schema {schema} dropped", file=sys.stderr)

            return urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")), drop_schema

    def drop_database() -> None:
        with psycopg.connect(admin, autocommit=True) as c:
            force = " WITH (FORCE)" if c.info.server_version >= 130000 else ""
            c.execute(sql.SQL("DROP DATABASE IF EXISTS {}" + force).format(sql.Identifier(scratch)))
        print(f"scratch database {scratch} dropped", file=sys.stderr)

    return urlunsplit((parts.scheme, parts.netloc, f"/{scratch}", parts.query, "")), drop_database
