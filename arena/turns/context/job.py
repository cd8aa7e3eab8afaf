"""A bot's job for a turn: the rendered prompt, the scripted provider's structured
context, the provider configuration and the candle source of its sandbox tools, all
prepared before any network call of the turn's model calls."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from arena.models import ArenaSettings, Turn
from arena.turns.context.candles import PROMPT_CANDLES, CandleCache
from arena.turns.context.reads import cooldowns_running, money_totals, position_lines, recent_decisions
from bots import prompts
from bots.models import Bot
from bots.providers.base import ProviderConfig
from bots.selectors import provider_config_for
from bots.summaries import summary_latest_text
from trading import tiers

SCRIPTED_CANDLES = 30  # hourly candles the scripted strategies read per market


@dataclass
class Job:
    bot: Bot
    config: ProviderConfig | None
    system: str
    prompt: str
    context: dict[str, Any]
    sandbox: bool
    known_symbols: set[str]
    candles: Callable[[str, str, int], Sequence[Any]]
    error: str = ""


def _market_lines(symbols: list[str], snapshot: dict, cache: CandleCache) -> list[prompts.MarketLine]:
    lines = []
    for symbol in symbols:
        seen = snapshot.get(symbol)
        if not seen or seen.get("price") is None:
            continue
        lines.append(prompts.MarketLine(
            symbol=symbol, price=Decimal(seen["price"]),
            change_24h_pct=Decimal(seen["change_24h_pct"]) if seen.get("change_24h_pct") else None,
            funding_rate=Decimal(seen["funding_rate"]) if seen.get("funding_rate") else None,
            stale=bool(seen.get("stale")),
            indicators=cache.summary(symbol),
        ))
    return lines


def scripted_context(
    *, bot: Bot, turn: Turn, now: datetime, arena: ArenaSettings, balance: Decimal,
    positions: list[prompts.PositionLine], markets: list[prompts.MarketLine],
    cooldowns: dict[str, datetime], cache: CandleCache,
) -> dict[str, Any]:
    """The structured context ``bots.strategies`` decides on (see its docstring)."""
    return {
        "now": now.isoformat(), "turn": turn.pk, "bot_id": bot.pk, "balance": str(balance),
        "turn_minutes": arena.turn_interval_seconds / 60,
        "markets": {
            m.symbol: {
                "price": str(m.price),
                "change_24h_pct": None if m.change_24h_pct is None else str(m.change_24h_pct),
                "candles": [[int(c.open_time.timestamp() * 1000), str(c.open), str(c.high), str(c.low),
                             str(c.close)]
                            for c in cache.get(m.symbol, "1h", PROMPT_CANDLES)[-SCRIPTED_CANDLES:]],
            }
            for m in markets
        },
        "positions": [
            {"id": p.id, "symbol": p.symbol, "side": p.side, "entry_price": str(p.entry_price),
             "margin": str(p.margin), "leverage": p.leverage, "pnl_pct": str(p.pnl_pct),
             "hours_open": str(p.hours_open)}
            for p in positions
        ],
        "cooldowns": {symbol: until.isoformat() for symbol, until in cooldowns.items()},
    }


def _rules(arena: ArenaSettings, symbols: list[str]) -> prompts.Rules:
    return prompts.Rules(
        min_trade_usdt=arena.min_trade_usdt, taker_fee_rate=arena.taker_fee_rate,
        max_open_positions=arena.max_open_positions_per_bot,
        max_leverage={s: tiers.tiers_for(s, arena.maintenance_margin_rate)[0].max_leverage for s in symbols},
        cooldown_minutes=arena.cooldown_minutes, enforce_cooldown=arena.enforce_cooldown,
    )


def job_prepare(*, bot: Bot, turn: Turn, now: datetime, arena: ArenaSettings, cache: CandleCache) -> Job:
    symbols = list(bot.symbols or arena.default_symbols)
    positions = position_lines(bot, now)
    money = money_totals(bot, positions)
    markets = _market_lines(symbols, turn.market_snapshot, cache)
    cooldowns = cooldowns_running(bot, now)
    ctx = prompts.PromptContext(
        now=now, bot_name=bot.name, total_value=money["total"], available_balance=money["balance"],
        margin_in_use=money["margin"], unrealized_pnl=money["unrealized"], realized_pnl=money["realized"],
        positions=positions, markets=markets, cooldowns=cooldowns,
        learning_summary=summary_latest_text(bot=bot),
        recent_decisions=recent_decisions(bot, arena.recent_decisions_in_prompt),
        rules=_rules(arena, symbols), sandbox=bot.sandbox_enabled,
    )
    rendered = prompts.render(bot.prompt, ctx)
    config, error = provider_config_for(bot)
    if bot.sandbox_enabled:
        cache.load_for_tools(symbols)
    candle_errors = [f"{s}: {e}" for s, e in cache.errors.items() if s in symbols]
    return Job(
        bot=bot, config=config, system=rendered.system, prompt=rendered.user,
        context=scripted_context(bot=bot, turn=turn, now=now, arena=arena, balance=money["balance"],
                                 positions=positions, markets=markets, cooldowns=cooldowns, cache=cache),
        sandbox=bot.sandbox_enabled, known_symbols=set(symbols) | set(turn.market_snapshot),
        candles=cache.tool_source(set(symbols)),
        error=error or ("; ".join(candle_errors) if not markets else ""),
    )
