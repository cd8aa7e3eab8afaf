"""The frozen views a check reads and the results it returns, ORM-free.

Callers build the market, portfolio and request views from the database; a check answers
with an ``OpenCheck`` (an ``OpenPlan`` or none, with notes) or a ``CloseCheck``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class MarketView:
    symbol: str
    price: Decimal  # the price a market order starts from (before slippage)
    tick_size: Decimal | None = None
    step_size: Decimal | None = None
    is_stale: bool = False
    listed: bool = True


@dataclass(frozen=True)
class OpenPositionView:
    id: Any
    symbol: str
    side: str
    margin: Decimal
    leverage: int
    quantity: Decimal
    entry_price: Decimal


@dataclass(frozen=True)
class PortfolioView:
    available_balance: Decimal  # cash not locked as margin
    open_positions: tuple[OpenPositionView, ...] = ()
    cooldowns: Mapping[str, datetime] = field(default_factory=dict)  # symbol → until


@dataclass(frozen=True)
class OpenRequest:
    symbol: str
    side: str
    margin: Decimal
    leverage: Decimal | int
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True)
class CloseRequest:
    """Names a position by id, or by symbol (and side when both sides are open)."""

    position_id: Any = None
    symbol: str | None = None
    side: str | None = None


@dataclass(frozen=True)
class OpenPlan:
    """Everything the engine writes for an approved open."""

    symbol: str
    side: str
    margin: Decimal  # USDT locked, 8 places
    leverage: int
    quantity: Decimal
    fill_price: Decimal  # the entry price, slippage included
    notional: Decimal  # quantity × fill_price
    fee: Decimal  # taker fee on the notional, 8 places
    mmr: Decimal
    maintenance_amount: Decimal
    liquidation_price: Decimal  # rounded toward the entry: fires no later than the exact price
    stop_loss: Decimal | None
    take_profit: Decimal | None


@dataclass(frozen=True)
class OpenCheck:
    approved: OpenPlan | None
    notes: list[str]


@dataclass(frozen=True)
class CloseCheck:
    position: OpenPositionView | None
    notes: list[str]
