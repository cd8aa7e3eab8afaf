"""Checks that the journal agrees with itself: accounts, entries and snapshots.

Each ``check_*`` function takes an optional ``bot_id`` and yields one human-readable
violation per bad record, naming it. ``manage.py audit_ledger`` runs them, with the
checks that compare the journal with positions, trades and bots (``arena.audit``).

The checks re-prove what the services and the database constraints already
promise, because data can also arrive by raw SQL, a restore without constraints
or the legacy import. Every check is a handful of set-based queries (GROUP BY,
window functions, correlated subqueries on indexed columns) that return only the
offending rows, so an audit of millions of entries costs a few scans, never a
query per row.

Only the ledger's own tables are read; a bot is named by its id and the name its
account's (or snapshot's) foreign key leads to.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db import connection, transaction
from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import Abs, Lag

from ledger.aggregates import UNITS_FIELD, ZERO_UNITS, Units, from_units, units_sum
from ledger.models import Account, Entry, Snapshot
from ledger.values import money_text

SNAPSHOT_TOLERANCE = Decimal("0.000001")
MONEY_FIELD = DecimalField(max_digits=30, decimal_places=8)

Check = Callable[..., Iterator[str]]


def for_bot(queryset: QuerySet, path: str, bot_id: int | None) -> QuerySet:
    """``queryset`` limited to one bot (``path`` leads to its id), or whole with no ``bot_id``."""
    return queryset if bot_id is None else queryset.filter(**{path: bot_id})


def bot_label(bot_id: int, name: str | None) -> str:
    """How a violation names a bot: "bot 5 'Momo'"."""
    return f"bot {bot_id} {name!r}" if name is not None else f"bot {bot_id}"


# Accounts and the journal -------------------------------------------------------------


def check_account_balances(*, bot_id: int | None = None) -> Iterator[str]:
    """Every account's balance equals the sum of its entries (0 with no entries)."""
    rows = (
        for_bot(Account.objects.all(), "bot_id", bot_id)
        .annotate(total=units_sum("entries__amount"), entry_count=Count("entries"))
        .exclude(total=Units("balance"))
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "balance", "total", "entry_count")
    )
    for account_id, owner_id, name, balance, total, entry_count in rows.iterator():
        total = from_units(total)
        where = f"account {account_id} of {bot_label(owner_id, name)}"
        if entry_count == 0:
            yield f"{where}: has no entries but a balance of {money_text(balance)}"
        else:
            yield (
                f"{where}: balance {money_text(balance)} != sum of its {entry_count} entries "
                f"{money_text(total)}"
            )


def check_latest_balance_after(*, bot_id: int | None = None) -> Iterator[str]:
    """The newest entry's ``balance_after`` equals the account's balance."""
    newest = Entry.objects.filter(account=OuterRef("pk")).order_by("-id")
    rows = (
        for_bot(Account.objects.all(), "bot_id", bot_id)
        # One index probe per account on ledger_entry_account_idx (account_id, id).
        .annotate(
            last_entry=Subquery(newest.values("id")[:1]),
            last_after=Subquery(newest.values("balance_after")[:1], output_field=MONEY_FIELD),
            last_after_units=Subquery(
                newest.annotate(units=Units("balance_after")).values("units")[:1],
                output_field=UNITS_FIELD,
            ),
        )
        .filter(last_entry__isnull=False)
        .exclude(last_after_units=Units("balance"))
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "balance", "last_entry", "last_after")
    )
    for account_id, owner_id, name, balance, last_entry, last_after in rows.iterator():
        yield (
            f"account {account_id} of {bot_label(owner_id, name)}: balance {money_text(balance)} != "
            f"balance_after {money_text(last_after)} of its newest entry {last_entry}"
        )


def check_running_totals(*, bot_id: int | None = None) -> Iterator[str]:
    """In id order within an account, ``balance_after`` == previous ``balance_after`` + ``amount``.

    The first entry of an account starts from 0. One window-function pass over
    the entries (sorted by account, id: the ledger_entry_account_idx order).
    """
    rows = (
        for_bot(Entry.objects.all(), "account__bot_id", bot_id)
        .annotate(
            previous=Window(
                Lag(Units("balance_after"), default=ZERO_UNITS),
                partition_by=[F("account_id")],
                order_by=F("id").asc(),
                output_field=UNITS_FIELD,
            )
        )
        .annotate(gap=Units("balance_after") - F("previous") - Units("amount"))
        .exclude(gap=0)
        .order_by("account_id", "id")
        .values_list(
            "id", "account_id", "account__bot_id", "account__bot__name",
            "previous", "amount", "balance_after",
        )
    )
    for entry_id, account_id, owner_id, name, previous, amount, after in rows.iterator():
        previous = from_units(previous)
        yield (
            f"entry {entry_id} of account {account_id} ({bot_label(owner_id, name)}): balance_after "
            f"{money_text(after)} != previous {money_text(previous)} + amount {money_text(amount)}"
        )


