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
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ledger.events import event_append, events_batched
from ledger.models import Account, Entry
from ledger.rollups import rollup_close
from ledger.services import Posting, entries_post, money
from trading import brokers, perps, risk, tiers
from trading.brokers import Broker
from trading.brokers.paper import PaperBroker
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


def paper_broker(settings: risk.RiskSettings) -> PaperBroker:
    return PaperBroker(slippage_bps=settings.slippage_bps, taker_fee_rate=settings.taker_fee_rate)


PAPER_MODE = "paper"  # ``bots.Bot.Mode.PAPER``, by value: trading never imports bots


def broker_for(*, mode: str, settings: risk.RiskSettings) -> Broker:
    """The broker that places a bot's orders, chosen by the bot's mode: a paper bot's go to
    the paper broker. A real-money bot has no broker here (an exchange broker is the only
    thing that may place them), so asking for one is refused, never answered on paper."""
    if mode == PAPER_MODE:
        return paper_broker(settings)
    raise PositionError(f"a {mode} bot's orders go to its exchange, and no exchange broker is "
                        "configured: nothing is placed")


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
    if broker is None and mode != PAPER_MODE:
        # The paper engine never invents fills for real money (the turn skips such bots first).
        return OpenResult(None, [f"{symbol}: a real-money bot is not traded on paper; nothing opened"])
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
    check = risk.check_open(request, portfolio_view(bot_id=bot.pk, available_balance=seen[0], now=now),
                            market, settings, now)
    plan = check.approved
    if plan is None:
        return OpenResult(None, list(check.notes))
    # 2. Place: the broker, outside any transaction of ours (an exchange is a network call).
    broker = broker or broker_for(mode=mode, settings=settings)
    entry = brokers.Order(
        client_order_id=order_id, symbol=symbol, side=brokers.BUY if side == perps.LONG else brokers.SELL,
        quantity=plan.quantity, price=market.price, tick_size=market.tick_size,
    )
    fill = broker.place(entry)
    if not fill.filled:
        return OpenResult(None, [*check.notes, f"{symbol}: the order was {fill.status}: {fill.reason}"])
    # Protection beside the filled entry (paper: none; the engine watches its own stops).
    guards = {p.kind: p.exchange_order_id or "" for p in broker.protect(
        entry=entry, stop_loss=plan.stop_loss, take_profit=plan.take_profit)}
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
            position = _write_open(account, bot.pk, plan, fill, guards, decision, now, order_id,
                                   fallback_mmr=settings.fallback_mmr)
    except IntegrityError:
        recorded = _recorded(order_id, Trade.Kind.OPEN)
        if recorded is None:
            raise
        return OpenResult(recorded.position, _already_recorded(order_id))
    return OpenResult(position, list(check.notes))


def _write_open(
    account: Account, bot_id: int, plan: risk.OpenPlan, fill: brokers.Fill, guards: dict[str, str],
    decision: Any, now: datetime, order_id: str, *, fallback_mmr: Decimal,
) -> Position:
    # The paper broker fills at the planned price; any other venue's price moves the
    # liquidation price with it.
    symbol, side = plan.symbol, plan.side
    liquidation = plan.liquidation_price if fill.price == plan.fill_price else liquidation_price_for(
        symbol=symbol, side=side, entry_price=fill.price, quantity=fill.quantity, margin=plan.margin,
        fallback_mmr=fallback_mmr)
    fee = perps.round_money(fill.fee, ROUND_DOWN)  # as planned: margin + fee fits the balance
    position = Position.objects.create(
        bot_id=bot_id, symbol=symbol, side=side, margin=plan.margin, leverage=plan.leverage,
        quantity=fill.quantity, entry_price=fill.price,
        liquidation_price=liquidation, stop_loss=plan.stop_loss,
        take_profit=plan.take_profit, mark_price=fill.price, marked_at=now,
        opened_at=now, opening_decision=decision,
        stop_loss_order_id=guards.get("stop_loss", ""),
        take_profit_order_id=guards.get("take_profit", ""),
    )
    trade = Trade.objects.create(
        bot_id=bot_id, position=position, decision=decision, kind=Trade.Kind.OPEN, side=side,
        symbol=symbol, price=fill.price, quantity=fill.quantity, margin=plan.margin,
        leverage=plan.leverage, fee=fee, executed_at=now, client_order_id=order_id,
        exchange_order_id=fill.exchange_order_id,
    )
    memo = f"{side} {symbol} x{plan.leverage}"
    postings = [Posting(Entry.Kind.MARGIN_LOCK, -plan.margin, position, trade, memo=memo)]
    if fee > 0:
        postings.append(Posting(Entry.Kind.FEE, -fee, position, trade, memo=f"open fee {memo}"))
    entries_post(account=account, postings=postings, created_at=now, locked=True)
    event_append("position_opened", {
        "bot": bot_id, "position": position.pk, "trade": trade.pk, "symbol": symbol, "side": side,
        "margin": plan.margin, "leverage": plan.leverage, "quantity": fill.quantity,
        "entry_price": fill.price, "liquidation_price": liquidation,
        "stop_loss": plan.stop_loss, "take_profit": plan.take_profit, "fee": trade.fee,
        "decision": trade.decision_id, "opened_at": now,
    }, bot_id=bot_id, now=now)
    return position


def _exit_fill(
    position: Position, price: Decimal | None, order_id: str, broker: Broker, settings: risk.RiskSettings
) -> tuple[Decimal, Decimal, str | None, list[str]]:
    """The fill of a close (price, fee, the venue's order id): a trigger's own price (a paper
    stop fills at its level, with the taker fee), else a reduce-only market order placed
    through the broker."""
    if price is not None:
        return price, perps.fee(perps.notional(price, position.quantity), settings.taker_fee_rate), None, []
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
    return fill.price, fill.fee, fill.exchange_order_id, notes


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
) -> CloseResult:
    """Close an open position once: a second close of the same position is a clean refusal.

    The order's client id comes from ``decision`` and ``action_index``, or, without a
    decision, from the position and ``reason``; ``broker`` defaults to the paper broker.

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
    broker = broker or paper_broker(settings)
    fill, venue_fee, venue_id, notes = _exit_fill(current, price, order_id, broker, settings)
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
            gross = money(perps.unrealized_pnl(locked.side, locked.entry_price, fill, locked.quantity))
            fee = money(venue_fee)
            if reason == CloseReason.LIQUIDATION or locked.margin + gross - fee <= 0:
                if reason != CloseReason.LIQUIDATION:
                    notes.append(
                        f"the loss at {fill} would exceed the margin: liquidated, losing the margin"
                    )
                reason, gross, fee = CloseReason.LIQUIDATION, -locked.margin, Decimal("0")
            trade = _write_close(account, locked, reason, fill, gross, fee, decision, now,
                                 order_ids=(order_id, venue_id))
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
        broker.unprotect(symbol=locked.symbol, exchange_order_ids=guards)
    return CloseResult(locked, trade, notes)


def _write_close(
    account: Account, position: Position, reason: str, fill: Decimal, gross: Decimal,
    fee: Decimal, decision: Any, now: datetime, order_ids: tuple[str, str | None],
) -> Trade:
    net = gross - fee
    trade = Trade.objects.create(
        bot_id=position.bot_id, position=position, decision=decision, kind=Trade.Kind.CLOSE,
        side=position.side, symbol=position.symbol, price=fill, quantity=position.quantity,
        margin=position.margin, leverage=position.leverage, fee=fee, pnl=net, reason=reason,
        executed_at=now, client_order_id=order_ids[0], exchange_order_id=order_ids[1],
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
