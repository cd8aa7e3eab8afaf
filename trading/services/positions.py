"""Opening and closing positions on paper.

Each service is one ``transaction.atomic()`` that locks the bot's account row
first and the position row second — the same order everywhere, so two writers
never deadlock — and moves money only through ``ledger.services.entries_post``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ledger.events import event_append
from ledger.models import Account, Entry
from ledger.services import Posting, entries_post, money
from trading import perps, risk, tiers
from trading.models import CloseReason, Cooldown, Market, Position, Trade
from trading.selectors import market_view, portfolio_view, risk_settings


class PositionError(Exception):
    """A request the engine refuses; the message is meant for the bot's owner."""


@dataclass
class OpenResult:
    position: Position | None
    notes: list[str] = field(default_factory=list)


@dataclass
class CloseResult:
    position: Position | None
    trade: Trade | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.trade is not None


def _lock_account(bot_id: int) -> Account:
    return Account.objects.select_for_update().get(bot_id=bot_id)


def _lock_account_of(position_id: int) -> Account:
    # The account of the position's bot, found through the position in one query;
    # ``of=("self",)`` keeps PostgreSQL from also locking the joined rows.
    try:
        return Account.objects.select_for_update(of=("self",)).get(bot__positions__id=position_id)
    except Account.DoesNotExist:
        raise PositionError(f"there is no position {position_id}") from None


def position_open(
    *,
    bot: Any,
    symbol: str,
    side: str,
    margin: Decimal,
    leverage: int,
    stop_loss: Decimal | None = None,
    take_profit: Decimal | None = None,
    decision: Any = None,
    now: datetime | None = None,
) -> OpenResult:
    """Open a position if the risk rules allow it; every adjustment or refusal is a note."""
    now = now or timezone.now()
    symbol = symbol.upper()
    if getattr(bot, "mode", "paper") != "paper":
        # The paper engine never invents fills for real money (the turn skips such bots first).
        return OpenResult(None, [f"{symbol}: a real-money bot is not traded on paper; nothing opened"])
    request = risk.OpenRequest(
        symbol=symbol, side=side, margin=margin, leverage=leverage,
        stop_loss=stop_loss, take_profit=take_profit,
    )
    settings = risk_settings()
    # No savepoint when nested (a turn's per-bot transaction): it is all or nothing anyway.
    with transaction.atomic(savepoint=False):
        account = _lock_account(bot.pk)
        market = market_view(symbol)
        if market is None:
            return OpenResult(None, [f"{symbol}: unknown symbol or no price yet; nothing opened"])
        portfolio = portfolio_view(bot_id=bot.pk, available_balance=account.balance, now=now)
        check = risk.check_open(request, portfolio, market, settings, now)
        plan = check.approved
        if plan is None:
            return OpenResult(None, list(check.notes))
        position = Position.objects.create(
            bot_id=bot.pk, symbol=symbol, side=side, margin=plan.margin, leverage=plan.leverage,
            quantity=plan.quantity, entry_price=plan.fill_price,
            liquidation_price=plan.liquidation_price, stop_loss=plan.stop_loss,
            take_profit=plan.take_profit, mark_price=plan.fill_price, marked_at=now,
            opened_at=now, opening_decision=decision,
        )
        trade = Trade.objects.create(
            bot_id=bot.pk, position=position, decision=decision, kind=Trade.Kind.OPEN, side=side,
            symbol=symbol, price=plan.fill_price, quantity=plan.quantity, margin=plan.margin,
            leverage=plan.leverage, fee=money(plan.fee), executed_at=now,
        )
        memo = f"{side} {symbol} x{plan.leverage}"
        postings = [Posting(Entry.Kind.MARGIN_LOCK, -plan.margin, position, trade, memo=memo)]
        if money(plan.fee) > 0:
            postings.append(Posting(Entry.Kind.FEE, -plan.fee, position, trade, memo=f"open fee {memo}"))
        entries_post(account=account, postings=postings, created_at=now, locked=True)
        event_append("position_opened", {
            "bot": bot.pk, "position": position.pk, "trade": trade.pk, "symbol": symbol, "side": side,
            "margin": plan.margin, "leverage": plan.leverage, "quantity": plan.quantity,
            "entry_price": plan.fill_price, "liquidation_price": plan.liquidation_price,
            "stop_loss": plan.stop_loss, "take_profit": plan.take_profit, "fee": trade.fee,
            "decision": trade.decision_id, "opened_at": now,
        }, bot_id=bot.pk, now=now)
    return OpenResult(position, list(check.notes))


