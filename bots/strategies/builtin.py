"""The four built-in strategies, and ``decide``: the decisions one makes in a context."""
from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from bots.strategies.book import HUNDRED, Book, Params, by_rank, pct_text
from bots.strategies.view import LONG, SHORT, Held, Market, View, read_context


class UnknownStrategy(ValueError):
    """No strategy goes by that name."""


MOMENTUM = Params(Decimal("0.10"), 5, Decimal("2"), Decimal("4"), Decimal("6"), Decimal("4"))


def momentum(view: View) -> list[dict[str, Any]]:
    """Long the strongest 24h mover, short the weakest; exit on time, ±ROE, or a flip."""
    book = Book(view, MOMENTUM)

    def flipped(position: Held) -> str | None:
        market = view.markets.get(position.symbol)
        if market is None:
            return None
        against = market.change_pct < 0 if position.side == LONG else market.change_pct > 0
        return f"the 24h trend turned ({pct_text(market.change_pct)})" if against else None

    book.routine_exits(flipped)
    ranked = by_rank(view.markets.values(), lambda market: market.change_pct)
    movers = [market for market in ranked if market.change_pct > Decimal("0.5")]
    losers = [market for market in reversed(ranked) if market.change_pct < Decimal("-0.5")]
    if movers:
        top = movers[0]
        why = f"{top.symbol} is the strongest 24h mover ({pct_text(top.change_pct)}): riding it"
        book.open(top.symbol, LONG, why)
    if losers:
        bottom = losers[0]
        why = f"{bottom.symbol} is the weakest 24h mover ({pct_text(bottom.change_pct)}): shorting it"
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
    book = Book(view, MEAN_REVERSION)

    def reverted(position: Held) -> str | None:
        market = view.markets.get(position.symbol)
        if market is None:
            return None
        stretch = _stretch(market)
        back = stretch <= 0 if position.side == SHORT else stretch >= 0
        return f"the price is back at its mean ({pct_text(stretch)} from it)" if back else None

    book.routine_exits(reverted)
    ranked = by_rank(view.markets.values(), _stretch)
    above = [market for market in ranked if _stretch(market) >= Decimal("1.5")]
    below = [market for market in reversed(ranked) if _stretch(market) <= Decimal("-1.5")]
    if above:
        high = above[0]
        why = f"{high.symbol} is {pct_text(_stretch(high))} above its mean: fading the rise"
        book.open(high.symbol, SHORT, why)
    if below:
        low = below[0]
        why = f"{low.symbol} is {pct_text(_stretch(low))} below its mean: fading the drop"
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
    book = Book(view, BREAKOUT)

    def reversed_break(position: Held) -> str | None:
        market = view.markets.get(position.symbol)
        if market is None:
            return None
        level = _breakout(market)
        against = level < 0 if position.side == LONG else level > 0
        return "the price broke out the other way" if against else None

    book.routine_exits(reversed_break)
    ranked = by_rank(view.markets.values(), _breakout)
    ups = [market for market in ranked if _breakout(market) > 0]
    downs = [market for market in reversed(ranked) if _breakout(market) < 0]
    if ups:
        up = ups[0]
        why = f"{up.symbol} broke above its range ({pct_text(_breakout(up))}): going with it"
        book.open(up.symbol, LONG, why)
    if downs:
        down = downs[0]
        why = f"{down.symbol} broke below its range ({pct_text(_breakout(down))}): shorting"
        book.open(down.symbol, SHORT, why)
    return book.decisions


RANDOM_WALK = Params(Decimal("0.05"), 3, Decimal("2"), Decimal("2"), Decimal("5"), Decimal("5"), 2)


def random_walk(view: View) -> list[dict[str, Any]]:
    """Coin flips, seeded by bot id and turn (so replayable): a baseline any strategy
    should beat. Always opens something when flat; closes at random or on time."""
    # A string seed hashes the same in every process (str hash randomisation does not apply).
    rng = random.Random(f"random_walk:{view.bot_id}:{view.turn}")
    book = Book(view, RANDOM_WALK)
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
