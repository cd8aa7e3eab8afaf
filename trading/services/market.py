"""Refreshing markets from a feed, storing candles, and the price-refresh task's body.

The feed is always asked first, outside any transaction; what it answered is then
written in one short transaction. A feed failure never erases a price: the markets
keep their last known prices and are flagged ``is_stale``, which the risk rules read
to refuse new positions until a refresh succeeds again.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ledger.events import event_broadcast
from trading import perps, tiers
from trading.feeds import INTERVALS, Feed, FeedError, SymbolInfo, Ticker, get_feed
from trading.models import Candle, Market
from trading.selectors import symbols_to_refresh
from trading.services.marks import positions_mark, triggers_check

# The listing (tick and step sizes, what is tradable) changes rarely: fetched for a
# new market, a market without filters, and otherwise at the first refresh of each
# UTC day, which needs no extra column to remember when it was last fetched.
LISTING_MAX_AGE = timedelta(days=1)
# Market.change_24h_pct and Market.funding_rate have 4 and 8 decimal places.
CHANGE_QUANTUM = Decimal("0.0001")
FUNDING_QUANTUM = Decimal("1e-8")
MAX_CANDLES = 1_500
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class RefreshResult:
    """What a refresh saw: fresh prices, each fresh symbol's range since the last refresh,
    the symbols left stale and why."""

    prices: dict[str, Decimal] = field(default_factory=dict)
    ranges: dict[str, perps.Bar] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        return "; ".join(self.errors) or None


def _normalize(symbols: Iterable[str]) -> list[str]:
    return sorted({s.strip().upper() for s in symbols if isinstance(s, str) and s.strip()})


def _listing_due(symbols: list[str], markets: dict[str, Market], now: datetime) -> bool:
    for symbol in symbols:
        market = markets.get(symbol)
        if market is None or market.tick_size is None or market.step_size is None:
            return True
        if market.updated_at is None or now - market.updated_at > LISTING_MAX_AGE:
            return True
        if market.updated_at.astimezone(UTC).date() != now.astimezone(UTC).date():
            return True
    return False


def _range(feed: Feed, symbol: str, market: Market | None, price: Decimal, now: datetime) -> perps.Bar:
    """The prices between the last refresh and this one, always from the stored price to
    the new one (the feed's path may be rounded or clocked a little differently)."""
    previous = market.last_price if market is not None else None
    if previous is None:
        return perps.Bar(price, price, price, price)
    path = None
    if market.updated_at is not None and market.updated_at < now:
        try:
            path = feed.price_range(symbol, market.updated_at, now)
        except FeedError:
            # The range only sharpens trigger checks; the straight move is the fallback.
            path = None
    if path is None:
        return perps.Bar.move(previous, price)
    return perps.Bar(
        previous, max(path.high, previous, price), min(path.low, previous, price), price
    )


def _fresh_fields(ticker: Ticker, now: datetime) -> dict[str, Any]:
    return {
        "last_price": ticker.last_price,
        "mark_price": ticker.mark_price,
        "change_24h_pct": ticker.change_24h_pct.quantize(CHANGE_QUANTUM),
        "funding_rate": (
            ticker.funding_rate.quantize(FUNDING_QUANTUM) if ticker.funding_rate is not None else None
        ),
        "next_funding_at": ticker.next_funding_at,
        "is_stale": False,
        "updated_at": now,
    }


def _listing_fields(symbol: str, info: SymbolInfo | None) -> dict[str, Any]:
    if info is None:
        return {"is_listed": False}
    leverage = info.max_leverage or tiers.tiers_for(symbol)[0].max_leverage
    return {
        "is_listed": True, "base_asset": info.base_asset, "quote_asset": info.quote_asset,
        "tick_size": info.tick_size, "step_size": info.step_size,
        "max_leverage": max(1, min(200, leverage)),
    }


def markets_refresh(*, feed: Feed, symbols: Iterable[str], now: datetime) -> RefreshResult:
    """Ask ``feed`` for ``symbols``' prices (and the listing when due), then write every
    Market row in one transaction.

    A ``FeedError`` on the prices leaves every market's last prices in place with
    ``is_stale=True``; a symbol the feed does not quote goes stale alone. A failed
    listing is reported but does not make fresh prices stale.
    """
    wanted = _normalize(symbols)
    result = RefreshResult()
    markets = {m.symbol: m for m in Market.objects.filter(symbol__in=wanted)}

    listing: dict[str, SymbolInfo] | None = None
    if wanted and _listing_due(wanted, markets, now):
        try:
            listing = feed.symbols(wanted)
        except FeedError as exc:
            result.errors.append(f"listing: {exc}")
    try:
        tickers = feed.tickers(wanted) if wanted else {}
    except FeedError as exc:
        result.errors.append(f"prices: {exc}")
        tickers = {}
    else:
        unquoted = [s for s in wanted if s not in tickers]
        if unquoted:
            result.errors.append(f"no price from the feed for {', '.join(unquoted)}")

    for symbol in wanted:
        ticker = tickers.get(symbol)
        if ticker is None:
            result.stale.append(symbol)
            continue
        result.prices[symbol] = ticker.last_price
        result.ranges[symbol] = _range(feed, symbol, markets.get(symbol), ticker.last_price, now)

    with transaction.atomic():
        for symbol in wanted:
            ticker = tickers.get(symbol)
            if ticker is None:
                # Keep the last prices (and updated_at, the time they were true).
                updated = Market.objects.filter(symbol=symbol).update(is_stale=True)
                if not updated:
                    Market.objects.get_or_create(
                        symbol=symbol,
                        defaults={"base_asset": symbol.removesuffix("USDT"), "is_stale": True},
                    )
                continue
            values = _fresh_fields(ticker, now)
            if listing is not None:
                values |= _listing_fields(symbol, listing.get(symbol))
            elif symbol not in markets:
                values["base_asset"] = symbol.removesuffix("USDT")
            Market.objects.update_or_create(symbol=symbol, defaults=values)
    return result


def _closed_when_fetched(candle: Candle, step: timedelta) -> bool:
    return candle.open_time + step <= candle.fetched_at


def candles_fetch_and_store(
    *, feed: Feed, symbol: str, interval: str, limit: int, now: datetime
) -> list[Candle]:
    """The newest ``limit`` candles of ``symbol`` up to ``now``, oldest first.

    Stored candles that were already closed when fetched are final and reused; the
    feed is asked only from the oldest candle that is missing or was still open, and
    its answer is upserted on (symbol, interval, open_time) — never over a final one.
    """
    step = INTERVALS.get(interval)
    if step is None:
        raise ValueError(f"unknown interval {interval!r}: one of {', '.join(INTERVALS)}")
    if not 1 <= limit <= MAX_CANDLES:
        raise ValueError(f"limit must be 1 to {MAX_CANDLES}, not {limit}")
    symbol = symbol.upper()
    current_open = EPOCH + (now - EPOCH) // step * step
    oldest = current_open - (limit - 1) * step
    candles = Candle.objects.filter(symbol=symbol, interval=interval)
    stored = {c.open_time: c for c in candles.filter(open_time__gte=oldest, open_time__lte=current_open)}
    final = {t for t, c in stored.items() if _closed_when_fetched(c, step)}
    wanted = [current_open - i * step for i in range(limit)]
    # A candle fetched at this very instant is as fresh as a new request would be.
    missing = [t for t in wanted if t not in final and not (t in stored and stored[t].fetched_at >= now)]
    if missing:
        count = (current_open - min(missing)) // step + 1
        fetched = feed.candles(symbol, interval, count, end=now)
        rows = [
            Candle(symbol=symbol, interval=interval, open_time=c.open_time, open=c.open, high=c.high,
                   low=c.low, close=c.close, volume=c.volume, fetched_at=now)
            for c in fetched
            if oldest <= c.open_time <= current_open and c.open_time not in final
        ]
        if rows:
            Candle.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["symbol", "interval", "open_time"],
                update_fields=["open", "high", "low", "close", "volume", "fetched_at"],
            )
    newest = candles.filter(open_time__lte=current_open).order_by("-open_time")[:limit]
    return list(reversed(newest))



