"""Admin of the market side: markets and candles (written by the feed, read-only) and
exchange wallets (editable, keys write-only)."""
from __future__ import annotations

from functools import partial
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from ledger.admin_audit import AuditAdminMixin, AuditSearch
from ledger.admin_tools import (
    ReadOnlyAdminMixin,
    WriteOnlySecretsAdminMixin,
    WriteOnlySecretsForm,
    clear_checkbox,
    export_as_csv,
    secret_input,
)
from trading.encryption import is_set
from trading.models import (
    Candle,
    Market,
    Wallet,
)
from trading.services.wallets import wallet_audited, wallet_base_url_check, wallet_change


def market_symbols() -> list[str]:
    return list(Market.objects.values_list("symbol", flat=True))


class SymbolFilter(admin.SimpleListFilter):
    """Symbols from the small markets table, not a DISTINCT over every trade."""

    title = "symbol"
    parameter_name = "symbol"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(s, s) for s in sorted(market_symbols())]

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


@admin.register(Candle)
class CandleAdmin(AuditAdminMixin, admin.ModelAdmin):
    """Candles are written by the market feed; the admin only shows them."""

    list_display = ("symbol", "interval", "open_time", "open", "high", "low", "close", "volume", "fetched_at")
    list_filter = (SymbolFilter, "interval")
    audit_search = AuditSearch(ids=(), symbol="symbol", symbols=market_symbols,
                               help="A symbol or its start (ETH).")
    date_hierarchy = "open_time"
    ordering = ("-open_time", "-id")
