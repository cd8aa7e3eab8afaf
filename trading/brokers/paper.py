"""The paper broker: a market fill simulated from the last price, as the engine always did."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading import perps
from trading.brokers import BUY, FILLED, REJECTED, Fill, Order, Protection


@dataclass(frozen=True)
class PaperBroker:
    """Fills every order at once and whole: the last price moved against the trader by
    ``slippage_bps``, rounded to the tick (a buy up, a sell down), with the taker fee on
    the notional. No venue holds paper orders, so there is nothing to look up."""

    slippage_bps: Decimal
    taker_fee_rate: Decimal
    name: str = "paper"

    def place(self, order: Order) -> Fill:
        # A buy is a LONG opening (or a SHORT closing): perps.fill_price prices either.
        side = perps.LONG if order.side == BUY else perps.SHORT
        try:
            price = perps.fill_price(order.price, side, True, self.slippage_bps, order.tick_size)
        except ValueError as exc:
            return Fill(order.client_order_id, REJECTED, reason=str(exc))
        fee = perps.fee(perps.notional(price, order.quantity), self.taker_fee_rate)
        return Fill(order.client_order_id, FILLED, price=price, quantity=order.quantity, fee=fee)

    def lookup(self, client_order_id: str, symbol: str = "") -> Fill | None:
        return None

    def protect(self, *, entry: Order, stop_loss: Decimal | None,
                take_profit: Decimal | None) -> tuple[Protection, ...]:
        # Paper stops are the engine's own: every price refresh checks them (triggers_check).
        return ()

    def unprotect(self, *, symbol: str, exchange_order_ids: tuple[str, ...]) -> None:
        if exchange_order_ids:
            raise ValueError(f"{symbol}: paper positions have no venue orders to cancel")