def check_entry_kinds(*, bot_id: int | None = None) -> Iterator[str]:
    """Every entry follows its kind's rule (``Entry.RULES``): the kind is known, the
    amount is never zero and has the kind's sign, and it names a position and a
    funding time where the kind needs them."""
    # A row breaks a kind rule where it fails one of the conditions the constraints enforce.
    bad = reduce(or_, (~condition for condition in Entry.kind_conditions().values()))
    rows = (
        for_bot(Entry.objects.all(), "account__bot_id", bot_id)
        .filter(bad)
        .order_by("id")
        .values_list(
            "id", "account_id", "account__bot_id", "account__bot__name",
            "kind", "amount", "position_id", "funding_time",
        )
    )
    for entry_id, account_id, owner_id, name, kind, amount, position_id, funding_time in rows.iterator():
        where = f"entry {entry_id} of account {account_id} ({bot_label(owner_id, name)})"
        problems = Entry.kind_problems(
            kind, amount, has_position=position_id is not None, has_funding_time=funding_time is not None,
        )
        for problem in problems:
            yield f"{where}: {problem}"


# Snapshots ----------------------------------------------------------------------------


def check_snapshots(*, bot_id: int | None = None) -> Iterator[str]:
    """A snapshot's win_rate is within [0, 1] and total_value == balance + margin +
    unrealized_pnl (within 1e-6): ``ledger.values.total_value``, in SQL."""
    rows = (
        for_bot(Snapshot.objects.all(), "bot_id", bot_id)
        .annotate(gap=Abs(F("total_value") - F("balance") - F("margin") - F("unrealized_pnl")))
        .filter(Q(win_rate__lt=0) | Q(win_rate__gt=1) | Q(gap__gt=SNAPSHOT_TOLERANCE))
        .order_by("id")
        .values_list(
            "id", "bot_id", "bot__name", "win_rate", "total_value", "balance", "margin",
            "unrealized_pnl", "gap",
        )
    )
    for snapshot_id, owner_id, name, win_rate, total, balance, margin, upnl, gap in rows.iterator():
        where = f"snapshot {snapshot_id} ({bot_label(owner_id, name)})"
        if not 0 <= win_rate <= 1:
            yield f"{where}: win_rate {win_rate} is outside [0, 1]"
        if gap > SNAPSHOT_TOLERANCE:
            yield (
                f"{where}: total_value {money_text(total)} != balance {money_text(balance)} + margin "
                f"{money_text(margin)} + unrealized_pnl {money_text(upnl)}"
            )


LEDGER_CHECKS: dict[str, Check] = {
    "account_balance": check_account_balances,
    "latest_balance_after": check_latest_balance_after,
    "running_total": check_running_totals,
    "entry_kind": check_entry_kinds,
    "snapshot": check_snapshots,
}


def journal_counts(*, bot_id: int | None = None) -> dict[str, int]:
    """How many accounts and entries an audit covers."""
    return {
        "accounts": for_bot(Account.objects.all(), "bot_id", bot_id).count(),
        "entries": for_bot(Entry.objects.all(), "account__bot_id", bot_id).count(),
    }


@contextmanager
def consistent_snapshot() -> Iterator[None]:
    """Run the audit's queries against one snapshot of the database.

    The checks are separate queries; with turns committing between them, a
    balance read by one and the entries read by the next would disagree and
    report a ledger that is fine. PostgreSQL gets a read-only REPEATABLE READ
    transaction. SQLite gets a plain deferred transaction: in WAL mode its first
    read pins a snapshot without taking the write lock, whereas Django's
    ``atomic()`` would BEGIN IMMEDIATE and stall every turn for the whole audit.
    Inside an existing transaction (tests) the caller's transaction is used.
    """
    if connection.in_atomic_block:
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    else:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            # Only reads ran: ending the transaction releases the snapshot.
            with connection.cursor() as cursor:
                cursor.execute("ROLLBACK")
