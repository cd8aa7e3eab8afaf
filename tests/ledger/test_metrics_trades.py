"""Trade, exposure and LLM-cost metrics (``ledger.metrics.trades``, ``.exposure``, ``.llm``),
by hand: the arithmetic is in the comments."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.metrics import (
    ClosedTrade,
    Exposure,
    LlmCall,
    Metric,
    MoneyMetric,
    PositionSpan,
    average_hold_seconds,
    average_leverage,
    average_loss,
    average_win,
    biggest_loss,
    biggest_win,
    expectancy,
    exposure,
    fees_paid,
    funding_paid,
    funding_received,
    llm_usage,
    percentile,
    profit_factor,
    return_net_of_llm_cost,
    trade_stats,
    win_rate,
)

D = Decimal
T0 = datetime(2025, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def trade(pnl, *, fee="1", hours=1, side="LONG", leverage=10, margin="100"):
    return ClosedTrade(pnl=D(pnl), fee=D(fee), opened_at=T0, closed_at=T0 + hours * H, side=side,
                       leverage=leverage, margin=D(margin))


# +100, −50, 0 (a scratch), +30, −20; fees 2 + 1 + 1 + 0.5 + 0.5 = 5
MIXED = [
    trade("100", fee="2", hours=2, leverage=10, margin="1000"),
    trade("-50", fee="1", hours=1, side="SHORT", leverage=2, margin="500"),
    trade("0", fee="1", hours=3, leverage=20, margin="100"),
    trade("30", fee="0.5", hours=4, side="SHORT", leverage=5, margin="200"),
    trade("-20", fee="0.5", hours=5, leverage=1, margin="200"),
]


def test_mixed_trades_by_hand():
    # gross profit 130, gross loss 70 → 13/7
    assert profit_factor(MIXED) == Metric(130 / 70)
    # (100 − 50 + 0 + 30 − 20) / 5 = 12, the scratch in the denominator
    assert expectancy(MIXED) == MoneyMetric(D("12"))
    # two wins out of five trades (the scratch is a trade, not a win)
    assert win_rate(MIXED) == Metric(0.4)
    assert average_win(MIXED) == MoneyMetric(D("65"))  # (100 + 30) / 2
    assert average_loss(MIXED) == MoneyMetric(D("-35"))  # (−50 − 20) / 2
    assert biggest_win(MIXED) == MoneyMetric(D("100"))
    assert biggest_loss(MIXED) == MoneyMetric(D("-50"))
    assert fees_paid(MIXED) == D("5.0")
    # margin-weighted: (10×1000 + 2×500 + 20×100 + 5×200 + 1×200) / 2000 = 14200/2000 = 7.1
    # (the plain mean, (10 + 2 + 20 + 5 + 1)/5 = 7.6, would weigh the 100-USDT 20× bet like the rest)
    assert average_leverage(MIXED) == Metric(7.1)
    # (2 + 1 + 3 + 4 + 5) h / 5 = 3 h
    assert average_hold_seconds(MIXED) == Metric(3 * 3600.0)


def test_no_trades_define_no_ratio_and_cost_nothing():
    stats = trade_stats([])
    assert stats.trades == stats.wins == stats.losses == 0
    for metric in (stats.profit_factor, stats.win_rate, stats.average_leverage, stats.average_hold_seconds):
        assert metric == Metric(None, "no trades")
    money = (stats.expectancy, stats.average_win, stats.average_loss, stats.biggest_win, stats.biggest_loss)
    assert set(money) == {MoneyMetric(None, "no trades")}
    assert stats.fees_paid == stats.funding_paid == stats.funding_received == D(0)


def test_one_winning_trade():
    stats = trade_stats([trade("25", fee="1.5", hours=2, leverage=3, margin="50")])
    assert stats.profit_factor == Metric(None, "no losing trades")
    assert stats.win_rate == Metric(1.0)
    assert stats.expectancy == stats.average_win == stats.biggest_win == MoneyMetric(D("25"))
    assert stats.average_loss == stats.biggest_loss == MoneyMetric(None, "no losing trades")
    assert stats.fees_paid == D("1.5")
    assert stats.average_leverage == Metric(3.0)
    assert stats.average_hold_seconds == Metric(7200.0)


def test_all_wins():
    trades = [trade("10"), trade("30")]
    assert profit_factor(trades) == Metric(None, "no losing trades")
    assert win_rate(trades) == Metric(1.0)
    assert average_win(trades) == MoneyMetric(D("20"))


def test_all_losses_have_a_profit_factor_of_zero():
    # 0 profit ÷ 40 lost: defined, and zero
    trades = [trade("-10"), trade("-30")]
    assert profit_factor(trades) == Metric(0.0)
    assert win_rate(trades) == Metric(0.0)
    assert average_win(trades) == MoneyMetric(None, "no winning trades")
    assert biggest_win(trades) == MoneyMetric(None, "no winning trades")
    assert average_loss(trades) == MoneyMetric(D("-20"))
    assert expectancy(trades) == MoneyMetric(D("-20"))


def test_scratches_only_are_trades_that_neither_win_nor_lose():
    stats = trade_stats([trade("0"), trade("0")])
    assert (stats.trades, stats.wins, stats.losses) == (2, 0, 0)
    assert stats.win_rate == Metric(0.0)
    assert stats.profit_factor == Metric(None, "no losing trades")
    assert stats.expectancy == MoneyMetric(D("0"))


def test_trades_without_margin_have_no_average_leverage():
    assert average_leverage([trade("1", margin="0")]) == Metric(None, "the trades have no margin")


def test_funding_paid_and_received_are_kept_apart():
    # paid 1.5 + 0.5 = 2 (reported positive), received 2 + 0.25 = 2.25; the zero is neither
    amounts = [D("-1.5"), D("2"), D("-0.5"), D("0"), D("0.25")]
    assert funding_paid(amounts) == D("2.0")
    assert funding_received(amounts) == D("2.25")
    stats = trade_stats(MIXED, funding=amounts)
    assert (stats.funding_paid, stats.funding_received) == (D("2.0"), D("2.25"))


def test_a_trade_is_checked_when_made():
    with pytest.raises(ValueError, match="side"):
        trade("1", side="BUY")
    with pytest.raises(ValueError, match="before it opened"):
        ClosedTrade(pnl=D(1), fee=D(0), opened_at=T0, closed_at=T0 - H, side="LONG", leverage=1, margin=D(1))


# --- exposure --------------------------------------------------------------------------------


def test_exposure_by_hand():
    # period [0h, 10h): long [1h, 4h), short [3h, 6h), long from 8h, still open
    #   0–1 flat | 1–3 long | 3–4 both | 4–6 short | 6–8 flat | 8–10 long
    # long 2 + 2 = 4 h, short 2 h, both 1 h, flat 1 + 2 = 3 h, of 10 h
    spans = [PositionSpan("LONG", T0 + H, T0 + 4 * H), PositionSpan("SHORT", T0 + 3 * H, T0 + 6 * H),
             PositionSpan("LONG", T0 + 8 * H)]
    assert exposure(spans, start=T0, end=T0 + 10 * H) == Exposure(
        long=Metric(0.4), short=Metric(0.2), both=Metric(0.1), flat=Metric(0.3)
    )


def test_overlapping_positions_on_one_side_count_once_and_spans_are_clipped_to_the_period():
    # two longs over [−2h, 3h) and [1h, 2h), period [0h, 4h): long 0–3 (3 h), flat 3–4 (1 h);
    # a short that closed before the period does not count
    spans = [PositionSpan("LONG", T0 - 2 * H, T0 + 3 * H), PositionSpan("LONG", T0 + H, T0 + 2 * H),
             PositionSpan("SHORT", T0 - 5 * H, T0 - H)]
    shares = exposure(spans, start=T0, end=T0 + 4 * H)
    assert (shares.long, shares.short, shares.both, shares.flat) == (Metric(0.75), Metric(0.0), Metric(0.0),
                                                                    Metric(0.25))


def test_closed_trades_are_spans_too():
    # one short open [0h, 2h) of a 4-hour period
    shares = exposure([trade("5", hours=2, side="SHORT")], start=T0, end=T0 + 4 * H)
    assert (shares.short, shares.flat) == (Metric(0.5), Metric(0.5))


def test_no_positions_is_all_flat_and_an_empty_period_is_undefined():
    assert exposure([], start=T0, end=T0 + H).flat == Metric(1.0)
    empty = exposure([PositionSpan("LONG", T0)], start=T0, end=T0)
    assert {empty.long, empty.short, empty.both, empty.flat} == {Metric(None, "the period is empty")}


def test_exposure_refuses_an_unknown_side():
    with pytest.raises(ValueError, match="side"):
        exposure([PositionSpan("UP", T0)], start=T0, end=T0 + H)


span_in_minutes = st.tuples(st.sampled_from(["LONG", "SHORT"]), st.integers(-30, 150),
                            st.one_of(st.none(), st.integers(0, 60)))


@settings(max_examples=200, deadline=None)
@given(spans=st.lists(span_in_minutes, max_size=6), minutes=st.integers(1, 120))
def test_exposure_agrees_with_counting_minute_by_minute(spans, minutes):
    def minute(m):
        return T0 + timedelta(minutes=m)

    positions = [PositionSpan(side, minute(o), None if d is None else minute(o + d)) for side, o, d in spans]
    counts = {"long": 0, "short": 0, "both": 0, "flat": 0}
    for m in range(minutes):
        now = minute(m)
        open_sides = {p.side for p in positions
                      if p.opened_at <= now and (p.closed_at is None or now < p.closed_at)}
        state = {frozenset(): "flat", frozenset({"LONG"}): "long", frozenset({"SHORT"}): "short"}.get(
            frozenset(open_sides), "both")
        counts[state] += 1
    shares = exposure(positions, start=T0, end=minute(minutes))
    assert {k: getattr(shares, k).value for k in counts} == {k: n / minutes for k, n in counts.items()}


# --- LLM cost --------------------------------------------------------------------------------


def call(latency, *, tokens_in=1000, tokens_out=200, cost="0.01"):
    return LlmCall(tokens_in=tokens_in, tokens_out=tokens_out, latency_ms=latency, cost=D(cost))


def test_llm_usage_by_hand():
    calls = [call(100), call(200, cost="0.02"), call(300), call(400, tokens_out=300),
             call(1000, tokens_in=500)]
    usage = llm_usage(calls)
    assert (usage.calls, usage.tokens_in, usage.tokens_out) == (5, 4500, 1100)
    assert usage.cost == D("0.06")
    assert usage.latency_mean_ms == Metric(400.0)  # 2000 / 5
    # p95 at rank 0.95 × (5 − 1) = 3.8 of the sorted latencies: 400 + 0.8 × (1000 − 400) = 880
    assert usage.latency_p95_ms.value == pytest.approx(880.0, rel=1e-12)


def test_llm_usage_of_one_call_and_of_none():
    one = llm_usage([call(250)])
    assert one.latency_mean_ms == one.latency_p95_ms == Metric(250.0)
    none = llm_usage([])
    assert (none.calls, none.tokens_in, none.cost) == (0, 0, D(0))
    assert none.latency_mean_ms == none.latency_p95_ms == Metric(None, "no LLM calls")


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(0, 1e6), min_size=1, max_size=50), q=st.floats(0, 100))
def test_percentile_agrees_with_numpy(values, q):
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), rel=1e-9, abs=1e-9)


def test_percentile_refuses_no_values_and_out_of_range():
    with pytest.raises(ValueError):
        percentile([], 95)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_return_net_of_llm_cost_by_hand():
    # (1300 − 1000 − 200 deposited − 10 of model cost) / 1000 = 0.09
    assert return_net_of_llm_cost(D("1000"), D("1300"), D("200"), D("10")) == Metric(0.09)
    # a withdrawal (flows −100) is added back: (850 − 1000 + 100 − 5) / 1000 = −0.055
    assert return_net_of_llm_cost(D("1000"), D("850"), D("-100"), D("5")) == Metric(-0.055)


@pytest.mark.parametrize("start", [D("0"), D("-5")])
def test_return_net_of_llm_cost_needs_a_positive_start(start):
    assert return_net_of_llm_cost(start, D("10"), D("0"), D("1")) == Metric(
        None, "the starting value is not positive"
    )
