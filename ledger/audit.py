"""Checks that the ledger and the trading records agree with each other.

Each ``check_*`` function takes an optional ``bot_id`` and yields one human-readable
violation per bad record, naming it. ``manage.py audit_ledger`` runs them all.

The checks re-prove what the services and the database constraints already
promise, because data can also arrive by raw SQL, a restore without constraints
or the legacy import. Every check is a handful of set-based queries (GROUP BY,
window functions, correlated subqueries on indexed columns) that return only the
offending rows, so an audit of millions of entries costs a few scans, never a
query per row.

This module is in ``ledger``, which imports nothing of ours: bots, positions and
trades are looked up by name with ``apps.get_model``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Abs, Coalesce, Lag

from ledger.aggregates import UNITS_FIELD, UNITS_PER_USDT, Units
from ledger.models import Account, Entry, Snapshot
from ledger.services import CENT

SNAPSHOT_TOLERANCE = Decimal("0.000001")
MONEY_FIELD = DecimalField(max_digits=30, decimal_places=8)

CREDIT_KINDS = (Entry.Kind.DEPOSIT, Entry.Kind.MARGIN_RELEASE)
DEBIT_KINDS = (Entry.Kind.MARGIN_LOCK, Entry.Kind.FEE, Entry.Kind.LIQUIDATION)
POSITION_KINDS = (
    Entry.Kind.MARGIN_LOCK, Entry.Kind.MARGIN_RELEASE, Entry.Kind.FUNDING, Entry.Kind.LIQUIDATION,
)
MARGIN_KINDS = (Entry.Kind.MARGIN_LOCK, Entry.Kind.MARGIN_RELEASE)

Check = Callable[..., Iterator[str]]


ZERO_UNITS = Value(0, output_field=UNITS_FIELD)


def _units_sum(path: str, **options: Any) -> Coalesce:
    return Coalesce(Sum(Units(path), **options), ZERO_UNITS, output_field=UNITS_FIELD)


def _usdt(units: Decimal | int | None) -> Decimal | None:
    return None if units is None else Decimal(units) / UNITS_PER_USDT


def _model(label: str) -> Any:
    app_label, model_name = label.split(".")
    return apps.get_model(app_label, model_name)


def _for_bot(queryset: QuerySet, path: str, bot_id: int | None) -> QuerySet:
    return queryset if bot_id is None else queryset.filter(**{path: bot_id})


def _fmt(value: Decimal | None) -> str:
    return "null" if value is None else f"{Decimal(value).quantize(CENT):f}"


def _bot(bot_id: int, name: str | None) -> str:
    return f"bot {bot_id} {name!r}" if name is not None else f"bot {bot_id}"


# Accounts and the journal -------------------------------------------------------------


def check_account_balances(*, bot_id: int | None = None) -> Iterator[str]:
    """Every account's balance equals the sum of its entries (0 with no entries)."""
    rows = (
        _for_bot(Account.objects.all(), "bot_id", bot_id)
        .annotate(total=_units_sum("entries__amount"), entry_count=Count("entries"))
        .exclude(total=Units("balance"))
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "balance", "total", "entry_count")
    )
    for account_id, owner_id, name, balance, total, entry_count in rows.iterator():
        total = _usdt(total)
        where = f"account {account_id} of {_bot(owner_id, name)}"
        if entry_count == 0:
            yield f"{where}: has no entries but a balance of {_fmt(balance)}"
        else:
            yield f"{where}: balance {_fmt(balance)} != sum of its {entry_count} entries {_fmt(total)}"


def check_latest_balance_after(*, bot_id: int | None = None) -> Iterator[str]:
    """The newest entry's ``balance_after`` equals the account's balance."""
    newest = Entry.objects.filter(account=OuterRef("pk")).order_by("-id")
    rows = (
        _for_bot(Account.objects.all(), "bot_id", bot_id)
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
            f"account {account_id} of {_bot(owner_id, name)}: balance {_fmt(balance)} != "
            f"balance_after {_fmt(last_after)} of its newest entry {last_entry}"
        )


