"""Set-up shared by the benchmarks: Django on a fresh database of their own."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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
