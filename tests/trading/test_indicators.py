"""Indicators: hand-computed small cases, properties, and real candles against a float reference."""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from decimal import Context
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading import indicators as ind

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "candles"
TWELVE = Context(prec=ind.SIGNIFICANT)


def frac(numerator, denominator=1):
    """An exact fraction at the module's 12 significant digits."""
    return TWELVE.divide(D(numerator), D(denominator))


def load(name):
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"shared market data {path} is absent")
    # Prices parsed straight to Decimal: the JSON's digits, never a float.
    return json.loads(path.read_text(), parse_float=D)


@dataclass(frozen=True)
class Bar:
    open: D
    high: D
    low: D
    close: D


def bars(*rows):
    return [Bar(*(D(str(v)) for v in row)) for row in rows]


# --- hand-computed ----------------------------------------------------------------------


def test_ema_seeds_with_the_simple_average_then_smooths():
    # period 3: α = 0.5; seed (1 + 2 + 3) / 3 = 2; then 0.5·4 + 0.5·2 = 3, 4, 5
    assert ind.ema([1, 2, 3, 4, 5, 6], 3) == [None, None, 2, 3, 4, 5]
    # period 2: α = 2/3; seed 10.5; (2/3)·12 + (1/3)·10.5 = 11.5; (2/3)·10 + (1/3)·11.5 = 10.5
    assert ind.ema([D(10), D(11), D(12), D(10)], 2) == [None, D("10.5"), D("11.5"), D("10.5")]


def test_rsi_uses_wilders_smoothing():
    # changes +1 +1 −1 +2 −1; period 3
    # first: gain 2/3, loss 1/3 → RS 2 → 100 − 100/3
    # then gain (2/3·2 + 2)/3 = 10/9, loss (1/3·2)/3 = 2/9 → RS 5 → 100 − 100/6
    # then gain (10/9·2)/3 = 20/27, loss (2/9·2 + 1)/3 = 13/27 → RS 20/13 → 100 − 1300/33
    result = ind.rsi([10, 11, 12, 11, 13, 12], 3)
    assert result == [None, None, None, frac(200, 3), frac(250, 3), frac(2000, 33)]


def test_rsi_extremes():
    assert ind.rsi([1, 2, 3, 4, 5], 3)[-1] == 100  # no losses
    assert ind.rsi([5, 4, 3, 2, 1], 3)[-1] == 0  # no gains
    assert ind.rsi([7, 7, 7, 7, 7], 3)[-1] == 50  # nothing moved: neutral, not an extreme


def test_macd_by_hand():
    # closes 1 3 2 4 3 5, fast 2 (α 2/3), slow 3 (α 1/2), signal 2
    # EMA2: –, 2, 2, 10/3, 28/9, 118/27       EMA3: –, –, 2, 3, 3, 4
    # MACD: idx2 0, idx3 1/3, idx4 1/9, idx5 10/27
    # signal: seed (0 + 1/3)/2 = 1/6; (2/3)(1/9) + (1/3)(1/6) = 7/54; (2/3)(10/27) + (1/3)(7/54) = 47/162
    line, signal, hist = ind.macd([1, 3, 2, 4, 3, 5], fast=2, slow=3, signal=2)
    assert line == [None, None, 0, frac(1, 3), frac(1, 9), frac(10, 27)]
    assert signal == [None, None, None, frac(1, 6), frac(7, 54), frac(47, 162)]
    assert hist == [None, None, None, frac(1, 6), frac(-1, 54), frac(13, 162)]


