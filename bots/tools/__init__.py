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

Modules: ``arguments`` (reading args, showing numbers), ``candle_tools``, ``arithmetic_tools``,
``registry`` (``TOOLS``, ``TOOL_SPECS``, ``run_tool``).
"""
from __future__ import annotations

from bots.tools.arguments import (
    INTERVALS,
    MAX_TEXT,
    SHOWN_CONTEXT,
    SIGNIFICANT,
    WORK_CONTEXT,
    CandleSource,
    Param,
    ToolError,
    read_args,
    shown_number,
)
from bots.tools.arithmetic_tools import (
    kelly,
    position_size,
    risk_reward,
)
from bots.tools.candle_tools import (
    CORRELATION_BANDS,
    INDICATOR_CANDLES,
    MAX_LEVELS,
    MIN_RETURNS,
    PERIODS_PER_YEAR,
    correlation,
    indicators,
    support_resistance,
    volatility,
)
from bots.tools.registry import (
    MAX_AMOUNT,
    MAX_LEVERAGE,
    MAX_LOOKBACK,
    MIN_LOOKBACK,
    MIN_PRICE,
    TOOL_SPECS,
    TOOLS,
    Tool,
    run_tool,
)

__all__ = [
    "CORRELATION_BANDS",
    "CandleSource",
    "INDICATOR_CANDLES",
    "INTERVALS",
    "MAX_AMOUNT",
    "MAX_LEVELS",
    "MAX_LEVERAGE",
    "MAX_LOOKBACK",
    "MAX_TEXT",
    "MIN_LOOKBACK",
    "MIN_PRICE",
    "MIN_RETURNS",
    "PERIODS_PER_YEAR",
    "Param",
    "SHOWN_CONTEXT",
    "SIGNIFICANT",
    "TOOLS",
    "TOOL_SPECS",
    "Tool",
    "ToolError",
    "WORK_CONTEXT",
    "correlation",
    "indicators",
    "kelly",
    "position_size",
    "read_args",
    "risk_reward",
    "run_tool",
    "shown_number",
    "support_resistance",
    "volatility",
]
