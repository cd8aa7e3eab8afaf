"""What a prompt is rendered from (frozen dataclasses the turn engine fills) and its size caps."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from trading.indicators import IndicatorSummary

MAX_TEMPLATE_CHARS = 20_000
MAX_INSTRUCTIONS_CHARS = 60_000
MAX_LINE_CHARS = 300
MAX_POSITIONS = 50
MAX_MARKETS = 40
MAX_COOLDOWNS = 40
MAX_LEVERAGE_SYMBOLS = 40
MAX_RECENT_DECISIONS = 20
MAX_ACTIONS_PER_DECISION = 5
MAX_NOTES_PER_DECISION = 5
MAX_DECISION_CHARS = 1_200
MAX_SUMMARY_CHARS = 4_000
MAX_SUMMARY_LINES = 60
MAX_NAME_CHARS = 100
MAX_TOOL_RESULTS = 10
MAX_TOOL_RESULT_CHARS = 4_000
# The sum of the caps above with room to spare; tests/bots/test_prompts.py fills every
# list and field to its limit and checks it.
MAX_USER_CHARS = 200_000


@dataclass(frozen=True)
class PositionLine:
    id: Any
    symbol: str
    side: str
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal
    pnl_pct: Decimal  # of margin
    margin: Decimal
    leverage: int
    hours_open: float
    stop_loss: Decimal | None
    take_profit: Decimal | None
    liquidation_price: Decimal | None


@dataclass(frozen=True)
class MarketLine:
    symbol: str
    price: Decimal
    change_24h_pct: Decimal | None
    funding_rate: Decimal | None  # per 8 hours, as a fraction (0.0001 = 0.01 %)
    stale: bool
    indicators: IndicatorSummary | None


@dataclass(frozen=True)
class RecentDecision:
    created_at: datetime
    actions: Sequence[str]  # "LONG BTCUSDT 200 USDT x5 → opened #12"
    notes: Sequence[str]
    outcome: str | None


@dataclass(frozen=True)
class Rules:
    min_trade_usdt: Decimal
    taker_fee_rate: Decimal
    max_open_positions: int
    max_leverage: Mapping[str, int]
    cooldown_minutes: int
    enforce_cooldown: bool

    @classmethod
    def from_risk(cls, settings: Any, max_leverage: Mapping[str, int]) -> Rules:
        """From a ``trading.risk.RiskSettings`` and each symbol's first-bracket leverage."""
        return cls(settings.min_trade_usdt, settings.taker_fee_rate, settings.max_open_positions,
                   max_leverage, settings.cooldown_minutes, settings.enforce_cooldown)


@dataclass(frozen=True)
class PromptContext:
    now: datetime
    bot_name: str
    total_value: Decimal
    available_balance: Decimal
    margin_in_use: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    positions: Sequence[PositionLine]
    markets: Sequence[MarketLine]  # most relevant first: only MAX_MARKETS are shown
    cooldowns: Mapping[str, datetime]  # symbol → until
    learning_summary: str | None
    recent_decisions: Iterable[RecentDecision]  # newest first
    rules: Rules
    sandbox: bool = False


@dataclass(frozen=True)
class RenderedPrompt:
    system: str
    user: str

