"""Two processes closing the same position: one close, one clean refusal, no deadlock."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction

from ledger.models import Account
from trading.models import Trade
from trading.services import position_open

ROOT = Path(__file__).resolve().parents[2]
CLOSE = """
import json, sys
from decimal import Decimal
import django
django.setup()
from trading.services import position_close
price = Decimal(sys.argv[3]) if sys.argv[3] != "-" else None
result = position_close(position=int(sys.argv[1]), reason=sys.argv[2], price=price)
print(json.dumps({"closed": result.closed, "notes": result.notes}))
"""


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_close(position_id: int, reason: str, price: str) -> subprocess.Popen:
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "arena.settings"}
    return subprocess.Popen(
        [sys.executable, "-c", CLOSE, str(position_id), reason, price],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_stop_and_a_turn_racing_close_the_position_once(bot, markets):
    position = position_open(bot=bot, symbol="ETHUSDT", side="LONG", margin=Decimal("100"),
                             leverage=5, stop_loss=Decimal("2950")).position
    # Hold the account's lock so both closers queue behind it and then race.
    with transaction.atomic():
        Account.objects.select_for_update().get(bot=bot)
        if connection.vendor == "sqlite":
            Account.objects.filter(bot=bot).update(currency="USDT")  # take SQLite's write lock
        closers = [start_close(position.pk, "stop_loss", "2950"), start_close(position.pk, "decision", "-")]
        time.sleep(3)
    outcomes = []
    for closer in closers:
        out, err = closer.communicate(timeout=60)
        assert closer.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(o["closed"] for o in outcomes) == [False, True]
    refused = next(o for o in outcomes if not o["closed"])
    assert refused["notes"] == [f"position {position.pk} is already closed"]
    assert Trade.objects.filter(position=position, kind="CLOSE").count() == 1
    position.refresh_from_db()
    assert position.status == "closed"