def check_running_totals(*, bot_id: int | None = None) -> Iterator[str]:
    """In id order within an account, ``balance_after`` == previous ``balance_after`` + ``amount``.

    The first entry of an account starts from 0. One window-function pass over
    the entries (sorted by account, id: the ledger_entry_account_idx order).
    """
    rows = (
        _for_bot(Entry.objects.all(), "account__bot_id", bot_id)
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
        previous = _usdt(previous)
        yield (
            f"entry {entry_id} of account {account_id} ({_bot(owner_id, name)}): balance_after "
            f"{_fmt(after)} != previous {_fmt(previous)} + amount {_fmt(amount)}"
        )


def check_bot_accounts(*, bot_id: int | None = None) -> Iterator[str]:
    """Every bot has exactly one account: none is a violation, and so are several
    (possible only where the unique index on ``ledger_account.bot_id`` is missing)."""
    bots = _for_bot(_model("bots.Bot").objects.all(), "id", bot_id)
    for owner_id, name in bots.filter(account__isnull=True).order_by("id").values_list("id", "name"):
        yield f"{_bot(owner_id, name)} has no ledger account"
    duplicated = (
        _for_bot(Account.objects.all(), "bot_id", bot_id)
        .values("bot_id", "bot__name")
        .annotate(accounts=Count("id"))
        .filter(accounts__gt=1)
        .order_by("bot_id")
    )
    for row in duplicated:
        yield f"{_bot(row['bot_id'], row['bot__name'])} has {row['accounts']} ledger accounts"


def check_entry_kinds(*, bot_id: int | None = None) -> Iterator[str]:
    """Amounts are never zero and their sign follows the kind (deposit and
    margin_release add money; margin_lock, fee and liquidation take it); kinds are
    known, position kinds name their position and funding names its time."""
    bad = (
        Q(amount=0)
        | Q(kind__in=CREDIT_KINDS, amount__lt=0)
        | Q(kind__in=DEBIT_KINDS, amount__gt=0)
        | ~Q(kind__in=Entry.Kind.values)
        | Q(kind__in=POSITION_KINDS, position__isnull=True)
        | Q(kind=Entry.Kind.FUNDING, funding_time__isnull=True)
    )
    rows = (
        _for_bot(Entry.objects.all(), "account__bot_id", bot_id)
        .filter(bad)
        .order_by("id")
        .values_list(
            "id", "account_id", "account__bot_id", "account__bot__name",
            "kind", "amount", "position_id", "funding_time",
        )
    )
    for entry_id, account_id, owner_id, name, kind, amount, position_id, funding_time in rows.iterator():
        where = f"entry {entry_id} of account {account_id} ({_bot(owner_id, name)})"
        for problem in _entry_kind_problems(kind, amount, position_id, funding_time):
            yield f"{where}: {problem}"


def _entry_kind_problems(
    kind: str, amount: Decimal, position_id: int | None, funding_time: Any
) -> Iterator[str]:
    if kind not in Entry.Kind.values:
        yield f"unknown kind {kind!r}"
    if amount == 0:
        yield f"a {kind} entry of zero"
    elif kind in CREDIT_KINDS and amount < 0:
        yield f"a {kind} entry must add money, amount is {_fmt(amount)}"
    elif kind in DEBIT_KINDS and amount > 0:
        yield f"a {kind} entry must take money, amount is {_fmt(amount)}"
    if kind in POSITION_KINDS and position_id is None:
        yield f"a {kind} entry names no position"
    if kind == Entry.Kind.FUNDING and funding_time is None:
        yield "a funding entry names no funding time"


def check_entry_links(*, bot_id: int | None = None) -> Iterator[str]:
    """An entry's position and trade belong to the account's bot, and an entry
    naming both names the trade's own position."""
    bad = (
        (Q(position__isnull=False) & ~Q(position__bot_id=F("account__bot_id")))
        | (Q(trade__isnull=False) & ~Q(trade__bot_id=F("account__bot_id")))
        | (Q(position__isnull=False, trade__position__isnull=False)
           & ~Q(trade__position_id=F("position_id")))
    )
    rows = (
        _for_bot(Entry.objects.all(), "account__bot_id", bot_id)
        .filter(bad)
        .order_by("id")
        .values_list(
            "id", "account_id", "account__bot_id", "account__bot__name",
            "position_id", "position__bot_id", "trade_id", "trade__bot_id", "trade__position_id",
        )
    )
    for row in rows.iterator():
        entry_id, account_id, owner_id, name, position_id, position_bot, trade_id, trade_bot, \
            trade_position = row
        where = f"entry {entry_id} of account {account_id} ({_bot(owner_id, name)})"
        if position_id is not None and position_bot != owner_id:
            yield f"{where}: names position {position_id} of bot {position_bot}"
        if trade_id is not None and trade_bot != owner_id:
            yield f"{where}: names trade {trade_id} of bot {trade_bot}"
        if None not in (position_id, trade_position) and trade_position != position_id:
            yield f"{where}: names position {position_id} but its trade {trade_id} is of position " \
                  f"{trade_position}"


# Positions and trades -----------------------------------------------------------------


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
        _for_bot(_model("trading.Position").objects.all(), "bot_id", bot_id)
        .annotate(opens=opens, closes=closes)
        .filter(native | duplicated)
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "status", "legacy_id", "opens", "closes")
    )
    for position_id, owner_id, name, status, legacy_id, open_count, close_count in rows.iterator():
        legacy = f", legacy {legacy_id!r}" if legacy_id is not None else ""
        expected_closes = 1 if status == "closed" else 0
        yield (
            f"position {position_id} ({_bot(owner_id, name)}, {status}{legacy}): "
            f"{open_count} OPEN and {close_count} CLOSE trades, expected 1 and {expected_closes}"
        )


