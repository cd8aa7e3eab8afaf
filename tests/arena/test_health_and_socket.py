"""The public health probe, the login-only API schema, and the live WebSocket:
spectators get public events only, a signed-in user also gets their own."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client, override_settings

from arena.asgi import application
from arena.events import Event, publish

ORIGIN = (b"origin", b"http://localhost")


# HTTP ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_health_is_public_and_ok(client):
    response = client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_schema_needs_login(client, user):
    assert client.get("/api/schema/").status_code in (401, 403)

    client.force_login(user)
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"openapi" in response.content
    assert b"/api/health/" in response.content


# WebSocket -----------------------------------------------------------------------------


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async scenario from a sync test (no pytest-asyncio here). Sync code
    inside it, such as ``publish``, runs on this thread via ``sync_to_async``."""
    async_to_sync(scenario)()


def socket(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/arena/", headers=[ORIGIN, *headers])


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())


PRICE: Event = {"type": "market.prices", "data": {"BTCUSDT": "50000"}}
PRIVATE: Event = {"type": "bot.turn_failed", "data": {"bot_id": 1, "error": "provider said no"}}


@pytest.mark.django_db(transaction=True)
def test_anonymous_socket_gets_hello_and_public_events():
    async def scenario() -> None:
        spectator = socket()
        connected, _ = await spectator.connect()
        assert connected
        assert await spectator.receive_json_from() == {"type": "hello", "authenticated": False}

        await sync_to_async(publish)(PRICE)

        assert await spectator.receive_json_from(timeout=2) == PRICE
        await spectator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_owner_event_reaches_the_owner_but_not_spectators(user):
    cookie = session_cookie(user)

    async def scenario() -> None:
        spectator, owner = socket(), socket(cookie)
        assert (await spectator.connect())[0] and (await owner.connect())[0]
        assert await spectator.receive_json_from() == {"type": "hello", "authenticated": False}
        assert await owner.receive_json_from() == {"type": "hello", "authenticated": True}

        await sync_to_async(publish)(PRIVATE, owner_id=user.pk)
        await sync_to_async(publish)(PRICE)

        # The owner gets both, in order; the spectator's first event is the public one.
        assert await owner.receive_json_from(timeout=2) == PRIVATE
        assert await owner.receive_json_from(timeout=2) == PRICE
        assert await spectator.receive_json_from(timeout=2) == PRICE
        assert await spectator.receive_nothing(timeout=0.2)
        await spectator.disconnect()
        await owner.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_another_users_event_does_not_reach_a_signed_in_socket(user, other_user):
    cookie = session_cookie(user)

    async def scenario() -> None:
        alice = socket(cookie)
        assert (await alice.connect())[0]
        assert (await alice.receive_json_from())["authenticated"] is True

        await sync_to_async(publish)(PRIVATE, owner_id=other_user.pk)
        await sync_to_async(publish)(PRICE)

        assert await alice.receive_json_from(timeout=2) == PRICE
        await alice.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_socket_from_a_foreign_origin_is_refused():
    async def scenario() -> None:
        intruder = WebsocketCommunicator(
            application, "/ws/arena/", headers=[(b"origin", b"http://evil.example")]
        )
        connected, _ = await intruder.connect()
        assert not connected

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_client_messages_get_a_clear_answer():
    async def scenario() -> None:
        spectator = socket()
        assert (await spectator.connect())[0]
        await spectator.receive_json_from()

        await spectator.send_json_to({"type": "subscribe"})

        assert await spectator.receive_json_from() == {
            "type": "error", "message": "this socket only sends events"
        }
        await spectator.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)  # publish() waits for a commit
def test_socket_gets_a_heartbeat_and_keeps_streaming():
    async def scenario() -> None:
        spectator = socket()
        assert (await spectator.connect())[0]
        assert (await spectator.receive_json_from())["type"] == "hello"

        beat = await spectator.receive_json_from(timeout=5)

        assert beat["seq"] is None and beat["type"] == "heartbeat"
        assert set(beat["data"]) == {"at"}
        at = datetime.fromisoformat(beat["data"]["at"])
        assert at.utcoffset() == timedelta(0)
        # Events still arrive after a beat (the beat re-joined the groups).
        await sync_to_async(publish)(PRICE)
        assert await spectator.receive_json_from(timeout=2) == PRICE
        await spectator.disconnect()

    with override_settings(ARENA_WS_HEARTBEAT_SECONDS=1):
        run(scenario)
