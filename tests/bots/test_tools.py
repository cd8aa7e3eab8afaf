"""Sandbox tools: hand-computed results, real candles, every ToolError path, and any JSON args."""
from __future__ import annotations

import inspect
import json
import math
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots import tools
from bots.tools import TOOL_SPECS, TOOLS, ToolError, run_tool
from trading import indicators as ind

CANDLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "candles" / "XRPUSDT-1h.json"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Candle:
    open_time: datetime
    open: D
    high: D
    low: D
    close: D


def flat_candles(mids, spread="0.5"):
    """Candles opening and closing at each mid, ``spread`` above and below."""
    half = D(spread)
    return [Candle(T0 + timedelta(hours=i), D(m), D(m) + half, D(m) - half, D(m)) for i, m in enumerate(mids)]


def xrp_rows():
    if not CANDLES.exists():
        pytest.skip(f"shared market data {CANDLES} is absent")
    return json.loads(CANDLES.read_text(), parse_float=D)


def source(series):
    """A CandleSource over ``{symbol: candles}``, the same candles for every interval."""
    calls = []

    def candles(symbol, interval, limit):
        calls.append((symbol, interval, limit))
        return series[symbol][-limit:]  # KeyError for an unknown symbol, as the contract says

    candles.calls = calls
    return candles


@pytest.fixture
def market():
    rows = xrp_rows()
    as_candles = [
        Candle(datetime.fromtimestamp(int(r[0]) / 1000, UTC), r[1], r[2], r[3], r[4]) for r in rows
    ]
    inverse = [Candle(c.open_time, 1 / c.open, 1 / c.low, 1 / c.high, 1 / c.close) for c in as_candles]
    scaled = [Candle(c.open_time, c.open * 50000, c.high * 50000, c.low * 50000, c.close * 50000)
              for c in as_candles]
    return source({"XRPUSDT": rows, "XRPXUSDT": as_candles, "XRPINVUSDT": inverse, "BTCUSDT": scaled,
                   "FLATUSDT": flat_candles(["2"] * 120)})


# --- the candle tools ----------------------------------------------------------------------------


def test_indicators_is_the_summary_of_the_newest_candles(market):
    result = run_tool("indicators", {"symbol": "xrp/usdt", "interval": "1H"}, candles=market)
    assert market.calls == [("XRPUSDT", "1h", tools.INDICATOR_CANDLES)]
    found = ind.summary(xrp_rows())
    assert result["symbol"] == "XRPUSDT" and result["interval"] == "1h" and result["candles"] == 100
    assert result["trend"] == found.trend
    for name in ("ema20", "ema50", "rsi14", "macd", "macd_signal", "macd_hist", "atr14", "atr_pct"):
        assert D(result[name]) == D(tools.SHOWN_CONTEXT.plus(getattr(found, name)))
    assert result["close"] == "1.0765"


def test_indicators_with_few_candles_says_null(market):
    result = tools.indicators("FLATUSDT", candles=source({"FLATUSDT": flat_candles(["2"] * 20)}))
    assert result["ema20"] == "2" and result["ema50"] is None and result["trend"] is None
    assert "null" in result["note"]


def test_volatility_by_hand():
    # log returns alternate +0.01 and −0.01: mean 0, sample variance 10 × 0.0001 / 9
    closes = [(D("0.01") * (i % 2)).exp() * 100 for i in range(11)]
    candles = source({"ALTUSDT": flat_candles(closes, "0.01")})
    result = run_tool("volatility", {"symbol": "ALTUSDT", "lookback": 10}, candles=candles)
    sigma = math.sqrt(10 * 0.0001 / 9)
    assert result["returns"] == 10
    assert float(result["stdev_pct_per_interval"]) == pytest.approx(sigma * 100, rel=1e-7)
    assert float(result["annualized_pct"]) == pytest.approx(sigma * math.sqrt(8760) * 100, rel=1e-7)
    daily = run_tool("volatility", {"symbol": "ALTUSDT", "lookback": 10, "interval": "1d"}, candles=candles)
    assert float(daily["annualized_pct"]) == pytest.approx(sigma * math.sqrt(365) * 100, rel=1e-7)
    assert result["atr14_pct"] is None  # 11 candles: too few for ATR14


