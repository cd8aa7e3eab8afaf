"""Built-in scripted strategies: the offline "model" behind ``LLMProvider.kind = scripted``.

Each strategy reads a turn's structured context and returns decisions in the legacy
shape (``{action, symbol, size, leverage, stopLoss, takeProfit, closePositionId,
reasoning}``, ``size`` = margin in USDT), which ``bots.providers.scripted`` serialises to
JSON text so they go through the same parser as any model's reply. They trade actively
on purpose — a fresh arena without keys should show positions opening and closing
within minutes — and deterministically: the same context gives the same decisions.

The context (built by the turn; every number a string or a number)::

    {"now": ISO, "turn": int, "bot_id": int, "balance": "...", "turn_minutes": 5 (optional),
     "markets": {symbol: {"price", "change_24h_pct", "candles": [[open_ms, o, h, l, c], ...]}},
     "positions": [{"id", "symbol", "side", "entry_price", "margin", "leverage",
                    "pnl_pct" (percent of margin), "hours_open"}],
     "cooldowns": {symbol: until ISO}}

Malformed entries are skipped, never raised on: a strategy with nothing usable holds.

``view`` reads the context, ``book`` writes and sizes decisions, ``builtin`` holds the
strategies themselves.
"""
from __future__ import annotations

from bots.strategies.book import CASH_BUFFER, Book, Params
from bots.strategies.builtin import (
    BREAKOUT,
    MEAN_REVERSION,
    MOMENTUM,
    RANDOM_WALK,
    STRATEGIES,
    UnknownStrategy,
    breakout,
    decide,
    mean_reversion,
    momentum,
    random_walk,
    to_json,
)
from bots.strategies.view import CLOSE, LONG, SHORT, Held, Market, View, read_context

__all__ = [
    "BREAKOUT", "CASH_BUFFER", "CLOSE", "LONG", "MEAN_REVERSION", "MOMENTUM", "RANDOM_WALK", "SHORT",
    "STRATEGIES", "Book", "Held", "Market", "Params", "UnknownStrategy", "View", "breakout", "decide",
    "mean_reversion", "momentum", "random_walk", "read_context", "to_json",
]
