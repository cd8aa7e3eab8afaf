"""Brokers: where an order is filled.

A broker takes an ``Order`` and says what was filled: price, quantity, fee and the
venue's ids, or that it was rejected (with the reason) or that the outcome is unknown
(a timeout: ``lookup`` it by its client order id before ever sending again). The paper
broker simulates a market fill (slippage against the trader, the symbol's tick, the
taker fee); an exchange broker places the same order on a Binance-compatible venue.
Brokers are ORM-free and are called outside any transaction; the engine records their
fills (``trading.services.positions``), idempotently on the client order id.

Client order ids follow Binance's rule (at most 36 characters of ``[.A-Za-z0-9:/_-]``)
and are derived, never random, so a retried or redelivered task asks for the same order:
from the decision and the action's index, or, for closes without a decision (triggers,
manual closes, a reset), from the position and the reason.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from django.conf import settings

BUY, SELL = "BUY", "SELL"
FILLED, PARTIAL, REJECTED, UNKNOWN = "filled", "partially_filled", "rejected", "unknown"
CLIENT_ORDER_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
# Short codes for the reasons a position closes without a decision.
CLOSE_CODES = {"stop_loss": "sl", "take_profit": "tp", "liquidation": "liq", "manual": "man",
               "reset": "rst", "decision": "dec"}


class OrderIdError(ValueError):
    """A client order id the venues would refuse."""


@dataclass(frozen=True)
class Order:
    """A market order. ``price`` is the price it is expected near (the last price): the
    paper broker fills from it, an exchange broker uses it only to check min notional."""

    client_order_id: str
    symbol: str
    side: str  # BUY or SELL
    quantity: Decimal
    price: Decimal
    reduce_only: bool = False
    tick_size: Decimal | None = None
    leverage: int | None = None  # an opening order's: an exchange sets it on the symbol first

    def __post_init__(self) -> None:
        order_id_check(self.client_order_id)
        if self.side not in (BUY, SELL):
            raise ValueError(f"order side {self.side!r} is neither BUY nor SELL")
        if self.quantity <= 0 or self.price <= 0:
            raise ValueError(f"an order needs a positive quantity and price: {self.quantity} at {self.price}")


@dataclass(frozen=True)
class Fill:
    """What a broker says of an order. ``fee`` is in USDT as the venue charged it (paper:
    the exact taker fee; the engine rounds it to the journal's places when recording)."""

    client_order_id: str
    status: str  # filled, partially_filled, rejected, unknown
    price: Decimal | None = None  # average fill price
    quantity: Decimal = Decimal("0")
    fee: Decimal = Decimal("0")
    exchange_order_id: str | None = None
    trade_ids: tuple[str, ...] = field(default_factory=tuple)
    reason: str = ""  # why it was rejected, or why the outcome is unknown
    # The venue's own figures where it reports them (an exchange; None on paper, where the
    # engine computes them): the PnL it realized, the isolated margin it holds for the
    # position after the fill, and the liquidation price it gives the position.
    realized_pnl: Decimal | None = None
    margin: Decimal | None = None
    liquidation_price: Decimal | None = None

    @property
    def filled(self) -> bool:
        return self.status in (FILLED, PARTIAL) and self.quantity > 0 and self.price is not None


@dataclass(frozen=True)
class Protection:
    """A stop-loss or take-profit order a venue holds beside a position."""

    kind: str  # stop_loss or take_profit
    trigger_price: Decimal
    client_order_id: str
    exchange_order_id: str | None = None
    error: str = ""  # why the venue refused it: the position then has no such order there


class Broker(Protocol):
    name: str

    def place(self, order: Order) -> Fill:
        """Send ``order`` once; never raises for a refusal (that is a ``rejected`` fill)."""
        ...

    def lookup(self, client_order_id: str, symbol: str = "") -> Fill | None:
        """What became of an order sent earlier, or None if the venue never got it."""
        ...

    def protect(self, *, entry: Order, stop_loss: Decimal | None,
                take_profit: Decimal | None) -> tuple[Protection, ...]:
        """After ``entry`` filled: the stop-loss / take-profit orders placed beside it
        (none where the engine itself watches the prices, as on paper)."""
        ...

    def unprotect(self, *, symbol: str, exchange_order_ids: tuple[str, ...]) -> None:
        """Cancel a closed position's protection orders (none left behind on the venue)."""
        ...


def protection_order_id(entry_order_id: str, kind: str) -> str:
    """The id of an entry's stop-loss (``:sl``) or take-profit (``:tp``) order."""
    return order_id_check(f"{entry_order_id}:{CLOSE_CODES[kind]}")


def order_id_check(value: str) -> str:
    if not CLIENT_ORDER_ID.fullmatch(value or ""):
        raise OrderIdError(f"client order id {value!r} is not 1-36 characters of [.A-Za-z0-9:/_-]")
    return value


def _prefix() -> str:
    return order_id_check(settings.ARENA_ORDER_PREFIX)


def order_id_for_decision(*, decision_id: int, index: int) -> str:
    """The order of action ``index`` (from 1) of a decision: the same on every retry."""
    return order_id_check(f"{_prefix()}-d{decision_id}-{index}")


def order_id_for_close(*, position_id: int, reason: str) -> str:
    """The close of a position without a decision (a position closes once, for one reason)."""
    return order_id_check(f"{_prefix()}-p{position_id}-{CLOSE_CODES[reason]}")
