"""Market feeds: where prices, the listing and candles come from.

A feed is a read-only source of market data behind one small protocol, so the
refresh service does not care whether prices come from the offline simulation
(the default), Binance USDT-M or Aster (which serves the same REST API). Feeds
are ORM-free; ``trading.services.market`` writes what they return.

Every time a feed takes or returns is a timezone-aware UTC ``datetime``; every
number is a ``Decimal`` parsed from a string or rounded to the symbol's tick.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from django.conf import settings

if TYPE_CHECKING:
    from collections.abc import Iterable

    from trading import perps

BINANCE_BASE_URL = "https://fapi.binance.com"
ASTER_BASE_URL = "https://fapi.asterdex.com"
FEED_NAMES = ("simulated", "binance", "aster")

# Kline intervals the arena stores and charts, spelled as Binance spells them.
INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}


class FeedError(Exception):
    """A feed could not answer. ``permanent`` means retrying the same request will not help
    (a bad symbol, a refused request); otherwise it may succeed later (rate limit, outage)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Ticker:
    """One symbol's prices now. ``funding_rate`` is the current (predicted) rate."""

    symbol: str
    last_price: Decimal
    mark_price: Decimal
    change_24h_pct: Decimal
    funding_rate: Decimal | None
    next_funding_at: datetime | None


@dataclass(frozen=True)
class SymbolInfo:
    """A listed USDT-M perpetual and its trading filters (Binance PRICE_FILTER and LOT_SIZE)."""

    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    max_leverage: int | None = None  # the first bracket's, when the feed knows it


@dataclass(frozen=True)
class Candle:
    """One kline: prices over ``[open_time, open_time + interval)``; volume in the base asset."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class Feed(Protocol):
    """What the refresh service needs from a source of market data."""

    def tickers(self, symbols: Iterable[str]) -> dict[str, Ticker]:
        """Current prices of ``symbols``; a symbol the feed does not quote is left out."""
        ...

    def symbols(self, wanted: Iterable[str] | None = None) -> dict[str, SymbolInfo]:
        """The listing: every tradable USDT-M perpetual.

        ``wanted`` is a hint for feeds that can list any symbol on demand (the simulation
        lists every ``XXXUSDT`` it is asked about); an exchange returns its whole listing.
        """
        ...

    def candles(
        self, symbol: str, interval: str, limit: int, end: datetime | None = None
    ) -> list[Candle]:
        """The last ``limit`` candles opened at or before ``end`` (default now), oldest first.

        The newest one may still be open (its close is the price at ``end``).
        """
        ...

    def price_range(self, symbol: str, start: datetime, end: datetime) -> perps.Bar | None:
        """What the price did between ``start`` and ``end``, or None when the feed cannot tell
        (the caller then assumes a straight move: ``perps.Bar.move``)."""
        ...


def get_feed(name: str | None = None) -> Feed:
    """The feed called ``name`` (default ``settings.ARENA_MARKET_FEED``).

    ``settings.ARENA_FEED_BASE_URL``, when set, replaces the exchange's base URL, so a
    testnet (``https://testnet.binancefuture.com``) or a proxy works without code changes.
    The simulation's seed is ``settings.ARENA_SIM_SEED`` (default ``"arena"``): every
    process with the same seed sees the same market.
    """
    # Imported here: both modules import this one for the data classes above.
    from trading.feeds.binance import BinanceFeed
    from trading.feeds.simulated import SimulatedFeed

    name = name or settings.ARENA_MARKET_FEED
    base_url = getattr(settings, "ARENA_FEED_BASE_URL", None)
    if name == "simulated":
        return SimulatedFeed(
            seed=str(getattr(settings, "ARENA_SIM_SEED", "arena")),
            speed=Decimal(getattr(settings, "ARENA_SIM_SPEED", 1)),
        )
    if name == "binance":
        return BinanceFeed(base_url=base_url or BINANCE_BASE_URL)
    if name == "aster":
        return BinanceFeed(base_url=base_url or ASTER_BASE_URL)
    raise ValueError(f"unknown market feed {name!r}: expected one of {', '.join(FEED_NAMES)}")