def check_trade_positions(*, bot_id: int | None = None) -> Iterator[str]:
    """A trade has the bot, symbol and side of its position; a CLOSE's pnl equals
    the position's realized_pnl when both are set; only legacy fills lack a position."""
    Trade = _model("trading.Trade")
    trades = _for_bot(Trade.objects.all(), "bot_id", bot_id)
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
            f"trade {trade_id} ({_bot(owner_id, name)}, {side} {symbol}) does not match its "
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
            f"trade {trade_id} ({_bot(owner_id, name)}): CLOSE pnl {_fmt(trade_pnl)} != "
            f"realized_pnl {_fmt(realized)} of position {position_id}"
        )
    orphans = trades.filter(position__isnull=True, legacy_id__isnull=True).order_by("id")
    for trade_id, owner_id, name in orphans.values_list("id", "bot_id", "bot__name").iterator():
        yield f"trade {trade_id} ({_bot(owner_id, name)}) has no position and is not a legacy fill"


def check_position_numbers(*, bot_id: int | None = None) -> Iterator[str]:
    """Margin, quantity and entry price are positive and leverage at least 1 (the
    database constraints say so too; this catches raw writes and bare restores)."""
    bad = Q(margin__lte=0) | Q(quantity__lte=0) | Q(entry_price__lte=0) | Q(leverage__lt=1)
    rows = (
        _for_bot(_model("trading.Position").objects.all(), "bot_id", bot_id)
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
        yield f"position {position_id} ({_bot(owner_id, name)}): {'; '.join(problems)}"


def check_trade_numbers(*, bot_id: int | None = None) -> Iterator[str]:
    """Price and quantity are positive, margin (when set) positive, leverage (when
    set) at least 1, and the fee not negative."""
    bad = (
        Q(price__lte=0) | Q(quantity__lte=0) | Q(margin__lte=0) | Q(leverage__lt=1) | Q(fee__lt=0)
    )
    rows = (
        _for_bot(_model("trading.Trade").objects.all(), "bot_id", bot_id)
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
        yield f"trade {trade_id} ({_bot(owner_id, name)}): {'; '.join(problems)}"


# Entries against positions and trades -------------------------------------------------


def check_margin_locks(*, bot_id: int | None = None) -> Iterator[str]:
    """For a position with margin_lock/margin_release entries, their sum is
    -margin while it is open and 0 once it is closed. Positions without such
    entries (legacy imports) are not judged."""
    margin_entries = Q(entries__kind__in=MARGIN_KINDS)
    expected = Case(
        When(status="open", then=-Units("margin")), default=ZERO_UNITS, output_field=UNITS_FIELD
    )
    rows = (
        _for_bot(_model("trading.Position").objects.all(), "bot_id", bot_id)
        .annotate(
            locked=_units_sum("entries__amount", filter=margin_entries),
            margin_entry_count=Count("entries", filter=margin_entries),
        )
        .filter(margin_entry_count__gt=0)
        .annotate(expected=expected)
        .exclude(locked=F("expected"))
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "status", "margin", "locked", "expected")
    )
    for position_id, owner_id, name, status, margin, locked, expected_lock in rows.iterator():
        yield (
            f"position {position_id} ({_bot(owner_id, name)}, {status}, margin {_fmt(margin)}): "
            f"margin entries sum to {_fmt(_usdt(locked))}, expected {_fmt(_usdt(expected_lock))}"
        )


def check_trade_fees(*, bot_id: int | None = None) -> Iterator[str]:
    """For a trade with fee entries, they add up to minus the trade's fee. Trades
    without fee entries (legacy imports, zero fees) are not judged."""
    fee_entries = Q(entries__kind=Entry.Kind.FEE)
    rows = (
        _for_bot(_model("trading.Trade").objects.all(), "bot_id", bot_id)
        .annotate(
            charged=_units_sum("entries__amount", filter=fee_entries),
            fee_entry_count=Count("entries", filter=fee_entries),
        )
        .filter(fee_entry_count__gt=0)
        .exclude(charged=-Units("fee"))
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "fee", "charged")
    )
    for trade_id, owner_id, name, fee, charged in rows.iterator():
        yield (
            f"trade {trade_id} ({_bot(owner_id, name)}): fee {_fmt(fee)} but its fee entries "
            f"sum to {_fmt(_usdt(charged))}"
        )


