"""/api/analytics/...: across the caller's bots (admins: every bot) — period figures of each,
a comparison on one time axis, summaries of their closed positions, and the models' usage."""
from __future__ import annotations

from datetime import UTC

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from arena.analytics.params import MAX_BOTS
from arena.analytics.performance import bots_figures, comparison
from arena.analytics.series import INTERVALS, interval_choose
from arena.analytics.trades import closed_in, extremes, groups_by, summary
from arena.analytics.usage import usage_of
from arena.api.analytics.base import AnalyticsView, bot_ref, extreme_json, group_json, range_json, usage_json
from arena.api.analytics.queries import ComparisonQuery, PerformanceQuery, RangeQuery
from arena.api.analytics.serializers import (
    AggregateSummarySerializer,
    AggregateSymbolsSerializer,
    BestWorstPositionsSerializer,
    ComparisonSerializer,
    ModelUsageListSerializer,
    PerformanceListSerializer,
)
from arena.api.errors import ERROR
from arena.api.figures import metrics_flat
from ledger.periods import PeriodError, period_resolve
from ledger.rollups import run_of

DEFAULT_PERIOD = "week"


class PerformanceView(AnalyticsView):
    @extend_schema(
        summary="Each of your active bots (or those `bot` names) with its figures over a period",
        description="From the bots' daily rollups of their current runs: bots × days rows are read, whatever "
                    "the number of snapshots and trades.",
        parameters=[PerformanceQuery], responses={200: PerformanceListSerializer, 400: ERROR, 404: ERROR})
    def get(self, request: Request) -> Response:
        query = self.query(PerformanceQuery, request)
        ranged = "from" in query or "to" in query
        if ranged and "period" in query:
            raise serializers.ValidationError({"period": ["Give either period or from/to, not both."]})
        today = self.now().astimezone(UTC).date()
        try:
            if ranged:
                first, last = self.span(query).days_touched()
                period = period_resolve(None, today=today, first=first, last=last)
            else:
                period = period_resolve(query.get("period", DEFAULT_PERIOD), today=today)
        except PeriodError as error:
            raise serializers.ValidationError({"from": [str(error)]}) from error
        bots = self.bots_named(query["bot"]) if "bot" in query else list(self.active().order_by("id"))
        runs = {bot.pk: run_of(bot.stats_reset_at) for bot in bots}
        figures = bots_figures(runs, period)
        body = {"period": period.__dict__,
                "results": [{"bot": bot_ref(bot), "is_active": bot.is_active, "run_start": runs[bot.pk],
                             "figures": figures[bot.pk]} for bot in bots]}
        return Response(PerformanceListSerializer(body).data)


class ComparisonView(AnalyticsView):
    @extend_schema(
        summary=f"Up to {MAX_BOTS} bots' values on one time axis, each with its return over the range",
        description="The same boundaries for every bot (multiples of `interval` from 1970-01-01 UTC); at "
                    "each, the value of the bot's last snapshot at or before it (null before its first). "
                    "Returns are from each bot's first point in the range, net of deposits.",
        parameters=[ComparisonQuery], responses={200: ComparisonSerializer, 400: ERROR, 404: ERROR})
    def get(self, request: Request) -> Response:
        query = self.query(ComparisonQuery, request)
        if "bots" in query:
            bots = self.bots_named(query["bots"])
        else:
            bots = list(self.active().order_by("id")[:MAX_BOTS])
        span = self.span(query)
        interval = interval_choose(span, query.get("interval"))
        boundaries, compared = comparison([bot.pk for bot in bots], span, interval)
        rows = []
        for bot, row in zip(bots, compared, strict=True):
            values, reasons = metrics_flat({"total_return": row.total_return})
            rows.append({"bot": bot_ref(bot), "values": row.values, "returns": row.returns,
                         "first_at": row.first_at, "reasons": reasons, **values})
        body = {**range_json(span), "interval": interval, "interval_seconds": INTERVALS[interval],
                "boundaries": boundaries, "bots": rows}
        return Response(ComparisonSerializer(body).data)


class AggregateSummaryView(AnalyticsView):
    @extend_schema(
        summary="Across your active bots over a range: closed positions, fees, funding and the models' cost",
        description="Trades, wins, losses and pnl are of the positions closed in the range; fees of every "
                    "fill, funding and LLM cost of everything dated in it.",
        parameters=[RangeQuery], responses={200: AggregateSummarySerializer, 400: ERROR})
    def get(self, request: Request) -> Response:
        span = self.span(self.query(RangeQuery, request))
        found = summary(self.active(), span)
        body = {**range_json(span), **group_json(found.totals), "bots": found.bots, "funding": found.funding,
                "funding_paid": found.funding_paid, "funding_received": found.funding_received,
                "llm_cost": found.llm_cost, "decisions": found.decisions}
        return Response(AggregateSummarySerializer(body).data)


class AggregateBestWorstView(AnalyticsView):
    @extend_schema(summary="The 5 best and 5 worst positions closed in a range across your active bots",
                   description="By realized PnL (net of the closing fee), each naming its bot, its opening "
                               "decision and its closing trade.",
                   parameters=[RangeQuery], responses={200: BestWorstPositionsSerializer, 400: ERROR})
    def get(self, request: Request) -> Response:
        span = self.span(self.query(RangeQuery, request))
        best, worst = extremes(closed_in(self.active().values("pk"), span))
        body = {**range_json(span), "best": [extreme_json(r) for r in best],
                "worst": [extreme_json(r) for r in worst]}
        return Response(BestWorstPositionsSerializer(body).data)


class AggregateBySymbolView(AnalyticsView):
    @extend_schema(summary="Positions closed in a range across your active bots, by symbol",
                   description="Each symbol's trades, wins, losses, win rate, pnl (realized, net of the "
                               "closing fee) and fees (of the positions' fills), best pnl first.",
                   parameters=[RangeQuery], responses={200: AggregateSymbolsSerializer, 400: ERROR})
    def get(self, request: Request) -> Response:
        span = self.span(self.query(RangeQuery, request))
        groups = groups_by(closed_in(self.active().values("pk"), span), "symbol")
        return Response(AggregateSymbolsSerializer({**range_json(span),
                                           "results": [group_json(g, "symbol") for g in groups]}).data)


class LlmUsageView(AnalyticsView):
    @extend_schema(
        summary="Your active bots' model calls over a range: per bot and model, and per model",
        description="Decisions made in the range: failures (not successful), tokens, cost, and the mean and "
                    "95th percentile of latency (null with the reason when no call recorded one).",
        parameters=[RangeQuery], responses={200: ModelUsageListSerializer, 400: ERROR})
    def get(self, request: Request) -> Response:
        span = self.span(self.query(RangeQuery, request))
        by_bot, by_model = usage_of(self.active().values("pk"), span)
        body = {**range_json(span), "results": [usage_json(u) for u in by_bot],
                "models": [usage_json(u) for u in by_model]}
        return Response(ModelUsageListSerializer(body).data)
