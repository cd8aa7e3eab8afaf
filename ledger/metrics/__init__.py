"""A trading bot's performance metrics as pure functions: no ORM, no Django, no numpy.

- ``series``: returns, volatility, Sharpe, Sortino from a value series (``Point``), net of
  deposits and resets and annualised from the snapshots' actual spacing;
- ``drawdown``: drawdowns, their duration, Calmar;
- ``trades``: profit factor, expectancy, win rate, fees, funding, leverage, hold time;
- ``exposure``: the share of a period spent long, short, both or flat;
- ``llm``: what the model cost and the return net of it.

Every metric that cannot be computed is a ``Metric``/``MoneyMetric`` with ``value=None`` and a
reason, never 0. Statistics are floats and agree with empyrical to 1e-9; money is Decimal.
"""
from __future__ import annotations

from ledger.metrics.drawdown import calmar, drawdown_series, max_drawdown, max_drawdown_duration
from ledger.metrics.exposure import Exposure, PositionSpan, Span, exposure
from ledger.metrics.llm import LlmCall, LlmUsage, llm_usage, percentile, return_net_of_llm_cost
from ledger.metrics.result import Metric, MoneyMetric
from ledger.metrics.series import (
    SECONDS_PER_YEAR,
    Point,
    annual_return,
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
from ledger.metrics.trades import (
    ClosedTrade,
    TradeStats,
    average_hold_seconds,
    average_leverage,
    average_loss,
    average_win,
    biggest_loss,
    biggest_win,
    expectancy,
    fees_paid,
    funding_paid,
    funding_received,
    profit_factor,
    trade_stats,
    win_rate,
)

__all__ = [
    "SECONDS_PER_YEAR",
    "ClosedTrade",
    "Exposure",
    "LlmCall",
    "LlmUsage",
    "Metric",
    "MoneyMetric",
    "Point",
    "PositionSpan",
    "Span",
    "TradeStats",
    "annual_return",
    "average_hold_seconds",
    "average_leverage",
    "average_loss",
    "average_win",
    "biggest_loss",
    "biggest_win",
    "calmar",
    "drawdown_series",
    "expectancy",
    "exposure",
    "fees_paid",
    "funding_paid",
    "funding_received",
    "llm_usage",
    "max_drawdown",
    "max_drawdown_duration",
    "per_period_rate",
    "percentile",
    "period_returns",
    "periods_per_year",
    "profit_factor",
    "return_net_of_llm_cost",
    "sharpe",
    "sortino",
    "step_returns",
    "total_return",
    "trade_stats",
    "volatility",
    "wealth_index",
    "win_rate",
]
