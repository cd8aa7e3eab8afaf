"""Admin of what reconciliation with the exchanges did and found: read-only, but a
discrepancy can be marked resolved with a word on how."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.safestring import SafeString

from ledger.admin_tools import (
    ReadOnlyAdminMixin,
    bot_columns,
    change_link,
    change_link_by_id,
    changelist_link,
    export_as_csv,
)
from trading.models import (
    Discrepancy,
    ExchangeIncome,
    Reconciliation,
)
from trading.services.reconcile import discrepancy_resolve

_bot, _owner = bot_columns("bot")


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each comparison of a real bot with its exchange: what it found, did and flagged."""

    list_display = ("id", "started_at", _bot, _owner, "trigger", "status", "exchange_balance",
                    "ledger_balance", "finished_at", "error")
    list_select_related = ("bot", "bot__owner")
    list_filter = ("status", "trigger", "bot", "started_at")
    search_fields = ("=bot__id", "bot__name", "error")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    changelist_defer = ("summary",)
    readonly_fields = ("bot_link", "wallet_link", "discrepancy_links")
    fields = ("bot_link", "wallet_link", "trigger", "status", "started_at", "finished_at", "exchange_balance",
              "ledger_balance", "error", "summary", "discrepancy_links")

    @admin.display(description="bot")
    def bot_link(self, obj: Reconciliation) -> SafeString | None:
        return change_link(obj.bot)

    @admin.display(description="wallet")
    def wallet_link(self, obj: Reconciliation) -> SafeString | None:
        return change_link(obj.wallet)

    @admin.display(description="discrepancies")
    def discrepancy_links(self, obj: Reconciliation) -> SafeString:
        return changelist_link("trading.discrepancy", "raised by this run", reconciliation__id__exact=obj.pk)


class DiscrepancyForm(forms.ModelForm):
    class Meta:
        model = Discrepancy
        fields = ("resolution",)

    def clean_resolution(self) -> str:
        text = (self.cleaned_data.get("resolution") or "").strip()
        if not text:
            raise ValidationError("Say how this was resolved: it stays on the bot's records.")
        return text


@admin.register(Discrepancy)
class DiscrepancyAdmin(admin.ModelAdmin):
    """What a reconciliation could not explain. Read-only but for ``resolution``, while
    open: saving it marks the flag resolved by the admin (``discrepancy_resolve``); the
    journal is never changed here."""

    form = DiscrepancyForm
    list_display = ("id", "created_at", _bot, _owner, "kind", "symbol", "amount", "is_open", "resolved_at",
                    "resolved_by")
    list_select_related = ("bot", "bot__owner", "resolved_by")
    list_filter = (("resolved_at", admin.EmptyFieldListFilter), "kind", "bot", "created_at")
    search_fields = ("=bot__id", "bot__name", "key", "detail")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    readonly_fields = ("bot_link", "reconciliation_link", "kind", "key", "symbol", "detail", "amount",
                       "entry_link", "created_at", "resolved_at", "resolved_by")
    fields = (*readonly_fields, "resolution")
    actions = (export_as_csv,)
    show_full_result_count = False

    @admin.display(description="open", boolean=True, ordering="resolved_at")
    def is_open(self, obj: Discrepancy) -> bool:
        return obj.resolved_at is None

    @admin.display(description="bot")
    def bot_link(self, obj: Discrepancy) -> SafeString | None:
        return change_link(obj.bot)

    @admin.display(description="reconciliation")
    def reconciliation_link(self, obj: Discrepancy) -> SafeString | None:
        return change_link(obj.reconciliation)

    @admin.display(description="adjustment entry")
    def entry_link(self, obj: Discrepancy) -> SafeString | None:
        return change_link_by_id("ledger.entry", obj.entry_id)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # raised by reconciliation only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Discrepancy | None = None) -> bool:
        # A resolved flag is a record: shown, never changed again.
        return super().has_change_permission(request, obj) and (obj is None or obj.resolved_at is None)

    def save_model(self, request: HttpRequest, obj: Discrepancy, form: Any, change: bool) -> None:
        text = form.cleaned_data["resolution"]
        done = discrepancy_resolve(discrepancy=obj, actor=request.user, resolution=text)
        obj.resolved_at, obj.resolved_by, obj.resolution = done.resolved_at, request.user, done.resolution


@admin.register(ExchangeIncome)
class ExchangeIncomeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The exchanges' own income records (PnL, commission, funding, transfers), each once,
    with what it explains or became."""

    list_display = ("id", "time", _bot, _owner, "income_type", "symbol", "amount", "asset", "tran_id",
                    "trade_link", "entry_link", "discrepancy_link")
    list_select_related = ("bot", "bot__owner")
    list_filter = ("income_type", "asset", "bot", "time")
    search_fields = ("=tran_id", "=exchange_trade_id", "bot__name", "symbol")
    date_hierarchy = "time"
    ordering = ("-time", "-id")
    readonly_fields = ("trade_link", "entry_link", "discrepancy_link")
    fields = ("wallet", "bot", "tran_id", "income_type", "symbol", "amount", "asset", "time",
              "exchange_trade_id", "info", "trade_link", "entry_link", "discrepancy_link")

    @admin.display(description="trade")
    def trade_link(self, obj: ExchangeIncome) -> SafeString | None:
        return change_link_by_id("trading.trade", obj.trade_id)

    @admin.display(description="journal entry")
    def entry_link(self, obj: ExchangeIncome) -> SafeString | None:
        return change_link_by_id("ledger.entry", obj.entry_id)

    @admin.display(description="discrepancy")
    def discrepancy_link(self, obj: ExchangeIncome) -> SafeString | None:
        return change_link_by_id("trading.discrepancy", obj.discrepancy_id)
