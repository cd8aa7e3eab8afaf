"""Value-series metrics (``ledger.metrics.series`` and ``.drawdown``) on hand-computed series.

Each expected value is worked out in the comment beside it; the agreement with empyrical on
these and on random series is in ``test_metrics_oracle.py``.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from ledger.metrics import (
    Metric,
    MoneyMetric,
    Point,
    annual_return,
    calmar,
    drawdown_series,
    max_drawdown,
    max_drawdown_duration,
    per_period_rate,
    period_returns,
    periods_per_year,
    sharpe,
    sortino,
    step_returns,
    total_return,
    volatility,
    wealth_index,
)

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
YEAR = timedelta(days=365)


def series(values, *, step=DAY, flows=None):
    flows = flows or [0.0] * len(values)
    pairs = zip(values, flows, strict=True)
    return [Point(T0 + i * step, float(v), float(f)) for i, (v, f) in enumerate(pairs)]


def close(metric, expected):
    assert metric.reason is None, metric.reason
    assert math.isclose(metric.value, expected, rel_tol=1e-12, abs_tol=1e-12), (metric.value, expected)


# 100 → 110 → 99 → 108.9, daily: returns +10%, −10%, +10%.
SWING = series([100, 110, 99, 108.9])


# --- returns --------------------------------------------------------------------------


def test_period_returns_are_net_of_deposits_and_withdrawals():
    # 1000 → 1100: +10%.  Deposit 1000, value 2200: (2200 − 1000) / 1100 − 1 = 1/11.
    # Withdraw 200, value 1780: (1780 + 200) / 2200 − 1 = 1980/2200 − 1 = −10%.
    points = series([1000, 1100, 2200, 1780], flows=[0, 0, 1000, -200])
    assert period_returns(points) == pytest.approx([0.1, 1 / 11, -0.1], rel=1e-12)
    # Π(1 + r) − 1 = 1.1 × 12/11 × 0.9 − 1 = 1.2 × 0.9 − 1 = 0.08
    close(total_return(points), 0.08)


def test_a_deposit_is_not_performance():
    # 1000 → 2000 with 1000 deposited: r = 0; → 2200: r = 10%. Time-weighted total 10%, where
    # (end − start) / start would claim 120%.
    points = series([1000, 2000, 2200], flows=[0, 1000, 0])
    assert period_returns(points) == pytest.approx([0.0, 0.1], rel=1e-12)
    close(total_return(points), 0.1)


def test_the_flow_on_the_first_point_is_ignored():
    points = series([1000, 1100], flows=[500, 0])
    close(total_return(points), 0.1)


def test_a_step_from_a_value_at_or_below_zero_is_skipped():
    # 100 → 0: −100%. 0 → 50 (50 deposited): skipped, nothing to earn a return on. 50 → 60: +20%.
    points = series([100, 0, 50, 60], flows=[0, 0, 50, 0])
    assert step_returns(points) == [-1.0, None, pytest.approx(0.2)]
    assert period_returns(points) == [-1.0, pytest.approx(0.2)]
    # the index: 1 → 0 → 0 (skipped step, unchanged) → 0 × 1.2
    assert wealth_index(points) == [1.0, 0.0, 0.0, 0.0]
    close(total_return(points), -1.0)


def test_a_series_of_steps_that_all_start_at_zero_has_no_return():
    points = series([0, 0, 10], flows=[0, 0, 10])
    assert period_returns(points) == []
    assert total_return(points) == Metric(None, "no step starts from a positive value")
    assert max_drawdown(points).reason == "no step starts from a positive value"


def test_points_out_of_order_are_refused():
    points = [Point(T0 + DAY, 100.0), Point(T0, 110.0)]
    with pytest.raises(ValueError, match="sorted by time"):
        period_returns(points)


def test_wealth_index_compounds_from_one():
    # 1.0, 1.1, 1.1 × 0.9 = 0.99, 0.99 × 1.1 = 1.089
    assert wealth_index(SWING) == pytest.approx([1.0, 1.1, 0.99, 1.089], rel=1e-12)
    assert wealth_index([]) == []


# --- annualisation ----------------------------------------------------------------------


def test_daily_snapshots_annualise_with_365_periods():
    assert periods_per_year(SWING) == 365.0


def test_five_minute_snapshots_annualise_with_105120_periods_even_with_gaps():
    # Spacings 5, 5, 60, 5, 5 minutes: the median is 5 minutes → 365 × 24 × 12 = 105,120.
    minutes = [0, 5, 10, 70, 75, 80]
    points = [Point(T0 + timedelta(minutes=m), v) for m, v in zip(minutes, [100, 101, 100.5, 102, 101, 103],
                                                                   strict=True)]
    assert periods_per_year(points) == 365 * 24 * 12 == 105120
    returns = period_returns(points)
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    close(sharpe(points), mean / std * math.sqrt(105120))
    close(volatility(points), std * math.sqrt(105120))


def test_periods_per_year_needs_two_points_spaced_in_time():
    assert periods_per_year([]) is None
    assert periods_per_year(series([100])) is None
    assert periods_per_year([Point(T0, 100.0), Point(T0, 101.0), Point(T0, 102.0)]) is None


def test_per_period_rate_compounds_back_to_the_annual_rate():
    # (1 + 0.01)^365 − 1 a year is 1% a day.
    assert per_period_rate(1.01**365 - 1, 365) == pytest.approx(0.01, rel=1e-9)
    with pytest.raises(ValueError):
        per_period_rate(-1.0, 365)


# --- volatility, Sharpe, Sortino ---------------------------------------------------------


def test_volatility_by_hand():
    # returns 0.1, −0.1, 0.1: mean 1/30, deviations 2/30, −4/30, 2/30,
    # sample variance (4 + 16 + 4)/900 / 2 = 1/75 → annualised √(1/75) × √365 = √(365/75)
    close(volatility(SWING), math.sqrt(365 / 75))


def test_sharpe_by_hand():
    # mean / std × √365 = (1/30) / √(1/75) × √365 = √75/30 × √365 = √(365/12)
    close(sharpe(SWING), math.sqrt(365 / 12))


def test_sharpe_with_a_risk_free_rate_by_hand():
    # A 1%-a-day risk-free rate shifts every return by 0.01, not the deviation:
    # (1/30 − 1/100) / √(1/75) × √365 = (7/300) × √75 × √365
    close(sharpe(SWING, risk_free_annual=1.01**365 - 1), 7 / 300 * math.sqrt(75) * math.sqrt(365))


def _legacy_sharpe(points):
    """The legacy arena's 'Sharpe': mean step PnL ÷ mean value × √252."""
    pnl = [b.value - a.value for a, b in zip(points, points[1:], strict=False)]
    return (sum(pnl) / len(pnl)) / (sum(p.value for p in points) / len(points)) * math.sqrt(252)


