"""Portfolio snapshots: one row per bot, written together, for the leaderboard and charts.

The ledger writes the rows from values it is given; reading the positions those values
come from is trading's job (``trading.services.snapshots.snapshots_take``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from ledger.events import event_append, events_batched
from ledger.models import Snapshot
from ledger.rollups import rollups_snapshots
from ledger.values import ZERO, total_value, win_rate


@dataclass(frozen=True)
class SnapshotValues:
    """One bot's portfolio at the snapshot time. ``closed`` and ``wins`` count the
    positions closed since the bot's statistics were last reset."""

    bot_id: int
    balance: Decimal
    margin: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    closed: int = 0
    wins: int = 0


def snapshots_write(*, rows: Iterable[SnapshotValues], taken_at: datetime) -> list[Snapshot]:
    """Write one snapshot per row in one insert, and announce each (``snapshot_taken``) in
    the same transaction; total value and win rate follow from the row."""
    snapshots = [
        Snapshot(
            bot_id=row.bot_id, taken_at=taken_at, balance=row.balance, margin=row.margin,
            unrealized_pnl=row.unrealized_pnl, realized_pnl=row.realized_pnl,
            total_value=total_value(balance=row.balance, margin=row.margin, unrealized=row.unrealized_pnl),
            trade_count=row.closed, win_rate=win_rate(wins=row.wins, closed=row.closed),
        )
        for row in rows
    ]
    with transaction.atomic(), events_batched():
        Snapshot.objects.bulk_create(snapshots)
        rollups_snapshots(snapshots)
        for snapshot in snapshots:
            event_append("snapshot_taken", {
                "bot": snapshot.bot_id, "taken_at": taken_at, "balance": snapshot.balance,
                "margin": snapshot.margin, "unrealized_pnl": snapshot.unrealized_pnl,
                "realized_pnl": snapshot.realized_pnl,
                "total_value": snapshot.total_value, "trade_count": snapshot.trade_count,
                "win_rate": snapshot.win_rate,
            }, bot_id=snapshot.bot_id, now=taken_at)
    return snapshots
