"""Reads from the ledger."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, QuerySet

from ledger.aggregates import MoneySum
from ledger.models import Account, Change, Snapshot


def account_balance(*, account: Account) -> Decimal:
    """The account's balance as stored (cash not locked as margin)."""
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def account_entries_total(*, account: Account) -> Decimal:
    """The sum of the account's journal entries: what the balance must equal."""
    total = account.entries.aggregate(total=MoneySum("amount"))["total"]
    return total if total is not None else Decimal("0")


def snapshots_of(*, bot_id: int):
    return Snapshot.objects.filter(bot_id=bot_id)


def changes_visible(*, user_id: int, see_all: bool = False) -> QuerySet[Change]:
    """The audit trail a user may read: changes to their own objects (admins: all)."""
    rows = Change.objects.all()
    return rows if see_all else rows.filter(owner_id=user_id)


def change_stats(*, now: datetime) -> dict:
    """How many changes in all, in the 24 hours to ``now``, by action and by interface."""
    rows = Change.objects.all()

    def counted(field: str) -> dict[str, int]:
        counts = rows.values(field).annotate(n=Count("id")).order_by(field)
        return {row[field]: row["n"] for row in counts}

    return {"total": rows.count(), "last_24h": rows.filter(at__gte=now - timedelta(hours=24)).count(),
            "by_action": counted("action"), "by_interface": counted("interface")}
