"""What reconciliation writes about open positions: an opening fill of this arena's that was
never recorded, brought in under the turn's own client order id, and the exchange's view
of a position kept open (mark, PnL, liquidation price, isolated margin)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction

from ledger.models import Account, Entry
from ledger.services import Posting, entries_post, money
from trading import brokers, risk
from trading.exchanges import ExchangePosition
from trading.models import Position, Trade
from trading.services.records import write_open

_DECISION_ORDER = re.compile(r"(?P<prefix>[A-Za-z0-9]+)-d(?P<decision>\d+)-(?P<index>\d+)")


def decision_of(client_id: str, bot: Any) -> tuple[Any, int] | None:
    """The decision (of ``bot``) and action index an order id of this arena was derived from."""
    match = _DECISION_ORDER.fullmatch(client_id or "")
    if match is None or match["prefix"] != django_settings.ARENA_ORDER_PREFIX:
        return None
    decision = bot.decisions.filter(pk=int(match["decision"])).first()  # the bot's own only
    return None if decision is None else (decision, int(match["index"]))


def _level(decision: Any, index: int, name: str) -> Decimal | None:
    actions = decision.actions if isinstance(decision.actions, list) else []
    action = actions[index - 1] if 0 < index <= len(actions) and isinstance(actions[index - 1], dict) else {}
    value = action.get(name)
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except ArithmeticError:
        return None


def import_open(run: Any, theirs: ExchangePosition, found: Any) -> Position | None:
    """Record an exchange position this arena opened (an order of one of the bot's decisions)
    but never wrote; None when no such order made it (someone else's position)."""
    side = "BUY" if theirs.side == "LONG" else "SELL"
    by_order: dict[str, list] = {}
    for t in found.trades.get(theirs.symbol, []):
        if t.side == side:
            by_order.setdefault(t.order_id, []).append(t)
    size = abs(theirs.amount)
    for order_id, fills in reversed(list(by_order.items())):
        client_id = found.client_id_of(theirs.symbol, order_id)
        origin = decision_of(client_id, run.bot)
        if origin is None or sum((t.qty for t in fills), Decimal(0)) != size:
            continue
        decision, index = origin
        return _record(run, theirs, fills, client_id, decision, index, found)
    return None


def _record(run: Any, theirs: ExchangePosition, fills: list, client_id: str, decision: Any, index: int,
            found: Any) -> Position | None:
    size = abs(theirs.amount)
    price = sum((t.price * t.qty for t in fills), Decimal(0)) / size
    fee = abs(sum((t.commission for t in fills), Decimal(0)))
    margin = money(theirs.isolated_wallet)
    plan = risk.OpenPlan(
        symbol=theirs.symbol, side=theirs.side, margin=margin, leverage=theirs.leverage, quantity=size,
        fill_price=price, notional=price * size, fee=money(fee), mmr=Decimal(0),
        maintenance_amount=Decimal(0),
        liquidation_price=theirs.liquidation_price or Decimal(0),
        stop_loss=_level(decision, index, "stop_loss"), take_profit=_level(decision, index, "take_profit"),
    )
    fill = brokers.Fill(client_id, brokers.FILLED, price=price, quantity=size, fee=fee,
                        exchange_order_id=fills[-1].order_id, trade_ids=tuple(t.trade_id for t in fills),
                        realized_pnl=Decimal(0), margin=margin, liquidation_price=theirs.liquidation_price)
    guards = {}
    for kind in ("stop_loss", "take_profit"):
        wanted = brokers.protection_order_id(client_id, kind)
        for order in found.conditionals:
            if order.client_id == wanted:
                guards[kind] = order.order_id
    try:
        with transaction.atomic():
            if Trade.objects.filter(client_order_id=client_id).exists():
                return None  # the turn recorded it meanwhile
            account = Account.objects.select_for_update().get(bot_id=run.bot.pk)
            position = write_open(account, run.bot.pk, plan, fill, guards, decision, fills[-1].time,
                                  client_id, fallback_mmr=None)
    except IntegrityError:
        return None  # the turn's own write won: the same order id
    run.own_trades.extend(Trade.objects.filter(position=position).values_list("pk", flat=True))
    run.imported.append({"position": position.pk, "symbol": theirs.symbol, "order": client_id})
    return position


def margin_sync(run: Any, mine: Position, theirs: ExchangePosition) -> None:
    """Take the exchange's mark, PnL and liquidation price for an open position, and move
    the margin it holds (funding paid out of it, margin added on the exchange) between
    the position and the cash, so both match the exchange."""
    with transaction.atomic():
        account = Account.objects.select_for_update().get(bot_id=run.bot.pk)
        position = Position.objects.select_for_update().get(pk=mine.pk)
        if position.status != Position.Status.OPEN:
            return
        margin = money(theirs.isolated_wallet)
        fields = ["mark_price", "unrealized_pnl", "liquidation_price", "marked_at"]
        if margin > 0 and margin != position.margin:
            gap = margin - position.margin
            memo = f"margin held on the exchange for {position.side} {position.symbol}"
            kind = Entry.Kind.MARGIN_LOCK if gap > 0 else Entry.Kind.MARGIN_RELEASE
            entries_post(account=account, postings=[Posting(kind, -gap, position, memo=memo)],
                         created_at=run.now, locked=True)
            position.margin = margin
            fields.append("margin")
            run.notes.append(f"{position.symbol}: margin {mine.margin} → {margin} as the exchange holds it")
        position.mark_price = theirs.mark_price
        position.unrealized_pnl = money(theirs.unrealized_pnl)
        position.liquidation_price = theirs.liquidation_price
        position.marked_at = run.now
        position.save(update_fields=fields)
