"""How bots performed over a range: sampled value series with their drawdowns and
exposure (one bot), the same axis for several bots (a comparison), and period figures
from the rollups.

Every reader takes the range as a value (``Range``, the caller's ``now``); the query count
of each is fixed, whatever the number of snapshots, positions or days behind it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from django.db.models import Q

from arena.analytics.params import Range
from arena.analytics.runs import figures_of_days
from arena.analytics.series import INTERVALS, Sample, boundaries_of, flows_of, points_of, samples_of
from ledger import metrics
from ledger.metrics import Exposure, Metric, PositionSpan
from ledger.periods import Period, PeriodFigures, period_figures, period_inputs
from trading.models import Position

NO_WHOLE_DAY = "the range holds no whole UTC day"


class SeriesPoint(NamedTuple):  # a named tuple: thousands per comparison
    at: datetime  # the boundary
    taken_at: datetime  # the snapshot sampled
    value: object  # Decimal
    drawdown: float  # below the series' running peak, as a fraction
    cumulative_return: float  # since the series' first point, net of deposits


@dataclass(frozen=True)
class DayFigures:
    first_day: date | None
    last_day: date | None
    run_start: datetime
    figures: PeriodFigures | None
    reason: str | None


@dataclass(frozen=True)
class BotPerformance:
    span: Range
    interval: str
    points: list[SeriesPoint]
    max_drawdown: Metric
    max_drawdown_duration: Metric
    total_return: Metric
    exposure: Exposure
    positions: int  # overlapping the range, the exposure's inputs
    days: DayFigures


def _series(samples: Sequence[Sample], flows: Sequence[tuple]) -> tuple[list[SeriesPoint], list]:
    points = points_of(samples, flows)
    drawdowns = metrics.drawdown_series(points)
    index = metrics.wealth_index(points)
    out = [SeriesPoint(at=s.at, taken_at=s.taken_at, value=s.value, drawdown=d, cumulative_return=i - 1.0)
           for s, d, i in zip(samples, drawdowns, index, strict=True)]
    return out, points


def sampled(bot_ids: Sequence[int], span: Range, interval: str) -> tuple[list[datetime], dict[int, list]]:
    """The boundaries of ``interval`` in ``span`` and, per bot, its series over them: two
    queries (the samples, then the deposits between them), whatever the bots' history."""
    boundaries = boundaries_of(span, INTERVALS[interval])
    samples = samples_of(bot_ids, boundaries)
    found = [s for row in samples.values() for s in row if s is not None]
    flows: dict[int, list] = {bot_id: [] for bot_id in bot_ids}
    if found:
        flows = flows_of(bot_ids, after=min(s.taken_at for s in found), until=max(s.taken_at for s in found))
    out = {}
    for bot_id in bot_ids:
        present = [s for s in samples[bot_id] if s is not None]
        series, points = _series(present, flows[bot_id])
        out[bot_id] = (samples[bot_id], series, points)
    return boundaries, out


def spans_of(bot_id: int, span: Range) -> list[PositionSpan]:
    """The bot's positions open at some instant of ``span``, as spans (one query)."""
    rows = (Position.objects.filter(bot_id=bot_id, opened_at__lt=span.end)
            .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=span.start))
            .values_list("side", "opened_at", "closed_at"))
    return [PositionSpan(side=side, opened_at=opened, closed_at=closed) for side, opened, closed in rows]


def day_figures(bot_id: int, run_start: datetime, span: Range) -> DayFigures:
    """The figures of the range's whole UTC days, from the rollups of the run ``run_start``."""
    days = span.whole_days()
    if days is None:
        return DayFigures(None, None, run_start, None, NO_WHOLE_DAY)
    figures = figures_of_days({bot_id: run_start}, *days)[bot_id]
    return DayFigures(days[0], days[1], run_start, figures, None)


def bot_performance(bot_id: int, span: Range, interval: str, *, run_start: datetime) -> BotPerformance:
    """One bot's sampled series over ``span``, its drawdowns (at the series' resolution), the
    share of the range spent long, short, both or flat, and the whole days' figures."""
    _, by_bot = sampled([bot_id], span, interval)
    _, series, points = by_bot[bot_id]
    spans = spans_of(bot_id, span)
    return BotPerformance(
        span=span, interval=interval, points=series,
        max_drawdown=metrics.max_drawdown(points),
        max_drawdown_duration=metrics.max_drawdown_duration(points),
        total_return=metrics.total_return(points),
        exposure=metrics.exposure(spans, start=span.start, end=span.end), positions=len(spans),
        days=day_figures(bot_id, run_start, span),
    )


@dataclass(frozen=True)
class Compared:
    bot_id: int
    values: list  # per boundary: Decimal, or None before the bot's first snapshot
    returns: list  # per boundary: the return since the bot's first point, or None
    total_return: Metric
    first_at: datetime | None  # the boundary of its first point


def comparison(bot_ids: Sequence[int], span: Range, interval: str) -> tuple[list[datetime], list[Compared]]:
    """Several bots on one axis: the same boundaries for each, its values at them, and its
    return from its first point in the range (net of deposits, as every return here is)."""
    boundaries, by_bot = sampled(bot_ids, span, interval)
    out = []
    for bot_id in bot_ids:
        samples, series, points = by_bot[bot_id]
        returns = iter(p.cumulative_return for p in series)
        out.append(Compared(
            bot_id=bot_id, values=[None if s is None else s.value for s in samples],
            returns=[None if s is None else next(returns) for s in samples],
            total_return=metrics.total_return(points), first_at=series[0].at if series else None,
        ))
    return boundaries, out


def bots_figures(runs: Mapping[int, datetime], period: Period) -> dict[int, PeriodFigures]:
    """Each bot's figures over ``period`` of its run ``runs[bot]``: one query of days."""
    days = period_inputs(runs, period)
    return {bot_id: period_figures(rows) for bot_id, rows in days.items()}