def test_true_range_and_atr_by_hand():
    candles = bars(
        (10, 11, 9, 10),      # TR high − low = 2 (no previous close)
        (10, 12, 10, 11),     # max(2, |12 − 10|, |10 − 10|) = 2
        (11, 11.5, 10.5, 11),  # 1
        (11, 14, 11, 13),     # max(3, 3, 0) = 3
        (13, 13, 8, 9),       # max(5, 0, 5) = 5
        (5, 6, 4, 5),         # gap down: max(2, |6 − 9|, |4 − 9|) = 5
    )
    assert ind.true_range(candles) == [2, 2, 1, 3, 5, 5]
    # ATR3: (2 + 2 + 1)/3 = 5/3; (5/3·2 + 3)/3 = 19/9; (19/9·2 + 5)/3 = 83/27; (83/27·2 + 5)/3 = 301/81
    assert ind.atr(candles, 3) == [None, None, frac(5, 3), frac(19, 9), frac(83, 27), frac(301, 81)]


def test_outputs_are_rounded_to_twelve_significant_digits():
    assert ind.ema([D(1), D(2), D(2)], 3)[-1] == D("1.66666666667")


def test_candle_shapes_agree():
    as_objects = bars((1, 2, 0.5, 1.5), (1.5, 3, 1, 2))
    as_tuples = [(D(1), D(2), D("0.5"), D("1.5")), (D("1.5"), D(3), D(1), D(2))]
    as_klines = [[0, *row, D(100)] for row in as_tuples]  # Binance: open_time, o, h, l, c, volume
    assert ind.true_range(as_objects) == ind.true_range(as_tuples) == ind.true_range(as_klines)
    assert ind.closes_of(as_klines) == [D("1.5"), D(2)]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: ind.ema([1.5, 2.5], 1), TypeError),  # floats are refused, as in trading.perps
        (lambda: ind.atr([(1.0, 2.0, 0.5, 1.0)]), TypeError),
        (lambda: ind.true_range(["1,2,0,1"]), TypeError),
        (lambda: ind.true_range([(1, 2, 3)]), TypeError),
        (lambda: ind.ema([1, 2], 0), ValueError),
        (lambda: ind.rsi([1, 2], True), ValueError),
        (lambda: ind.macd([1, 2, 3], fast=26, slow=12), ValueError),
        (lambda: ind.trend_label([1] * 49), ValueError),
    ],
)
def test_bad_inputs_are_refused(call, error):
    with pytest.raises(error):
        call()


def test_series_are_none_until_enough_data():
    closes = list(range(1, 40))
    assert ind.ema(closes, 20)[18] is None and ind.ema(closes, 20)[19] is not None
    assert ind.rsi(closes, 14)[13] is None and ind.rsi(closes, 14)[14] is not None
    line, signal, hist = ind.macd(closes)
    assert line[24] is None and line[25] is not None
    assert signal[32] is None and signal[33] is not None and hist[33] is not None
    assert ind.ema([], 3) == [] and ind.rsi([1, 2], 14) == [None, None]
    assert ind.macd([1, 2]) == ([None, None], [None, None], [None, None])


# --- trend --------------------------------------------------------------------------------


def test_trend_labels():
    rising = [D(100) + i for i in range(60)]
    assert ind.trend_label(rising) == "uptrend"
    assert ind.trend_label(list(reversed(rising))) == "downtrend"
    assert ind.trend_label([D(100)] * 60) == "sideways"
    # averages within 0.1 %: a range, whatever the last wiggle
    assert ind.trend_label([D(100) + D("0.01") * (i % 2) for i in range(60)]) == "sideways"


def test_trend_rolling_over_is_not_called_by_its_past():
    # A long rise, then a sharp drop: EMA20 is still well above EMA50 but falling.
    closes = [D(100) + i for i in range(60)] + [D(150), D(140), D(130), D(125), D(120), D(118)]
    e20, e50 = ind.ema(closes, 20), ind.ema(closes, 50)
    assert e20[-1] > e50[-1] * D("1.001") and e20[-1] < e20[-6]
    assert ind.trend_label(closes) == "sideways"


# --- summary -------------------------------------------------------------------------------


