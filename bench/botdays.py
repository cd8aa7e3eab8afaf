"""The leaderboard rollups (``ledger.BotDay``) of a generated history, computed in memory
with ``ledger.rollups``' own arithmetic, and the seeded value walks they summarise.

The writers keep one row per bot, run and UTC day as they go; replaying a million rows
through ``arena.rollups.rollups_rebuild`` would take longer than writing them, so the
history builder (bench/history.py) feeds each row it generates here instead: ``Activity``
sums the fills, closes and decisions (sums, maxima and minima: the order does not matter,
so a history that grows keeps adding to the same rows), and ``series_days`` replays a bot's
whole value series in time order (the order matters there, so it is replayed again after
the series grows). ``days_merged`` joins the two into the rows to write. The result equals
a rebuild: ``bench/api.py --verify`` checks it.

Imports Django models: import it after ``django.setup()``.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from ledger.rollup_models import BotDay
from ledger.rollups import day_close, day_decision, day_fill, day_new, day_of, day_point

ZERO = Decimal(0)
# What a day row holds besides its key; the series' and the activity's fields are disjoint.
VALUE_FIELDS = [f.name for f in BotDay._meta.concrete_fields
                if f.name not in ("id", "bot", "run_start", "day")]


# --- value walks (pure) ------------------------------------------------------------------


def walk(rng: random.Random, start: float, steps: int, *, drift: float, sd: float) -> list[float]:
    """``steps`` points of a Gaussian random walk (of log values) after ``start``."""
    out, x = [], start
    for _ in range(steps):
        x += rng.gauss(drift, sd)
        out.append(x)
    return out


def bridge(rng: random.Random, first: float, last: float, steps: int, *, sd: float) -> list[float]:
    """The ``steps - 1`` points strictly between ``first`` and ``last`` of a random walk of
    ``steps`` steps of deviation ``sd`` pinned at both ends (a Brownian bridge): filling in a
    coarse walk this way gives the walk a finer grid would have had, whatever the drift."""
    free = walk(rng, 0.0, steps, drift=0.0, sd=sd)
    miss = (last - first - free[-1]) / steps
    return [first + free[k - 1] + miss * k for k in range(1, steps)]


def refine(rng: random.Random, coarse: list[float], factor: int, *, drift: float, sd: float) -> list[float]:
    """``coarse`` on a grid ``factor`` times finer: point k of ``coarse`` becomes point
    k × factor, bridges fill the gaps, and a free walk (``drift``, ``sd`` per fine step) the
    ``factor - 1`` points after the last coarse one."""
    if factor == 1 or not coarse:
        return list(coarse)
    out: list[float] = []
    for here, there in zip(coarse, coarse[1:], strict=False):
        out.append(here)
        out += bridge(rng, here, there, factor, sd=sd)
    out.append(coarse[-1])
    return out + walk(rng, coarse[-1], factor - 1, drift=drift, sd=sd)


def money_of(log_value: float) -> Decimal:
    """A walk's log value as an amount in cents."""
    return Decimal(f"{math.exp(log_value):.2f}")


# --- rollup rows -------------------------------------------------------------------------


def series_days(bot_id: int, run_start: datetime,
                points: Iterable[tuple[datetime, Decimal]]) -> dict[date, BotDay]:
    """The day rows of one run's snapshots ``points`` (time order, strictly increasing, no
    deposit or adjustment between them), each added with ``day_point`` as the snapshot
    writer adds it: the previous row is the one holding the snapshot before."""
    days: dict[date, BotDay] = {}
    previous: BotDay | None = None
    for at, value in points:
        day = day_of(at)
        row = days.get(day)
        if row is None:
            row = days[day] = day_new(bot_id=bot_id, run_start=run_start, day=day)
        day_point(row, previous, at=at, value=value, flow=ZERO)
        previous = row
    return days


class Activity:
    """The fills', closes' and decisions' part of the day rows of many bots (one run each)."""

    def __init__(self, runs: dict[int, datetime]) -> None:
        self.runs = runs
        self.rows: dict[tuple[int, date], BotDay] = {}

    def _row(self, bot_id: int, at: datetime) -> BotDay:
        key = (bot_id, day_of(at))
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = day_new(bot_id=bot_id, run_start=self.runs[bot_id], day=key[1])
        return row

    def fill(self, bot_id: int, at: datetime, *, fee: Decimal) -> None:
        day_fill(self._row(bot_id, at), fee=fee)

    def close(self, bot_id: int, at: datetime, *, pnl: Decimal, opened_at: datetime, leverage: int,
              margin: Decimal) -> None:
        day_close(self._row(bot_id, at), pnl=pnl, leverage=leverage, margin=margin,
                  hold_seconds=int((at - opened_at).total_seconds()))

    def decision(self, bot_id: int, at: datetime, *, tokens_in: int | None, tokens_out: int | None,
                 cost: Decimal | None, latency_ms: int | None) -> None:
        # As the writer and the rebuild count a failed call: its missing numbers are zero.
        day_decision(self._row(bot_id, at), tokens_in=tokens_in or 0, tokens_out=tokens_out or 0,
                     cost=cost or ZERO, latency_ms=latency_ms or 0)


def days_merged(series: dict[tuple[int, date], BotDay],
                activity: dict[tuple[int, date], BotDay]) -> list[BotDay]:
    """One row per (bot, day) of either: each field from the side that set it (the series'
    and the activity's fields are disjoint, so at most one side differs from a new row)."""
    out = []
    for key in sorted(series.keys() | activity.keys()):
        a, s = activity.get(key), series.get(key)
        some = a or s
        row = day_new(bot_id=some.bot_id, run_start=some.run_start, day=some.day)
        for name in VALUE_FIELDS:
            blank = getattr(row, name)
            mine = getattr(a, name) if a is not None else blank
            theirs = getattr(s, name) if s is not None else blank
            if mine != blank and theirs != blank:
                raise ValueError(f"{name} of {key} set by both the series and the activity")
            setattr(row, name, mine if mine != blank else theirs)
        out.append(row)
    return out


def rebuild_differences(bot_id: int) -> list[str]:
    """Where ``bot_id``'s stored rollups differ from ``arena.rollups.rollups_rebuild``'s
    recomputation from its rows (none: they are what the writers would have kept). Leaves
    the rebuilt rows in place, equal to the old ones when the answer is empty."""
    from arena.rollups import rollups_rebuild

    def rows() -> dict[date, dict]:
        rows = BotDay.objects.filter(bot_id=bot_id).values("day", "run_start", *VALUE_FIELDS)
        return {r["day"]: r for r in rows}

    mine = rows()
    rollups_rebuild(bot_ids=[bot_id])
    theirs = rows()
    out = [f"bot {bot_id}: day {day} only in the {'bench' if day in mine else 'rebuild'}'s rows"
           for day in sorted(mine.keys() ^ theirs.keys())]
    for day in sorted(mine.keys() & theirs.keys()):
        out += [f"bot {bot_id} on {day}: {name} {mine[day][name]!r} != rebuilt {theirs[day][name]!r}"
                for name in mine[day] if mine[day][name] != theirs[day][name]]
    return out
