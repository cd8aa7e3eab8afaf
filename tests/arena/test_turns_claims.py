"""A bot decides once per turn: slots, per-bot claims, other processes and killed workers.

The subprocess tests start real ``turn_run`` processes against the test database
(a file, see ``arena/test_settings.py``) and the fake model server in this process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from arena.models import Turn
from arena.turns.run import turn_run
from bots.models import Bot, Decision
from ledger.models import Entry
from tests.arena.fake_llm import FakeLLM, Reply, openai_bot
from trading.feeds.simulated import SimulatedFeed
from trading.models import Position, Trade
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
    assert sorted(bool(o["decision"]) for o in outcomes) == [False, True]
    assert [o["skipped"] for o in outcomes if not o["decision"]] == [SKIPPED]
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


# --- a worker killed mid-turn ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_turn_writes_nothing_and_its_claim_expires(user, fake):
    refresh()
    fake.default = Reply(text=LONG_BTC, delay=30)
    bot = openai_bot(owner=user, fake=fake, model="victim")
    entries_before = list(Entry.objects.filter(account__bot=bot).values_list("id", flat=True))

    worker = start_turn(NOW)
    go(worker)
    assert fake.wait_for_requests(1, timeout=60), "the worker reached the model call"
    worker.kill()  # SIGKILL: no finally, no cleanup, mid-call
    worker.communicate(timeout=30)
    assert worker.returncode == -9

    assert not Decision.objects.filter(bot=bot).exists()
    assert not Position.objects.filter(bot=bot).exists()
    assert not Trade.objects.filter(bot=bot).exists()
    assert list(Entry.objects.filter(account__bot=bot).values_list("id", flat=True)) == entries_before
    turn = Turn.objects.get()
    assert turn.status == "running" and turn.finished_at is None
    bot.refresh_from_db()
    claim = bot.turn_claimed_until
    assert claim is not None and claim > NOW, "the dead worker's claim is still there"

    # While the claim lasts, the bot is skipped (even in its own, still running turn).
    fake.default = Reply(text=LONG_BTC)
    [outcome] = turn_run(now=NOW + timedelta(minutes=1)).outcomes
    assert outcome.skipped == SKIPPED

    # After it expires, the next turn decides normally.
    after = claim + timedelta(seconds=1)
    refresh(after)
    report = turn_run(now=after)
    [outcome] = report.outcomes
    assert outcome.decision_id and not outcome.error and outcome.executed
    assert report.turn.pk != turn.pk
    assert Decision.objects.filter(bot=bot).count() == 1
    assert Position.objects.filter(bot=bot, status="open").count() == 1
    audit_clean()
