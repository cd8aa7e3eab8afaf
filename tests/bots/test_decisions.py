"""One line per decided action, the same in the prompt, the summary request and run_turn."""
from __future__ import annotations

from bots.decisions import action_text, actions_of

OPEN = {"action": "LONG", "symbol": "BTCUSDT", "margin": "100", "leverage": 5, "stop_loss": "95",
        "take_profit": "110", "close_position_id": None, "reasoning": "breakout"}


def test_an_open_in_full_and_brief():
    assert action_text(OPEN) == "LONG BTCUSDT 100 USDT x5 SL 95 TP 110"
    assert action_text(OPEN, brief=True) == "LONG BTCUSDT 100 x5"


def test_a_close_names_its_position():
    close = {"action": "CLOSE", "symbol": None, "margin": None, "close_position_id": 42}
    assert action_text(close) == "CLOSE position 42"
    assert action_text(close, brief=True) == "CLOSE"


def test_missing_and_empty_fields_are_left_out():
    assert action_text({}) == "?"
    assert action_text({"action": "SHORT", "symbol": "", "margin": "", "leverage": 0}) == "SHORT x0"


def test_actions_of_keeps_only_action_dicts():
    assert actions_of([OPEN, "text", None, {"action": "HOLD"}]) == [OPEN, {"action": "HOLD"}]
    assert actions_of({"action": "LONG"}) == [] and actions_of(None) == []
