"""The offline market: a deterministic simulation of USDT-M perpetuals.

The price of a symbol is a pure function of ``(seed, symbol, time)``: no state, no
randomness at run time. Every worker, web process and test that uses the same seed
sees exactly the same market, so a refresh in one process and a chart in another
agree, and a restart changes nothing.

How the path is built (multi-octave value noise on the log-price):

- 16 octaves with periods from 1 minute to 30 days, geometrically spaced (each about
  2.04× the previous one). Every octave has pseudo-random standard normal values at
  its knots (``blake2b(seed|symbol|octave|knot)`` → two uniforms → Box–Muller),
  interpolated with a Catmull–Rom cubic (smooth, C¹) and shifted by a per-octave
  phase so the octaves' knots never line up.
- Octave ``k`` is weighted ``sqrt(period_k / 1 day)``. Over a lag ``τ`` the octaves
  much shorter than ``τ`` have decorrelated (each contributes ∝ its period) and the
  longer ones have barely moved (each contributes ∝ τ²/period), so the variance of
  the log-return grows linearly in ``τ`` from a minute to a few weeks, like a random
  walk, and the path is stationary beyond the longest period (prices wander around
  the symbol's level rather than drifting off to zero or infinity).
- ``log(price) = log(level) + daily_vol × noise / NOISE_DAILY_STD``, where
  ``NOISE_DAILY_STD`` is the measured standard deviation of the raw noise's one-day
  increments (see its comment), so the symbol's daily volatility is ``daily_vol``.

One evaluation costs 16 × 4 knot look-ups (cached) and 16 cubic evaluations.

Simulated time runs ``speed`` times faster than the wall clock around a fixed anchor:
``sim = ANCHOR + (wall − ANCHOR) × speed``. Everything this feed takes and returns is
wall-clock time (candle open times, funding times), so with ``ARENA_SIM_SPEED=10`` a
one-minute candle shows ten simulated minutes of movement: the market just moves
faster. Changing the speed moves every price at once (the mapping changes), which is
why it is a deployment setting and not a per-request one.
"""
from __future__ import annotations

import hashlib
import math
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from trading import perps, tiers
from trading.feeds import INTERVALS, Candle, FeedError, SymbolInfo, Ticker

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_SECONDS = 86_400.0

OCTAVES = 16
SHORTEST_PERIOD = 60.0  # seconds
LONGEST_PERIOD = 30 * DAY_SECONDS
PERIODS = tuple(
    SHORTEST_PERIOD * (LONGEST_PERIOD / SHORTEST_PERIOD) ** (k / (OCTAVES - 1)) for k in range(OCTAVES)
)
WEIGHTS = tuple(math.sqrt(period / DAY_SECONDS) for period in PERIODS)
# The standard deviation of the weighted noise's increments over one day, measured
# over 40 seeds × 365 daily returns (mean 2.218, range 2.01–2.44 per seed-year). The
# same ratio std/sqrt(lag in days) is 2.18 at 5 min, 2.22 at 1 h, 2.23 at 4 h and
# 2.12 at 7 days (1.86 at 1 min, where the shortest octave is still smooth).
NOISE_DAILY_STD = 2.2

SAMPLES_PER_CANDLE = 16  # intervals, so 17 points including both boundaries
# price_range samples every 10 simulated seconds (the shortest octave is 60 s, so this
# finds its extremes to a fraction of a percent of the move), 12 to 2,000 points.
RANGE_SAMPLE_SECONDS = 10.0
RANGE_MIN_SAMPLES, RANGE_MAX_SAMPLES = 12, 2_000
MAX_CANDLES = 1_500  # as Binance's klines limit

BASIS_SCALE = 0.0002  # mark price within about ±0.02% (±3σ ≈ 0.06%) of the last price
BASIS_PERIOD = 600.0
FUNDING_BASE = Decimal("0.0001")  # Binance's usual rate: the 0.01% interest component
FUNDING_CAP = Decimal("0.0075")
FUNDING_QUANTUM = Decimal("1e-8")
CHANGE_QUANTUM = Decimal("0.01")

SYMBOL_RE = re.compile(r"^([A-Z0-9]{1,20})USDT$")


