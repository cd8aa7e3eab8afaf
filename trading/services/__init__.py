"""Writes of the paper engine: open, close, mark, triggers, funding."""
from __future__ import annotations

from trading.services.funding import FundingResult, funding_apply
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
    "CloseResult", "FundingResult", "OpenResult", "PositionError",
    "funding_apply", "liquidation_price_for", "position_close", "position_open",
    "positions_mark", "triggers_check",
]
