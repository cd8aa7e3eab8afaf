"""The tools over candles: indicators, volatility, support/resistance, correlation."""
from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

from bots.tools.arguments import (
    WORK_CONTEXT,
    CandleSource,
    ToolError,
    shown_number,
)
from trading import indicators as ind

# Crypto trades around the clock: a year is 365 days of intervals, not 252 sessions.
PERIODS_PER_YEAR = {"5m": 105_120, "15m": 35_040, "1h": 8_760, "4h": 2_190, "1d": 365}
INDICATOR_CANDLES = 200  # 4× EMA50's period: the SMA seed has faded by the newest value
MAX_LEVELS = 5
MIN_RETURNS = 5  # a correlation of fewer returns is noise
CORRELATION_BANDS = ((Decimal("0.7"), "strong"), (Decimal("0.4"), "moderate"), (Decimal("0.2"), "weak"))


# --- candles and statistics --------------------------------------------------------------


def _fetch_candles(candles: CandleSource, symbol: str, interval: str, limit: int, need: int) -> list[Any]:
    """The newest ``limit`` candles of ``symbol``, at least ``need`` of them."""
    try:
        rows = list(candles(symbol, interval, limit))[-limit:]
    except KeyError:
        raise ToolError(f"unknown symbol {symbol}: no market trades under that name") from None
    if len(rows) < need:
        raise ToolError(f"only {len(rows)} {interval} candles of {symbol} exist; this needs {need}")
    if any(close <= 0 for close in ind.closes_of(rows)):
        raise ToolError(f"the {interval} candles of {symbol} contain a non-positive price")
    return rows


# --- the candle tools --------------------------------------------------------------------


def indicators(symbol: str, interval: str = "1h", *, candles: CandleSource) -> dict[str, Any]:
    """``trading.indicators.summary`` of the newest 200 candles: EMA20/50, RSI14, MACD, ATR, trend."""
    rows = _fetch_candles(candles, symbol, interval, INDICATOR_CANDLES, 1)
    found = ind.summary(rows)
    values = {name: getattr(found, name) for name in vars(found)}
    result = {
        name: value if isinstance(value, str | None) else shown_number(value)
        for name, value in values.items()
    }
    return {
        "symbol": symbol, "interval": interval, "candles": len(rows),
        "close": shown_number(ind.closes_of(rows)[-1]), **result,
        "note": "null: too few candles for that indicator (EMA50 and trend need 50, MACD signal 34)",
    }


def volatility(
    symbol: str, interval: str = "1h", lookback: int = 48, *, candles: CandleSource
) -> dict[str, Any]:
    """Realised volatility over ``lookback`` returns (Hull, *Options, Futures and Other
    Derivatives*, "Estimating volatility from historical data").

    ``σ`` = sample stdev of ``ln(close[i] / close[i−1])``; annualised ``σ × √(periods per
    year)`` with 365 days of intervals; ATR14 % = ATR14 / close × 100, over the same 200
    candles as the ``indicators`` tool so the two agree.
    """
    rows = _fetch_candles(candles, symbol, interval, max(lookback + 1, INDICATOR_CANDLES), 3)
    closes = ind.closes_of(rows)[-(lookback + 1):]
    returns = ind.log_returns(closes)
    sigma = ind.stdev(returns)
    with localcontext(WORK_CONTEXT):
        annual = sigma * Decimal(PERIODS_PER_YEAR[interval]).sqrt()
        atr14 = ind.atr(rows, 14)[-1]
        window = rows[-(lookback + 1):]
        high = max(ind.ohlc(row)[1] for row in window)
        low = min(ind.ohlc(row)[2] for row in window)
        return {
            "symbol": symbol, "interval": interval, "returns": len(returns),
            "stdev_pct_per_interval": shown_number(sigma * 100),
            "annualized_pct": shown_number(annual * 100),
            "atr14_pct": shown_number(atr14 / closes[-1] * 100) if atr14 is not None else None,
            "window_high": shown_number(high), "window_low": shown_number(low),
            "window_range_pct": shown_number((high - low) / closes[-1] * 100),
        }


