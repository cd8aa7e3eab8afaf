"""A period's figures from a bot's daily rollups (``ledger.rollup_models.BotDay``): the
leaderboard reads bots × days rows, whatever the number of snapshots and trades.

Every figure is the one ``ledger.metrics`` computes from the period's snapshots and closed
positions (``tests/ledger/test_periods.py`` proves it on random histories), with two
differences, both said where they apply: the periods per year come from the *mean* spacing of
the period's snapshots (a median cannot be added up from days), and the fees are those of
every fill in the period (opens included), not only of the positions closed in it.

A period is a run of whole UTC days of one run of the bot; its series starts at the snapshot
before its first return (the baseline: the previous day's last snapshot, or the run's first).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Max, Min, Q, Sum

from ledger.metrics.drawdown import NO_DRAWDOWN
from ledger.metrics.result import Metric, MoneyMetric
from ledger.metrics.series import (
    FLAT_STD,
    NEEDS_TWO_RETURNS,
    NEEDS_TWO_SNAPSHOTS,
    NO_DOWNSIDE,
    NO_POSITIVE_START,
    NOT_SPACED,
    RETURNS_DO_NOT_VARY,
    SECONDS_PER_YEAR,
    TOO_LARGE,
    WENT_NEGATIVE,
)
from ledger.metrics.trades import NO_LOSING_TRADES, NO_MARGIN, NO_TRADES, NO_WINNING_TRADES
from ledger.rollup_models import BotDay

ZERO = Decimal(0)
NO_DECISIONS = "no decisions"
# The named periods, each ending today (UTC): today since 00:00, the last 7 and 30 days, the run.
PERIOD_DAYS = {"day": 1, "week": 7, "month": 30, "all": None}
CUSTOM = "custom"
LONGEST_CUSTOM_DAYS = 3660


class PeriodError(ValueError):
    """A period that cannot be read: an unknown name, a range backwards or too long."""


@dataclass(frozen=True)
class Period:
    """Whole UTC days ``first_day``..``last_day`` (both included); ``first_day`` None is the
    start of the run."""

    name: str
    first_day: date | None
    last_day: date


def period_resolve(name: str | None, *, today: date, first: date | None = None,
                   last: date | None = None) -> Period:
    """The period ``name`` (day, week, month, all) ending ``today``, or the custom range
    ``first``..``last`` (either may be left out: the run's start, today)."""
    if first is not None or last is not None:
        if name not in (None, "", CUSTOM):
            raise PeriodError(f"Give either period={name} or a from/to range, not both.")
        last = last or today
        if first is not None and first > last:
            raise PeriodError(f"The range starts ({first}) after it ends ({last}).")
        if first is not None and (last - first).days >= LONGEST_CUSTOM_DAYS:
            raise PeriodError(f"A range is at most {LONGEST_CUSTOM_DAYS} days; use period=all for the run.")
        return Period(CUSTOM, first, last)
    name = name or "all"
    if name not in PERIOD_DAYS:
        raise PeriodError(f"Unknown period {name!r}; use one of {', '.join(PERIOD_DAYS)}, or from/to.")
    length = PERIOD_DAYS[name]
    return Period(name, None if length is None else today - timedelta(days=length - 1), today)


# What ``period_figures`` reads of a day: rows come as named tuples (several times cheaper
# than model instances when a period spans thousands of bot-days).
DAY_FIELDS = [f.name for f in BotDay._meta.concrete_fields if f.name not in ("id", "bot")] + ["bot_id"]


def _rows_of(runs: Mapping[int, datetime], period: Period):
    """The rollup rows of ``period`` of each bot's run: WHERE (run_start = ? AND bot_id IN
    (..)) OR .. AND day BETWEEN ? AND ?, served by the unique (bot, run_start, day) index."""
    by_run: dict[datetime, list[int]] = {}
    for bot_id, run_start in runs.items():
        by_run.setdefault(run_start, []).append(bot_id)
    which = Q()
    for run_start, bot_ids in by_run.items():  # most bots share a run start: few terms
        which |= Q(run_start=run_start, bot_id__in=bot_ids)
    rows = BotDay.objects.filter(which, day__lte=period.last_day)
    if period.first_day is not None:
        rows = rows.filter(day__gte=period.first_day)
    return rows


def period_days(runs: Mapping[int, datetime], period: Period) -> dict[int, list]:
    """Each bot's rollup days in ``period`` of the run ``runs[bot_id]`` starts, in day order
    (a bot without any: an empty list), in one query."""
    out: dict[int, list] = {bot_id: [] for bot_id in runs}
    if not runs:
        return out
    for row in _rows_of(runs, period).order_by("bot_id", "day").values_list(*DAY_FIELDS, named=True):
        out[row.bot_id].append(row)
    return out


# The value series' fields a period reads of every day (the drawdown needs each day's, in
# order), and those it reads of its first and last days only (the series' ends); every other
# field is a sum (or best's max, worst's min) the database adds up.
CURVE_FIELDS = ["bot_id", "day", "snapshots", "index_start", "index_end", "index_max", "index_min",
                "drawdown_max", "returns", "returns_sum", "returns_sq", "downside_sq"]
END_FIELDS = ["start_at", "start_value", "first_at", "last_at", "last_value"]
TOTAL_FIELDS = ["closes", "wins", "losses", "gross_profit", "gross_loss", "hold_seconds", "margin_sum",
                "leverage_margin", "fees", "funding_paid", "funding_received", "decisions", "tokens_in",
                "tokens_out", "llm_cost", "latency_ms"]


@dataclass
class _Day:
    """A day as ``period_figures`` reads it: the series part of a day that holds snapshots
    (its totals zero), or one row of a bot's totals over the period (no snapshots, so not
    part of the series)."""

    snapshots: int = 0
    index_start: float | None = None
    index_end: float | None = None
    index_max: float | None = None
    index_min: float | None = None
    drawdown_max: float = 0.0
    returns: int = 0
    returns_sum: float = 0.0
    returns_sq: float = 0.0
    downside_sq: float = 0.0
    start_at: datetime | None = None
    start_value: Decimal | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None
    last_value: Decimal | None = None
    flows: Decimal = ZERO
    closes: int = 0
    wins: int = 0
    losses: int = 0
    gross_profit: Decimal = ZERO
    gross_loss: Decimal = ZERO
    best: Decimal | None = None
    worst: Decimal | None = None
    hold_seconds: int = 0
    margin_sum: Decimal = ZERO
    leverage_margin: Decimal = ZERO
    fees: Decimal = ZERO
    funding_paid: Decimal = ZERO
    funding_received: Decimal = ZERO
    decisions: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    llm_cost: Decimal = ZERO
    latency_ms: int = 0


def period_inputs(runs: Mapping[int, datetime], period: Period) -> dict[int, list]:
    """What ``period_figures`` needs of each bot's ``period``, equal in figures to its
    ``period_days`` but cheaper over many bot-days: each day that holds snapshots with its
    numbers only (no dates or money to convert), the dates and values of the first and last
    of them, and one row of the period's totals summed by the database. Three queries,
    whatever the number of days; the rows of the first two grow with days, not snapshots."""
    out: dict[int, list] = {bot_id: [] for bot_id in runs}
    if not runs:
        return out
    rows = _rows_of(runs, period)
    held = rows.filter(snapshots__gt=0)
    days: dict[int, list] = {bot_id: [] for bot_id in runs}
    for row in held.order_by("bot_id", "day").values_list(*CURVE_FIELDS):
        days[row[0]].append((row[1], _Day(*row[2:])))
    ends = Q()
    for bot_id, found in days.items():
        if found:
            ends |= Q(bot_id=bot_id, day__in={found[0][0], found[-1][0]})
    if ends:
        for bot_id, day, *values in held.filter(ends).values_list("bot_id", "day", *END_FIELDS):
            which = days[bot_id][0][1] if day == days[bot_id][0][0] else days[bot_id][-1][1]
            for name, value in zip(END_FIELDS, values, strict=True):
                setattr(which, name, value)
    sums = {name: Sum(name) for name in TOTAL_FIELDS} | {"best": Max("best"), "worst": Min("worst"),
                                                         "flows": Sum("flows", filter=Q(snapshots__gt=0))}
    for bot_id, found in days.items():
        out[bot_id] = [day for _, day in found]
    for totals in rows.order_by().values("bot_id").annotate(**sums):
        bot_id = totals.pop("bot_id")
        flows = totals.pop("flows")
        if flows is not None and out[bot_id]:  # money moved counts on the series' days
            out[bot_id][-1].flows = flows
        out[bot_id].append(_Day(**{k: v for k, v in totals.items() if v is not None}))
    return out

@dataclass(frozen=True)
class Sources:
    """What a period's figures were computed from, so each can be checked against the rows."""

    snapshots: int
    returns: int
    first_at: datetime | None  # the baseline snapshot
    last_at: datetime | None
    closes: int
    decisions: int


@dataclass(frozen=True)
class PeriodFigures:
    start_value: Decimal | None
    end_value: Decimal | None
    flows: Decimal
    pnl: MoneyMetric
    total_return: Metric
    annual_return: Metric
    volatility: Metric
    sharpe: Metric
    sortino: Metric
    max_drawdown: Metric
    calmar: Metric
    trades: int
    wins: int
    losses: int
    win_rate: Metric
    profit_factor: Metric
    expectancy: MoneyMetric
    average_win: MoneyMetric
    average_loss: MoneyMetric
    biggest_win: MoneyMetric
    biggest_loss: MoneyMetric
    fees_paid: Decimal
    funding_paid: Decimal
    funding_received: Decimal
    average_leverage: Metric
    average_hold_seconds: Metric
    decisions: int
    tokens_in: int
    tokens_out: int
    llm_cost: Decimal
    average_latency_ms: Metric
    return_net_of_llm_cost: Metric
    sources: Sources


def _series(days: Sequence[BotDay]) -> dict:
    """The value series' sums over the days that hold snapshots, in day order."""
    held = [d for d in days if d.snapshots]
    n = sum(d.returns for d in held)
    out = {"held": held, "n": n, "s": math.fsum(d.returns_sum for d in held),
           "ss": math.fsum(d.returns_sq for d in held), "ds": math.fsum(d.downside_sq for d in held)}
    if not held:
        return out
    first, last = held[0], held[-1]
    out.update(first=first, last=last, span=(last.last_at - first.start_at).total_seconds())
    peak, deepest = first.index_start, 0.0
    for day in held:
        deepest = max(deepest, day.drawdown_max, 1.0 - day.index_min / peak if peak > 0 else 0.0)
        peak = max(peak, day.index_max)
    out.update(growth=last.index_end / first.index_start if first.index_start else None, drawdown=deepest)
    return out


def _undefined(series: dict) -> str | None:
    if sum(d.snapshots for d in series["held"]) + (1 if series["held"] and series["held"][0].start_at
                                                    != series["held"][0].first_at else 0) < 2:
        return NEEDS_TWO_SNAPSHOTS
    return NO_POSITIVE_START if series["n"] == 0 else None


def _ratios(series: dict) -> dict[str, Metric]:
    why = _undefined(series)
    if why:
        return dict.fromkeys(("total_return", "annual_return", "volatility", "sharpe", "sortino",
                              "max_drawdown", "calmar"), Metric.undefined(why))
    n, total = series["n"], series["growth"] - 1.0
    out = {"total_return": Metric(total), "max_drawdown": Metric(series["drawdown"])}
    ppy = SECONDS_PER_YEAR * n / series["span"] if series["span"] > 0 else None
    if ppy is None:
        return out | dict.fromkeys(("annual_return", "volatility", "sharpe", "sortino", "calmar"),
                                   Metric.undefined(NOT_SPACED))
    annual = _annual(total + 1.0, n, ppy)
    out["annual_return"] = annual
    if annual.value is None:
        out["calmar"] = annual
    elif series["drawdown"] <= 0:
        out["calmar"] = Metric.undefined(NO_DRAWDOWN)
    else:
        out["calmar"] = Metric(annual.value / series["drawdown"])
    if n < 2:
        return out | dict.fromkeys(("volatility", "sharpe", "sortino"), Metric.undefined(NEEDS_TWO_RETURNS))
    mean = series["s"] / n
    variance = max(series["ss"] - series["s"] ** 2 / n, 0.0) / (n - 1)
    std = math.sqrt(variance)
    flat = std <= FLAT_STD  # as ledger.metrics judges it
    std = 0.0 if flat else std
    out["volatility"] = Metric(std * math.sqrt(ppy))
    out["sharpe"] = Metric.undefined(RETURNS_DO_NOT_VARY) if flat else Metric(mean / std * math.sqrt(ppy))
    downside = math.sqrt(series["ds"] / n) * math.sqrt(ppy)
    out["sortino"] = Metric.undefined(NO_DOWNSIDE) if downside == 0 else Metric(mean * ppy / downside)
    return out


def _annual(ending: float, n: int, ppy: float) -> Metric:
    if ending < 0:
        return Metric.undefined(WENT_NEGATIVE)
    try:
        return Metric(ending ** (1.0 / (n / ppy)) - 1.0)
    except OverflowError:
        return Metric.undefined(TOO_LARGE)


def period_figures(days: Sequence[BotDay]) -> PeriodFigures:
    """The figures of a period from the bot's ``days`` of one run, in day order."""
    series = _series(days)
    ratios = _ratios(series)
    closes = sum(d.closes for d in days)
    wins, losses = sum(d.wins for d in days), sum(d.losses for d in days)
    profit, loss = sum((d.gross_profit for d in days), ZERO), sum((d.gross_loss for d in days), ZERO)
    margin = sum((d.margin_sum for d in days), ZERO)
    bests = [d.best for d in days if d.best is not None]
    worsts = [d.worst for d in days if d.worst is not None]
    decisions = sum(d.decisions for d in days)
    cost = sum((d.llm_cost for d in days), ZERO)
    flows = sum((d.flows for d in series["held"]), ZERO)
    start = series["first"].start_value if series["held"] else None
    end = series["last"].last_value if series["held"] else None
    why_series = _undefined(series)

    def trade_money(value: Decimal, needs: int, reason: str) -> MoneyMetric:
        if not closes:
            return MoneyMetric.undefined(NO_TRADES)
        return MoneyMetric(value) if needs else MoneyMetric.undefined(reason)

    return PeriodFigures(
        start_value=start, end_value=end, flows=flows,
        pnl=MoneyMetric.undefined(why_series) if why_series else MoneyMetric(end - start - flows),
        trades=closes, wins=wins, losses=losses,
        win_rate=Metric(wins / closes) if closes else Metric.undefined(NO_TRADES),
        profit_factor=(Metric.undefined(NO_TRADES) if not closes else Metric.undefined(NO_LOSING_TRADES)
                       if not losses else Metric(float(profit / loss))),
        expectancy=MoneyMetric((profit - loss) / closes) if closes else MoneyMetric.undefined(NO_TRADES),
        average_win=trade_money(profit / wins if wins else ZERO, wins, NO_WINNING_TRADES),
        average_loss=trade_money(-loss / losses if losses else ZERO, losses, NO_LOSING_TRADES),
        biggest_win=trade_money(max(bests) if wins else ZERO, wins, NO_WINNING_TRADES),
        biggest_loss=trade_money(min(worsts) if losses else ZERO, losses, NO_LOSING_TRADES),
        fees_paid=sum((d.fees for d in days), ZERO),
        funding_paid=sum((d.funding_paid for d in days), ZERO),
        funding_received=sum((d.funding_received for d in days), ZERO),
        average_leverage=(Metric.undefined(NO_TRADES) if not closes else Metric.undefined(NO_MARGIN)
                          if margin <= 0 else Metric(float(sum((d.leverage_margin for d in days), ZERO)
                                                           / margin))),
        average_hold_seconds=(Metric(sum(d.hold_seconds for d in days) / closes) if closes
                              else Metric.undefined(NO_TRADES)),
        decisions=decisions, tokens_in=sum(d.tokens_in for d in days),
        tokens_out=sum(d.tokens_out for d in days), llm_cost=cost,
        average_latency_ms=(Metric(sum(d.latency_ms for d in days) / decisions) if decisions
                            else Metric.undefined(NO_DECISIONS)),
        return_net_of_llm_cost=(Metric.undefined(why_series) if why_series
                                else Metric.undefined("the starting value is not positive") if start <= 0
                                else Metric(float((end - start - flows - cost) / start))),
        sources=Sources(snapshots=sum(d.snapshots for d in series["held"]), returns=series["n"],
                        first_at=series["first"].start_at if series["held"] else None,
                        last_at=series["last"].last_at if series["held"] else None,
                        closes=closes, decisions=decisions),
        **ratios,
    )
