"""What every page view shares: who may see what, and how a page or its fragment answers."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from arena.api.base import is_admin
from arena.models import ArenaSettings
from bots.models import Bot
from bots.selectors import bots_of
from ledger.models import Event

__all__ = ["StreamSeqMiddleware", "login_required", "owned_bot", "page", "stream_seq", "spectators_welcome"]

PAGELESS = ("/api/", "/admin/", "/static/", "/media/", "/ws/")


def stream_seq() -> int:
    """The newest event's number: a page rendered now shows the state up to it, and its
    socket resumes after it (``/ws/arena/?since=N``), so nothing falls between the two."""
    return Event.objects.aggregate(last=Max("seq"))["last"] or 0


class StreamSeqMiddleware:
    """Reads ``stream_seq`` before a page's view runs (``request.stream_seq``): the page then
    shows at least the state up to it, and its socket replays everything after it. Read after
    the page's data instead, an event committed in between would be neither shown nor replayed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET" and not request.path.startswith(PAGELESS):
            request.stream_seq = stream_seq()
        return self.get_response(request)


def spectators_welcome() -> bool:
    """Whether anonymous visitors may watch (``ArenaSettings.public_arena``)."""
    return ArenaSettings.load().public_arena


def owned_bot(request: HttpRequest, bot_id: int) -> Bot:
    """The signed-in user's bot (an admin's: any bot); another user's bot is a 404."""
    try:
        return bots_of(user_id=request.user.pk, see_all=is_admin(request.user)).get(pk=bot_id)
    except Bot.DoesNotExist:
        raise Http404("No such bot.") from None


def page(request: HttpRequest, template: str, context: dict[str, Any] | None = None, *,
         fragment: str | None = None, status: int = 200) -> HttpResponse:
    """Render ``template``, or only ``fragment`` when htmx asks for it (``request.htmx``).

    A whole page carries ``stream_seq`` (read by ``StreamSeqMiddleware`` before the view ran)
    for its socket to resume from.
    """
    context = dict(context or {})
    if fragment is not None and getattr(request, "htmx", False):
        return render(request, fragment, context, status=status)
    context.setdefault("stream_seq", getattr(request, "stream_seq", None) or stream_seq())
    return render(request, template, context, status=status)