def test_volatility_on_real_candles_matches_the_standard_library(market):
    result = run_tool("volatility", {"symbol": "XRPUSDT", "lookback": "48"}, candles=market)
    closes = [float(r[4]) for r in xrp_rows()][-49:]
    returns = [math.log(b / a) for a, b in zip(closes, closes[1:], strict=False)]
    assert result["returns"] == 48
    assert float(result["stdev_pct_per_interval"]) == pytest.approx(statistics.stdev(returns) * 100, rel=1e-7)
    assert float(result["atr14_pct"]) == pytest.approx(float(ind.summary(xrp_rows()).atr_pct), rel=1e-7)
    window = xrp_rows()[-49:]
    assert D(result["window_high"]) == max(r[2] for r in window)
    assert D(result["window_low"]) == min(r[3] for r in window)


def test_support_and_resistance_from_clustered_swings():
    # a zigzag: peaks at 110, 110.2 and 109.9, troughs at 90 and 90.1, ending at 100
    mids = [100, 105, 110, 105, 100, 95, 90, 95, 100, 105, 110.2, 105, 100, 95, 90.1, 95, 100, 105, 109.9,
            105, 100]
    candles = source({"ZIGUSDT": flat_candles([str(m) for m in mids])})
    result = run_tool("support_resistance", {"symbol": "ZIGUSDT", "lookback": 50}, candles=candles)
    # swing highs 110.5, 110.7, 110.4 (mid + 0.5) lie within half the average true range (~2.7)
    assert result["resistance"] == [{"price": "110.53333", "touches": 3, "distance_pct": "10.533333"}]
    assert result["support"] == [{"price": "89.55", "touches": 2, "distance_pct": "-10.45"}]
    assert result["nearest_support"] == "89.55" and result["nearest_resistance"] == "110.53333"
    assert result["close"] == "100" and result["candles"] == 21


def test_support_resistance_on_real_candles_is_ordered_nearest_first(market):
    result = run_tool("support_resistance", {"symbol": "XRPUSDT"}, candles=market)
    close = D(result["close"])
    supports = [D(level["price"]) for level in result["support"]]
    resistances = [D(level["price"]) for level in result["resistance"]]
    assert supports and resistances
    assert all(s <= close for s in supports) and supports == sorted(supports, reverse=True)
    assert all(r > close for r in resistances) and resistances == sorted(resistances)
    assert len(supports) <= tools.MAX_LEVELS and len(resistances) <= tools.MAX_LEVELS


def test_correlation_of_a_scaled_and_an_inverted_copy(market):
    same = run_tool("correlation", {"symbol_a": "XRPXUSDT", "symbol_b": "BTCUSDT"}, candles=market)
    assert same["correlation"] == "1" and same["beta_a_on_b"] == "1"
    assert same["strength"] == "strong positive" and same["returns"] == 99
    opposite = run_tool("correlation", {"symbolA": "XRPXUSDT", "symbolB": "XRPINVUSDT", "lookback": 30},
                        candles=market)
    assert opposite["correlation"] == "-1" and opposite["strength"] == "strong negative"
    assert opposite["returns"] == 30


def test_correlation_matches_a_float_reference(market):
    rows = xrp_rows()
    shifted = source({"AUSDT": flat_candles([str(r[4]) for r in rows[:-1]]),
                      "BUSDT": flat_candles([str(r[4]) for r in rows[1:]])})
    result = run_tool("correlation", {"symbol_a": "A", "symbol_b": "B", "lookback": 60}, candles=shifted)
    a = [float(r[4]) for r in rows[:-1]][-61:]
    b = [float(r[4]) for r in rows[1:]][-61:]
    ra = [math.log(y / x) for x, y in zip(a, a[1:], strict=False)]
    rb = [math.log(y / x) for x, y in zip(b, b[1:], strict=False)]
    assert float(result["correlation"]) == pytest.approx(statistics.correlation(ra, rb), rel=1e-7)


