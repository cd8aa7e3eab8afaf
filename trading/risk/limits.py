"""The limits a check applies: the arena-wide ``RiskSettings`` and the hard bounds.

``MIN_TRADE_USDT`` is the smallest margin a position may open with; ``MAX_MARGIN``,
``MAX_PRICE`` and ``MAX_LEVERAGE`` bound what a request may ask for at all, so that nothing
reaches the ledger that its columns could not store.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from trading.perps import as_decimal

# The smallest margin a position may open with (the legacy's 50 USDT): the default of
# ArenaSettings.min_trade_usdt, and what the scripted strategies size to at least.
MIN_TRADE_USDT = Decimal("50")

# Bounds of what a request may ask for: the ledger's money columns hold 16 integer
# digits and 8 places, the price columns 18 and 12; nothing outside can be stored.
MAX_MARGIN = Decimal("1e15")
MAX_PRICE = Decimal("1e15")
MAX_LEVERAGE = 1_000  # far above any exchange's; more is a mistake, not a request


@dataclass(frozen=True)
class RiskSettings:
    """The arena-wide limits; defaults are ``arena.models.ArenaSettings``'s."""

    min_trade_usdt: Decimal = MIN_TRADE_USDT
    taker_fee_rate: Decimal = Decimal("0.0005")
    slippage_bps: Decimal = Decimal("1")
    max_open_positions: int = 6
    cooldown_minutes: int = 30
    enforce_cooldown: bool = False
    fallback_mmr: Decimal | None = Decimal("0.005")  # for symbols without a tier table

    def __post_init__(self) -> None:
        for name in ("min_trade_usdt", "taker_fee_rate", "slippage_bps"):
            as_decimal(name, getattr(self, name))  # floats refused here, not deep in a formula
        if self.fallback_mmr is not None:
            as_decimal("fallback_mmr", self.fallback_mmr)

    @classmethod
    def from_arena_settings(cls, row: Any) -> RiskSettings:
        """From an ``ArenaSettings`` row (read by attribute, so this module imports no model)."""
        return cls(
            min_trade_usdt=row.min_trade_usdt,
            taker_fee_rate=row.taker_fee_rate,
            slippage_bps=row.slippage_bps,
            max_open_positions=row.max_open_positions_per_bot,
            cooldown_minutes=row.cooldown_minutes,
            enforce_cooldown=row.enforce_cooldown,
            fallback_mmr=row.maintenance_margin_rate,
        )

    def cooldown_until(self, closed_at: datetime) -> datetime:
        """When a symbol a bot just closed on may be opened again."""
        return closed_at + timedelta(minutes=self.cooldown_minutes)
