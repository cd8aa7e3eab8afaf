"""End to end, with a real Redis and a real daphne: an idle /ws/arena/ socket stays open.

channels-redis waits for messages with a 5 s blocking read; with redis-py's default 5 s
socket timeout that read timed out and daphne closed every quiet socket with 1011. Here a
socket idles past that (and past daphne's ping timeout), gets heartbeats meanwhile, and
then still receives an event published through Redis from another process.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from channels_redis.core import RedisChannelLayer

from arena.events import PUBLIC_GROUP
from arena.settings import channel_layer_host
from tests.arena.test_turns_claims import database_url

websockets_client = pytest.importorskip("websockets.asyncio.client")
from websockets.exceptions import ConnectionClosed  # noqa: E402

IDLE_SECONDS = 8  # longer than channels-redis's 5 s BZPOPMIN and daphne's 3 s ping timeout here


@pytest.fixture
def daphne_env() -> dict[str, str]:
    return {"DATABASE_URL": database_url()}  # the test's database: the arena's settings


@pytest.mark.django_db(transaction=True)
def test_idle_socket_stays_open_and_still_gets_events(daphne, redis_url):
    port, stderr_path = daphne

    async def scenario() -> tuple[list[dict], dict | None, str | None]:
        messages: list[dict] = []
        closed: str | None = None
        probe: dict | None = None
        layer = RedisChannelLayer(hosts=[channel_layer_host(redis_url)])
        # No client-side pings: daphne's pings (answered automatically) keep it honest.
        async with websockets_client.connect(
            f"ws://127.0.0.1:{port}/ws/arena/", origin="http://localhost", ping_interval=None
        ) as ws:
            loop = asyncio.get_running_loop()
            idle_until = loop.time() + IDLE_SECONDS
            try:
                while (left := idle_until - loop.time()) > 0:
                    try:
                        messages.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
                    except TimeoutError:
                        break
                probe_text = json.dumps({"seq": None, "type": "probe", "data": {}})
                await layer.group_send(  # as ledger.events pushes: frames encoded once
                    PUBLIC_GROUP, {"type": "arena.events", "frames": [{"seq": None, "text": probe_text}]},
                )
                probe_until = loop.time() + 10
                while probe is None and (left := probe_until - loop.time()) > 0:
                    try:
                        message = json.loads(await asyncio.wait_for(ws.recv(), left))
                    except TimeoutError:
                        break
                    if message.get("type") == "probe":
                        probe = message
                    else:
                        messages.append(message)
            except ConnectionClosed as error:
                closed = f"closed: code={error.rcvd.code if error.rcvd else None} {error}"
            finally:
                await layer.close_pools()
        return messages, probe, closed

    messages, probe, closed = asyncio.run(scenario())
    log = stderr_path.read_text(errors="replace")

    assert closed is None, f"{closed}\n--- daphne stderr ---\n{log}"
    assert messages[0] == {"type": "hello", "authenticated": False}
    heartbeats = [m for m in messages if m.get("type") == "heartbeat"]
    assert len(heartbeats) >= 2, messages
    assert all(m["seq"] is None and set(m["data"]) == {"at"} for m in heartbeats)
    assert probe == {"seq": None, "type": "probe", "data": {}}
    bad = [line for line in log.splitlines()
           if "Traceback" in line or "TimeoutError" in line or " ERROR " in line]
    assert not bad, log


def test_a_burst_of_sockets_joining_at_once_does_not_run_out_of_redis_connections(redis_url):
    """1,000 browsers reconnecting after a restart: each join is a Redis command in flight.
    redis-py's default pool of 100 raised MaxConnectionsError (HTTP 500 on the handshake)."""
    from redis.exceptions import MaxConnectionsError

    async def joins(layer: RedisChannelLayer, count: int) -> None:
        channels = [await layer.new_channel() for _ in range(count)]
        await asyncio.gather(*(layer.group_add(PUBLIC_GROUP, channel) for channel in channels))
        await asyncio.gather(*(layer.group_discard(PUBLIC_GROUP, channel) for channel in channels))
        await layer.flush()

    asyncio.run(joins(RedisChannelLayer(hosts=[channel_layer_host(redis_url)]), 1000))
    default_pool = RedisChannelLayer(hosts=[channel_layer_host(redis_url, max_connections=100)])
    with pytest.raises(MaxConnectionsError):  # what redis-py's default pool did with the same burst
        asyncio.run(joins(default_pool, 1000))
