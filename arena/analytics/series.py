"""A bot's value over a range, sampled server-side: at each boundary of an interval (multiples
of it counted from the Unix epoch, so every bot and every request shares the same axis), the
value of the last snapshot taken at or before it.

The sampling is index seeks: for every (bot, boundary) the (bot, taken_at, total_value)
index read backwards with LIMIT 1 — one statement on PostgreSQL, the seeks and then the
snapshots found by primary key on SQLite (``_sample_sql``). The boundaries and bots are
parameters (a ``VALUES`` list in a CTE on SQLite, arrays on PostgreSQL), so the cost is
bots × boundaries seeks, however many snapshots the range holds.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import connection

from arena.analytics.params import AnalyticsError, Range
from ledger.metrics import Point
from ledger.models import Entry, Snapshot
from ledger.rollups import FLOW_KINDS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INTERVALS = {"5m": 300, "15m": 900, "1h": 3600, "4h": 4 * 3600, "1d": 86400}  # finest first
DEFAULT_POINTS = 500  # without ``interval``: the finest giving at most this many points
MAX_POINTS = 1000  # per bot; more is a 400


def boundaries_count(span: Range, step: int) -> int:
    """How many multiples of ``step`` seconds (from the epoch) lie within ``span``."""
    first = math.ceil((span.start - EPOCH).total_seconds() / step)
    last = math.floor((span.end - EPOCH).total_seconds() / step)
    return max(last - first + 1, 0)


def boundaries_of(span: Range, step: int) -> list[datetime]:
    """The multiples of ``step`` seconds from the epoch within ``span``, oldest first."""
    first = math.ceil((span.start - EPOCH).total_seconds() / step)
    return [EPOCH + timedelta(seconds=(first + i) * step) for i in range(boundaries_count(span, step))]


def interval_choose(span: Range, wanted: str | None) -> str:
    """``wanted`` if it gives at most ``MAX_POINTS`` boundaries in ``span``; without one, the
    finest interval giving at most ``DEFAULT_POINTS`` (or the coarsest, within ``MAX_POINTS``)."""
    if wanted is not None:
        if wanted not in INTERVALS:
            raise AnalyticsError("interval", f"Unknown interval {wanted!r}; use one of "
                                             f"{', '.join(INTERVALS)}.")
        count = boundaries_count(span, INTERVALS[wanted])
        if count > MAX_POINTS:
            raise AnalyticsError("interval", f"interval={wanted} gives {count} points over this range; at "
                                             f"most {MAX_POINTS}: take a coarser interval or a shorter range")
        return wanted
    for name, step in INTERVALS.items():
        if boundaries_count(span, step) <= DEFAULT_POINTS:
            return name
    coarsest = list(INTERVALS)[-1]
    count = boundaries_count(span, INTERVALS[coarsest])
    if count > MAX_POINTS:
        raise AnalyticsError("from", f"The range gives {count} daily points; at most {MAX_POINTS}: "
                                     "shorten it ('from', 'to').")
    return coarsest


class Sample(NamedTuple):
    """The bot's value at a boundary: its last snapshot at or before ``at``. A named tuple:
    immutable, and cheaper to build than a frozen dataclass (a comparison builds thousands)."""

    at: datetime
    taken_at: datetime
    value: Decimal


def _sample_sql(bots: int, boundaries: int) -> str:
    """The seeks: for each (boundary, bot), the bot's last snapshot at or before it, through
    the (bot, taken_at, total_value) index read backwards, one row each.

    On PostgreSQL one statement reads the time and value from the index itself (a ``LATERAL``
    seek: an index-only scan, no table page visited), and the boundaries and bots are three
    array parameters (``unnest``), not a placeholder per value — the driver's parsing of a
    statement grows with its placeholders. The time is read as a UTC ``timestamp``, which
    the driver's compiled loader takes (Django's ``timestamptz`` loader is Python).

    SQLite has no ``LATERAL``: the seek finds the snapshot's id (from the covering index),
    and a second statement reads the snapshots found by primary key (``_snapshots_by_pk``).
    Not joined in one statement: PostgreSQL, given that join, hashed the whole table."""
    snapshot = Snapshot._meta
    q = connection.ops.quote_name
    table = q(snapshot.db_table)
    names = ("bot", "taken_at", "total_value", "id")
    bot, taken, value, pk = (q(snapshot.get_field(name).column) for name in names)
    seek = f"FROM {table} x WHERE x.{bot} = k.bot AND x.{taken} <= b.bound ORDER BY x.{taken} DESC LIMIT 1"
    if connection.vendor == "postgresql":
        return ("WITH b(ix, bound) AS (SELECT * FROM unnest(%s::integer[], %s::timestamptz[])), "
                "k(bot) AS (SELECT unnest(%s::bigint[])) "
                "SELECT k.bot, b.ix, s.taken_at AT TIME ZONE 'UTC', s.total_value FROM k CROSS JOIN b "
                f"CROSS JOIN LATERAL (SELECT x.{taken} AS taken_at, x.{value} AS total_value {seek}) s")
    points = ", ".join(["(%s, %s)"] * boundaries)
    ids = ", ".join(["(%s)"] * bots)
    return (f"WITH b(ix, bound) AS (VALUES {points}), k(bot) AS (VALUES {ids}) "
            f"SELECT k.bot, b.ix, (SELECT x.{pk} {seek}) FROM b CROSS JOIN k")


def _sample_params(bot_ids: Sequence[int], boundaries: Sequence[datetime]) -> list:
    if connection.vendor == "postgresql":
        return [list(range(len(boundaries))), list(boundaries), list(bot_ids)]
    params: list = []
    for index, at in enumerate(boundaries):
        params += [index, connection.ops.adapt_datetimefield_value(at)]
    return params + list(bot_ids)


def _converter(name: str):
    """What the ORM does to a snapshot column's value read from this database (a SQLite
    text timestamp to an aware datetime, a stored number to an exact Decimal), without
    building a queryset and a lookup per id: a comparison reads thousands of snapshots."""
    column = Snapshot._meta.get_field(name).get_col(Snapshot._meta.db_table)
    steps = connection.ops.get_db_converters(column) + column.get_db_converters(connection)

    def convert(value):
        for step in steps:
            value = step(value, column, connection)
        return value
    return convert


def _snapshots_by_pk(pks: Sequence[int]) -> dict[int, tuple[datetime, Decimal]]:
    """Each snapshot's (taken_at, total_value), by primary key, in one statement (SQLite)."""
    snapshot = Snapshot._meta
    q = connection.ops.quote_name
    pk, taken, value = (q(snapshot.get_field(name).column) for name in ("id", "taken_at", "total_value"))
    taken_at, total_value = _converter("taken_at"), _converter("total_value")
    sql = (f"SELECT {pk}, {taken}, {value} FROM {q(snapshot.db_table)} "
           f"WHERE {pk} IN ({', '.join(['%s'] * len(pks))})")
    with connection.cursor() as cursor:
        cursor.execute(sql, list(pks))
        return {row[0]: (taken_at(row[1]), total_value(row[2])) for row in cursor.fetchall()}


