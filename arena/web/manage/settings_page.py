"""/manage/settings/: every ArenaSettings field with its help text, range and default,
checked by ``ArenaSettingsSerializer`` and saved by ``services.arena_settings_update`` —
what PATCH /api/settings/ does — so a value the API refuses is refused here, field by field."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods, require_POST

from arena import services
from arena.api.settings import ArenaSettingsSerializer
from arena.models import ArenaSettings
from arena.selectors import arena_settings_specs
from arena.web.accounts.forms import errors_of, flat
from arena.web.base import page
from arena.web.manage.access import admin_required
from arena.web.manage.settings_form import field_rows, posted_values


def _form(request: HttpRequest, *, errors: dict | None = None, status: int = 200) -> HttpResponse:
    arena = ArenaSettings.load()
    posted = request.POST if errors else None
    rows = field_rows(arena_settings_specs(), ArenaSettingsSerializer(arena).data, errors or {}, posted)
    return page(request, "web/manage/settings.html",
                {"rows": rows, "errors": errors or {}, "updated_at": arena.updated_at}, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def settings_view(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form(request)
    data, errors = posted_values(arena_settings_specs(), request.POST)
    form = ArenaSettingsSerializer(ArenaSettings.load(), data=data, partial=True)
    if not form.is_valid():
        errors = {**flat(form.errors), **errors}
    if not errors:
        try:
            services.arena_settings_update(changes=dict(form.validated_data))
        except ValidationError as exc:
            errors = errors_of(exc)
    if errors:
        return _form(request, errors=errors, status=400)
    messages.success(request, "The arena settings are saved; new intervals apply at once.")
    return redirect("web:manage-settings")


@admin_required
@require_POST
def settings_reset_view(request: HttpRequest) -> HttpResponse:
    """Every setting back to its default (``services.arena_settings_reset``)."""
    services.arena_settings_reset()
    messages.success(request, "Every arena setting is back to its default.")
    return redirect("web:manage-settings")
