"""The bot page's pure rules: how an action is labelled, a decision's reasoning, the pages
of a list, the figures' texts and the chart's markers and lines."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from arena.web.bot_page.chart import bar_time, position_lines, trade_markers
from arena.web.bot_page.present import (
    action_label,
    actions_summary,
    cursor_of,
    figure_cells,
    money_text,
    page_of,
    percent_text,
    price_text,
    reasoning_of,
    return_fraction,
    tone_of,
    tool_call_texts,
)

D = Decimal


@pytest.mark.parametrize(("action", "label"), [
    ({"action": "LONG", "symbol": "BTCUSDT", "leverage": 5}, "LONG BTCUSDT 5x"),
    ({"action": "SHORT", "symbol": "ETHUSDT", "leverage": None}, "SHORT ETHUSDT"),
    ({"action": "CLOSE", "symbol": "ETHUSDT", "side": "SHORT"}, "CLOSE ETHUSDT SHORT"),
    ({"action": "ANALYZE", "symbol": "BTCUSDT", "tool": "volatility"}, "ANALYZE volatility"),
    ({"action": "hold"}, "HOLD"),
    ({}, "?"),
])
def test_an_action_is_labelled_by_what_it_says(action, label):
    assert action_label(action) == label


def test_a_decision_summary_joins_its_actions_and_says_when_there_are_none():
    assert actions_summary([{"action": "LONG", "symbol": "BTCUSDT", "leverage": 3}, {"action": "HOLD"}]) \
        == "LONG BTCUSDT 3x · HOLD"
    assert actions_summary([]) == "no action" and actions_summary(None) == "no action"
    assert actions_summary(["not an action"]) == "no action"


def test_reasoning_is_each_actions_text_once_in_order():
    actions = [{"reasoning": " up "}, {"reasoning": "up"}, {"reasoning": ""}, {"reasoning": "down"}, "junk"]
    assert reasoning_of(actions) == ["up", "down"]
    assert reasoning_of(None) == []


def test_return_is_on_the_initial_balance_and_unknown_without_one():
    assert return_fraction(total_value=D("10500"), initial_balance=D("10000")) == D("0.05")
    assert return_fraction(total_value=None, initial_balance=D("10000")) is None
    assert return_fraction(total_value=D("1"), initial_balance=D("0")) is None


@pytest.mark.parametrize(("raw", "cursor"),
                         [("42", 42), ("0", None), ("-3", None), ("x", None), (None, None)])
def test_a_pager_cursor_is_a_positive_id_or_the_first_page(raw, cursor):
    assert cursor_of(raw) == cursor


@dataclass
class Row:
    pk: int


def test_a_page_knows_whether_an_older_one_exists_from_its_extra_row():
    full = page_of([Row(9), Row(8), Row(7)], size=2, before=None)
    assert [r.pk for r in full.rows] == [9, 8] and full.older == 8 and full.first
    last = page_of([Row(3)], size=2, before=8)
    assert [r.pk for r in last.rows] == [3] and last.older is None and not last.first
    assert page_of([], size=2, before=None).older is None


def test_money_percent_and_tone_texts():
    assert money_text(D("1234.567")) == "1,234.57" and money_text(None) == "—"
    assert money_text(D("12"), signed=True) == "+12.00" and money_text(D("-3.2"), signed=True) == "-3.20"
    assert money_text(D("0"), signed=True) == "0.00"
    assert percent_text(D("0.0123")) == "+1.23 %" and percent_text(D("0.4"), signed=False) == "40.00 %"
    assert percent_text(None) == "—"
    assert (tone_of(D("1")), tone_of(D("-1")), tone_of(D("0")), tone_of(None)) == ("pos", "neg", "", "")
    assert price_text(D("60000.00000000")) == "60000" and price_text(D("0.12340")) == "0.1234"
    assert price_text(None) == "—"


def test_figure_cells_say_unknown_before_the_first_snapshot():
    cells = figure_cells({"cash": D("10000"), "total_value": None, "return": None, "trade_count": None})
    by_label = {c["label"]: c["text"] for c in cells}
    assert by_label["Cash"] == "10,000.00" and by_label["Total value"] == "—" and by_label["Trades"] == "—"
    assert [c["label"] for c in cells] == ["Total value", "Return", "Cash", "Unrealized PnL", "Realized PnL",
                                           "Win rate", "Trades"]


def test_tool_calls_are_shown_as_json():
    calls = tool_call_texts([{"step": 1, "tool": "volatility", "args": {"symbol": "BTCUSDT"},
                              "result": {"v": 2}}])
    assert calls == [{"tool": "volatility", "step": "1", "args": '{\n  "symbol": "BTCUSDT"\n}',
                      "result": '{\n  "v": 2\n}'}]


def trade(pk, kind, side, minute, reason="", leverage=5):
    return SimpleNamespace(pk=pk, kind=kind, side=side, reason=reason, leverage=leverage,
                           executed_at=datetime(2026, 1, 1, 10, minute, tzinfo=UTC))


def test_markers_sit_on_their_bar_oldest_first_shaped_by_kind_and_side():
    hour = 3600
    markers = trade_markers([trade(2, "CLOSE", "LONG", 50, "stop_loss"), trade(1, "OPEN", "LONG", 5),
                             trade(3, "OPEN", "SHORT", 55), trade(4, "CLOSE", "SHORT", 58, "decision")], hour)
    ten = int(datetime(2026, 1, 1, 10, tzinfo=UTC).timestamp())
    assert [m["time"] for m in markers] == [ten] * 4
    assert [(m["shape"], m["position"]) for m in markers] == [
        ("arrowUp", "belowBar"), ("circle", "aboveBar"), ("arrowDown", "aboveBar"), ("circle", "belowBar")]
    assert [m["text"] for m in markers] == ["LONG 5x", "stop-loss", "SHORT 5x", ""]
    assert bar_time(datetime(2026, 1, 1, 10, 59, tzinfo=UTC), hour) == ten


def test_lines_are_the_prices_a_position_has():
    position = SimpleNamespace(pk=7, side="LONG", entry_price=D("100"), stop_loss=D("90"), take_profit=None,
                               liquidation_price=D("80.5"))
    assert [(line["title"], line["price"]) for line in position_lines([position])] == [
        ("LONG entry", 100.0), ("SL", 90.0), ("Liq.", 80.5)]
