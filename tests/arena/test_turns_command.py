"""``manage.py run_turn [--bot PK]``: a turn now, and a transcript of what each bot did."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from arena.models import ArenaSettings, Turn
from bots.models import Bot, Decision
from bots.services import bot_create, bots_set_paused
from tests.arena.fake_llm import FakeLLM, Reply, openai_bot
from trading.models import Market, Position

TRADER_REPLY = json.dumps([
    {"action": "LONG", "symbol": "BTCUSDT", "size": 100, "leverage": 5,
     "reasoning": "breakout above the range"},
    {"action": "LONG", "symbol": "ETHUSDT", "size": 10, "leverage": 2},
    {"action": "CLOSE", "closePositionId": "424242"},
])


@pytest.fixture
def fake():
    with FakeLLM() as server:
        yield server


def run_turn(*args: str) -> str:
    out = StringIO()
    call_command("run_turn", *args, stdout=out, no_color=True)
    return out.getvalue()


@pytest.mark.django_db
def test_run_turn_prints_what_each_bot_decided_executed_and_had_rejected(user, fake, provider):
    fake.script("gpt-fake", Reply(text=TRADER_REPLY, prompt_tokens=1200, completion_tokens=80))
    fake.script("broken", Reply(status=401, error="Incorrect API key provided"))
    trader = openai_bot(owner=user, fake=fake, model="gpt-fake", name="Trader")
    broken = openai_bot(owner=user, fake=fake, model="broken", name="Broken")
    sleeper = bot_create(owner=user, name="Sleeper", prompt="zzz", provider=provider)
    bots_set_paused(bots=Bot.objects.filter(pk=sleeper.pk), paused=True)

    text = run_turn()

    turn = Turn.objects.get()
    decision = Decision.objects.get(bot=trader)
    position = Position.objects.get(bot=trader)
    assert text.startswith("market refreshed: 6 prices\n")
    assert f"turn {turn.pk} (finished), 2 bot(s)" in text
    assert "Sleeper" not in text, "a paused bot is not in a scheduled turn"
    trader_part, broken_part = text.split("Broken (bot")
    assert f"Trader (bot {trader.pk})" in trader_part
    assert re.search(rf"  decision {decision.pk}: model gpt-fake, \d+ ms, 1200/80 tokens\n", trader_part)
    assert "  decided:  LONG BTCUSDT 100 USDT x5\n            “breakout above the range”\n" in trader_part
    assert "  decided:  LONG ETHUSDT 10 USDT x2\n" in trader_part
    assert "  decided:  CLOSE position 424242\n" in trader_part
    assert f"  executed: decision 1 (LONG BTCUSDT): opened #{position.pk} LONG BTCUSDT 100" in trader_part
    assert ("  rejected: decision 2 (LONG ETHUSDT): margin 10 USDT is below the minimum trade of 50 USDT\n"
            in trader_part)
    assert "  rejected: decision 3 (CLOSE): no open position 424242 of this bot\n" in trader_part
    assert f"{broken.pk})" in broken_part
    assert "  error:    openai: HTTP 401 from http://127.0.0.1:" in broken_part
    assert "Incorrect API key provided" in broken_part
    assert "executed" not in broken_part


@pytest.mark.django_db
def test_run_turn_shows_why_a_decision_was_dropped_by_the_parser(user, fake):
    fake.default = Reply(text=json.dumps([{"action": "LONG", "symbol": "BTCUSDT", "size": 100,
                                           "leverage": 5000}]))
    openai_bot(owner=user, fake=fake, model="wild", name="Wild")

    text = run_turn()

    assert "leverage 5000 is not a number the exchange accepts" in text


@pytest.mark.django_db
def test_run_turn_for_one_bot_runs_it_even_when_paused_and_no_other(user, fake):
    fake.default = Reply(text=json.dumps([{"action": "SHORT", "symbol": "SOLUSDT", "size": 60,
                                           "leverage": 2}]))
    paused = openai_bot(owner=user, fake=fake, model="paused", name="Paused", is_paused=True)
    other = openai_bot(owner=user, fake=fake, model="other", name="Other")

    # The prices this test needs, written now: SOL at 100 with a step of 0.1.
    Market.objects.create(symbol="SOLUSDT", base_asset="SOL", last_price=Decimal("100"),
                          mark_price=Decimal("100"), tick_size=Decimal("0.01"), step_size=Decimal("0.1"),
                          updated_at=timezone.now())
    ArenaSettings.objects.update_or_create(id=1, defaults={"default_symbols": ["SOLUSDT"]})

    text = run_turn("--bot", str(paused.pk), "--no-refresh")

    turn = Turn.objects.get()
    assert turn.forced and turn.slot is None
    assert f"turn {turn.pk} (finished), 1 bot(s)" in text
    assert f"Paused (bot {paused.pk})" in text and "Other" not in text
    position = Position.objects.get(bot=paused)
    # 100 less 1 bp of slippage against the short.
    opened = f"opened #{position.pk} SHORT SOLUSDT 60 USDT x2 at 99.99"
    assert f"  executed: decision 1 (SHORT SOLUSDT): {opened}" in text
    assert [r.model for r in fake.requests] == ["paused"]
    assert not Decision.objects.filter(bot=other).exists()
    paused.refresh_from_db()
    assert paused.is_paused, "running it once does not resume it"


@pytest.mark.django_db
def test_run_turn_refuses_an_unknown_or_deleted_bot(user, fake):
    gone = openai_bot(owner=user, fake=fake, model="gone", is_active=False)
    with pytest.raises(CommandError, match="no active bot with id 999999"):
        run_turn("--bot", "999999")
    with pytest.raises(CommandError, match=f"no active bot with id {gone.pk}"):
        run_turn("--bot", str(gone.pk))
    assert not Turn.objects.exists() and fake.requests == []


@pytest.mark.django_db
def test_run_turn_no_refresh_refuses_a_stale_or_empty_market(user, fake):
    openai_bot(owner=user, fake=fake, model="m", name="M")
    ArenaSettings.objects.update_or_create(id=1, defaults={"default_symbols": ["BTCUSDT", "ETHUSDT"]})

    with pytest.raises(CommandError, match="BTCUSDT: no price yet; ETHUSDT: no price yet"):
        run_turn("--no-refresh")

    old = timezone.now() - timedelta(minutes=10)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        Market.objects.create(symbol=symbol, base_asset=symbol[:3], last_price=Decimal("100"),
                              mark_price=Decimal("100"), updated_at=old)
    with pytest.raises(CommandError, match=r"BTCUSDT: price is 6\d\d s old \(at most 30 s\).*"
                                           r"run without --no-refresh"):
        run_turn("--no-refresh")
    assert not Turn.objects.exists() and fake.requests == []
