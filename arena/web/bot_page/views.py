"""The bot page and its live fragments: header, open positions, orders, the AI log.

Each fragment has its own URL and re-fetches itself on the stream's events (htmx); a
plain GET of a fragment's URL (no htmx) goes to the whole page at the same place, so every
pager link also works without JavaScript. Closing a position calls what the API's
``close_position`` action calls, with the same refusals.
"""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from arena.web.base import login_required, owned_bot, page
from arena.web.bot_page.data import (
    Viewer,
    decisions_page,
    figures_of,
    learning_of,
    open_positions_of,
    orders_page,
    problems_of,
    symbols_of,
    viewer_of,
)
from arena.web.bot_page.present import (
    actions_summary,
    cursor_of,
    figure_cells,
    position_texts,
    reasoning_of,
    tool_call_texts,
    trade_texts,
)
from arena.web.real.reads import kill_state
from arena.web.real.recon import section_context
from bots.models import Bot, Decision
from trading.models import CloseReason
from trading.selectors import positions_of
from trading.services import position_close
from trading.services.positions import PositionError

TEMPLATES = "web/bot_page/"


def _header(viewer: Viewer) -> dict[str, Any]:
    figures = figures_of(viewer.bot)
    return {"figures": figures, "figure_cells": figure_cells(figures),
            "problems": problems_of(viewer.bot, owner=viewer.owner)}


def _positions(viewer: Viewer, message: tuple[str, str] | None = None) -> dict[str, Any]:
    positions = list(open_positions_of(viewer.bot))
    for position in positions:
        position.text = position_texts(position)
    return {"positions": positions, "message": message}


def _orders(viewer: Viewer, before: int | None) -> dict[str, Any]:
    orders = orders_page(viewer.bot, before=before)
    for trade in orders.rows:
        trade.text = trade_texts(trade)
    return {"orders": orders}


def decision_item(decision: Decision, *, published: bool, owner: bool) -> dict[str, Any]:
    """A decision as the AI log shows it to this visitor: the reasoning only when published,
    the prompt sent only to the owner (as the public API leaves it out)."""
    return {
        "decision": decision,
        "summary": actions_summary(decision.actions),
        "reasoning": reasoning_of(decision.actions) if published else [],
        "prompt": decision.prompt if owner else None,
        "tool_calls": tool_call_texts(decision.tool_calls),
    }


def _ai_log(viewer: Viewer, before: int | None) -> dict[str, Any]:
    if not viewer.published:
        return {"decisions": None}
    found = decisions_page(viewer.bot, before=before)
    items = [decision_item(d, published=True, owner=viewer.owner) for d in found.rows]
    return {"decisions": found, "items": items}


def _base(viewer: Viewer) -> dict[str, Any]:
    bot = viewer.bot
    here = reverse("web:bot", args=[bot.pk])
    return {"bot": bot, "viewer": viewer, "owner": viewer.owner, "published": viewer.published, "here": here}


def _real(viewer: Viewer, *, signed_in: bool) -> dict[str, Any]:
    """The kill switch's banner (for anyone signed in, and on every real bot's page) and, for
    a real bot's owner or an admin only, its reconciliation section."""
    real = viewer.bot.mode == Bot.Mode.REAL
    context: dict[str, Any] = {"kill": kill_state() if signed_in or real else None}
    if real and viewer.owner:
        context.update(section_context(viewer.bot))
    return context


@require_GET
def bot_page(request: HttpRequest, bot_id: int) -> HttpResponse:
    """The whole page: ``?orders_before=`` and ``?log_before=`` open older pages in place."""
    viewer = viewer_of(request, bot_id)
    if isinstance(viewer, HttpResponse):
        return viewer
    symbols = symbols_of(viewer.bot)
    context = {
        **_base(viewer), **_header(viewer), **_positions(viewer),
        **_orders(viewer, cursor_of(request.GET.get("orders_before"))),
        **_ai_log(viewer, cursor_of(request.GET.get("log_before"))),
        "symbols": symbols, "symbol": symbols[0] if symbols else None,
        "learning": learning_of(viewer.bot) if viewer.published else None,
        **_real(viewer, signed_in=request.user.is_authenticated),
    }
    return page(request, TEMPLATES + "page.html", context)


def _fragment(request: HttpRequest, bot_id: int, template: str, build, anchor: str,
              page_param: str | None = None) -> HttpResponse:
    viewer = viewer_of(request, bot_id)
    if isinstance(viewer, HttpResponse):
        return viewer
    before = cursor_of(request.GET.get("before"))
    if not getattr(request, "htmx", False):
        url = reverse("web:bot", args=[bot_id])
        query = f"?{page_param}={before}" if page_param and before else ""
        return redirect(f"{url}{query}#{anchor}")
    context = {**_base(viewer), **(build(viewer, before) if page_param else build(viewer))}
    return render(request, TEMPLATES + template, context)


@require_GET
def header_fragment(request: HttpRequest, bot_id: int) -> HttpResponse:
    return _fragment(request, bot_id, "_header.html", _header, "bot-header")


@require_GET
def positions_fragment(request: HttpRequest, bot_id: int) -> HttpResponse:
    return _fragment(request, bot_id, "_positions.html", _positions, "positions-card")


@require_GET
def orders_fragment(request: HttpRequest, bot_id: int) -> HttpResponse:
    return _fragment(request, bot_id, "_orders.html", _orders, "orders", "orders_before")


@require_GET
def ai_log_fragment(request: HttpRequest, bot_id: int) -> HttpResponse:
    return _fragment(request, bot_id, "_ai_log.html", _ai_log, "ai-log", "log_before")


def close_outcome(*, bot_id: int, position_id: int) -> tuple[str, str]:
    """Close one of the bot's open positions at the market, as the API's close_position
    does; the answer is (alert class, message), a refusal included. No such position of
    this bot raises ``LookupError``."""
    position = positions_of(bot_id=bot_id).filter(pk=position_id).first()
    if position is None:
        raise LookupError(position_id)
    label = f"{position.side} {position.symbol}"
    if position.status != position.Status.OPEN:
        return "error", f"{label} is already closed."
    try:
        result = position_close(position=position.pk, reason=CloseReason.MANUAL, now=timezone.now())
    except PositionError as exc:
        return "error", f"{label} was not closed: {exc}"
    if not result.closed:
        return "error", f"{label} was not closed: {'; '.join(result.notes) or 'the close was refused'}."
    closed = positions_of(bot_id=bot_id).get(pk=position.pk)
    return "success", (f"Closed {label} at {closed.exit_price.normalize():f}, "
                       f"realized PnL {closed.realized_pnl:.2f} USDT.")

@login_required
@require_POST
def position_close_view(request: HttpRequest, bot_id: int, position_id: int) -> HttpResponse:
    """POST: close an open position of the user's bot (another user's bot is a 404). htmx
    gets the positions fragment with the outcome; a plain form post a redirect back."""
    bot = owned_bot(request, bot_id)
    try:
        outcome = close_outcome(bot_id=bot.pk, position_id=position_id)
    except LookupError:
        raise Http404("This bot has no such position.") from None
    viewer = Viewer(bot=bot, owner=True)
    if getattr(request, "htmx", False):
        context = {**_base(viewer), **_positions(viewer, outcome)}
        return render(request, TEMPLATES + "_positions.html", context)
    level, text = outcome
    (messages.success if level == "success" else messages.error)(request, text)
    return redirect(reverse("web:bot", args=[bot.pk]) + "#positions-card")