def support_resistance(
    symbol: str, interval: str = "1h", lookback: int = 100, *, candles: CandleSource
) -> dict[str, Any]:
    """Support and resistance from clustered swing points.

    1. Swing highs/lows over the last ``lookback`` candles (``trading.indicators.swing_points``).
    2. Sorted, they are grouped: a level joins the current group when within half the
       window's average true range of the group's mean; the group's mean is the level
       and its size the touches.
    3. Levels at or below the last close are support, above it resistance (a broken
       level changes role); each side nearest first, at most 5.
    """
    rows = _fetch_candles(candles, symbol, interval, lookback, 2 * ind.SWING_WINGS + 1)
    close = ind.closes_of(rows)[-1]
    tolerance = ind.mean(ind.true_range(rows)) / 2
    levels = ind.cluster_levels(ind.swing_points(rows), tolerance)

    def shown(level: Decimal, touches: int) -> dict[str, Any]:
        with localcontext(WORK_CONTEXT):
            distance = (level - close) / close * 100
        return {"price": shown_number(level), "touches": touches, "distance_pct": shown_number(distance)}

    support = sorted((lv for lv in levels if lv[0] <= close), key=lambda lv: close - lv[0])[:MAX_LEVELS]
    resistance = sorted((lv for lv in levels if lv[0] > close), key=lambda lv: lv[0] - close)[:MAX_LEVELS]
    return {
        "symbol": symbol, "interval": interval, "candles": len(rows), "close": shown_number(close),
        "support": [shown(*lv) for lv in support],
        "resistance": [shown(*lv) for lv in resistance],
        "nearest_support": shown_number(support[0][0]) if support else None,
        "nearest_resistance": shown_number(resistance[0][0]) if resistance else None,
        "method": "swing highs/lows (2 candles each side) clustered within half the average true range",
    }


def _aligned_closes(a: list[Any], b: list[Any]) -> tuple[list[Decimal], list[Decimal]]:
    """Closes of the candles both series have: matched on ``open_time`` when the candles
    carry one, else the newest ``min(len)`` of each (same interval, same end)."""
    if all(hasattr(row, "open_time") for row in (*a, *b)):
        times = {row.open_time for row in a} & {row.open_time for row in b}
        a, b = [r for r in a if r.open_time in times], [r for r in b if r.open_time in times]
    n = min(len(a), len(b))
    return ind.closes_of(a[len(a) - n:]), ind.closes_of(b[len(b) - n:])


def correlation(
    symbol_a: str, symbol_b: str, interval: str = "1h", lookback: int = 100, *, candles: CandleSource
) -> dict[str, Any]:
    """Pearson correlation of the two symbols' log returns over ``lookback`` intervals:
    ``r = cov(a, b) / (σa σb)``, and the beta of a on b, ``cov(a, b) / var(b)``."""
    need = MIN_RETURNS + 1
    closes_a, closes_b = _aligned_closes(
        _fetch_candles(candles, symbol_a, interval, lookback + 1, need),
        _fetch_candles(candles, symbol_b, interval, lookback + 1, need),
    )
    if len(closes_a) < need:
        raise ToolError(
            f"{symbol_a} and {symbol_b} share only {len(closes_a)} {interval} candles; this needs {need}"
        )
    ra, rb = ind.log_returns(closes_a), ind.log_returns(closes_b)
    sa, sb = ind.stdev(ra), ind.stdev(rb)
    for symbol, sigma in ((symbol_a, sa), (symbol_b, sb)):
        if sigma == 0:
            raise ToolError(f"{symbol} did not move over the window: correlation is undefined")
    with localcontext(WORK_CONTEXT):
        cov = ind.covariance(ra, rb)
        r = max(Decimal(-1), min(Decimal(1), cov / (sa * sb)))
        beta = cov / (sb * sb)
    # The usual rule-of-thumb bands for |r|.
    size = next((name for floor, name in CORRELATION_BANDS if abs(r) >= floor), None)
    return {
        "symbol_a": symbol_a, "symbol_b": symbol_b, "interval": interval, "returns": len(ra),
        "correlation": shown_number(r), "beta_a_on_b": shown_number(beta),
        "strength": f"{size} {'positive' if r > 0 else 'negative'}" if size else "none",
    }