def test_summary_with_too_few_candles_is_none_where_undefined():
    candles = bars(*[(10 + i, 11 + i, 9 + i, 10.5 + i) for i in range(20)])
    found = ind.summary(candles)
    assert found.ema20 is not None and found.rsi14 is not None and found.atr14 is not None
    assert found.ema50 is None and found.macd is None and found.macd_signal is None
    assert found.macd_hist is None and found.trend is None
    assert ind.summary([]) == ind.IndicatorSummary(*([None] * 9))
    assert json.dumps(found.as_json())  # JSON-ready: Decimals as strings


def test_summary_is_the_last_value_of_each_series():
    rows = load("XRPUSDT-1h.json")
    closes = ind.closes_of(rows)
    found = ind.summary(rows)
    line, signal, hist = ind.macd(closes)
    assert found.ema20 == ind.ema(closes, 20)[-1] and found.ema50 == ind.ema(closes, 50)[-1]
    assert found.rsi14 == ind.rsi(closes)[-1] and found.atr14 == ind.atr(rows)[-1]
    assert (found.macd, found.macd_signal, found.macd_hist) == (line[-1], signal[-1], hist[-1])
    assert found.trend == ind.trend_label(closes)
    assert found.atr_pct == pytest.approx(found.atr14 / closes[-1] * 100, rel=D("1e-11"))
    assert found.as_json()["trend"] in ("uptrend", "downtrend", "sideways")


# --- real candles against an independent float implementation --------------------------------


def f_ema(values, n):
    out = [None] * len(values)
    if len(values) < n:
        return out
    out[n - 1] = sum(values[:n]) / n
    for i in range(n, len(values)):
        out[i] = values[i] * 2 / (n + 1) + out[i - 1] * (1 - 2 / (n + 1))
    return out


def f_rsi(closes, n=14):
    out = [None] * len(closes)
    deltas = [b - a for a, b in zip(closes, closes[1:], strict=False)]
    up = sum(max(d, 0) for d in deltas[:n]) / n
    down = sum(max(-d, 0) for d in deltas[:n]) / n
    out[n] = 100 - 100 / (1 + up / down)
    for i in range(n + 1, len(closes)):
        d = deltas[i - 1]
        up, down = (up * (n - 1) + max(d, 0)) / n, (down * (n - 1) + max(-d, 0)) / n
        out[i] = 100 - 100 / (1 + up / down)
    return out


def f_macd(closes):
    fast, slow = f_ema(closes, 12), f_ema(closes, 26)
    line = [None if s is None else f - s for f, s in zip(fast, slow, strict=True)]
    tail = f_ema(line[25:], 9)
    signal = [None] * 25 + tail
    hist = [None if s is None else m - s for m, s in zip(line, signal, strict=True)]
    return line, signal, hist


def f_atr(rows, n=14):
    tr = [rows[0][2] - rows[0][3]] + [
        max(h - lo, abs(h - rows[i - 1][4]), abs(lo - rows[i - 1][4]))
        for i, (_, _, h, lo, _, _) in enumerate(rows) if i > 0
    ]
    out = [None] * len(tr)
    out[n - 1] = sum(tr[:n]) / n
    for i in range(n, len(tr)):
        out[i] = (out[i - 1] * (n - 1) + tr[i]) / n
    return out


def assert_agree(ours, reference):
    assert len(ours) == len(reference)
    assert [v is None for v in ours] == [v is None for v in reference]
    pairs = [(float(a), b) for a, b in zip(ours, reference, strict=True) if a is not None]
    assert pairs
    for a, b in pairs:
        # 1e-9 relative. Near a MACD crossing (values ~1e-8 from differences of ~1.0 EMAs) the
        # float reference itself is off by ~1e-16 absolute, so there 1e-12 absolute decides.
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12), (a, b)


