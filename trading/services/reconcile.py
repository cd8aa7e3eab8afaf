"""Reconciliation: a real bot's rows against its exchange, every minute and on demand.

One run reads the exchange first (positions, balance, open conditional orders, the fills
of every symbol in play, the income records since the last run), outside any
transaction, then brings the arena to what the exchange says — in this order, each step
idempotent, so two runs at once or a run that dies half-way leave nothing twice:

1. **Positions.** A position the exchange closed (its stop-loss or take-profit fired, it
   was liquidated, or it was closed in the exchange's own UI) is closed here with the
   exchange's fills: price, quantity, commission and realized PnL, the reason read from
   the closing order's client id. An exchange position this arena opened but never
   recorded (a worker killed between the order and the write) is imported through the
   same derived client order id the turn would have written, so only one of them lands.
   Anything else — a position opened on the exchange by hand, a quantity that differs —
   is flagged. Open positions take the exchange's mark, PnL, liquidation price and
   isolated margin.
2. **Orphans.** Conditional orders of this arena left on a symbol with no position are
   cancelled; someone else's are flagged, never touched.
3. **Income** (``trading.services.reconcile_income``): every income record is kept once;
   those of recorded fills are explained by their trade, funding and transfers are
   journalled, the rest become flagged adjustments.
4. **Balance.** The exchange's wallet balance against the journal's (cash plus the
   margin held in open positions): a difference of a cent or more is a flagged
   adjustment. A run says "agreed" only when no flag of the bot is left unresolved.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from ledger.events import event_append
from trading import brokers
from trading.brokers.exchange import ExchangeBroker
from trading.exchanges import ExchangeClient, ExchangeError, ExchangePosition, UserTrade
from trading.models import CloseReason, Discrepancy, Position, Reconciliation, Trade, Wallet
from trading.services import reconcile_income
from trading.services.real import RealTradingError, exchange_client
from trading.services.reconcile_imports import decision_of, import_open, margin_sync

log = logging.getLogger(__name__)

# How far back the first run of a bot reads income, before the bot's creation.
FIRST_LOOKBACK = timedelta(hours=1)


@dataclass
class Found:
    """What the exchange said, read before anything is written."""

    positions: dict[str, ExchangePosition]
    balance: Decimal
    conditionals: list[Any]
    trades: dict[str, list[UserTrade]]
    income: list[Any]
    client: ExchangeClient | None = None  # asked for an order's client id, only when needed
    orders: dict[str, str] = field(default_factory=dict)  # exchange order id → its client id

    def client_id_of(self, symbol: str, order_id: str) -> str:
        """The client id of the exchange's order ``order_id`` ("" when it reports none): read
        only for the fills a run has to explain (a close, an import), once each."""
        if order_id not in self.orders:
            order = self.client.order(symbol=symbol, order_id=order_id)
            self.orders[order_id] = order.client_order_id if order is not None else ""
        return self.orders[order_id]


@dataclass
class Run:
    """What a run did, kept as the reconciliation's summary."""

    bot: Any
    wallet: Wallet
    row: Reconciliation
    now: datetime
    closed: list[dict] = field(default_factory=list)
    imported: list[dict] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    start_trade: int = 0  # the bot's newest trade when the run began
    own_trades: list[int] = field(default_factory=list)  # the trades this run wrote
    deferred: int = 0  # income records left for a later run

    def flag(self, kind: str, key: str, detail: str, *, symbol: str = "", amount: Decimal | None = None,
             entry: Any = None) -> Discrepancy:
        """Raise a discrepancy once per thing (``key``); an open one is found, not raised again."""
        flag, created = Discrepancy.objects.get_or_create(
            bot_id=self.bot.pk, key=key[:120], defaults={
                "reconciliation": self.row, "kind": kind, "symbol": symbol, "detail": detail,
                "amount": amount, "entry": entry, "created_at": self.now})
        if created:
            self.flagged.append(flag.pk)
        return flag


def _prefix() -> str:
    return django_settings.ARENA_ORDER_PREFIX


def _read(client: ExchangeClient, bot: Any, wallet: Wallet, now: datetime) -> Found:
    ours = list(Position.objects.filter(bot_id=bot.pk, status=Position.Status.OPEN))
    positions = {p.symbol: p for p in client.positions() if p.amount}
    symbols = sorted({*positions, *(p.symbol for p in ours)})
    since = {p.symbol: p.opened_at for p in ours}
    cursor = reconcile_income.cursor(wallet, bot)
    trades = {}
    for symbol in symbols:
        start = since.get(symbol) or cursor - FIRST_LOOKBACK
        trades[symbol] = client.user_trades(symbol=symbol, start_time=start - timedelta(seconds=5))
    return Found(positions=positions, balance=client.balance("USDT").balance,
                 conditionals=client.open_conditionals(), trades=trades,
                 income=client.income_since(cursor, end_time=now), client=client)


