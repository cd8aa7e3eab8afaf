"""A bot's runs and their figures, from its daily rollups alone (``ledger.rollup_models``).

A reset starts a new run (``run_start``: the reset's time; ``RUN_FIRST`` before any), and the
old run's rollup days stay, so a past run reads as cheaply as the current one: what is read
is the run's days, never its snapshots or trades.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, Max, Min

from ledger.periods import (
    DAY_FIELDS,
    PERIOD_DAYS,
    Period,
    PeriodFigures,
    period_days,
    period_figures,
    period_inputs,
)
from ledger.rollup_models import BotDay
from ledger.rollups import day_of

RISK_PERIODS = ("day", "week", "month", "all")


@dataclass(frozen=True)
class Run:
    start: datetime
    ended_at: datetime | None  # the next run's start; None for the current run
    days: int  # rollup days it has
    first_day: date | None
    last_day: date | None


def runs_list(bot_id: int, *, current: datetime) -> list[Run]:
    """The bot's runs, oldest first: every run with rollup days, and ``current`` (which may
    have none yet). One grouped query."""
    rows = {row["run_start"]: row for row in BotDay.objects.filter(bot_id=bot_id).values("run_start")
            .annotate(days=Count("id"), first=Min("day"), last=Max("day")).order_by("run_start")}
    starts = sorted({*rows, current})
    out = []
    for index, start in enumerate(starts):
        row = rows.get(start, {})
        out.append(Run(start=start, ended_at=starts[index + 1] if index + 1 < len(starts) else None,
                       days=row.get("days", 0), first_day=row.get("first"), last_day=row.get("last")))
    return out


def runs_days(bot_id: int) -> dict[datetime, list]:
    """Every rollup day of the bot, by run, in day order: one query of days × runs rows."""
    out: dict[datetime, list] = {}
    rows = BotDay.objects.filter(bot_id=bot_id).order_by("run_start", "day")
    for row in rows.values_list(*DAY_FIELDS, named=True):
        out.setdefault(row.run_start, []).append(row)
    return out


def runs_figures(bot_id: int, runs: list[Run]) -> dict[datetime, PeriodFigures]:
    """The figures of each whole run."""
    days = runs_days(bot_id)
    return {run.start: period_figures(days.get(run.start, [])) for run in runs}


def run_as_of(run: Run, *, now: datetime) -> date:
    """The day a run's named periods end on: today for the current run; for an ended run,
    the day it ended (a past run's "last 7 days" are its own last days, not this week's)."""
    return day_of(now) if run.ended_at is None else day_of(run.ended_at)


@dataclass(frozen=True)
class RiskPeriod:
    period: Period
    figures: PeriodFigures


def risk_periods(bot_id: int, run: Run, *, now: datetime) -> list[RiskPeriod]:
    """The run's figures over its last day, 7 days, 30 days and all of it (ending
    ``run_as_of``): one read of the run's days, each period a slice of them."""
    last = run_as_of(run, now=now)
    days = period_days({bot_id: run.start}, Period("all", None, last))[bot_id]
    out = []
    for name in RISK_PERIODS:
        length = PERIOD_DAYS[name]
        first = None if length is None else last - timedelta(days=length - 1)
        chosen = [d for d in days if first is None or d.day >= first]
        out.append(RiskPeriod(Period(name, first, last), period_figures(chosen)))
    return out


def figures_of_days(runs: Mapping[int, datetime], first: date, last: date) -> dict[int, PeriodFigures]:
    """Each bot's figures over the whole days ``first``..``last`` of the run ``runs[bot]``."""
    days = period_inputs(runs, Period("custom", first, last))
    return {bot_id: period_figures(rows) for bot_id, rows in days.items()}
