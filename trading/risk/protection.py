"""Stop-loss and take-profit of an open, checked against its entry and liquidation price.

A trigger on the wrong side of the entry is dropped with a note; a stop-loss beyond the
liquidation price is kept but noted, since liquidation fires first.
"""
from __future__ import annotations

from decimal import Decimal

from trading.perps import LONG, as_decimal
from trading.risk.notes import _num
from trading.risk.records import OpenRequest


def _triggers(
    request: OpenRequest, entry: Decimal, liquidation: Decimal, notes: list[str]
) -> tuple[Decimal | None, Decimal | None]:
    """The stop-loss and take-profit worth keeping (LONG: SL < entry < TP; SHORT: TP < entry < SL)."""
    long = request.side == LONG
    kept: list[Decimal | None] = []
    for name, value, below in (
        ("stop-loss", request.stop_loss, long),
        ("take-profit", request.take_profit, not long),
    ):
        level = as_decimal(name, value) if value is not None else None
        if level is not None and (level <= 0 or (level >= entry if below else level <= entry)):
            where = "below" if below else "above"
            notes.append(
                f"{name} {_num(level)} is not {where} the {request.side} entry {_num(entry)}: dropped"
            )
            level = None
        kept.append(level)
    stop_loss, take_profit = kept
    if stop_loss is not None and liquidation > 0 and (
        stop_loss <= liquidation if long else stop_loss >= liquidation
    ):
        notes.append(
            f"stop-loss {_num(stop_loss)} is beyond the liquidation price {_num(liquidation)}: "
            "liquidation comes first, so it cannot fire"
        )
    return stop_loss, take_profit
