"""Reads from the ledger."""
from __future__ import annotations

from decimal import Decimal

from ledger.aggregates import MoneySum
from ledger.models import Account, Snapshot


def account_balance(*, account: Account) -> Decimal:
    """The account's balance as stored (cash not locked as margin)."""
    return Account.objects.values_list("balance", flat=True).get(pk=account.pk)


def account_entries_total(*, account: Account) -> Decimal:
    """The sum of the account's journal entries: what the balance must equal."""
    total = account.entries.aggregate(total=MoneySum("amount"))["total"]
    return total if total is not None else Decimal("0")


def snapshots_of(*, bot_id: int):
    return Snapshot.objects.filter(bot_id=bot_id)
