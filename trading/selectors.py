"""Reads for the engine: the views the pure risk rules decide on."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from trading import risk
from trading.models import Candle, Cooldown, Market, Position, Trade, Wallet
from trading.outbound import OutboundPolicy


@dataclass(frozen=True)
class Sources:
    """How trading reads what the layers above decide, handed down as callables at
    start-up (arena's ``AppConfig.ready``) so that trading imports none of their models.
    Each is called on every read: a settings change applies without a restart."""

    risk_settings: Callable[[], risk.RiskSettings]
    # The symbols the layers above want priced: the arena's defaults and every active bot's.
    symbols_wanted: Callable[[], Iterable[str]]
    # Which URLs users give (providers' and wallets' base URLs) the server may call.
    outbound_policy: Callable[[], OutboundPolicy]


_sources: Sources | None = None


def sources_register(sources: Sources) -> None:
    global _sources
    _sources = sources


def _registered() -> Sources:
    if _sources is None:
        raise ImproperlyConfigured(
            "trading.selectors.sources_register() was not called: the arena app registers it at start-up"
        )
    return _sources


def risk_settings() -> risk.RiskSettings:
    """The arena-wide limits the risk rules apply now."""
    return _registered().risk_settings()


def outbound_policy() -> OutboundPolicy:
    """The arena's rules for the URLs users give the server to call (``trading.outbound``)."""
    return _registered().outbound_policy()


def symbols_to_refresh() -> list[str]:
    """What a price refresh asks the feed for: the symbols the layers above want priced
    and every symbol with an open position (so its stops keep being checked)."""
    symbols = set(_registered().symbols_wanted())
    symbols.update(
        Position.objects.filter(status=Position.Status.OPEN).values_list("symbol", flat=True).distinct()
    )
    # Upper-case already (the models' clean() refuse anything else); markets_refresh normalises.
    return sorted(symbols)


def market_view(symbol: str) -> risk.MarketView | None:
    market = Market.objects.filter(symbol=symbol).first()
    if market is None or market.last_price is None:
        return None
    return risk.MarketView(
        symbol=market.symbol,
        price=market.last_price,
        tick_size=market.tick_size,
        step_size=market.step_size,
        is_stale=market.is_stale,
        listed=market.is_listed,
    )


def open_positions(*, bot_id: int):
    return Position.objects.filter(bot_id=bot_id, status=Position.Status.OPEN)


def portfolio_view(*, bot_id: int, available_balance: Decimal, now: datetime) -> risk.PortfolioView:
    fields = ("id", "symbol", "side", "margin", "leverage", "quantity", "entry_price")
    positions = tuple(
        risk.OpenPositionView(**row)  # the columns the rules read, not whole rows
        for row in open_positions(bot_id=bot_id).order_by("id").values(*fields)
    )
    cooldowns = dict(
        Cooldown.objects.filter(bot_id=bot_id, until__gt=now).values_list("symbol", "until")
    )
    return risk.PortfolioView(
        available_balance=available_balance, open_positions=positions, cooldowns=cooldowns
    )


def markets_unfresh(*, symbols: list[str], now: datetime, max_age_seconds: float) -> dict[str, str]:
    """Why each of ``symbols`` has no fresh price at ``now`` ({} when every one is fresh):
    never priced, flagged stale by a failed refresh, not listed, or older than
    ``max_age_seconds``."""
    markets = {m.symbol: m for m in Market.objects.filter(symbol__in=symbols)}
    problems: dict[str, str] = {}
    for symbol in symbols:
        market = markets.get(symbol)
        if market is None or market.last_price is None or market.updated_at is None:
            problems[symbol] = "no price yet"
        elif not market.is_listed:
            problems[symbol] = "not listed by the feed"
        elif market.is_stale:
            at = f"{market.updated_at:%Y-%m-%d %H:%M:%S} UTC"
            problems[symbol] = f"the last refresh failed (price from {at})"
        elif (age := (now - market.updated_at).total_seconds()) > max_age_seconds:
            problems[symbol] = f"price is {age:.0f} s old (at most {max_age_seconds:.0f} s)"
        elif age < -max_age_seconds:
            problems[symbol] = f"price is dated {-age:.0f} s in the future"
    return problems


def symbols_tradable() -> set[str]:
    """Symbols a bot may be given: every listed market and every symbol the arena prices
    (its defaults included, before their first refresh)."""
    symbols = set(Market.objects.filter(is_listed=True).values_list("symbol", flat=True))
    symbols.update(_registered().symbols_wanted())
    return symbols


def positions_of(*, bot_id: int):
    return Position.objects.filter(bot_id=bot_id)


def trades_of(*, bot_id: int):
    return Trade.objects.filter(bot_id=bot_id)


def markets_listed():
    """The markets the feed lists, by symbol (the public market list)."""
    return Market.objects.filter(is_listed=True).order_by("symbol")


def market_by_symbol(symbol: str) -> Market | None:
    """The market of ``symbol`` (any case), listed or not: a delisted market keeps its last
    prices for the positions that still name it."""
    return Market.objects.filter(symbol=symbol.upper()).first()


def candles_stored(*, symbol: str, interval: str, limit: int, start: datetime | None = None,
                   end: datetime | None = None) -> list[Candle]:
    """Stored candles of ``symbol`` at ``interval``, oldest first, opening within
    [``start``, ``end``] (each optional, inclusive): the first ``limit`` from ``start`` when
    it is given, otherwise the newest ``limit`` up to ``end``. Reads the table only; the
    feed is never asked (``candles_fetch_and_store`` does that).

    Served by the unique index (symbol, interval, open_time), scanned backwards for the
    newest."""
    rows = Candle.objects.filter(symbol=symbol, interval=interval)
    if start is not None:
        rows = rows.filter(open_time__gte=start)
    if end is not None:
        rows = rows.filter(open_time__lte=end)
    if start is not None:
        return list(rows.order_by("open_time")[:limit])
    return list(reversed(rows.order_by("-open_time")[:limit]))


def wallets_of(*, user_id: int, see_all: bool = False):
    """A user's exchange wallets (admins: every wallet), with owner and bot read along."""
    rows = Wallet.objects.select_related("owner", "bot")
    return rows if see_all else rows.filter(owner_id=user_id)
