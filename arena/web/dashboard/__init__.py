"""The dashboard (``/``), its spectator view, and the bot actions every page posts to.

The page: the market ticker (``#market-ticker``, prices kept live by ``dashboard.js`` from
``market_prices`` ticks, with a "stale since" badge once the newest price is older than
``rules.STALE_INTERVALS`` refresh intervals), the decision ticker (``#decision-ticker``),
the turn state (``#turn-state``), every bot's value on one chart (``values.json``) and the
bot cards (``article[data-bot-card]``), each fragment re-fetching itself on the stream's
events. A spectator (anonymous, while ``spectators_welcome()``) sees the same page with
listed bots only, published reasoning only and no actions; otherwise anonymous visitors
are sent to ``/login/?next=/``.

Bot actions: ``POST /bots/<id>/<action>/`` for ``pause``, ``resume``, ``force-turn``,
``summarize``, ``clear-learning`` and ``reset`` (URL names ``web:bot-<action>``), owner only
(another user's bot is a 404, admins aside, as ``owned_bot``), CSRF-checked, each calling
exactly the service the API's action calls, refusing what it refuses. Three answers:

- an htmx request: the bot's updated dashboard card (``_card.html``) with an ``.alert``
  saying what happened or why it was refused; target it at the card (``hx-target="closest
  article" hx-swap="outerHTML"``);
- ``?fragment=none`` (or a ``fragment=none`` field), for any other page: no body, 204 when
  done or 409 when refused (the message as text), and an ``HX-Trigger`` header
  ``{"arena-bot-action": {"bot", "action", "ok", "message"}}``, so the page can listen with
  ``hx-trigger="arena-bot-action from:body"`` and show the message;
- a plain form post: a redirect to ``next`` (or the referrer) on this site, else ``/``, with
  the message as a Django message.
"""
from __future__ import annotations

from django.urls import path

from arena.web.dashboard import views
from arena.web.dashboard.actions import VIEWS

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/decisions/", views.decisions_fragment, name="dashboard-decisions"),
    path("dashboard/turn/", views.turn_fragment, name="dashboard-turn"),
    path("dashboard/bots/", views.cards_fragment, name="dashboard-cards"),
    path("dashboard/bots/<int:bot_id>/", views.card_fragment, name="dashboard-card"),
    path("dashboard/values.json", views.values_json, name="dashboard-values"),
    *(path(f"bots/<int:bot_id>/{name}/", view, name=f"bot-{name}") for name, view in VIEWS.items()),
]
