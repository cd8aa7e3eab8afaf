"""Refreshing markets, firing triggers from the price path, storing candles, the command."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
import respx
from django.core.management import call_command

from bots.services import bot_create
from trading import perps
from trading.feeds import FeedError
from trading.feeds.simulated import SimulatedFeed
from trading.models import Candle, Market, Position
from trading.services import position_open
from trading.services.market import (
    candles_fetch_and_store,
    market_refresh_and_trigger,
    markets_refresh,
    symbols_to_refresh,
)

pytestmark = pytest.mark.django_db

D = Decimal
SEED = "refresh-test"
T0 = datetime(2026, 3, 2, 10, 15, 3, tzinfo=UTC)
SIX = ["BNBUSDT", "BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]


class Clock:
    """A settable clock for the simulated feed."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class CountingFeed:
    """The simulated feed, counting what is asked of it (and able to fail on demand)."""

    def __init__(self, clock: Clock) -> None:
        self.inner = SimulatedFeed(SEED, clock=clock)
        self.calls: Counter[str] = Counter()
        self.candle_limits: list[int] = []
        self.failure: FeedError | None = None

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.failure is not None:
            raise self.failure

    def tickers(self, symbols):
        self._call("tickers")
        return self.inner.tickers(symbols)

    def symbols(self, wanted=None):
        self._call("symbols")
        return self.inner.symbols(wanted)

    def candles(self, symbol, interval, limit, end=None):
        self._call("candles")
        self.candle_limits.append(limit)
        return self.inner.candles(symbol, interval, limit, end)

    def price_range(self, symbol, start, end):
        self._call("price_range")
        return self.inner.price_range(symbol, start, end)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def feed(clock) -> CountingFeed:
    return CountingFeed(clock)


def test_refresh_creates_markets_with_prices_and_filters(feed):
    result = markets_refresh(feed=feed, symbols=["btcusdt", "SOLUSDT", "LINKUSDT"], now=T0)
    assert result.stale == [] and result.error is None
    assert set(result.prices) == {"BTCUSDT", "SOLUSDT", "LINKUSDT"}
    btc = Market.objects.get(symbol="BTCUSDT")
    ticker = feed.inner.ticker_at("BTCUSDT", T0)
    assert (btc.last_price, btc.mark_price, btc.change_24h_pct) == (
        ticker.last_price, ticker.mark_price, ticker.change_24h_pct
    )
    assert btc.funding_rate == ticker.funding_rate and btc.next_funding_at == ticker.next_funding_at
    filters = (btc.tick_size, btc.step_size, btc.base_asset, btc.max_leverage)
    assert filters == (D("0.1"), D("0.001"), "BTC", 125)
    assert btc.is_listed and not btc.is_stale and btc.updated_at == T0
    sol = Market.objects.get(symbol="SOLUSDT")
    assert (sol.tick_size, sol.step_size) == (D("0.01"), D("1"))
    link = Market.objects.get(symbol="LINKUSDT")
    assert link.last_price > 0 and link.tick_size is not None and link.is_listed
    # A new market has no history yet: its range is the price itself.
    price = btc.last_price
    assert result.ranges["BTCUSDT"] == perps.Bar(price, price, price, price)


def test_a_later_refresh_updates_prices_and_returns_the_path_since(feed, clock):
    markets_refresh(feed=feed, symbols=["ETHUSDT"], now=T0)
    before = Market.objects.get(symbol="ETHUSDT").last_price
    clock.now = later = T0 + timedelta(minutes=20)
    result = markets_refresh(feed=feed, symbols=["ETHUSDT"], now=later)
    market = Market.objects.get(symbol="ETHUSDT")
    assert market.last_price == feed.inner.price_at("ETHUSDT", later) == result.prices["ETHUSDT"]
    assert market.updated_at == later
    bar = result.ranges["ETHUSDT"]
    assert (bar.open, bar.close) == (before, market.last_price)
    assert bar == feed.inner.price_range("ETHUSDT", T0, later)
    # The listing was fetched once: same UTC day, filters known.
    assert feed.calls["symbols"] == 1


def test_the_listing_is_fetched_again_on_a_new_utc_day(feed, clock):
    markets_refresh(feed=feed, symbols=["BTCUSDT"], now=T0)
    clock.now = T0.replace(hour=23, minute=59)
    markets_refresh(feed=feed, symbols=["BTCUSDT"], now=clock.now)
    assert feed.calls["symbols"] == 1
    clock.now = T0.replace(hour=0, minute=0, second=5) + timedelta(days=1)
    markets_refresh(feed=feed, symbols=["BTCUSDT"], now=clock.now)
    assert feed.calls["symbols"] == 2


