"""The bot page, ``/bots/<id>/`` (name ``bot``): its owner (an admin: any bot) sees
everything and closes positions; anyone else sees a listed bot's public page (what
``/api/public/bots/<id>/`` shows). Its fragments refresh themselves on the stream's events;
the owner's bot actions post to the dashboard area's URLs (``/bots/<id>/pause/`` …)."""
from __future__ import annotations

from django.urls import path

from arena.web.bot_page import chart, views

urlpatterns = [
    path("bots/<int:bot_id>/", views.bot_page, name="bot"),
    path("bots/<int:bot_id>/header/", views.header_fragment, name="bot-header"),
    path("bots/<int:bot_id>/positions/", views.positions_fragment, name="bot-positions"),
    path("bots/<int:bot_id>/positions/<int:position_id>/close/", views.position_close_view,
         name="bot-position-close"),
    path("bots/<int:bot_id>/orders/", views.orders_fragment, name="bot-orders"),
    path("bots/<int:bot_id>/ai-log/", views.ai_log_fragment, name="bot-ai-log"),
    path("bots/<int:bot_id>/chart.json", chart.chart_json, name="bot-chart"),
]
