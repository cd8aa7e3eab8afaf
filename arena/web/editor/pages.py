"""The bot list, the bot form (new and edit), clone and delete."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from arena.api.base import is_admin
from arena.models import ArenaSettings
from arena.web.base import login_required, owned_bot, page
from arena.web.editor import forms
from arena.web.editor.avatars import avatar_initials, avatar_tone
from arena.web.editor.preview import placeholder_values, preview_context
from arena.web.editor.templates import STRATEGY_TEMPLATES, placeholder_rows, strategy_prompt
from bots import prompts
from bots import services as bot_services
from bots.avatars import MAX_AVATAR_BYTES
from bots.models import Bot
from bots.selectors import bots_listed, bots_of, providers_of
from bots.tools import TOOLS
from ledger.models import Snapshot
from trading.models import Wallet
from trading.selectors import symbols_tradable


def _with_avatar(bot: Bot) -> Bot:
    """``bot`` with what its generated avatar shows (templates/web/editor/_avatar.html)."""
    bot.avatar_initials, bot.avatar_tone = avatar_initials(bot.name), avatar_tone(bot.pk)
    return bot


def _latest_total_value() -> Subquery:
    """The bot's total value at its latest snapshot (what the leaderboard shows)."""
    return Subquery(Snapshot.objects.filter(bot_id=OuterRef("pk")).order_by("-taken_at", "-id")
                    .values("total_value")[:1])


@login_required
def bot_list(request: HttpRequest) -> HttpResponse:
    admin = is_admin(request.user)
    see_all = admin and request.GET.get("all") == "1"
    inactive = request.GET.get("inactive") == "1"
    rows = bots_of(user_id=request.user.pk, see_all=see_all).annotate(total_value=_latest_total_value())
    rows = rows.filter(is_active=not inactive).order_by("name", "id")
    return page(request, "web/editor/list.html", {
        "bots": [_with_avatar(bot) for bot in rows], "see_all": see_all, "inactive": inactive,
        "is_admin": admin,
        "defaults": ArenaSettings.load().default_symbols,
    })


def _tool_docs() -> list[dict[str, Any]]:
    return [{"name": tool.name, "description": tool.description,
             "params": [{"name": p.name, "description": p.description, "default": p.default}
                        for p in tool.params]}
            for tool in TOOLS.values()]


def _providers(request: HttpRequest, bot: Bot | None = None):
    """The user's active providers (and the bot's own, even if it was switched off since)."""
    keep = Q(is_active=True) | Q(pk=bot.provider_id) if bot else Q(is_active=True)
    return providers_of(user_id=request.user.pk).filter(keep).order_by("name")


def _symbol_choices() -> list[dict[str, Any]]:
    defaults = ArenaSettings.load().default_symbols
    return [{"symbol": s, "default": s in defaults} for s in sorted(symbols_tradable())]


def _form_page(request: HttpRequest, values: dict[str, Any], *, bot: Bot | None,
               errors: dict[str, list[str]] | None = None, status: int = 200) -> HttpResponse:
    """The form with ``values`` (what was typed, or the saved bot) and the errors per field."""
    errors = errors or {}
    ctx = preview_context(now=timezone.now(), name=values["name"], symbols=values["symbols"],
                          sandbox=values["sandbox_enabled"], mode=bot.mode if bot else values["mode"],
                          bot=bot)
    if bot is not None:
        _with_avatar(bot)
    wallets = Wallet.objects.filter(owner=request.user, bot__isnull=True, is_active=True)
    return page(request, "web/editor/form.html", {
        "bot": bot, "values": values, "errors": errors, "form_errors": errors.get(forms.FORM_ERRORS),
        "providers": _providers(request, bot), "wallets": wallets.order_by("label", "id"),
        "symbol_choices": _symbol_choices(), "strategies": STRATEGY_TEMPLATES.values(),
        "rendered": prompts.render(values["prompt"], ctx),
        "placeholders": placeholder_rows(placeholder_values(ctx)), "tools": _tool_docs(),
        "max_avatar_kib": MAX_AVATAR_BYTES // 1024, "moderated": bool(bot and bot.unlisted_reason),
        "bot_wallet": getattr(bot, "wallet", None) if bot else None,
    }, status=status)


