"""Checks that positions and trades agree with each other and hold sensible numbers.

Each ``check_*`` function takes an optional ``bot_id`` and yields one violation per bad
record, naming it (the cost rules are those of ``ledger.audit``).
"""
from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, F, Q

from ledger.aggregates import Units
from ledger.audit import bot_label, for_bot
from ledger.values import money_text
from trading.models import Position, Trade


def check_position_trades(*, bot_id: int | None = None) -> Iterator[str]:
    """A closed position has exactly one OPEN and one CLOSE trade; an open one
    exactly one OPEN and no CLOSE.

    Positions imported from the legacy system (``legacy_id`` set) may lack
    trades, because the legacy arena did not always record the fills: for them
    only duplicates (more than one OPEN or CLOSE) are reported, never a missing
    trade.
    """
    opens = Count("trades", filter=Q(trades__kind="OPEN"))
    closes = Count("trades", filter=Q(trades__kind="CLOSE"))
    native = Q(legacy_id__isnull=True) & (
        ~Q(opens=1) | Q(status="closed") & ~Q(closes=1) | Q(status="open") & ~Q(closes=0)
    )
    duplicated = Q(opens__gt=1) | Q(closes__gt=1)
    rows = (
        for_bot(Position.objects.all(), "bot_id", bot_id)
        .annotate(opens=opens, closes=closes)
        .filter(native | duplicated)
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "status", "legacy_id", "opens", "closes")
    )
    for position_id, owner_id, name, status, legacy_id, open_count, close_count in rows.iterator():
        legacy = f", legacy {legacy_id!r}" if legacy_id is not None else ""
        expected_closes = 1 if status == "closed" else 0
        yield (
            f"position {position_id} ({bot_label(owner_id, name)}, {status}{legacy}): "
            f"{open_count} OPEN and {close_count} CLOSE trades, expected 1 and {expected_closes}"
        )


def check_trade_positions(*, bot_id: int | None = None) -> Iterator[str]:
    """A trade has the bot, symbol and side of its position; a CLOSE's pnl equals
    the position's realized_pnl when both are set; only legacy fills lack a position."""
    trades = for_bot(Trade.objects.all(), "bot_id", bot_id)
    mismatched = (
        trades.filter(position__isnull=False)
        .exclude(bot_id=F("position__bot_id"), symbol=F("position__symbol"), side=F("position__side"))
        .order_by("id")
        .values_list(
            "id", "bot_id", "bot__name", "symbol", "side",
            "position_id", "position__bot_id", "position__symbol", "position__side",
        )
    )
    for trade_id, owner_id, name, symbol, side, position_id, p_bot, p_symbol, p_side in mismatched:
        yield (
            f"trade {trade_id} ({bot_label(owner_id, name)}, {side} {symbol}) does not match its "
            f"position {position_id} (bot {p_bot}, {p_side} {p_symbol})"
        )
    pnl = (
        trades.filter(kind="CLOSE", pnl__isnull=False, position__realized_pnl__isnull=False)
        .annotate(pnl_units=Units("pnl"))
        .exclude(pnl_units=Units("position__realized_pnl"))
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "pnl", "position_id", "position__realized_pnl")
    )
    for trade_id, owner_id, name, trade_pnl, position_id, realized in pnl.iterator():
        yield (
            f"trade {trade_id} ({bot_label(owner_id, name)}): CLOSE pnl {money_text(trade_pnl)} != "
            f"realized_pnl {money_text(realized)} of position {position_id}"
        )
    orphans = trades.filter(position__isnull=True, legacy_id__isnull=True).order_by("id")
    for trade_id, owner_id, name in orphans.values_list("id", "bot_id", "bot__name").iterator():
        yield f"trade {trade_id} ({bot_label(owner_id, name)}) has no position and is not a legacy fill"


def check_position_numbers(*, bot_id: int | None = None) -> Iterator[str]:
    """Margin, quantity and entry price are positive and leverage at least 1 (the
    database constraints say so too; this catches raw writes and bare restores)."""
    bad = Q(margin__lte=0) | Q(quantity__lte=0) | Q(entry_price__lte=0) | Q(leverage__lt=1)
    rows = (
        for_bot(Position.objects.all(), "bot_id", bot_id)
        .filter(bad)
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "margin", "quantity", "entry_price", "leverage")
    )
    for position_id, owner_id, name, margin, quantity, entry_price, leverage in rows.iterator():
        problems = [
            f"{field} {value} must be positive"
            for field, value in (("margin", margin), ("quantity", quantity), ("entry_price", entry_price))
            if value <= 0
        ]
        if leverage < 1:
            problems.append(f"leverage {leverage} must be at least 1")
        yield f"position {position_id} ({bot_label(owner_id, name)}): {'; '.join(problems)}"


def check_trade_numbers(*, bot_id: int | None = None) -> Iterator[str]:
    """Price and quantity are positive, margin (when set) positive, leverage (when
    set) at least 1, and the fee not negative."""
    bad = (
        Q(price__lte=0) | Q(quantity__lte=0) | Q(margin__lte=0) | Q(leverage__lt=1) | Q(fee__lt=0)
    )
    rows = (
        for_bot(Trade.objects.all(), "bot_id", bot_id)
        .filter(bad)
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "price", "quantity", "margin", "leverage", "fee")
    )
    for trade_id, owner_id, name, price, quantity, margin, leverage, fee in rows.iterator():
        problems = [
            f"{field} {value} must be positive"
            for field, value in (("price", price), ("quantity", quantity), ("margin", margin))
            if value is not None and value <= 0
        ]
        if leverage is not None and leverage < 1:
            problems.append(f"leverage {leverage} must be at least 1")
        if fee < 0:
            problems.append(f"fee {fee} must not be negative")
        yield f"trade {trade_id} ({bot_label(owner_id, name)}): {'; '.join(problems)}"
