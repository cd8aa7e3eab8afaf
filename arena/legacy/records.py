"""Legacy records after checking: plain dataclasses, no ORM.

``normalize`` builds them from blob items and table rows; ``history`` merges the
two sources into one history per bot; ``importer`` writes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from arena.legacy.values import Where

# --- configuration -------------------------------------------------------------------


@dataclass
class LegacyUser:
    id: str
    username: str
    password_hash: str
    email: str
    role: str
    is_active: bool
    created_at: datetime | None
    last_login: datetime | None
    where: Where


@dataclass
class LegacyProvider:
    id: str
    user_id: str | None
    name: str
    type: str
    endpoint: str
    model: str
    options: dict[str, Any]
    is_active: bool
    created_at: datetime | None
    where: Where


@dataclass
class LegacyBot:
    """A bot's configuration: the bots table row, else the blob's copy of it."""

    id: str
    user_id: str | None
    name: str
    prompt: str
    provider_id: str | None
    provider_type: str  # the blob's "provider"; used only when provider_id names nothing
    provider_name: str
    mode: str
    avatar: str | None
    is_active: bool
    is_paused: bool
    created_at: datetime | None
    symbols: list[str]
    history_summary: str | None
    initial_balance: Decimal | None
    where: Where


@dataclass
class LegacyWallet:
    id: str
    user_id: str | None
    bot_id: str | None
    exchange: str
    address: str
    is_active: bool
    created_at: datetime | None
    where: Where


# --- history -------------------------------------------------------------------------


@dataclass
class LegacyTrade:
    """One fill. ``size`` is the legacy size: the margin on paper, the quote amount live."""

    id: str
    kind: str  # OPEN | CLOSE
    side: str  # the side of the position it opens or closes
    symbol: str
    price: Decimal  # this fill's price
    entry_price: Decimal | None  # the position's entry price, when the record names it
    size: Decimal
    leverage: int
    fee: Decimal
    pnl: Decimal | None  # CLOSE: realized, net of this fill's fee; OPEN: None
    at: datetime
    where: Where
    live: bool = False
    position_id: str | None = None  # the table's position_id
    in_blob: bool = False
    in_table: bool = False

    @property
    def margin(self) -> Decimal:
        # A live fill's size is its notional; the paper engine's is the margin itself.
        return self.size / self.leverage if self.live else self.size

    def quantity(self, entry_price: Decimal | None = None) -> Decimal:
        """Base-asset quantity: size × leverage / the position's entry price.

        A live fill's size is its quote amount, so its quantity is size / fill price.
        """
        if self.live:
            return self.size / self.price
        basis = entry_price or self.entry_price or self.price
        return self.size * self.leverage / basis


@dataclass
class LegacyPosition:
    id: str
    symbol: str
    side: str
    entry_price: Decimal
    margin: Decimal
    leverage: int
    liquidation_price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    unrealized_pnl: Decimal
    status: str  # open | closed, as the source says
    opened_at: datetime | None
    closed_at: datetime | None
    where: Where
    live: bool = False
    in_blob: bool = False
    in_table: bool = False

    @property
    def quantity(self) -> Decimal:
        return self.margin * self.leverage / self.entry_price


@dataclass
class LegacyDecision:
    at: datetime
    decisions: list[Any]
    notes: list[str]
    prompt: str
    success: bool
    where: Where
    table_id: int | None = None
    in_blob: bool = False

    @property
    def key(self) -> str:
        """The import's legacy id: the table row's id, else the blob log's time."""
        if self.table_id is not None:
            return f"db:{self.table_id}"
        return f"log:{int(self.at.timestamp() * 1000)}"


@dataclass
class LegacySnapshot:
    key: str  # db:<row id> or vh:<epoch ms>
    at: datetime
    balance: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal | None  # None for a valueHistory point: derived from the trades
    total_value: Decimal
    trade_count: int | None
    win_rate: Decimal | None


@dataclass
class BlobState:
    """The blob's state of one bot beyond its configuration."""

    balance: Decimal
    realized_pnl: Decimal | None
    trade_count: int | None
    positions: list[LegacyPosition] = field(default_factory=list)
    orders: list[LegacyTrade] = field(default_factory=list)
    logs: list[LegacyDecision] = field(default_factory=list)
    points: list[tuple[datetime, Decimal]] = field(default_factory=list)
    cooldowns: dict[str, datetime] = field(default_factory=dict)
    duplicates: int = 0  # identical orders listed twice, dropped