def test_correlation_aligns_on_open_time():
    a = flat_candles([str(100 + (i % 3)) for i in range(30)])
    b = [Candle(c.open_time + timedelta(hours=25), c.open, c.high, c.low, c.close) for c in a]
    with pytest.raises(ToolError, match="share only 5 1h candles; this needs 6"):
        run_tool("correlation", {"symbol_a": "AUSDT", "symbol_b": "BUSDT"},
                 candles=source({"AUSDT": a, "BUSDT": b}))


# --- the arithmetic tools ------------------------------------------------------------------------


def test_position_size_by_hand():
    # risk 1 % of 1,000 = 10; 5 per unit → 2 units; notional 200; at 5x margin 40
    result = run_tool(
        "position_size", {"balance": 1000, "risk_pct": "1", "entry": 100, "stop": "95", "leverage": 5},
        candles=source({}),
    )
    assert result == {
        "side": "LONG", "risk_usdt": "10", "stop_distance_pct": "5", "quantity": "2",
        "notional_usdt": "200", "margin_usdt": "40", "size": "40", "leverage": 5, "fits_balance": True,
        "warnings": [], "note": "size is the margin in USDT; fees and slippage not included",
    }
    short = tools.position_size(D(1000), D(1), D(100), D(105), 5)
    assert short["side"] == "SHORT" and short["quantity"] == "2"


def test_position_size_warns_about_liquidation_and_the_balance():
    liquidated = tools.position_size(D(1000), D(1), D(100), D(95), 25)  # 5 % stop, ~4 % to liquidation
    assert liquidated["warnings"] == [
        "the stop is 5% away but 25x is liquidated after about 4%: lower the leverage or tighten the stop"
    ]
    too_big = tools.position_size(D(100), D(10), D(100), D("99.9"), 1)  # margin 10,000
    assert too_big["fits_balance"] is False and "exceeds the balance 100" in too_big["warnings"][0]


def test_kelly_by_hand():
    # b = 2, p = 0.6: f* = 0.6 − 0.4 / 2 = 0.4; edge 0.6 × 2 − 0.4 = 0.8
    result = run_tool("kelly", {"win_rate": 0.6, "avg_win": "200", "avg_loss": 100}, candles=source({}))
    assert result["payoff_ratio"] == "2" and result["kelly_raw"] == "0.4"
    assert result["kelly_fraction"] == "0.4" and result["half_kelly_fraction"] == "0.2"
    assert result["edge_per_unit_risked"] == "0.8"
    assert "Risk at most 40% of the balance" in result["explanation"]
    assert "half-Kelly, 20%" in result["explanation"]


def test_kelly_without_an_edge_is_zero():
    result = tools.kelly(D("0.3"), D(1), D(1))
    assert result["kelly_raw"] == "-0.4" and result["kelly_fraction"] == "0"
    assert result["half_kelly_fraction"] == "0" and "No edge" in result["explanation"]
    assert tools.kelly(D(1), D(1), D(5))["kelly_fraction"] == "1"


def test_risk_reward_by_hand():
    args = {"entry": 100, "stop": 95, "target": 110, "side": "buy"}
    long = run_tool("risk_reward", args, candles=source({}))
    assert long == {
        "side": "LONG", "risk_per_unit": "5", "reward_per_unit": "10", "risk_pct": "5", "reward_pct": "10",
        "ratio": "2", "ratio_text": "1:2", "breakeven_win_rate": "0.33333333",
    }
    short = tools.risk_reward(D(100), D(104), D(88), "SHORT")
    assert short["ratio"] == "3" and short["breakeven_win_rate"] == "0.25"


