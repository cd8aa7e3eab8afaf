"""Portfolio snapshots: one row per bot, taken together, for the leaderboard and charts."""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from django.apps import apps
from django.db.models import Count, F, Q
from django.utils import timezone

from ledger.aggregates import MoneySum
from ledger.models import Account, Snapshot

ZERO = Decimal("0")
RATE = Decimal("0.000001")


def _by_bot(rows, *fields: str) -> dict[int, dict]:
    return {row["bot_id"]: {f: row[f] for f in fields} for row in rows}


def snapshots_take(*, now: datetime | None = None) -> list[Snapshot]:
    """Write one snapshot for every active bot in a fixed number of queries.

    Statistics count positions closed after the bot's last paper reset (the reset's own
    closes belong to the old run).
    """
    now = now or timezone.now()
    Bot = apps.get_model("bots", "Bot")
    Position = apps.get_model("trading", "Position")
    bot_ids = list(Bot.objects.filter(is_active=True).values_list("id", flat=True))
    balances = dict(Account.objects.filter(bot_id__in=bot_ids).values_list("bot_id", "balance"))
    open_rows = _by_bot(
        Position.objects.filter(bot_id__in=bot_ids, status="open")
        .values("bot_id").annotate(margin=MoneySum("margin"), unrealized=MoneySum("unrealized_pnl")),
        "margin", "unrealized",
    )
    since_reset = Q(bot__stats_reset_at__isnull=True) | Q(closed_at__gt=F("bot__stats_reset_at"))
    closed_rows = _by_bot(
        Position.objects.filter(bot_id__in=bot_ids, status="closed").filter(since_reset)
        .values("bot_id").annotate(
            realized=MoneySum("realized_pnl"),
            count=Count("id"),
            wins=Count("id", filter=Q(realized_pnl__gt=0)),
        ),
        "realized", "count", "wins",
    )
    snapshots = []
    for bot_id in bot_ids:
        if bot_id not in balances:
            continue  # a bot without an account has nothing to snapshot; audit_ledger reports it
        held = open_rows.get(bot_id, {})
        closed = closed_rows.get(bot_id, {})
        balance = balances[bot_id]
        margin = held.get("margin") or ZERO
        unrealized = held.get("unrealized") or ZERO
        count = closed.get("count") or 0
        wins = Decimal(closed.get("wins") or 0)
        win_rate = (wins / count).quantize(RATE, ROUND_HALF_EVEN) if count else ZERO
        snapshots.append(Snapshot(
            bot_id=bot_id, taken_at=now, balance=balance, margin=margin, unrealized_pnl=unrealized,
            realized_pnl=closed.get("realized") or ZERO, total_value=balance + margin + unrealized,
            trade_count=count, win_rate=win_rate,
        ))
    return Snapshot.objects.bulk_create(snapshots)
