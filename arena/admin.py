"""Admin for the arena as a whole: users, the one settings row (with the kill switch of
real trading: an intermediate page that asks the admin's password again), and turns."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from arena.models import ApiToken, ArenaSettings, BotTurn, Turn, User
from arena.real import kill_switch_engage, kill_switch_release, kill_switch_state
from arena.services import arena_settings_save
from ledger.admin_audit import AuditAdminMixin, AuditSearch
from ledger.admin_tools import bot_columns, change_link_by_id, changelist_link
from ledger.models import Change


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


def _password_field() -> forms.CharField:
    return forms.CharField(strip=False, label="Your password",
                           widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                           help_text="Typed again: a signed-in session alone cannot use the kill switch.")


class KillSwitchForm(forms.Form):
    password = _password_field()
    close_positions = forms.BooleanField(
        required=False, label="Also close every real position",
        help_text="Each real bot's open positions are closed on its exchange now, at the market.")


class KillSwitchReleaseForm(forms.Form):
    password = _password_field()


@admin.register(ArenaSettings)
class ArenaSettingsAdmin(admin.ModelAdmin):
    """The singleton: its list is the one row, which can be changed but never
    added a second time or deleted. Its page links to the kill switch."""

    readonly_fields = ("kill_switch", "updated_at")

    @admin.display(description="kill switch")
    def kill_switch(self, obj: ArenaSettings) -> SafeString:
        at, by = kill_switch_state()
        if at is None:
            return format_html('Not engaged. <a href="{}">Engage it…</a>', reverse("admin:arena_kill_switch"))
        return format_html('Engaged on {} by {}: no real bot trades. <a href="{}">Release it…</a>',
                           f"{at:%Y-%m-%d %H:%M}", by, reverse("admin:arena_kill_switch_release"))

    def get_urls(self) -> list[Any]:
        site = self.admin_site.admin_view  # staff only, CSRF-protected, never cached
        return [
            path("kill-switch/", site(self.kill_switch_view), name="arena_kill_switch"),
            path("kill-switch/release/", site(self.kill_switch_release_view),
                 name="arena_kill_switch_release"),
            *super().get_urls(),
        ]

    def _switch_page(self, request: HttpRequest, form: forms.Form, **context: Any) -> HttpResponse:
        at, by = kill_switch_state()
        return TemplateResponse(request, "admin/arena/kill_switch.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "engaged_at": at, "engaged_by": by, **context,
        })

    def _switch_done(self, request: HttpRequest, form: forms.Form, act: Any) -> HttpResponse | None:
        """Run ``act`` for a valid post; None (the page again, with the error) otherwise."""
        if request.method != "POST" or not form.is_valid():
            return None
        try:
            act(form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
            return None
        return HttpResponseRedirect(reverse("admin:arena_arenasettings_changelist"))

    def kill_switch_view(self, request: HttpRequest) -> HttpResponse:
        if not getattr(request.user, "is_arena_admin", False):
            raise PermissionDenied
        form = KillSwitchForm(request.POST or None)

        def engage(data: dict[str, Any]) -> None:
            report = kill_switch_engage(actor=request.user, password=data["password"],
                                        close_positions=data["close_positions"],
                                        interface=Change.Interface.ADMIN)
            self.message_user(request, f"Kill switch engaged: {len(report.paused)} real bot(s) paused.",
                              messages.WARNING)
            for bot_id, notes in report.closed.items():
                self.message_user(request, f"Bot {bot_id}: {'; '.join(notes) or 'nothing to close'}.",
                                  messages.INFO)

        return self._switch_done(request, form, engage) or self._switch_page(
            request, form, title="Engage the kill switch", submit_label="Engage the kill switch",
            explanation="Every active real bot is paused and no real bot trades while the switch is engaged. "
                        "Releasing it later leaves the bots paused: their owners resume them.")

    def kill_switch_release_view(self, request: HttpRequest) -> HttpResponse:
        if not getattr(request.user, "is_arena_admin", False):
            raise PermissionDenied
        form = KillSwitchReleaseForm(request.POST or None)

        def release(data: dict[str, Any]) -> None:
            kill_switch_release(actor=request.user, password=data["password"],
                                interface=Change.Interface.ADMIN)
            self.message_user(request, "Kill switch released: the real bots stay paused until their owners "
                                       "resume them.", messages.SUCCESS)

        return self._switch_done(request, form, release) or self._switch_page(
            request, form, title="Release the kill switch", submit_label="Release the kill switch",
            explanation="Real bots may trade again once their owners resume them.")

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
class TurnAdmin(AuditAdminMixin, admin.ModelAdmin):
    list_display = ("id", "started_at", "finished_at", "status", "forced", "error")
    list_filter = ("status", "forced", "started_at")
    audit_search = AuditSearch(help="A turn's id (digits).")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
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


_bot, _owner = bot_columns("bot")


@admin.register(BotTurn)
class BotTurnAdmin(AuditAdminMixin, admin.ModelAdmin):
    """Each bot's part in each turn: why a bot did or did not trade."""

    list_display = ("id", "turn_link", _bot, _owner, "status", "started_at", "finished_at", "decision_link",
                    "reason")
    list_filter = ("status", "bot", "bot__owner", "started_at")
    list_select_related = ("bot", "bot__owner")
    audit_search = AuditSearch(
        ids=("id", "turn_id", "bot_id"), names=("bot__name", "bot__owner__username"),
        help="A bot turn's, its turn's or its bot's id (digits); or a bot's name or its owner's username, "
             "or part of one.")
    date_hierarchy = "started_at"
    ordering = ("-started_at", "-id")
    raw_id_fields = ("turn", "bot", "decision")

    @admin.display(description="turn", ordering="turn")
    def turn_link(self, obj: BotTurn) -> SafeString | None:
        return change_link_by_id("arena.turn", obj.turn_id)

    @admin.display(description="decision", ordering="decision")
    def decision_link(self, obj: BotTurn) -> SafeString | None:
        return change_link_by_id("bots.decision", obj.decision_id)