def test_every_result_is_json_ready(market):
    calls = [
        ("indicators", {"symbol": "XRPUSDT"}),
        ("volatility", {"symbol": "XRPUSDT"}),
        ("support_resistance", {"symbol": "XRPUSDT"}),
        ("correlation", {"symbol_a": "XRPUSDT", "symbol_b": "BTCUSDT"}),
        ("position_size", {"balance": 1, "risk_pct": 1, "entry": 1, "stop": 2, "leverage": 1}),
        ("kelly", {"win_rate": 0.5, "avg_win": 1, "avg_loss": 1}),
        ("risk_reward", {"entry": 1, "stop": 2, "target": "0.5", "side": "short"}),
    ]
    assert sorted(name for name, _ in calls) == sorted(TOOLS)
    for name, args in calls:
        assert json.loads(json.dumps(run_tool(name, args, candles=market)))


def test_tool_specs_describe_every_tool():
    assert [spec["name"] for spec in TOOL_SPECS] == list(TOOLS)
    for spec in TOOL_SPECS:
        params = spec["parameters"]
        assert spec["description"] and params["type"] == "object"
        assert set(params["required"]) <= set(params["properties"])
        assert all(p["type"] in ("string", "integer", "number") for p in params["properties"].values())
    by_name = {spec["name"]: spec for spec in TOOL_SPECS}
    lookback = by_name["volatility"]["parameters"]["properties"]["lookback"]
    assert lookback == {"type": "integer", "description": "number of candles", "minimum": 10, "maximum": 500,
                        "default": 48}
    assert by_name["kelly"]["parameters"]["required"] == ["win_rate", "avg_win", "avg_loss"]
    interval = by_name["indicators"]["parameters"]["properties"]["interval"]
    assert interval["enum"] == ["5m", "15m", "1h", "4h", "1d"] and interval["default"] == "1h"
    json.dumps(TOOL_SPECS)


def test_nothing_a_model_sends_is_evaluated(market):
    source_text = inspect.getsource(tools)
    assert "eval(" not in source_text and "exec(" not in source_text and "compile(" not in source_text
    with pytest.raises(ToolError, match="must be a number"):
        run_tool("kelly", {"win_rate": "__import__('os').system('true')", "avg_win": 1, "avg_loss": 1},
                 candles=market)


# --- every ToolError path ------------------------------------------------------------------------

SIZE = {"balance": 1000, "risk_pct": 1, "entry": 100, "stop": 95, "leverage": 5}


def with_(base, **changes):
    return {**base, **changes}


