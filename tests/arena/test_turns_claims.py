"""A bot decides once per turn: slots, per-bot claims, other processes and killed workers.

The subprocess tests start real ``turn_run`` processes against the test database
(a file, see ``arena/test_settings.py``) and the fake model server in this process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from arena.models import BotTurn, Turn
from arena.turns.run import turn_run
from bots.models import Bot, Decision
from ledger.models import Entry
from tests.arena.fake_llm import FakeLLM, Reply, openai_bot
from trading.feeds.simulated import SimulatedFeed
from trading.models import Market, Position, Trade
from trading.services.market import market_refresh_and_trigger

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
LONG_BTC = json.dumps([{"action": "LONG", "symbol": "BTCUSDT", "size": 100, "leverage": 2}])
SKIPPED = "another turn is running this bot"

# Starts, says "ready", waits for a line on stdin (so two workers start their turns
# together), runs one turn and prints its outcomes as JSON.
TURN = """
import json, sys
from datetime import datetime
import django
django.setup()
from arena.turns.run import turn_run
now, bot_ids = datetime.fromisoformat(sys.argv[1]), json.loads(sys.argv[2]) or None
print("ready", flush=True)
sys.stdin.readline()
report = turn_run(now=now, bot_ids=bot_ids)
print(json.dumps({"turn": report.turn.pk, "outcomes": [
    {"bot": o.bot_id, "decision": o.decision_id, "skipped": o.skipped, "error": o.error}
    for o in report.outcomes]}), flush=True)
