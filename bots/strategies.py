"""Built-in scripted strategies: the offline "model" behind ``LLMProvider.kind = scripted``.

Each strategy reads a turn's structured context and returns decisions in the legacy
shape (``{action, symbol, size, leverage, stopLoss, takeProfit, closePositionId,
reasoning}``, ``size`` = margin in USDT), which ``bots.providers.scripted`` serialises to
JSON text so they go through the same parser as any model's reply. They trade actively
on purpose — a fresh arena without keys should show positions opening and closing
within minutes — and deterministically: the same context gives the same decisions.

The context (built by the turn; every number a string or a number)::

    {"now": ISO, "turn": int, "bot_id": int, "balance": "...", "turn_minutes": 5 (optional),
     "markets": {symbol: {"price", "change_24h_pct", "candles": [[open_ms, o, h, l, c], ...]}},
     "positions": [{"id", "symbol", "side", "entry_price", "margin", "leverage",
                    "pnl_pct" (percent of margin), "hours_open"}],
     "cooldowns": {symbol: until ISO}}

Malformed entries are skipped, never raised on: a strategy with nothing usable holds.
"""
from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

LONG, SHORT, CLOSE = "LONG", "SHORT", "CLOSE"
MIN_MARGIN = Decimal("50")  # the arena's minimum trade (legacy: 50 USDT)
DEFAULT_TURN_MINUTES = Decimal("5")
HOLD_TURNS = 3  # every position is closed after about this many turns
# Keep some cash back for entry fees and rounding, so a sized order is never refused.
CASH_BUFFER = Decimal("0.97")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


class UnknownStrategy(ValueError):
    """No strategy goes by that name."""


# --- reading the context -------------------------------------------------------------


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


# --- writing decisions ---------------------------------------------------------------


@dataclass(frozen=True)
class Params:
    fraction: Decimal  # of the balance put up as margin per trade
    leverage: int
    stop_pct: Decimal  # stop-loss distance from the price, percent
    take_pct: Decimal  # take-profit distance from the price, percent
    exit_gain_pct: Decimal  # close when the position's return on margin reaches this …
    exit_loss_pct: Decimal  # … or falls to minus this
    max_positions: int = 3


def _sig(value: Decimal, digits: int = 6) -> Decimal:
    """``value`` to ``digits`` significant digits: a price a person (and an exchange) reads."""
    return value.quantize(Decimal(1).scaleb(value.adjusted() - digits + 1))


def _pct(value: Decimal) -> str:
    return f"{value.quantize(CENT):+}%"


def _close(position: Held, reason: str) -> dict[str, Any]:
    what = f"{position.side} {position.symbol} ({_pct(position.pnl_pct)} on margin)"
    return {
        "action": CLOSE, "symbol": position.symbol, "size": None, "leverage": None,
        "stopLoss": None, "takeProfit": None, "closePositionId": position.id,
        "reasoning": f"Closing {what}: {reason}",
    }


class _Book:
    """Decisions of one turn, with the cash and slots they use up."""

    def __init__(self, view: View, params: Params) -> None:
        self.view, self.params = view, params
        self.decisions: list[dict[str, Any]] = []
        self.cash = view.balance * CASH_BUFFER
        self.closed: set[str] = set()
        self.open_count = len(view.positions)

    def close(self, position: Held, reason: str) -> None:
        self.decisions.append(_close(position, reason))
        self.closed.add(position.symbol)
        self.open_count -= 1

    def can_open(self, symbol: str) -> bool:
        held = {p.symbol for p in self.view.positions}
        return (
            symbol in self.view.markets and symbol not in held and symbol not in self.closed
            and symbol not in self.view.cooling and self.open_count < self.params.max_positions
        )

    def open(self, symbol: str, side: str, reason: str, leverage: int | None = None) -> None:
        if not self.can_open(symbol):
            return
        margin = max(MIN_MARGIN, (self.view.balance * self.params.fraction).quantize(CENT, ROUND_DOWN))
        if margin > self.cash:
            return
        price = self.view.markets[symbol].price
        down, up = 1 - self.params.stop_pct / HUNDRED, 1 + self.params.take_pct / HUNDRED
        if side == SHORT:
            down, up = 1 + self.params.stop_pct / HUNDRED, 1 - self.params.take_pct / HUNDRED
        self.decisions.append({
            "action": side, "symbol": symbol, "size": margin,
            "leverage": leverage or self.params.leverage,
            "stopLoss": _sig(price * down), "takeProfit": _sig(price * up),
            "closePositionId": None, "reasoning": reason,
        })
        self.cash -= margin
        self.open_count += 1

    def routine_exits(self, extra: Callable[[Held], str | None] = lambda position: None) -> None:
        """Close what has been held long enough, won or lost enough, or ``extra`` condemns."""
        for position in self.view.positions:
            if position.hours_open >= self.view.hold_hours:
                self.close(position, f"held {position.hours_open.quantize(CENT)} h, time to rotate")
            elif position.pnl_pct >= self.params.exit_gain_pct:
                self.close(position, "taking the profit")
            elif position.pnl_pct <= -self.params.exit_loss_pct:
                self.close(position, "cutting the loss")
            elif (reason := extra(position)) is not None:
                self.close(position, reason)


