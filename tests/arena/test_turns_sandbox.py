"""Sandbox bots: the model asks for analysis tools, sees their results, then decides."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from arena.turns.converse import MAX_STEPS
from arena.turns.run import turn_run
from bots.models import Decision
from tests.arena.fake_llm import FakeLLM, Reply, openai_bot
from trading.feeds.simulated import SimulatedFeed
from trading.models import Position
from trading.services.market import market_refresh_and_trigger

NOW = datetime(2026, 3, 2, 12, 0, 30, tzinfo=UTC)
ANALYZE = json.dumps([{"action": "ANALYZE", "tool": "indicators", "args": {"symbol": "BTCUSDT"}}])
LONG = json.dumps([{"action": "LONG", "symbol": "BTCUSDT", "size": 100, "leverage": 3,
                    "reasoning": "RSI and trend agree"}])


@pytest.fixture
def fake():
    with FakeLLM() as server:
        yield server


@pytest.fixture
def markets(db):
    market_refresh_and_trigger(feed=SimulatedFeed(seed="t", clock=lambda: NOW), now=NOW)


def sandbox_bot(user, fake, model: str):
    # One symbol: a sandbox bot's tools get every interval's candles loaded before the calls.
    return openai_bot(owner=user, fake=fake, model=model, sandbox_enabled=True, symbols=["BTCUSDT"])


@pytest.mark.django_db
def test_a_sandbox_bot_sees_its_tool_results_and_then_decides(user, fake, markets):
    fake.script("analyst", Reply(text=ANALYZE, prompt_tokens=1000, completion_tokens=30),
                Reply(text=LONG, prompt_tokens=1500, completion_tokens=40))
    bot = sandbox_bot(user, fake, "analyst")

    [outcome] = turn_run(now=NOW).outcomes

    first, second = fake.for_model("analyst")
    decision = Decision.objects.get(bot=bot)
    [call] = decision.tool_calls
    assert (call["step"], call["tool"], call["args"]) == (1, "indicators", {"symbol": "BTCUSDT"})
    result = call["result"]
    assert result["symbol"] == "BTCUSDT" and result["interval"] == "1h" and result["candles"] == 200
    assert result["rsi14"] is not None and result["trend"] is not None

    # The second request carries the first prompt, the model's answer and the tool output.
    assert "ANALYZE" in first.message("user") and "## TOOL RESULTS" not in first.message("user")
    follow_up = second.message("user")
    assert follow_up.startswith(first.message("user") + "\n\n" + ANALYZE)
    assert "## TOOL RESULTS" in follow_up
    # The stored result came back from the database (PostgreSQL's jsonb orders keys its
    # own way), so compare field by field rather than as one JSON text.
    for key, value in result.items():
        assert json.dumps({key: value}, ensure_ascii=False)[1:-1] in follow_up, key
    assert second.message("system") == first.message("system")

    assert decision.success and decision.prompt == first.message("user")
    assert decision.raw_response == f"{ANALYZE}\n\n--- next step ---\n\n{LONG}"
    assert [a["action"] for a in decision.actions] == ["LONG"]
    assert (decision.tokens_in, decision.tokens_out) == (2500, 70), "usage adds up over the steps"
    position = Position.objects.get(bot=bot)
    assert (position.symbol, position.side, position.leverage) == ("BTCUSDT", "LONG", 3)
    assert outcome.executed and not outcome.rejected


@pytest.mark.django_db
def test_a_sandbox_bot_that_only_analyses_stops_after_five_steps(user, fake, markets):
    unknown = json.dumps([{"action": "ANALYZE", "tool": "astrology", "args": {"sign": "leo"}}])
    fake.script("dithering", Reply(text=unknown), *[Reply(text=ANALYZE)] * 5)
    bot = sandbox_bot(user, fake, "dithering")

    turn_run(now=NOW)

    assert len(fake.for_model("dithering")) == MAX_STEPS == 5, "a sixth call is never made"
    decision = Decision.objects.get(bot=bot)
    assert decision.success and decision.actions == []
    assert any(f"analysis steps exhausted after {MAX_STEPS} calls" in note for note in decision.notes)
    # Steps 1-4 ran their tools; the fifth answer's requests were not run.
    assert [c["step"] for c in decision.tool_calls] == [1, 2, 3, 4]
    assert set(decision.tool_calls[0]["result"]) == {"error"}
    assert "unknown tool 'astrology'" in decision.tool_calls[0]["result"]["error"]
    assert "unknown tool 'astrology'" in fake.for_model("dithering")[1].message("user")
    assert decision.raw_response.count("--- next step ---") == MAX_STEPS - 1
    assert not Position.objects.filter(bot=bot).exists()


@pytest.mark.django_db
def test_analysis_is_refused_to_a_bot_without_the_sandbox(user, fake, markets):
    fake.script("plain", Reply(text=ANALYZE))
    bot = openai_bot(owner=user, fake=fake, model="plain", symbols=["BTCUSDT"])

    turn_run(now=NOW)

    assert len(fake.for_model("plain")) == 1
    decision = Decision.objects.get(bot=bot)
    assert decision.tool_calls == [] and decision.actions == []
    assert any("ANALYZE is not available to this bot" in note for note in decision.notes)
