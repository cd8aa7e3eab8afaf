"""Writes of the paper engine (open, close, mark, triggers, funding) and of exchange wallets."""
from __future__ import annotations

from trading.services.funding import FundingResult, funding_apply, funding_due_apply
from trading.services.market import (
    RefreshResult,
    candles_fetch_and_store,
    market_refresh_and_trigger,
    markets_refresh,
    symbols_to_refresh,
)
from trading.services.marks import positions_mark, triggers_check
from trading.services.positions import (
    CloseResult,
    OpenResult,
    PositionError,
    broker_for,
    liquidation_price_for,
    position_close,
    position_open,
)
from trading.services.wallets import (
    wallet_attach,
    wallet_create,
    wallet_delete,
    wallet_detach,
    wallet_update,
)

__all__ = [
    "CloseResult", "FundingResult", "OpenResult", "PositionError", "RefreshResult",
    "broker_for", "candles_fetch_and_store", "funding_apply", "funding_due_apply", "liquidation_price_for",
    "market_refresh_and_trigger", "markets_refresh", "position_close", "position_open",
    "positions_mark", "symbols_to_refresh", "triggers_check",
    "wallet_attach", "wallet_create", "wallet_delete", "wallet_detach", "wallet_update",
]
