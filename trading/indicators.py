"""Technical indicators over candles, ORM-free and all ``Decimal``.

Candles are oldest first, and each is either an object with ``open``, ``high``, ``low``
and ``close`` attributes (``trading.feeds.Candle``, the ``trading.models.Candle`` row), a
4-tuple ``(open, high, low, close)``, or a Binance kline row ``[open_time, open, high,
low, close, volume, ...]``. Prices are ``Decimal`` (or ``int``); floats are refused with
``TypeError`` as everywhere in ``trading``.

Series functions return one value per input, ``None`` until the indicator has enough
data, so ``series[i]`` always belongs to candle ``i``.

Precision: everything is computed in a 50-digit ``Decimal`` context (recursions such as
EMA lose nothing measurable over thousands of candles) and each output is rounded once,
half-even, to ``SIGNIFICANT`` = 12 significant digits. Intermediate values are never
rounded. Twelve digits is far beyond any exchange tick and leaves three orders of
magnitude of headroom for the 1e-9 relative cross-check against a float implementation
(``tests/trading/test_indicators.py``); 8 digits would be within rounding of that check.
Display code rounds further for people.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import Any, Literal

from trading.perps import as_decimal

SIGNIFICANT = 12
_WORK = Context(prec=50, rounding=ROUND_HALF_EVEN)
_OUT = Context(prec=SIGNIFICANT, rounding=ROUND_HALF_EVEN)

Trend = Literal["uptrend", "downtrend", "sideways"]
UPTREND: Trend = "uptrend"
DOWNTREND: Trend = "downtrend"
SIDEWAYS: Trend = "sideways"

# trend_label: EMA20 must be this far (relative) above/below EMA50, and EMA20 must have
# moved the same way over the last TREND_SLOPE_BARS candles. 0.1 % filters the
# crossings of two nearly equal averages that flip every few candles in a range.
TREND_FAST = 20
TREND_SLOW = 50
TREND_GAP = Decimal("0.001")
TREND_SLOPE_BARS = 5
TREND_MIN_CLOSES = TREND_SLOW  # EMA50's first value; EMA20 five candles earlier exists by then

OHLC = ("open", "high", "low", "close")
Prices = Sequence[Decimal | int]
Series = list[Decimal | None]


# --- inputs and outputs -----------------------------------------------------------------


def ohlc(candle: Any) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """``(open, high, low, close)`` of one candle in any of the accepted shapes."""
    if hasattr(candle, "close"):
        values = (candle.open, candle.high, candle.low, candle.close)
    elif isinstance(candle, Sequence) and not isinstance(candle, str | bytes) and len(candle) == 4:
        values = tuple(candle)
    elif isinstance(candle, Sequence) and not isinstance(candle, str | bytes) and len(candle) >= 6:
        values = tuple(candle[1:5])  # Binance kline: open_time first, volume after
    else:
        raise TypeError(f"a candle has open/high/low/close attributes or is an OHLC row, not {candle!r}")
    o, h, low, c = (as_decimal(name, v) for name, v in zip(OHLC, values, strict=True))
    return o, h, low, c


def closes_of(candles: Sequence[Any]) -> list[Decimal]:
    """The close of every candle, oldest first."""
    return [ohlc(candle)[3] for candle in candles]


def _decimals(values: Prices) -> list[Decimal]:
    return [as_decimal("value", value) for value in values]


def _period(period: int) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < 1:
        raise ValueError(f"period must be a whole number of at least 1, not {period!r}")
    return period


def _out(value: Decimal | None) -> Decimal | None:
    """One output value at SIGNIFICANT digits (the only rounding anywhere here)."""
    return None if value is None else _OUT.plus(value)


def _rounded(series: Series) -> Series:
    return [_out(value) for value in series]


def _last(series: Series) -> Decimal | None:
    return series[-1] if series else None


# --- moving averages --------------------------------------------------------------------


def _ema(values: list[Decimal], period: int) -> Series:
    out: Series = [None] * len(values)
    if len(values) < period:
        return out
    with localcontext(_WORK):
        alpha = Decimal(2) / (period + 1)
        previous = sum(values[:period], Decimal(0)) / period
        out[period - 1] = previous
        for i in range(period, len(values)):
            previous = alpha * values[i] + (1 - alpha) * previous
            out[i] = previous
    return out


def ema(values: Prices, period: int) -> Series:
    """Exponential moving average, seeded with a simple average (StockCharts ChartSchool,
    "Moving Averages - Simple and Exponential").

    ``EMA[period−1] = mean(values[0:period])``;
    ``EMA[i] = α·values[i] + (1 − α)·EMA[i−1]`` with ``α = 2 / (period + 1)``.
    """
    return _rounded(_ema(_decimals(values), _period(period)))


# --- RSI --------------------------------------------------------------------------------


def _rsi_value(gain: Decimal, loss: Decimal) -> Decimal:
    if loss == 0:
        # Only gains: RS is infinite and RSI 100. No move at all: neither side has
        # strength, so the neutral 50 rather than an arbitrary extreme.
        return Decimal(100) if gain > 0 else Decimal(50)
    return 100 - 100 / (1 + gain / loss)


def rsi(closes: Prices, period: int = 14) -> Series:
    """Relative Strength Index with Wilder's smoothing (J. Welles Wilder, *New Concepts in
    Technical Trading Systems*, 1978; StockCharts ChartSchool "Relative Strength Index").

    With ``change[i] = close[i] − close[i−1]``, gains ``max(change, 0)`` and losses
    ``max(−change, 0)``: the first averages are the simple means of the first ``period``
    changes (so the first RSI is at index ``period``); after that
    ``avg[i] = (avg[i−1]·(period − 1) + x[i]) / period``. ``RSI = 100 − 100 / (1 + RS)``,
    ``RS = avg gain / avg loss``; 100 when there were no losses, 50 when nothing moved.
    """
    values, period = _decimals(closes), _period(period)
    out: Series = [None] * len(values)
    if len(values) <= period:
        return out
    with localcontext(_WORK):
        changes = [values[i] - values[i - 1] for i in range(1, len(values))]
        gains = [max(change, Decimal(0)) for change in changes]
        losses = [max(-change, Decimal(0)) for change in changes]
        gain = sum(gains[:period], Decimal(0)) / period
        loss = sum(losses[:period], Decimal(0)) / period
        out[period] = _rsi_value(gain, loss)
        for i in range(period + 1, len(values)):
            gain = (gain * (period - 1) + gains[i - 1]) / period
            loss = (loss * (period - 1) + losses[i - 1]) / period
            out[i] = _rsi_value(gain, loss)
    return _rounded(out)


# --- MACD -------------------------------------------------------------------------------


def macd(
    closes: Prices, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[Series, Series, Series]:
    """``(macd, signal, histogram)`` series (Gerald Appel; StockCharts ChartSchool "MACD").

    ``MACD = EMA_fast(close) − EMA_slow(close)`` from index ``slow − 1``;
    ``signal = EMA_signal(MACD)`` over the defined MACD values (seeded with their simple
    mean, so the first signal is at index ``slow + signal − 2``);
    ``histogram = MACD − signal``. All from unrounded EMAs.
    """
    values = _decimals(closes)
    fast, slow, signal = _period(fast), _period(slow), _period(signal)
    if fast >= slow:
        raise ValueError(f"the fast period ({fast}) must be shorter than the slow one ({slow})")
    n = len(values)
    line: Series = [None] * n
    signal_line: Series = [None] * n
    histogram: Series = [None] * n
    if n < slow:
        return line, signal_line, histogram
    fast_ema, slow_ema = _ema(values, fast), _ema(values, slow)
    with localcontext(_WORK):
        defined: list[Decimal] = []
        for i in range(slow - 1, n):
            f, s = fast_ema[i], slow_ema[i]
            assert f is not None and s is not None  # both defined from index slow − 1
            line[i] = f - s
            defined.append(f - s)
        for offset, value in enumerate(_ema(defined, signal)):
            if value is not None:
                i = slow - 1 + offset
                signal_line[i] = value
                histogram[i] = defined[offset] - value
    return _rounded(line), _rounded(signal_line), _rounded(histogram)


# --- ATR --------------------------------------------------------------------------------


def true_range(candles: Sequence[Any]) -> list[Decimal]:
    """Wilder's true range per candle: ``max(high − low, |high − prev close|, |low − prev close|)``;
    the first candle, without a previous close, has ``high − low``."""
    bars = [ohlc(candle) for candle in candles]
    ranges: list[Decimal] = []
    for i, (_, high, low, _) in enumerate(bars):
        if i == 0:
            ranges.append(high - low)
        else:
            previous = bars[i - 1][3]
            ranges.append(max(high - low, abs(high - previous), abs(low - previous)))
    return ranges


def atr(candles: Sequence[Any], period: int = 14) -> Series:
    """Average True Range with Wilder's smoothing (Wilder 1978; StockCharts ChartSchool
    "Average True Range (ATR)").

    ``ATR[period−1] = mean(TR[0:period])`` (TR[0] = high − low);
    ``ATR[i] = (ATR[i−1]·(period − 1) + TR[i]) / period``.
    """
    return _rounded(_atr(candles, _period(period)))


def _atr(candles: Sequence[Any], period: int) -> Series:
    ranges = true_range(candles)
    out: Series = [None] * len(ranges)
    if len(ranges) < period:
        return out
    with localcontext(_WORK):
        value = sum(ranges[:period], Decimal(0)) / period
        out[period - 1] = value
        for i in range(period, len(ranges)):
            value = (value * (period - 1) + ranges[i]) / period
            out[i] = value
    return out


# --- trend and summary ------------------------------------------------------------------


def trend_label(closes: Prices) -> Trend:
    """``"uptrend"``, ``"downtrend"`` or ``"sideways"`` from EMA20 against EMA50 and EMA20's slope.

    - uptrend:   EMA20 > EMA50 × (1 + 0.1 %) and EMA20 now > EMA20 five candles ago
    - downtrend: EMA20 < EMA50 × (1 − 0.1 %) and EMA20 now < EMA20 five candles ago
    - sideways:  anything else (averages within 0.1 %, or the fast one turning back)

    The averages agree on direction only when a move has lasted; the slope check keeps
    a trend that is already rolling over from being called by its past. Needs at least
    ``TREND_MIN_CLOSES`` (50) closes: ``ValueError`` otherwise.
    """
    values = _decimals(closes)
    if len(values) < TREND_MIN_CLOSES:
        raise ValueError(f"a trend needs at least {TREND_MIN_CLOSES} closes, not {len(values)}")
    fast_ema, slow_ema = _ema(values, TREND_FAST), _ema(values, TREND_SLOW)
    fast, slow, before = fast_ema[-1], slow_ema[-1], fast_ema[-1 - TREND_SLOPE_BARS]
    assert fast is not None and slow is not None and before is not None
    if slow <= 0:
        return SIDEWAYS
    with localcontext(_WORK):
        gap = (fast - slow) / slow
    if gap > TREND_GAP and fast > before:
        return UPTREND
    if gap < -TREND_GAP and fast < before:
        return DOWNTREND
    return SIDEWAYS


@dataclass(frozen=True)
class IndicatorSummary:
    """The latest value of each indicator; None where the candles are too few.

    Needs: ema20 20 candles, ema50 and trend 50, rsi14 15, macd 26 and its signal and
    histogram 34, atr14 14. ``atr_pct`` = ATR14 / last close × 100.
    """

    ema20: Decimal | None
    ema50: Decimal | None
    rsi14: Decimal | None
    macd: Decimal | None
    macd_signal: Decimal | None
    macd_hist: Decimal | None
    atr14: Decimal | None
    atr_pct: Decimal | None
    trend: Trend | None

    def as_json(self) -> dict[str, str | None]:
        """Decimals as strings (exact, JSON-safe), the trend as is."""
        return {
            name: (None if value is None else value if isinstance(value, str) else f"{value:f}")
            for name, value in vars(self).items()
        }


def summary(candles: Sequence[Any]) -> IndicatorSummary:
    """The latest EMA20, EMA50, RSI14, MACD(12, 26, 9), ATR14, ATR % and trend of ``candles``."""
    closes = closes_of(candles)
    line, signal_line, histogram = macd(closes)
    atr14 = _last(_atr(candles, 14))
    close = closes[-1] if closes else None
    atr_pct = None
    if atr14 is not None and close is not None and close > 0:
        with localcontext(_WORK):
            atr_pct = _out(atr14 / close * 100)
    return IndicatorSummary(
        ema20=_last(ema(closes, 20)),
        ema50=_last(ema(closes, 50)),
        rsi14=_last(rsi(closes, 14)),
        macd=_last(line),
        macd_signal=_last(signal_line),
        macd_hist=_last(histogram),
        atr14=_out(atr14),
        atr_pct=atr_pct,
        trend=trend_label(closes) if len(closes) >= TREND_MIN_CLOSES else None,
    )


# --- statistics and levels --------------------------------------------------------------
# Unrounded: inputs to further arithmetic (bots.tools rounds what it shows).

SWING_WINGS = 2  # candles on each side a swing point must top: a Bill Williams fractal


def log_returns(closes: Prices) -> list[Decimal]:
    """``ln(close[i] / close[i−1])`` for each pair: additive over time, the usual input of
    volatility and correlation. Closes must be positive (``ValueError``)."""
    values = _decimals(closes)
    if any(value <= 0 for value in values):
        raise ValueError("log returns need positive closes")
    with localcontext(_WORK):
        return [(values[i] / values[i - 1]).ln() for i in range(1, len(values))]


def mean(values: Sequence[Decimal]) -> Decimal:
    """The arithmetic mean of at least one value."""
    with localcontext(_WORK):
        return sum(values, Decimal(0)) / len(values)


def stdev(values: Sequence[Decimal]) -> Decimal:
    """Sample standard deviation, ``√(Σ(x − mean)² / (n − 1))``, of at least two values."""
    with localcontext(_WORK):
        centre = mean(values)
        return (sum(((v - centre) ** 2 for v in values), Decimal(0)) / (len(values) - 1)).sqrt()


def covariance(a: Sequence[Decimal], b: Sequence[Decimal]) -> Decimal:
    """Sample covariance, ``Σ(a − mean a)(b − mean b) / (n − 1)``, of two equally long series."""
    with localcontext(_WORK):
        ma, mb = mean(a), mean(b)
        return sum(((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)), Decimal(0)) / (len(a) - 1)


def swing_points(candles: Sequence[Any], wings: int = SWING_WINGS) -> list[Decimal]:
    """Swing highs and lows, in candle order: a high above the ``wings`` highs before it and
    not below the ``wings`` after it (so a flat top counts once), and the mirror image for
    lows. The newest ``wings`` candles cannot qualify yet."""
    bars = [ohlc(candle) for candle in candles]
    levels = []
    for i in range(wings, len(bars) - wings):
        before, after = bars[i - wings:i], bars[i + 1:i + wings + 1]
        high, low = bars[i][1], bars[i][2]
        if all(high > b[1] for b in before) and all(high >= a[1] for a in after):
            levels.append(high)
        if all(low < b[2] for b in before) and all(low <= a[2] for a in after):
            levels.append(low)
    return levels


def cluster_levels(levels: Sequence[Decimal], tolerance: Decimal) -> list[tuple[Decimal, int]]:
    """``(level, members)`` groups, lowest first: walking the sorted levels, one joins the
    current group when it is within ``tolerance`` of the group's mean, else starts a new
    group. A group's level is its mean."""
    groups: list[list[Decimal]] = []
    for level in sorted(levels):
        if groups and level - mean(groups[-1]) <= tolerance:
            groups[-1].append(level)
        else:
            groups.append([level])
    return [(mean(group), len(group)) for group in groups]