@dataclass(frozen=True)
class Spec:
    """How one simulated symbol behaves."""

    symbol: str
    level: float  # the price the path wanders around, USDT
    daily_vol: float  # standard deviation of daily log-returns
    tick_size: Decimal
    step_size: Decimal
    daily_quote_volume: float  # USDT traded per day, for candle volumes

    @property
    def base_asset(self) -> str:
        return self.symbol.removesuffix("USDT")


# Tick sizes are Binance USDT-M's PRICE_FILTER tickSize and step sizes its LOT_SIZE
# stepSize for these perpetuals (GET /fapi/v1/exchangeInfo, as of 2024–2025; from
# knowledge of the live listing, not from /work/shared/data, which holds leverage
# brackets only). Levels and volatilities are typical of 2024–2025.
KNOWN: dict[str, Spec] = {
    spec.symbol: spec
    for spec in (
        Spec("BTCUSDT", 60_000.0, 0.030, Decimal("0.1"), Decimal("0.001"), 15e9),
        Spec("ETHUSDT", 3_000.0, 0.040, Decimal("0.01"), Decimal("0.001"), 8e9),
        Spec("SOLUSDT", 150.0, 0.050, Decimal("0.01"), Decimal("1"), 2e9),
        Spec("BNBUSDT", 600.0, 0.035, Decimal("0.01"), Decimal("0.01"), 5e8),
        Spec("DOGEUSDT", 0.15, 0.060, Decimal("0.00001"), Decimal("1"), 1e9),
        Spec("XRPUSDT", 0.6, 0.050, Decimal("0.0001"), Decimal("0.1"), 1e9),
    )
}
GENERIC_DAILY_VOL = 0.05
GENERIC_DAILY_QUOTE_VOLUME = 5e7


def _digest(*parts: object, size: int = 16) -> bytes:
    # blake2b, not hash(): Python's string hash is salted per process.
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=size).digest()


def _uniform(*parts: object) -> float:
    """A uniform number in (0, 1) fixed by ``parts``."""
    (value,) = struct.unpack("<Q", _digest(*parts, size=8))
    return (value + 0.5) / 2**64


@lru_cache(maxsize=1 << 17)
def _normal(*parts: object) -> float:
    """A standard normal number fixed by ``parts`` (Box–Muller on two hashed uniforms)."""
    high, low = struct.unpack("<QQ", _digest(*parts))
    u1, u2 = (high + 0.5) / 2**64, (low + 0.5) / 2**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@lru_cache(maxsize=4096)
def _phase(seed: str, symbol: str, octave: int) -> float:
    return _uniform(seed, symbol, octave, "phase")


def _catmull_rom(p0: float, p1: float, p2: float, p3: float, f: float) -> float:
    """The Catmull–Rom cubic through p1 (f=0) and p2 (f=1), tangents from p0 and p3."""
    return p1 + 0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)))


def _smooth_noise(seed: str, symbol: str, octave: object, x: float) -> float:
    """Value noise of unit-variance knots at the integers, interpolated at ``x``."""
    i = math.floor(x)
    return _catmull_rom(
        _normal(seed, symbol, octave, i - 1), _normal(seed, symbol, octave, i),
        _normal(seed, symbol, octave, i + 1), _normal(seed, symbol, octave, i + 2), x - i,
    )


def path_noise(seed: str, symbol: str, sim_seconds: float) -> float:
    """The raw multi-octave noise at ``sim_seconds`` after the anchor (std ≈ 2.2 per √day)."""
    total = 0.0
    for octave, (period, weight) in enumerate(zip(PERIODS, WEIGHTS, strict=True)):
        x = sim_seconds / period + _phase(seed, symbol, octave)
        total += weight * _smooth_noise(seed, symbol, octave, x)
    return total


def _generic_spec(symbol: str, seed: str) -> Spec:
    """A made-up but plausible market for any other ``XXXUSDT``: level 0.01–100 USDT."""
    level = 10 ** (-2 + 4 * _uniform(seed, symbol, "level"))
    magnitude = math.floor(math.log10(level))
    tick = Decimal(1).scaleb(magnitude - 4)  # five significant digits, like most alts
    # Cheaper coins trade in bigger lots (as on Binance): 0.001 to 1 by price.
    step = Decimal(1).scaleb(min(0, max(-3, -magnitude)))
    return Spec(symbol, level, GENERIC_DAILY_VOL, tick, step, GENERIC_DAILY_QUOTE_VOLUME)


