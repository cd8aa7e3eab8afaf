"""Opening and closing positions: plan, place, record.

*Plan* reads what the database says now (no lock) and applies the pure risk rules
(``trading.risk``). *Place* hands the order to a broker (``trading.brokers``; the paper
broker unless the caller names another), outside any transaction. *Record* is one
``transaction.atomic()`` that locks the bot's account row first and the position row
second — the same order everywhere, so two writers never deadlock — re-checks the rules
only if the account moved since the plan, writes the trade once per client order id
(unique), moves money only through ``ledger.services.entries_post``, and writes its
events in one batch (``ledger.events.events_batched``).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger.events import events_batched
from ledger.models import Account
from ledger.services import money
from trading import brokers, perps, risk
from trading.brokers import Broker
from trading.brokers.paper import PaperBroker
from trading.models import CloseReason, Cooldown, Market, Position, Trade
from trading.selectors import market_view, portfolio_view, risk_settings
from trading.services.records import liquidation_price_for, write_close, write_open

__all__ = ["CloseResult", "OpenResult", "PositionError", "broker_for", "liquidation_price_for",
           "position_close", "position_open"]


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


def paper_broker(settings: risk.RiskSettings) -> PaperBroker:
    return PaperBroker(slippage_bps=settings.slippage_bps, taker_fee_rate=settings.taker_fee_rate)


PAPER_MODE = "paper"  # ``bots.Bot.Mode.PAPER``, by value: trading never imports bots


def broker_for(*, mode: str, settings: risk.RiskSettings, bot: Any = None) -> Broker:
    """The broker that places a bot's orders, chosen by the bot's mode: a paper bot's go to
    the paper broker, a real bot's to its exchange (``trading.services.real``), never on
    paper. A real bot that may not trade now (real trading off, the kill switch, its
    wallet) is refused with the reason."""
    if mode == PAPER_MODE:
        return paper_broker(settings)
    if bot is None:
        raise PositionError(f"a {mode} bot's orders go to its exchange: name the bot, nothing is placed")
    from trading.services.real import RealTradingError, exchange_broker_for
    try:
        return exchange_broker_for(bot=bot)
    except RealTradingError as exc:
        raise PositionError(str(exc)) from None


def limits_refusal(bot: Any, symbol: str, notional: Decimal, portfolio: risk.PortfolioView) -> str | None:
    """Why the bot's own limits refuse an opening order of ``notional`` (checked before it
    is sent): its largest order, and its largest exposure with every open position."""
    most = getattr(bot, "max_order_notional", None)
    if most is not None and notional > most:
        return (f"{symbol}: the order's notional {notional:.2f} USDT is over this bot's limit of {most} "
                "USDT per order; nothing opened")
    cap = getattr(bot, "max_exposure", None)
    if cap is not None:
        held = sum((p.entry_price * p.quantity for p in portfolio.open_positions), Decimal(0))
        if held + notional > cap:
            return (f"{symbol}: with this order the open notional would be {held + notional:.2f} USDT, "
                    f"over this bot's exposure limit of {cap} USDT; nothing opened")
    return None


def _open_order_id(decision: Any, action_index: int) -> str:
    if decision is not None:
        return brokers.order_id_for_decision(decision_id=decision.pk, index=action_index)
    # Asked for directly (a script, the admin): no earlier attempt to be recognised by.
    return brokers.order_id_check(f"{django_settings.ARENA_ORDER_PREFIX}-m{uuid.uuid4().hex[:24]}")


def _recorded(order_id: str, kind: str) -> Trade | None:
    """The trade already recorded under ``order_id``; one of another kind under the same id
    is a caller's mistake (two actions given one index), refused rather than taken as done."""
    # Most calls find nothing: ask for the id and kind alone, the whole trade only when found.
    found = Trade.objects.filter(client_order_id=order_id).values_list("pk", "kind")[:1]
    if not found:
        return None
    ((trade_id, recorded_kind),) = found
    if recorded_kind != kind:
        raise PositionError(f"order {order_id} is already recorded as a {recorded_kind} trade, not a {kind}")
    return Trade.objects.select_related("position").get(pk=trade_id)


