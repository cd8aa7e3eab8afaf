"""Candles for a turn: fetched from the feed (and stored) once per turn, shared by every
bot in it, and handed to the sandbox tools as a source that never touches the network."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bots.tools import INDICATOR_CANDLES, INTERVALS
from trading import indicators
from trading.feeds import FeedError, get_feed
from trading.services import candles_fetch_and_store

# Hourly candles behind each market's indicators: as many as the indicators tool
# reads, so the prompt and the tool agree.
PROMPT_CANDLES = INDICATOR_CANDLES
TOOL_CANDLES = 501  # the tools' largest lookback (500 returns) needs one candle more


@dataclass
class CandleCache:
    """Candles fetched once per turn and shared by every bot in it."""

    now: datetime
    feed: Any = None
    rows: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, indicators.IndicatorSummary | None] = field(default_factory=dict)

    def summary(self, symbol: str) -> indicators.IndicatorSummary | None:
        """The prompt's indicators for ``symbol``, computed once per turn for every bot."""
        if symbol not in self.summaries:
            candles = self.get(symbol, "1h", PROMPT_CANDLES)
            self.summaries[symbol] = indicators.summary(candles) if candles else None
        return self.summaries[symbol]

    def get(self, symbol: str, interval: str, limit: int) -> list[Any]:
        """The newest ``limit`` candles; the first ask of a turn fetches from the feed and
        stores them (a feed failure is kept in ``errors`` and gives no candles)."""
        key = (symbol, interval)
        if key not in self.rows or len(self.rows[key]) < limit:
            if self.feed is None:
                self.feed = get_feed()
            try:
                self.rows[key] = candles_fetch_and_store(
                    feed=self.feed, symbol=symbol, interval=interval, limit=limit, now=self.now)
            except FeedError as exc:
                self.errors[symbol] = str(exc)
                self.rows[key] = []
        return self.rows[key][-limit:]

    def load_for_tools(self, symbols: Sequence[str]) -> None:
        """Fetch every interval the sandbox tools may read, before their calls begin."""
        for symbol in symbols:
            for interval in INTERVALS:
                self.get(symbol, interval, TOOL_CANDLES)

    def tool_source(self, symbols: set[str]) -> Callable[[str, str, int], Sequence[Any]]:
        """The sandbox tools' candle source: only what was loaded before the calls began."""
        def source(symbol: str, interval: str, limit: int) -> Sequence[Any]:
            rows = self.rows.get((symbol, interval))
            if symbol not in symbols or rows is None:
                raise KeyError(symbol)
            return rows[-limit:]
        return source
