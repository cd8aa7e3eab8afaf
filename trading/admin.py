"""Admin for the market side: markets (written by the feed), exchange wallets
(editable, keys write-only), positions and trades (read-only records), and what
reconciliation with the exchanges did and found (read-only, but a discrepancy can be
marked resolved with a word on how)."""
from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from ledger.admin_tools import (
    ReadOnlyAdminMixin,
    WriteOnlySecretsAdminMixin,
    WriteOnlySecretsForm,
    bot_columns,
    change_link,
    change_link_by_id,
    changelist_link,
    clear_checkbox,
    export_as_csv,
    object_links,
    secret_input,
)
from trading.encryption import is_set
from trading.models import (
    Candle,
    Cooldown,
    Discrepancy,
    ExchangeIncome,
    Market,
    Position,
    Reconciliation,
    Trade,
    Wallet,
)
from trading.services.reconcile import discrepancy_resolve
from trading.services.wallets import wallet_audited, wallet_base_url_check, wallet_change

_bot, _owner = bot_columns("bot")


class SymbolFilter(admin.SimpleListFilter):
    """Symbols from the small markets table, not a DISTINCT over every trade."""

    title = "symbol"
    parameter_name = "symbol"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s, s) for s in Market.objects.order_by("symbol").values_list("symbol", flat=True)]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(symbol=value) if value else queryset


@admin.register(Market)
class MarketAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "symbol", "last_price", "mark_price", "change_24h_pct", "funding_rate",
        "next_funding_at", "max_leverage", "is_listed", "is_stale", "updated_at",
    )
    list_filter = ("is_stale", "is_listed", "quote_asset")
    search_fields = ("symbol", "base_asset")
    ordering = ("symbol",)


class WalletForm(WriteOnlySecretsForm):
    secret_fields = ("api_key", "api_secret")
    api_key = secret_input("API key")
    clear_api_key = clear_checkbox("API key")
    api_secret = secret_input("API secret")
    clear_api_secret = clear_checkbox("API secret")

    class Meta:
        model = Wallet
        exclude = ("api_key_encrypted", "api_secret_encrypted")
        # A base URL typed without a scheme is https (as Django 6 will assume).
        field_classes = {"base_url": partial(forms.URLField, assume_scheme="https")}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        owner, bot = cleaned.get("owner"), cleaned.get("bot")
        if owner and bot and bot.owner_id != owner.pk:
            self.add_error("bot", "This bot belongs to another user.")
        if "base_url" in self.changed_data and cleaned.get("base_url"):
            try:  # the outbound rules the API applies: the server will call this URL
                wallet_base_url_check(cleaned["base_url"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(Wallet)
class WalletAdmin(WriteOnlySecretsAdminMixin, admin.ModelAdmin):
    form = WalletForm
    list_display = (
        "__str__", "owner", "exchange", "bot", "api_key_status", "api_secret_status",
        "key_needs_reentry", "is_active", "updated_at",
    )
    list_select_related = ("owner", "bot")
    list_filter = ("exchange", "is_active", "key_needs_reentry", "owner")
    search_fields = ("label", "address", "owner__username", "bot__name", "legacy_id")
    exclude = ("api_key_encrypted", "api_secret_encrypted")
    readonly_fields = (
        "api_key_status", "api_secret_status", "key_needs_reentry", "verified_at", "verify_error",
        "withdrawals_enabled", "verified_balance", "created_at", "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("owner", "bot", "exchange", "base_url", "label", "address", "is_active",
                           "legacy_id")}),
        ("Keys (write-only)", {"fields": (
            "api_key_status", "api_key", "clear_api_key",
            "api_secret_status", "api_secret", "clear_api_secret", "key_needs_reentry",
        )}),
        ("Verification on the exchange", {"fields": ("verified_at", "verify_error", "withdrawals_enabled",
                                                     "verified_balance")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    actions = (export_as_csv,)

    def save_model(self, request: HttpRequest, obj: Wallet, form: Any, change: bool) -> None:
        # The form saves the row (its write-only key fields set the ciphertext); the change,
        # field by field, goes to the audit trail as the services' changes do.
        before = wallet_audited(Wallet.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        wallet_change(obj, "updated" if change else "created", before)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # OneToOneField goes through here too; the owner in each label stops
        # a wallet being tied to a stranger's bot by a look-alike name.
        if db_field.name == "bot":
            kwargs["queryset"] = db_field.related_model.objects.select_related("owner").order_by(
                "owner__username", "name"
            )
            field = super().formfield_for_foreignkey(db_field, request, **kwargs)
            field.label_from_instance = lambda bot: f"{bot.name} — {bot.owner}"
            return field
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="API key stored")
    def api_key_status(self, obj: Wallet) -> str:
        return is_set(obj.api_key_encrypted)

    @admin.display(description="API secret stored")
    def api_secret_status(self, obj: Wallet) -> str:
        return is_set(obj.api_secret_encrypted)


@admin.register(Position)
class PositionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "opened_at", _bot, _owner, "symbol", "side", "status", "leverage", "margin",
        "quantity", "entry_price", "mark_price", "liquidation_price", "unrealized_pnl",
        "exit_price", "realized_pnl", "close_reason", "closed_at",
    )
    list_select_related = ("bot", "bot__owner")
    list_filter = (
        "status", "side", SymbolFilter, "close_reason", "bot", "bot__owner", "opened_at", "closed_at",
    )
    search_fields = ("symbol", "bot__name", "legacy_id")
    date_hierarchy = "opened_at"
    ordering = ("-opened_at",)
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
class TradeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "executed_at", _bot, _owner, "kind", "side", "symbol", "price", "quantity",
        "margin", "leverage", "fee", "pnl", "reason", "position_link", "decision_link",
    )
    list_select_related = ("bot", "bot__owner")
    list_filter = ("kind", "side", SymbolFilter, "reason", "bot", "bot__owner", "executed_at")
    search_fields = ("symbol", "bot__name", "legacy_id", "exchange_order_id")
    date_hierarchy = "executed_at"
    ordering = ("-executed_at",)
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


@admin.register(Candle)
class CandleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Candles are written by the market feed; the admin only shows them."""

    list_display = ("symbol", "interval", "open_time", "open", "high", "low", "close", "volume", "fetched_at")
    list_filter = (SymbolFilter, "interval")
    search_fields = ("symbol",)
    date_hierarchy = "open_time"
    ordering = ("-open_time",)


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