def test_a_feed_failure_keeps_prices_marks_stale_and_blocks_opens(feed, clock, bot):
    markets_refresh(feed=feed, symbols=SIX, now=T0)
    prices = dict(Market.objects.values_list("symbol", "last_price"))
    feed.failure = FeedError("GET /fapi/v1/ticker/24hr: HTTP 503")
    clock.now = later = T0 + timedelta(minutes=1)
    result = markets_refresh(feed=feed, symbols=SIX, now=later)
    assert result.stale == SIX and result.prices == {} and result.ranges == {}
    assert "HTTP 503" in result.error
    for market in Market.objects.all():
        assert market.is_stale and market.last_price == prices[market.symbol]
        assert market.updated_at == T0  # when those prices were last true
    opened = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=2)
    assert opened.position is None
    assert any("stale" in note for note in opened.notes)
    # The next good refresh clears the flag.
    feed.failure = None
    markets_refresh(feed=feed, symbols=SIX, now=later)
    assert not Market.objects.filter(is_stale=True).exists()


def test_a_symbol_the_feed_does_not_quote_goes_stale_alone(feed):
    result = markets_refresh(feed=feed, symbols=["BTCUSDT", "BTCUSDC"], now=T0)
    assert result.stale == ["BTCUSDC"] and "BTCUSDC" in result.error
    assert Market.objects.get(symbol="BTCUSDC").is_stale
    assert Market.objects.get(symbol="BTCUSDC").last_price is None
    assert not Market.objects.get(symbol="BTCUSDT").is_stale


def test_refresh_covers_defaults_bot_symbols_and_open_positions(user, provider, bot):
    bot_create(owner=user, name="Linker", prompt="p", provider=provider, symbols=["LINKUSDT"])
    retired = bot_create(owner=user, name="Gone", prompt="p", provider=provider, symbols=["OLDUSDT"])
    retired.is_active = False
    retired.save(update_fields=["is_active"])
    Position.objects.create(
        bot=bot, symbol="ADAUSDT", side="LONG", margin=D("100"), leverage=2, quantity=D("100"),
        entry_price=D("0.5"),
    )
    assert symbols_to_refresh() == sorted([*SIX, "LINKUSDT", "ADAUSDT"])


def _dip(feed: SimulatedFeed, start: datetime) -> tuple[datetime, perps.Bar]:
    """A later time whose path dipped well below both ends since ``start``."""
    p0 = feed.price_at("BTCUSDT", start)
    for minutes in range(2, 600):
        end = start + timedelta(minutes=minutes)
        bar = feed.price_range("BTCUSDT", start, end)
        if min(p0, bar.close) - bar.low > D("30"):
            return end, bar
    raise AssertionError("no dip found in ten hours of path")


def test_the_path_between_refreshes_fires_a_stop(feed, clock, bot, frictionless):
    markets_refresh(feed=feed, symbols=SIX, now=T0)
    entry = Market.objects.get(symbol="BTCUSDT").last_price
    t1, path = _dip(feed.inner, T0)
    # A stop the straight move from T0 to t1 never reaches, but the path did.
    stop = perps.round_to((path.low + min(entry, path.close)) / 2, D("0.1"), "ROUND_HALF_EVEN")
    assert path.low < stop < min(entry, path.close)
    position = position_open(bot=bot, symbol="BTCUSDT", side="LONG", margin=D("100"), leverage=2,
                             stop_loss=stop, now=T0).position
    assert position is not None and position.entry_price == entry
    clock.now = t1
    summary = market_refresh_and_trigger(feed=feed, now=t1)
    assert summary["closes"] == [(position.pk, "stop_loss", stop)]
    assert summary["stale"] == [] and summary["error"] is None
    position.refresh_from_db()
    assert (position.status, position.close_reason, position.exit_price) == ("closed", "stop_loss", stop)


def test_open_positions_are_marked_and_untouched_stops_stay_open(feed, clock, bot, frictionless):
    markets_refresh(feed=feed, symbols=SIX, now=T0)
    entry = Market.objects.get(symbol="ETHUSDT").last_price
    position = position_open(bot=bot, symbol="ETHUSDT", side="SHORT", margin=D("100"), leverage=2,
                             stop_loss=entry * 2, now=T0).position
    clock.now = t1 = T0 + timedelta(minutes=5)
    summary = market_refresh_and_trigger(feed=feed, now=t1)
    assert summary["closes"] == [] and summary["marked"] == 1
    position.refresh_from_db()
    mark = feed.inner.price_at("ETHUSDT", t1)
    assert position.status == "open" and position.mark_price == mark and position.marked_at == t1
    assert position.unrealized_pnl == ((entry - mark) * position.quantity).quantize(D("1e-8"))