def reconcile_bot(*, bot: Any, trigger: str, now: datetime | None = None) -> Reconciliation:
    """Compare ``bot`` (a real bot) with its exchange and bring the arena to it; returns the
    run. A run whose exchange cannot be read is ``failed`` and changes nothing."""
    now = now or timezone.now()
    wallet = Wallet.objects.filter(bot_id=bot.pk).first()
    if wallet is None:
        raise RealTradingError(f"bot {bot.name!r} has no wallet: there is no exchange to reconcile with")
    row = Reconciliation.objects.create(bot_id=bot.pk, wallet=wallet, trigger=trigger, started_at=now)
    newest = Trade.objects.filter(bot_id=bot.pk).order_by("-pk").values_list("pk", flat=True).first()
    run = Run(bot=bot, wallet=wallet, row=row, now=now, start_trade=newest or 0)
    try:
        with exchange_client(wallet) as client:
            found = _read(client, bot, wallet, now)
            broker = ExchangeBroker(client=client)
            _positions(run, found, broker)
            found.conditionals = client.open_conditionals()  # after the closes cancelled theirs
            _orphans(run, found, client)
    except ExchangeError as exc:
        return _finish(run, Reconciliation.Status.FAILED, error=f"the exchange could not be read: {exc}")
    reconcile_income.income_apply(run, found)
    reconcile_income.balance_check(run, found)
    # Agreed only when nothing is left unexplained: a flag stays a difference until resolved.
    unresolved = Discrepancy.objects.filter(bot_id=bot.pk, resolved_at__isnull=True).exists()
    status = Reconciliation.Status.DIFFERENCES if run.flagged or unresolved else Reconciliation.Status.AGREED
    return _finish(run, status)


def _finish(run: Run, status: str, *, error: str = "") -> Reconciliation:
    row = run.row
    row.status, row.error, row.finished_at = status, error, run.now
    row.summary = {"closed": run.closed, "imported": run.imported, "cancelled": run.cancelled,
                   "flagged": run.flagged, "deferred": run.deferred, "notes": run.notes}
    open_flags = Discrepancy.objects.filter(bot_id=run.bot.pk, resolved_at__isnull=True).count()
    with transaction.atomic():
        row.save()
        event_append("reconciliation", {
            "bot": run.bot.pk, "reconciliation": row.pk, "status": status, "open_discrepancies": open_flags,
            "at": run.now,
        }, owner_id=run.bot.owner_id, bot_id=run.bot.pk, now=run.now)
    return row


# --- positions ----------------------------------------------------------------------------

def close_reason_of(client_id: str, open_order_id: str) -> str:
    """Why the exchange closed a position, from the closing order's client id: our stop or
    target (``<entry id>:sl`` / ``:tp``, also the id of the order an algo order fires),
    the venue's liquidation (``autoclose-…``), else a close by hand."""
    if client_id == brokers.protection_order_id(open_order_id, "stop_loss"):
        return CloseReason.STOP_LOSS
    if client_id == brokers.protection_order_id(open_order_id, "take_profit"):
        return CloseReason.TAKE_PROFIT
    if client_id.startswith("autoclose"):
        return CloseReason.LIQUIDATION
    return CloseReason.MANUAL


def _closing_fills(position: Position, opening: Trade | None, trades: list[UserTrade]) -> list[UserTrade]:
    """The exchange's fills after the position's opening that reduce it, up to its size."""
    skip = set(opening.exchange_trade_ids if opening else [])
    reducing = "SELL" if position.side == "LONG" else "BUY"
    taken, size = [], Decimal(0)
    for t in sorted(trades, key=lambda t: (t.time, t.trade_id)):
        if t.trade_id in skip or t.side != reducing or t.time < position.opened_at - timedelta(seconds=5):
            continue
        taken.append(t)
        size += t.qty
        if size >= position.quantity:
            break
    return taken


