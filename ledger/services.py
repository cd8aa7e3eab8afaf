"""Writes to the ledger. Every balance movement goes through ``entry_post``, which
moves ``Account.balance`` and appends the matching ``Entry`` under the account's
row lock, so the balance always equals the sum of the entries."""
from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ledger.models import Account, Entry

CENT = Decimal("0.00000001")  # the journal's precision: 8 decimal places of USDT

_CREDIT_KINDS = {Entry.Kind.DEPOSIT, Entry.Kind.MARGIN_RELEASE}
_DEBIT_KINDS = {Entry.Kind.MARGIN_LOCK, Entry.Kind.FEE, Entry.Kind.LIQUIDATION}
_POSITION_KINDS = {
    Entry.Kind.MARGIN_LOCK, Entry.Kind.MARGIN_RELEASE, Entry.Kind.FUNDING, Entry.Kind.LIQUIDATION,
}


class LedgerError(ValueError):
    """An entry that cannot be posted; the message says why."""


def money(value: Decimal) -> Decimal:
    """``value`` rounded to the journal's precision; floats are refused, not guessed at."""
    if not isinstance(value, Decimal):
        raise LedgerError(f"amounts are Decimal, not {type(value).__name__} ({value!r})")
    if not value.is_finite():
        raise LedgerError(f"amount {value} is not a finite number")
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _check(kind: str, amount: Decimal, position: Any, funding_time: datetime | None) -> None:
    if kind not in Entry.Kind.values:
        raise LedgerError(f"unknown entry kind {kind!r}")
    if amount == 0:
        raise LedgerError(f"an entry of zero ({kind}) moves nothing")
    if kind in _CREDIT_KINDS and amount < 0:
        raise LedgerError(f"a {kind} entry adds money; got {amount}")
    if kind in _DEBIT_KINDS and amount > 0:
        raise LedgerError(f"a {kind} entry takes money; got {amount}")
    if kind in _POSITION_KINDS and position is None:
        raise LedgerError(f"a {kind} entry names its position")
    if kind == Entry.Kind.FUNDING and funding_time is None:
        raise LedgerError("a funding entry names its funding time")


def entry_post(
    *,
    account: Account,
    kind: str,
    amount: Decimal,
    position: Any = None,
    trade: Any = None,
    funding_time: datetime | None = None,
    memo: str = "",
    created_at: datetime | None = None,
) -> Entry:
    """Move ``account``'s balance by ``amount`` and journal it as one ``kind`` entry.

    Locks the account row first (``SELECT … FOR UPDATE``); callers that touch
    positions lock the account before them, so every writer takes locks in the
    same order. ``account.balance`` is refreshed on the passed instance.
    """
    amount = money(amount)
    _check(kind, amount, position, funding_time)
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        locked.balance = locked.balance + amount
        locked.save(update_fields=["balance", "updated_at"])
        entry = Entry.objects.create(
            account=locked,
            kind=kind,
            amount=amount,
            balance_after=locked.balance,
            position=position,
            trade=trade,
            funding_time=funding_time,
            memo=memo[:500],
            created_at=created_at or timezone.now(),
        )
    account.balance = locked.balance
    return entry


def account_open(*, bot: Any, deposit: Decimal, memo: str = "Initial deposit") -> Account:
    """Create ``bot``'s account and fund it with one deposit entry."""
    with transaction.atomic():
        account = Account.objects.create(bot=bot, balance=Decimal("0"))
        if money(deposit) != 0:
            entry_post(account=account, kind=Entry.Kind.DEPOSIT, amount=deposit, memo=memo)
    return account