"""


@pytest.fixture
def fake():
    with FakeLLM() as server:
        yield server


def refresh(now: datetime = NOW) -> None:
    market_refresh_and_trigger(feed=SimulatedFeed(seed="t", clock=lambda: now), now=now)


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_turn(now: datetime, bot_ids: list[int] | None = None) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "arena.settings", "LOG_LEVEL": "warning"}
    worker = subprocess.Popen(
        [sys.executable, "-c", TURN, now.isoformat(), json.dumps(bot_ids or [])],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    return worker


def go(worker: subprocess.Popen) -> None:
    worker.stdin.write("go\n")
    worker.stdin.flush()


def finish(worker: subprocess.Popen) -> dict:
    out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def audit_clean() -> None:
    call_command("audit_ledger", verbosity=0)  # SystemExit(1) on any violation


# --- the same slot twice -----------------------------------------------------------------


@pytest.mark.django_db
def test_running_the_same_slot_again_decides_nothing_twice(user, fake):
    refresh()
    fake.default = Reply(text=LONG_BTC)
    bots = [openai_bot(owner=user, fake=fake, model=f"m{i}") for i in range(2)]

    first = turn_run(now=NOW)
    again = turn_run(now=NOW)  # a redelivered task
    later_in_slot = turn_run(now=NOW + timedelta(seconds=90))  # a late duplicate, same slot

    assert first.turn.pk == again.turn.pk == later_in_slot.turn.pk
    assert [o.decision_id is not None for o in first.outcomes] == [True, True]
    assert again.outcomes == [] and later_in_slot.outcomes == [], "bots already decided are not due"
    assert len(fake.requests) == 2, "no model was called a second time"
    for bot in bots:
        assert Decision.objects.filter(bot=bot).count() == 1
        assert Position.objects.filter(bot=bot).count() == 1
    assert Turn.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("forced", [False, True], ids=["same-slot", "two-forced-turns"])
def test_two_processes_running_a_turn_for_the_same_bot_decide_once(user, fake, forced):
    refresh()
    fake.default = Reply(text=LONG_BTC, delay=2)
    bot = openai_bot(owner=user, fake=fake, model="contested")
    bot_ids = [bot.pk] if forced else None

    workers = [start_turn(NOW, bot_ids), start_turn(NOW, bot_ids)]
    for worker in workers:
        go(worker)
    results = [finish(worker) for worker in workers]  # both exit: no deadlock

    outcomes = [o for result in results for o in result["outcomes"]]
    assert [bool(o["decision"]) for o in outcomes].count(True) == 1
    losers = [o["skipped"] for o in outcomes if not o["decision"]]
    if forced:  # a turn of its own: it tried to claim the bot and was refused
        assert losers == [SKIPPED]
    else:  # the same turn: the loser finds the bot claimed, or already running in it (no outcome)
        assert losers in ([SKIPPED], [])
    assert len(fake.requests) == 1, "the model was asked once"
    assert Decision.objects.filter(bot=bot).count() == 1
    assert Position.objects.filter(bot=bot).count() == 1
    assert Turn.objects.count() == (2 if forced else 1)
    bot.refresh_from_db()
    assert bot.turn_claimed_until is None, "the winner released its claim"
    audit_clean()


# --- claims -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stale_claim_does_not_block_the_next_turn(user, fake):
    refresh()
    fake.default = Reply(text=LONG_BTC)
    bot = openai_bot(owner=user, fake=fake, model="m")
    Bot.objects.filter(pk=bot.pk).update(turn_claimed_until=NOW - timedelta(seconds=1))  # a dead worker's

    [outcome] = turn_run(now=NOW).outcomes

    assert outcome.decision_id and not outcome.skipped
    bot.refresh_from_db()
    assert bot.turn_claimed_until is None


@pytest.mark.django_db
def test_a_claim_still_held_skips_the_bot_and_is_left_alone(user, fake):
    refresh()
    fake.default = Reply(text=LONG_BTC)
    bot = openai_bot(owner=user, fake=fake, model="m")
    other = openai_bot(owner=user, fake=fake, model="free")
    held = NOW + timedelta(minutes=10)
    Bot.objects.filter(pk=bot.pk).update(turn_claimed_until=held)

    report = turn_run(now=NOW)

    skipped = next(o for o in report.outcomes if o.bot_id == bot.pk)
    assert skipped.skipped == SKIPPED and skipped.decision_id is None
    assert not Decision.objects.filter(bot=bot).exists()
    assert Decision.objects.filter(bot=other).count() == 1
    assert [r.model for r in fake.requests] == ["free"]
    bot.refresh_from_db()
    assert bot.turn_claimed_until == held, "another turn's claim is not released by this one"
    report.turn.refresh_from_db()
    assert report.turn.status == "finished"

    # Once the claim has expired, the bot's next turn runs.
    after = held + timedelta(seconds=1)
    refresh(after)
    assert turn_run(now=after).outcomes[0].decision_id


# --- a worker killed mid-turn, and leases that heal ----------------------------------------

LEASE = 4  # seconds; renewed every LEASE / 3 while a turn is alive


def price_markets() -> None:
    """Fresh prices for the default symbols, written now (the clock the subprocess shares)."""
    for symbol, price in (("BTCUSDT", "60000"), ("ETHUSDT", "3000"), ("SOLUSDT", "150"),
                          ("BNBUSDT", "600"), ("DOGEUSDT", "0.15"), ("XRPUSDT", "0.6")):
        Market.objects.update_or_create(symbol=symbol, defaults={
            "base_asset": symbol.removesuffix("USDT"), "last_price": Decimal(price),
            "mark_price": Decimal(price), "updated_at": timezone.now(), "is_stale": False})


def start_run_turn(*args: str) -> subprocess.Popen:
    """``manage.py run_turn`` in another process, with a short lease."""
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "arena.settings", "LOG_LEVEL": "warning",
           "ARENA_TURN_LEASE_SECONDS": str(LEASE)}
    return subprocess.Popen([sys.executable, "manage.py", "run_turn", "--no-refresh", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.django_db(transaction=True)
def test_run_turn_killed_mid_turn_heals_after_the_lease_and_its_turn_is_failed(user, fake, settings):
    settings.ARENA_TURN_LEASE_SECONDS = LEASE
    price_markets()
    fake.default = Reply(text=LONG_BTC, delay=60)
    bots = [openai_bot(owner=user, fake=fake, model=f"victim-{i}") for i in range(3)]
    entries_before = sorted(Entry.objects.filter(account__bot__in=bots).values_list("id", flat=True))

    worker = start_run_turn()
    assert fake.wait_for_requests(3, timeout=60), ("the worker reached every model call", worker.poll(),
                                                   worker.poll() is not None and worker.communicate())
    worker.kill()  # SIGKILL: no finally, no cleanup, mid-call
    worker.communicate(timeout=30)
    assert worker.returncode == -9
    killed_at = timezone.now()

    # Nothing of the killed turn was written but its claims and its running rows.
    assert not Decision.objects.filter(bot__in=bots).exists()
    assert not Position.objects.filter(bot__in=bots).exists() and not Trade.objects.exists()
    assert sorted(Entry.objects.filter(account__bot__in=bots).values_list("id", flat=True)) == entries_before
    killed = Turn.objects.get()
    assert killed.status == "running" and killed.finished_at is None
    assert sorted(BotTurn.objects.filter(turn=killed).values_list("status", flat=True)) == ["running"] * 3
    claims = list(Bot.objects.filter(pk__in=[b.pk for b in bots])
                  .values_list("turn_claimed_until", flat=True))
    assert all(c is not None and c > killed.started_at for c in claims), "the dead worker's claims are there"
    assert max(claims) <= killed_at + timedelta(seconds=LEASE), "each is a short lease, not a long claim"

    # One lease later the next turn runs every bot and marks the killed turn failed.
    fake.default = Reply(text=LONG_BTC)
    price_markets()
    report = turn_run(now=killed_at + timedelta(seconds=LEASE + 1))

    assert sorted(o.bot_id for o in report.outcomes if o.decision_id and not o.error) == [b.pk for b in bots]
    assert report.turn.pk != killed.pk and report.turn.status == "finished"
    killed.refresh_from_db()
    assert killed.status == "failed" and "its worker stopped during the turn" in killed.error
    assert killed.finished_at is not None
    rows = BotTurn.objects.filter(turn=killed)
    assert {r.status for r in rows} == {"failed"} and all("worker stopped" in r.reason for r in rows)
    for bot in bots:
        assert Decision.objects.filter(bot=bot).count() == 1
        assert Position.objects.filter(bot=bot, status="open").count() == 1
    assert not Turn.objects.filter(status="running").exists()
    audit_clean()


@pytest.mark.django_db(transaction=True)
def test_a_turn_outliving_its_lease_renews_it_so_no_other_turn_takes_the_bot(user, fake, settings):
    settings.ARENA_TURN_LEASE_SECONDS = LEASE
    price_markets()
    fake.default = Reply(text=LONG_BTC, delay=3 * LEASE)  # the model call lasts three leases
    bot = openai_bot(owner=user, fake=fake, model="slow")

    worker = start_run_turn()
    assert fake.wait_for_requests(1, timeout=60), worker.poll() is not None and worker.communicate()
    # Two leases into the call: without renewal its claim would have lapsed long ago.
    time.sleep(2 * LEASE)
    report = turn_run(now=timezone.now())

    assert [o.skipped for o in report.outcomes] == [SKIPPED]
    assert len(fake.requests) == 1, "no second model call for the held bot"
    out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert "executed: decision 1 (LONG BTCUSDT): opened #" in out
    assert Decision.objects.filter(bot=bot).count() == 1
    first = Turn.objects.exclude(pk=report.turn.pk).get()
    assert first.status == "finished", "the running turn was never taken for abandoned"
    report.turn.refresh_from_db()
    assert report.turn.status == "skipped" and SKIPPED in report.turn.error
    bot.refresh_from_db()
    assert bot.turn_claimed_until is None
    audit_clean()
