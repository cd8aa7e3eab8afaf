"""The offline demo arena: seed_demo, then five hours of simulated trading.

Every step runs at a simulated time ``t``: the price refresh (with its stop-loss,
take-profit and liquidation checks), the turn, funding and snapshots, as beat would
schedule them — only faster than the clock.
"""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from arena.models import Turn, User
from arena.turns.run import turn_run
from bots.models import Bot, Decision, LLMProvider
from ledger.models import Account, Entry, Snapshot
from trading.feeds.simulated import SimulatedFeed
from trading.models import Position, Trade
from trading.services import funding_due_apply
from trading.services.market import market_refresh_and_trigger
from trading.services.snapshots import snapshots_take

SEED = "demo-test"
SPEED = Decimal(6)  # the market moves six times faster than the clock: stops get hit
START = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)  # the run crosses the 16:00 UTC funding
TURNS = 60
STEP = timedelta(minutes=5)
ARENA_TASKS = ["arena.tasks.refresh_market", "arena.tasks.run_turn", "arena.tasks.take_snapshots",
               "arena.tasks.apply_funding", "arena.tasks.prune_snapshots"]


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (User, LLMProvider, Bot, Account, Entry, PeriodicTask)}


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "4 bot(s) created, 4 demo bot(s) in all" in out.getvalue()
    first = counts()
    assert first["Bot"] == 4 and first["Account"] == 4
    assert set(PeriodicTask.objects.values_list("task", flat=True)) >= set(ARENA_TASKS)
    owners = sorted(Bot.objects.values_list("owner__display_name", flat=True).distinct())
    assert owners == ["Demo Alice", "Demo Bob"], "the leaderboard names the demo owners"

    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "0 bot(s) created, 4 demo bot(s) in all" in out.getvalue()
    assert counts() == first


@pytest.mark.django_db
def test_the_demo_arena_trades_for_five_simulated_hours_and_the_ledger_stays_clean(settings):
    # The turn reads candles from the configured feed: make it the refresh's market.
    settings.ARENA_SIM_SEED = SEED
    settings.ARENA_SIM_SPEED = SPEED
    call_command("seed_demo", stdout=StringIO())
    bots = list(Bot.objects.order_by("id"))
    assert len(bots) == 4

    open_seen = 0
    trigger_closes: Counter[str] = Counter()
    for i in range(TURNS):
        t = START + i * STEP
        for at in (t - STEP / 2, t):  # a refresh and a funding check between turns, and just before
            feed = SimulatedFeed(seed=SEED, speed=SPEED, clock=lambda at=at: at)
            summary = market_refresh_and_trigger(feed=feed, now=at)
            assert not summary["stale"] and summary["error"] is None
            trigger_closes.update(reason for _, reason, _ in summary["closes"])
            funding_due_apply(now=at)
        report = turn_run(now=t)
        assert [o.error for o in report.outcomes] == [""] * len(bots)
        if i % 2 == 0:  # snapshots every 10 minutes
            snapshots_take(now=t)
        open_seen = max(open_seen, Position.objects.filter(status="open").count())

    assert Turn.objects.filter(status="finished").count() == TURNS
    assert Decision.objects.filter(success=True).count() == TURNS * len(bots)
    closed = Counter(Position.objects.filter(status="closed").values_list("close_reason", flat=True))
    assert open_seen > 0
    assert closed["decision"] > 0, closed
    assert closed["stop_loss"] + closed["take_profit"] > 0, closed
    assert sum(trigger_closes.values()) == sum(v for k, v in closed.items() if k != "decision")
    assert Trade.objects.filter(kind="CLOSE").count() == sum(closed.values())
    assert Entry.objects.filter(kind="funding").exists(), "positions open at 16:00 paid or got funding"
    assert Snapshot.objects.count() == TURNS // 2 * len(bots)
    assert Snapshot.objects.filter(trade_count__gt=0).exists()
    per_bot = Counter(Position.objects.values_list("bot_id", flat=True))
    assert all(per_bot[bot.pk] > 0 for bot in bots), f"every strategy traded: {per_bot}"

    out = StringIO()
    call_command("audit_ledger", stdout=out)  # SystemExit(1) on any violation
    assert "ledger clean" in out.getvalue()