def test_sharpe_is_not_the_legacy_pnl_over_value_ratio():
    # Legacy: PnL 10, −11, 9.9 → mean 2.9667; mean value (100 + 110 + 99 + 108.9)/4 = 104.475;
    # 2.9667 / 104.475 × √252 ≈ 0.4508. It ignores the risk (no deviation at all) and assumes
    # 252 periods a year for daily snapshots of a market that trades 365 days. The correct
    # value is √(365/12) ≈ 5.515; the legacy formula fails this test.
    expected = math.sqrt(365 / 12)
    assert _legacy_sharpe(SWING) == pytest.approx(0.4508, abs=1e-4)
    assert not math.isclose(_legacy_sharpe(SWING), expected, rel_tol=0.01)
    close(sharpe(SWING), expected)


def test_sortino_by_hand():
    # numerator mean(r) × 365 = 365/30; downside √mean(min(r, 0)²) × √365 = √(0.01/3) × √365;
    # (365/30) / (√(1/300) × √365) = √(365 × 300)/30 = √(365/3)
    close(sortino(SWING), math.sqrt(365 / 3))


def test_sortino_counts_every_return_in_the_downside_mean():
    # returns 0.1, −0.1, 0.1, −0.2 (100 → 110 → 99 → 108.9 → 87.12): downside squares
    # 0, 0.01, 0, 0.04 → mean 0.0125 (over all four, not the two negative ones)
    # mean return (0.1 − 0.1 + 0.1 − 0.2)/4 = −0.025 → −0.025 × 365 / (√0.0125 × √365)
    points = series([100, 110, 99, 108.9, 87.12])
    close(sortino(points), -0.025 * 365 / (math.sqrt(0.0125) * math.sqrt(365)))


