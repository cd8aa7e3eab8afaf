"""Two reconciliations of one real bot at once (a redelivered task beside the scheduled one,
in two processes): the exchange's stop is recorded once, every income record once, and the
arena still agrees with the exchange."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.db import connection, transaction

from ledger.models import Account
from tests.arena.fake_llm import FakeLLM
from tests.fakes.exchange import FakeExchange
from tests.trading.real_world import LONG_BTC, world_make
from tests.trading.test_concurrency import ROOT, database_url
from trading.models import ExchangeIncome, Position, Trade

RECONCILE = """
import json, sys
from datetime import datetime
import django
django.setup()
from bots.models import Bot
from trading.services.reconcile import reconcile_bot
run = reconcile_bot(bot=Bot.objects.get(pk=int(sys.argv[1])), trigger="schedule",
                    now=datetime.fromisoformat(sys.argv[2]))
print(json.dumps({"status": run.status, "closed": len(run.summary["closed"])}))
"""


def start(bot_id: int, now: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "arena.settings",
    }
    return subprocess.Popen(
        [sys.executable, "-c", RECONCILE, str(bot_id), now],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_two_reconciliations_at_once_record_the_stop_once(user, settings):
    with FakeExchange() as exchange, FakeLLM() as llm:
        world = world_make(user=user, exchange=exchange, llm=llm, settings=settings)
        world.turn(LONG_BTC)
        world.at(30)
        world.price("BTCUSDT", "57900")  # the exchange's stop fires
        now = world.at(60).isoformat()
        with transaction.atomic():  # both read the exchange, then queue on the account and race
            Account.objects.select_for_update().get(bot=world.bot)
            if connection.vendor == "sqlite":
                Account.objects.filter(bot=world.bot).update(currency="USDT")  # SQLite's write lock
            runs = [start(world.bot.pk, now), start(world.bot.pk, now)]
            time.sleep(4)
        outcomes = []
        for run in runs:
            out, err = run.communicate(timeout=120)
            assert run.returncode == 0, err[-3000:]
            outcomes.append(json.loads(out.strip().splitlines()[-1]))

        assert sorted(o["closed"] for o in outcomes) == [0, 1], outcomes
        position = Position.objects.get(bot=world.bot)
        assert position.close_reason == "stop_loss" and Trade.objects.filter(position=position).count() == 2
        tran_ids = list(ExchangeIncome.objects.filter(bot=world.bot).values_list("tran_id", flat=True))
        assert len(tran_ids) == len(set(tran_ids)) == len(exchange.income)
        assert world.reconcile().status == "agreed"
        world.agree_to_the_cent()
