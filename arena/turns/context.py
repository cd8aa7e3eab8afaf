"""Everything a bot's model call needs, read from the database before any network
call: the rendered prompt, the scripted provider's structured context, the
provider configuration and, for sandbox bots, the candles its tools may read."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from arena.models import ArenaSettings, Turn
from bots import prompts
from bots.models import Bot, Decision
from bots.providers.base import ProviderConfig
from bots.summaries import summary_latest_text
from bots.tools import INDICATOR_CANDLES
from ledger.aggregates import MoneySum
from trading import indicators, tiers
from trading.encryption import SecretUnreadable
from trading.feeds import FeedError, get_feed
from trading.models import Cooldown, Market, Position
from trading.services import candles_for

# Hourly candles behind each market's indicators: as many as the indicators tool
# reads, so the prompt and the tool agree.
PROMPT_CANDLES = INDICATOR_CANDLES
TOOL_INTERVALS = ("5m", "15m", "1h", "4h", "1d")
TOOL_CANDLES = 501  # the tools' largest lookback (500 returns) needs one candle more
HUNDRED = Decimal(100)


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


@dataclass
class CandleCache:
    """Candles read once per turn and shared by every bot in it."""

    now: datetime
    feed: Any = None
    rows: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, indicators.IndicatorSummary | None] = field(default_factory=dict)

    def summary(self, symbol: str) -> indicators.IndicatorSummary | None:
        """The prompt's indicators for ``symbol``, computed once per turn for every bot."""
        if symbol not in self.summaries:
            candles = self.get(symbol, "1h", PROMPT_CANDLES)
            self.summaries[symbol] = indicators.summary(candles) if candles else None
        return self.summaries[symbol]

    def get(self, symbol: str, interval: str, limit: int) -> list[Any]:
        key = (symbol, interval)
        if key not in self.rows or len(self.rows[key]) < limit:
            if self.feed is None:
                self.feed = get_feed()
            try:
                self.rows[key] = candles_for(feed=self.feed, symbol=symbol, interval=interval, limit=limit,
                                             now=self.now)
            except FeedError as exc:
                self.errors[symbol] = str(exc)
                self.rows[key] = []
        return self.rows[key][-limit:]


def market_snapshot() -> dict[str, dict[str, Any]]:
    """The prices every bot in a turn sees, frozen on the Turn row."""
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        m.symbol: {
            "price": text(m.last_price), "mark_price": text(m.mark_price),
            "change_24h_pct": text(m.change_24h_pct), "funding_rate": text(m.funding_rate),
            "stale": m.is_stale, "updated_at": m.updated_at.isoformat() if m.updated_at else None,
        }
        for m in Market.objects.filter(last_price__isnull=False, is_listed=True).order_by("symbol")
    }


def _positions(bot: Bot, now: datetime) -> list[prompts.PositionLine]:
    lines = []
    for p in Position.objects.filter(bot=bot, status=Position.Status.OPEN).order_by("opened_at", "id"):
        pnl_pct = (p.unrealized_pnl / p.margin * HUNDRED).quantize(Decimal("0.01"))
        lines.append(prompts.PositionLine(
            id=p.pk, symbol=p.symbol, side=p.side, entry_price=p.entry_price,
            mark_price=p.mark_price or p.entry_price, unrealized_pnl=p.unrealized_pnl, pnl_pct=pnl_pct,
            margin=p.margin, leverage=p.leverage,
            hours_open=Decimal((now - p.opened_at).total_seconds() / 3600).quantize(Decimal("0.1")),
            stop_loss=p.stop_loss, take_profit=p.take_profit, liquidation_price=p.liquidation_price,
        ))
    return lines


def _outcome(decision: Decision) -> str | None:
    """What became of the positions a decision opened: the feedback a model learns from."""
    parts = []
    for p in decision.opened_positions.all():
        if p.status == Position.Status.OPEN:
            parts.append(f"#{p.pk} {p.side} {p.symbol} still open ({p.unrealized_pnl:+.2f} USDT unrealized)")
        else:
            parts.append(
                f"#{p.pk} {p.side} {p.symbol} closed by {p.close_reason}: {p.realized_pnl:+.2f} USDT"
            )
    if decision.error:
        parts.append(f"failed: {decision.error}")
    return "; ".join(parts) or None


def _recent(bot: Bot, count: int) -> list[prompts.RecentDecision]:
    """The ``count`` newest decisions, newest first (the legacy sent the oldest)."""
    recent = []
    decisions = (Decision.objects.filter(bot=bot).order_by("-created_at", "-id")
                 .prefetch_related("opened_positions")[:count])
    for decision in decisions:
        lines = []
        for action in decision.actions if isinstance(decision.actions, list) else []:
            if isinstance(action, dict):
                words = [action.get("action"), action.get("symbol"), action.get("margin"),
                         f"x{action['leverage']}" if action.get("leverage") else None]
                lines.append(" ".join(str(w) for w in words if w))
        notes = [str(n) for n in decision.notes] if isinstance(decision.notes, list) else []
        recent.append(prompts.RecentDecision(
            created_at=decision.created_at, actions=lines or ["HOLD"], notes=notes,
            outcome=_outcome(decision),
        ))
    return recent


