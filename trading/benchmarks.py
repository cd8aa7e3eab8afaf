"""What holding the market would have returned over a period, from stored candles: the
benchmark rows of the leaderboard (BTC bought and held; an equal-weight basket of the
arena's symbols bought at the start and held, never rebalanced).

A symbol's price at the start is the open of its first stored candle opening at or after
the start; at the end, the close of its last candle opening at or before the end (and
after that first one). The finest interval stored for the period is used. The times
actually used are returned, so a benchmark says how close it came to the period's bounds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from trading.models import Candle

# Finest first: the first interval with a candle inside the period gives the prices.
INTERVALS = [Candle.Interval.M1, Candle.Interval.M5, Candle.Interval.M15, Candle.Interval.H1,
             Candle.Interval.H4, Candle.Interval.D1]
INTERVAL_LENGTH = {Candle.Interval.M1: 60, Candle.Interval.M5: 300, Candle.Interval.M15: 900,
                   Candle.Interval.H1: 3600, Candle.Interval.H4: 14400, Candle.Interval.D1: 86400}


@dataclass(frozen=True)
class Hold:
    """A symbol bought at ``start_price`` at ``start_at`` and sold at ``end_price`` at ``end_at``."""

    symbol: str
    interval: str
    start_at: datetime
    start_price: Decimal
    end_at: datetime
    end_price: Decimal

    @property
    def total_return(self) -> float:
        return float(self.end_price / self.start_price - 1)


def hold_of(symbol: str, *, start: datetime, end: datetime) -> Hold | None:
    """``symbol`` held from ``start`` to ``end``, or None when no stored candle covers a
    moment of the period (two index seeks per interval tried)."""
    for interval in INTERVALS:
        rows = Candle.objects.filter(symbol=symbol, interval=interval)
        first = rows.filter(open_time__gte=start, open_time__lte=end).order_by("open_time").first()
        if first is None:
            continue
        last = rows.filter(open_time__gte=first.open_time, open_time__lte=end).order_by("-open_time").first()
        # The close of a candle still open when it was fetched is the price at fetched_at.
        closed_at = min(last.open_time + timedelta(seconds=INTERVAL_LENGTH[interval]), last.fetched_at)
        return Hold(symbol=symbol, interval=interval, start_at=first.open_time, start_price=first.open,
                    end_at=max(closed_at, first.open_time), end_price=last.close)
    return None
