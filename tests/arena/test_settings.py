"""Settings refuse bad environment values at start-up, naming the variable; a
production environment passes ``check --deploy``; the SQLite default is WAL with
IMMEDIATE transactions.

Each case starts a fresh interpreter, because settings are read once per process.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from arena.settings import DEV_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
SETUP = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'arena.settings'; django.setup()"
)
# Everything settings read, removed so the developer's or CI's environment
# cannot make a case pass or fail by accident.
READ_BY_SETTINGS = (
    "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "ENCRYPTION_KEY", "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS", "DATABASE_URL", "DATABASE_CONN_MAX_AGE", "REDIS_URL",
    "REAL_TRADING_ENABLED", "ARENA_MARKET_FEED", "ARENA_SIM_SPEED", "ARENA_VAR_DIR",
    "CELERY_TASK_TIME_LIMIT", "CELERY_TASK_SOFT_TIME_LIMIT", "LOG_LEVEL", "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
)
STRONG_SECRET_KEY = secrets.token_urlsafe(50)
FERNET_KEY = Fernet.generate_key().decode()


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` in the project root with only ``env`` set among the
    variables settings read (and ARENA_VAR_DIR in ``tmp_path``)."""
    environ = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    environ.update(ARENA_VAR_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )


def setup_django(tmp_path: Path, code: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return run(["-c", f"{SETUP}\n{code}"], tmp_path, **env)


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": STRONG_SECRET_KEY,
    "ENCRYPTION_KEY": FERNET_KEY,
    "ALLOWED_HOSTS": "arena.example.com",
}

BAD_ENVIRONMENTS = {
    "DEBUG not a boolean": ("DEBUG", {"DEBUG": "maybe"}),
    "no SECRET_KEY without DEBUG": ("SECRET_KEY", {"DEBUG": "0", "ENCRYPTION_KEY": FERNET_KEY}),
    "short SECRET_KEY": (
        "SECRET_KEY", {"DEBUG": "0", "SECRET_KEY": "short-key", "ENCRYPTION_KEY": FERNET_KEY}
    ),
    "no ENCRYPTION_KEY without DEBUG": ("ENCRYPTION_KEY", {"DEBUG": "0", "SECRET_KEY": STRONG_SECRET_KEY}),
    "ENCRYPTION_KEY not Fernet": ("ENCRYPTION_KEY", {"DEBUG": "1", "ENCRYPTION_KEY": "notakey"}),
    "DATABASE_URL MySQL": ("DATABASE_URL", {"DEBUG": "1", "DATABASE_URL": "mysql://x/y"}),
    "DATABASE_URL garbage": ("DATABASE_URL", {"DEBUG": "1", "DATABASE_URL": "garbage"}),
    "REDIS_URL over HTTP": ("REDIS_URL", {"DEBUG": "1", "REDIS_URL": "http://x"}),
    "unknown market feed": ("ARENA_MARKET_FEED", {"DEBUG": "1", "ARENA_MARKET_FEED": "kraken"}),
    "zero sim speed": ("ARENA_SIM_SPEED", {"DEBUG": "1", "ARENA_SIM_SPEED": "0"}),
    "sim speed not a number": ("ARENA_SIM_SPEED", {"DEBUG": "1", "ARENA_SIM_SPEED": "abc"}),
    "time limit not a number": ("CELERY_TASK_TIME_LIMIT", {"DEBUG": "1", "CELERY_TASK_TIME_LIMIT": "ten"}),
    "unknown log level": ("LOG_LEVEL", {"DEBUG": "1", "LOG_LEVEL": "loud"}),
}


@pytest.mark.parametrize("case", list(BAD_ENVIRONMENTS))
def test_bad_environment_stops_start_up_naming_the_variable(tmp_path, case):
    variable, env = BAD_ENVIRONMENTS[case]

    result = setup_django(tmp_path, **env)

    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    assert variable in last_line


def test_debug_alone_starts(tmp_path):
    result = setup_django(tmp_path, "from django.conf import settings; print(settings.DEBUG)", DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_production_environment_passes_deploy_checks(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], tmp_path, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stderr


def test_production_without_debug_is_refused_with_the_development_key(tmp_path):
    # The key DEBUG falls back to must never be accepted in production.
    result = setup_django(tmp_path, **{**PRODUCTION, "SECRET_KEY": DEV_SECRET_KEY})

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY" in result.stderr


def test_sqlite_default_is_wal_with_immediate_transactions(tmp_path):
    code = (
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('PRAGMA journal_mode')\n"
        "    print(cursor.fetchone()[0])\n"
        "    cursor.execute('PRAGMA busy_timeout')\n"
        "    print(cursor.fetchone()[0])\n"
        "print(settings.DATABASES['default']['OPTIONS']['transaction_mode'])\n"
        "print(settings.DATABASES['default']['NAME'])\n"
    )

    result = setup_django(tmp_path, code, DEBUG="1")

    assert result.returncode == 0, result.stderr
    journal_mode, busy_timeout, transaction_mode, name = result.stdout.split()
    assert journal_mode == "wal"
    assert int(busy_timeout) == 20_000  # writers queue for 20 s rather than fail at once
    assert transaction_mode == "IMMEDIATE"
    assert Path(name) == tmp_path / "arena.sqlite3"