def _exit_price(
    position: Position, price: Decimal | None, settings: risk.RiskSettings
) -> tuple[Decimal, list[str]]:
    """The fill price of a close: a trigger's own price, else the market's with slippage."""
    if price is not None:
        return price, []
    market = Market.objects.filter(symbol=position.symbol).first()
    if market is None or market.last_price is None:
        raise PositionError(f"{position.symbol}: no market price to close position {position.pk} at")
    notes = []
    if market.is_stale:
        notes.append(f"{position.symbol}: closed at the last known price (the feed is stale)")
    fill = perps.fill_price(
        market.last_price, position.side, opening=False,
        slippage_bps=settings.slippage_bps, tick_size=market.tick_size,
    )
    return fill, notes


def position_close(
    *,
    position: Position | int,
    reason: str,
    price: Decimal | None = None,
    decision: Any = None,
    now: datetime | None = None,
) -> CloseResult:
    """Close an open position once: a second close of the same position is a clean refusal.

    ``price`` is the fill for triggers (stop-loss, take-profit, liquidation);
    otherwise the market price with slippage against the trader. A loss can
    never exceed the margin (isolated margin): such a close is a liquidation.
    """
    if reason not in CloseReason.values:
        raise PositionError(f"unknown close reason {reason!r}")
    now = now or timezone.now()
    settings = risk_settings()
    position_id = position.pk if isinstance(position, Position) else position
    with transaction.atomic(savepoint=False):
        account = _lock_account_of(position_id)
        locked = Position.objects.select_for_update().get(pk=position_id)
        if locked.status != Position.Status.OPEN:
            return CloseResult(locked, None, [f"position {position_id} is already closed"])
        fill, notes = _exit_price(locked, price, settings)
        gross = money(perps.unrealized_pnl(locked.side, locked.entry_price, fill, locked.quantity))
        fee = money(perps.fee(perps.notional(fill, locked.quantity), settings.taker_fee_rate))
        if reason == CloseReason.LIQUIDATION or locked.margin + gross - fee <= 0:
            if reason != CloseReason.LIQUIDATION:
                notes.append(
                    f"the loss at {fill} would exceed the margin: liquidated, losing the margin"
                )
            reason, gross, fee = CloseReason.LIQUIDATION, -locked.margin, Decimal("0")
        trade = _write_close(account, locked, reason, fill, gross, fee, decision, now)
        if settings.cooldown_minutes:
            Cooldown.objects.bulk_create(  # one upsert on (bot, symbol)
                [Cooldown(bot_id=locked.bot_id, symbol=locked.symbol, until=settings.cooldown_until(now))],
                update_conflicts=True, unique_fields=["bot", "symbol"], update_fields=["until"],
            )
    return CloseResult(locked, trade, notes)


def _write_close(
    account: Account, position: Position, reason: str, fill: Decimal, gross: Decimal,
    fee: Decimal, decision: Any, now: datetime,
) -> Trade:
    net = gross - fee
    trade = Trade.objects.create(
        bot_id=position.bot_id, position=position, decision=decision, kind=Trade.Kind.CLOSE,
        side=position.side, symbol=position.symbol, price=fill, quantity=position.quantity,
        margin=position.margin, leverage=position.leverage, fee=fee, pnl=net, reason=reason,
        executed_at=now,
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
    event_append("position_closed", {
        "bot": position.bot_id, "position": position.pk, "trade": trade.pk, "symbol": position.symbol,
        "side": position.side, "quantity": position.quantity, "entry_price": position.entry_price,
        "exit_price": fill, "pnl": net, "fee": fee, "reason": reason, "decision": trade.decision_id,
        "closed_at": now,
    }, bot_id=position.bot_id, now=now)
    return trade


def liquidation_price_for(*, symbol: str, side: str, entry_price: Decimal, quantity: Decimal,
                          margin: Decimal) -> Decimal:
    """The isolated-margin liquidation price at the position's notional tier."""
    mmr, cum = tiers.maintenance(
        symbol, perps.notional(entry_price, quantity), fallback_mmr=risk_settings().fallback_mmr
    )
    return perps.liquidation_price(side, entry_price, quantity, margin, mmr, cum)
