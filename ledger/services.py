"""Writes to the ledger. Every balance movement goes through ``entry_post``, which
moves ``Account.balance`` and appends the matching ``Entry`` under the account's
row lock, so the balance always equals the sum of the entries."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ledger.events import event_append
from ledger.models import Account, Entry
from ledger.rollups import rollup_entries
from ledger.values import MONEY_QUANTUM


class LedgerError(ValueError):
    """An entry that cannot be posted; the message says why."""


def money(value: Decimal) -> Decimal:
    """``value`` rounded to the journal's precision; floats are refused, not guessed at."""
    if not isinstance(value, Decimal):
        raise LedgerError(f"amounts are Decimal, not {type(value).__name__} ({value!r})")
    if not value.is_finite():
        raise LedgerError(f"amount {value} is not a finite number")
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def _check(kind: str, amount: Decimal, position: Any, funding_time: datetime | None) -> None:
    problems = Entry.kind_problems(
        kind, amount, has_position=position is not None, has_funding_time=funding_time is not None
    )
    if problems:
        raise LedgerError("; ".join(problems))


@dataclass(frozen=True)
class Posting:
    """One movement to post: see ``entries_post``."""

    kind: str
    amount: Decimal
    position: Any = None
    trade: Any = None
    funding_time: datetime | None = None
    memo: str = ""


def entries_post(
    *,
    account: Account,
    postings: Sequence[Posting],
    created_at: datetime | None = None,
    locked: bool = False,
    announce: bool = True,
) -> list[Entry]:
    """Move ``account``'s balance by every posting and journal each as an entry, at once.

    Locks the account row (``SELECT … FOR UPDATE``); callers that touch positions
    lock the account before them, so every writer takes locks in the same order.
    One balance update and one insert however many postings; each entry carries
    the running balance after it. ``account.balance`` is refreshed on the instance.

    ``locked=True`` says the caller already holds the row lock in this transaction and
    ``account`` is the instance it read under that lock (kept current by every post).

    A change of the cash is announced as one ``balance_changed`` event in the same
    transaction; ``announce=False`` is for rewriting history (the legacy import), which is
    not news.
    """
    checked = []
    for posting in postings:
        amount = money(posting.amount)
        _check(posting.kind, amount, posting.position, posting.funding_time)
        checked.append((posting, amount))
    if not checked:
        return []
    created_at = created_at or timezone.now()
    with transaction.atomic(savepoint=False):
        row = account if locked else Account.objects.select_for_update().get(pk=account.pk)
        entries = []
        for posting, amount in checked:
            row.balance += amount
            entries.append(Entry(
                account=row, kind=posting.kind, amount=amount, balance_after=row.balance,
                position=posting.position, trade=posting.trade, funding_time=posting.funding_time,
                memo=posting.memo[:500], created_at=created_at,
            ))
        row.save(update_fields=["balance", "updated_at"])
        Entry.objects.bulk_create(entries)
        if announce:  # a rewrite of history (the legacy import) is rolled up by a rebuild
            rollup_entries(bot_id=row.bot_id, at=created_at, entries=[(e.kind, e.amount) for e in entries])
        change = sum((amount for _, amount in checked), Decimal(0))
        if announce and change != 0:  # funding moved between cash and margin changes no cash
            event_append("balance_changed", {
                "bot": row.bot_id, "balance": row.balance, "change": change,
                "kinds": list(dict.fromkeys(posting.kind for posting, _ in checked)),
            }, bot_id=row.bot_id, now=created_at)
    account.balance = row.balance
    return entries


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
    """Move ``account``'s balance by ``amount`` and journal it as one ``kind`` entry."""
    posting = Posting(kind=kind, amount=amount, position=position, trade=trade,
                      funding_time=funding_time, memo=memo)
    return entries_post(account=account, postings=[posting], created_at=created_at)[0]


def account_open(*, bot: Any, deposit: Decimal, memo: str = "Initial deposit") -> Account:
    """Create ``bot``'s account and fund it with one deposit entry."""
    with transaction.atomic():
        account = Account.objects.create(bot=bot, balance=Decimal("0"))
        if money(deposit) != 0:
            entry_post(account=account, kind=Entry.Kind.DEPOSIT, amount=deposit, memo=memo)
    return account
