"""Snapshot taking: read every active bot's cash and positions, and have the ledger
write one snapshot row per bot (``ledger.snapshots.snapshots_write``)."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, Q
from django.utils import timezone

from ledger.aggregates import MoneySum
from ledger.models import Account, Snapshot
from ledger.snapshots import SnapshotValues, snapshots_write
from ledger.values import ZERO
from trading.models import Position

# ``bots.Bot.is_active`` and ``stats_reset_at``, named by value through the foreign keys,
# since trading never imports bots.
ACTIVE_BOT = Q(bot__is_active=True)
SINCE_STATS_RESET = Q(bot__stats_reset_at__isnull=True) | Q(closed_at__gt=F("bot__stats_reset_at"))


def snapshots_take(*, now: datetime | None = None, bot_ids: list[int] | None = None) -> list[Snapshot]:
    """Write one snapshot for every active bot with an account (or the ones in ``bot_ids``,
    e.g. "snapshot now" from the API), in a fixed number of queries.

    Statistics count positions closed after the bot's last paper reset (the reset's own
    closes belong to the old run). A bot without an account has nothing to snapshot;
    ``audit_ledger`` reports it.
    """
    now = now or timezone.now()
    scope = ACTIVE_BOT if bot_ids is None else ACTIVE_BOT & Q(bot_id__in=bot_ids)
    balances = Account.objects.filter(scope).order_by("bot_id").values_list("bot_id", "balance")
    held = {
        row["bot_id"]: row
        for row in Position.objects.filter(scope, status=Position.Status.OPEN)
        .values("bot_id").annotate(margin=MoneySum("margin"), unrealized=MoneySum("unrealized_pnl"))
    }
    closed = {
        row["bot_id"]: row
        for row in Position.objects.filter(scope, SINCE_STATS_RESET, status=Position.Status.CLOSED)
        .values("bot_id").annotate(
            realized=MoneySum("realized_pnl"),
            count=Count("id"),
            wins=Count("id", filter=Q(realized_pnl__gt=0)),
        )
    }
    rows = []
    for bot_id, balance in balances:
        open_totals = held.get(bot_id, {})
        closed_totals = closed.get(bot_id, {})
        rows.append(SnapshotValues(
            bot_id=bot_id, balance=balance,
            margin=open_totals.get("margin") or ZERO,
            unrealized_pnl=open_totals.get("unrealized") or ZERO,
            realized_pnl=closed_totals.get("realized") or ZERO,
            closed=closed_totals.get("count") or 0,
            wins=closed_totals.get("wins") or 0,
        ))
    return snapshots_write(rows=rows, taken_at=now)
