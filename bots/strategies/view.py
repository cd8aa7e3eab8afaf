"""The turn's context as the scripted strategies read it: typed and cleaned. Malformed
entries are skipped, never raised on (see ``bots.strategies`` for the context's shape)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

LONG, SHORT, CLOSE = "LONG", "SHORT", "CLOSE"
DEFAULT_TURN_MINUTES = Decimal("5")
HOLD_TURNS = 3  # every position is closed after about this many turns


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Market:
    symbol: str
    price: Decimal
    change_pct: Decimal
    highs: tuple[Decimal, ...]  # oldest first, like the candles
    lows: tuple[Decimal, ...]
    closes: tuple[Decimal, ...]


@dataclass(frozen=True)
class Held:
    id: str
    symbol: str
    side: str
    pnl_pct: Decimal
    hours_open: Decimal


@dataclass(frozen=True)
class View:
    """The context, typed and cleaned."""

    turn: int
    bot_id: int
    balance: Decimal
    markets: Mapping[str, Market]
    positions: tuple[Held, ...]
    cooling: frozenset[str]
    hold_hours: Decimal


def _market(symbol: str, raw: object) -> Market | None:
    if not isinstance(raw, Mapping):
        return None
    price = _decimal(raw.get("price"))
    if price is None or price <= 0:
        return None
    highs, lows, closes = [], [], []
    candles = raw.get("candles")
    for row in candles if isinstance(candles, list) else []:
        if not isinstance(row, list | tuple) or len(row) < 5:
            continue
        high, low, close = _decimal(row[2]), _decimal(row[3]), _decimal(row[4])
        if high is not None and low is not None and close is not None and close > 0:
            highs.append(high)
            lows.append(low)
            closes.append(close)
    change = _decimal(raw.get("change_24h_pct")) or Decimal(0)
    return Market(symbol, price, change, tuple(highs), tuple(lows), tuple(closes))


def _held(raw: object) -> Held | None:
    if not isinstance(raw, Mapping) or raw.get("id") in (None, "") or raw.get("side") not in (LONG, SHORT):
        return None
    symbol = raw.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        return None
    return Held(
        id=str(raw["id"]),
        symbol=symbol,
        side=raw["side"],
        pnl_pct=_decimal(raw.get("pnl_pct")) or Decimal(0),
        hours_open=_decimal(raw.get("hours_open")) or Decimal(0),
    )


def read_context(context: Mapping[str, Any]) -> View:
    """``context`` as a ``View``; anything unreadable is left out."""
    context = context if isinstance(context, Mapping) else {}
    raw_markets = context.get("markets") if isinstance(context.get("markets"), Mapping) else {}
    markets = {}
    for symbol in sorted(key for key in raw_markets if isinstance(key, str)):
        market = _market(symbol, raw_markets[symbol])
        if market is not None:
            markets[symbol] = market
    raw_positions = context.get("positions") if isinstance(context.get("positions"), list) else []
    held = (position for position in map(_held, raw_positions) if position is not None)
    positions = tuple(sorted(held, key=lambda position: (position.symbol, position.side, position.id)))
    now = _moment(context.get("now"))
    cooldowns = context.get("cooldowns") if isinstance(context.get("cooldowns"), Mapping) else {}
    cooling = set()
    for symbol, until in cooldowns.items():
        ends = _moment(until)
        # Without a readable clock or end, assume the cooldown still runs: waiting is safe.
        if now is None or ends is None or ends > now:
            cooling.add(symbol)
    turn_minutes = _decimal(context.get("turn_minutes"))
    if turn_minutes is None or turn_minutes <= 0:
        turn_minutes = DEFAULT_TURN_MINUTES
    turn, bot_id = context.get("turn"), context.get("bot_id")
    return View(
        turn=turn if isinstance(turn, int) and not isinstance(turn, bool) else 0,
        bot_id=bot_id if isinstance(bot_id, int) and not isinstance(bot_id, bool) else 0,
        balance=_decimal(context.get("balance")) or Decimal(0),
        markets=markets,
        positions=positions,
        cooling=frozenset(cooling),
        hold_hours=HOLD_TURNS * turn_minutes / 60,
    )
