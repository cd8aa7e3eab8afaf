"""Admin for who decides: providers (keys write-only), bots (created through
``bot_create`` so each gets its funded account), decisions and learning summaries
(read-only)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from bots.admin_forms import BotAdminForm
from bots.models import Bot, Decision, LearningSummary, LLMProvider, PromptVersion
from bots.services import (
    bot_create,
    bot_pause,
    bot_resume,
    bot_update,
    provider_audited,
    provider_base_url_check,
    provider_change,
)
from bots.services.bots import bot_create_real
from ledger.admin_audit import AuditAdminMixin, AuditSearch
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
from trading.models import Reconciliation
from trading.services.real import RealTradingError
from trading.services.reconcile import reconcile_bot

_bot, _owner = bot_columns("bot")


# A base URL typed without a scheme is https (Django 6's default, chosen now).
_HTTPS = {"assume_scheme": "https"}


def _formfield(db_field: models.Field, **kwargs: Any) -> Any:
    if isinstance(db_field, models.URLField):
        kwargs = {**_HTTPS, **kwargs}
    return db_field.formfield(**kwargs)


class LLMProviderForm(WriteOnlySecretsForm):
    secret_fields = ("api_key",)
    api_key = secret_input("API key")
    clear_api_key = clear_checkbox("API key")

    class Meta:
        model = LLMProvider
        exclude = ("api_key_encrypted",)
        formfield_callback = _formfield

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "base_url" in self.changed_data and cleaned.get("kind") and cleaned.get("base_url"):
            try:  # the outbound rules the API applies: the server will call this URL
                provider_base_url_check(kind=cleaned["kind"], base_url=cleaned["base_url"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


@admin.register(LLMProvider)
class LLMProviderAdmin(WriteOnlySecretsAdminMixin, admin.ModelAdmin):
    form = LLMProviderForm
    list_display = (
        "name", "owner", "kind", "model", "base_url", "api_key_status", "key_needs_reentry",
        "is_active", "updated_at",
    )
    list_select_related = ("owner",)
    list_filter = ("kind", "is_active", "key_needs_reentry", "owner")
    search_fields = ("name", "model", "base_url", "owner__username", "legacy_id")
    exclude = ("api_key_encrypted",)
    # The admin builds its form with its own callback, so it says the same here.
    formfield_overrides = {models.URLField: _HTTPS}
    readonly_fields = ("api_key_status", "key_needs_reentry", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("owner", "name", "kind", "base_url", "model", "is_active",
                           "legacy_id")}),
        ("Key (write-only)", {"fields": ("api_key_status", "api_key", "clear_api_key",
                                         "key_needs_reentry")}),
        ("Requests and cost", {"fields": ("timeout_seconds", "max_retries", "options",
                                          "input_price_per_mtok", "output_price_per_mtok")}),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )
    actions = (export_as_csv,)

    @admin.display(description="API key stored")
    def api_key_status(self, obj: LLMProvider) -> str:
        return is_set(obj.api_key_encrypted)

    def save_model(self, request: HttpRequest, obj: LLMProvider, form: Any, change: bool) -> None:
        # The form saves the row (its write-only key fields set the ciphertext); the change,
        # field by field, goes to the audit trail as the services' changes do.
        before = provider_audited(LLMProvider.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        provider_change(obj, "updated" if change else "created", before)


# An existing bot's fields shown read-only, and those the edit form sends to bot_update.
_FIXED = ("owner", "mode", "initial_balance", "balance", "records", "created_at", "updated_at",
          "stats_reset_at")
_EDITABLE = tuple(name for name in BotAdminForm.Meta.fields if name not in _FIXED)


def _provider_label(provider: LLMProvider) -> str:
    return f"{provider.name} ({provider.kind}: {provider.model}) — {provider.owner}"


@admin.register(Bot)
class BotAdmin(admin.ModelAdmin):
    form = BotAdminForm
    list_display = (
        "name", "owner", "provider", "mode", "is_paused", "is_active", "balance",
        "initial_balance", "created_at",
    )
    list_select_related = ("owner", "provider", "account")
    list_filter = ("mode", "is_paused", "is_active", "owner", "provider__kind", "created_at")
    search_fields = ("name", "owner__username", "legacy_id")
    date_hierarchy = "created_at"
    ordering = ("owner__username", "name")
    actions = ("pause", "resume", "reconcile", export_as_csv)

    def get_fieldsets(self, request: HttpRequest, obj: Bot | None = None) -> Any:
        main = ("owner", "name", "provider", "mode", "is_paused", "is_active", "initial_balance")
        fieldsets = [
            (None, {"fields": main}),
            ("Real-money limits", {"fields": ("max_order_notional", "max_exposure")}),
            ("Prompt and options", {"fields": ("prompt", "symbols", "sandbox_enabled", "avatar",
                                               "legacy_id")}),
        ]
        if obj is None:
            fieldsets.insert(1, ("A real-money bot", {"fields": ("wallet", "password")}))
        if obj is not None:
            fieldsets.insert(1, ("Money and records", {"fields": ("balance", "records")}))
            fieldsets.append(("Dates", {"fields": ("created_at", "updated_at", "stats_reset_at")}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Bot | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        # Owner, mode and initial balance are fixed at creation: the funded
        # account and the REAL_TRADING_ENABLED check in bot_create rest on them.
        return _FIXED

    def get_form(self, request: HttpRequest, obj: Bot | None = None, change: bool = False,
                 **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.acting_user = request.user  # a new real bot is confirmed with the admin's own password
        field = form.base_fields.get("provider")
        if field is not None:
            field.queryset = self._provider_choices(obj)
            field.label_from_instance = _provider_label
        return form

    def _provider_choices(self, obj: Bot | None) -> QuerySet:
        # Active providers only; an existing bot keeps its own provider listed
        # even if it was deactivated, and may only move to its owner's others.
        providers = LLMProvider.objects.select_related("owner").order_by("owner__username", "name")
        if obj is None:
            return providers.filter(is_active=True)
        return providers.filter(owner=obj.owner_id).filter(Q(is_active=True) | Q(pk=obj.provider_id))

    def save_model(self, request: HttpRequest, obj: Bot, form: Any, change: bool) -> None:
        if change:
            # ``obj`` carries the form's values already; the service saves what changed.
            changed = {name: getattr(obj, name) for name in form.changed_data if name in _EDITABLE}
            bot_update(bot=obj, **changed)
            return
        created = self._create(obj, form.cleaned_data, request)
        # The admin goes on to log and redirect with ``obj``: make it the saved row.
        obj.pk = created.pk
        obj.initial_balance = created.initial_balance
        obj._state.adding = False
        obj._state.db = created._state.db

    def _create(self, obj: Bot, data: dict[str, Any], request: HttpRequest) -> Bot:
        options: dict[str, Any] = {
            "symbols": obj.symbols,
            "sandbox_enabled": obj.sandbox_enabled,
            "is_paused": obj.is_paused,
            "is_active": obj.is_active,
            "legacy_id": obj.legacy_id,
            "max_order_notional": obj.max_order_notional,
            "max_exposure": obj.max_exposure,
        }
        if data.get("avatar"):
            options["avatar"] = data["avatar"]
        if obj.mode == Bot.Mode.REAL:
            return bot_create_real(owner=obj.owner, password=data.get("password", ""), wallet=data["wallet"],
                                   name=obj.name, prompt=obj.prompt, provider=obj.provider,
                                   confirmed_by=request.user, **options)
        if data.get("initial_balance") is not None:
            options["initial_balance"] = data["initial_balance"]
        return bot_create(
            owner=obj.owner, name=obj.name, prompt=obj.prompt, provider=obj.provider,
            mode=obj.mode, **options,
        )

    def has_delete_permission(self, request: HttpRequest, obj: Bot | None = None) -> bool:
        # A bot's history is protected by its records; is_active=False retires it.
        return False

    @admin.display(description="balance", ordering="account__balance")
    def balance(self, obj: Bot) -> Decimal | None:
        try:
            return obj.account.balance
        except ObjectDoesNotExist:
            return None

    @admin.display(description="records")
    def records(self, obj: Bot) -> SafeString:
        try:
            account = change_link(obj.account, "account")
            journal = changelist_link("ledger.entry", "journal", account__id__exact=obj.account.pk)
        except ObjectDoesNotExist:
            account = journal = format_html("{}", "no account")
        return format_html(
            "{} · {} · {} · {} · {} · {}",
            account,
            journal,
            changelist_link("trading.trade", "trades", bot__id__exact=obj.pk),
            changelist_link("trading.position", "positions", bot__id__exact=obj.pk),
            changelist_link("bots.decision", "decisions", bot__id__exact=obj.pk),
            changelist_link("ledger.snapshot", "snapshots", bot__id__exact=obj.pk),
        )

    @admin.action(description="Pause selected bots", permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_paused(request, queryset, paused=True)

    @admin.action(description="Resume selected bots", permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_paused(request, queryset, paused=False)

    def _set_paused(self, request: HttpRequest, queryset: QuerySet, *, paused: bool) -> None:
        service = bot_pause if paused else bot_resume
        count = 0
        for bot in queryset.order_by("pk"):
            service(bot=bot)
            count += 1
        verb = "Paused" if paused else "Resumed"
        self.message_user(request, f"{verb} {count} bot(s).", messages.SUCCESS)

    @admin.action(description="Reconcile with the exchange now (real bots)", permissions=["change"])
    def reconcile(self, request: HttpRequest, queryset: QuerySet) -> None:
        skipped = queryset.exclude(mode=Bot.Mode.REAL).count()
        if skipped:
            self.message_user(request, f"Skipped {skipped} paper bot(s): only real bots are reconciled.",
                              messages.WARNING)
        for bot in queryset.filter(mode=Bot.Mode.REAL).order_by("pk"):
            try:
                run = reconcile_bot(bot=bot, trigger=Reconciliation.Trigger.ADMIN)
            except RealTradingError as exc:
                self.message_user(request, f"{bot.name}: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if run.status == Reconciliation.Status.AGREED else messages.WARNING
            self.message_user(request, format_html("{}: {} {}", bot.name, run.get_status_display(),
                                                   change_link(run, "(the run)")), level)


@admin.register(Decision)
class DecisionAdmin(AuditAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "created_at", _bot, _owner, "turn_link", "success", "action_count", "model",
        "tokens_in", "tokens_out", "latency_ms", "cost",
    )
    list_select_related = ("bot", "bot__owner")
    # No filter on model: its distinct values would cost a scan of the whole table.
    list_filter = ("success", "bot", "bot__owner", "created_at")
    audit_search = AuditSearch(
        ids=("id", "turn_id"), exact=("legacy_id",), names=("bot__name", "bot__owner__username"),
        help="A decision's or its turn's id (digits); a bot's name or its owner's username, or part of "
             "one; or a legacy id, exactly.")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    changelist_defer = ("prompt", "raw_response", "tool_calls")
    readonly_fields = ("bot_link", "turn_link", "trade_links", "position_links")
    fieldsets = (
        (None, {"fields": ("bot_link", "turn_link", "created_at", "success", "error", "model",
                           "tokens_in", "tokens_out", "latency_ms", "cost", "legacy_id")}),
        ("Related records", {"fields": ("trade_links", "position_links")}),
        ("What the model was asked and answered", {"fields": (
            "actions", "notes", "prompt", "raw_response", "tool_calls",
        )}),
    )

    @admin.display(description="bot")
    def bot_link(self, obj: Decision) -> SafeString | None:
        return change_link(obj.bot)

    @admin.display(description="turn", ordering="turn")
    def turn_link(self, obj: Decision) -> SafeString | None:
        return change_link_by_id("arena.turn", obj.turn_id)

    @admin.display(description="actions")
    def action_count(self, obj: Decision) -> int:
        return len(obj.actions) if isinstance(obj.actions, list) else 0

    @admin.display(description="trades")
    def trade_links(self, obj: Decision) -> SafeString:
        return format_html(
            "{}<br>{}",
            object_links(obj.trades.order_by("executed_at", "id")) or "none",
            changelist_link("trading.trade", "as a list", decision__id__exact=obj.pk),
        )

    @admin.display(description="opened positions")
    def position_links(self, obj: Decision) -> SafeString:
        return format_html(
            "{}<br>{}",
            object_links(obj.opened_positions.order_by("opened_at", "id")) or "none",
            changelist_link("trading.position", "as a list", opening_decision__id__exact=obj.pk),
        )


@admin.register(LearningSummary)
class LearningSummaryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id", "created_at", _bot, _owner, "decisions_count", "covers_from", "covers_to", "is_cleared",
        "model", "token_count", "tokens_in", "tokens_out", "cost",
    )
    list_select_related = ("bot", "bot__owner")
    list_filter = (("cleared_at", admin.EmptyFieldListFilter), "bot", "bot__owner", "created_at")
    search_fields = ("bot__name", "model", "summary")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    changelist_defer = ("summary",)
    readonly_fields = ("bot_link", "previous_link", "first_decision_link", "last_decision_link",
                       "decision_links")
    fieldsets = (
        (None, {"fields": ("bot_link", "created_at", "cleared_at", "previous_link", "model", "token_count",
                           "tokens_in", "tokens_out", "latency_ms", "cost")}),
        ("Decisions covered", {"fields": (
            "decisions_count", "covers_from", "covers_to", "first_decision_link", "last_decision_link",
            "decision_links",
        )}),
        ("Summary", {"fields": ("summary",)}),
    )

    @admin.display(description="cleared", boolean=True, ordering="cleared_at")
    def is_cleared(self, obj: LearningSummary) -> bool:
        return obj.cleared_at is not None

    @admin.display(description="bot")
    def bot_link(self, obj: LearningSummary) -> SafeString | None:
        return change_link(obj.bot)

    @admin.display(description="folds in summary")
    def previous_link(self, obj: LearningSummary) -> SafeString | None:
        return change_link_by_id("bots.learningsummary", obj.previous_id)

    @admin.display(description="first decision")
    def first_decision_link(self, obj: LearningSummary) -> SafeString | None:
        return change_link_by_id("bots.decision", obj.first_decision_id)

    @admin.display(description="last decision")
    def last_decision_link(self, obj: LearningSummary) -> SafeString | None:
        return change_link_by_id("bots.decision", obj.last_decision_id)

    @admin.display(description="decisions")
    def decision_links(self, obj: LearningSummary) -> SafeString:
        return changelist_link(
            "bots.decision", "the bot's decisions in the span", bot__id__exact=obj.bot_id,
            created_at__gte=obj.covers_from.isoformat(), created_at__lte=obj.covers_to.isoformat(),
        )


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every prompt a bot has had; each decision names the version it saw."""

    list_display = ("id", _bot, "number", "created_at", "created_by")
    list_select_related = ("bot", "created_by")
    list_filter = ("bot",)
    search_fields = ("=bot__id", "bot__name")
    search_help_text = "A bot's id exactly, or its name."
    ordering = ("-id",)
