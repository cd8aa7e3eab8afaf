"""Checks that the journal agrees with the bots, positions and trades it names.

Each ``check_*`` function takes an optional ``bot_id`` and yields one violation per bad
record (see ``ledger.audit`` for the journal's checks of itself, and the cost rules
every check keeps to: set-based queries returning only the offending rows).
"""
from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Case, Count, F, Q, When

from bots.models import Bot
from ledger.aggregates import UNITS_FIELD, ZERO_UNITS, Units, from_units, units_sum
from ledger.audit import bot_label, for_bot
from ledger.models import Account, Entry
from ledger.values import money_text
from trading.models import Position, Trade

MARGIN_KINDS = (Entry.Kind.MARGIN_LOCK, Entry.Kind.MARGIN_RELEASE)


def check_bot_accounts(*, bot_id: int | None = None) -> Iterator[str]:
    """Every bot has exactly one account: none is a violation, and so are several
    (possible only where the unique index on ``ledger_account.bot_id`` is missing)."""
    bots = for_bot(Bot.objects.all(), "id", bot_id)
    for owner_id, name in bots.filter(account__isnull=True).order_by("id").values_list("id", "name"):
        yield f"{bot_label(owner_id, name)} has no ledger account"
    duplicated = (
        for_bot(Account.objects.all(), "bot_id", bot_id)
        .values("bot_id", "bot__name")
        .annotate(accounts=Count("id"))
        .filter(accounts__gt=1)
        .order_by("bot_id")
    )
    for row in duplicated:
        yield f"{bot_label(row['bot_id'], row['bot__name'])} has {row['accounts']} ledger accounts"


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
        for_bot(Entry.objects.all(), "account__bot_id", bot_id)
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
        where = f"entry {entry_id} of account {account_id} ({bot_label(owner_id, name)})"
        if position_id is not None and position_bot != owner_id:
            yield f"{where}: names position {position_id} of bot {position_bot}"
        if trade_id is not None and trade_bot != owner_id:
            yield f"{where}: names trade {trade_id} of bot {trade_bot}"
        if None not in (position_id, trade_position) and trade_position != position_id:
            yield f"{where}: names position {position_id} but its trade {trade_id} is of position " \
                  f"{trade_position}"


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
        for_bot(Position.objects.all(), "bot_id", bot_id)
        .annotate(
            locked=units_sum("entries__amount", filter=margin_entries),
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
            f"position {position_id} ({bot_label(owner_id, name)}, {status}, margin {money_text(margin)}): "
            f"margin entries sum to {money_text(from_units(locked))}, "
            f"expected {money_text(from_units(expected_lock))}"
        )


def check_trade_fees(*, bot_id: int | None = None) -> Iterator[str]:
    """For a trade with fee entries, they add up to minus the trade's fee. Trades
    without fee entries (legacy imports, zero fees) are not judged."""
    fee_entries = Q(entries__kind=Entry.Kind.FEE)
    rows = (
        for_bot(Trade.objects.all(), "bot_id", bot_id)
        .annotate(
            charged=units_sum("entries__amount", filter=fee_entries),
            fee_entry_count=Count("entries", filter=fee_entries),
        )
        .filter(fee_entry_count__gt=0)
        .exclude(charged=-Units("fee"))
        .order_by("id")
        .values_list("id", "bot_id", "bot__name", "fee", "charged")
    )
    for trade_id, owner_id, name, fee, charged in rows.iterator():
        yield (
            f"trade {trade_id} ({bot_label(owner_id, name)}): fee {money_text(fee)} but its fee entries "
            f"sum to {money_text(from_units(charged))}"
        )
