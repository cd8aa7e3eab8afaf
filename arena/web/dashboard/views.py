"""The dashboard page and the fragments it refreshes itself with (see the package's docstring)."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from arena.models import ArenaSettings
from arena.web.base import page, spectators_welcome
from arena.web.dashboard import rules
from arena.web.dashboard.reads import (
    Card,
    Viewer,
    cards_for,
    decisions_feed,
    market_view,
    turn_view,
    values_chart,
)
from arena.web.real.kill import panel_context
from arena.web.real.reads import kill_state

CONFIRMED = {"reset": "Reset {name}? Its open positions are closed at the market and its balance goes "
                      "back to {balance} USDT. Its history stays.",
             "clear-learning": "Clear {name}'s learning? Its summaries stay as history, but its prompt no "
                               "longer shows them."}


def watchers(view: Callable) -> Callable:
    """Signed-in users, or spectators while the arena is public; anyone else signs in first."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and not spectators_welcome():
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


def figures_of(card: Card) -> list[tuple[str, str, str]]:
    """The card's figures as (label, text, tone), in the order the card shows them."""
    return [
        ("Total value", rules.money(card.total_value), ""),
        ("Return", rules.pct(card.total_return, signed=True), rules.tone(card.total_return)),
        ("Available cash", rules.money(card.cash), ""),
        ("Unrealized PnL", rules.signed_money(card.unrealized), rules.tone(card.unrealized)),
        ("Realized PnL (net of fees)", rules.signed_money(card.realized), rules.tone(card.realized)),
        ("Win rate", rules.pct(card.win_rate) if card.trades else rules.DASH, ""),
        ("Trades", str(card.trades) if card.trades is not None else rules.DASH, ""),
    ]


def card_context(card: Card, *, confirm: str = "", alert: tuple[str, str] | None = None) -> dict:
    bot = card.bot
    question = CONFIRMED.get(confirm, "").format(name=bot.name, balance=rules.money(bot.initial_balance))
    return {"card": card, "bot": bot, "figures": figures_of(card), "alert": alert,
            "real": bot.mode == bot.Mode.REAL, "confirm": confirm if card.mine and question else "",
            "question": question}


def decision_items(viewer: Viewer) -> list[dict]:
    items = []
    for decision in decisions_feed(viewer):
        what, why = rules.decision_line(decision.actions, success=decision.success, error=decision.error,
                                        show_reasoning=True)
        items.append({"id": decision.pk, "bot_id": decision.bot_id, "bot_name": decision.bot.name,
                      "bot_mode": decision.bot.mode,
                      "what": what, "why": why, "ok": decision.success, "at": decision.created_at})
    return items


def _cards(request: HttpRequest, now) -> list[dict]:
    cards = cards_for(Viewer.of(request), now=now, real_trading_enabled=settings.REAL_TRADING_ENABLED)
    return [card_context(c) for c in cards]


def _turn(request: HttpRequest, arena: ArenaSettings) -> dict:
    return {"turn": turn_view(Viewer.of(request), arena=arena)}


@watchers
def dashboard(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    arena = ArenaSettings.load()
    viewer = Viewer.of(request)
    kill = kill_state()
    return page(request, "web/dashboard/page.html", {
        **(panel_context(kill) if viewer.admin else {"kill": kill}),
        "spectator": viewer.user_id is None, "now": now, "market": market_view(now=now, arena=arena),
        "decisions": decision_items(viewer), **_turn(request, arena), "cards": _cards(request, now),
        "ranges": list(rules.RANGES), "default_range": rules.DEFAULT_RANGE,
    })


@watchers
def decisions_fragment(request: HttpRequest) -> HttpResponse:
    return page(request, "web/dashboard/_decisions.html", {"decisions": decision_items(Viewer.of(request))})


@watchers
def turn_fragment(request: HttpRequest) -> HttpResponse:
    return page(request, "web/dashboard/_turn.html", _turn(request, ArenaSettings.load()))


@watchers
def cards_fragment(request: HttpRequest) -> HttpResponse:
    return page(request, "web/dashboard/_cards.html", {"cards": _cards(request, timezone.now())})


def one_card(request: HttpRequest, bot_id: int) -> Card:
    """The viewer's card of ``bot_id``; a bot not on their dashboard is a 404."""
    found = cards_for(Viewer.of(request), now=timezone.now(),
                      real_trading_enabled=settings.REAL_TRADING_ENABLED, only=bot_id)
    if not found:
        raise Http404("No such bot.")
    return found[0]


@watchers
def card_fragment(request: HttpRequest, bot_id: int) -> HttpResponse:
    """One card; ``?confirm=reset`` (or ``clear-learning``) shows its owner the second step."""
    card = one_card(request, bot_id)
    context = card_context(card, confirm=request.GET.get("confirm", ""))
    return page(request, "web/dashboard/_card.html", context)


@watchers
def values_json(request: HttpRequest) -> JsonResponse:
    """The chart's lines: ``?range=24h|72h|all``; each bot's points are [time, value, return]."""
    name = request.GET.get("range", rules.DEFAULT_RANGE)
    if name not in rules.RANGES:
        return JsonResponse({"error": {"message": f"Unknown range {name!r}; use {', '.join(rules.RANGES)}."}},
                            status=400)
    return JsonResponse(values_chart(Viewer.of(request), range_name=name, now=timezone.now(),
                                     real_trading_enabled=settings.REAL_TRADING_ENABLED))
