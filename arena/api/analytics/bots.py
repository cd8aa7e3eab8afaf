"""/api/analytics/bots/{id}/...: one of the caller's bots — its sampled value series, its
risk figures, its runs and its closed positions."""
from __future__ import annotations

from datetime import datetime

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from arena.analytics.params import run_choose
from arena.analytics.performance import bot_performance
from arena.analytics.runs import Run, risk_periods, run_as_of, runs_figures, runs_list
from arena.analytics.series import INTERVALS, interval_choose
from arena.analytics.trades import HISTOGRAM_EDGES, closed_in, extremes, groups_by, histogram, total_of
from arena.api.analytics.base import AnalyticsView, bot_ref, extreme_json, group_json, range_json
from arena.api.analytics.queries import BotSeriesQuery, RangeQuery, RunQuery
from arena.api.analytics.serializers import (
    BotPerformanceSerializer,
    BotRunsSerializer,
    BotTradesSerializer,
    RiskMetricsSerializer,
)
from arena.api.errors import ERROR
from arena.api.figures import metrics_flat
from bots.models import Bot
from ledger.rollup_models import BotDay
from ledger.rollups import run_of


def _run_start(bot: Bot, text: str | None) -> datetime:
    """The run ``?run=`` names (checked against the bot's runs: one query), or the current."""
    current = run_of(bot.stats_reset_at)
    if not text:
        return current
    known = BotDay.objects.filter(bot_id=bot.pk).values_list("run_start", flat=True).distinct()
    return run_choose(text, runs=list(known), current=current)


class BotPerformanceView(AnalyticsView):
    @extend_schema(
        summary="A bot's value over a range, sampled, with its drawdowns, exposure and period figures",
        description="At each boundary of `interval` (multiples of it from 1970-01-01 UTC) within the range, "
                    "the value of the bot's last snapshot at or before it; boundaries before its first "
                    "snapshot are left out. Drawdowns and returns are net of deposits and measured on those "
                    "points (the series' resolution). `exposure` is the share of the range spent long, "
                    "short, both or flat; `days` the period figures of the range's whole UTC days, from the "
                    "rollups of the run `run`.",
        parameters=[BotSeriesQuery], responses={200: BotPerformanceSerializer, 400: ERROR, 404: ERROR})
    def get(self, request: Request, id: int) -> Response:
        bot = self.bot(id)
        query = self.query(BotSeriesQuery, request)
        span = self.span(query)
        interval = interval_choose(span, query.get("interval"))
        found = bot_performance(bot.pk, span, interval, run_start=_run_start(bot, query.get("run")))
        values, reasons = metrics_flat({"total_return": found.total_return,
                                        "max_drawdown": found.max_drawdown,
                                        "max_drawdown_duration": found.max_drawdown_duration})
        exposure, exposure_reasons = metrics_flat({side: getattr(found.exposure, side)
                                                   for side in ("long", "short", "both", "flat")})
        days = found.days
        body = {
            **range_json(span), "bot": bot_ref(bot), "interval": interval,
            "interval_seconds": INTERVALS[interval],
            "points": [p._asdict() for p in found.points],
            "total_return": values["total_return"], "max_drawdown": values["max_drawdown"],
            "max_drawdown_duration": {"seconds": values["max_drawdown_duration"], "resolution": interval,
                                      "resolution_seconds": INTERVALS[interval]},
            "reasons": reasons,
            "exposure": {**exposure, "positions": found.positions, "reasons": exposure_reasons},
            "days": {"first_day": days.first_day, "last_day": days.last_day, "run_start": days.run_start,
                     "figures": days.figures, "reason": days.reason},
        }
        return Response(BotPerformanceSerializer(body).data)


def _run_json(run: Run, figures) -> dict:
    return {"run_start": run.start, "ended_at": run.ended_at, "current": run.ended_at is None,
            "days": run.days, "first_day": run.first_day, "last_day": run.last_day, "figures": figures}


class BotRiskView(AnalyticsView):
    @extend_schema(
        summary="A bot's figures over its last day, week, month and whole run, from rollups only",
        description="Read from the run's daily rollups alone (no snapshot or trade is read), so the cost "
                    "is the run's days, whatever its history. For an ended run (`run`), the periods end on "
                    "the day it ended.",
        parameters=[RunQuery], responses={200: RiskMetricsSerializer, 400: ERROR, 404: ERROR})
    def get(self, request: Request, id: int) -> Response:
        bot = self.bot(id)
        query = self.query(RunQuery, request)
        runs = runs_list(bot.pk, current=run_of(bot.stats_reset_at))
        start = run_choose(query.get("run"), runs=[r.start for r in runs], current=runs[-1].start)
        run = next(r for r in runs if r.start == start)
        now = self.now()
        periods = {p.period.name: {"name": p.period.name, "first_day": p.period.first_day,
                                   "last_day": p.period.last_day, "figures": p.figures}
                   for p in risk_periods(bot.pk, run, now=now)}
        body = {"bot": bot_ref(bot), "run_start": run.start, "run_ended_at": run.ended_at,
                "as_of": run_as_of(run, now=now), "periods": periods}
        return Response(RiskMetricsSerializer(body).data)


class BotRunsView(AnalyticsView):
    @extend_schema(
        summary="A bot's runs (each reset starts one), oldest first, with the figures of each whole run",
        description="From the rollups only. A run's `run_start` is what `run` takes on the other routes; "
                    "`ended_at` is the next run's start.",
        responses={200: BotRunsSerializer, 404: ERROR})
    def get(self, request: Request, id: int) -> Response:
        bot = self.bot(id)
        runs = runs_list(bot.pk, current=run_of(bot.stats_reset_at))
        figures = runs_figures(bot.pk, runs)
        body = {"bot": bot_ref(bot), "results": [_run_json(run, figures[run.start]) for run in runs]}
        return Response(BotRunsSerializer(body).data)


class BotTradesView(AnalyticsView):
    @extend_schema(
        summary="A bot's positions closed in a range: PnL histogram, best and worst, by symbol, side, hour",
        description="Over the positions closed within the range. pnl is each position's realized PnL (net of "
                    "its closing fee); fees are its fills' (open and close). The histogram's buckets are "
                    "[low, high) between the fixed `edges`. Win rate is null, with the reason, for a group "
                    "without trades.",
        parameters=[RangeQuery], responses={200: BotTradesSerializer, 400: ERROR, 404: ERROR})
    def get(self, request: Request, id: int) -> Response:
        bot = self.bot(id)
        span = self.span(self.query(RangeQuery, request))
        closed = closed_in([bot.pk], span)
        by_side = groups_by(closed, "side")
        best, worst = extremes(closed)
        body = {
            **range_json(span), "bot": bot_ref(bot), "totals": group_json(total_of(by_side)),
            "histogram": {"edges": list(HISTOGRAM_EDGES), "buckets": [b.__dict__ for b in histogram(closed)]},
            "best": [extreme_json(r) for r in best], "worst": [extreme_json(r) for r in worst],
            "by_symbol": [group_json(g, "symbol") for g in groups_by(closed, "symbol")],
            "by_side": [group_json(g, "side") for g in by_side],
            "by_hour": [group_json(g, "hour") for g in groups_by(closed, "hour")],
        }
        return Response(BotTradesSerializer(body).data)
