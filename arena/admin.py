"""Admin for the arena as a whole: users, the one settings row, and turns."""
from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.safestring import SafeString

from arena.models import ApiToken, ArenaSettings, BotTurn, Turn, User
from arena.services import arena_settings_save
from ledger.admin_tools import ReadOnlyAdminMixin, changelist_link


@admin.register(User)
class ArenaUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Arena", {"fields": ("role", "display_name", "legacy_id")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Arena", {"fields": ("role",)}))
    list_display = (*UserAdmin.list_display, "role")
    list_filter = (*UserAdmin.list_filter, "role")
    search_fields = (*UserAdmin.search_fields, "legacy_id")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed (never shown: only digests are stored) and revoked by deleting."""

    list_display = ("token_key", "name", "user", "created", "expiry")
    list_select_related = ("user",)
    search_fields = ("token_key", "name", "user__username")
    fields = ("token_key", "name", "user", "created", "expiry")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a token is made by its user (POST /api/auth/tokens/) and shown to them once

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ArenaSettings)
class ArenaSettingsAdmin(admin.ModelAdmin):
    """The singleton: its list is the one row, which can be changed but never
    added a second time or deleted."""

    readonly_fields = ("updated_at",)

    def save_model(self, request: HttpRequest, obj: ArenaSettings, form: Any, change: bool) -> None:
        arena_settings_save(arena=obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not ArenaSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponseRedirect:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = ArenaSettings.load()
        return HttpResponseRedirect(reverse("admin:arena_arenasettings_change", args=[row.pk]))


@admin.register(Turn)
class TurnAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "started_at", "finished_at", "status", "forced", "error")
    list_filter = ("status", "forced", "started_at")
    search_fields = ("error",)
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    changelist_defer = ("market_snapshot",)
    readonly_fields = ("decisions", "bots")
    fields = (
        "started_at", "finished_at", "heartbeat_at", "status", "slot", "forced", "error", "bots", "decisions",
        "market_snapshot",
    )

    @admin.display(description="bots")
    def bots(self, obj: Turn) -> SafeString:
        count = obj.bot_turns.count()
        return changelist_link("arena.botturn", f"{count} bot(s): ran, failed or skipped, and why",
                               turn__id__exact=obj.pk)

    @admin.display(description="decisions")
    def decisions(self, obj: Turn) -> SafeString:
        count = obj.decisions.count()
        return changelist_link("bots.decision", f"{count} decision(s)", turn__id__exact=obj.pk)


@admin.register(BotTurn)
class BotTurnAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each bot's part in each turn: why a bot did or did not trade."""

    list_display = ("id", "turn", "bot", "status", "started_at", "finished_at", "decision", "reason")
    list_filter = ("status",)
    list_select_related = ("turn", "bot", "decision")
    search_fields = ("=bot__id", "=turn__id")
    ordering = ("-started_at", "-id")
    raw_id_fields = ("turn", "bot", "decision")