def check_snapshots(*, bot_id: int | None = None) -> Iterator[str]:
    """A snapshot's win_rate is within [0, 1] and total_value == balance + margin +
    unrealized_pnl (within 1e-6)."""
    rows = (
        _for_bot(Snapshot.objects.all(), "bot_id", bot_id)
        .annotate(gap=Abs(F("total_value") - F("balance") - F("margin") - F("unrealized_pnl")))
        .filter(Q(win_rate__lt=0) | Q(win_rate__gt=1) | Q(gap__gt=SNAPSHOT_TOLERANCE))
        .order_by("id")
        .values_list(
            "id", "bot_id", "bot__name", "win_rate", "total_value", "balance", "margin",
            "unrealized_pnl", "gap",
        )
    )
    for snapshot_id, owner_id, name, win_rate, total, balance, margin, upnl, gap in rows.iterator():
        where = f"snapshot {snapshot_id} ({_bot(owner_id, name)})"
        if not 0 <= win_rate <= 1:
            yield f"{where}: win_rate {win_rate} is outside [0, 1]"
        if gap > SNAPSHOT_TOLERANCE:
            yield (
                f"{where}: total_value {_fmt(total)} != balance {_fmt(balance)} + margin "
                f"{_fmt(margin)} + unrealized_pnl {_fmt(upnl)}"
            )


CHECKS: dict[str, Check] = {
    "account_balance": check_account_balances,
    "latest_balance_after": check_latest_balance_after,
    "running_total": check_running_totals,
    "bot_account": check_bot_accounts,
    "entry_kind": check_entry_kinds,
    "entry_link": check_entry_links,
    "position_trades": check_position_trades,
    "trade_position": check_trade_positions,
    "position_numbers": check_position_numbers,
    "trade_numbers": check_trade_numbers,
    "margin_lock": check_margin_locks,
    "trade_fee": check_trade_fees,
    "snapshot": check_snapshots,
}


def record_counts(*, bot_id: int | None = None) -> dict[str, int]:
    """How many records an audit covers, for the "ledger clean" summary."""
    return {
        "accounts": _for_bot(Account.objects.all(), "bot_id", bot_id).count(),
        "entries": _for_bot(Entry.objects.all(), "account__bot_id", bot_id).count(),
        "positions": _for_bot(_model("trading.Position").objects.all(), "bot_id", bot_id).count(),
        "trades": _for_bot(_model("trading.Trade").objects.all(), "bot_id", bot_id).count(),
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
