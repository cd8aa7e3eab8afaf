"""The leaderboard: every listed bot's figures over a period, ranked, with a summary and the
benchmarks a person can hold them against.

Each bot's figures are read from its daily rollups of its current run (``ledger.periods``):
the board costs bots × days rows, whatever the number of snapshots and trades behind them.
Rows sort on any figure; a bot whose figure is undefined sorts last and has no rank on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.core.cache import cache

from bots.models import Bot
from bots.selectors import bots_listed
from ledger.metrics.result import Metric, MoneyMetric
from ledger.periods import Period, PeriodFigures, period_figures, period_inputs
from ledger.rollups import run_of
from trading.benchmarks import Hold, hold_of

BENCHMARK_SYMBOL = "BTCUSDT"
NO_CANDLES = "no stored candles of {symbols} in the period"
NO_SERIES = "no bot has two snapshots in the period"
BENCHMARK_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Row:
    bot: Bot
    run_start: datetime
    figures: PeriodFigures
    rank: int | None = None


@dataclass(frozen=True)
class Summary:
    active_bots: int
    traders: int
    trades: int
    average_win_rate: Metric
    total_pnl: Decimal


@dataclass(frozen=True)
class Benchmark:
    name: str
    symbols: list[str]
    total_return: Metric
    start_at: datetime | None
    end_at: datetime | None
    holds: list[Hold]


@dataclass(frozen=True)
class Board:
    period: Period
    start: datetime
    end: datetime
    ordering: str
    rows: list[Row]
    summary: Summary
    benchmarks: list[Benchmark]


def _value(figures: PeriodFigures, name: str):
    value = getattr(figures, name)
    return value.value if isinstance(value, Metric | MoneyMetric) else value


def rows_ranked(rows: list[Row], ordering: str) -> list[Row]:
    """``rows`` sorted on ``ordering`` (a figure or ``name``/``owner_name``; ``-`` first for
    descending), undefined values last; equal values share a rank (1, 2, 2, 4), undefined
    ones have none. Ties fall back to the bot's id, so the order is stable."""
    descending = ordering.startswith("-")
    name = ordering.lstrip("-")

    def key_of(row: Row):
        if name == "name":
            return row.bot.name.casefold()
        if name == "owner_name":
            return row.bot.owner.public_name.casefold()
        return _value(row.figures, name)

    defined = [r for r in rows if key_of(r) is not None]
    undefined = sorted((r for r in rows if key_of(r) is None), key=lambda r: r.bot.pk)
    defined.sort(key=lambda r: r.bot.pk)
    defined.sort(key=key_of, reverse=descending)
    out, previous, rank = [], object(), 0
    for position, row in enumerate(defined, start=1):
        key = key_of(row)
        if key != previous:
            rank, previous = position, key
        out.append(Row(bot=row.bot, run_start=row.run_start, figures=row.figures, rank=rank))
    return out + undefined


def summary_of(rows: list[Row]) -> Summary:
    rates = [r.figures.win_rate.value for r in rows if r.figures.win_rate.value is not None]
    return Summary(
        active_bots=len(rows), traders=len({r.bot.owner_id for r in rows}),
        trades=sum(r.figures.trades for r in rows),
        average_win_rate=(Metric(sum(rates) / len(rates)) if rates
                          else Metric.undefined("no bot closed a trade")),
        total_pnl=sum((r.figures.pnl.value for r in rows if r.figures.pnl.value is not None), Decimal(0)),
    )


def benchmark_of(name: str, symbols: list[str], *, start: datetime, end: datetime) -> Benchmark:
    """Equal weights of ``symbols`` bought at ``start`` and held to ``end``: the mean of their
    returns. A symbol without candles in the period is left out (and named by its absence
    from ``holds``); none at all is an undefined return."""
    holds = [h for h in (hold_of(s, start=start, end=end) for s in symbols) if h is not None]
    if not holds:
        why = NO_CANDLES.format(symbols=", ".join(symbols) or "any symbol")
        return Benchmark(name, symbols, Metric.undefined(why), None, None, [])
    return Benchmark(name, symbols, Metric(sum(h.total_return for h in holds) / len(holds)),
                     min(h.start_at for h in holds), max(h.end_at for h in holds), holds)


def _bounds(period: Period, rows: list[Row], now: datetime) -> tuple[datetime, datetime]:
    """The period as instants: from its first day's midnight (for the whole run, the earliest
    point any bot's series starts from) to the end of its last day, or now if sooner."""
    end = min(datetime.combine(period.last_day + timedelta(days=1), time(), tzinfo=UTC), now)
    if period.first_day is not None:
        return datetime.combine(period.first_day, time(), tzinfo=UTC), end
    starts = [r.figures.sources.first_at for r in rows if r.figures.sources.first_at is not None]
    return (min(starts) if starts else end), end


def board_build(period: Period, *, now: datetime, ordering: str, symbols: list[str]) -> Board:
    """The leaderboard of ``period`` at ``now``, sorted on ``ordering``; ``symbols`` are the
    arena's, for the equal-weight benchmark."""
    bots = list(bots_listed())
    runs = {bot.pk: run_of(bot.stats_reset_at) for bot in bots}
    days = period_inputs(runs, period)
    rows = [Row(bot=bot, run_start=runs[bot.pk], figures=period_figures(days[bot.pk])) for bot in bots]
    start, end = _bounds(period, rows, now)
    return Board(period=period, start=start, end=end, ordering=ordering, rows=rows_ranked(rows, ordering),
                 summary=summary_of(rows), benchmarks=benchmarks_of(symbols, start=start, end=end))


def benchmarks_of(symbols: list[str], *, start: datetime, end: datetime) -> list[Benchmark]:
    """BTC and the equal-weight basket over [start, end]. Candles change by the minute, so
    the result is kept for ``BENCHMARK_CACHE_SECONDS`` per period and minute (the end is
    taken to the minute: two requests in one minute hold the market over the same span)."""
    end = end.replace(second=0, microsecond=0)
    if start >= end:
        return [Benchmark(name, syms, Metric.undefined(NO_SERIES), None, None, [])
                for name, syms in (("BTC buy-and-hold", [BENCHMARK_SYMBOL]), ("Equal-weight hold", symbols))]
    key = "leaderboard-benchmarks:" + ":".join([start.isoformat(), end.isoformat(), *symbols])
    found = cache.get(key)
    if found is None:
        found = [benchmark_of("BTC buy-and-hold", [BENCHMARK_SYMBOL], start=start, end=end),
                 benchmark_of("Equal-weight hold", symbols, start=start, end=end)]
        cache.set(key, found, BENCHMARK_CACHE_SECONDS)
    return found

