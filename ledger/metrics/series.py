"""Return statistics of an account's value over time, from its snapshots.

The input is a time-sorted sequence of ``Point``: the account's value at an instant, and the
money moved in (+) or out (−) since the previous point that is not performance (a deposit, a
reset adjustment). Each step's return is net of that flow,

    r_i = (v_i − flow_i) / v_{i−1} − 1,

so the statistics are time-weighted: a deposit neither raises the return nor dilutes it. A step
whose previous value is ≤ 0 has no return (there is nothing to earn a return on) and is
skipped; the flow on the first point is ignored (there is no step before it).

The annualisation comes from the snapshots themselves: a year of 365 days divided by the median
spacing of the points, so a bot snapshotted every 5 minutes annualises with 105,120 periods a
year, not a trading-day 252. Every ratio matches ``empyrical`` (``empyrical-reloaded``) given
the returns of ``period_returns`` and ``annualization=periods_per_year(points)``; the tests
check that. Statistics are floats; the first failing precondition is reported as the reason.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger.metrics.result import Metric

SECONDS_PER_YEAR = 365 * 24 * 60 * 60
# Returns whose standard deviation is at most this do not vary: what is left is the rounding
# of the values into floats (~1e-17), and a Sharpe ratio of rounding noise is no statistic.
FLAT_STD = 1e-12

NEEDS_TWO_SNAPSHOTS = "needs at least two snapshots"
NO_POSITIVE_START = "no step starts from a positive value"
NOT_SPACED = "the snapshots are not spaced in time"
NEEDS_TWO_RETURNS = "needs at least two returns"
RETURNS_DO_NOT_VARY = "the returns do not vary"
NO_DOWNSIDE = "no return is below the required return"
WENT_NEGATIVE = "the account value went below zero"
TOO_LARGE = "the annualised return is too large to represent"


@dataclass(frozen=True)
class Point:
    """The account's ``value`` at ``at``; ``flow`` is the non-performance money moved in (+) or
    out (−) between the previous point and this one."""

    at: datetime
    value: float
    flow: float = 0.0


def _check_sorted(points: Sequence[Point]) -> None:
    for before, after in zip(points, points[1:], strict=False):
        if after.at < before.at:
            raise ValueError(f"points must be sorted by time: {after.at} comes after {before.at}")


def step_returns(points: Sequence[Point]) -> list[float | None]:
    """One entry per step between consecutive points: its return, or None for a step skipped
    because its previous value is ≤ 0. Aligned with ``points[1:]``."""
    _check_sorted(points)
    steps: list[float | None] = []
    for before, after in zip(points, points[1:], strict=False):
        previous = float(before.value)
        if previous <= 0:
            steps.append(None)
        else:
            steps.append((float(after.value) - float(after.flow)) / previous - 1.0)
    return steps


def period_returns(points: Sequence[Point]) -> list[float]:
    """The simple return of every step, net of flows, skipping steps that start at a value ≤ 0."""
    return [r for r in step_returns(points) if r is not None]


def wealth_index(points: Sequence[Point]) -> list[float]:
    """The growth of one unit invested at the first point, one entry per point: 1.0 at the
    first, multiplied by (1 + r) at each step (unchanged across a skipped step)."""
    if not points:
        return []
    index = [1.0]
    for r in step_returns(points):
        index.append(index[-1] if r is None else index[-1] * (1.0 + r))
    return index


MEDIAN, MEAN = "median", "mean"


def periods_per_year(points: Sequence[Point], spacing: str = MEDIAN) -> float | None:
    """Seconds in a 365-day year ÷ the median spacing of the points in seconds; None with fewer
    than two points or a median spacing of zero. The median, not the mean, so one long gap (the
    arena was down overnight) does not change the annualisation of a 5-minute series.
    ``spacing=MEAN`` takes the mean spacing (the span ÷ the steps) instead: what a sum of
    daily rollups can give (``ledger.periods``)."""
    if len(points) < 2:
        return None
    _check_sorted(points)
    if spacing == MEAN:
        spacing_seconds = (points[-1].at - points[0].at).total_seconds() / (len(points) - 1)
        return SECONDS_PER_YEAR / spacing_seconds if spacing_seconds > 0 else None
    spacing = statistics.median(
        (after.at - before.at).total_seconds() for before, after in zip(points, points[1:], strict=False)
    )
    if spacing <= 0:
        return None
    return SECONDS_PER_YEAR / spacing


def _returns_or_reason(points: Sequence[Point]) -> list[float] | str:
    if len(points) < 2:
        return NEEDS_TWO_SNAPSHOTS
    returns = period_returns(points)
    return returns if returns else NO_POSITIVE_START


def _annualised_inputs(points: Sequence[Point], *, min_returns: int,
                       spacing: str = MEDIAN) -> tuple[list[float], float] | str:
    """The returns and periods per year, or the reason the statistic cannot be computed."""
    returns = _returns_or_reason(points)
    if isinstance(returns, str):
        return returns
    ppy = periods_per_year(points, spacing)
    if ppy is None:
        return NOT_SPACED
    if len(returns) < min_returns:
        return NEEDS_TWO_RETURNS
    return returns, ppy


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _stdev(values: Sequence[float]) -> float:
    """Sample standard deviation (ddof=1), two-pass with a correction term for accuracy."""
    mean = _mean(values)
    deviations = [v - mean for v in values]
    n = len(values)
    squares = math.fsum(d * d for d in deviations) - math.fsum(deviations) ** 2 / n
    return math.sqrt(max(squares, 0.0) / (n - 1))


def per_period_rate(annual_rate: float, ppy: float) -> float:
    """The per-period rate that compounds to ``annual_rate`` over ``ppy`` periods."""
    if annual_rate <= -1:
        raise ValueError(f"an annual rate of {annual_rate} is not above -100%")
    return (1.0 + annual_rate) ** (1.0 / ppy) - 1.0


def total_return(points: Sequence[Point]) -> Metric:
    """Time-weighted total return: Π(1 + r_i) − 1 (empyrical ``cum_returns_final``)."""
    returns = _returns_or_reason(points)
    if isinstance(returns, str):
        return Metric.undefined(returns)
    return Metric(math.prod(1.0 + r for r in returns) - 1.0)


def annual_return(points: Sequence[Point], *, spacing: str = MEDIAN) -> Metric:
    """Compound annual growth: (1 + total)^(ppy / number of returns) − 1, written as empyrical's
    ``annual_return`` writes it (ending ** (1 / num_years) − 1, num_years = n / ppy)."""
    inputs = _annualised_inputs(points, min_returns=1, spacing=spacing)
    if isinstance(inputs, str):
        return Metric.undefined(inputs)
    returns, ppy = inputs
    ending = math.prod(1.0 + r for r in returns)
    if ending < 0:
        return Metric.undefined(WENT_NEGATIVE)
    try:
        grown = ending ** (1.0 / (len(returns) / ppy))
    except OverflowError:
        return Metric.undefined(TOO_LARGE)
    return Metric(grown - 1.0)


def volatility(points: Sequence[Point], *, spacing: str = MEDIAN) -> Metric:
    """Annualised volatility: std(r, ddof=1) × √ppy (empyrical ``annual_volatility``). Returns
    that do not vary have a volatility of exactly 0, a real value."""
    inputs = _annualised_inputs(points, min_returns=2, spacing=spacing)
    if isinstance(inputs, str):
        return Metric.undefined(inputs)
    returns, ppy = inputs
    std = _stdev(returns)
    return Metric(0.0 if std <= FLAT_STD else std * math.sqrt(ppy))


def sharpe(points: Sequence[Point], risk_free_annual: float = 0.0, *, spacing: str = MEDIAN) -> Metric:
    """Annualised Sharpe ratio: mean(r − rf) / std(r − rf, ddof=1) × √ppy, where rf is
    ``risk_free_annual`` as a per-period rate, (1 + rf_annual)^(1/ppy) − 1 (empyrical
    ``sharpe_ratio(returns, risk_free=rf, annualization=ppy)``)."""
    inputs = _annualised_inputs(points, min_returns=2, spacing=spacing)
    if isinstance(inputs, str):
        return Metric.undefined(inputs)
    returns, ppy = inputs
    rf = per_period_rate(risk_free_annual, ppy)
    excess = [r - rf for r in returns]
    std = _stdev(excess)
    if std <= FLAT_STD:
        return Metric.undefined(RETURNS_DO_NOT_VARY)
    return Metric(_mean(excess) / std * math.sqrt(ppy))


def sortino(points: Sequence[Point], risk_free_annual: float = 0.0, *, spacing: str = MEDIAN) -> Metric:
    """Annualised Sortino ratio as empyrical defines it: mean(r − rf) × ppy ÷ downside risk, the
    downside risk being √mean(min(r − rf, 0)²) × √ppy over ALL returns (not the std of the
    negative ones). Equal to empyrical ``sortino_ratio(returns, required_return=rf,
    annualization=ppy)`` with rf the per-period rate of ``risk_free_annual``."""
    inputs = _annualised_inputs(points, min_returns=2, spacing=spacing)
    if isinstance(inputs, str):
        return Metric.undefined(inputs)
    returns, ppy = inputs
    rf = per_period_rate(risk_free_annual, ppy)
    excess = [r - rf for r in returns]
    downside = math.sqrt(_mean([min(x, 0.0) ** 2 for x in excess])) * math.sqrt(ppy)
    if downside == 0:
        return Metric.undefined(NO_DOWNSIDE)
    return Metric(_mean(excess) * ppy / downside)
