"""Writing a turn's decisions: a strategy's parameters, and the book that sizes each
open within the cash and position slots left and writes the legacy decision shape."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from bots.strategies.view import CLOSE, SHORT, Held, Market, View
from trading.risk import MIN_TRADE_USDT

# Keep some cash back for entry fees and rounding, so a sized order is never refused.
CASH_BUFFER = Decimal("0.97")
USDT_CENT = Decimal("0.01")  # margins are sized to the cent
SHOWN_PLACES = Decimal("0.01")  # percentages and hours in a reasoning
HUNDRED = Decimal(100)


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


def pct_text(value: Decimal) -> str:
    return f"{value.quantize(SHOWN_PLACES):+}%"


def _close(position: Held, reason: str) -> dict[str, Any]:
    what = f"{position.side} {position.symbol} ({pct_text(position.pnl_pct)} on margin)"
    return {
        "action": CLOSE, "symbol": position.symbol, "size": None, "leverage": None,
        "stopLoss": None, "takeProfit": None, "closePositionId": position.id,
        "reasoning": f"Closing {what}: {reason}",
    }


class Book:
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
        sized = (self.view.balance * self.params.fraction).quantize(USDT_CENT, ROUND_DOWN)
        margin = max(MIN_TRADE_USDT, sized)
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
                self.close(position, f"held {position.hours_open.quantize(SHOWN_PLACES)} h, time to rotate")
            elif position.pnl_pct >= self.params.exit_gain_pct:
                self.close(position, "taking the profit")
            elif position.pnl_pct <= -self.params.exit_loss_pct:
                self.close(position, "cutting the loss")
            elif (reason := extra(position)) is not None:
                self.close(position, reason)


def by_rank(markets: Iterable[Market], key: Callable[[Market], Decimal]) -> list[Market]:
    # Ties broken by symbol, so the order never depends on the context's key order.
    return sorted(markets, key=lambda market: (-key(market), market.symbol))