def test_a_series_that_only_rises_has_no_sortino():
    assert sortino(series([100, 110, 120])) == Metric(None, "no return is below the required return")


def test_a_flat_series_has_zero_volatility_and_no_sharpe():
    flat = series([100, 100, 100, 100])
    assert volatility(flat) == Metric(0.0)
    assert sharpe(flat) == Metric(None, "the returns do not vary")
    assert sortino(flat).reason == "no return is below the required return"
    assert calmar(flat) == Metric(None, "the value never fell below a peak")
    assert max_drawdown(flat) == Metric(0.0)
    assert max_drawdown_duration(flat) == Metric(0.0)


def test_constant_returns_do_not_vary_either():
    # 100 → 200 → 400 → 800: +100% every day, exactly.
    assert sharpe(series([100, 200, 400, 800])) == Metric(None, "the returns do not vary")


@pytest.mark.parametrize("metric", [total_return, annual_return, volatility, sharpe, sortino, max_drawdown,
                                    max_drawdown_duration, calmar])
@pytest.mark.parametrize("points", [[], series([100])], ids=["none", "one"])
def test_fewer_than_two_snapshots_define_nothing(metric, points):
    assert metric(points) == Metric(None, "needs at least two snapshots")


@pytest.mark.parametrize("metric", [volatility, sharpe, sortino])
def test_one_return_has_no_deviation(metric):
    assert metric(series([100, 110])) == Metric(None, "needs at least two returns")


@pytest.mark.parametrize("metric", [annual_return, volatility, sharpe, sortino, calmar])
def test_snapshots_at_one_instant_cannot_be_annualised(metric):
    points = [Point(T0, 100.0), Point(T0, 90.0), Point(T0, 95.0)]
    assert metric(points) == Metric(None, "the snapshots are not spaced in time")


# --- drawdown -----------------------------------------------------------------------------


def _legacy_max_drawdown(points, initial):
    """The legacy rule: a drawdown counts only from a peak above the initial balance."""
    peak, worst = None, 0.0
    for p in points:
        if p.value > initial and (peak is None or p.value > peak):
            peak = p.value
        if peak is not None:
            worst = max(worst, (peak - p.value) / peak)
    return worst


def test_a_series_that_only_falls_from_its_start_is_in_drawdown_from_the_start():
    # 10000 → 8000 → 9500 → 7000: the start is the peak. Drawdowns 0, 2000/10000,
    # 500/10000, 3000/10000. The legacy rule found no peak above 10000 and reported 0.
    points = series([10000, 8000, 9500, 7000])
    assert drawdown_series(points) == pytest.approx([0.0, 0.2, 0.05, 0.3], abs=1e-12)
    close(max_drawdown(points), 0.3)
    assert _legacy_max_drawdown(points, initial=10000) == 0.0


def test_the_drawdown_is_measured_from_the_start_not_from_a_lower_later_high():
    # 10000 → 9000 → 9500 → 8000: 9500 is a local high below the start, not a peak. The
    # drawdown at 8000 is (10000 − 8000)/10000 = 0.2, not (9500 − 8000)/9500 ≈ 0.158.
    points = series([10000, 9000, 9500, 8000])
    assert drawdown_series(points) == pytest.approx([0.0, 0.1, 0.05, 0.2], abs=1e-12)
    close(max_drawdown(points), 0.2)
    assert not math.isclose(max_drawdown(points).value, 1500 / 9500, rel_tol=1e-3)
    assert _legacy_max_drawdown(points, initial=10000) == 0.0


def test_a_new_high_is_a_new_peak():
    # 100 → 120 → 90 → 130 → 117: drawdowns 0, 0, 30/120 = 0.25, 0, 13/130 = 0.1
    points = series([100, 120, 90, 130, 117])
    assert drawdown_series(points) == pytest.approx([0.0, 0.0, 0.25, 0.0, 0.1], abs=1e-12)
    close(max_drawdown(points), 0.25)