def _ranked(markets: Iterable[Market], key: Callable[[Market], Decimal]) -> list[Market]:
    # Ties broken by symbol, so the order never depends on the context's key order.
    return sorted(markets, key=lambda market: (-key(market), market.symbol))


# --- strategies ----------------------------------------------------------------------

MOMENTUM = Params(Decimal("0.10"), 5, Decimal("2"), Decimal("4"), Decimal("6"), Decimal("4"))


def momentum(view: View) -> list[dict[str, Any]]:
    """Long the strongest 24h mover, short the weakest; exit on time, ±ROE, or a flip."""
    book = _Book(view, MOMENTUM)

    def flipped(position: Held) -> str | None:
        market = view.markets.get(position.symbol)
        if market is None:
            return None
        against = market.change_pct < 0 if position.side == LONG else market.change_pct > 0
        return f"the 24h trend turned ({_pct(market.change_pct)})" if against else None

    book.routine_exits(flipped)
    ranked = _ranked(view.markets.values(), lambda market: market.change_pct)
    movers = [market for market in ranked if market.change_pct > Decimal("0.5")]
    losers = [market for market in reversed(ranked) if market.change_pct < Decimal("-0.5")]
    if movers:
        top = movers[0]
        why = f"{top.symbol} is the strongest 24h mover ({_pct(top.change_pct)}): riding it"
        book.open(top.symbol, LONG, why)
    if losers:
        bottom = losers[0]
        why = f"{bottom.symbol} is the weakest 24h mover ({_pct(bottom.change_pct)}): shorting it"
        book.open(bottom.symbol, SHORT, why)
    return book.decisions


MEAN_REVERSION = Params(Decimal("0.08"), 3, Decimal("3"), Decimal("2"), Decimal("4"), Decimal("6"))


def _stretch(market: Market) -> Decimal:
    """How far the price sits from its recent mean, percent; the 24h change without candles."""
    closes = market.closes[-20:]
    if len(closes) < 5:
        return market.change_pct / 2  # a day's move is a wider yardstick than a few candles
    mean = sum(closes) / len(closes)
    return (market.price - mean) / mean * HUNDRED


def mean_reversion(view: View) -> list[dict[str, Any]]:
    """Fade the most stretched market back toward its mean; exit when it got there."""
    book = _Book(view, MEAN_REVERSION)

    def reverted(position: Held) -> str | None:
        market = view.markets.get(position.symbol)
        if market is None:
            return None
        stretch = _stretch(market)
        back = stretch <= 0 if position.side == SHORT else stretch >= 0
        return f"the price is back at its mean ({_pct(stretch)} from it)" if back else None

    book.routine_exits(reverted)
    ranked = _ranked(view.markets.values(), _stretch)
    above = [market for market in ranked if _stretch(market) >= Decimal("1.5")]
    below = [market for market in reversed(ranked) if _stretch(market) <= Decimal("-1.5")]
    if above:
        high = above[0]
        why = f"{high.symbol} is {_pct(_stretch(high))} above its mean: fading the rise"
        book.open(high.symbol, SHORT, why)
    if below:
        low = below[0]
        why = f"{low.symbol} is {_pct(_stretch(low))} below its mean: fading the drop"
        book.open(low.symbol, LONG, why)
    return book.decisions


