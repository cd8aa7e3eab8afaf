"""The tool registry (names, descriptions, argument specs) and the dispatcher ``run_tool``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bots.tools.arguments import (
    CandleSource,
    Param,
    ToolError,
    read_args,
    shown_value,
)
from bots.tools.arithmetic_tools import kelly, position_size, risk_reward
from bots.tools.candle_tools import (
    correlation,
    indicators,
    support_resistance,
    volatility,
)

MIN_LOOKBACK, MAX_LOOKBACK = 10, 500
MAX_LEVERAGE = 125
MAX_AMOUNT = Decimal("1e12")
MIN_PRICE = Decimal("1e-12")


def _param(name: str, kind: str, description: str, default: Any = None, low: str | None = None,
           high: str | None = None, exclusive: bool = False) -> Param:
    return Param(name, kind, description, default, None if low is None else Decimal(low),
                 None if high is None else Decimal(high), exclusive)


_SYMBOL_PARAM = _param("symbol", "symbol", "market symbol, e.g. BTCUSDT")
_INTERVAL_PARAM = _param("interval", "interval", "candle interval", "1h")
_MAX_AMOUNT_TEXT = f"{MAX_AMOUNT:f}"


def _lookback_param(default: int) -> Param:
    return _param("lookback", "integer", "number of candles", default, str(MIN_LOOKBACK), str(MAX_LOOKBACK))


def _price_param(name: str, description: str) -> Param:
    return _param(name, "number", description, None, f"{MIN_PRICE:f}", _MAX_AMOUNT_TEXT)


def _amount_param(name: str, description: str) -> Param:
    return _param(name, "number", description, None, "0", _MAX_AMOUNT_TEXT, exclusive=True)


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
         (_SYMBOL_PARAM, _INTERVAL_PARAM), indicators, True),
    Tool("volatility",
         "realised volatility: stdev of log returns per interval and annualised, ATR%, range",
         (_SYMBOL_PARAM, _INTERVAL_PARAM, _lookback_param(48)), volatility, True),
    Tool("support_resistance",
         "support and resistance levels from clustered swing highs and lows",
         (_SYMBOL_PARAM, _INTERVAL_PARAM, _lookback_param(100)), support_resistance, True),
    Tool("correlation",
         "Pearson correlation (and beta) of two symbols' log returns",
         (_param("symbol_a", "symbol", "first symbol"), _param("symbol_b", "symbol", "second symbol"),
          _INTERVAL_PARAM, _lookback_param(100)), correlation, True),
    Tool("position_size",
         "margin, notional and quantity so that hitting the stop loses risk_pct of the balance",
         (_amount_param("balance", "balance in USDT"),
          _param("risk_pct", "number", "percent of the balance to lose at the stop, e.g. 1", None, "0", "100",
             exclusive=True),
          _price_param("entry", "entry price"), _price_param("stop", "stop-loss price"),
          _param("leverage", "integer", "leverage", None, "1", str(MAX_LEVERAGE))), position_size, False),
    Tool("kelly",
         "Kelly fraction of the balance to risk per trade, with the half-Kelly suggestion",
         (_param("win_rate", "number", "fraction of trades won, 0 to 1 (0.55 = 55%)", None, "0", "1"),
          _amount_param("avg_win", "average win in USDT"),
          _amount_param("avg_loss", "average loss in USDT, as a positive number")), kelly, False),
    Tool("risk_reward",
         "risk, reward, reward/risk ratio and break-even win rate of a trade plan",
         (_price_param("entry", "entry price"), _price_param("stop", "stop-loss price"),
          _price_param("target", "take-profit price"), _param("side", "side", "LONG or SHORT")),
         risk_reward, False),
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
        raise ToolError(f"unknown tool {shown_value(name)}; available tools: {', '.join(TOOLS)}")
    given = read_args(tool.name, tool.params, args)
    if tool.uses_candles:
        return tool.function(**given, candles=candles)
    return tool.function(**given)
