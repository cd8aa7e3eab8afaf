"""What a bot's prompt shows, read from the database: the turn's market snapshot, the
bot's open positions, its money and its most recent decisions."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bots import prompts
from bots.decisions import action_text, actions_of
from bots.models import Bot, Decision
from ledger.aggregates import MoneySum
from ledger.values import total_value
from trading.models import Cooldown, Market, Position
from trading.perps import pnl_pct_of_margin

PCT_PLACES = Decimal("0.01")
HOURS_PLACES = Decimal("0.1")


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


def position_lines(bot: Bot, now: datetime) -> list[prompts.PositionLine]:
    """The bot's open positions, oldest first."""
    lines = []
    for p in Position.objects.filter(bot=bot, status=Position.Status.OPEN).order_by("opened_at", "id"):
        lines.append(prompts.PositionLine(
            id=p.pk, symbol=p.symbol, side=p.side, entry_price=p.entry_price,
            mark_price=p.mark_price or p.entry_price, unrealized_pnl=p.unrealized_pnl,
            pnl_pct=pnl_pct_of_margin(p.unrealized_pnl, p.margin).quantize(PCT_PLACES),
            margin=p.margin, leverage=p.leverage,
            hours_open=Decimal((now - p.opened_at).total_seconds() / 3600).quantize(HOURS_PLACES),
            stop_loss=p.stop_loss, take_profit=p.take_profit, liquidation_price=p.liquidation_price,
        ))
    return lines


def cooldowns_running(bot: Bot, now: datetime) -> dict[str, datetime]:
    """Symbol → until when, for the bot's cooldowns not over at ``now``."""
    return dict(Cooldown.objects.filter(bot=bot, until__gt=now).values_list("symbol", "until"))


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


def recent_decisions(bot: Bot, count: int) -> list[prompts.RecentDecision]:
    """The ``count`` newest decisions, newest first (the legacy sent the oldest)."""
    recent = []
    decisions = (Decision.objects.filter(bot=bot).order_by("-created_at", "-id")
                 .prefetch_related("opened_positions")[:count])
    for decision in decisions:
        lines = [action_text(action, brief=True) for action in actions_of(decision.actions)]
        notes = [str(n) for n in decision.notes] if isinstance(decision.notes, list) else []
        recent.append(prompts.RecentDecision(
            created_at=decision.created_at, actions=lines or ["HOLD"], notes=notes,
            outcome=_outcome(decision),
        ))
    return recent


def money_totals(bot: Bot, positions: list[prompts.PositionLine]) -> dict[str, Decimal]:
    """The bot's cash, margin in use, unrealized and realized PnL (since its statistics
    were last reset) and total value."""
    balance = bot.account.balance
    margin = sum((p.margin for p in positions), Decimal(0))
    unrealized = sum((p.unrealized_pnl for p in positions), Decimal(0))
    closed = Position.objects.filter(bot=bot, status=Position.Status.CLOSED)
    if bot.stats_reset_at:
        closed = closed.filter(closed_at__gt=bot.stats_reset_at)
    realized = closed.aggregate(total=MoneySum("realized_pnl"))["total"] or Decimal(0)
    return {"balance": balance, "margin": margin, "unrealized": unrealized, "realized": realized,
            "total": total_value(balance=balance, margin=margin, unrealized=unrealized)}