def market_refresh_and_trigger(*, feed: Feed | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The price-refresh task: refresh markets, close positions whose stop-loss,
    take-profit or liquidation price was crossed since the last refresh (each close its
    own transaction), then mark the rest to market.

    Returns ``{"symbols", "prices", "stale", "error", "closes": [(position id, reason,
    price)], "marked"}``. The paper engine uses last prices throughout (triggers, marks
    and closes), so an open position's PnL and its stops agree.
    """
    now = now or timezone.now()
    own_feed = feed is None
    feed = feed or get_feed()
    try:
        symbols = symbols_to_refresh()
        result = markets_refresh(feed=feed, symbols=symbols, now=now)
    finally:
        close = getattr(feed, "close", None)
        if own_feed and callable(close):
            close()
    closes = [
        (outcome.position.pk, outcome.trade.reason, outcome.trade.price)
        for outcome in triggers_check(ranges=result.ranges, now=now)
        if outcome.closed and outcome.position is not None and outcome.trade is not None
    ]
    marked = positions_mark(prices=result.prices, now=now)
    if result.prices:  # the latest prices are state, not history: pushed, not stored
        event_broadcast("market_prices", {"prices": dict(result.prices), "at": now})
    return {
        "symbols": symbols, "prices": result.prices, "stale": result.stale,
        "error": result.error, "closes": closes, "marked": marked,
    }
