"""The result type every metric returns: a value, or the reason there is none.

A metric that cannot be computed (too few snapshots, no losing trade, returns that do not vary)
is ``value=None`` with a short reason a person reads. It is never 0: a leaderboard that shows a
Sharpe of 0 for a bot with one snapshot tells a lie, and one that divides by zero crashes.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Metric:
    """A statistic (a float: a ratio, a fraction, seconds), or why it is undefined."""

    value: float | None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError("a Metric has either a value or a reason, not both and not neither")

    @classmethod
    def undefined(cls, reason: str) -> Metric:
        return cls(value=None, reason=reason)


@dataclass(frozen=True)
class MoneyMetric:
    """An amount of money (a Decimal, exact like the journal), or why it is undefined."""

    value: Decimal | None
    reason: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise ValueError("a MoneyMetric has either a value or a reason, not both and not neither")

    @classmethod
    def undefined(cls, reason: str) -> MoneyMetric:
        return cls(value=None, reason=reason)