def _money(bot: Bot, positions: list[prompts.PositionLine]) -> dict[str, Decimal]:
    balance = bot.account.balance
    margin = sum((p.margin for p in positions), Decimal(0))
    unrealized = sum((p.unrealized_pnl for p in positions), Decimal(0))
    closed = Position.objects.filter(bot=bot, status=Position.Status.CLOSED)
    if bot.stats_reset_at:
        closed = closed.filter(closed_at__gt=bot.stats_reset_at)
    realized = closed.aggregate(total=MoneySum("realized_pnl"))["total"] or Decimal(0)
    return {"balance": balance, "margin": margin, "unrealized": unrealized, "realized": realized,
            "total": balance + margin + unrealized}


def _markets(symbols: list[str], snapshot: dict, cache: CandleCache) -> list[prompts.MarketLine]:
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


def _scripted_context(bot, turn, now, arena, money, positions, markets, cooldowns, cache) -> dict[str, Any]:
    return {
        "now": now.isoformat(), "turn": turn.pk, "bot_id": bot.pk, "balance": str(money["balance"]),
        "turn_minutes": arena.turn_interval_seconds / 60,
        "markets": {
            m.symbol: {
                "price": str(m.price),
                "change_24h_pct": None if m.change_24h_pct is None else str(m.change_24h_pct),
                "candles": [[int(c.open_time.timestamp() * 1000), str(c.open), str(c.high), str(c.low),
                             str(c.close)] for c in cache.get(m.symbol, "1h", PROMPT_CANDLES)[-30:]],
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


def _config(bot: Bot) -> tuple[ProviderConfig | None, str]:
    provider = bot.provider
    if not provider.is_active:
        return None, f"provider {provider.name!r} is inactive"
    if provider.key_needs_reentry:
        return None, f"provider {provider.name!r} needs its API key entered again"
    try:
        return ProviderConfig.from_model(provider), ""
    except SecretUnreadable as exc:
        return None, f"provider {provider.name!r}: {exc}"


def job_prepare(*, bot: Bot, turn: Turn, now: datetime, arena: ArenaSettings, cache: CandleCache) -> Job:
    symbols = list(bot.symbols or arena.default_symbols)
    positions = _positions(bot, now)
    money = _money(bot, positions)
    markets = _markets(symbols, turn.market_snapshot, cache)
    cooldowns = dict(Cooldown.objects.filter(bot=bot, until__gt=now).values_list("symbol", "until"))
    rules = prompts.Rules(
        min_trade_usdt=arena.min_trade_usdt, taker_fee_rate=arena.taker_fee_rate,
        max_open_positions=arena.max_open_positions_per_bot,
        max_leverage={s: tiers.tiers_for(s, arena.maintenance_margin_rate)[0].max_leverage for s in symbols},
        cooldown_minutes=arena.cooldown_minutes, enforce_cooldown=arena.enforce_cooldown,
    )
    ctx = prompts.PromptContext(
        now=now, bot_name=bot.name, total_value=money["total"], available_balance=money["balance"],
        margin_in_use=money["margin"], unrealized_pnl=money["unrealized"], realized_pnl=money["realized"],
        positions=positions, markets=markets, cooldowns=cooldowns,
        learning_summary=summary_latest_text(bot=bot),
        recent_decisions=_recent(bot, arena.recent_decisions_in_prompt), rules=rules,
        sandbox=bot.sandbox_enabled,
    )
    rendered = prompts.render(bot.prompt, ctx)
    config, error = _config(bot)
    if bot.sandbox_enabled:
        for symbol in symbols:
            for interval in TOOL_INTERVALS:
                cache.get(symbol, interval, TOOL_CANDLES)
    candle_errors = [f"{s}: {e}" for s, e in cache.errors.items() if s in symbols]
    return Job(
        bot=bot, config=config, system=rendered.system, prompt=rendered.user,
        context=_scripted_context(bot, turn, now, arena, money, positions, markets, cooldowns, cache),
        sandbox=bot.sandbox_enabled, known_symbols=set(symbols) | set(turn.market_snapshot),
        candles=_tool_candles(cache, set(symbols)),
        error=error or ("; ".join(candle_errors) if not markets else ""),
    )


def _tool_candles(cache: CandleCache, symbols: set[str]) -> Callable[[str, str, int], Sequence[Any]]:
    """The sandbox tools' candle source: only what was loaded before the calls began."""
    def source(symbol: str, interval: str, limit: int) -> Sequence[Any]:
        rows = cache.rows.get((symbol, interval))
        if symbol not in symbols or rows is None:
            raise KeyError(symbol)
        return rows[-limit:]
    return source
