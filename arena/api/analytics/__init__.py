"""/api/analytics/: analytics of the caller's bots (admins: every bot). The views of one bot
(``bots``) and across bots (``views``), their query parameters (``queries``) and answers
(``serializers``); the reads themselves live in ``arena.analytics``."""
from __future__ import annotations

from arena.api.analytics.bots import BotPerformanceView, BotRiskView, BotRunsView, BotTradesView
from arena.api.analytics.views import (
    AggregateBestWorstView,
    AggregateBySymbolView,
    AggregateSummaryView,
    ComparisonView,
    LlmUsageView,
    PerformanceView,
)

__all__ = [
    "AggregateBestWorstView",
    "AggregateBySymbolView",
    "AggregateSummaryView",
    "BotPerformanceView",
    "BotRiskView",
    "BotRunsView",
    "BotTradesView",
    "ComparisonView",
    "LlmUsageView",
    "PerformanceView",
]
