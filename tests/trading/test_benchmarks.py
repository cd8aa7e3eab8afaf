"""A symbol held over a period, priced from stored candles (trading.benchmarks)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading.benchmarks import hold_of
from trading.models import Candle

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)


def candle(interval: str, at: datetime, open_: str, close: str, fetched: datetime | None = None) -> None:
    o, c = D(open_), D(close)
    Candle.objects.create(symbol="BTCUSDT", interval=interval, open_time=at, open=o, close=c,
                          high=max(o, c), low=min(o, c), volume=D("1"),
                          fetched_at=fetched or at + timedelta(days=1))


def test_the_first_open_and_the_last_close_inside_the_period_price_it():
    candle("1h", T0 - timedelta(hours=1), "100", "110")  # before the period: not used
    candle("1h", T0, "120", "125")
    candle("1h", T0 + timedelta(hours=1), "125", "130")
    candle("1h", T0 + timedelta(hours=3), "130", "150")  # opens after the end: not used
    hold = hold_of("BTCUSDT", start=T0, end=T0 + timedelta(hours=2))
    assert (hold.start_price, hold.end_price, hold.interval) == (D("120"), D("130"), "1h")
    assert hold.start_at == T0 and hold.end_at == T0 + timedelta(hours=2)
    assert hold.total_return == pytest.approx(130 / 120 - 1)


def test_the_finest_interval_stored_is_preferred():
    candle("1d", T0.replace(hour=0), "100", "200")
    candle("5m", T0, "120", "121")
    candle("5m", T0 + timedelta(minutes=5), "121", "126")
    hold = hold_of("BTCUSDT", start=T0.replace(hour=0), end=T0 + timedelta(hours=1))
    assert (hold.interval, hold.start_price, hold.end_price) == ("5m", D("120"), D("126"))


def test_a_candle_still_open_when_fetched_prices_the_end_at_its_fetch_time():
    fetched = T0 + timedelta(minutes=20)
    candle("1h", T0, "100", "104", fetched=fetched)
    hold = hold_of("BTCUSDT", start=T0, end=T0 + timedelta(hours=5))
    assert hold.end_at == fetched and hold.end_price == D("104")


def test_no_candle_in_the_period_is_none():
    candle("1h", T0 - timedelta(days=2), "100", "110")
    assert hold_of("BTCUSDT", start=T0, end=T0 + timedelta(hours=2)) is None
    assert hold_of("ETHUSDT", start=T0, end=T0 + timedelta(hours=2)) is None
