"""Replaying real Binance XRPUSDT candles and funding rates through the engine's services."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.trading.conftest import set_price
from trading import perps, tiers
from trading.models import Position
from trading.services import funding_apply, position_open, positions_mark, triggers_check

pytestmark = pytest.mark.django_db

D = Decimal
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles"


def load(name: str) -> list[list]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"shared market data not found at {path}")
    return json.loads(path.read_text())


def bar(row: list) -> perps.Bar:
    return perps.Bar(*(D(str(v)) for v in row[1:5]))


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def replay(position: Position, candles: list[list], start: int) -> int | None:
    """Feed candles after ``start`` to the refresh services until the position closes."""
    for index in range(start + 1, len(candles)):
        row = candles[index]
        triggers_check(ranges={"XRPUSDT": bar(row)}, now=at(row[0]))
        positions_mark(prices={"XRPUSDT": D(str(row[4]))}, now=at(row[0]))
        position.refresh_from_db()
        if position.status == "closed":
            return index
    return None


def expected_exit(candles, start, side, stop, take):
    """The first candle crossing the stop or the target, by a plain loop over the raw JSON.

    Adverse first when both are inside one candle; a candle opening beyond a level fills at its open.
    """
    for index in range(start + 1, len(candles)):
        o, h, low, _ = (D(str(v)) for v in candles[index][1:5])
        if side == "LONG":
            if o <= stop:
                return index, "stop_loss", o
            if low <= stop:
                return index, "stop_loss", stop
            if o >= take:
                return index, "take_profit", o
            if h >= take:
                return index, "take_profit", take
        else:
            if o >= stop:
                return index, "stop_loss", o
            if h >= stop:
                return index, "stop_loss", stop
            if o <= take:
                return index, "take_profit", o
            if low <= take:
                return index, "take_profit", take
    return None


@pytest.mark.parametrize("side", ["LONG", "SHORT"])
@pytest.mark.parametrize("start", [100, 600, 1200, 1700])
@pytest.mark.parametrize("width", [D("0.01"), D("0.025")])
def test_stop_and_target_close_on_the_crossing_candle(bot, markets, frictionless, side, start, width):
    candles = load("XRPUSDT-5m.json")
    entry = D(str(candles[start][4]))
    sign = 1 if side == "LONG" else -1
    stop = (entry * (1 - sign * width)).quantize(D("0.0001"))
    take = (entry * (1 + sign * width)).quantize(D("0.0001"))
    set_price("XRPUSDT", entry)
    position = position_open(bot=bot, symbol="XRPUSDT", side=side, margin=D("500"), leverage=10,
                             stop_loss=stop, take_profit=take, now=at(candles[start][0])).position
    assert (position.entry_price, position.stop_loss, position.take_profit) == (entry, stop, take)
    expected = expected_exit(candles, start, side, stop, take)
    closed_at = replay(position, candles, start)
    assert expected is not None, "the data must cross one of the levels for this case to mean anything"
    assert (closed_at, position.close_reason, position.exit_price) == expected
    gross = perps.unrealized_pnl(side, entry, expected[2], position.quantity).quantize(D("1E-8"))
    fee = perps.fee(expected[2] * position.quantity, D("0.0005")).quantize(D("1E-8"))
    assert position.realized_pnl == gross - fee


def test_a_20x_long_through_the_crash_is_liquidated_losing_its_margin(bot, markets, frictionless):
    candles = load("XRPUSDT-5m.json")
    start = 84  # the week's high, before a 17% fall
    entry = D(str(candles[start][4]))
    set_price("XRPUSDT", entry)
    position = position_open(bot=bot, symbol="XRPUSDT", side="LONG", margin=D("1000"), leverage=20,
                             now=at(candles[start][0])).position
    mmr, cum = tiers.maintenance("XRPUSDT", entry * position.quantity)
    exact = perps.liquidation_price("LONG", entry, position.quantity, D("1000"), mmr, cum)
    assert abs(position.liquidation_price - exact) < D("1E-10")
    bot.account.refresh_from_db()
    balance_before = bot.account.balance
    first_below = next(i for i in range(start + 1, len(candles))
                       if D(str(candles[i][3])) <= position.liquidation_price)
    assert replay(position, candles, start) == first_below
    assert position.close_reason == "liquidation"
    assert position.exit_price == position.liquidation_price
    assert position.realized_pnl == D("-1000")
    bot.account.refresh_from_db()
    assert bot.account.balance == balance_before  # the margin is gone, nothing else moved


def test_real_funding_rates_charge_the_computed_amounts(bot, markets, frictionless):
    candles = load("XRPUSDT-5m.json")
    funding = load("XRPUSDT-8h-funding.json")
    closes = {row[0]: D(str(row[4])) for row in candles}
    entry = D(str(candles[0][4]))
    set_price("XRPUSDT", entry)
    long = position_open(bot=bot, symbol="XRPUSDT", side="LONG", margin=D("2000"), leverage=3,
                         now=at(candles[0][0])).position
    short = position_open(bot=bot, symbol="XRPUSDT", side="SHORT", margin=D("2000"), leverage=3,
                          now=at(candles[0][0])).position
    charged = 0
    for row in funding:
        time = perps.last_funding_time(at(row[0]))
        mark = closes.get(int(time.timestamp() * 1000))
        if mark is None:
            continue  # outside the candle file: no mark price to charge at
        rate = D(str(row[1]))
        results = {r.position_id: r.amount for r in funding_apply(
            funding_time=time, rates={"XRPUSDT": rate}, marks={"XRPUSDT": mark})}
        owed = (long.quantity * mark * rate).quantize(D("1E-8"))
        assert results == {long.pk: -owed, short.pk: owed}
        charged += 1
    assert charged >= 10
    long.refresh_from_db()
    paid = sum(-e.amount for e in long.entries.filter(kind="funding"))
    assert long.margin == D("2000") - paid
    assert long.entries.filter(kind="funding").count() == charged