@pytest.mark.parametrize("name", ["XRPUSDT-1h.json", "XRPUSDT-5m.json"])
def test_real_candles_match_a_float_reference(name):
    decimal_rows = load(name)
    float_rows = [[float(v) for v in row] for row in decimal_rows]
    closes, float_closes = ind.closes_of(decimal_rows), [row[4] for row in float_rows]
    for period in (9, 20, 50):
        assert_agree(ind.ema(closes, period), f_ema(float_closes, period))
    assert_agree(ind.rsi(closes), f_rsi(float_closes))
    for ours, reference in zip(ind.macd(closes), f_macd(float_closes), strict=True):
        assert_agree(ours, reference)
    assert_agree(ind.atr(decimal_rows), f_atr(float_rows))


def test_real_trend_matches_a_float_reference():
    rows = load("XRPUSDT-5m.json")
    closes = ind.closes_of(rows)
    for end in range(50, len(closes), 37):
        window = [float(c) for c in closes[:end]]
        e20, e50 = f_ema(window, 20), f_ema(window, 50)
        gap, slope = (e20[-1] - e50[-1]) / e50[-1], e20[-1] - e20[-6]
        expected = "uptrend" if gap > 0.001 and slope > 0 else "downtrend" if gap < -0.001 and slope < 0 \
            else "sideways"
        assert ind.trend_label(closes[:end]) == expected


# --- statistics and levels ---------------------------------------------------------------------


def test_statistics_match_the_standard_library():
    rows = load("XRPUSDT-1h.json")
    closes = ind.closes_of(rows)
    returns = ind.log_returns(closes)
    reference = [math.log(float(b) / float(a)) for a, b in zip(closes, closes[1:], strict=False)]
    assert [float(r) for r in returns] == pytest.approx(reference, rel=1e-12)
    assert float(ind.stdev(returns)) == pytest.approx(statistics.stdev(reference), rel=1e-12)
    assert float(ind.covariance(returns, returns)) == pytest.approx(statistics.variance(reference), rel=1e-12)
    assert TWELVE.plus(ind.mean([D(1), D(2), D(4)])) == frac(7, 3)  # unrounded: an input, not an output
    with pytest.raises(ValueError):
        ind.log_returns([D(1), D(0)])


def test_swing_points_and_clusters_by_hand():
    # highs peak at index 2 (5) and 6 (5.1); lows trough at index 4 (1) — two candles each side.
    highs = [1, 2, 5, 3, 2, 3, 5.1, 3, 2]
    lows = [0.5, 1.5, 4, 2, 1, 2, 4, 2, 1.5]
    candles = bars(*[(lo, h, lo, lo) for h, lo in zip(highs, lows, strict=True)])
    assert ind.swing_points(candles) == [D(5), D(1), D("5.1")]
    assert ind.cluster_levels([D(5), D(1), D("5.1")], D("0.2")) == [(D(1), 1), (D("5.05"), 2)]
    assert ind.cluster_levels([D(5), D(1), D("5.1")], D("0.05")) == [(D(1), 1), (D(5), 1), (D("5.1"), 1)]
    # a flat top counts once: the first of the equal highs
    flat = bars(*[(1, h, 1, 1) for h in (1, 2, 3, 3, 2, 1, 1)])
    assert ind.swing_points(flat) == [D(3)]


# --- properties ----------------------------------------------------------------------------------

prices = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4)


@given(st.lists(prices, min_size=1, max_size=80), st.integers(min_value=1, max_value=30))
def test_ema_stays_within_the_range_of_its_inputs(values, period):
    for value in ind.ema(values, period):
        assert value is None or min(values) <= value <= max(values)


@given(st.lists(prices, min_size=2, max_size=80), st.integers(min_value=1, max_value=20))
def test_rsi_is_between_0_and_100(values, period):
    assert all(v is None or 0 <= v <= 100 for v in ind.rsi(values, period))


@given(st.lists(st.tuples(prices, prices, prices), min_size=1, max_size=60))
def test_atr_is_never_negative(triples):
    candles = [(a, max(a, b, c), min(a, b, c), c) for a, b, c in triples]
    assert all(v is None or v >= 0 for v in ind.atr(candles, 5))
