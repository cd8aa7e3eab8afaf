"""Money: one account per bot, the append-only journal of every balance movement,
and periodic snapshots of each bot's portfolio."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.values import MONEY_PLACES, money_text

MONEY = {"max_digits": 24, "decimal_places": MONEY_PLACES}


class AppendOnlyError(Exception):
    """Journal entries are facts: they are never changed or removed."""


class Account(models.Model):
    """A bot's cash. ``balance`` is cash not locked as margin, and always equals
    the sum of the account's entries (``manage.py audit_ledger`` proves it)."""

    bot = models.OneToOneField("bots.Bot", on_delete=models.PROTECT, related_name="account")
    balance = models.DecimalField(**MONEY, default=0)
    currency = models.CharField(max_length=8, default="USDT")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Account of bot {self.bot_id}: {self.balance} {self.currency}"


class EntryQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("journal entries cannot be updated; post a correcting entry")

    def delete(self):  # type: ignore[override]
        raise AppendOnlyError("journal entries cannot be deleted; post a correcting entry")

    update.queryset_only = True  # type: ignore[attr-defined]
    delete.queryset_only = True  # type: ignore[attr-defined]


class EntryKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    MARGIN_LOCK = "margin_lock", "Margin locked"
    MARGIN_RELEASE = "margin_release", "Margin released"
    FEE = "fee", "Fee"
    REALIZED_PNL = "realized_pnl", "Realized PnL"
    FUNDING = "funding", "Funding"
    LIQUIDATION = "liquidation", "Liquidation"
    ADJUSTMENT = "adjustment", "Adjustment"


@dataclass(frozen=True)
class KindRule:
    """What an entry of one kind must look like: ``sign`` +1 adds money, -1 takes it, 0 either."""

    sign: int
    needs_position: bool = False
    needs_funding_time: bool = False


# The one statement of the journal's kind rules. Entry.Meta.constraints, ledger.services
# (refusing a posting) and ledger.audit (finding a bad row) are all derived from it.
ENTRY_KIND_RULES: dict[str, KindRule] = {
    EntryKind.DEPOSIT: KindRule(sign=+1),
    EntryKind.MARGIN_LOCK: KindRule(sign=-1, needs_position=True),
    EntryKind.MARGIN_RELEASE: KindRule(sign=+1, needs_position=True),
    EntryKind.FEE: KindRule(sign=-1),
    EntryKind.REALIZED_PNL: KindRule(sign=0),
    EntryKind.FUNDING: KindRule(sign=0, needs_position=True, needs_funding_time=True),
    EntryKind.LIQUIDATION: KindRule(sign=-1, needs_position=True),
    EntryKind.ADJUSTMENT: KindRule(sign=0),
}


def entry_kinds(
    *, sign: int | None = None, needs_position: bool | None = None, needs_funding_time: bool | None = None,
) -> list[str]:
    """The kinds whose rule matches every criterion given, in the order of ``EntryKind``."""
    return [
        kind.value for kind in EntryKind
        if (sign is None or ENTRY_KIND_RULES[kind].sign == sign)
        and (needs_position is None or ENTRY_KIND_RULES[kind].needs_position == needs_position)
        and (needs_funding_time is None or ENTRY_KIND_RULES[kind].needs_funding_time == needs_funding_time)
    ]


def _kind_is(kinds: list[str]) -> Q:
    # One kind as ``kind = …``, several as ``kind IN (…)``: the form the first migration recorded.
    return Q(kind=kinds[0]) if len(kinds) == 1 else Q(kind__in=kinds)


def entry_kind_conditions() -> dict[str, Q]:
    """Each kind rule as the condition every entry row satisfies, by constraint name."""
    return {
        "ledger_entry_kind_valid": Q(kind__in=entry_kinds()),
        "ledger_entry_amount_not_zero": ~Q(amount=0),
        "ledger_entry_credit_kinds_positive": ~_kind_is(entry_kinds(sign=+1)) | Q(amount__gt=0),
        "ledger_entry_debit_kinds_negative": ~_kind_is(entry_kinds(sign=-1)) | Q(amount__lt=0),
        "ledger_entry_position_kinds_have_position":
            ~_kind_is(entry_kinds(needs_position=True)) | Q(position__isnull=False),
        "ledger_entry_funding_has_time":
            ~_kind_is(entry_kinds(needs_funding_time=True)) | Q(funding_time__isnull=False),
    }


