"""The offline simulated feed: deterministic, realistic enough, internally consistent."""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from trading import perps
from trading.feeds import FeedError, get_feed
from trading.feeds.simulated import ANCHOR, KNOWN, SimulatedFeed

ROOT = Path(__file__).resolve().parents[2]
SEED = "test-seed"
T0 = datetime(2026, 2, 1, 9, 30, 17, 250_000, tzinfo=UTC)
D = Decimal

BANDS = {  # plausible prices for a year around each level: no crash to dust, no 10x
    "BTCUSDT": (30_000, 120_000),
    "ETHUSDT": (1_500, 6_000),
    "SOLUSDT": (75, 300),
    "BNBUSDT": (300, 1_200),
    "DOGEUSDT": (0.075, 0.30),
    "XRPUSDT": (0.3, 1.2),
}


def at_hours(start: datetime, hours: float, count: int) -> list[datetime]:
    return [start + timedelta(hours=hours * i) for i in range(count)]


def test_prices_are_a_pure_function_of_seed_symbol_and_time():
    times = [T0 + timedelta(seconds=s) for s in (0, 1, 59, 3_600, 86_400 * 40)]
    first = [SimulatedFeed(SEED).price_at("ETHUSDT", t) for t in times]
    again = [SimulatedFeed(SEED).price_at("ETHUSDT", t) for t in reversed(times)][::-1]
    assert first == again
    assert len(set(first)) == len(first)  # and it moves
    assert SimulatedFeed("other-seed").price_at("ETHUSDT", T0) != first[0]
    candles = SimulatedFeed(SEED).candles("ETHUSDT", "5m", 20, end=T0)
    assert candles == SimulatedFeed(SEED).candles("ETHUSDT", "5m", 20, end=T0)


def test_another_process_sees_the_same_market():
    """A fresh interpreter with a different hash salt computes identical prices."""
    script = (
        "import json, sys\n"
        "from datetime import datetime, timedelta\n"
        "from trading.feeds.simulated import SimulatedFeed\n"
        "feed = SimulatedFeed(sys.argv[1])\n"
        "t0 = datetime.fromisoformat(sys.argv[2])\n"
        "out = {s: [str(feed.price_at(s, t0 + timedelta(minutes=7 * i))) for i in range(50)]\n"
        "       for s in ['BTCUSDT', 'DOGEUSDT', 'FOOUSDT']}\n"
        "out['ticker'] = str(feed.ticker_at('SOLUSDT', t0))\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-c", script, SEED, T0.isoformat()],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True,
    )
    theirs = json.loads(run.stdout)
    feed = SimulatedFeed(SEED)
    for symbol in ("BTCUSDT", "DOGEUSDT", "FOOUSDT"):
        ours = [str(feed.price_at(symbol, T0 + timedelta(minutes=7 * i))) for i in range(50)]
        assert theirs[symbol] == ours
    assert theirs["ticker"] == str(feed.ticker_at("SOLUSDT", T0))


@pytest.mark.parametrize("seed", [SEED, "arena"])
@pytest.mark.parametrize("symbol", sorted(BANDS))
def test_levels_stay_in_realistic_bands_over_a_year(seed, symbol):
    feed = SimulatedFeed(seed)
    prices = [feed.price_at(symbol, t) for t in at_hours(ANCHOR, 6, 4 * 365)]
    low, high = BANDS[symbol]
    assert D(str(low)) < min(prices) and max(prices) < D(str(high))
    # It does wander: a year spans at least ±8% around its middle.
    assert max(prices) / min(prices) > D("1.16")


@pytest.mark.parametrize("symbol", sorted(KNOWN))
def test_daily_volatility_matches_the_symbol(symbol):
    feed = SimulatedFeed(SEED)
    closes = [float(feed.price_at(symbol, t)) for t in at_hours(ANCHOR, 24, 366)]
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    measured = statistics.pstdev(returns)
    target = KNOWN[symbol].daily_vol
    # Measured over 4 seeds: within ±11% of the target; a factor of 1.33 leaves room.
    assert target / 1.33 < measured < target * 1.33, (symbol, measured, target)
    # No drift: the mean daily return is small against the volatility.
    assert abs(statistics.fmean(returns)) < target / 4


