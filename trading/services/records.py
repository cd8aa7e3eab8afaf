"""Recording fills: the rows and journal entries of an open or a close, written inside the
caller's transaction with the bot's account locked (``trading.services.positions``)."""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from ledger.events import event_append
from ledger.models import Account, Entry
from ledger.rollups import rollup_close
from ledger.services import Posting, entries_post, money
from trading import brokers, perps, risk, tiers
from trading.models import CloseReason, Position, Trade
from trading.selectors import risk_settings


def write_open(
    account: Account, bot_id: int, plan: risk.OpenPlan, fill: brokers.Fill, guards: dict[str, str],
    decision: Any, now: datetime, order_id: str, *, fallback_mmr: Decimal,
) -> Position:
    # The paper broker fills at the planned price; any other venue's price moves the
    # liquidation price with it.
    # An exchange's fill brings its own margin and liquidation price: recorded as it holds them.
    symbol, side = plan.symbol, plan.side
    margin = money(fill.margin) if fill.margin else plan.margin
    liquidation = fill.liquidation_price or (
        plan.liquidation_price if fill.price == plan.fill_price else liquidation_price_for(
            symbol=symbol, side=side, entry_price=fill.price, quantity=fill.quantity, margin=margin,
            fallback_mmr=fallback_mmr))
    # As planned: margin + fee fits the balance (an exchange's commission is kept exact).
    fee = money(fill.fee) if fill.realized_pnl is not None else perps.round_money(fill.fee, ROUND_DOWN)
    position = Position.objects.create(
        bot_id=bot_id, symbol=symbol, side=side, margin=margin, leverage=plan.leverage,
        quantity=fill.quantity, entry_price=fill.price,
        liquidation_price=liquidation, stop_loss=plan.stop_loss,
        take_profit=plan.take_profit, mark_price=fill.price, marked_at=now,
        opened_at=now, opening_decision=decision,
        stop_loss_order_id=guards.get("stop_loss", ""),
        take_profit_order_id=guards.get("take_profit", ""),
    )
    trade = Trade.objects.create(
        bot_id=bot_id, position=position, decision=decision, kind=Trade.Kind.OPEN, side=side,
        symbol=symbol, price=fill.price, quantity=fill.quantity, margin=margin,
        leverage=plan.leverage, fee=fee, executed_at=now, client_order_id=order_id,
        exchange_order_id=fill.exchange_order_id, exchange_trade_ids=list(fill.trade_ids),
    )
    memo = f"{side} {symbol} x{plan.leverage}"
    postings = [Posting(Entry.Kind.MARGIN_LOCK, -margin, position, trade, memo=memo)]
    if fee > 0:
        postings.append(Posting(Entry.Kind.FEE, -fee, position, trade, memo=f"open fee {memo}"))
    entries_post(account=account, postings=postings, created_at=now, locked=True)
    event_append("position_opened", {
        "bot": bot_id, "position": position.pk, "trade": trade.pk, "symbol": symbol, "side": side,
        "margin": margin, "leverage": plan.leverage, "quantity": fill.quantity,
        "entry_price": fill.price, "liquidation_price": liquidation,
        "stop_loss": plan.stop_loss, "take_profit": plan.take_profit, "fee": trade.fee,
        "decision": trade.decision_id, "opened_at": now,
    }, bot_id=bot_id, now=now)
    return position


def write_close(
    account: Account, position: Position, reason: str, fill: Decimal, gross: Decimal,
    fee: Decimal, decision: Any, now: datetime, order_ids: tuple[str, str | None],
    trade_ids: tuple[str, ...] = (),
) -> Trade:
    net = gross - fee
    trade = Trade.objects.create(
        bot_id=position.bot_id, position=position, decision=decision, kind=Trade.Kind.CLOSE,
        side=position.side, symbol=position.symbol, price=fill, quantity=position.quantity,
        margin=position.margin, leverage=position.leverage, fee=fee, pnl=net, reason=reason,
        executed_at=now, client_order_id=order_ids[0], exchange_order_id=order_ids[1],
        exchange_trade_ids=list(trade_ids),
    )
    memo = f"close {position.side} {position.symbol} ({reason})"
    postings = [Posting(Entry.Kind.MARGIN_RELEASE, position.margin, position, trade, memo=memo)]
    if reason == CloseReason.LIQUIDATION:
        postings.append(Posting(Entry.Kind.LIQUIDATION, -position.margin, position, trade, memo=memo))
    else:
        if gross != 0:
            postings.append(Posting(Entry.Kind.REALIZED_PNL, gross, position, trade, memo=memo))
        if fee > 0:
            fee_memo = f"close fee {position.symbol}"
            postings.append(Posting(Entry.Kind.FEE, -fee, position, trade, memo=fee_memo))
    entries_post(account=account, postings=postings, created_at=now, locked=True)
    position.status = Position.Status.CLOSED
    position.closed_at = now
    position.exit_price = fill
    position.close_reason = reason
    position.realized_pnl = net
    position.mark_price = fill
    position.unrealized_pnl = Decimal("0")
    position.marked_at = now
    position.save(update_fields=[
        "status", "closed_at", "exit_price", "close_reason", "realized_pnl", "mark_price",
        "unrealized_pnl", "marked_at",
    ])
    rollup_close(bot_id=position.bot_id, at=now, pnl=net, opened_at=position.opened_at,
                 leverage=position.leverage, margin=position.margin)
    event_append("position_closed", {
        "bot": position.bot_id, "position": position.pk, "trade": trade.pk, "symbol": position.symbol,
        "side": position.side, "quantity": position.quantity, "entry_price": position.entry_price,
        "exit_price": fill, "pnl": net, "fee": fee, "reason": reason, "decision": trade.decision_id,
        "closed_at": now,
    }, bot_id=position.bot_id, now=now)
    return trade


def liquidation_price_for(*, symbol: str, side: str, entry_price: Decimal, quantity: Decimal,
                          margin: Decimal, fallback_mmr: Decimal | None = None) -> Decimal:
    """The isolated-margin liquidation price at the position's notional tier."""
    if fallback_mmr is None:
        fallback_mmr = risk_settings().fallback_mmr
    mmr, cum = tiers.maintenance(symbol, perps.notional(entry_price, quantity), fallback_mmr=fallback_mmr)
    return perps.liquidation_price(side, entry_price, quantity, margin, mmr, cum)
