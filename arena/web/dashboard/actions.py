"""The bot actions any page posts to (see the package's docstring for the three answers)."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from arena.turns.force import TurnAlreadyQueued, turn_force_queue
from arena.web.base import login_required, owned_bot, page
from arena.web.dashboard.views import card_context, one_card
from bots import services as bot_services
from bots.models import Bot
from bots.summaries import summaries_clear, summary_force

HX_EVENT = "arena-bot-action"  # the HX-Trigger event a ?fragment=none answer carries


class Refused(Exception):
    """The action cannot be done; the message says why, in words for the owner."""


def _pause(bot: Bot) -> str:
    bot_services.bot_pause(bot=bot)
    return f"{bot.name} is paused: no more turns until you resume it (open positions keep their stops)."


def _resume(bot: Bot) -> str:
    bot_services.bot_resume(bot=bot)
    return f"{bot.name} is resumed: it trades from the next turn."


def _force_turn(bot: Bot) -> str:
    if not bot.is_active:
        raise Refused("A deleted bot takes no turns.")
    try:
        row = turn_force_queue(bot=bot)
    except TurnAlreadyQueued as exc:
        raise Refused(str(exc)) from None
    if row.status == row.Status.QUEUED:
        return f"A turn for {bot.name} is queued (turn {row.turn_id}); it runs when a worker takes it."
    return f"{bot.name}'s turn {row.turn_id} is {row.get_status_display().lower()}."


def _summarize(bot: Bot) -> str:
    summary = summary_force(bot=bot)
    return f"A learning summary of {summary.decisions_count} decisions was written for {bot.name}."


def _clear_learning(bot: Bot) -> str:
    cleared = summaries_clear(bot=bot, now=timezone.now())
    return f"{cleared} learning summar{'y' if cleared == 1 else 'ies'} of {bot.name} cleared from its prompt."


def _reset(bot: Bot) -> str:
    bot_services.bot_reset(bot=bot, now=timezone.now())
    return f"{bot.name} starts over with {bot.initial_balance:,.2f} USDT."


@dataclass(frozen=True)
class Action:
    name: str  # the URL's word, the button's data-action and the HX-Trigger's "action"
    run: Callable[[Bot], str]


ACTIONS = {a.name: a for a in [
    Action("pause", _pause), Action("resume", _resume), Action("force-turn", _force_turn),
    Action("summarize", _summarize), Action("clear-learning", _clear_learning), Action("reset", _reset),
]}


def outcome(action: Action, bot: Bot) -> tuple[bool, str]:
    """(done, message): the service's own refusal (a ``ValidationError``, e.g. a real bot's
    reset) comes back as the message, exactly as the API's 400 or 409 says it."""
    try:
        return True, action.run(bot)
    except Refused as exc:
        return False, str(exc)
    except ValidationError as exc:
        return False, " ".join(exc.messages)


def back_to(request: HttpRequest) -> str:
    """Where a plain form post returns: ``next`` or the referrer, if on this site; else the dashboard."""
    for candidate in (request.POST.get("next"), request.GET.get("next"), request.headers.get("referer")):
        if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                         require_https=request.is_secure()):
            return candidate
    return "/"


def _answer(request: HttpRequest, action: Action, bot: Bot, done: bool, message: str) -> HttpResponse:
    if request.GET.get("fragment") == "none" or request.POST.get("fragment") == "none":
        detail = {"bot": bot.pk, "action": action.name, "ok": done, "message": message}
        response = HttpResponse(status=204 if done else 409, content=b"" if done else message.encode())
        response["HX-Trigger"] = json.dumps({HX_EVENT: detail})
        return response
    if getattr(request, "htmx", False):
        try:
            card = one_card(request, bot.pk)
        except Http404:  # an admin acting on a bot that is not on their dashboard
            return HttpResponse(format_html('<div class="alert {}" role="alert">{}</div>',
                                            "success" if done else "error", message))
        return page(request, "web/dashboard/_card.html",
                    card_context(card, alert=("success" if done else "error", message)),
                    fragment="web/dashboard/_card.html")
    (messages.success if done else messages.error)(request, message)
    return HttpResponseRedirect(back_to(request))


def _view(action: Action) -> Callable:
    @login_required
    @require_POST
    def view(request: HttpRequest, bot_id: int) -> HttpResponse:
        bot = owned_bot(request, bot_id)
        done, message = outcome(action, bot)
        bot.refresh_from_db()
        return _answer(request, action, bot, done, message)

    view.__name__ = f"bot_{action.name.replace('-', '_')}"
    view.__doc__ = f"POST /bots/<id>/{action.name}/ (owner only)."
    return view


VIEWS = {name: _view(action) for name, action in ACTIONS.items()}