def test_candles_are_stored_and_closed_ones_reused(feed, clock):
    now = T0
    first = candles_fetch_and_store(feed=feed, symbol="btcusdt", interval="1m", limit=10, now=now)
    assert feed.candle_limits == [10]
    expected = feed.inner.candles("BTCUSDT", "1m", 10, end=now)
    assert [(c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in first] == [
        (c.open_time, c.open, c.high, c.low, c.close, c.volume) for c in expected
    ]
    assert Candle.objects.count() == 10
    # Same instant: everything stored is as fresh as the feed's answer.
    assert candles_fetch_and_store(feed=feed, symbol="BTCUSDT", interval="1m", limit=10, now=now) == first
    assert feed.candle_limits == [10]
    # Later in the same minute: only the open candle is asked for again.
    candles_fetch_and_store(feed=feed, symbol="BTCUSDT", interval="1m", limit=10,
                            now=now + timedelta(seconds=20))
    assert feed.candle_limits == [10, 1]
    # Five minutes on: the candle that was open, and the five new ones.
    now = T0 + timedelta(minutes=5)
    later = candles_fetch_and_store(feed=feed, symbol="BTCUSDT", interval="1m", limit=10, now=now)
    assert feed.candle_limits == [10, 1, 6]
    # Closed candles are the stored rows, unchanged (not even re-fetched).
    def facts(rows):
        return [(c.pk, c.open_time, c.high, c.low, c.close, c.volume, c.fetched_at) for c in rows]

    assert facts(later[:4]) == facts(first[5:-1])
    assert later[-1].open_time == now.replace(second=0)
    assert later[-1].close == feed.inner.price_at("BTCUSDT", now)
    assert Candle.objects.count() == 15


def test_a_closed_candle_is_never_rewritten(feed):
    candles_fetch_and_store(feed=feed, symbol="ETHUSDT", interval="5m", limit=6, now=T0)
    final = Candle.objects.filter(symbol="ETHUSDT").order_by("open_time").first()
    final.high += 1  # a value the feed would never return
    final.save(update_fields=["high"])
    again = candles_fetch_and_store(feed=feed, symbol="ETHUSDT", interval="5m", limit=12,
                                    now=T0 + timedelta(minutes=15))
    assert feed.candle_limits == [6, 12]  # the six older ones were missing, so asked for
    assert Candle.objects.get(pk=final.pk).high == final.high
    assert [c.open_time for c in again] == sorted({c.open_time for c in again})
    assert len(again) == 12


def test_candles_for_refuses_bad_requests(feed):
    for interval, limit in (("2h", 5), ("1h", 0), ("1h", 5_000)):
        with pytest.raises(ValueError):
            candles_fetch_and_store(feed=feed, symbol="BTCUSDT", interval=interval, limit=limit, now=T0)


def test_the_command_prints_a_table(db):
    out = StringIO()
    call_command("refresh_market", "--feed", "simulated", stdout=out, stderr=StringIO())
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["symbol", "price", "24h", "%", "funding", "stale"]
    rows = {line.split()[0]: line.split() for line in lines[1:7]}
    assert sorted(rows) == SIX
    btc = Market.objects.get(symbol="BTCUSDT")
    assert D(rows["BTCUSDT"][1]) == btc.last_price and rows["BTCUSDT"][-1] == "no"
    assert rows["BTCUSDT"][1].split(".")[1] in {str(d) for d in range(10)}  # on BTC's 0.1 tick
    assert "no positions closed" in out.getvalue()


def test_the_command_exits_1_when_every_market_is_stale(db, settings):
    settings.ARENA_FEED_BASE_URL = "https://fapi.example.test"
    err = StringIO()
    with respx.mock(base_url="https://fapi.example.test") as api:
        api.get("/fapi/v1/exchangeInfo").respond(451, json={"code": 0, "msg": "restricted location"})
        api.get("/fapi/v1/ticker/24hr").respond(451, json={"code": 0, "msg": "restricted location"})
        with pytest.raises(SystemExit) as exited:
            call_command("refresh_market", "--feed", "binance", stdout=StringIO(), stderr=err)
    assert exited.value.code == 1
    assert "every market is stale" in err.getvalue() and "restricted location" in err.getvalue()
    assert set(Market.objects.filter(is_stale=True).values_list("symbol", flat=True)) == set(SIX)
