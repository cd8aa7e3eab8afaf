"""Writes of the paper engine: open, close, mark, triggers, funding."""
from __future__ import annotations

from trading.services.funding import FundingResult, funding_apply, funding_due_apply
from trading.services.market import (
    RefreshResult,
    candles_for,
    market_refresh_and_trigger,
    markets_refresh,
    refresh_symbols,
)
from trading.services.marks import positions_mark, triggers_check
from trading.services.positions import (
    CloseResult,
    OpenResult,
    PositionError,
    liquidation_price_for,
    position_close,
    position_open,
)

__all__ = [
    "CloseResult", "FundingResult", "OpenResult", "PositionError", "RefreshResult",
    "candles_for", "funding_apply", "funding_due_apply", "liquidation_price_for",
    "market_refresh_and_trigger", "markets_refresh", "position_close", "position_open",
    "positions_mark", "refresh_symbols", "triggers_check",
]
