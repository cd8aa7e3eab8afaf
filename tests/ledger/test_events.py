"""The event outbox: typed, stored with the change that caused it, numbered in commit order,
pushed after commit, pruned on a schedule."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from ledger.events import (
    EVENT_TYPES,
    PUBLIC_GROUP,
    TICKS,
    EventError,
    event_append,
    event_broadcast,
    events_append,
    events_batched,
    events_prune,
    jsonable,
    user_group,
)
from ledger.models import AppendOnlyError, Event, EventSequence

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TURN = {"turn": 1, "status": "running", "forced": False, "started_at": NOW, "finished_at": None,
        "bots": {"running": 0}}


def bot_turn(bot: int) -> dict:
    return {"turn": 1, "bot": bot, "bot_name": "b", "status": "skipped", "reason": "why", "decision": None}


@pytest.mark.django_db
def test_events_are_numbered_strictly_in_order_and_keep_their_audience(user):
    with transaction.atomic():
        first = event_append("turn_started", TURN, now=NOW)
        batch = events_append([("bot_turn", bot_turn(1)), ("bot_turn", bot_turn(2))], owner_id=user.pk,
                              bot_id=1, now=NOW)
    with transaction.atomic():
        last = event_append("turn_finished", {**TURN, "status": "finished"}, now=NOW)

    seqs = list(Event.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == [first.seq, *(e.seq for e in batch), last.seq]
    assert seqs == list(range(seqs[0], seqs[0] + 4)), "strictly increasing, no gaps within a run"
    rows = list(Event.objects.order_by("seq"))
    assert [r.user_id for r in rows] == [None, user.pk, user.pk, None], "public, owner, owner, public"
    assert rows[0].data["started_at"] == "2026-03-02T12:00:00Z"


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        event_append("turn_started", TURN, now=NOW)
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_a_batch_is_written_at_its_end_with_consecutive_numbers(user):
    with transaction.atomic():
        before = event_append("turn_started", TURN, now=NOW)
        with events_batched():
            first = event_append("bot_turn", bot_turn(1), owner_id=user.pk, now=NOW)
            with events_batched():  # a nested batch joins the outer one
                second = event_append("bot_turn", bot_turn(2), owner_id=user.pk, now=NOW)
            assert first.seq is None and second.seq is None, "numbered when the batch ends"
            assert Event.objects.count() == 1
        after = event_append("turn_finished", {**TURN, "status": "finished"}, now=NOW)
    assert (first.seq, second.seq, after.seq) == (before.seq + 1, before.seq + 2, before.seq + 3)
    assert [e.seq for e in Event.objects.order_by("seq")] == [before.seq + i for i in range(4)]


@pytest.mark.django_db
def test_a_batch_that_fails_writes_nothing_and_the_next_one_works():
    with pytest.raises(RuntimeError), transaction.atomic(), events_batched():
        event_append("turn_started", TURN, now=NOW)
        raise RuntimeError("the change failed")
    assert not Event.objects.exists()
    with transaction.atomic(), events_batched():
        event_append("turn_started", TURN, now=NOW)
    assert Event.objects.count() == 1


@pytest.mark.django_db
def test_the_counter_row_is_made_when_missing():
    EventSequence.objects.all().delete()
    with transaction.atomic():
        first = event_append("turn_started", TURN, now=NOW)
    assert first.seq == 1 and EventSequence.objects.get().last == 1


@pytest.mark.django_db(transaction=True)  # no test-wide transaction around it
def test_an_event_outside_the_changes_transaction_is_refused():
    with pytest.raises(EventError, match="inside the transaction"):
        event_append("turn_started", TURN, now=NOW)
    assert not Event.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("type_", "data", "owner", "said"), [
    ("turn_exploded", TURN, None, "unknown event type"),
    ("turn_started", {k: v for k, v in TURN.items() if k != "bots"}, None, r"missing \['bots'\]"),
    ("turn_started", {**TURN, "secret": "x"}, None, r"unexpected \['secret'\]"),
    ("bot_turn", bot_turn(1), None, "owner_id is required"),
    ("market_prices", {"prices": {}, "at": NOW}, None, "not stored"),
])
def test_a_malformed_event_is_refused_loudly(type_, data, owner, said):
    with pytest.raises(EventError, match=said), transaction.atomic():
        event_append(type_, data, owner_id=owner, now=NOW)
    assert not Event.objects.exists()


def test_every_type_has_a_shape_and_an_audience():
    for type_, (shape, audience) in EVENT_TYPES.items():
        assert shape.__required_keys__, type_
        assert audience in ("public", "owner"), type_
    assert TICKS <= set(EVENT_TYPES)


@pytest.mark.django_db
def test_events_cannot_be_changed():
    with transaction.atomic():
        event_append("turn_started", TURN, now=NOW)
    with pytest.raises(AppendOnlyError):
        Event.objects.update(type="turn_failed")


def test_numbers_are_written_exactly():
    assert jsonable(Decimal("627.040000000000")) == "627.04"
    assert jsonable(Decimal("1E+2")) == "100"
    assert jsonable(Decimal("-0.00")) == "0"
    assert jsonable({"at": NOW, "xs": [Decimal("0.10")]}) == {"at": "2026-03-02T12:00:00Z", "xs": ["0.1"]}


def listener(*groups: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    for group in groups:
        async_to_sync(layer.group_add)(group, channel)
    return channel


def received(channel: str) -> list[dict]:
    """Everything queued for ``channel`` now (the in-memory layer hands queued messages at once)."""
    layer = get_channel_layer()

    async def drain() -> list[dict]:
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), 0.05))
            except TimeoutError:
                # Each message is a run of frames encoded once for every socket, each with its seq.
                frames = [frame for m in messages for frame in m["frames"]]
                decoded = [json.loads(frame["text"]) for frame in frames]
                assert [frame["seq"] for frame in frames] == [event["seq"] for event in decoded]
                return decoded

    return async_to_sync(drain)()


@pytest.fixture
def fresh_layer():
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield layer
    async_to_sync(layer.flush)()


@pytest.mark.django_db(transaction=True)
def test_events_reach_their_group_only_after_commit(user, other_user, fresh_layer):
    public, mine, theirs = listener(PUBLIC_GROUP), listener(user_group(user.pk)), listener(
        user_group(other_user.pk))
    with transaction.atomic():
        stored = event_append("bot_turn", bot_turn(7), owner_id=user.pk, now=NOW)
        event_broadcast("market_prices", {"prices": {"BTCUSDT": Decimal("60000.10")}, "at": NOW})
        assert received(mine) == [] and received(public) == [], "nothing before commit"
    assert received(mine) == [{"seq": stored.seq, "type": "bot_turn", "data": stored.data}]
    assert received(public) == [{"seq": None, "type": "market_prices",
                                 "data": {"prices": {"BTCUSDT": "60000.1"}, "at": "2026-03-02T12:00:00Z"}}]
    assert received(theirs) == []
    assert Event.objects.count() == 1, "a price tick is not stored"


def test_a_durable_event_cannot_be_broadcast_unstored():
    with pytest.raises(EventError, match="durable"):
        event_broadcast("turn_started", TURN)


@pytest.mark.django_db
def test_old_events_are_pruned_and_recent_ones_kept():
    with transaction.atomic():
        old = event_append("turn_started", TURN, now=NOW - timedelta(days=8))
        kept = event_append("turn_started", TURN, now=NOW - timedelta(days=6))
    assert events_prune(now=NOW) == 1
    assert list(Event.objects.values_list("seq", flat=True)) == [kept.seq]
    assert not Event.objects.filter(seq=old.seq).exists()


APPEND = """
import django, sys
django.setup()
from django.db import transaction
from ledger.events import event_append
with transaction.atomic():
    event = event_append("turn_started", {"turn": 2, "status": "running", "forced": False,
                         "started_at": "2026-03-02T12:00:00Z", "finished_at": None, "bots": {}})
print(event.seq)
"""


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_numbers_follow_commit_order_across_processes():
    """While one transaction holds number N uncommitted, no other may commit a higher one:
    a client that saw N+1 would never be sent N (an auto-increment id allows exactly that)."""
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "arena.settings"}
    with transaction.atomic():
        mine = event_append("turn_started", TURN, now=NOW)
        other = subprocess.Popen([sys.executable, "-c", APPEND], cwd=ROOT, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with contextlib.suppress(subprocess.TimeoutExpired):
            other.wait(timeout=3)  # it must be waiting for us; if it is not, the check below shows it
        with connection.cursor() as cursor:  # a fresh statement sees what others committed
            cursor.execute("SELECT COUNT(*) FROM ledger_event WHERE seq > %s", [mine.seq])
            assert cursor.fetchone()[0] == 0, "a later number committed before ours"
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    assert int(out) > mine.seq
    assert sorted(Event.objects.values_list("seq", flat=True)) == [mine.seq, int(out)]