def _positions(run: Run, found: Found, broker: ExchangeBroker) -> None:
    from trading.services.positions import PositionError, position_close

    ours = {p.symbol: p for p in Position.objects.filter(bot_id=run.bot.pk, status=Position.Status.OPEN)}
    for symbol in sorted({*ours, *found.positions}):
        mine, theirs = ours.get(symbol), found.positions.get(symbol)
        if mine is not None and (theirs is None or theirs.side != mine.side):
            opening = Trade.objects.filter(position=mine, kind=Trade.Kind.OPEN).first()
            fills = _closing_fills(mine, opening, found.trades.get(symbol, []))
            size = sum((t.qty for t in fills), Decimal(0))
            if size != mine.quantity:
                run.flag(Discrepancy.Kind.POSITION, f"closed:{mine.pk}",
                         f"The exchange holds no {mine.side} {symbol} position, but its fills close only "
                         f"{size} of "
                         f"the {mine.quantity} this position holds: left open here.", symbol=symbol)
                continue
            client_id = found.client_id_of(symbol, fills[-1].order_id)
            reason = close_reason_of(client_id, opening.client_order_id if opening else "")
            # A close this arena sent for a decision but never recorded: under the decision's id.
            origin = decision_of(client_id, run.bot) if reason == CloseReason.MANUAL else None
            decision, index = origin if origin else (None, 1)
            reason = CloseReason.DECISION if origin else reason
            fill = brokers.Fill(
                client_id or fills[-1].order_id, brokers.FILLED,
                price=sum((t.price * t.qty for t in fills), Decimal(0)) / size, quantity=size,
                fee=abs(sum((t.commission for t in fills), Decimal(0))), exchange_order_id=fills[-1].order_id,
                trade_ids=tuple(t.trade_id for t in fills), realized_pnl=sum((t.realized_pnl for t in fills),
                                                                           Decimal(0)))
            try:
                result = position_close(position=mine.pk, reason=reason, now=fills[-1].time, broker=broker,
                                        fill=fill, decision=decision, action_index=index)
            except PositionError as exc:
                run.notes.append(f"{symbol}: position {mine.pk} could not be closed: {exc}")
                continue
            again = [f"order {result.trade.client_order_id} was already recorded"] if result.closed else []
            if again and result.notes[-1:] == again:
                run.notes.append(f"{symbol}: position {mine.pk}'s close was recorded by another run")
            elif result.closed:
                run.own_trades.append(result.trade.pk)
                run.closed.append({"position": mine.pk, "symbol": symbol, "reason": reason,
                                   "price": f"{result.trade.price.normalize():f}",
                                   "pnl": str(result.trade.pnl)})
            mine = None
        if theirs is None:
            continue
        if mine is None:
            imported = import_open(run, theirs, found)
            if imported is None:
                key = f"position:{symbol}:{theirs.update_time.isoformat()}"
                run.flag(Discrepancy.Kind.UNKNOWN_POSITION, key,
                         f"The exchange holds a {theirs.side} {symbol} position of {abs(theirs.amount)} at "
                         f"{theirs.entry_price} that this arena did not open: not imported, not touched.",
                         symbol=symbol)
            continue
        if abs(theirs.amount) != mine.quantity:
            run.flag(Discrepancy.Kind.POSITION, f"size:{mine.pk}:{abs(theirs.amount)}",
                     f"{symbol}: the exchange holds {abs(theirs.amount)}, this arena {mine.quantity}: "
                     "changed on the exchange outside the arena.", symbol=symbol)
            continue
        margin_sync(run, mine, theirs)


def _orphans(run: Run, found: Found, client: ExchangeClient) -> None:
    """Cancel this arena's conditional orders on symbols without a position; flag others'."""
    held = set(found.positions)
    guards = Position.objects.filter(bot_id=run.bot.pk, status=Position.Status.OPEN)
    pairs = guards.values_list("stop_loss_order_id", "take_profit_order_id")
    guarding = {i for pair in pairs for i in pair if i}
    ours = f"{_prefix()}-"
    for order in found.conditionals:
        # Beside a position, only ours that protect none of the open positions are stale.
        if order.symbol in held and not (order.client_id.startswith(ours) and order.order_id not in guarding):
            continue
        if order.client_id.startswith(ours):
            if client.cancel_conditional(symbol=order.symbol, order_id=order.order_id):
                run.cancelled.append(order.client_id)
            continue
        if order.symbol not in held:
            run.flag(Discrepancy.Kind.ORDER, f"order:{order.order_id}",
                     f"{order.symbol}: a {order.type} order ({order.client_id}) at {order.trigger_price} is "
                     "open on the exchange with no position, and this arena did not place it: not cancelled.",
                     symbol=order.symbol)


def reconcile_due(*, now: datetime | None = None, trigger: str = Reconciliation.Trigger.SCHEDULE,
                  bot_ids: list[int] | None = None) -> list[Reconciliation]:
    """Reconcile every active real bot with a wallet (or the ones named); one bot's failure
    is its own run's, the others go on."""
    wallets = Wallet.objects.filter(bot__mode="real", bot__is_active=True).select_related("bot")
    if bot_ids is not None:
        wallets = wallets.filter(bot_id__in=bot_ids)
    runs = []
    for wallet in wallets.order_by("bot_id"):
        try:
            runs.append(reconcile_bot(bot=wallet.bot, trigger=trigger, now=now))
        except RealTradingError as exc:
            log.warning("bot %s not reconciled: %s", wallet.bot_id, exc)
    return runs


def discrepancy_resolve(*, discrepancy: Discrepancy, actor: Any, resolution: str,
                        now: datetime | None = None) -> Discrepancy:
    """Mark a flag resolved, saying how (the journal is never changed by this); the
    resolution is in the audit trail too."""
    from django.core.exceptions import ValidationError

    from ledger.changes import change_record, fields_of

    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationError({"resolution": ["Say how this was resolved."]})
    with transaction.atomic():
        row = Discrepancy.objects.select_for_update().get(pk=discrepancy.pk)
        if row.resolved_at is not None:
            when = f"{row.resolved_at:%Y-%m-%d %H:%M}"
            raise ValidationError({"resolution": [f"This was already resolved on {when}."]})
        audited = ["resolved_at", "resolved_by", "resolution"]
        before = fields_of(row, audited)
        row.resolved_at, row.resolved_by, row.resolution = now or timezone.now(), actor, resolution[:5000]
        row.save(update_fields=audited)
        change_record(obj=row, action="resolved", before=before, after=fields_of(row, audited),
                      owner_id=row.bot.owner_id)
    return row
