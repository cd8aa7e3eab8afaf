"""End to end, with a real Redis and a real daphne: a turn run by ``manage.py run_turn`` in
another process reaches a socket through Redis, and a socket that connects afterwards
replays it from the outbox (its owner's events only to its owner)."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from ledger.models import Event
from tests.arena.test_turns_claims import database_url, price_markets

websockets_client = pytest.importorskip("websockets.asyncio.client")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def daphne_env() -> dict[str, str]:
    return {"DATABASE_URL": database_url()}  # the test's database: sessions, the outbox


def cookie_of(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def read_until(ws, wanted: str, seconds: float) -> list[dict]:
    """Messages until one of type ``wanted`` (heartbeats left out)."""
    messages: list[dict] = []
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if message.get("type") != "heartbeat":
            messages.append(message)
        if message.get("type") == wanted:
            break
    return messages


@pytest.mark.django_db(transaction=True)
def test_a_turn_in_another_process_reaches_sockets_through_redis_and_is_replayed(
        daphne, redis_url, bot, user):
    port, stderr_path = daphne
    price_markets()
    start = Event.objects.order_by("seq").values_list("seq", flat=True).last() or 0  # the bot's creation
    url = f"ws://127.0.0.1:{port}/ws/arena/"
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(), "REDIS_URL": redis_url,
           "DJANGO_SETTINGS_MODULE": "arena.settings", "LOG_LEVEL": "warning"}

    async def live() -> list[dict]:
        async with websockets_client.connect(url, origin="http://localhost") as spectator:
            assert json.loads(await spectator.recv())["type"] == "hello"
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "manage.py", "run_turn", "--no-refresh", cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            messages = await read_until(spectator, "turn_finished", 90)
            _, err = await worker.communicate()
            assert worker.returncode == 0, err.decode()
            return messages

    seen = asyncio.run(live())
    log = stderr_path.read_text(errors="replace")

    assert [m["type"] for m in seen] == ["turn_started", "turn_finished"], (seen, log)
    assert seen[0]["seq"] < seen[1]["seq"] and seen[1]["data"]["bots"]["finished"] == 1
    stored = list(Event.objects.filter(seq__gt=start).order_by("seq"))
    assert {"turn_started", "bot_turn", "decision_recorded", "turn_finished"} <= {e.type for e in stored}

    async def replayed(cookie: str | None) -> list[dict]:
        headers = {"Cookie": cookie} if cookie else None
        async with websockets_client.connect(f"{url}?since={start}", origin="http://localhost",
                                             additional_headers=headers) as ws:
            return await read_until(ws, "turn_finished", 10)

    spectator_replay = asyncio.run(replayed(None))
    owner_replay = asyncio.run(replayed(cookie_of(user)))

    assert spectator_replay[0] == {"type": "hello", "authenticated": False}
    assert spectator_replay[1:] == seen, "a late spectator gets exactly what a live one got"
    assert owner_replay[0] == {"type": "hello", "authenticated": True}
    assert [m["seq"] for m in owner_replay[1:]] == [e.seq for e in stored], "the owner: every event"
    decision = next(m for m in owner_replay if m["type"] == "decision_recorded")
    assert decision["data"]["bot"] == bot.pk and decision["data"]["bot_name"] == bot.name