def _round(value: float, quantum: Decimal) -> Decimal:
    """``value`` to a whole positive number of ``quantum``."""
    rounded = perps.round_to(Decimal(value), quantum, ROUND_HALF_EVEN)
    return max(rounded, quantum)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SimulatedFeed:
    """A deterministic market for any ``XXXUSDT`` symbol (see the module docstring)."""

    def __init__(
        self,
        seed: str = "arena",
        speed: Decimal | float | int = 1,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if not float(speed) > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.seed = str(seed)
        self.speed = float(speed)
        self.clock = clock

    # --- the path ---------------------------------------------------------------------

    def spec(self, symbol: str) -> Spec:
        """The symbol's parameters; ``FeedError(permanent=True)`` for a non-USDT symbol."""
        known = KNOWN.get(symbol)
        if known is not None:
            return known
        if not SYMBOL_RE.match(symbol):
            raise FeedError(f"{symbol!r} is not a USDT-M perpetual symbol", permanent=True)
        return _generic_spec(symbol, self.seed)

    def sim_seconds(self, at: datetime) -> float:
        """Simulated seconds after the anchor at wall-clock time ``at``."""
        if at.tzinfo is None:
            raise ValueError(f"times must be timezone-aware, not {at!r}")
        return (at - ANCHOR) / timedelta(seconds=1) * self.speed

    def _raw(self, spec: Spec, sim_seconds: float) -> float:
        noise = path_noise(self.seed, spec.symbol, sim_seconds)
        return spec.level * math.exp(spec.daily_vol * noise / NOISE_DAILY_STD)

    def price_at(self, symbol: str, at: datetime) -> Decimal:
        """The last price at wall-clock time ``at``, rounded to the tick."""
        spec = self.spec(symbol)
        return _round(self._raw(spec, self.sim_seconds(at)), spec.tick_size)

    def _samples(self, spec: Spec, start: datetime, end: datetime, intervals: int) -> list[Decimal]:
        """Prices at ``intervals + 1`` evenly spaced times, both ends exactly included."""
        first, last = self.sim_seconds(start), self.sim_seconds(end)
        points = [first + (last - first) * i / intervals for i in range(intervals)] + [last]
        return [_round(self._raw(spec, t), spec.tick_size) for t in points]

    def price_range(self, symbol: str, start: datetime, end: datetime) -> perps.Bar:
        """The path's open, high, low and close between two wall-clock times, sampled every
        10 simulated seconds (12 to 2,000 points)."""
        spec = self.spec(symbol)
        if end <= start:
            price = self.price_at(symbol, end)
            return perps.Bar(price, price, price, price)
        span = self.sim_seconds(end) - self.sim_seconds(start)
        intervals = min(RANGE_MAX_SAMPLES, max(RANGE_MIN_SAMPLES, math.ceil(span / RANGE_SAMPLE_SECONDS)))
        prices = self._samples(spec, start, end, intervals)
        return perps.Bar(prices[0], max(prices), min(prices), prices[-1])

    # --- the Feed protocol ------------------------------------------------------------

    def tickers(self, symbols: Iterable[str]) -> dict[str, Ticker]:
        """Prices now; a symbol that is not ``XXXUSDT`` is left out, as an exchange would."""
        now = self.clock()
        result = {}
        for symbol in symbols:
            try:
                self.spec(symbol)
            except FeedError:
                continue
            result[symbol] = self.ticker_at(symbol, now)
        return result

    def ticker_at(self, symbol: str, at: datetime) -> Ticker:
        """The ticker at wall-clock time ``at``."""
        spec = self.spec(symbol)
        last = self.price_at(symbol, at)
        day_ago = self.price_at(symbol, at - timedelta(days=1))
        change = ((last / day_ago - 1) * 100).quantize(CHANGE_QUANTUM, rounding=ROUND_HALF_EVEN)
        basis = BASIS_SCALE * _smooth_noise(self.seed, symbol, "basis", self.sim_seconds(at) / BASIS_PERIOD)
        mark = _round(float(last) * (1 + basis), spec.tick_size)
        return Ticker(
            symbol=symbol, last_price=last, mark_price=mark, change_24h_pct=change,
            funding_rate=self.funding_rate(symbol, at),
            next_funding_at=perps.last_funding_time(at) + perps.FUNDING_INTERVAL,
        )

    def funding_rate(self, symbol: str, at: datetime) -> Decimal:
        """The predicted rate of the funding period containing wall-clock ``at``.

        Mostly Binance's usual 0.0100%; one period in three drifts by a small random
        amount, capped at Binance's ±0.75%. Keyed on the wall-clock funding period, like
        the funding the engine charges at 00:00, 08:00 and 16:00 UTC.
        """
        period = int((perps.last_funding_time(at) - EPOCH) / perps.FUNDING_INTERVAL)
        if _uniform(self.seed, symbol, "funding-kind", period) < 2 / 3:
            return FUNDING_BASE.quantize(FUNDING_QUANTUM)
        drift = Decimal(repr(0.00015 * _normal(self.seed, symbol, "funding", period)))
        rate = max(-FUNDING_CAP, min(FUNDING_CAP, FUNDING_BASE + drift))
        return rate.quantize(FUNDING_QUANTUM, rounding=ROUND_HALF_EVEN)

    def symbols(self, wanted: Iterable[str] | None = None) -> dict[str, SymbolInfo]:
        """The six built-in markets plus every ``XXXUSDT`` in ``wanted`` (all exist here)."""
        names = list(KNOWN)
        for symbol in wanted or ():
            if symbol not in KNOWN and SYMBOL_RE.match(symbol):
                names.append(symbol)
        result = {}
        for symbol in names:
            spec = self.spec(symbol)
            result[symbol] = SymbolInfo(
                symbol=symbol, base_asset=spec.base_asset, quote_asset="USDT",
                tick_size=spec.tick_size, step_size=spec.step_size,
                max_leverage=tiers.tiers_for(symbol)[0].max_leverage,
            )
        return result

    def candles(
        self, symbol: str, interval: str, limit: int, end: datetime | None = None
    ) -> list[Candle]:
        """The last ``limit`` candles opened at or before ``end`` (default now), oldest first.

        Open and close are the path's exact prices at the boundaries, so each candle's
        close is the next one's open; high and low are the extremes of 17 evenly spaced
        samples. The newest candle is cut at ``end`` (its volume pro rata).
        """
        step = INTERVALS.get(interval)
        if step is None:
            raise FeedError(f"unknown interval {interval!r}: one of {', '.join(INTERVALS)}", permanent=True)
        if not 1 <= limit <= MAX_CANDLES:
            raise FeedError(f"limit must be 1 to {MAX_CANDLES}, not {limit}", permanent=True)
        spec = self.spec(symbol)
        end = end or self.clock()
        last_open = EPOCH + (end - EPOCH) // step * step
        candles = []
        for i in range(limit - 1, -1, -1):
            open_time = last_open - i * step
            close_time = min(open_time + step, end)
            if close_time <= open_time:
                # Exactly at a boundary: the new candle has no duration yet.
                prices = [self.price_at(symbol, open_time)]
            else:
                prices = self._samples(spec, open_time, close_time, SAMPLES_PER_CANDLE)
            candles.append(Candle(
                open_time=open_time, open=prices[0], high=max(prices), low=min(prices),
                close=prices[-1], volume=self._volume(spec, interval, open_time, prices,
                                                      (close_time - open_time) / step),
            ))
        return candles

    def _volume(
        self, spec: Spec, interval: str, open_time: datetime, prices: list[Decimal], elapsed: float
    ) -> Decimal:
        """Base-asset volume: the symbol's daily turnover for the interval's share of the day,
        higher in wide candles, times a log-normal factor fixed by the candle."""
        step = INTERVALS[interval]
        share = step / timedelta(days=1) * self.speed
        mid = float(prices[len(prices) // 2])
        spread = math.log(float(max(prices)) / float(min(prices)))
        expected_spread = spec.daily_vol * math.sqrt(max(share, 1e-9))
        activity = 0.5 + 0.5 * min(4.0, spread / expected_spread)
        noise = math.exp(0.3 * _normal(self.seed, spec.symbol, "volume", interval, open_time.timestamp()))
        volume = spec.daily_quote_volume * share * activity * noise * elapsed / mid
        return _round(volume, spec.step_size)
