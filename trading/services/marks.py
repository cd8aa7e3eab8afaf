"""Marking open positions to market and firing their stop-loss, take-profit and
liquidation triggers."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Q, Value
from django.utils import timezone

from trading import perps
from trading.models import PAPER_ENGINE, CloseReason, Position, Side
from trading.services.positions import CloseResult, position_close


def positions_mark(*, prices: Mapping[str, Decimal], now: datetime | None = None) -> int:
    """Set every open position's mark price and unrealized PnL; returns rows updated.

    Two set-based UPDATEs per symbol (longs, shorts), filtered on status so a
    position closed meanwhile keeps its final figures.
    """
    now = now or timezone.now()
    updated = 0
    money_field = DecimalField(max_digits=24, decimal_places=8)
    for symbol, mark in prices.items():
        mark_value = Value(mark, output_field=DecimalField(max_digits=30, decimal_places=12))
        for side, pnl in (
            (Side.LONG, (mark_value - F("entry_price")) * F("quantity")),
            (Side.SHORT, (F("entry_price") - mark_value) * F("quantity")),
        ):
            updated += Position.objects.filter(
                PAPER_ENGINE, symbol=symbol, side=side, status=Position.Status.OPEN
            ).update(
                mark_price=mark,
                unrealized_pnl=ExpressionWrapper(pnl, output_field=money_field),
                marked_at=now,
            )
    return updated


def _candidates(symbol: str, bar: perps.Bar):
    """Open positions on ``symbol`` with a trigger inside the bar (one indexed query)."""
    long_hit = Q(side=Side.LONG) & (
        Q(stop_loss__gte=bar.low) | Q(liquidation_price__gte=bar.low) | Q(take_profit__lte=bar.high)
    )
    short_hit = Q(side=Side.SHORT) & (
        Q(stop_loss__lte=bar.high) | Q(liquidation_price__lte=bar.high) | Q(take_profit__gte=bar.low)
    )
    return Position.objects.filter(PAPER_ENGINE, symbol=symbol, status=Position.Status.OPEN).filter(
        long_hit | short_hit
    ).order_by("id")


def triggers_check(
    *, ranges: Mapping[str, perps.Bar], now: datetime | None = None
) -> list[CloseResult]:
    """Close every open position whose stop-loss, take-profit or liquidation price the
    price crossed within its range, at the trigger's price, each in its own transaction.

    A position that a turn closed meanwhile is refused cleanly by ``position_close``.
    """
    now = now or timezone.now()
    results = []
    for symbol, bar in ranges.items():
        for position in _candidates(symbol, bar):
            trigger = perps.first_trigger(
                position.side, bar, stop_loss=position.stop_loss,
                take_profit=position.take_profit, liquidation_price=position.liquidation_price,
            )
            if trigger is None:
                continue
            results.append(position_close(
                position=position.pk, reason=CloseReason(trigger.kind), price=trigger.price, now=now,
            ))
    return results
