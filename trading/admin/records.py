"""Admin of what the bots did on the market: positions and trades (read-only records over
millions of rows: ledger/admin_audit.py keeps their pages fast) and cooldowns."""
from __future__ import annotations

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
    object_links,
)
from trading.admin.markets import SymbolFilter, market_symbols
from trading.models import (
    Cooldown,
    Position,
    Trade,
)

_bot, _owner = bot_columns("bot")
_BOT_NAMES = ("bot__name", "bot__owner__username")


@admin.register(Position)
class PositionAdmin(AuditAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "opened_at", _bot, _owner, "symbol", "side", "status", "leverage", "margin",
        "quantity", "entry_price", "mark_price", "liquidation_price", "unrealized_pnl",
        "exit_price", "realized_pnl", "close_reason", "closed_at",
    )
    list_select_related = ("bot", "bot__owner")
    list_filter = (
        "status", "side", SymbolFilter, "close_reason", "bot", "bot__owner", "opened_at", "closed_at",
    )
    audit_search = AuditSearch(
        exact=("legacy_id",), symbol="symbol", names=_BOT_NAMES, symbols=market_symbols,
        help="A position's id (digits); a symbol or its start (ETH); a bot's name or its owner's "
             "username, or part of one; or a legacy id, exactly.")
    date_hierarchy = "opened_at"
    ordering = ("-opened_at", "-id")
    readonly_fields = ("bot_link", "decision_link", "trade_links", "entry_links")
    fieldsets = (
        (None, {"fields": ("bot_link", "symbol", "side", "status", "leverage", "margin",
                           "quantity", "entry_price", "liquidation_price", "stop_loss",
                           "take_profit", "legacy_id")}),
        ("Mark to market", {"fields": ("mark_price", "unrealized_pnl", "marked_at")}),
        ("Open and close", {"fields": ("opened_at", "closed_at", "exit_price", "realized_pnl",
                                       "close_reason")}),
        ("Related records", {"fields": ("decision_link", "trade_links", "entry_links")}),
    )

    @admin.display(description="bot")
    def bot_link(self, obj: Position) -> SafeString | None:
        return change_link(obj.bot)

    @admin.display(description="opening decision")
    def decision_link(self, obj: Position) -> SafeString | None:
        return change_link_by_id("bots.decision", obj.opening_decision_id)

    @admin.display(description="trades")
    def trade_links(self, obj: Position) -> SafeString | None:
        return object_links(obj.trades.order_by("executed_at", "id"))

    @admin.display(description="journal entries")
    def entry_links(self, obj: Position) -> SafeString:
        return format_html(
            "{}<br>{}",
            object_links(obj.entries.order_by("id")) or "none",
            changelist_link("ledger.entry", "all in the journal", position__id__exact=obj.pk),
        )


@admin.register(Trade)
class TradeAdmin(AuditAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "executed_at", _bot, _owner, "kind", "side", "symbol", "price", "quantity",
        "margin", "leverage", "fee", "pnl", "reason", "position_link", "decision_link",
    )
    list_select_related = ("bot", "bot__owner")
    list_filter = ("kind", "side", SymbolFilter, "reason", "bot", "bot__owner", "executed_at")
    audit_search = AuditSearch(
        exact=("legacy_id", "exchange_order_id", "client_order_id"), symbol="symbol", names=_BOT_NAMES,
        symbols=market_symbols,
        help="A trade's id (digits); a symbol or its start (ETH); a bot's name or its owner's username, "
             "or part of one; or a legacy, exchange or client order id, exactly.")
    date_hierarchy = "executed_at"
    ordering = ("-executed_at", "-id")
    readonly_fields = ("bot_link", "position_detail", "decision_detail", "entry_links")
    fieldsets = (
        (None, {"fields": ("bot_link", "kind", "side", "symbol", "price", "quantity", "margin",
                           "leverage", "fee", "pnl", "reason", "executed_at", "legacy_id",
                           "exchange_order_id")}),
        ("Related records", {"fields": ("decision_detail", "position_detail", "entry_links")}),
    )

    @admin.display(description="position", ordering="position")
    def position_link(self, obj: Trade) -> SafeString | None:
        return change_link_by_id("trading.position", obj.position_id)

    @admin.display(description="decision", ordering="decision")
    def decision_link(self, obj: Trade) -> SafeString | None:
        return change_link_by_id("bots.decision", obj.decision_id)

    @admin.display(description="bot")
    def bot_link(self, obj: Trade) -> SafeString | None:
        return change_link(obj.bot)

    @admin.display(description="position")
    def position_detail(self, obj: Trade) -> SafeString | None:
        return change_link(obj.position, f"#{obj.position_id} {obj.position}")

    @admin.display(description="decision")
    def decision_detail(self, obj: Trade) -> SafeString | None:
        return change_link_by_id("bots.decision", obj.decision_id)

    @admin.display(description="journal entries")
    def entry_links(self, obj: Trade) -> SafeString:
        return format_html(
            "{}<br>{}",
            object_links(obj.entries.order_by("id")) or "none",
            changelist_link("ledger.entry", "all in the journal", trade__id__exact=obj.pk),
        )


@admin.register(Cooldown)
class CooldownAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", _bot, _owner, "symbol", "until")
    list_select_related = ("bot", "bot__owner")
    list_filter = (SymbolFilter, "bot", "bot__owner", "until")
    search_fields = ("symbol", "bot__name")
    date_hierarchy = "until"
    ordering = ("-until",)
