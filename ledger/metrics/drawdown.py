"""Drawdowns of the flow-adjusted wealth index (``series.wealth_index``), and the Calmar ratio.

The running peak starts at the FIRST point: a bot that only loses from its starting balance is
in drawdown from that balance. (The legacy arena measured drawdowns only from peaks above the
initial balance, so a bot that never got above its start reported no drawdown at all.) The
index is flow-adjusted, so a withdrawal is not a drawdown and a deposit is not a new peak.

Drawdowns are positive fractions of the peak: 0.3 is 30% below it. They match empyrical
(``max_drawdown`` is −empyrical ``max_drawdown`` of the same returns).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from ledger.metrics.result import Metric
from ledger.metrics.series import (
    MEDIAN,
    NEEDS_TWO_SNAPSHOTS,
    NO_POSITIVE_START,
    Point,
    annual_return,
    period_returns,
    wealth_index,
)

NO_DRAWDOWN = "the value never fell below a peak"
TOO_LARGE_RATIO = "the ratio is too large to represent"
# Back at the peak when within this relative distance of it: compounding many returns rounds,
# and 100 → 90 → 100 should recover even when the index comes back as 0.9999999999999999.
RECOVERY_TOLERANCE = 1e-12


def drawdown_series(points: Sequence[Point]) -> list[float]:
    """The drawdown at each point, (peak − index) / peak, the peak being the highest wealth
    index so far including the first point (so the first entry is 0.0)."""
    drawdowns = []
    peak = -math.inf
    for index in wealth_index(points):
        peak = max(peak, index)
        drawdowns.append((peak - index) / peak)
    return drawdowns


def _check_has_returns(points: Sequence[Point]) -> str | None:
    if len(points) < 2:
        return NEEDS_TWO_SNAPSHOTS
    if not period_returns(points):
        return NO_POSITIVE_START
    return None


def max_drawdown(points: Sequence[Point]) -> Metric:
    """The deepest drawdown, a positive fraction (0.0 if the value never fell below a peak)."""
    reason = _check_has_returns(points)
    if reason:
        return Metric.undefined(reason)
    return Metric(max(drawdown_series(points)))


def max_drawdown_duration(points: Sequence[Point]) -> Metric:
    """The longest time underwater, in seconds: from the last point at a peak until the index
    first gets back to that peak (within ``RECOVERY_TOLERANCE``), or until the last point if it
    never does. 0.0 if the value never fell below a peak."""
    reason = _check_has_returns(points)
    if reason:
        return Metric.undefined(reason)
    longest = 0.0
    peak, peak_at, underwater = -math.inf, points[0].at, False
    for point, index in zip(points, wealth_index(points), strict=True):
        if index >= peak * (1.0 - RECOVERY_TOLERANCE):
            if underwater:
                longest = max(longest, (point.at - peak_at).total_seconds())
            peak, peak_at, underwater = max(peak, index), point.at, False
        else:
            underwater = True
    if underwater:
        longest = max(longest, (points[-1].at - peak_at).total_seconds())
    return Metric(longest)


def calmar(points: Sequence[Point], *, spacing: str = MEDIAN) -> Metric:
    """Annualised return ÷ max drawdown, as empyrical ``calmar_ratio(returns,
    annualization=ppy)``: annual return (1 + total)^(ppy/n) − 1 over the positive max drawdown,
    undefined when there is no drawdown or the ratio is infinite."""
    drawdown = max_drawdown(points)
    if drawdown.value is None:
        return drawdown
    if drawdown.value <= 0:
        return Metric.undefined(NO_DRAWDOWN)
    annual = annual_return(points, spacing=spacing)
    if annual.value is None:
        return annual
    ratio = annual.value / drawdown.value
    if math.isinf(ratio):
        return Metric.undefined(TOO_LARGE_RATIO)
    return Metric(ratio)
