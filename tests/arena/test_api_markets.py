"""/api/markets/: anyone (signed in or not) reads the listed markets, one market, and its
stored candles, oldest first; bad query values are a 400 naming them; the feed is never
asked by these views."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.arena.api_helpers import client_for, error_of
from trading.models import Candle, Market

pytestmark = pytest.mark.django_db
D = Decimal
T0 = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def markets(db):
    btc = Market.objects.create(symbol="BTCUSDT", base_asset="BTC", last_price=D("60000.5"),
                                mark_price=D("60001"), funding_rate=D("0.0001"), next_funding_at=T0,
                                tick_size=D("0.1"),
                                step_size=D("0.001"), max_leverage=125, updated_at=T0)
    eth = Market.objects.create(symbol="ETHUSDT", base_asset="ETH", last_price=D("3000"),
                                mark_price=D("3000"), is_stale=True, updated_at=T0)
    gone = Market.objects.create(symbol="LUNAUSDT", last_price=D("1"), is_listed=False, updated_at=T0)
    return btc, eth, gone


def candles(symbol: str, interval: str, count: int, step: timedelta) -> list[Candle]:
    rows = [Candle(symbol=symbol, interval=interval, open_time=T0 + i * step, open=D(100 + i),
                   high=D(102 + i), low=D(99 + i), close=D(101 + i), volume=D("1.5"),
                   fetched_at=T0 + (i + 1) * step)
            for i in range(count)]
    return Candle.objects.bulk_create(rows)


def test_anyone_reads_the_listed_markets_by_symbol(markets):
    response = client_for().get("/api/markets/")
    assert response.status_code == 200
    body = response.json()
    assert [m["symbol"] for m in body] == ["BTCUSDT", "ETHUSDT"], "listed only, by symbol"
    btc = body[0]
    assert (D(btc["last_price"]), D(btc["mark_price"]), D(btc["funding_rate"])) == (
        D("60000.5"), D("60001"), D("0.0001"))
    assert (D(btc["tick_size"]), D(btc["step_size"]), btc["max_leverage"]) == (D("0.1"), D("0.001"), 125)
    assert btc["next_funding_at"] == "2030-01-01T00:00:00Z" and btc["updated_at"] == "2030-01-01T00:00:00Z"
    assert btc["is_stale"] is False and body[1]["is_stale"] is True
    assert isinstance(btc["last_price"], str), "prices leave as exact decimal strings"


def test_one_market_by_symbol_and_an_unknown_one_is_a_404(markets, user):
    response = client_for().get("/api/markets/BTCUSDT/")
    assert response.status_code == 200 and response.json()["symbol"] == "BTCUSDT"
    assert client_for(user).get("/api/markets/ethusdt/").json()["symbol"] == "ETHUSDT", "any case"
    delisted = client_for().get("/api/markets/LUNAUSDT/").json()
    assert delisted["is_listed"] is False, "a delisted market keeps its last prices"
    missing = client_for().get("/api/markets/NOPEUSDT/")
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert client_for().get("/api/markets/NOPEUSDT/candles/").status_code == 404


def test_candles_are_the_newest_stored_oldest_first(markets):
    candles("BTCUSDT", "1m", 10, timedelta(minutes=1))
    candles("BTCUSDT", "1h", 3, timedelta(hours=1))
    candles("ETHUSDT", "1m", 4, timedelta(minutes=1))
    response = client_for().get("/api/markets/BTCUSDT/candles/?interval=1m&limit=3")
    assert response.status_code == 200
    rows = response.json()
    assert [r["open_time"] for r in rows] == ["2030-01-01T00:07:00Z", "2030-01-01T00:08:00Z",
                                              "2030-01-01T00:09:00Z"]
    assert (D(rows[0]["open"]), D(rows[0]["high"]), D(rows[0]["low"]), D(rows[0]["close"]),
            D(rows[0]["volume"])) == (D(107), D(109), D(106), D(108), D("1.5"))
    hourly = client_for().get("/api/markets/BTCUSDT/candles/?interval=1h").json()
    assert len(hourly) == 3, "only the interval asked for"
    assert len(client_for().get("/api/markets/BTCUSDT/candles/?interval=1m").json()) == 10


def test_candles_between_start_and_end(markets):
    candles("BTCUSDT", "1m", 10, timedelta(minutes=1))

    def times(query: str) -> list[str]:
        response = client_for().get(f"/api/markets/BTCUSDT/candles/?interval=1m&{query}")
        assert response.status_code == 200, response.json()
        return [r["open_time"][14:16] for r in response.json()]

    assert times("start=2030-01-01T00:02:00Z&limit=3") == ["02", "03", "04"], "the first from start"
    assert times("start=2030-01-01T00:02:00Z&end=2030-01-01T00:04:00Z") == ["02", "03", "04"], "inclusive"
    assert times("end=2030-01-01T00:04:00Z&limit=2") == ["03", "04"], "the newest up to end"
    assert times("start=2030-01-02T00:00:00Z") == []


def test_no_stored_candles_is_an_empty_list_and_nothing_is_fetched(markets):
    response = client_for().get("/api/markets/BTCUSDT/candles/?interval=5m")
    assert response.status_code == 200 and response.json() == []
    assert not Candle.objects.exists(), "the view reads the table only; the feed is never asked"


@pytest.mark.parametrize(("query", "field"), [
    ("interval=2m", "interval"),
    ("interval=", "interval"),
    ("limit=1001", "limit"),
    ("limit=0", "limit"),
    ("limit=many", "limit"),
    ("start=yesterday", "start"),
    ("start=2030-01-02T00:00:00Z&end=2030-01-01T00:00:00Z", "end"),
    ("intervall=1m", "intervall"),
])
def test_a_bad_candle_query_is_a_400_naming_the_parameter(markets, query, field):
    response = client_for().get(f"/api/markets/BTCUSDT/candles/?{query}")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid" and field in error["fields"], error


def test_the_limit_is_at_most_a_thousand(markets):
    candles("BTCUSDT", "1m", 1005, timedelta(minutes=1))
    rows = client_for().get("/api/markets/BTCUSDT/candles/?interval=1m&limit=1000").json()
    assert len(rows) == 1000 and rows[-1]["open_time"] == "2030-01-01T16:44:00Z"
