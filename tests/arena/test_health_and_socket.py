"""The public health probe, the login-only API schema, and the live WebSocket:
spectators get public events only, a signed-in user also gets their own."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings

from arena.asgi import application
from ledger.events import (
    PUBLIC_GROUP,
    event_append,
    event_broadcast,
    events_batched,
    events_prune,
    runs_of,
    user_group,
)
from ledger.models import Event

ORIGIN = (b"origin", b"http://localhost")


# HTTP ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_health_is_public_and_ok(client):
    response = client.get("/api/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_schema_is_public(client):
    response = client.get("/api/schema/")  # a stranger reads the API's contract before signing up

    assert response.status_code == 200
    assert b"openapi" in response.content
    assert b"/api/health/" in response.content


# WebSocket -----------------------------------------------------------------------------


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async scenario from a sync test (no pytest-asyncio here). Sync code
    inside it, such as an event's commit, runs on this thread via ``sync_to_async``."""
    async_to_sync(scenario)()


def socket(*headers: tuple[bytes, bytes], path: str = "/ws/arena/") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode())


NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PRICE = {"seq": None, "type": "market_prices",
         "data": {"prices": {"BTCUSDT": "50000"}, "at": "2026-03-02T12:00:00Z"}}
FAILED = {"turn": 1, "bot": 1, "bot_name": "b", "status": "failed", "reason": "provider said no",
          "decision": None}
TURN = {"turn": 1, "status": "running", "forced": False, "started_at": NOW, "finished_at": None, "bots": {}}


def publish(message: dict, *, owner_id: int | None = None) -> dict:
    """What a service does: the price tick unstored, a durable event stored; returns what a
    socket should receive."""
    with transaction.atomic():
        if message["type"] == "market_prices":
            event_broadcast("market_prices", message["data"])
            return message
        event = event_append(message["type"], message["data"], owner_id=owner_id, now=NOW)
    return {"seq": event.seq, "type": event.type, "data": event.data}


PRIVATE = {"type": "bot_turn", "data": FAILED}


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

        private = await sync_to_async(publish)(PRIVATE, owner_id=user.pk)
        await sync_to_async(publish)(PRICE)

        # The owner gets both, in order; the spectator's first event is the public one.
        assert await owner.receive_json_from(timeout=2) == private
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


# Replay: a client that reconnects catches up from the outbox ---------------------------


def stored(type_: str, data: dict, owner_id: int | None = None, now: datetime = NOW) -> dict:
    with transaction.atomic():
        event = event_append(type_, data, owner_id=owner_id, now=now)
    return {"seq": event.seq, "type": event.type, "data": event.data}


def test_a_push_groups_consecutive_events_of_one_audience_and_keeps_their_order():
    a, b, c, d = ({"seq": n} for n in range(1, 5))
    mine = user_group(7)
    assert runs_of([(PUBLIC_GROUP, a), (PUBLIC_GROUP, b), (mine, c), (PUBLIC_GROUP, d)]) == [
        (PUBLIC_GROUP, [a, b]), (mine, [c]), (PUBLIC_GROUP, [d])], "never merged across another audience"
    assert runs_of([]) == []


@pytest.mark.django_db(transaction=True)
def test_events_committed_together_reach_each_socket_once_each_and_in_order(user):
    cookie = session_cookie(user)

    def commit() -> list[dict]:
        with transaction.atomic(), events_batched():
            rows = [event_append("turn_started", TURN), event_append("turn_started", {**TURN, "turn": 2}),
                    event_append("bot_turn", FAILED, owner_id=user.pk),
                    event_append("turn_finished", {**TURN, "status": "finished"})]
        return [{"seq": r.seq, "type": r.type, "data": r.data} for r in rows]

    async def scenario() -> None:
        spectator, owner = socket(), socket(cookie)
        assert (await spectator.connect())[0] and (await owner.connect())[0]
        assert (await spectator.receive_json_from())["type"] == "hello"
        assert (await owner.receive_json_from())["type"] == "hello"
        sent = await sync_to_async(commit)()
        assert [await owner.receive_json_from(timeout=2) for _ in sent] == sent, "every event, in seq order"
        public = [m for m in sent if m["type"] != "bot_turn"]
        assert [await spectator.receive_json_from(timeout=2) for _ in public] == public
        assert await owner.receive_nothing(timeout=0.2) and await spectator.receive_nothing(timeout=0.2)
        await spectator.disconnect()
        await owner.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_reconnecting_owner_gets_what_they_missed_in_order_and_nothing_of_others(user, other_user):
    cookie = session_cookie(user)
    seen = stored("turn_started", TURN)
    theirs = stored("bot_turn", FAILED, owner_id=other_user.pk)
    mine = stored("bot_turn", FAILED, owner_id=user.pk)
    public = stored("turn_finished", {**TURN, "status": "finished"})

    async def scenario() -> None:
        owner = socket(cookie, path=f"/ws/arena/?since={seen['seq']}")
        spectator = socket(path="/ws/arena/?since=0")
        assert (await owner.connect())[0] and (await spectator.connect())[0]
        assert (await owner.receive_json_from())["type"] == "hello"
        assert await owner.receive_json_from() == mine
        assert await owner.receive_json_from() == public
        assert (await spectator.receive_json_from())["type"] == "hello"
        assert await spectator.receive_json_from() == seen
        assert await spectator.receive_json_from() == public, "owners' events are not replayed to others"
        # Then live, each event once.
        live = await sync_to_async(stored)("turn_started", {**TURN, "turn": 2})
        assert await owner.receive_json_from(timeout=2) == live
        assert await spectator.receive_json_from(timeout=2) == live
        assert await owner.receive_nothing(timeout=0.2)
        await owner.disconnect()
        await spectator.disconnect()

    assert theirs["seq"] < mine["seq"]
    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_client_behind_the_retained_events_is_told_to_resync():
    old = stored("turn_started", TURN, now=NOW - timedelta(days=30))
    kept = stored("turn_started", {**TURN, "turn": 2})
    events_prune(now=NOW)
    assert list(Event.objects.values_list("seq", flat=True)) == [kept["seq"]]

    async def scenario() -> None:
        behind = socket(path=f"/ws/arena/?since={old['seq'] - 1}")
        current = socket(path=f"/ws/arena/?since={old['seq']}")
        assert (await behind.connect())[0] and (await current.connect())[0]
        await behind.receive_json_from()
        assert await behind.receive_json_from() == {"seq": None, "type": "resync",
                                                    "data": {"since": old["seq"] - 1}}
        assert await behind.receive_nothing(timeout=0.2), "no partial replay after a resync"
        await current.receive_json_from()
        assert await current.receive_json_from() == kept, "nothing it needs was pruned"
        await behind.disconnect()
        await current.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_nonsense_since_is_ignored_and_the_socket_streams_live():
    stored("turn_started", TURN)

    async def scenario() -> None:
        client = socket(path="/ws/arena/?since=yesterday")
        assert (await client.connect())[0]
        assert (await client.receive_json_from())["type"] == "hello"
        assert await client.receive_nothing(timeout=0.2)
        await client.disconnect()

    run(scenario)
