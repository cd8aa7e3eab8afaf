"""Settings for the test suite: the real database from DATABASE_URL (SQLite or
PostgreSQL), eager Celery, the in-memory channel layer, a fast password hasher, and an
offline host resolver for the outbound URL checks."""
from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "1")
# Outbound URLs are checked as in production, but their hosts resolve from a table, not DNS
# (tests/offline_dns.py). Set in the environment, not only here, so that the processes the
# tests start (workers, a manage.py shell) resolve offline too.
os.environ["ARENA_OUTBOUND_RESOLVER"] = "tests.offline_dns.resolve"

from arena.settings import *  # noqa: E402,F403

ARENA_EXCHANGE_HTTP_HOSTS = ["127.0.0.1"]  # the fake exchange (tests/fakes/exchange.py)
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (WhiteNoise warns when it is missing)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
STORAGES = {  # noqa: F405
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: tests start other processes against the same database.
    # One per run, so two runs in one checkout never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
