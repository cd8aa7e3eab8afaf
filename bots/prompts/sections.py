"""The state sections of a prompt: positions, markets, cooldowns, summary, decisions, rules."""
from __future__ import annotations

from datetime import datetime

from bots.prompts.context import (
    MAX_ACTIONS_PER_DECISION,
    MAX_COOLDOWNS,
    MAX_DECISION_CHARS,
    MAX_LEVERAGE_SYMBOLS,
    MAX_LINE_CHARS,
    MAX_MARKETS,
    MAX_NOTES_PER_DECISION,
    MAX_POSITIONS,
    MAX_SUMMARY_CHARS,
    MAX_SUMMARY_LINES,
    MarketLine,
    PositionLine,
    PromptContext,
    RecentDecision,
)
from bots.prompts.formatting import (
    as_utc,
    capped,
    one_line,
    percent,
    plain_number,
    price,
    signed_significant,
    usdt,
    when,
)


def position_line(p: PositionLine) -> str:
    """One open position with its prices, PnL, margin and age."""
    return one_line(
        f"Position {p.id}: {p.side} {p.symbol}"
        f" | Entry: {price(p.entry_price)} | Mark: {price(p.mark_price)}"
        f" | PnL: {usdt(p.unrealized_pnl, signed=True)} USDT ({percent(p.pnl_pct)})"
        f" | Margin: {usdt(p.margin)} USDT | Leverage: {p.leverage}x | Open: {p.hours_open:.1f}h"
        f" | SL: {price(p.stop_loss)} | TP: {price(p.take_profit)} | Liq: {price(p.liquidation_price)}"
    )


def positions_text(ctx: PromptContext) -> str:
    """The OPEN POSITIONS lines, also the ``{{openPositions}}`` expansion."""
    shown, more = capped(ctx.positions, MAX_POSITIONS)
    return "\n".join([position_line(p) for p in shown] + ([more] if more else [])) or "No open positions"


def _stale_mark(market: MarketLine) -> str:
    return " | STALE — do not open" if market.stale else ""


def market_data_text(ctx: PromptContext) -> str:
    """The short market lines of the legacy ``{{marketData}}``."""
    shown, more = capped(ctx.markets, MAX_MARKETS)
    lines = [
        one_line(f"{m.symbol}: {price(m.price)} ({percent(m.change_24h_pct)} 24h){_stale_mark(m)}")
        for m in shown
    ]
    return "\n".join(lines + ([more] if more else [])) or "No market data"


def market_line(m: MarketLine) -> str:
    """One MARKETS line: price, 24h change, funding and indicators."""
    funding = "n/a" if m.funding_rate is None else percent(m.funding_rate * 100, 4) + "/8h"
    found = m.indicators
    if found is None:
        extra = "trend n/a | indicators n/a"
    else:
        extra = (f"trend {found.trend or 'n/a'} | EMA20 {price(found.ema20)} EMA50 {price(found.ema50)}"
                 f" | RSI14 {plain_number(found.rsi14, 1) if found.rsi14 is not None else 'n/a'}"
                 f" | MACD hist {signed_significant(found.macd_hist)}"
                 f" | ATR {percent(found.atr_pct).lstrip('+')}")
    return one_line(f"{m.symbol}: {price(m.price)} | 24h {percent(m.change_24h_pct)} | funding {funding}"
                    f" | {extra}{_stale_mark(m)}")


def cooldown_lines(ctx: PromptContext) -> list[str]:
    """The ACTIVE COOLDOWNS lines, soonest first; empty when none is active."""
    now = as_utc(ctx.now)
    active = sorted(
        (as_utc(until), symbol) for symbol, until in ctx.cooldowns.items() if as_utc(until) > now
    )
    shown, more = capped(active, MAX_COOLDOWNS)
    lines = [
        one_line(f"{symbol}: until {until:%Y-%m-%d %H:%M} UTC "
              f"({-int(-(until - now).total_seconds() // 60)} min left)")
        for until, symbol in shown
    ]
    return lines + ([more] if more else [])


def summary_lines(text: str) -> list[str]:
    """The learning summary, capped and indented so no line can pose as a heading."""
    cut = text[:MAX_SUMMARY_CHARS] + (" … [truncated]" if len(text) > MAX_SUMMARY_CHARS else "")
    lines = [one_line(raw, MAX_SUMMARY_CHARS + 20) for raw in cut.splitlines()]
    lines = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])][:MAX_SUMMARY_LINES]
    return ["  " + line if line else "" for line in lines]


_INDENT = "    "


def decision_lines(d: RecentDecision, now: datetime) -> list[str]:
    """One recent decision: when, outcome, its actions and notes, within ``MAX_DECISION_CHARS``."""
    outcome = f" — {d.outcome}" if d.outcome else ""
    lines = [one_line(f"- {when(d.created_at, now)}{outcome}")]
    actions, more_actions = capped(d.actions, MAX_ACTIONS_PER_DECISION)
    notes, more_notes = capped(d.notes, MAX_NOTES_PER_DECISION)
    inner = MAX_LINE_CHARS - len(_INDENT)
    lines += [_INDENT + one_line(a, inner) for a in actions] or [_INDENT + "HOLD (no action)"]
    lines += [_INDENT + more_actions] if more_actions else []
    lines += [_INDENT + one_line(f"note: {n}", inner) for n in notes]
    lines += [_INDENT + more_notes] if more_notes else []
    # A budget per decision as well as per line: 20 decisions stay a few thousand tokens.
    kept, used = [], 0
    for line in lines:
        if used + len(line) > MAX_DECISION_CHARS:
            return [*kept, _INDENT + "… (rest of this decision not shown)"]
        kept.append(line)
        used += len(line) + 1
    return kept


def rules_lines(ctx: PromptContext) -> list[str]:
    """The RULES section: sizes, leverage caps, fees, position limits, cooldowns."""
    r = ctx.rules
    leverage, more = capped(sorted(r.max_leverage.items()), MAX_LEVERAGE_SYMBOLS)
    caps = ", ".join(f"{symbol} {cap}x" for symbol, cap in leverage) + (f" ({more})" if more else "")
    enforced = "enforced" if r.enforce_cooldown else "not enforced, but respect it"
    return [
        "- size is the margin in USDT; notional = size × leverage; quantity = notional / price.",
        f"- Minimum size: {usdt(r.min_trade_usdt).removesuffix('.00')} USDT. "
        "A size above the available balance is reduced.",
        one_line(f"- Maximum leverage per symbol: {caps or 'as the exchange allows'}; higher leverage is "
              "reduced to it (bigger positions allow less).", 3_000),
        f"- Taker fee: {percent(r.taker_fee_rate * 100, 4).lstrip('+')} of the notional at the open and "
        "again at the close.",
        f"- At most {r.max_open_positions} open positions ({len(ctx.positions)} open now); one position per "
        "symbol and side.",
        f"- After closing a symbol, wait {r.cooldown_minutes} minutes before opening it again ({enforced}).",
        "- Markets marked STALE have no fresh price: no position opens on them.",
    ]