def entry_kind_problems(
    kind: str, amount: Decimal, *, has_position: bool, has_funding_time: bool
) -> list[str]:
    """Every way an entry of ``kind`` and ``amount`` breaks its kind's rule (none: it is fine)."""
    rule = ENTRY_KIND_RULES.get(kind)
    problems = [] if rule is not None else [f"unknown kind {kind!r}"]
    if amount == 0:
        problems.append(f"a {kind} entry of zero")
    elif rule is not None and rule.sign > 0 and amount < 0:
        problems.append(f"a {kind} entry must add money, amount is {money_text(amount)}")
    elif rule is not None and rule.sign < 0 and amount > 0:
        problems.append(f"a {kind} entry must take money, amount is {money_text(amount)}")
    if rule is not None and rule.needs_position and not has_position:
        problems.append(f"a {kind} entry names no position")
    if rule is not None and rule.needs_funding_time and not has_funding_time:
        problems.append(f"a {kind} entry names no funding time")
    return problems


class Entry(models.Model):
    """One movement of an account's balance, written once and never changed.

    Post entries with ``ledger.services.entry_post``, which moves the balance
    and writes the entry in one locked transaction. What each kind must look like
    (its sign, whether it names a position or a funding time) is ``Entry.RULES``.
    """

    Kind = EntryKind
    RULES = ENTRY_KIND_RULES
    kinds = staticmethod(entry_kinds)
    kind_problems = staticmethod(entry_kind_problems)
    kind_conditions = staticmethod(entry_kind_conditions)

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = models.DecimalField(**MONEY)
    # The account balance right after this entry: a running total to audit.
    balance_after = models.DecimalField(**MONEY)
    created_at = models.DateTimeField(default=timezone.now)
    position = models.ForeignKey(
        "trading.Position", on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    trade = models.ForeignKey(
        "trading.Trade", on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    # For funding: the funding time (00:00, 08:00, 16:00 UTC) this payment is for.
    funding_time = models.DateTimeField(null=True, blank=True)
    memo = models.CharField(max_length=500, blank=True)

    objects = EntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            # The kind rules (ENTRY_KIND_RULES), enforced by the database.
            *(
                models.CheckConstraint(condition=condition, name=name)
                for name, condition in entry_kind_conditions().items()
            ),
            # Funding is charged once per position and funding time, however
            # often the task runs.
            models.UniqueConstraint(
                fields=["position", "funding_time"], condition=Q(kind=EntryKind.FUNDING.value),
                name="ledger_entry_funding_once",
            ),
        ]
        indexes = [
            # An account's statement: WHERE account_id = ? ORDER BY id.
            models.Index(fields=["account", "id"], name="ledger_entry_account_idx"),
            # Totals by kind (fees paid, funding): WHERE account_id = ? AND kind = ?.
            models.Index(fields=["account", "kind"], name="ledger_entry_account_kind_idx"),
            # The admin's journal, newest first: ORDER BY created_at DESC, id DESC LIMIT 100
            # OFFSET n; its drill-down bounds and day, month and year ranges.
            models.Index(fields=["-created_at", "-id"], name="ledger_entry_created_idx"),
            # The admin's journal of a bot (and a search by its name): WHERE account_id IN (?)
            # ORDER BY created_at DESC, id DESC.
            models.Index(fields=["account", "-created_at", "-id"], name="ledger_entry_account_time_idx"),
            # The admin's kind filter and its count: WHERE kind = ? ORDER BY created_at DESC, id DESC.
            models.Index(fields=["kind", "-created_at", "-id"], name="ledger_entry_kind_created_idx"),
            # The admin's funding-time filter: WHERE funding_time >= ? AND funding_time < ?
            # (funding entries only: the rest have none).
            models.Index(fields=["funding_time"], condition=Q(funding_time__isnull=False),
                         name="ledger_entry_funding_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} on account {self.account_id}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("journal entries cannot be changed; post a correcting entry")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("journal entries cannot be deleted; post a correcting entry")


class Snapshot(models.Model):
    """A bot's portfolio at one moment, for the leaderboard and charts."""

    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="snapshots")
    taken_at = models.DateTimeField(default=timezone.now)
    balance = models.DecimalField(**MONEY)
    margin = models.DecimalField(**MONEY, default=0)
    unrealized_pnl = models.DecimalField(**MONEY, default=0)
    realized_pnl = models.DecimalField(**MONEY, default=0)
    total_value = models.DecimalField(**MONEY)
    trade_count = models.PositiveIntegerField(default=0)
    win_rate = models.DecimalField(max_digits=7, decimal_places=6, default=0)
    legacy_id = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(win_rate__gte=0) & Q(win_rate__lte=1), name="ledger_snapshot_win_rate_range"
            ),
            models.CheckConstraint(condition=Q(margin__gte=0), name="ledger_snapshot_margin_not_negative"),
            models.UniqueConstraint(fields=["bot", "legacy_id"], name="ledger_snapshot_bot_legacy_id_unique"),
        ]
        indexes = [
            # A bot's value history: WHERE bot_id = ? AND taken_at >= ? ORDER BY taken_at; and
            # the analytics' samples, WHERE bot_id = ? AND taken_at <= ? ORDER BY taken_at DESC
            # LIMIT 1 reading (taken_at, total_value): with the value in the index the seek
            # never visits the table (an index-only scan on PostgreSQL, a covering index on
            # SQLite), so a 10-bot comparison's 1,680 seeks stay in the index at any size.
            models.Index(fields=["bot", "taken_at", "total_value"], name="ledger_snapshot_bot_time_idx"),
            # Leaderboard periods and retention: WHERE taken_at < ?; the admin's list, its
            # drill-down bounds and date ranges.
            models.Index(fields=["taken_at"], name="ledger_snapshot_time_idx"),
            # The admin's search by a legacy id: WHERE legacy_id = ? (imported rows only).
            models.Index(fields=["legacy_id"], condition=Q(legacy_id__isnull=False),
                         name="ledger_snapshot_legacy_idx"),
        ]

    def __str__(self) -> str:
        return f"Snapshot of bot {self.bot_id} at {self.taken_at:%Y-%m-%d %H:%M}"


class EventQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("events cannot be changed")


class Event(models.Model):
    """The outbox: every durable event of the arena, numbered in commit order.

    Written by the service that makes the change, in its transaction (``ledger.events``);
    pushed to the live stream after commit; replayed from here to a socket that
    reconnects. ``user`` is the audience: null for everyone, else that user only.
    """

    seq = models.BigIntegerField(unique=True)
    type = models.CharField(max_length=40)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The bot it is about, when there is one (no database constraint: events outlive nothing
    # they name, and a deleted bot's history stays readable).
    bot = models.ForeignKey(
        "bots.Bot", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    data = models.JSONField()
    created_at = models.DateTimeField()

    objects = EventQuerySet.as_manager()

    class Meta:
        indexes = [
            # Retention: DELETE ... WHERE created_at < ?.
            models.Index(fields=["created_at"], name="ledger_event_created_idx"),
        ]

    def __str__(self) -> str:
        return f"event {self.seq} {self.type}"


class EventSequence(models.Model):
    """One row: the last sequence number handed out. Taking it is an UPDATE that locks the
    row until commit, so numbers are handed out in commit order (an auto-increment id is
    not: on PostgreSQL a later number can commit first)."""

    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"last event {self.last}"


class ChangeQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("the change log cannot be changed")

    def delete(self):  # type: ignore[override]
        raise AppendOnlyError("the change log cannot be deleted")

    delete.queryset_only = True  # type: ignore[attr-defined]


class Change(models.Model):
    """The audit trail: one row per change to a bot, provider, wallet, the arena settings
    or a user — who made it, when, through which interface, and each changed field's value
    before and after (secrets only as "changed"). Append-only; written by the service that
    makes the change, in its transaction (``ledger.changes``)."""

    class Interface(models.TextChoices):
        API = "api", "REST API"
        ADMIN = "admin", "Django admin"
        WEB = "web", "Web pages"
        COMMAND = "command", "Management command"
        SYSTEM = "system", "The arena itself"

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The actor's username when the change was made (a user deleted later is anonymised).
    actor_name = models.CharField(max_length=150, blank=True)
    interface = models.CharField(max_length=8, choices=Interface.choices)
    object_type = models.CharField(max_length=40)  # "bots.Bot", "arena.User" …
    object_id = models.CharField(max_length=40)
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=32)  # created, updated, deleted, paused, reset …
    # {"field": [before, after]}; a secret's values are never stored, only that it changed.
    changes = models.JSONField(default=dict, blank=True)
    # Whose object it is, so an owner can read the trail of their own things.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ChangeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(interface__in=["api", "admin", "web", "command", "system"]),
                                   name="ledger_change_interface_valid"),
        ]
        indexes = [
            # One object's trail, newest first: WHERE object_type = ? AND object_id = ? ORDER BY id DESC.
            models.Index(fields=["object_type", "object_id", "-id"], name="ledger_change_object_idx"),
            # An owner's trail: WHERE owner_id = ? ORDER BY id DESC.
            models.Index(fields=["owner", "-id"], name="ledger_change_owner_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id} {self.action} by {self.actor_name or self.interface}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("the change log cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[override]
        raise AppendOnlyError("the change log cannot be deleted")


from ledger.rollup_models import BotDay  # noqa: E402,F401  (a model of this app, in its own module)
