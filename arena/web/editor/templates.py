"""What the editor offers to write a prompt with: the strategy templates and the placeholder help.

The templates are the legacy's strategies (``bots.strategies``) written as instructions a
model can follow: the same idea, and the same sizes, leverage, stops and exits as the
scripted strategy of that name, so a model bot started from one can be compared with the
scripted bot that trades it. Every template uses every placeholder, so a new bot's first
prompt already shows the model its account, positions and markets.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bots.prompts import PLACEHOLDERS
from bots.strategies import BREAKOUT, MEAN_REVERSION, MOMENTUM, RANDOM_WALK, STRATEGIES, Params

# What each placeholder of ``bots.prompts.render`` becomes in a turn's prompt.
PLACEHOLDER_HELP: dict[str, str] = {
    "totalValue": "The bot's account value in USDT: cash plus margin in use plus unrealized PnL, "
                  "e.g. 10250.40.",
    "availableBalance": "Cash not locked as margin, in USDT, e.g. 9800.00.",
    "unrealizedPnl": "The open positions' unrealized profit or loss in USDT, e.g. -12.50.",
    "openPositions": "One line per open position: id, side, symbol, entry and mark price, margin, "
                     "leverage, PnL, stop-loss, take-profit, liquidation price and age.",
    "marketData": "One line per market the bot trades: symbol, price and 24h change.",
    "currentDate": "The turn's time in UTC, ISO 8601, e.g. 2025-01-31T14:05:00.000Z.",
}


@dataclass(frozen=True)
class Strategy:
    name: str  # the key in bots.strategies.STRATEGIES
    title: str
    idea: str
    params: Params


_IDEAS: dict[str, tuple[str, str, Params]] = {
    "momentum": ("Momentum", "Go long the strongest 24h mover and short the weakest; leave a position "
                 "when the 24h trend turns against it.", MOMENTUM),
    "mean_reversion": ("Mean reversion", "Fade the market stretched furthest from its recent mean: short "
                       "what rose too far, buy what fell too far; leave once the price is back at its mean.",
                       MEAN_REVERSION),
    "breakout": ("Breakout", "Trade a price leaving its recent range, in the direction of the break; leave "
                 "when it breaks out the other way.", BREAKOUT),
    "random_walk": ("Random walk", "A baseline: open a small position on a coin flip whenever you are flat; "
                    "any real strategy should beat it.", RANDOM_WALK),
}

STRATEGY_TEMPLATES: dict[str, Strategy] = {
    name: Strategy(name, title, idea, params) for name, (title, idea, params) in _IDEAS.items()
    if name in STRATEGIES
}


def _pct(value: Decimal) -> str:
    return f"{value.normalize():f}%"


def strategy_prompt(name: str) -> str:
    """The prompt template of strategy ``name`` (a key of ``STRATEGY_TEMPLATES``); ``KeyError``
    for any other name."""
    strategy = STRATEGY_TEMPLATES[name]
    p = strategy.params
    return (
        f"You are a {strategy.title.lower()} trader of USDT-margined perpetual futures. "
        f"It is {{{{currentDate}}}}.\n\n"
        f"Strategy: {strategy.idea}\n"
        f"Put about {_pct(p.fraction * 100)} of your available balance up as margin per trade, at "
        f"{p.leverage}x leverage, with a stop-loss {_pct(p.stop_pct)} and a take-profit "
        f"{_pct(p.take_pct)} from the entry price. Close a position once it has made "
        f"{_pct(p.exit_gain_pct)} or lost {_pct(p.exit_loss_pct)} on its margin. "
        f"Hold at most {p.max_positions} positions at a time.\n\n"
        "Account: total value {{totalValue}} USDT, available {{availableBalance}} USDT, "
        "unrealized PnL {{unrealizedPnl}} USDT.\n\n"
        "Open positions:\n{{openPositions}}\n\n"
        "Markets:\n{{marketData}}\n\n"
        "Decide what to open, close or hold, each with a short reason."
    )


def placeholder_rows(now_values: dict[str, str] | None = None) -> list[dict[str, str]]:
    """One row per placeholder the renderer supports (in its order): the tag to write, what
    it becomes, and, when given, its value right now."""
    now_values = now_values or {}
    return [{"name": name, "tag": "{{" + name + "}}", "help": PLACEHOLDER_HELP[name],
             "now": now_values.get(name, "")} for name in PLACEHOLDERS]