def test_a_withdrawal_is_not_a_drawdown():
    # 1000 → 500 with 500 withdrawn: r = (500 + 500)/1000 − 1 = 0 → 550: +10%. No drawdown.
    points = series([1000, 500, 550], flows=[0, -500, 0])
    assert max_drawdown(points) == Metric(0.0)


def test_the_longest_time_underwater():
    # hourly: 100, 90, 95, 100 | 120, 110, 115 (end)
    # first dip: peak at 0h, back at 100 at 3h → 3 h; second: peak at 4h, not back by 6h → 2 h
    points = series([100, 90, 95, 100, 120, 110, 115], step=timedelta(hours=1))
    assert max_drawdown_duration(points) == Metric(3 * 3600.0)


def test_an_unrecovered_drawdown_lasts_until_the_last_point():
    # 100 → 120 (1h) → 60 (2h) → 119 (10h): the peak at 1h is never regained → 9 h
    points = [Point(T0, 100.0), Point(T0 + timedelta(hours=1), 120.0), Point(T0 + timedelta(hours=2), 60.0),
              Point(T0 + timedelta(hours=10), 119.0)]
    assert max_drawdown_duration(points) == Metric(9 * 3600.0)


def test_time_underwater_counts_from_the_last_point_at_the_peak():
    # 100, 100, 100, 90, 100 daily: flat at the peak for two days, then one day under → 2 days
    assert max_drawdown_duration(series([100, 100, 100, 90, 100])) == Metric(2 * 86400.0)


def test_a_rising_series_is_never_underwater():
    assert max_drawdown_duration(series([100, 101, 105, 110])) == Metric(0.0)


# --- annual return and Calmar ---------------------------------------------------------------


def test_annual_return_by_hand():
    # yearly snapshots 100 → 110 → 121: total 21% over two years → 1.21^(1/2) − 1 = 10% a year
    close(annual_return(series([100, 110, 121], step=YEAR)), 0.1)


def test_calmar_by_hand():
    # yearly 100 → 50 → 150: returns −50%, +200%; total 0.5 × 3 − 1 = 0.5 over 2 years
    # annual 1.5^(1/2) − 1; max drawdown 0.5 → Calmar 2 × (√1.5 − 1) ≈ 0.449
    points = series([100, 50, 150], step=YEAR)
    close(max_drawdown(points), 0.5)
    close(calmar(points), 2 * (math.sqrt(1.5) - 1))


def test_a_return_too_large_to_annualise_is_undefined_not_infinite():
    # one-second snapshots, +50% then −10%: 31,536,000 periods a year over 2 returns →
    # 1.35^15,768,000, far beyond the largest float.
    points = series([100, 150, 135], step=timedelta(seconds=1))
    assert annual_return(points) == Metric(None, "the annualised return is too large to represent")
    assert calmar(points).reason == "the annualised return is too large to represent"


def test_annual_return_of_an_account_that_went_below_zero_is_undefined():
    # 100 → −20 (a paper liquidation the legacy never enforced): r = −1.2, wealth −0.2
    assert annual_return(series([100, -20])) == Metric(None, "the account value went below zero")


# --- the result types ---------------------------------------------------------------------


def test_a_metric_has_a_value_or_a_reason():
    assert Metric(1.5) == Metric(value=1.5, reason=None)
    for cls in (Metric, MoneyMetric):
        with pytest.raises(ValueError):
            cls(value=None, reason=None)
        with pytest.raises(ValueError):
            cls(value=1, reason="both")


def test_returns_that_differ_only_by_float_rounding_do_not_vary():
    # Deposits that exactly match the value's rise leave returns of ~1e-17, not 0: rounding,
    # which must not read as a Sharpe of 60 (found by tests/ledger/test_rollups.py).
    points = series([10000, 10035.48, 10070.96, 10838.53], flows=[0, 35.48, 35.48, 767.57])
    assert all(abs(r) < 1e-12 for r in period_returns(points))
    assert sharpe(points) == Metric.undefined("the returns do not vary")
    assert volatility(points) == Metric(0.0)