def _already_recorded(order_id: str) -> list[str]:
    return [f"order {order_id} was already recorded"]


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
    action_index: int = 1,
    broker: Broker | None = None,
    settings: risk.RiskSettings | None = None,
) -> OpenResult:
    """Open a position if the risk rules allow it; every adjustment or refusal is a note.

    Plan (the pure risk rules), place (``broker``, the paper broker by default), record.
    The order's client id is derived from ``decision`` and ``action_index``: an order
    already recorded under it is returned, not opened again. ``settings`` are the risk
    settings the caller read for its whole run (read here when not given).
    """
    now = now or timezone.now()
    symbol = symbol.upper()
    mode = getattr(bot, "mode", PAPER_MODE)
    if mode != PAPER_MODE:
        # Real money opens only on its exchange, while real trading is on and its wallet may
        # trade (the turn skips such bots first); never on paper.
        from trading.services.real import real_trading_refusal
        refusal = real_trading_refusal(bot)
        if refusal:
            return OpenResult(None, [f"{symbol}: {refusal.rstrip('.')}; nothing opened"])
    request = risk.OpenRequest(
        symbol=symbol, side=side, margin=margin, leverage=leverage,
        stop_loss=stop_loss, take_profit=take_profit,
    )
    settings = settings or risk_settings()
    order_id = _open_order_id(decision, action_index)
    # 1. Plan: the pure risk rules on what the database says now (no lock held).
    recorded = _recorded(order_id, Trade.Kind.OPEN)
    if recorded is not None:  # a retry of an order already filled and recorded
        return OpenResult(recorded.position, _already_recorded(order_id))
    market = market_view(symbol)
    if market is None:
        return OpenResult(None, [f"{symbol}: unknown symbol or no price yet; nothing opened"])
    seen = Account.objects.values_list("balance", "updated_at").get(bot_id=bot.pk)
    portfolio = portfolio_view(bot_id=bot.pk, available_balance=seen[0], now=now)
    check = risk.check_open(request, portfolio, market, settings, now)
    plan = check.approved
    if plan is None:
        return OpenResult(None, list(check.notes))
    refusal = limits_refusal(bot, symbol, plan.notional, portfolio)
    if refusal:
        return OpenResult(None, [*check.notes, refusal])
    # 2. Place: the broker, outside any transaction of ours (an exchange is a network call).
    broker = broker or broker_for(mode=mode, settings=settings, bot=bot)
    entry = brokers.Order(
        client_order_id=order_id, symbol=symbol, side=brokers.BUY if side == perps.LONG else brokers.SELL,
        quantity=plan.quantity, price=market.price, tick_size=market.tick_size, leverage=plan.leverage,
    )
    fill = broker.place(entry)
    if not fill.filled:
        return OpenResult(None, [*check.notes, f"{symbol}: the order was {fill.status}: {fill.reason}"])
    # Protection beside the filled entry (paper: none; the engine watches its own stops).
    protections = broker.protect(entry=entry, stop_loss=plan.stop_loss, take_profit=plan.take_profit)
    guards = {p.kind: p.exchange_order_id or "" for p in protections if p.exchange_order_id}
    notes = [f"{symbol}: the {p.kind.replace('_', '-')} order was refused, so the position has none on the "
             f"exchange: {p.error}" for p in protections if p.error]
    # 3. Record: one transaction, the account locked, once per client order id (the unique
    # Trade.client_order_id: a worker that recorded this very order meanwhile wins).
    try:
        with transaction.atomic(), events_batched():
            account = _lock_account(bot.pk)
            if (account.balance, account.updated_at) != seen:
                # The account moved since the plan (every open, close and funding moves it):
                # perhaps by this very order, recorded by another worker; else the rules
                # again against the locked account, and what changed decides.
                recorded = _recorded(order_id, Trade.Kind.OPEN)
                if recorded is not None:
                    return OpenResult(recorded.position, _already_recorded(order_id))
                again = risk.check_open(
                    request, portfolio_view(bot_id=bot.pk, available_balance=account.balance, now=now),
                    market, settings, now)
                if again.approved is None or (again.approved.margin, again.approved.leverage) != (
                        plan.margin, plan.leverage):
                    return OpenResult(None, [*again.notes, f"{symbol}: the account changed while the "
                                             "order was placed; nothing opened"])
            position = write_open(account, bot.pk, plan, fill, guards, decision, now, order_id,
                                  fallback_mmr=settings.fallback_mmr)
    except IntegrityError:
        recorded = _recorded(order_id, Trade.Kind.OPEN)
        if recorded is None:
            raise
        return OpenResult(recorded.position, _already_recorded(order_id))
    return OpenResult(position, [*check.notes, *notes])


def _exit_fill(
    position: Position, price: Decimal | None, order_id: str, broker: Broker, settings: risk.RiskSettings
) -> tuple[brokers.Fill, list[str]]:
    """The fill of a close: a trigger's own price (a paper stop fills at its level, with the
    taker fee), else a reduce-only market order placed through the broker."""
    if price is not None:
        fee = perps.fee(perps.notional(price, position.quantity), settings.taker_fee_rate)
        return brokers.Fill(order_id, brokers.FILLED, price=price, quantity=position.quantity, fee=fee), []
    market = Market.objects.filter(symbol=position.symbol).first()
    if market is None or market.last_price is None:
        raise PositionError(f"{position.symbol}: no market price to close position {position.pk} at")
    notes = []
    if market.is_stale:
        notes.append(f"{position.symbol}: closed at the last known price (the feed is stale)")
    fill = broker.place(brokers.Order(
        client_order_id=order_id, symbol=position.symbol, reduce_only=True, quantity=position.quantity,
        side=brokers.SELL if position.side == perps.LONG else brokers.BUY, price=market.last_price,
        tick_size=market.tick_size,
    ))
    if not fill.filled or fill.quantity != position.quantity:
        raise PositionError(
            f"{position.symbol}: closing position {position.pk} was {fill.status}: {fill.reason}")
    return fill, notes