ERRORS = [
    ("unknown tool", "eval", {}, "unknown tool 'eval'; available tools: indicators, volatility, "
     "support_resistance, correlation, position_size, kelly, risk_reward"),
    ("tool name not text", None, {}, "unknown tool None"),
    ("args not an object", "kelly", [0.5, 1, 1], "the args of kelly must be a JSON object"),
    ("args a string", "kelly", "win_rate=0.5", "the args of kelly must be a JSON object"),
    ("no args at all", "kelly", None, "kelly needs win_rate"),
    ("unknown argument", "indicators", {"symbol": "XRPUSDT", "period": 14},
     "indicators has no argument 'period'; its arguments are: symbol, interval"),
    ("argument twice", "position_size", with_(SIZE, riskPct=2), "position_size got risk_pct twice"),
    ("missing argument", "position_size", {"balance": 1000}, "position_size needs risk_pct"),
    ("bool for a number", "position_size", with_(SIZE, balance=True), "balance must be a number, not True"),
    ("null for a number", "position_size", with_(SIZE, entry=None), "entry must be a number, not None"),
    ("list for a number", "position_size", with_(SIZE, entry=[100]), "entry must be a number, not [100]"),
    ("words for a number", "position_size", with_(SIZE, entry="a hundred"), "entry must be a number"),
    ("a very long number", "position_size", with_(SIZE, entry="1" * 101), "not a 101-character text"),
    ("NaN", "position_size", with_(SIZE, entry=float("nan")), "entry must be a finite number"),
    ("Infinity text", "position_size", with_(SIZE, entry="Infinity"), "entry must be a finite number"),
    ("zero balance", "position_size", with_(SIZE, balance=0), "balance must be above 0, not 0"),
    ("negative risk", "position_size", with_(SIZE, risk_pct="-1"), "risk_pct must be above 0"),
    ("risk over 100 %", "position_size", with_(SIZE, risk_pct=150), "risk_pct must be at most 100, not 150"),
    ("price too small", "position_size", with_(SIZE, entry="1e-13"), "entry must be at least 0.000000000001"),
    ("price too large", "position_size", with_(SIZE, entry="1e400"), "entry must be at most 1000000000000"),
    ("huge integer", "position_size", with_(SIZE, balance=10**5000), "not a very large integer"),
    ("fractional leverage", "position_size", with_(SIZE, leverage=2.5), "leverage must be a whole number"),
    ("leverage 0", "position_size", with_(SIZE, leverage=0), "leverage must be at least 1"),
    ("leverage 126", "position_size", with_(SIZE, leverage="126"), "leverage must be at most 125"),
    ("stop at entry", "position_size", with_(SIZE, stop=100), "stop equals entry"),
    ("win rate as percent", "kelly", {"win_rate": 55, "avg_win": 1, "avg_loss": 1},
     "win_rate must be at most 1"),
    ("negative loss", "kelly", {"win_rate": 0.5, "avg_win": 1, "avg_loss": -1}, "avg_loss must be above 0"),
    ("bad side", "risk_reward", {"entry": 1, "stop": 0.9, "target": 2, "side": "UP"},
     "side must be LONG or SHORT, not 'UP'"),
    ("long with stop above", "risk_reward", {"entry": 1, "stop": 1.1, "target": 2, "side": "LONG"},
     "a LONG needs stop < entry < target; got entry 1, stop 1.1, target 2"),
    ("short with target above", "risk_reward", {"entry": 1, "stop": 1.1, "target": 2, "side": "SHORT"},
     "a SHORT needs target < entry < stop"),
    ("symbol not text", "indicators", {"symbol": 5}, "symbol must be a market symbol such as BTCUSDT, not 5"),
    ("symbol junk", "indicators", {"symbol": "!!!"}, "symbol must be a market symbol"),
    ("unknown symbol", "indicators", {"symbol": "NOPEUSDT"}, "unknown symbol NOPEUSDT: no market trades"),
    ("unknown second symbol", "correlation", {"symbol_a": "XRPUSDT", "symbol_b": "nope"},
     "unknown symbol NOPEUSDT"),
    ("bad interval", "volatility", {"symbol": "XRPUSDT", "interval": "2h"},
     "interval must be one of 5m, 15m, 1h, 4h, 1d, not '2h'"),
    ("interval not text", "volatility", {"symbol": "XRPUSDT", "interval": 60}, "interval must be one of"),
    ("lookback 9", "volatility", {"symbol": "XRPUSDT", "lookback": 9}, "lookback must be at least 10, not 9"),
    ("lookback 501", "support_resistance", {"symbol": "XRPUSDT", "lookback": 501},
     "lookback must be at most 500"),
    ("lookback fraction", "correlation", {"symbol_a": "XRPUSDT", "symbol_b": "BTCUSDT", "lookback": "50.5"},
     "lookback must be a whole number, not '50.5'"),
    ("flat market", "correlation", {"symbol_a": "XRPUSDT", "symbol_b": "FLATUSDT"},
     "FLATUSDT did not move over the window: correlation is undefined"),
]