def samples_of(bot_ids: Sequence[int], boundaries: Sequence[datetime]) -> dict[int, list[Sample | None]]:
    """For each bot, its sample at each boundary (None before its first snapshot): bots ×
    boundaries index seeks, in one statement on PostgreSQL; on SQLite the seeks and then the
    snapshots found, by primary key (at most bots × boundaries of them)."""
    out: dict[int, list[Sample | None]] = {bot_id: [None] * len(boundaries) for bot_id in bot_ids}
    if not bot_ids or not boundaries:
        return out
    with connection.cursor() as cursor:
        cursor.execute(_sample_sql(len(bot_ids), len(boundaries)), _sample_params(bot_ids, boundaries))
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        for bot_id, index, taken_at, value in rows:
            out[bot_id][index] = Sample(boundaries[index], taken_at.replace(tzinfo=UTC), value)
        return out
    picks = [(bot_id, int(index), pk) for bot_id, index, pk in rows if pk is not None]
    found = _snapshots_by_pk(sorted({pk for _, _, pk in picks})) if picks else {}
    for bot_id, index, pk in picks:
        taken_at, value = found[pk]
        out[bot_id][index] = Sample(boundaries[index], taken_at, value)
    return out


def flows_of(bot_ids: Sequence[int], *, after: datetime, until: datetime) -> dict[int, list[tuple]]:
    """Each bot's deposits and adjustments (money moved that is not performance) in
    (``after``, ``until``], oldest first: ``(created_at, amount)``. Few rows: a reset or a top-up."""
    out: dict[int, list[tuple]] = {bot_id: [] for bot_id in bot_ids}
    rows = (Entry.objects.filter(account__bot_id__in=list(bot_ids), kind__in=FLOW_KINDS,
                                 created_at__gt=after, created_at__lte=until)
            .order_by("created_at", "id").values_list("account__bot_id", "created_at", "amount"))
    for bot_id, created_at, amount in rows:
        out[bot_id].append((created_at, amount))
    return out


def points_of(samples: Sequence[Sample], flows: Sequence[tuple]) -> list[Point]:
    """The samples as ``ledger.metrics`` points at their boundaries, each with the flows
    between the previous sample's snapshot and its own (so a deposit or a reset's
    adjustment is not a return)."""
    points: list[Point] = []
    for index, sample in enumerate(samples):
        flow = Decimal(0)
        if index:
            since = samples[index - 1].taken_at
            flow = sum((amount for at, amount in flows if since < at <= sample.taken_at), Decimal(0))
        points.append(Point(at=sample.at, value=float(sample.value), flow=float(flow)))
    return points

