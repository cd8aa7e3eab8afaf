"""The periodic work around turns: beat's schedule, the Celery tasks, snapshot retention."""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask, PeriodicTasks

from arena import tasks
from arena.celery import app
from arena.models import ArenaSettings, Turn
from arena.schedule import schedule_sync
from arena.services import arena_settings_save
from bots.models import Decision
from bots.services import bot_create
from ledger.events import event_append
from ledger.models import Event, Snapshot
from ledger.retention import snapshots_prune
from trading.models import Market

JOBS = {  # name → (task, the ArenaSettings field or fixed seconds)
    "arena: refresh market and triggers": ("arena.tasks.refresh_market", "refresh_interval_seconds"),
    "arena: trading turn": ("arena.tasks.run_turn", "turn_interval_seconds"),
    "arena: snapshots": ("arena.tasks.take_snapshots", "snapshot_interval_seconds"),
    "arena: funding": ("arena.tasks.apply_funding", 60),
    "arena: snapshot retention": ("arena.tasks.prune_snapshots", 3600),
    "arena: event retention": ("arena.tasks.prune_events", 3600),
}


def schedule() -> dict[str, tuple[str, int, bool]]:
    return {t.name: (t.task, t.interval.every, t.enabled)
            for t in PeriodicTask.objects.select_related("interval").filter(name__in=JOBS)}


def expected(arena: ArenaSettings) -> dict[str, tuple[str, int, bool]]:
    return {name: (task, every if isinstance(every, int) else getattr(arena, every), True)
            for name, (task, every) in JOBS.items()}


# --- 10. the schedule and the tasks ---------------------------------------------------------


@pytest.mark.django_db
def test_schedule_sync_writes_the_periodic_tasks_with_the_settings_intervals():
    arena = ArenaSettings.load()
    arena.refresh_interval_seconds, arena.snapshot_interval_seconds = 7, 900
    arena.save()

    schedule_sync()

    assert schedule() == expected(arena)
    assert schedule()["arena: trading turn"][1] == 300
    for task in PeriodicTask.objects.filter(name__in=JOBS).select_related("interval"):
        assert task.interval.period == "seconds" and task.expire_seconds == max(task.interval.every, 5)
        assert app.tasks[task.task].name == task.task, "beat names a task the worker knows"
    changed = PeriodicTasks.last_change()
    assert changed is not None

    schedule_sync()  # nothing to change: beat is not told to reload
    assert PeriodicTasks.last_change() == changed
    assert PeriodicTask.objects.filter(name__in=JOBS).count() == len(JOBS)


@pytest.mark.django_db
def test_saving_the_settings_moves_the_turn_task_to_the_new_interval_and_tells_beat():
    schedule_sync()
    before = PeriodicTasks.last_change()
    arena = ArenaSettings.load()
    arena.turn_interval_seconds = 120

    arena_settings_save(arena=arena)

    assert schedule()["arena: trading turn"] == ("arena.tasks.run_turn", 120, True)
    assert schedule() == expected(ArenaSettings.load())
    assert PeriodicTasks.last_change() > before, "beat's DatabaseScheduler reloads on this"

    # Invalid settings are refused before anything moves.
    arena.turn_interval_seconds = 5
    with pytest.raises(ValidationError):
        arena_settings_save(arena=arena)
    assert ArenaSettings.load().turn_interval_seconds == 120
    assert schedule()["arena: trading turn"][1] == 120


@pytest.mark.django_db
def test_the_celery_tasks_run_eagerly_and_return_their_summaries(user, provider):
    bot = bot_create(owner=user, name="Momo", prompt="Trade {{marketData}}", provider=provider)

    refreshed = tasks.refresh_market.delay().get()
    assert refreshed == {"symbols": 6, "closes": 0, "stale": []}
    assert Market.objects.filter(last_price__isnull=False).count() == 6

    turned = tasks.run_turn.delay().get()
    turn = Turn.objects.get()
    assert turned == {"turn": turn.pk, "bots": 1}
    assert turn.status == "finished" and Decision.objects.filter(bot=bot, turn=turn, success=True).exists()
    forced = tasks.run_turn.delay(bot_ids=[bot.pk], forced=True).get()
    assert forced["turn"] != turn.pk and Turn.objects.get(pk=forced["turn"]).forced

    assert tasks.take_snapshots.delay().get() == 1
    assert Snapshot.objects.filter(bot=bot).count() == 1
    assert tasks.apply_funding.delay().get() == 0  # nothing was open at the last funding time
    assert tasks.prune_snapshots.delay().get() == 0
    written = Event.objects.count()
    assert written > 0, "the bot, the refresh and the turns wrote events"
    assert tasks.prune_events.delay().get() == 0, "nothing is old enough yet"
    with transaction.atomic():  # one that has aged out
        event_append("turn_started", {"turn": 0, "status": "running", "forced": False, "bots": {},
                                      "started_at": "x", "finished_at": None},
                     now=timezone.now() - timedelta(days=8))
    assert tasks.prune_events.delay().get() == 1 and Event.objects.count() == written


# --- 11. snapshot retention ---------------------------------------------------------------


def snapshot(bot, at: datetime) -> Snapshot:
    return Snapshot(bot=bot, taken_at=at, balance=Decimal("10000"), margin=Decimal("0"),
                    unrealized_pnl=Decimal("0"), realized_pnl=Decimal("0"), total_value=Decimal("10000"),
                    trade_count=0, win_rate=Decimal("0"))


@pytest.mark.django_db
def test_retention_keeps_everything_for_a_week_then_hourly_to_thirty_days_then_daily(user, provider):
    bot = bot_create(owner=user, name="Old", prompt="p", provider=provider)
    neighbour = bot_create(owner=user, name="Neighbour", prompt="p", provider=provider)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    every = timedelta(minutes=10)
    times = [now - k * every for k in range(40 * 24 * 6)]  # 40 days, newest first, on the hour marks
    Snapshot.objects.bulk_create([snapshot(bot, at) for at in times], batch_size=2000)
    # Another bot's lone snapshot in an hour the first bot also has: buckets are per bot.
    Snapshot.objects.bulk_create([snapshot(neighbour, now - timedelta(days=20, minutes=30))])

    deleted = snapshots_prune(now=now)

    kept = sorted(Snapshot.objects.filter(bot=bot).values_list("taken_at", flat=True))
    week, month = now - timedelta(days=7), now - timedelta(days=30)
    recent = [at for at in kept if at >= week]
    hourly = [at for at in kept if month <= at < week]
    daily = [at for at in kept if at < month]
    assert recent == sorted(at for at in times if at >= week)  # all 1,009 of the last 7 days
    assert len(recent) == 7 * 144 + 1
    assert len(hourly) == 23 * 24 and all(at.minute == 0 for at in hourly)  # the first of each hour
    assert len({(at.date(), at.hour) for at in hourly}) == len(hourly)
    assert len(daily) == 10 and len({at.date() for at in daily}) == 10
    # The first snapshot of each day: midnight, except the oldest day, which starts at 00:10.
    firsts = defaultdict(list)
    for at in times:
        if at < month:
            firsts[at.date()].append(at)
    assert daily == sorted(min(group) for group in firsts.values())
    assert deleted == len(times) - len(kept) == len(times) - (1009 + 552 + 10)
    assert Snapshot.objects.filter(bot=neighbour).count() == 1

    assert snapshots_prune(now=now) == 0, "a second run finds nothing more to delete"
    assert Snapshot.objects.filter(bot=bot).count() == len(kept)
