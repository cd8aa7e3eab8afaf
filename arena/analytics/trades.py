"""Closed positions over a range, aggregated in SQL: groups (by symbol, side, hour of the
close), a PnL histogram with fixed edges, the best and worst positions, and a summary
across bots.

A position's ``pnl`` is its ``realized_pnl`` as the position records it (net of the closing
fee); a win is pnl > 0, a loss pnl < 0, a scratch neither (it counts in the trades). A
group's ``fees`` are those of its positions' fills, the open's and the close's. ``bots`` is
a list of bot ids or a queryset of them (a subquery: an admin's every bot is not listed in
Python). Every function costs a fixed number of queries.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import ExtractHour

from arena.analytics.params import Range
from bots.models import Decision
from ledger.aggregates import MoneySum
from ledger.metrics import Metric
from ledger.metrics.trades import NO_TRADES
from ledger.models import Entry
from trading.models import Position, Side, Trade

ZERO = Decimal(0)
# The histogram's edges in USDT: bucket i holds edges[i-1] <= pnl < edges[i]; the first
# bucket everything below the first edge, the last everything from the last edge up.
HISTOGRAM_EDGES = tuple(Decimal(e) for e in ("-1000", "-500", "-100", "-50", "-10", "0", "10", "50", "100",
                                             "500", "1000"))
SIDES = tuple(Side.values)  # LONG, SHORT
HOURS = tuple(range(24))
TOP = 5


def closed_in(bots, span: Range) -> QuerySet[Position]:
    """The positions of ``bots`` closed within ``span`` (the (bot, closed_at) index)."""
    return Position.objects.filter(bot_id__in=bots, status=Position.Status.CLOSED,
                                   closed_at__gte=span.start, closed_at__lte=span.end)


@dataclass(frozen=True)
class Group:
    key: object  # a symbol, a side, an hour; None for a total
    trades: int
    wins: int
    losses: int
    win_rate: Metric
    pnl: Decimal
    fees: Decimal


def group_of(key, trades: int, wins: int, losses: int, pnl: Decimal, fees: Decimal) -> Group:
    rate = Metric(wins / trades) if trades else Metric.undefined(NO_TRADES)
    return Group(key=key, trades=trades, wins=wins, losses=losses, win_rate=rate, pnl=pnl, fees=fees)


def _hour(path: str) -> ExtractHour:
    return ExtractHour(path, tzinfo=UTC)


def _groups(closed: QuerySet[Position], by: str) -> dict:
    """Counts and sums of ``closed`` by ``by`` (symbol, side or hour): two grouped queries,
    the positions' outcomes and their fills' fees (apart, so the join does not double a sum)."""
    key = _hour("closed_at") if by == "hour" else F(by)
    fill_key = _hour("position__closed_at") if by == "hour" else F(f"position__{by}")
    stats = (closed.annotate(g=key).values("g").order_by("g")
             .annotate(trades=Count("id"), wins=Count("id", filter=Q(realized_pnl__gt=0)),
                       losses=Count("id", filter=Q(realized_pnl__lt=0)), pnl=MoneySum("realized_pnl")))
    fees = dict(Trade.objects.filter(position__in=closed.values("pk")).annotate(g=fill_key).values("g")
                .order_by("g").annotate(fees=MoneySum("fee")).values_list("g", "fees"))
    return {row["g"]: group_of(row["g"], row["trades"], row["wins"], row["losses"], row["pnl"] or ZERO,
                               fees.get(row["g"]) or ZERO) for row in stats}


def groups_by(closed: QuerySet[Position], by: str) -> list[Group]:
    """The groups of ``closed`` by ``by``: symbols as found (by pnl, best first), both sides,
    every hour 0–23 (an empty one has no win rate, and says why)."""
    found = _groups(closed, by)
    if by == "symbol":
        return sorted(found.values(), key=lambda g: (-g.pnl, g.key))
    keys = SIDES if by == "side" else HOURS
    return [found.get(k) or group_of(k, 0, 0, 0, ZERO, ZERO) for k in keys]


def total_of(groups: list[Group]) -> Group:
    """The sum of groups that partition the positions (both sides, or every hour)."""
    return group_of(None, sum(g.trades for g in groups), sum(g.wins for g in groups),
                    sum(g.losses for g in groups), sum((g.pnl for g in groups), ZERO),
                    sum((g.fees for g in groups), ZERO))


@dataclass(frozen=True)
class Bucket:
    low: Decimal | None
    high: Decimal | None
    count: int


def histogram(closed: QuerySet[Position]) -> list[Bucket]:
    """How many of ``closed`` fall in each bucket of ``HISTOGRAM_EDGES``: one query (CASE)."""
    whens = [When(realized_pnl__lt=edge, then=Value(i)) for i, edge in enumerate(HISTOGRAM_EDGES)]
    bucket = Case(*whens, default=Value(len(HISTOGRAM_EDGES)), output_field=IntegerField())
    counts = dict(closed.filter(realized_pnl__isnull=False).annotate(b=bucket).values("b").order_by("b")
                  .annotate(n=Count("id")).values_list("b", "n"))
    edges = (None, *HISTOGRAM_EDGES, None)
    return [Bucket(low=edges[i], high=edges[i + 1], count=counts.get(i, 0)) for i in range(len(edges) - 1)]


@dataclass(frozen=True)
class Extreme:
    position_id: int
    bot_id: int
    bot_name: str
    symbol: str
    side: str
    pnl: Decimal
    closed_at: datetime
    opening_decision_id: int | None
    close_trade_id: int | None


def extremes(closed: QuerySet[Position]) -> tuple[list[Extreme], list[Extreme]]:
    """The ``TOP`` best and worst of ``closed`` by pnl (ties: the earlier position first)."""
    close_trade = Subquery(Trade.objects.filter(position_id=OuterRef("pk"), kind=Trade.Kind.CLOSE)
                           .order_by("id").values("id")[:1])
    rows = (closed.filter(realized_pnl__isnull=False).annotate(close_trade_id=close_trade)
            .values_list("id", "bot_id", "bot__name", "symbol", "side", "realized_pnl", "closed_at",
                         "opening_decision_id", "close_trade_id"))
    best = [Extreme(*row) for row in rows.order_by("-realized_pnl", "id")[:TOP]]
    worst = [Extreme(*row) for row in rows.order_by("realized_pnl", "id")[:TOP]]
    return best, worst


@dataclass(frozen=True)
class Summary:
    bots: int
    totals: Group  # the positions closed in the range; fees: of every fill in the range
    funding: Decimal  # signed: received − paid
    funding_paid: Decimal
    funding_received: Decimal
    llm_cost: Decimal
    decisions: int


def summary(bots: QuerySet, span: Range) -> Summary:
    """What ``bots`` did over ``span``: closes, fees of the fills, funding, the model's cost.
    Five queries, each an aggregate."""
    ids = bots.values("pk")
    closed = closed_in(ids, span).aggregate(
        trades=Count("id"), wins=Count("id", filter=Q(realized_pnl__gt=0)),
        losses=Count("id", filter=Q(realized_pnl__lt=0)), pnl=MoneySum("realized_pnl"))
    fees = Trade.objects.filter(bot_id__in=ids, executed_at__gte=span.start, executed_at__lte=span.end) \
        .aggregate(fees=MoneySum("fee"))["fees"] or ZERO
    funding = Entry.objects.filter(account__bot_id__in=ids, kind=Entry.Kind.FUNDING,
                                   created_at__gte=span.start, created_at__lte=span.end).aggregate(
        paid=MoneySum("amount", filter=Q(amount__lt=0)), received=MoneySum("amount", filter=Q(amount__gt=0)))
    usage = Decision.objects.filter(bot_id__in=ids, created_at__gte=span.start, created_at__lte=span.end) \
        .aggregate(cost=MoneySum("cost"), decisions=Count("id"))
    paid, received = -(funding["paid"] or ZERO), funding["received"] or ZERO
    return Summary(
        bots=bots.count(),
        totals=group_of(None, closed["trades"], closed["wins"], closed["losses"], closed["pnl"] or ZERO,
                        fees),
        funding=received - paid, funding_paid=paid, funding_received=received,
        llm_cost=usage["cost"] or ZERO, decisions=usage["decisions"],
    )
