"""Sandbox analysis tools a model may call before it decides, ORM-free and network-free.

A sandbox bot replies ``{"action": "ANALYZE", "tool": "volatility", "args": {"symbol":
"BTCUSDT"}}``; the turn engine calls ``run_tool(name, args, candles=...)`` and shows the
result, or the ``ToolError``'s message, in its follow-up message
(``bots.prompts.render_analysis_followup``). A tool is a fixed Python function over
numbers and candles. Nothing a model writes is ever evaluated: the legacy sandbox ran
model-written JavaScript with ``new Function``; here there is no such path.

``run_tool`` is the boundary: it checks the tool name, every argument's name, type and
range (numbers may come as strings, argument names as ``riskPct`` or ``risk_pct``), and
raises only ``ToolError``, whose message is written for the model to read. Results are
JSON-ready dicts; numbers are strings of ``Decimal`` rounded to ``SIGNIFICANT`` (8)
significant digits, exact and free of float noise, as ``bots.parsing.Action.as_json``.

Candles come from a ``CandleSource`` the caller injects — ``(symbol, interval, limit)``
→ the newest ``limit`` candles, oldest first (e.g. ``trading.services.market.candles_for``
bound to a feed and the turn's time), raising ``KeyError`` for a symbol it does not know.
Indicator formulas live in ``trading.indicators``; each tool's docstring gives its own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from typing import Any

from bots.parsing import normalize_symbol
from trading import indicators as ind

CandleSource = Callable[[str, str, int], Sequence[Any]]

INTERVALS = ("5m", "15m", "1h", "4h", "1d")
# Crypto trades around the clock: a year is 365 days of intervals, not 252 sessions.
PERIODS_PER_YEAR = {"5m": 105_120, "15m": 35_040, "1h": 8_760, "4h": 2_190, "1d": 365}
MIN_LOOKBACK, MAX_LOOKBACK = 10, 500
INDICATOR_CANDLES = 200  # 4× EMA50's period: the SMA seed has faded by the newest value
MAX_LEVERAGE = 125
MAX_AMOUNT = Decimal("1e12")
MIN_PRICE = Decimal("1e-12")
MAX_TEXT = 100  # a number sent as text longer than this is not one a model meant
SIGNIFICANT = 8
MAX_LEVELS = 5
MIN_RETURNS = 5  # a correlation of fewer returns is noise
CORRELATION_BANDS = ((Decimal("0.7"), "strong"), (Decimal("0.4"), "moderate"), (Decimal("0.2"), "weak"))
_WORK = Context(prec=40, rounding=ROUND_HALF_EVEN)
_SHOWN = Context(prec=SIGNIFICANT, rounding=ROUND_HALF_EVEN)


class ToolError(Exception):
    """A tool call that cannot be answered; the message is shown to the model as is."""


# --- formatting and argument reading -----------------------------------------------------


def _num(value: Decimal | None) -> str | None:
    """``value`` at 8 significant digits as plain text (no exponent, trailing zeros or ``-0``)."""
    if value is None:
        return None
    shown = _SHOWN.plus(value)
    return "0" if shown == 0 else f"{shown.normalize():f}"


def _show(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return "a very large integer"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decimal(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ToolError(f"{name} must be a number, not {_show(value)}")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TEXT:
            raise ToolError(f"{name} must be a number, not a {len(text)}-character text")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ToolError(f"{name} must be a number, not {_show(value)}") from None
    else:
        # repr(float) is the shortest text that reads back as the same float: what the JSON said.
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not result.is_finite():
        raise ToolError(f"{name} must be a finite number, not {_show(value)}")
    return result


@dataclass(frozen=True)
class Param:
    """One argument: how to read it, its bounds and what the model is told about it."""

    name: str
    kind: str  # "symbol", "interval", "side", "integer" or "number"
    description: str
    default: Any = None  # None: required
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    exclusive_minimum: bool = False

    def read(self, value: object) -> Any:
        if self.kind == "symbol":
            symbol = normalize_symbol(value) if isinstance(value, str) else None
            if symbol is None:
                raise ToolError(f"{self.name} must be a market symbol such as BTCUSDT, not {_show(value)}")
            return symbol
        if self.kind == "interval":
            if not isinstance(value, str) or value.strip().lower() not in INTERVALS:
                raise ToolError(f"{self.name} must be one of {', '.join(INTERVALS)}, not {_show(value)}")
            return value.strip().lower()
        if self.kind == "side":
            side = {"LONG": "LONG", "BUY": "LONG", "SHORT": "SHORT", "SELL": "SHORT"}.get(
                value.strip().upper() if isinstance(value, str) else ""
            )
            if side is None:
                raise ToolError(f"{self.name} must be LONG or SHORT, not {_show(value)}")
            return side
        number = _decimal(self.name, value)
        low, high = self.minimum, self.maximum
        # Messages quote what was sent: an out-of-range number may not even be printable in full.
        if low is not None and (number <= low if self.exclusive_minimum else number < low):
            raise ToolError(f"{self.name} must be {'above' if self.exclusive_minimum else 'at least'} "
                            f"{low:f}, not {_show(value)}")
        if high is not None and number > high:
            raise ToolError(f"{self.name} must be at most {high:f}, not {_show(value)}")
        if self.kind == "integer":
            if number != number.to_integral_value():
                raise ToolError(f"{self.name} must be a whole number, not {_show(value)}")
            return int(number)
        return number

    def schema(self) -> dict[str, Any]:
        """The JSON-schema-ish description of this argument for the prompt."""
        kinds = {"symbol": "string", "interval": "string", "side": "string"}
        spec: dict[str, Any] = {"type": kinds.get(self.kind, self.kind), "description": self.description}
        if self.kind == "interval":
            spec["enum"] = list(INTERVALS)
        if self.kind == "side":
            spec["enum"] = ["LONG", "SHORT"]
        for key, bound in (("minimum", self.minimum), ("maximum", self.maximum)):
            if bound is not None:
                key = "exclusiveMinimum" if key == "minimum" and self.exclusive_minimum else key
                spec[key] = int(bound) if bound == bound.to_integral_value() else float(bound)
        if self.default is not None:
            spec["default"] = self.default
        return spec


def _key(name: object) -> str:
    return str(name).lower().replace("_", "").replace("-", "").replace(" ", "")


def _read_args(tool: str, params: Sequence[Param], args: object) -> dict[str, Any]:
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise ToolError(f"the args of {tool} must be a JSON object, not {_show(args)}")
    by_key = {_key(p.name): p for p in params}
    given: dict[str, Any] = {}
    for raw, value in args.items():
        param = by_key.get(_key(raw))
        if param is None:
            names = ", ".join(p.name for p in params)
            raise ToolError(f"{tool} has no argument {_show(raw)}; its arguments are: {names}")
        if param.name in given:
            raise ToolError(f"{tool} got {param.name} twice")
        given[param.name] = param.read(value)
    for param in params:
        if param.name not in given:
            if param.default is None:
                raise ToolError(f"{tool} needs {param.name}: {param.description}")
            given[param.name] = param.default
    return given


# --- candles and statistics --------------------------------------------------------------


def _fetch(candles: CandleSource, symbol: str, interval: str, limit: int, need: int) -> list[Any]:
    """The newest ``limit`` candles of ``symbol``, at least ``need`` of them."""
    try:
        rows = list(candles(symbol, interval, limit))[-limit:]
    except KeyError:
        raise ToolError(f"unknown symbol {symbol}: no market trades under that name") from None
    if len(rows) < need:
        raise ToolError(f"only {len(rows)} {interval} candles of {symbol} exist; this needs {need}")
    if any(close <= 0 for close in ind.closes_of(rows)):
        raise ToolError(f"the {interval} candles of {symbol} contain a non-positive price")
    return rows


# --- the candle tools --------------------------------------------------------------------


def indicators(symbol: str, interval: str = "1h", *, candles: CandleSource) -> dict[str, Any]:
    """``trading.indicators.summary`` of the newest 200 candles: EMA20/50, RSI14, MACD, ATR, trend."""
    rows = _fetch(candles, symbol, interval, INDICATOR_CANDLES, 1)
    found = ind.summary(rows)
    values = {name: getattr(found, name) for name in vars(found)}
    result = {name: value if isinstance(value, str | None) else _num(value) for name, value in values.items()}
    return {
        "symbol": symbol, "interval": interval, "candles": len(rows),
        "close": _num(ind.closes_of(rows)[-1]), **result,
        "note": "null: too few candles for that indicator (EMA50 and trend need 50, MACD signal 34)",
    }


def volatility(
    symbol: str, interval: str = "1h", lookback: int = 48, *, candles: CandleSource
) -> dict[str, Any]:
    """Realised volatility over ``lookback`` returns (Hull, *Options, Futures and Other
    Derivatives*, "Estimating volatility from historical data").

    ``σ`` = sample stdev of ``ln(close[i] / close[i−1])``; annualised ``σ × √(periods per
    year)`` with 365 days of intervals; ATR14 % = ATR14 / close × 100, over the same 200
    candles as the ``indicators`` tool so the two agree.
    """
    rows = _fetch(candles, symbol, interval, max(lookback + 1, INDICATOR_CANDLES), 3)
    closes = ind.closes_of(rows)[-(lookback + 1):]
    returns = ind.log_returns(closes)
    sigma = ind.stdev(returns)
    with localcontext(_WORK):
        annual = sigma * Decimal(PERIODS_PER_YEAR[interval]).sqrt()
        atr14 = ind.atr(rows, 14)[-1]
        window = rows[-(lookback + 1):]
        high = max(ind.ohlc(row)[1] for row in window)
        low = min(ind.ohlc(row)[2] for row in window)
        return {
            "symbol": symbol, "interval": interval, "returns": len(returns),
            "stdev_pct_per_interval": _num(sigma * 100),
            "annualized_pct": _num(annual * 100),
            "atr14_pct": _num(atr14 / closes[-1] * 100) if atr14 is not None else None,
            "window_high": _num(high), "window_low": _num(low),
            "window_range_pct": _num((high - low) / closes[-1] * 100),
        }


def support_resistance(
    symbol: str, interval: str = "1h", lookback: int = 100, *, candles: CandleSource
) -> dict[str, Any]:
    """Support and resistance from clustered swing points.

    1. Swing highs/lows over the last ``lookback`` candles (``trading.indicators.swing_points``).
    2. Sorted, they are grouped: a level joins the current group when within half the
       window's average true range of the group's mean; the group's mean is the level
       and its size the touches.
    3. Levels at or below the last close are support, above it resistance (a broken
       level changes role); each side nearest first, at most 5.
    """
    rows = _fetch(candles, symbol, interval, lookback, 2 * ind.SWING_WINGS + 1)
    close = ind.closes_of(rows)[-1]
    tolerance = ind.mean(ind.true_range(rows)) / 2
    levels = ind.cluster_levels(ind.swing_points(rows), tolerance)

    def shown(level: Decimal, touches: int) -> dict[str, Any]:
        with localcontext(_WORK):
            distance = (level - close) / close * 100
        return {"price": _num(level), "touches": touches, "distance_pct": _num(distance)}

    support = sorted((lv for lv in levels if lv[0] <= close), key=lambda lv: close - lv[0])[:MAX_LEVELS]
    resistance = sorted((lv for lv in levels if lv[0] > close), key=lambda lv: lv[0] - close)[:MAX_LEVELS]
    return {
        "symbol": symbol, "interval": interval, "candles": len(rows), "close": _num(close),
        "support": [shown(*lv) for lv in support],
        "resistance": [shown(*lv) for lv in resistance],
        "nearest_support": _num(support[0][0]) if support else None,
        "nearest_resistance": _num(resistance[0][0]) if resistance else None,
        "method": "swing highs/lows (2 candles each side) clustered within half the average true range",
    }


def _aligned(a: list[Any], b: list[Any]) -> tuple[list[Decimal], list[Decimal]]:
    """Closes of the candles both series have: matched on ``open_time`` when the candles
    carry one, else the newest ``min(len)`` of each (same interval, same end)."""
    if all(hasattr(row, "open_time") for row in (*a, *b)):
        times = {row.open_time for row in a} & {row.open_time for row in b}
        a, b = [r for r in a if r.open_time in times], [r for r in b if r.open_time in times]
    n = min(len(a), len(b))
    return ind.closes_of(a[len(a) - n:]), ind.closes_of(b[len(b) - n:])


def correlation(
    symbol_a: str, symbol_b: str, interval: str = "1h", lookback: int = 100, *, candles: CandleSource
) -> dict[str, Any]:
    """Pearson correlation of the two symbols' log returns over ``lookback`` intervals:
    ``r = cov(a, b) / (σa σb)``, and the beta of a on b, ``cov(a, b) / var(b)``."""
    need = MIN_RETURNS + 1
    closes_a, closes_b = _aligned(
        _fetch(candles, symbol_a, interval, lookback + 1, need),
        _fetch(candles, symbol_b, interval, lookback + 1, need),
    )
    if len(closes_a) < need:
        raise ToolError(
            f"{symbol_a} and {symbol_b} share only {len(closes_a)} {interval} candles; this needs {need}"
        )
    ra, rb = ind.log_returns(closes_a), ind.log_returns(closes_b)
    sa, sb = ind.stdev(ra), ind.stdev(rb)
    for symbol, sigma in ((symbol_a, sa), (symbol_b, sb)):
        if sigma == 0:
            raise ToolError(f"{symbol} did not move over the window: correlation is undefined")
    with localcontext(_WORK):
        cov = ind.covariance(ra, rb)
        r = max(Decimal(-1), min(Decimal(1), cov / (sa * sb)))
        beta = cov / (sb * sb)
    # The usual rule-of-thumb bands for |r|.
    size = next((name for floor, name in CORRELATION_BANDS if abs(r) >= floor), None)
    return {
        "symbol_a": symbol_a, "symbol_b": symbol_b, "interval": interval, "returns": len(ra),
        "correlation": _num(r), "beta_a_on_b": _num(beta),
        "strength": f"{size} {'positive' if r > 0 else 'negative'}" if size else "none",
    }


# --- the arithmetic tools ----------------------------------------------------------------


def position_size(
    balance: Decimal, risk_pct: Decimal, entry: Decimal, stop: Decimal, leverage: int
) -> dict[str, Any]:
    """Fixed-fractional sizing (Van K. Tharp, *Trade Your Way to Financial Freedom*, "position
    sizing"): the position whose stop-out loses ``risk_pct`` % of ``balance``.

    ``risk = balance × risk_pct / 100``; ``quantity = risk / |entry − stop|``;
    ``notional = quantity × entry``; ``margin = notional / leverage`` (the decision's
    ``size``). Fees and slippage are not included. An isolated position loses its whole
    margin after an adverse move of about 1/leverage, so a stop farther than that
    never fires: the result warns.
    """
    if stop == entry:
        raise ToolError("stop equals entry: the risk per unit is zero, so no size follows")
    with localcontext(_WORK):
        side = "LONG" if stop < entry else "SHORT"
        distance = abs(entry - stop)
        risk = balance * risk_pct / 100
        quantity = risk / distance
        size = quantity * entry
        margin = size / leverage
        stop_pct = distance / entry * 100
        warnings = []
        if stop_pct >= Decimal(100) / leverage:
            warnings.append(f"the stop is {_num(stop_pct)}% away but {leverage}x is liquidated after about "
                            f"{_num(Decimal(100) / leverage)}%: lower the leverage or tighten the stop")
        if margin > balance:
            warnings.append(f"the margin {_num(margin)} exceeds the balance {_num(balance)}: raise the "
                            "leverage or lower risk_pct")
        return {
            "side": side, "risk_usdt": _num(risk), "stop_distance_pct": _num(stop_pct),
            "quantity": _num(quantity), "notional_usdt": _num(size), "margin_usdt": _num(margin),
            "size": _num(margin), "leverage": leverage, "fits_balance": margin <= balance,
            "warnings": warnings, "note": "size is the margin in USDT; fees and slippage not included",
        }


def kelly(win_rate: Decimal, avg_win: Decimal, avg_loss: Decimal) -> dict[str, Any]:
    """The Kelly criterion (J. L. Kelly Jr., "A New Interpretation of Information Rate", 1956;
    E. O. Thorp, "The Kelly Criterion in Blackjack, Sports Betting and the Stock Market").

    ``b = avg_win / avg_loss``, ``p = win_rate``: ``f* = p − (1 − p) / b``, the fraction of
    the balance to risk per trade that maximises long-run growth; clamped to [0, 1]
    (negative means no edge: do not trade). Half-Kelly keeps about three quarters of
    the growth at half the volatility, and forgives an overestimated edge.
    """
    with localcontext(_WORK):
        b = avg_win / avg_loss
        raw = win_rate - (1 - win_rate) / b
        fraction = min(max(raw, Decimal(0)), Decimal(1))
        edge = win_rate * b - (1 - win_rate)
        why = (
            f"f* = p - (1 - p)/b = {_num(win_rate)} - {_num(1 - win_rate)}/{_num(b)} = {_num(raw)}. "
            + ("No edge: the expected result per trade is negative, so risk nothing. " if raw <= 0 else
               f"Risk at most {_num(fraction * 100)}% of the balance per trade (full Kelly); "
               f"half-Kelly, {_num(fraction * 50)}%, is the usual choice because p and b are estimates. ")
            + "Use it as position_size's risk_pct: it is the loss at the stop, not the margin."
        )
        return {
            "payoff_ratio": _num(b), "edge_per_unit_risked": _num(edge), "kelly_raw": _num(raw),
            "kelly_fraction": _num(fraction), "half_kelly_fraction": _num(fraction / 2),
            "explanation": why,
        }


def risk_reward(entry: Decimal, stop: Decimal, target: Decimal, side: str) -> dict[str, Any]:
    """Risk ``|entry − stop|``, reward ``|target − entry|``, ratio ``R = reward / risk`` and the
    break-even win rate ``1 / (1 + R)`` (wins × R = losses × 1)."""
    ordered = stop < entry < target if side == "LONG" else target < entry < stop
    if not ordered:
        where = "stop < entry < target" if side == "LONG" else "target < entry < stop"
        got = f"entry {_num(entry)}, stop {_num(stop)}, target {_num(target)}"
        raise ToolError(f"a {side} needs {where}; got {got}")
    with localcontext(_WORK):
        risk, reward = abs(entry - stop), abs(target - entry)
        ratio = reward / risk
        return {
            "side": side, "risk_per_unit": _num(risk), "reward_per_unit": _num(reward),
            "risk_pct": _num(risk / entry * 100), "reward_pct": _num(reward / entry * 100),
            "ratio": _num(ratio), "ratio_text": f"1:{_num(ratio.quantize(Decimal('0.01')))}",
            "breakeven_win_rate": _num(1 / (1 + ratio)),
        }


# --- the registry and the dispatcher -----------------------------------------------------


def _p(name: str, kind: str, description: str, default: Any = None, low: str | None = None,
       high: str | None = None, exclusive: bool = False) -> Param:
    return Param(name, kind, description, default, None if low is None else Decimal(low),
                 None if high is None else Decimal(high), exclusive)


_SYMBOL = _p("symbol", "symbol", "market symbol, e.g. BTCUSDT")
_INTERVAL = _p("interval", "interval", "candle interval", "1h")
_HIGH = f"{MAX_AMOUNT:f}"


def _lookback(default: int) -> Param:
    return _p("lookback", "integer", "number of candles", default, str(MIN_LOOKBACK), str(MAX_LOOKBACK))


def _price(name: str, description: str) -> Param:
    return _p(name, "number", description, None, f"{MIN_PRICE:f}", _HIGH)


def _amount(name: str, description: str) -> Param:
    return _p(name, "number", description, None, "0", _HIGH, exclusive=True)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: tuple[Param, ...]
    function: Callable[..., dict[str, Any]]
    uses_candles: bool


TOOLS: dict[str, Tool] = {tool.name: tool for tool in (
    Tool("indicators",
         "EMA20, EMA50, RSI14, MACD(12,26,9), ATR14, ATR% and trend label of the newest candles",
         (_SYMBOL, _INTERVAL), indicators, True),
    Tool("volatility",
         "realised volatility: stdev of log returns per interval and annualised, ATR%, range",
         (_SYMBOL, _INTERVAL, _lookback(48)), volatility, True),
    Tool("support_resistance",
         "support and resistance levels from clustered swing highs and lows",
         (_SYMBOL, _INTERVAL, _lookback(100)), support_resistance, True),
    Tool("correlation",
         "Pearson correlation (and beta) of two symbols' log returns",
         (_p("symbol_a", "symbol", "first symbol"), _p("symbol_b", "symbol", "second symbol"),
          _INTERVAL, _lookback(100)), correlation, True),
    Tool("position_size",
         "margin, notional and quantity so that hitting the stop loses risk_pct of the balance",
         (_amount("balance", "balance in USDT"),
          _p("risk_pct", "number", "percent of the balance to lose at the stop, e.g. 1", None, "0", "100",
             exclusive=True),
          _price("entry", "entry price"), _price("stop", "stop-loss price"),
          _p("leverage", "integer", "leverage", None, "1", str(MAX_LEVERAGE))), position_size, False),
    Tool("kelly",
         "Kelly fraction of the balance to risk per trade, with the half-Kelly suggestion",
         (_p("win_rate", "number", "fraction of trades won, 0 to 1 (0.55 = 55%)", None, "0", "1"),
          _amount("avg_win", "average win in USDT"),
          _amount("avg_loss", "average loss in USDT, as a positive number")), kelly, False),
    Tool("risk_reward",
         "risk, reward, reward/risk ratio and break-even win rate of a trade plan",
         (_price("entry", "entry price"), _price("stop", "stop-loss price"),
          _price("target", "take-profit price"), _p("side", "side", "LONG or SHORT")), risk_reward, False),
)}

TOOL_SPECS: list[dict[str, Any]] = [
    {
        "name": tool.name,
        "description": tool.description,
        "parameters": {
            "type": "object",
            "properties": {p.name: p.schema() for p in tool.params},
            "required": [p.name for p in tool.params if p.default is None],
        },
    }
    for tool in TOOLS.values()
]


def run_tool(name: object, args: object, *, candles: CandleSource) -> dict[str, Any]:
    """Run the tool called ``name`` with the model's ``args``; only ``ToolError`` escapes for
    anything the model sent. ``candles`` serves the candle tools (see ``CandleSource``)."""
    tool = TOOLS.get(name.strip().lower().replace("-", "_")) if isinstance(name, str) else None
    if tool is None:
        raise ToolError(f"unknown tool {_show(name)}; available tools: {', '.join(TOOLS)}")
    given = _read_args(tool.name, tool.params, args)
    if tool.uses_candles:
        return tool.function(**given, candles=candles)
    return tool.function(**given)