BREAKOUT = Params(Decimal("0.06"), 10, Decimal("1.5"), Decimal("3"), Decimal("8"), Decimal("5"))


def _breakout(market: Market) -> Decimal:
    """Percent beyond the recent range (positive above the high, negative below the low).

    The range is the four hourly candles before the latest (an intraday range, so the
    demo bot trades within hours, not days); without five candles, a 24h move of more
    than 4% counts as leaving the daily range.
    """
    if len(market.highs) < 5:
        change = market.change_pct
        return change - 4 if change > 4 else change + 4 if change < -4 else Decimal(0)
    high, low = max(market.highs[-5:-1]), min(market.lows[-5:-1])
    if market.price > high:
        return (market.price - high) / high * HUNDRED
    if market.price < low:
        return (market.price - low) / low * HUNDRED
    return Decimal(0)


def breakout(view: View) -> list[dict[str, Any]]:
    """Trade a price leaving its recent range; exit on time, ±ROE, or a break the other way."""
    book = _Book(view, BREAKOUT)

    def reversed_break(position: Held) -> str | None:
        market = view.markets.get(position.symbol)
        if market is None:
            return None
        level = _breakout(market)
        against = level < 0 if position.side == LONG else level > 0
        return "the price broke out the other way" if against else None

    book.routine_exits(reversed_break)
    ranked = _ranked(view.markets.values(), _breakout)
    ups = [market for market in ranked if _breakout(market) > 0]
    downs = [market for market in reversed(ranked) if _breakout(market) < 0]
    if ups:
        up = ups[0]
        why = f"{up.symbol} broke above its range ({_pct(_breakout(up))}): going with it"
        book.open(up.symbol, LONG, why)
    if downs:
        down = downs[0]
        why = f"{down.symbol} broke below its range ({_pct(_breakout(down))}): shorting"
        book.open(down.symbol, SHORT, why)
    return book.decisions


RANDOM_WALK = Params(Decimal("0.05"), 3, Decimal("2"), Decimal("2"), Decimal("5"), Decimal("5"), 2)


def random_walk(view: View) -> list[dict[str, Any]]:
    """Coin flips, seeded by bot id and turn (so replayable): a baseline any strategy
    should beat. Always opens something when flat; closes at random or on time."""
    # A string seed hashes the same in every process (str hash randomisation does not apply).
    rng = random.Random(f"random_walk:{view.bot_id}:{view.turn}")
    book = _Book(view, RANDOM_WALK)
    book.routine_exits(lambda position: "the coin said close" if rng.random() < 0.4 else None)
    if book.open_count == 0 or rng.random() < 0.3:
        choices = [symbol for symbol in view.markets if book.can_open(symbol)]
        if choices:
            symbol = rng.choice(choices)
            side = rng.choice((LONG, SHORT))
            leverage = rng.choice((2, 3, 5, 10))
            book.open(symbol, side, f"the coin said {side} {symbol} at {leverage}x", leverage)
    return book.decisions


STRATEGIES: Mapping[str, Callable[[View], list[dict[str, Any]]]] = {
    "momentum": momentum,
    "mean_reversion": mean_reversion,
    "breakout": breakout,
    "random_walk": random_walk,
}


def decide(name: str, context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decisions strategy ``name`` makes in ``context``; ``UnknownStrategy`` if none is."""
    strategy = STRATEGIES.get(name.strip().lower() if isinstance(name, str) else name)
    if strategy is None:
        raise UnknownStrategy(f"no scripted strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    return strategy(read_context(context))


def _as_number(value: object) -> float:
    if isinstance(value, Decimal):
        # Sizes have 2 places and prices 6 significant digits: far inside a float's 15,
        # so the float's shortest repr is the same digits and parses back exactly.
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(decisions: Sequence[Mapping[str, Any]]) -> str:
    """Decisions as the JSON text a model would send (Decimals as JSON numbers)."""
    return json.dumps(list(decisions), default=_as_number, ensure_ascii=False)