def test_intraday_moves_scale_like_a_random_walk():
    """Hourly moves are about 1/sqrt(24) of daily ones, not flat or jumpy."""
    feed = SimulatedFeed(SEED)
    hourly = [float(feed.price_at("BTCUSDT", t)) for t in at_hours(T0, 1, 24 * 60)]
    returns = [math.log(b / a) for a, b in zip(hourly, hourly[1:], strict=False)]
    expected = KNOWN["BTCUSDT"].daily_vol / math.sqrt(24)
    assert expected / 1.5 < statistics.pstdev(returns) < expected * 1.5


def test_speed_runs_simulated_time_faster_around_the_anchor():
    fast, normal = SimulatedFeed(SEED, speed=10), SimulatedFeed(SEED, speed=1)
    for offset in (timedelta(0), timedelta(hours=3, seconds=7), timedelta(days=-2)):
        assert fast.price_at("BTCUSDT", ANCHOR + offset) == normal.price_at("BTCUSDT", ANCHOR + offset * 10)
    assert SimulatedFeed(SEED, speed=D("0.5")).price_at("XRPUSDT", ANCHOR + timedelta(hours=2)) == (
        normal.price_at("XRPUSDT", ANCHOR + timedelta(hours=1))
    )
    # Ten times faster means about sqrt(10) times the volatility per wall-clock hour.
    def hourly_vol(feed: SimulatedFeed) -> float:
        prices = [float(feed.price_at("ETHUSDT", t)) for t in at_hours(T0, 1, 24 * 20)]
        return statistics.pstdev(math.log(b / a) for a, b in zip(prices, prices[1:], strict=False))

    assert 2 < hourly_vol(fast) / hourly_vol(normal) < 5
    with pytest.raises(ValueError):
        SimulatedFeed(SEED, speed=0)


@pytest.mark.parametrize("symbol", sorted(KNOWN))
def test_prices_sit_on_the_symbols_tick(symbol):
    feed = SimulatedFeed(SEED)
    tick = KNOWN[symbol].tick_size
    for t in at_hours(T0, 0.37, 40):
        ticker = feed.ticker_at(symbol, t)
        for price in (ticker.last_price, ticker.mark_price):
            assert price > 0 and price % tick == 0
        # The mark is the last price plus a tiny basis.
        assert abs(ticker.mark_price / ticker.last_price - 1) < D("0.002")
    assert feed.symbols()[symbol].tick_size == tick


def test_binance_filters_for_the_default_symbols():
    listing = SimulatedFeed(SEED).symbols()
    filters = {s: (str(i.tick_size), str(i.step_size)) for s, i in listing.items()}
    assert filters == {
        "BTCUSDT": ("0.1", "0.001"), "ETHUSDT": ("0.01", "0.001"), "SOLUSDT": ("0.01", "1"),
        "BNBUSDT": ("0.01", "0.01"), "DOGEUSDT": ("0.00001", "1"), "XRPUSDT": ("0.0001", "0.1"),
    }
    assert listing["BTCUSDT"].max_leverage == 125 and listing["BTCUSDT"].base_asset == "BTC"


def test_any_usdt_symbol_gets_a_generic_market():
    feed = SimulatedFeed(SEED)
    info = feed.symbols(["LINKUSDT", "BTCUSDC", "not-a-symbol"])
    assert "LINKUSDT" in info and "BTCUSDC" not in info and "not-a-symbol" not in info
    prices = [feed.price_at("LINKUSDT", t) for t in at_hours(ANCHOR, 24, 365)]
    assert all(p > 0 and p % info["LINKUSDT"].tick_size == 0 for p in prices)
    assert D("0.005") < min(prices) and max(prices) < D("200")
    # Five significant digits of tick, as most altcoins on Binance.
    assert info["LINKUSDT"].tick_size / prices[0] < D("0.001")
    assert set(feed.tickers(["LINKUSDT", "BTCUSDC", "BTCUSDT"])) == {"LINKUSDT", "BTCUSDT"}
    with pytest.raises(FeedError) as caught:
        feed.price_at("BTCUSDC", T0)
    assert caught.value.permanent


def test_change_24h_is_computed_from_the_prices():
    feed = SimulatedFeed(SEED)
    for t in at_hours(T0, 5.5, 20):
        ticker = feed.ticker_at("DOGEUSDT", t)
        day_ago = feed.price_at("DOGEUSDT", t - timedelta(days=1))
        expected = (ticker.last_price / day_ago - 1) * 100
        assert abs(ticker.change_24h_pct - expected) <= D("0.005")