def _posted_values(request: HttpRequest) -> dict[str, Any]:
    values = forms.form_values(request.POST, request.POST.getlist("symbols"))
    strategy = request.POST.get("strategy", "")
    if "apply_strategy" in request.POST and strategy in STRATEGY_TEMPLATES:
        values["prompt"] = strategy_prompt(strategy)
    return values


@login_required
@require_http_methods(["GET", "POST"])
def bot_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        first = _providers(request).first()  # the form starts with the user's first provider
        values = forms.form_values({"mode": Bot.Mode.PAPER, "is_listed": "on",
                                    "provider": str(first.pk) if first else ""}, [])
        return _form_page(request, values, bot=None)
    values = _posted_values(request)
    if "apply_strategy" in request.POST:  # the template button without JavaScript: fill, do not save
        return _form_page(request, values, bot=None)
    data = forms.serializer_data(values, request.FILES.get("avatar"), creating=True,
                                 password=request.POST.get("password", ""))
    bot, errors = forms.bot_create_from(request, data)
    if errors:
        return _form_page(request, values, bot=None, errors=errors, status=400)
    messages.success(request, f"{bot.name} was created.")
    return redirect("web:bot-edit", bot_id=bot.pk)


@login_required
@require_http_methods(["GET", "POST"])
def bot_edit(request: HttpRequest, bot_id: int) -> HttpResponse:
    bot = _own_bot(request, bot_id)
    if request.method == "GET":
        return _form_page(request, forms.bot_values(bot), bot=bot)
    values = _posted_values(request)
    if "apply_strategy" in request.POST:
        return _form_page(request, values, bot=bot)
    data = forms.serializer_data(values, request.FILES.get("avatar"), creating=False,
                                 moderated=bool(bot.unlisted_reason))
    errors = forms.bot_update_from(request, bot, data)
    if errors:
        return _form_page(request, values, bot=bot, errors=errors, status=400)
    messages.success(request, "Your changes were saved.")
    return redirect("web:bot-edit", bot_id=bot.pk)


def _own_bot(request: HttpRequest, bot_id: int) -> Bot:
    """The user's own live bot (an admin manages bots on /manage/, and edits only their own)."""
    bot = owned_bot(request, bot_id)
    if bot.owner_id != request.user.pk or not bot.is_active:
        raise Http404("No such bot.")
    return bot


@login_required
@require_http_methods(["GET", "POST"])
def bot_delete(request: HttpRequest, bot_id: int) -> HttpResponse:
    bot = _own_bot(request, bot_id)
    if request.method == "POST":
        bot_services.bot_update(bot=bot, is_active=False, is_paused=True)
        messages.success(request, f"{bot.name} was deleted: it trades no more, and its history stays.")
        return redirect("web:bots")
    return page(request, "web/editor/delete.html", {"bot": bot})


def _cloneable(request: HttpRequest, bot_id: int) -> Bot:
    """A bot the user may clone: any listed bot, or one of their own."""
    found = (bots_listed() | bots_of(user_id=request.user.pk)).distinct().filter(pk=bot_id).first()
    if found is None:
        raise Http404("No such bot.")
    return found


@login_required
@require_http_methods(["GET", "POST"])
def bot_clone(request: HttpRequest, bot_id: int) -> HttpResponse:
    source = _cloneable(request, bot_id)
    mine = source.owner_id == request.user.pk
    values = {"name": request.POST.get("name", f"{source.name} (copy)"[:100]),
              "provider": request.POST.get("provider", str(source.provider_id) if mine else "")}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        data = {"clone_from": source.pk, "name": values["name"]}
        if values["provider"]:
            data["provider"] = values["provider"]
        bot, errors = forms.bot_clone_from(request, data)
        if not errors:
            messages.success(request, f"{bot.name} was created from {source.name}.")
            return redirect("web:bot-edit", bot_id=bot.pk)
    return page(request, "web/editor/clone.html", {
        "source": source, "mine": mine, "values": values, "errors": errors,
        "form_errors": errors.get(forms.FORM_ERRORS), "copies_prompt": mine or source.reasoning_public,
        "providers": _providers(request),
    }, status=400 if errors else 200)
