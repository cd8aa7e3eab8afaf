"""What the language model cost a bot, and its return once that cost is counted.

The arena does not charge LLM calls to a bot's account, so a bot's trading return flatters a
bot that spends a lot on the model; ``return_net_of_llm_cost`` takes the cost off.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ledger.metrics.result import Metric

NO_CALLS = "no LLM calls"
NO_START_VALUE = "the starting value is not positive"


@dataclass(frozen=True)
class LlmCall:
    tokens_in: int
    tokens_out: int
    latency_ms: float
    cost: Decimal


@dataclass(frozen=True)
class LlmUsage:
    """Totals over the calls; latency in milliseconds (p95 by linear interpolation)."""

    calls: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    latency_mean_ms: Metric
    latency_p95_ms: Metric


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by linear interpolation between the closest ranks (the
    default of numpy.percentile): position q/100 × (n − 1) in the sorted values."""
    if not values:
        raise ValueError("the percentile of no values is undefined")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not within 0–100")
    ordered = sorted(values)
    position = q / 100 * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def llm_usage(calls: Sequence[LlmCall]) -> LlmUsage:
    """Token, cost and latency totals of ``calls``."""
    latencies = [float(c.latency_ms) for c in calls]
    if latencies:
        mean = Metric(math.fsum(latencies) / len(latencies))
        p95 = Metric(percentile(latencies, 95))
    else:
        mean = p95 = Metric.undefined(NO_CALLS)
    return LlmUsage(
        calls=len(calls),
        tokens_in=sum(c.tokens_in for c in calls),
        tokens_out=sum(c.tokens_out for c in calls),
        cost=sum((c.cost for c in calls), Decimal(0)),
        latency_mean_ms=mean,
        latency_p95_ms=p95,
    )


def return_net_of_llm_cost(
    start_value: Decimal, end_value: Decimal, flows_total: Decimal, llm_cost: Decimal
) -> Metric:
    """(end − start − flows − cost) ÷ start: the simple return over the period once deposits
    (``flows_total``, signed) are set aside and the model's cost is paid."""
    if start_value <= 0:
        return Metric.undefined(NO_START_VALUE)
    return Metric(float((end_value - start_value - flows_total - llm_cost) / start_value))