def test_funding_rate_and_next_funding_time():
    feed = SimulatedFeed(SEED)
    rates = []
    for t in at_hours(ANCHOR, 8, 300):
        ticker = feed.ticker_at("SOLUSDT", t + timedelta(hours=3))
        rates.append(ticker.funding_rate)
        assert abs(ticker.funding_rate) <= D("0.0075")
        assert ticker.next_funding_at == t + timedelta(hours=8)
        assert ticker.next_funding_at.hour in (0, 8, 16)
    assert rates.count(D("0.0001")) > len(rates) / 2  # mostly the usual 0.01%
    assert len(set(rates)) > 10  # with some noise
    assert D("-0.001") < statistics.median(rates) < D("0.001")
    # Constant within one funding period, so every refresh in it agrees.
    assert feed.funding_rate("SOLUSDT", T0) == feed.funding_rate("SOLUSDT", T0 + timedelta(minutes=20))


@pytest.mark.parametrize("interval", ["1m", "5m", "15m", "1h", "4h", "1d"])
def test_candles_are_consistent(interval):
    feed = SimulatedFeed(SEED)
    candles = feed.candles("BTCUSDT", interval, 60, end=T0)
    assert len(candles) == 60
    step = candles[1].open_time - candles[0].open_time
    for candle, following in zip(candles, candles[1:], strict=False):
        assert following.open_time - candle.open_time == step
        assert candle.close == following.open  # the path is continuous
    for candle in candles:
        assert candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high
        assert candle.volume > 0
        assert candle.open == feed.price_at("BTCUSDT", candle.open_time)
    last = candles[-1]
    assert last.open_time <= T0 < last.open_time + step  # the open candle, cut at T0
    assert last.close == feed.price_at("BTCUSDT", T0)
    # Aligned like Binance's: on whole multiples of the interval since the Unix epoch.
    assert last.open_time.timestamp() % step.total_seconds() == 0
    # Closed candles do not change when asked again later.
    later = feed.candles("BTCUSDT", interval, 60, end=T0 + step * 3)
    assert later[:56] == candles[3:-1]


def test_candle_volumes_are_realistic():
    candles = SimulatedFeed(SEED).candles("BTCUSDT", "1h", 48, end=T0)
    daily_usdt = sum(c.volume * c.close for c in candles[:-1]) / D(47) * 24
    assert D("3e9") < daily_usdt < D("6e10")


def test_price_range_finds_the_extremes_between_refreshes():
    feed = SimulatedFeed(SEED)
    start = T0.replace(second=0, microsecond=0)
    end = start + timedelta(minutes=30)
    bar = feed.price_range("ETHUSDT", start, end)
    assert (bar.open, bar.close) == (feed.price_at("ETHUSDT", start), feed.price_at("ETHUSDT", end))
    minutes = [feed.price_at("ETHUSDT", start + timedelta(minutes=m)) for m in range(31)]
    assert bar.low <= min(minutes) and bar.high >= max(minutes)
    straight = perps.Bar.move(bar.open, bar.close)
    assert bar.low <= straight.low and bar.high >= straight.high
    assert bar.high - bar.low > straight.high - straight.low  # the path is not a straight line
    point = feed.price_range("ETHUSDT", end, end)
    assert point.open == point.high == point.low == point.close == feed.price_at("ETHUSDT", end)


def test_bad_candle_requests_are_permanent_errors():
    feed = SimulatedFeed(SEED)
    for interval, limit in (("2m", 10), ("1m", 0), ("1m", 1_501)):
        with pytest.raises(FeedError) as caught:
            feed.candles("BTCUSDT", interval, limit, end=T0)
        assert caught.value.permanent


def test_the_clock_drives_tickers():
    feed = SimulatedFeed(SEED, clock=lambda: T0)
    assert feed.tickers(["BTCUSDT"])["BTCUSDT"] == feed.ticker_at("BTCUSDT", T0)
    assert feed.candles("BTCUSDT", "1m", 3) == feed.candles("BTCUSDT", "1m", 3, end=T0)


def test_get_feed_builds_the_configured_simulation(settings):
    settings.ARENA_MARKET_FEED = "simulated"
    settings.ARENA_SIM_SPEED = D("4")
    settings.ARENA_SIM_SEED = SEED
    feed = get_feed()
    assert isinstance(feed, SimulatedFeed) and feed.speed == 4.0 and feed.seed == SEED
    with pytest.raises(ValueError):
        get_feed("kraken")
