"""The browser suite's fixtures: real servers (``servers.py``), one Chromium, and a guarded tab.

Started once for the package (``scope="package"``): redis-server, daphne, a Celery worker and
Chromium, all stopped when the package's last test ends, so the rest of the suite never runs
beside Playwright. Each test's rows are committed (``transactional_db``) for the servers to
see them, and wiped after it.

Playwright's sync API keeps an asyncio loop running in this thread while the browser lives.
Two things follow: Django's async-unsafe check would refuse the ORM here (the package sets
``DJANGO_ALLOW_ASYNC_UNSAFE`` for exactly as long as the browser lives), and an event's push
to the stream (``async_to_sync`` after commit) cannot run in a thread with a running loop, so
every write whose events a page must see goes through ``orm()``, which runs it in a thread of
its own (``tests/web/e2e/data.py`` holds those writes).
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from tests.arena.fake_llm import FakeLLM, Reply
from tests.web.e2e.harness import chromium_path, in_ci
from tests.web.e2e.servers import Servers, database_url, running
from tests.web.e2e.tabs import Arena


@pytest.fixture(scope="package")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if in_ci():
            pytest.fail("CI has no Chromium for the browser suite: install Debian's chromium "
                        "(.ci/run does in its System packages stage) or set ARENA_CHROMIUM.")
        pytest.skip("no Chromium (/usr/bin/chromium, chromium on PATH or ARENA_CHROMIUM): "
                    "the browser suite needs one; `apt-get install chromium` brings it")
    return path


@pytest.fixture(scope="package")
def servers(chromium: str, django_db_setup, tmp_path_factory) -> Iterator[Servers]:
    """daphne, a Celery worker and redis-server on loopback, on the test database."""
    workdir = tmp_path_factory.mktemp("e2e-servers")
    with running(workdir, database_url=database_url(connection.settings_dict),
                 secret_key=settings.SECRET_KEY) as started:
        yield started


@pytest.fixture(scope="package")
def stream_layer(servers: Servers) -> Iterator[None]:
    """This process pushes its events through the servers' Redis, as the worker does."""
    from arena.settings import channel_layer_host

    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                          "CONFIG": {"hosts": [channel_layer_host(servers.redis_url, 50)]}}}
    with override_settings(CHANNEL_LAYERS=layers):
        yield


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # see the module docstring
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                yield launched
            finally:
                launched.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def fake_llm() -> Iterator[FakeLLM]:
    """The model every e2e bot talks to (an OpenAI-compatible server in this process)."""
    with FakeLLM() as server:
        yield server


@pytest.fixture
def fake(fake_llm: FakeLLM) -> Iterator[FakeLLM]:
    """``fake_llm`` answering HOLD unless a test scripts its bot's model."""
    fake_llm.default = Reply(text='[{"action": "HOLD", "reasoning": "waiting"}]')
    fake_llm.handler = None
    yield fake_llm
    fake_llm.handler = None


@pytest.fixture
def arena(servers: Servers, browser, stream_layer, transactional_db) -> Iterator[Arena]:
    """Tabs on the running arena; at the end, every tab's problems fail the test."""
    opened = Arena(servers=servers, browser=browser)
    try:
        yield opened
    finally:
        opened.close()
    opened.assert_clean()
    servers.check_alive()
