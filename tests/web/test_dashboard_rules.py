"""The dashboard's pure rules: staleness, the next turn, a decision's line, ranking, formats."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from arena.web.dashboard import rules

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_market_is_stale_after_three_refresh_intervals():
    fresh = NOW - timedelta(seconds=29)
    old = NOW - timedelta(seconds=31)
    assert rules.market_stale_since(fresh, now=NOW, refresh_interval_seconds=10) is None
    assert rules.market_stale_since(old, now=NOW, refresh_interval_seconds=10) == old
    assert rules.market_stale_since(None, now=NOW, refresh_interval_seconds=10) is None
    assert rules.stale_after_seconds(10) == 30


def test_next_turn_is_one_interval_after_the_last_run():
    assert rules.next_turn_at(last_run_at=NOW, interval_seconds=300) == NOW + timedelta(minutes=5)
    assert rules.next_turn_at(last_run_at=None, interval_seconds=300) is None


def test_decision_line_names_the_actions_and_the_first_reasoning():
    actions = [{"action": "long", "symbol": "BTCUSDT", "leverage": 5, "reasoning": "Breakout  above\nrange"},
               {"action": "CLOSE", "symbol": "ETHUSDT", "reasoning": "done"}]
    assert rules.decision_line(actions, success=True, error="", show_reasoning=True) == (
        "LONG BTCUSDT 5x, CLOSE ETHUSDT", "Breakout above range")
    assert rules.decision_line(actions, success=True, error="", show_reasoning=False)[1] == ""
    assert rules.decision_line([], success=True, error="", show_reasoning=True) == ("HOLD", "")
    failed = rules.decision_line("junk", success=False, error="timeout", show_reasoning=True)
    assert failed == ("failed", "timeout")


def test_truncated_cuts_at_a_word_with_an_ellipsis():
    text = "word " * 100
    cut = rules.truncated(text, 40)
    assert len(cut) <= 40 and cut.endswith("…") and not cut.endswith(" …")
    assert rules.truncated("short", 40) == "short"


def test_ranked_puts_the_highest_first_and_the_unvalued_last():
    values = {"a": Decimal("5"), "b": None, "c": Decimal("9")}
    order = [(r.rank, r.item) for r in rules.ranked(["a", "b", "c"], value=values.get)]
    assert order == [(1, "c"), (2, "a"), (3, "b")]


def test_range_start():
    assert rules.range_start("24h", now=NOW, earliest=None) == NOW - timedelta(hours=24)
    assert rules.range_start("72h", now=NOW, earliest=None) == NOW - timedelta(hours=72)
    first = NOW - timedelta(days=40)
    assert rules.range_start("all", now=NOW, earliest=first) == first
    assert rules.range_start("all", now=NOW, earliest=None) == NOW - timedelta(days=1)


def test_formats():
    assert rules.money(Decimal("12345.678")) == "12,345.68"
    assert rules.money(None) == "—"
    assert rules.signed_money(Decimal("3.1")) == "+3.10"
    assert rules.signed_money(Decimal("-3.1")) == "-3.10"
    assert rules.signed_money(Decimal("0.001")) == "0.00"
    assert rules.pct(0.0123, signed=True) == "+1.23 %"
    assert rules.pct(Decimal("0.5")) == "50.00 %"
    assert rules.tone(Decimal("-1")) == "neg" and rules.tone(0) == "" and rules.tone(None) == ""
    assert rules.price(Decimal("69392.8000")) == "69,392.8"
    assert rules.price(Decimal("0.1556")) == "0.1556"
    assert rules.price(None) == "—"
