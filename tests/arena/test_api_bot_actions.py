"""A bot's actions through the API (forced turns: test_turns_forced.py): summarise and
clear its learning, take a snapshot now, and export its trades as CSV — each through the
service the engine uses."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from bots.models import Decision, LearningSummary
from bots.services import bot_create, provider_create
from ledger.models import Snapshot
from tests.arena.api_helpers import client_for, error_of
from trading.models import Market
from trading.services import position_close, position_open

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def market(db):
    return Market.objects.create(symbol="BTCUSDT", base_asset="BTC", last_price=D("60000"),
                                 mark_price=D("60000"), updated_at=timezone.now())


def decisions(bot, count):
    start = timezone.now() - timedelta(hours=count)
    Decision.objects.bulk_create([
        Decision(bot=bot, created_at=start + timedelta(minutes=5 * i), prompt="p", success=True,
                 actions=[{"action": "LONG", "symbol": "BTCUSDT", "reasoning": f"r{i}"}])
        for i in range(count)
    ])


def test_summarise_needs_decisions_then_writes_a_summary_and_clear_hides_it(user, bot):
    client = client_for(user)
    refused = client.post(f"/api/bots/{bot.pk}/force-summarize/")
    assert refused.status_code == 400 and "at least 5 decisions" in error_of(refused)["message"]
    decisions(bot, 6)
    made = client.post(f"/api/bots/{bot.pk}/force-summarize/")
    assert made.status_code == 201, made.json()
    assert made.json()["decisions_count"] == 6 and made.json()["summary"]
    listed = client.get(f"/api/bots/{bot.pk}/summaries/").json()["results"]
    assert [s["id"] for s in listed] == [made.json()["id"]] and listed[0]["cleared_at"] is None

    assert client.post(f"/api/bots/{bot.pk}/clear-learning/").json() == {"cleared": 1}
    assert LearningSummary.objects.get().cleared_at is not None, "cleared, not deleted"
    assert client.post(f"/api/bots/{bot.pk}/clear-learning/").json() == {"cleared": 0}


def test_snapshot_now_writes_one_row_for_this_bot_only(user, bot, other_user):
    spare = provider_create(owner=other_user, name="S", kind="scripted", model="momentum")
    theirs = bot_create(owner=other_user, name="R", prompt="p", provider=spare)
    response = client_for(user).post(f"/api/bots/{bot.pk}/snapshot/")
    assert response.status_code == 201
    assert D(response.json()["total_value"]) == bot.initial_balance
    assert list(Snapshot.objects.values_list("bot_id", flat=True)) == [bot.pk]
    assert not Snapshot.objects.filter(bot=theirs).exists()


def test_trades_export_streams_every_filtered_trade_as_csv(user, bot, market):
    opened = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=5,
                           now=timezone.now())
    position_close(position=opened.position.pk, reason="manual", now=timezone.now())
    response = client_for(user).get(f"/api/bots/{bot.pk}/trades/export/?kind=CLOSE")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["kind"], r["position"], r["reason"]) for r in rows] == [("CLOSE", str(opened.position.pk),
                                                                         "manual")]
    assert D(rows[0]["fee"]) > 0 and rows[0]["pnl"]
    bad = client_for(user).get(f"/api/bots/{bot.pk}/trades/export/?executed_before=soon")
    assert bad.status_code == 400