def position_close(
    *,
    position: Position | int,
    reason: str,
    price: Decimal | None = None,
    decision: Any = None,
    now: datetime | None = None,
    action_index: int = 1,
    broker: Broker | None = None,
    settings: risk.RiskSettings | None = None,
    fill: brokers.Fill | None = None,
) -> CloseResult:
    """Close an open position once: a second close of the same position is a clean refusal.

    The order's client id comes from ``decision`` and ``action_index``, or, without a
    decision, from the position and ``reason``; ``broker`` defaults to the bot's (paper,
    or its exchange for a real bot). ``fill`` is a close that already happened on the
    exchange (a stop, a liquidation, a close in its own UI), found by reconciliation:
    recorded with the exchange's figures, nothing placed.

    ``price`` is the fill for triggers (stop-loss, take-profit, liquidation);
    otherwise the market price with slippage against the trader. A loss can
    never exceed the margin (isolated margin): such a close is a liquidation.
    """
    if reason not in CloseReason.values:
        raise PositionError(f"unknown close reason {reason!r}")
    now = now or timezone.now()
    settings = settings or risk_settings()
    position_id = position.pk if isinstance(position, Position) else position
    order_id = (
        brokers.order_id_for_decision(decision_id=decision.pk, index=action_index) if decision is not None
        else brokers.order_id_for_close(position_id=position_id, reason=reason)
    )
    # Plan: what the database says now (no lock held).
    recorded = _recorded(order_id, Trade.Kind.CLOSE)
    if recorded is not None:  # a retry of a close already filled and recorded
        return CloseResult(recorded.position, recorded, _already_recorded(order_id))
    current = Position.objects.filter(pk=position_id).first()
    if current is None:
        raise PositionError(f"there is no position {position_id}")
    if current.status != Position.Status.OPEN:
        return CloseResult(current, None, [f"position {position_id} is already closed"])
    # Place: outside any transaction of ours.
    if broker is None and fill is None:
        bot = current.bot
        broker = broker_for(mode=getattr(bot, "mode", PAPER_MODE), settings=settings, bot=bot)
    notes: list[str] = []
    if fill is None:
        fill, notes = _exit_fill(current, price, order_id, broker, settings)
    # Record: the account and the position locked, once per position and per client order id
    # (the unique Trade.client_order_id: a worker that recorded this very order meanwhile wins).
    try:
        with transaction.atomic(), events_batched():
            account = _lock_account_of(position_id)
            locked = Position.objects.select_for_update().get(pk=position_id)
            if locked.status != Position.Status.OPEN:
                recorded = _recorded(order_id, Trade.Kind.CLOSE)  # closed by this very order elsewhere?
                if recorded is not None:
                    return CloseResult(recorded.position, recorded, _already_recorded(order_id))
                return CloseResult(locked, None, [f"position {position_id} is already closed"])
            venue = fill.realized_pnl is not None  # the exchange's own PnL, never recomputed
            gross = money(fill.realized_pnl if venue else perps.unrealized_pnl(
                locked.side, locked.entry_price, fill.price, locked.quantity))
            fee = money(fill.fee)
            if reason == CloseReason.LIQUIDATION or (not venue and locked.margin + gross - fee <= 0):
                if reason != CloseReason.LIQUIDATION:
                    notes.append(
                        f"the loss at {fill.price} would exceed the margin: liquidated, losing the margin"
                    )
                reason, gross, fee = CloseReason.LIQUIDATION, -locked.margin, Decimal("0")
            trade = write_close(account, locked, reason, fill.price, gross, fee, decision, now,
                                order_ids=(order_id, fill.exchange_order_id), trade_ids=fill.trade_ids)
            if settings.cooldown_minutes:
                until = settings.cooldown_until(now)
                Cooldown.objects.bulk_create(  # one upsert on (bot, symbol)
                    [Cooldown(bot_id=locked.bot_id, symbol=locked.symbol, until=until)],
                    update_conflicts=True, unique_fields=["bot", "symbol"], update_fields=["until"],
                )
    except IntegrityError:
        recorded = _recorded(order_id, Trade.Kind.CLOSE)
        if recorded is None:
            raise
        return CloseResult(recorded.position, recorded, _already_recorded(order_id))
    guards = tuple(i for i in (locked.stop_loss_order_id, locked.take_profit_order_id) if i)
    if guards:  # after commit, outside the transaction: no protection order outlives its position
        if broker is None:
            bot = current.bot
            broker = broker_for(mode=getattr(bot, "mode", PAPER_MODE), settings=settings, bot=bot)
        broker.unprotect(symbol=locked.symbol, exchange_order_ids=guards)
    return CloseResult(locked, trade, notes)


