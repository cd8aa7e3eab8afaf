"""``ledger.metrics`` against empyrical (empyrical-reloaded), the reference implementation of
these ratios, on hand-built and on random series, to 1e-9.

empyrical gets the returns of ``period_returns`` as a pandas Series and
``annualization=periods_per_year(points)``; the risk-free rate is given to it per period. Where
a metric is undefined (``value=None``) empyrical must return NaN or ±inf for the same input.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import empyrical
import empyrical.stats
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ledger.metrics import (
    Point,
    annual_return,
    calmar,
    drawdown_series,
    max_drawdown,
    max_drawdown_duration,
    period_returns,
    periods_per_year,
    sharpe,
    sortino,
    step_returns,
    total_return,
    volatility,
    wealth_index,
)
from ledger.metrics.drawdown import RECOVERY_TOLERANCE

T0 = datetime(2025, 3, 1, tzinfo=UTC)
TOLERANCE = {"rel_tol": 1e-9, "abs_tol": 1e-9}


def agree(ours, theirs):
    theirs = float(theirs)
    if ours.value is None:
        assert not math.isfinite(theirs), f"ours is undefined ({ours.reason}), empyrical says {theirs}"
    else:
        assert math.isclose(ours.value, theirs, **TOLERANCE), (ours.value, theirs)


def returns_of(points):
    return pd.Series(period_returns(points), dtype="float64")


def rf_per_period(annual, ppy):
    return (1.0 + annual) ** (1.0 / ppy) - 1.0


def at(*offsets):
    return [T0 + timedelta(seconds=s) for s in offsets]


def series(values, *, seconds=86400, flows=None):
    flows = flows or [0.0] * len(values)
    return [Point(T0 + timedelta(seconds=i * seconds), float(v), float(f))
            for i, (v, f) in enumerate(zip(values, flows, strict=True))]


HAND_SERIES = {
    "swing": series([100, 110, 99, 108.9]),
    "deposit and withdrawal": series([1000, 1100, 2200, 1780, 1900], flows=[0, 0, 1000, -200, 0]),
    "falls from the start": series([10000, 8000, 9500, 7000]),
    "low high below the start": series([10000, 9000, 9500, 8000, 8100]),
    "five minutes, irregular": [
        Point(t, v) for t, v in zip(at(0, 300, 600, 4200, 4500, 4800, 5100),
                                    [100, 101, 100.5, 102, 101, 103, 102.5], strict=True)
    ],
    "hourly drift": series([1000 * (1 + 0.01 * math.sin(i)) * 1.001**i for i in range(60)], seconds=3600),
    "wiped out then funded": series([100, 0, 50, 60, 55], flows=[0, 0, 50, 0, 0]),
    "weekly gains": series([100, 103, 101, 108, 112, 111], seconds=7 * 86400),
}


@pytest.mark.parametrize("risk_free_annual", [0.0, 0.05, -0.01])
@pytest.mark.parametrize("name", HAND_SERIES)
def test_hand_series_agree_with_empyrical(name, risk_free_annual):
    points = HAND_SERIES[name]
    returns, ppy = returns_of(points), periods_per_year(points)
    rf = rf_per_period(risk_free_annual, ppy)
    agree(sharpe(points, risk_free_annual), empyrical.sharpe_ratio(returns, risk_free=rf, annualization=ppy))
    agree(sortino(points, risk_free_annual),
          empyrical.sortino_ratio(returns, required_return=rf, annualization=ppy))
    agree(volatility(points), empyrical.annual_volatility(returns, annualization=ppy))
    agree(max_drawdown(points), -empyrical.max_drawdown(returns))
    agree(calmar(points), empyrical.calmar_ratio(returns, annualization=ppy))
    agree(total_return(points), empyrical.cum_returns_final(returns))
    agree(annual_return(points), empyrical.annual_return(returns, annualization=ppy))


def test_the_hand_series_are_defined_where_it_matters():
    """The comparison above is not vacuous: these series do have every ratio."""
    for name in ("swing", "deposit and withdrawal", "five minutes, irregular", "hourly drift"):
        points = HAND_SERIES[name]
        for metric in (sharpe, sortino, volatility, max_drawdown, calmar, total_return):
            assert metric(points).value is not None, (name, metric.__name__)


# --- random series ---------------------------------------------------------------------------


@st.composite
def value_series(draw, *, min_points=2, zeros=False):
    """A sorted series: gaps from a minute to a week, values from 1 to 1e6 (and 0 if
    ``zeros``), and flows of up to half the value in either direction."""
    n = draw(st.integers(min_points, 40))
    gaps = draw(st.lists(st.integers(60, 7 * 86400), min_size=n - 1, max_size=n - 1))
    value = st.floats(1.0, 1e6)
    values = draw(st.lists(value | st.just(0.0) if zeros else value, min_size=n, max_size=n))
    shares = draw(st.lists(st.just(0.0) | st.floats(-0.5, 0.5), min_size=n, max_size=n))
    offsets = np.cumsum([0, *gaps]).tolist()
    return [Point(T0 + timedelta(seconds=s), v, v * share)
            for s, v, share in zip(offsets, values, shares, strict=True)]


def well_conditioned(values):
    """The deviation is not lost in rounding: two summations of nearly equal numbers in a
    different order (fsum here, pairwise in numpy) would differ in the digits compared."""
    mean = math.fsum(values) / len(values)
    spread = max(values) - min(values)
    return spread > 1e-6 * max(abs(mean), 1e-300)


RANDOM = settings(max_examples=300, deadline=None)


@RANDOM
@given(points=value_series(min_points=3), risk_free_annual=st.floats(-0.05, 0.2))
def test_sharpe_agrees_with_empyrical(points, risk_free_annual):
    returns, ppy = returns_of(points), periods_per_year(points)
    rf = rf_per_period(risk_free_annual, ppy)
    assume(well_conditioned((returns - rf).tolist()))
    agree(sharpe(points, risk_free_annual), empyrical.sharpe_ratio(returns, risk_free=rf, annualization=ppy))


@RANDOM
@given(points=value_series(min_points=3), risk_free_annual=st.floats(-0.05, 0.2))
def test_sortino_agrees_with_empyrical(points, risk_free_annual):
    returns, ppy = returns_of(points), periods_per_year(points)
    rf = rf_per_period(risk_free_annual, ppy)
    agree(sortino(points, risk_free_annual),
          empyrical.sortino_ratio(returns, required_return=rf, annualization=ppy))


@RANDOM
@given(points=value_series(min_points=3))
def test_volatility_agrees_with_empyrical(points):
    returns, ppy = returns_of(points), periods_per_year(points)
    assume(well_conditioned(returns.tolist()))
    agree(volatility(points), empyrical.annual_volatility(returns, annualization=ppy))


@RANDOM
@given(points=value_series(zeros=True))
def test_drawdowns_and_total_return_agree_with_empyrical(points):
    returns = returns_of(points)
    agree(max_drawdown(points), -empyrical.max_drawdown(returns))
    agree(total_return(points), empyrical.cum_returns_final(returns))
    # empyrical's series has one entry per return; ours one per point, unchanged at a skipped step
    steps = zip(drawdown_series(points)[1:], step_returns(points), strict=True)
    ours = [dd for dd, r in steps if r is not None]
    theirs = (-np.asarray(empyrical.stats.drawdown_series(returns))).tolist() if len(returns) else []
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)


@RANDOM
@given(points=value_series())
def test_calmar_and_annual_return_agree_with_empyrical(points):
    returns, ppy = returns_of(points), periods_per_year(points)
    with np.errstate(over="ignore"):
        agree(annual_return(points), empyrical.annual_return(returns, annualization=ppy))
        agree(calmar(points), empyrical.calmar_ratio(returns, annualization=ppy))


def _brute_force_duration(points):
    """For every point under its running peak: from the last point at a peak before it to the
    first point back at that peak after it (or the last point)."""
    index = wealth_index(points)
    peaks = [max(index[: k + 1]) for k in range(len(index))]

    def at_peak(i, peak):
        return index[i] >= peak * (1 - RECOVERY_TOLERANCE)

    longest = 0.0
    for k in range(len(index)):
        if at_peak(k, peaks[k]):
            continue
        start = max(m for m in range(k) if at_peak(m, peaks[m]))
        end = next((j for j in range(k + 1, len(index)) if at_peak(j, peaks[k])), len(index) - 1)
        longest = max(longest, (points[end].at - points[start].at).total_seconds())
    return longest


@RANDOM
@given(points=value_series())
def test_drawdown_duration_agrees_with_a_brute_force_search(points):
    assert max_drawdown_duration(points).value == _brute_force_duration(points)
