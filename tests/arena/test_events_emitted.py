"""Every durable event is written by the service that makes the change, in its transaction,
with the audience its data allows (public fields to everyone, the rest to the owner)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from arena.models import Turn
from arena.tasks import run_turn
from arena.turns.force import turn_force_queue
from arena.turns.lease import turns_abandoned_fail
from arena.turns.run import turn_run
from bots.models import Decision
from bots.services import bot_clone, bot_create, bot_pause, bot_reset, bot_resume, bot_update
from ledger.events import EVENT_TYPES, PUBLIC_GROUP, TICKS
from ledger.models import Event
from tests.arena.test_turns_claims import price_markets
from trading.feeds.simulated import SimulatedFeed
from trading.models import Market, Position
from trading.services import funding_apply, position_close, position_open
from trading.services.market import market_refresh_and_trigger
from trading.services.snapshots import snapshots_take

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)


def emitted(*types: str) -> list[Event]:
    return list(Event.objects.filter(type__in=types).order_by("seq"))


def only(type_: str) -> Event:
    [event] = emitted(type_)
    return event


@pytest.mark.django_db
def test_bot_lifecycle_events_go_to_the_owner(user, provider):
    bot = bot_create(owner=user, name="Momo", prompt="Trade", provider=provider)
    bot_update(bot=bot, name="Momo II", prompt="Trade more")
    bot_pause(bot=bot)
    bot_pause(bot=bot)  # already paused: nothing changes, nothing is said
    bot_resume(bot=bot)
    copy = bot_clone(bot=bot, owner=user)

    events = emitted("bot_created", "bot_updated", "bot_paused", "bot_resumed")
    assert [(e.type, e.bot_id) for e in events] == [
        ("bot_created", bot.pk), ("bot_updated", bot.pk), ("bot_paused", bot.pk), ("bot_resumed", bot.pk),
        ("bot_created", copy.pk),
    ]
    assert all(e.user_id == user.pk for e in events), "bot events are the owner's"
    assert events[1].data == {"bot": bot.pk, "name": "Momo II", "mode": "paper", "is_paused": False,
                              "is_active": True, "changed": ["name", "prompt"]}
    assert events[2].data["is_paused"] is True and events[3].data["is_paused"] is False


@pytest.mark.django_db
def test_opening_and_closing_a_position_are_public_events(bot):
    price_markets()
    position = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=Decimal("100"), leverage=5,
                             stop_loss=Decimal("2900"), now=NOW).position
    position_close(position=position.pk, reason="stop_loss", price=Decimal("2950"), now=NOW)

    opened, closed = only("position_opened"), only("position_closed")
    position.refresh_from_db()
    assert opened.user_id is None and closed.user_id is None and opened.seq < closed.seq
    assert opened.bot_id == closed.bot_id == bot.pk
    assert opened.data["position"] == position.pk and opened.data["symbol"] == "ETHUSDT"
    assert Decimal(opened.data["entry_price"]) == position.entry_price
    assert Decimal(opened.data["margin"]) == Decimal("100") and opened.data["stop_loss"] == "2900"
    assert closed.data["reason"] == "stop_loss" and Decimal(closed.data["pnl"]) == position.realized_pnl
    assert closed.data["exit_price"] == "2950"


@pytest.mark.django_db
def test_every_balance_change_is_a_public_event_written_with_its_trade(bot):
    price_markets()
    position = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=Decimal("100"), leverage=5,
                             now=NOW).position
    position_close(position=position.pk, reason="take_profit", price=Decimal("3100"), now=NOW)

    deposit, opened, closed = emitted("balance_changed")
    assert {e.user_id for e in (deposit, opened, closed)} == {None}
    assert {e.bot_id for e in (deposit, opened, closed)} == {bot.pk}
    assert deposit.data["kinds"] == ["deposit"] and Decimal(deposit.data["change"]) == Decimal("10000")
    assert opened.data["kinds"] == ["margin_lock", "fee"]
    open_trade = position.trades.get(kind="OPEN")
    assert Decimal(opened.data["change"]) == -(Decimal("100") + open_trade.fee)
    bot.account.refresh_from_db()
    assert Decimal(closed.data["balance"]) == bot.account.balance
    assert closed.data["kinds"] == ["margin_release", "realized_pnl", "fee"]
    # One record step, one batch: the trade's event and its balance change are numbered together.
    assert opened.seq + 1 == only("position_opened").seq
    assert closed.seq + 1 == only("position_closed").seq


@pytest.mark.django_db
def test_snapshots_are_public_events_one_per_bot(bot, user, provider):
    other = bot_create(owner=user, name="Other", prompt="Trade", provider=provider)
    price_markets()
    position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=Decimal("100"), leverage=5, now=NOW)
    snapshots = snapshots_take(now=NOW)

    events = emitted("snapshot_taken")
    assert sorted(e.bot_id for e in events) == sorted([bot.pk, other.pk])
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + 2)), "one batch"
    mine = next(e for e in events if e.bot_id == bot.pk)
    snapshot = next(s for s in snapshots if s.bot_id == bot.pk)
    assert mine.user_id is None
    assert Decimal(mine.data["total_value"]) == snapshot.total_value
    assert Decimal(mine.data["margin"]) == Decimal("100") and mine.data["trade_count"] == 0
    assert mine.data["taken_at"] == "2026-03-02T12:00:30Z"


@pytest.mark.django_db
def test_a_refused_open_writes_no_event(bot):
    price_markets()
    before = Event.objects.count()  # the bot's creation
    result = position_open(bot=bot, symbol="NOPEUSDT", side="LONG", margin=Decimal("100"), leverage=5)
    assert result.position is None and Event.objects.count() == before


@pytest.mark.django_db
def test_reset_closes_with_reason_reset_and_tells_the_owner(bot):
    price_markets()
    position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=Decimal("100"), leverage=5, now=NOW)
    bot_reset(bot=bot, now=NOW)

    assert only("position_closed").data["reason"] == "reset"
    reset = only("bot_reset")
    assert reset.user_id == bot.owner_id and reset.seq > only("position_closed").seq


@pytest.mark.django_db
def test_funding_is_a_public_event_per_position(bot):
    price_markets()
    position = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=Decimal("100"), leverage=5,
                             now=NOW - timedelta(hours=9)).position
    Position.objects.filter(pk=position.pk).update(opened_at=NOW - timedelta(hours=9))

    funding_apply(funding_time=NOW - timedelta(hours=4), rates={"ETHUSDT": Decimal("0.0001")},
                  marks={"ETHUSDT": Decimal("3000")})

    event = only("funding_applied")
    assert event.user_id is None and event.data["position"] == position.pk
    assert Decimal(event.data["amount"]) < 0, "a long pays a positive rate"


@pytest.mark.django_db(transaction=True)  # the push happens after commit
def test_prices_are_pushed_to_everyone_and_not_stored():
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(PUBLIC_GROUP, channel)
    now = timezone.now()

    market_refresh_and_trigger(feed=SimulatedFeed(seed="events", clock=lambda: now), now=now)

    frame = async_to_sync(layer.receive)(channel)["frames"][0]  # a run of frames, encoded once
    message = json.loads(frame["text"])
    assert message["seq"] is None and message["type"] == "market_prices"
    assert message["data"]["prices"]["BTCUSDT"] == format(
        Market.objects.get(symbol="BTCUSDT").last_price.normalize(), "f")
    assert not Event.objects.filter(type="market_prices").exists()
    async_to_sync(layer.flush)()


@pytest.mark.django_db
def test_a_turn_tells_everyone_its_state_and_each_owner_their_bots_part(bot, user):
    price_markets()
    report = turn_run(now=timezone.now(), refresh=False)

    started, finished = only("turn_started"), only("turn_finished")
    assert started.user_id is None and finished.user_id is None
    assert started.data["turn"] == finished.data["turn"] == report.turn.pk
    assert finished.data["bots"]["finished"] == 1 and "error" not in finished.data
    rows = emitted("bot_turn")
    assert [r.data["status"] for r in rows] == ["running", "finished"]
    assert all(r.user_id == user.pk for r in rows)
    decision = only("decision_recorded")
    assert decision.user_id == user.pk, "reasoning and notes are the owner's"
    assert decision.data["decision"] == Decision.objects.get(bot=bot).pk
    assert started.seq < rows[0].seq < decision.seq < rows[1].seq < finished.seq, "in the order it happened"


@pytest.mark.django_db
def test_a_turn_with_nothing_to_do_is_skipped_for_everyone(bot):
    bot_pause(bot=bot)
    turn_run(now=timezone.now(), refresh=False)
    assert only("turn_skipped").data["status"] == "skipped"


@pytest.mark.django_db
def test_an_abandoned_turn_is_failed_for_everyone_and_its_bots_owners_told(bot, user):
    long_ago = timezone.now() - timedelta(hours=1)
    turn = Turn.objects.create(started_at=long_ago, heartbeat_at=long_ago, forced=True)
    turn.bot_turns.create(bot=bot, status="running", started_at=long_ago)

    turns_abandoned_fail(now=timezone.now())

    failed = only("turn_failed")
    assert failed.user_id is None and failed.data["bots"]["failed"] == 1
    told = only("bot_turn")
    assert told.user_id == user.pk and told.data["status"] == "failed"
    assert "worker stopped" in told.data["reason"]


@pytest.mark.django_db
def test_a_forced_turn_queued_for_a_worker_tells_everyone_and_the_owner(bot, user):
    conf, before = run_turn.app.conf, run_turn.app.conf.task_always_eager
    conf.task_always_eager = False  # to the broker: no worker takes it here
    try:
        turn_force_queue(bot=bot, now=NOW)
    finally:
        conf.task_always_eager = before
    queued = only("turn_queued")
    assert queued.user_id is None and queued.data["status"] == "queued" and queued.data["bots"]["queued"] == 1
    told = only("bot_turn")
    assert told.user_id == user.pk and told.data["status"] == "queued"



@pytest.mark.django_db
def test_a_reconciliation_tells_the_owner_and_the_kill_switch_everyone(user, provider, admin_user, settings):
    from arena.real import kill_switch_engage, kill_switch_release
    from tests.arena.conftest import free_port
    from trading.models import Wallet
    from trading.services.reconcile import reconcile_bot

    settings.REAL_TRADING_ENABLED = True
    bot = bot_create(owner=user, name="real", prompt="p", provider=provider, mode="real")
    wallet = Wallet(owner=user, bot=bot, base_url=f"http://127.0.0.1:{free_port()}")  # nothing listens
    wallet.api_key, wallet.api_secret = "k", "s"
    wallet.save()
    run = reconcile_bot(bot=bot, trigger="api")
    told = only("reconciliation")
    assert told.user_id == user.pk and told.bot_id == bot.pk
    assert told.data == {"bot": bot.pk, "reconciliation": run.pk, "status": "failed", "open_discrepancies": 0,
                         "at": told.data["at"]}

    kill_switch_engage(actor=admin_user, password="root-pass-123", close_positions=False, interface="api")
    kill_switch_release(actor=admin_user, password="root-pass-123", interface="api")
    engaged, released = emitted("kill_switch")
    assert engaged.user_id is None and engaged.data["engaged"] is True and engaged.data["by"]
    assert released.data["engaged"] is False

def test_every_event_type_is_emitted_by_a_test_here():
    """Each durable type in ``EVENT_TYPES`` has an emitting test in this module."""
    source = open(__file__).read()
    for type_ in set(EVENT_TYPES) - TICKS:
        assert f'"{type_}"' in source.split("def test_every_event_type")[0], type_
