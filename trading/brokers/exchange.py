"""The exchange broker: a bot's orders on its Binance-compatible exchange.

Never a second order: every ``place`` first asks the exchange for the client order id
(``origClientOrderId``) and returns what it finds — a retry, a redelivered task or an
earlier timeout meets the order it already sent. Only an id the exchange has never seen
is sent, once; when the answer is lost (a timeout, a dropped connection, ``-1007``) the
order is looked up again, and if it still cannot be found the fill is ``unknown`` (never
resent by this call: the next attempt starts with the lookup, and reconciliation imports
it if it did fill).

The fill is what the exchange reports: average price, quantity, commission, realized PnL
and trade ids from its trade records, the isolated margin and liquidation price it gives
the position. The quantity is rounded down to the symbol's step and the order checked
against its minimum notional before anything is sent. Stop-loss and take-profit orders
are placed after the entry fills (``closePosition``, triggered by the mark price) on the
endpoint the exchange wants (classic or algo), and cancelled when the position closes.
Errors never escape as exceptions: they become ``rejected`` or ``unknown`` fills with
the exchange's reason in words.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from trading.brokers import (
    BUY,
    FILLED,
    PARTIAL,
    REJECTED,
    SELL,
    UNKNOWN,
    Fill,
    Order,
    Protection,
    protection_order_id,
)
from trading.exchanges import (
    ExchangeClient,
    ExchangeError,
    ExchangeOrder,
    order_refusal,
    price_to_tick,
    quantity_floor,
)

log = logging.getLogger(__name__)

_TYPES = {"stop_loss": "STOP_MARKET", "take_profit": "TAKE_PROFIT_MARKET"}
_DONE = {"FILLED": FILLED, "PARTIALLY_FILLED": PARTIAL}
_OVER = {"CANCELED", "EXPIRED", "REJECTED"}


@dataclass
class ExchangeBroker:
    """Places a bot's orders on the exchange ``client`` speaks to."""

    client: ExchangeClient
    name: str = "exchange"

    def close(self) -> None:
        self.client.close()

    # -- orders ----------------------------------------------------------------------

    def place(self, order: Order) -> Fill:
        found = self._lookup_or_error(order.client_order_id, order.symbol)
        if isinstance(found, Fill):
            return found  # sent before (a retry, a redelivery): never a second order
        if found is not None:
            return Fill(order.client_order_id, UNKNOWN, reason=f"could not ask the exchange about the order "
                        f"before sending it: {found}; nothing was sent")
        try:
            rules = self.client.symbol_rules(order.symbol)
        except ExchangeError as exc:
            return Fill(order.client_order_id, REJECTED, reason=str(exc))
        quantity = quantity_floor(order.quantity, rules.step_size)
        refusal = order_refusal(rules, quantity, order.price, reduce_only=order.reduce_only)
        if refusal:
            return Fill(order.client_order_id, REJECTED, reason=refusal)
        if not order.reduce_only and order.leverage is not None:
            try:  # isolated margin at the decision's leverage, before the order
                self.client.set_isolated(order.symbol)
                self.client.set_leverage(order.symbol, order.leverage)
            except ExchangeError as exc:
                return Fill(order.client_order_id, REJECTED, reason=str(exc))
        try:
            sent = self.client.market_order(symbol=order.symbol, side=order.side, quantity=quantity,
                                            client_order_id=order.client_order_id,
                                            reduce_only=order.reduce_only)
        except ExchangeError as exc:
            if exc.unknown or exc.code == -4116:
                # Perhaps executed (the answer was lost) or sent before: ask, never resend.
                again = self._lookup_or_error(order.client_order_id, order.symbol)
                if isinstance(again, Fill):
                    return again
                return Fill(order.client_order_id, UNKNOWN, reason=f"{exc}; the exchange does not report the "
                            "order yet: it is looked up again before anything is resent")
            return Fill(order.client_order_id, REJECTED, reason=str(exc))
        return self._fill_of(sent)

    def lookup(self, client_order_id: str, symbol: str = "") -> Fill | None:
        found = self._lookup_or_error(client_order_id, symbol)
        if isinstance(found, str):
            return Fill(client_order_id, UNKNOWN, reason=found)
        return found

    def _lookup_or_error(self, client_order_id: str, symbol: str) -> Fill | str | None:
        """The order's fill as the exchange reports it, None if it never got the order, or
        why the exchange could not be asked."""
        try:
            sent = self.client.order(symbol=symbol, client_order_id=client_order_id)
        except ExchangeError as exc:
            return str(exc)
        return None if sent is None else self._fill_of(sent)

    def _fill_of(self, sent: ExchangeOrder) -> Fill:
        status = _DONE.get(sent.status)
        if status is None:
            if sent.status in _OVER:
                return Fill(sent.client_order_id, REJECTED, exchange_order_id=sent.order_id,
                            reason=f"the exchange reports the order {sent.status.lower()}")
            return Fill(sent.client_order_id, UNKNOWN, exchange_order_id=sent.order_id,
                        reason=f"the exchange reports the order {sent.status.lower()}, not filled yet")
        price, quantity, fee, pnl, trade_ids = sent.avg_price, sent.executed_qty, Decimal(0), Decimal(0), ()
        try:
            trades = self.client.user_trades(symbol=sent.symbol, order_id=sent.order_id)
        except ExchangeError as exc:
            log.warning("order %s: its trades could not be read: %s", sent.client_order_id, exc)
            trades = []
        if trades:
            quantity = sum((t.qty for t in trades), Decimal(0))
            price = sum((t.price * t.qty for t in trades), Decimal(0)) / quantity
            fee = abs(sum((t.commission for t in trades), Decimal(0)))  # in USDT (the only margin asset)
            pnl = sum((t.realized_pnl for t in trades), Decimal(0))
            trade_ids = tuple(t.trade_id for t in trades)
        margin = liquidation = None
        try:
            held = [p for p in self.client.positions(sent.symbol) if p.symbol == sent.symbol and p.amount]
        except ExchangeError as exc:
            log.warning("order %s: the position could not be read: %s", sent.client_order_id, exc)
            held = []
        if held:
            margin, liquidation = held[0].isolated_wallet, held[0].liquidation_price
        return Fill(sent.client_order_id, status, price=price, quantity=quantity, fee=fee,
                    exchange_order_id=sent.order_id, trade_ids=trade_ids, realized_pnl=pnl,
                    margin=margin, liquidation_price=liquidation)

    # -- protection ------------------------------------------------------------------

    def protect(self, *, entry: Order, stop_loss: Decimal | None,
                take_profit: Decimal | None) -> tuple[Protection, ...]:
        placed = []
        close_side = SELL if entry.side == BUY else BUY
        for kind, level in (("stop_loss", stop_loss), ("take_profit", take_profit)):
            if level is None:
                continue
            client_id = protection_order_id(entry.client_order_id, kind)
            try:
                rules = self.client.symbol_rules(entry.symbol)
                # A long's stop below (rounded up, never further away), its target above.
                up = (kind == "stop_loss") == (entry.side == BUY)
                trigger = price_to_tick(level, rules.tick_size, up=up)
                held = self.client.conditional(symbol=entry.symbol, client_id=client_id)
                if held is None:
                    held = self.client.conditional_order(
                        symbol=entry.symbol, side=close_side, type=_TYPES[kind], trigger_price=trigger,
                        client_id=client_id)
            except ExchangeError as exc:
                placed.append(Protection(kind, level, client_id, None, error=str(exc)))
                continue
            placed.append(Protection(kind, held.trigger_price, client_id, held.order_id))
        return tuple(placed)

    def unprotect(self, *, symbol: str, exchange_order_ids: tuple[str, ...]) -> None:
        for order_id in exchange_order_ids:
            try:
                self.client.cancel_conditional(symbol=symbol, order_id=order_id)
            except ExchangeError as exc:  # left for reconciliation, which cancels orphans
                log.warning("%s: protection order %s could not be cancelled: %s", symbol, order_id, exc)
