"""A real bot's reconciliation section on its page: the latest run, "Reconcile now", the open
discrepancies with their resolve forms, and the last runs.

Only the bot's owner (an admin: any bot) sees it or posts to it (``owned_bot``: another
user's bot is a 404, as is a paper bot, which has no exchange to compare with). The posts
call what the API calls: ``reconcile_bot(trigger="api")`` and ``discrepancy_resolve``.
An htmx request gets the section back with the outcome; a plain form post a redirect to
the bot page with the outcome as a message. The section re-fetches itself on the stream's
``reconciliation`` events.
"""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from arena.web.base import login_required, owned_bot, page
from arena.web.real.reads import reconciliation_of
from bots.models import Bot
from trading.models import Discrepancy, Reconciliation
from trading.services.real import RealTradingError
from trading.services.reconcile import discrepancy_resolve, reconcile_bot

TEMPLATE = "web/real/_reconciliation.html"
ANCHOR = "#reconciliation"


def real_bot(request: HttpRequest, bot_id: int) -> Bot:
    """The user's real bot (an admin's: any); anything else is a 404."""
    bot = owned_bot(request, bot_id)
    if bot.mode != Bot.Mode.REAL:
        raise Http404("This bot trades on paper: it has no exchange to reconcile with.")
    return bot


def section_context(bot: Bot, *, alert: tuple[str, str] | None = None, failed: int | None = None,
                    resolution: str = "", resolution_error: str = "") -> dict[str, Any]:
    """The section's context; ``failed`` names the discrepancy whose resolve form came back
    with ``resolution_error`` (its text kept in the field)."""
    return {"bot": bot, "recon": reconciliation_of(bot.pk, now=timezone.now()), "recon_alert": alert,
            "failed_discrepancy": failed, "failed_resolution": resolution,
            "resolution_error": resolution_error}


def _answer(request: HttpRequest, bot: Bot, context: dict[str, Any]) -> HttpResponse:
    if getattr(request, "htmx", False):
        return page(request, TEMPLATE, context)
    alert = context.get("recon_alert")
    if alert:
        (messages.success if alert[0] == "success" else messages.error)(request, alert[1])
    return redirect(reverse("web:bot", args=[bot.pk]) + ANCHOR)


@login_required
@require_GET
def section_view(request: HttpRequest, bot_id: int) -> HttpResponse:
    """The section (htmx); a plain GET goes to the bot page at the section."""
    bot = real_bot(request, bot_id)
    if not getattr(request, "htmx", False):
        return redirect(reverse("web:bot", args=[bot.pk]) + ANCHOR)
    return page(request, TEMPLATE, section_context(bot))


def reconcile_message(row: Reconciliation) -> tuple[str, str]:
    """(alert class, words) for a finished reconciliation."""
    if row.status == Reconciliation.Status.FAILED:
        return "error", f"The reconciliation failed: {row.error or 'no reason given'}"
    if row.status == Reconciliation.Status.DIFFERENCES:
        return "warning", "Reconciled: the exchange and the arena differ; see the open discrepancies."
    if row.status == Reconciliation.Status.AGREED:
        return "success", "Reconciled: the exchange and the arena agree."
    return "info", "The reconciliation is still running."


@login_required
@require_POST
def reconcile_view(request: HttpRequest, bot_id: int) -> HttpResponse:
    """POST: reconcile the bot with its exchange now (the exchange is read before the
    service's transaction; this view holds none)."""
    bot = real_bot(request, bot_id)
    try:
        row = reconcile_bot(bot=bot, trigger=Reconciliation.Trigger.API, now=timezone.now())
    except ValidationError as exc:
        alert = ("error", " ".join(exc.messages) or "The bot was not reconciled.")
    except RealTradingError as exc:
        alert = ("error", f"The bot was not reconciled: {exc}")
    else:
        alert = reconcile_message(row)
    return _answer(request, bot, section_context(bot, alert=alert))


@login_required
@require_POST
def resolve_view(request: HttpRequest, bot_id: int, discrepancy_id: int) -> HttpResponse:
    """POST: mark one open discrepancy of the bot resolved, saying how (``resolution``)."""
    bot = real_bot(request, bot_id)
    discrepancy = Discrepancy.objects.filter(bot_id=bot.pk, pk=discrepancy_id).first()
    if discrepancy is None:
        raise Http404("This bot has no such discrepancy.")
    resolution = request.POST.get("resolution", "")
    try:
        discrepancy_resolve(discrepancy=discrepancy, actor=request.user, resolution=resolution,
                            now=timezone.now())
    except ValidationError as exc:
        error = " ".join(exc.messages) or "The discrepancy was not resolved."
        context = section_context(bot, alert=("error", error), failed=discrepancy.pk, resolution=resolution,
                                  resolution_error=error)
        return _answer(request, bot, context)
    where = f" on {discrepancy.symbol}" if discrepancy.symbol else ""
    done = f"Resolved: {discrepancy.get_kind_display().lower()}{where}."
    return _answer(request, bot, section_context(bot, alert=("success", done)))
