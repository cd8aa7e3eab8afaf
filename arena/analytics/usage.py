"""What the bots' language models did over a range: per bot and model, and per model across
the bots, the decisions, failures, tokens, cost and latency.

Counts and sums are grouped in SQL. The 95th percentile of latency is not an aggregate SQLite
has, so it is computed (``ledger.metrics.percentile``) from the range's latencies, read as
one column; past ``LATENCY_READ_LIMIT`` of them it is left undefined, with the reason, rather
than reading an unbounded range.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count, Q, QuerySet, Sum

from arena.analytics.params import Range
from bots.models import Decision
from ledger.aggregates import MoneySum
from ledger.metrics import Metric, percentile
from ledger.metrics.llm import NO_CALLS

ZERO = Decimal(0)
LATENCY_READ_LIMIT = 200_000
NO_LATENCY = "no decision recorded a latency"
TOO_MANY = f"more than {LATENCY_READ_LIMIT} latencies in the range: shorten it for the p95"


@dataclass(frozen=True)
class Usage:
    bot_id: int | None  # None: a model's totals across the bots
    bot_name: str | None
    model: str
    decisions: int
    failures: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    latency_mean_ms: Metric
    latency_p95_ms: Metric


def decisions_in(bots, span: Range) -> QuerySet[Decision]:
    """The decisions of ``bots`` (ids or a queryset of them) made within ``span``."""
    return Decision.objects.filter(bot_id__in=bots, created_at__gte=span.start, created_at__lte=span.end)


def _grouped(rows: QuerySet[Decision], keys: tuple[str, ...]) -> list[dict]:
    return list(rows.values(*keys).order_by(*keys).annotate(
        decisions=Count("id"), failures=Count("id", filter=Q(success=False)),
        tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out"), cost=MoneySum("cost"),
        latency_mean=Avg("latency_ms"), latencies=Count("latency_ms")))


def _mean(row: dict) -> Metric:
    if not row["decisions"]:
        return Metric.undefined(NO_CALLS)
    return Metric(float(row["latency_mean"])) if row["latencies"] else Metric.undefined(NO_LATENCY)


def _p95(values: list[float] | None, row: dict) -> Metric:
    if not row["latencies"]:
        return _mean(row)  # the same reason: no calls, or no latency
    if values is None:
        return Metric.undefined(TOO_MANY)
    return Metric(percentile(values, 95))


def _usage(row: dict, values: list[float] | None, *, bot_id, bot_name) -> Usage:
    return Usage(bot_id=bot_id, bot_name=bot_name, model=row["model"], decisions=row["decisions"],
                 failures=row["failures"], tokens_in=row["tokens_in"] or 0, tokens_out=row["tokens_out"] or 0,
                 cost=row["cost"] or ZERO, latency_mean_ms=_mean(row), latency_p95_ms=_p95(values, row))


def usage_of(bots, span: Range) -> tuple[list[Usage], list[Usage]]:
    """Per (bot, model) and per model: three queries (two grouped, one of latencies; none
    for the latencies past ``LATENCY_READ_LIMIT``)."""
    rows = decisions_in(bots, span)
    by_bot = _grouped(rows, ("bot_id", "bot__name", "model"))
    by_model = _grouped(rows, ("model",))
    latencies: dict[tuple, list[float]] | None = None
    if sum(r["latencies"] for r in by_model) <= LATENCY_READ_LIMIT:
        latencies = defaultdict(list)
        for bot_id, model, latency in rows.filter(latency_ms__isnull=False) \
                .values_list("bot_id", "model", "latency_ms").iterator(chunk_size=5000):
            latencies[(bot_id, model)].append(float(latency))
            latencies[(None, model)].append(float(latency))

    def values(bot_id, model):
        return None if latencies is None else latencies.get((bot_id, model), [])

    return ([_usage(r, values(r["bot_id"], r["model"]), bot_id=r["bot_id"], bot_name=r["bot__name"])
             for r in by_bot],
            [_usage(r, values(None, r["model"]), bot_id=None, bot_name=None) for r in by_model])
