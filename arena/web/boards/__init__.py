"""The boards: the public leaderboard, a user's analytics across their bots, one bot's deep
dive and a comparison of several on one axis. Each page renders what the REST API computes
(``arena.api.leaderboard``, ``arena.api.analytics``), through the same functions and
serializers; ``cells`` only formats it."""
from __future__ import annotations

from django.urls import path

from arena.web.boards.analytics import analytics, compare
from arena.web.boards.deep_dive import bot_analytics
from arena.web.boards.leaderboard import leaderboard

urlpatterns = [
    path("leaderboard/", leaderboard, name="leaderboard"),
    path("analytics/", analytics, name="analytics"),
    path("analytics/compare/", compare, name="analytics-compare"),
    path("analytics/bots/<int:bot_id>/", bot_analytics, name="analytics-bot"),
]
