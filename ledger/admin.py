"""Admin for money: accounts, the journal and snapshots, all read-only.

Balances move only through ``ledger.services.entry_post``; the admin shows
and exports what happened, and links each entry to its cause.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ledger.admin_audit import AuditAdminMixin, AuditSearch
from ledger.admin_tools import (
    ReadOnlyAdminMixin,
    bot_columns,
    change_link,
    change_link_by_id,
    changelist_link,
)
from ledger.models import Account, BotDay, Change, Entry, Event, EventSequence, Snapshot
from ledger.selectors import account_entries_total

_bot, _owner = bot_columns("bot")
_entry_bot, _entry_owner = bot_columns("account__bot")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", _bot, _owner, "balance", "currency", "created_at", "updated_at")
    list_select_related = ("bot", "bot__owner")
    list_filter = ("currency", "bot__owner", "created_at")
    search_fields = ("bot__name", "bot__legacy_id")
    date_hierarchy = "created_at"
    ordering = ("id",)
    readonly_fields = ("bot_link", "entries_total", "journal")
    fields = ("bot_link", "balance", "entries_total", "currency", "created_at", "updated_at",
              "journal")

    @admin.display(description="bot")
    def bot_link(self, obj: Account) -> SafeString | None:
        return change_link(obj.bot)

    @admin.display(description="sum of entries")
    def entries_total(self, obj: Account) -> SafeString:
        # The ledger's invariant, checked where an auditor looks at the balance.
        total = account_entries_total(account=obj)
        verdict = "matches the balance" if total == obj.balance else "DOES NOT match the balance"
        return format_html("{} ({})", total, verdict)

    @admin.display(description="journal")
    def journal(self, obj: Account) -> SafeString:
        return changelist_link("ledger.entry", "all entries of this account", account__id__exact=obj.pk)


class FundingTimeFilter(admin.DateFieldListFilter):
    """The funding times of funding entries, by date. No "No date" and "Has date": those
    would be every other entry of the journal, and only the funding entries are indexed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        null = getattr(self, "lookup_kwarg_isnull", None)
        self.links = tuple(link for link in self.links if null not in link[1])

    def expected_parameters(self) -> list[str]:
        return [self.lookup_kwarg_since, self.lookup_kwarg_until]


@admin.register(Entry)
class EntryAdmin(AuditAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "created_at", _entry_bot, _entry_owner, "kind", "amount", "balance_after",
        "position_link", "trade_link", "funding_time", "memo",
    )
    list_select_related = ("account__bot", "account__bot__owner")
    list_filter = ("kind", "account__bot", "account__bot__owner", "created_at",
                   ("funding_time", FundingTimeFilter))
    audit_search = AuditSearch(
        ids=("id", "position_id", "trade_id"), names=("account__bot__name", "account__bot__owner__username"),
        help="An entry's, its position's or its trade's id (digits); or a bot's name or its owner's "
             "username, or part of one.")
    date_hierarchy = "created_at"
    # Newest first, and in journal order (id) within the same moment.
    ordering = ("-created_at", "-id")
    readonly_fields = ("account_link", "bot_link", "position_detail", "trade_detail")
    fields = (
        "account_link", "bot_link", "kind", "amount", "balance_after", "created_at",
        "position_detail", "trade_detail", "funding_time", "memo",
    )

    @admin.display(description="account")
    def account_link(self, obj: Entry) -> SafeString | None:
        return change_link(obj.account)

    @admin.display(description="bot")
    def bot_link(self, obj: Entry) -> SafeString | None:
        return change_link(obj.account.bot)

    @admin.display(description="position", ordering="position")
    def position_link(self, obj: Entry) -> SafeString | None:
        return change_link_by_id("trading.position", obj.position_id)

    @admin.display(description="trade", ordering="trade")
    def trade_link(self, obj: Entry) -> SafeString | None:
        return change_link_by_id("trading.trade", obj.trade_id)

    @admin.display(description="position")
    def position_detail(self, obj: Entry) -> SafeString | None:
        return change_link(obj.position, f"#{obj.position_id} {obj.position}")

    @admin.display(description="trade")
    def trade_detail(self, obj: Entry) -> SafeString | None:
        return change_link(obj.trade, f"#{obj.trade_id} {obj.trade}")


@admin.register(Snapshot)
class SnapshotAdmin(AuditAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "taken_at", _bot, _owner, "balance", "margin", "unrealized_pnl", "realized_pnl",
        "total_value", "trade_count", "win_rate",
    )
    list_select_related = ("bot", "bot__owner")
    list_filter = ("bot", "bot__owner", "taken_at")
    audit_search = AuditSearch(
        exact=("legacy_id",), names=("bot__name", "bot__owner__username"),
        help="A snapshot's id (digits); a bot's name or its owner's username, or part of one; or a "
             "legacy id, exactly.")
    date_hierarchy = "taken_at"
    ordering = ("-taken_at", "-id")


@admin.register(BotDay)
class BotDayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The daily rollups the leaderboard reads; written by the engine, rebuilt by
    ``arena.rollups.rollups_rebuild``, never edited by hand."""

    list_display = ("id", "day", _bot, _owner, "run_start", "snapshots", "returns", "last_value", "closes",
                    "wins", "losses", "fees", "decisions", "llm_cost")
    list_select_related = ("bot", "bot__owner")
    list_filter = ("bot", "bot__owner", "day")
    search_fields = ("bot__name",)
    date_hierarchy = "day"
    ordering = ("-day", "bot_id")


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The outbox, as the live stream sends it: who could see each event and what it said."""

    list_display = ("seq", "type", "audience", "bot_id", "created_at")
    list_filter = ("type",)
    search_fields = ("=seq", "=bot_id")  # exact numbers: served by the seq index
    search_help_text = "An event's sequence number or a bot's id, exactly."
    ordering = ("-seq",)  # the unique seq index
    show_full_result_count = False

    @admin.display(description="audience")
    def audience(self, obj: Event) -> str:
        return "everyone" if obj.user_id is None else f"user {obj.user_id}"


@admin.register(EventSequence)
class EventSequenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "last")


@admin.register(Change)
class ChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit trail: who changed which object, through which interface, before and after."""

    list_display = ("id", "at", "actor_name", "interface", "object_type", "object_id", "object_repr",
                    "action")
    list_filter = ("interface", "object_type", "action")
    search_fields = ("=object_id", "actor_name")
    search_help_text = "An object's id exactly, or the actor's username."
    ordering = ("-id",)
    show_full_result_count = False