@pytest.mark.parametrize(("name", "args", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_tool_errors(market, name, args, message):
    with pytest.raises(ToolError) as error:
        run_tool(name, args, candles=market)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("tool", "args", "count", "message"),
    [
        ("indicators", {"symbol": "NEWUSDT"}, 0, "only 0 1h candles of NEWUSDT exist; this needs 1"),
        ("volatility", {"symbol": "NEWUSDT"}, 2, "only 2 1h candles of NEWUSDT exist; this needs 3"),
        ("support_resistance", {"symbol": "NEWUSDT"}, 4, "only 4 1h candles of NEWUSDT exist; this needs 5"),
        ("correlation", {"symbol_a": "NEWUSDT", "symbol_b": "NEWUSDT"}, 5, "this needs 6"),
    ],
)
def test_too_few_candles(tool, args, count, message):
    candles = source({"NEWUSDT": flat_candles([str(100 + i) for i in range(count)])})
    with pytest.raises(ToolError, match=message):
        run_tool(tool, args, candles=candles)


def test_bad_candle_data_is_a_tool_error():
    broken = [Candle(T0, D(0), D(1), D(0), D(0))] + flat_candles(["1"] * 20)[1:]
    with pytest.raises(ToolError, match="contain a non-positive price"):
        run_tool("volatility", {"symbol": "BADUSDT"}, candles=source({"BADUSDT": broken}))


def test_lenient_spellings(market):
    result = run_tool(" Position-Size ", {"Balance": " 1000 ", "RISK_PCT": "1", "entry": 100.0, "stop": 95,
                                          "leverage": "5"}, candles=market)
    assert result["margin_usdt"] == "40"
    run_tool("volatility", {"symbol": "$xrp-usdt", "interval": " 1H ", "lookback": 20.0}, candles=market)
    assert market.calls[-1] == ("XRPUSDT", "1h", tools.INDICATOR_CANDLES)


# --- properties: anything a model sends ------------------------------------------------------------

plausible = st.sampled_from([
    "1", "0", "-1", "1e9", "1e-13", "0.5", "NaN", "-Infinity", "XRPUSDT", "BTCUSDT", "nope", "1h", "5m",
    "LONG", "short", "48", "10", "500", "501", " 2 ",
])
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | plausible
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)
param_names = sorted({p.name for tool in TOOLS.values() for p in tool.params} | {"riskPct", "symbolA", "x"})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(
    name=st.sampled_from([*TOOLS, "nope", "Kelly", ""]) | st.text(max_size=12) | json_scalars,
    args=st.dictionaries(st.sampled_from(param_names) | st.text(max_size=8), json_values, max_size=6)
    | json_values,
)
def test_only_tool_errors_escape(market, name, args):
    try:
        result = run_tool(name, args, candles=market)
    except ToolError as error:
        assert str(error)
    else:
        json.dumps(result)


amounts = st.decimals(min_value=D("1e-12"), max_value=D("1e12"), places=12)
extremes = st.sampled_from([D("1e-12"), D("1e12"), D("1"), D("0.000000000002")])


@settings(max_examples=300, deadline=None)
@given(
    balance=amounts | extremes, risk=st.decimals(min_value=D("0.0001"), max_value=D(100), places=4),
    entry=amounts | extremes, stop=amounts | extremes, target=amounts | extremes,
    leverage=st.integers(min_value=1, max_value=125), win=st.decimals(min_value=0, max_value=1, places=6),
)
def test_arithmetic_tools_handle_every_number_in_range(balance, risk, entry, stop, target, leverage, win):
    calls = [
        ("position_size", {"balance": str(balance), "risk_pct": str(risk), "entry": str(entry),
                           "stop": str(stop), "leverage": leverage}),
        ("kelly", {"win_rate": str(win), "avg_win": str(entry), "avg_loss": str(stop)}),
        ("risk_reward", {"entry": str(entry), "stop": str(stop), "target": str(target), "side": "LONG"}),
        ("risk_reward", {"entry": str(entry), "stop": str(stop), "target": str(target), "side": "SHORT"}),
    ]
    for name, args in calls:
        try:
            result = run_tool(name, args, candles=source({}))
        except ToolError as error:
            assert "needs" in str(error) or "equals" in str(error)
        else:
            json.dumps(result)
