"""The live preview of a prompt: rendered by the turn's own ``bots.prompts.render`` on the
arena's current prices, and the bot's own account and history when it exists.

The turn prepares its prompt with ``arena.turns.context`` (``job_prepare``); the preview
reads the same rows through the same helpers, with one difference: a turn fetches candles
from the feed for the indicators, the preview only reads the stored ones (it runs on every
keystroke, and must never wait on the network).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from arena.models import ArenaSettings
from arena.turns.context import PROMPT_CANDLES, market_snapshot
from arena.turns.context.job import _market_lines, _rules
from arena.turns.context.reads import cooldowns_running, money_totals, position_lines, recent_decisions
from bots import prompts
from bots.models import Bot
from bots.selectors import initial_balance_default
from bots.summaries import summary_latest_text
from trading import indicators
from trading.selectors import candles_stored

ZERO = Decimal(0)


class StoredCandles:
    """The part of the turn's ``CandleCache`` that market lines read (``summary``), from the
    stored candles only."""

    def __init__(self) -> None:
        self.summaries: dict[str, indicators.IndicatorSummary | None] = {}

    def summary(self, symbol: str) -> indicators.IndicatorSummary | None:
        if symbol not in self.summaries:
            candles = candles_stored(symbol=symbol, interval="1h", limit=PROMPT_CANDLES)
            self.summaries[symbol] = indicators.summary(candles) if candles else None
        return self.summaries[symbol]


def preview_context(*, now: datetime, name: str, symbols: Sequence[str], sandbox: bool, mode: str,
                    bot: Bot | None = None) -> prompts.PromptContext:
    """What a turn at ``now`` would render the prompt from: ``bot``'s account, positions,
    cooldowns, learning summary and recent decisions, or a new bot's (its funded balance,
    nothing else yet), with the markets of ``symbols`` (empty: the arena's defaults)."""
    arena = ArenaSettings.load()
    chosen = list(symbols or arena.default_symbols)
    markets = _market_lines(chosen, market_snapshot(), StoredCandles())
    common: dict[str, Any] = {"now": now, "bot_name": name or "New bot", "markets": markets,
                              "rules": _rules(arena, chosen), "sandbox": sandbox}
    if bot is None:
        balance = initial_balance_default(mode=mode)
        return prompts.PromptContext(
            total_value=balance, available_balance=balance, margin_in_use=ZERO, unrealized_pnl=ZERO,
            realized_pnl=ZERO, positions=[], cooldowns={}, learning_summary=None, recent_decisions=[],
            **common)
    positions = position_lines(bot, now)
    money = money_totals(bot, positions)
    return prompts.PromptContext(
        total_value=money["total"], available_balance=money["balance"], margin_in_use=money["margin"],
        unrealized_pnl=money["unrealized"], realized_pnl=money["realized"], positions=positions,
        cooldowns=cooldowns_running(bot, now), learning_summary=summary_latest_text(bot=bot),
        recent_decisions=recent_decisions(bot, arena.recent_decisions_in_prompt), **common)


def placeholder_values(ctx: prompts.PromptContext) -> dict[str, str]:
    """What each one-line placeholder becomes in ``ctx`` (rendered alone, by ``render``)."""
    values = {}
    for name in ("totalValue", "availableBalance", "unrealizedPnl", "currentDate"):
        values[name] = prompts.render("{{" + name + "}}", ctx).user.split("\n\n## ", 1)[0]
    return values
