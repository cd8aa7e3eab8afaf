"""Statistics of closed trades (or closed positions) and funding payments.

Money is Decimal in and Decimal out, exact like the journal: fees, funding, PnL sums and the
per-trade averages are ``Decimal`` (``MoneyMetric`` when they can be undefined). Ratios (profit
factor, win rate, leverage) and durations are floats in a ``Metric``.

A trade's ``pnl`` is net of its fees. A trade with pnl == 0 is neither a win nor a loss, but it
was a trade: it counts in the denominator of the win rate and of the expectancy, so a bot that
only scratches trades has a win rate of 0, not an undefined one.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ledger.metrics.result import Metric, MoneyMetric

SIDES = ("LONG", "SHORT")
ZERO = Decimal(0)

NO_TRADES = "no trades"
NO_WINNING_TRADES = "no winning trades"
NO_LOSING_TRADES = "no losing trades"
NO_MARGIN = "the trades have no margin"


@dataclass(frozen=True)
class ClosedTrade:
    """A closed trade: ``pnl`` net of fees, ``fee`` the fees it paid (≥ 0), the margin it
    locked and its leverage."""

    pnl: Decimal
    fee: Decimal
    opened_at: datetime
    closed_at: datetime
    side: str
    leverage: int
    margin: Decimal

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, not {self.side!r}")
        if self.closed_at < self.opened_at:
            raise ValueError(f"a trade closed at {self.closed_at} before it opened at {self.opened_at}")


def _wins(trades: Iterable[ClosedTrade]) -> list[Decimal]:
    return [t.pnl for t in trades if t.pnl > 0]


def _losses(trades: Iterable[ClosedTrade]) -> list[Decimal]:
    return [t.pnl for t in trades if t.pnl < 0]


def profit_factor(trades: Sequence[ClosedTrade]) -> Metric:
    """Gross profit ÷ gross loss (both positive). 0.0 when every trade lost; undefined when no
    trade lost, since nothing was risked to divide by."""
    if not trades:
        return Metric.undefined(NO_TRADES)
    losses = _losses(trades)
    if not losses:
        return Metric.undefined(NO_LOSING_TRADES)
    return Metric(float(sum(_wins(trades), ZERO) / -sum(losses, ZERO)))


def expectancy(trades: Sequence[ClosedTrade]) -> MoneyMetric:
    """The mean net PnL per trade, scratches included."""
    if not trades:
        return MoneyMetric.undefined(NO_TRADES)
    return MoneyMetric(sum((t.pnl for t in trades), ZERO) / len(trades))


def win_rate(trades: Sequence[ClosedTrade]) -> Metric:
    """Winning trades ÷ all trades, in [0, 1]; a trade with pnl == 0 is in the denominator only."""
    if not trades:
        return Metric.undefined(NO_TRADES)
    return Metric(len(_wins(trades)) / len(trades))


def average_win(trades: Sequence[ClosedTrade]) -> MoneyMetric:
    """The mean PnL of the winning trades (positive)."""
    wins = _wins(trades)
    if not wins:
        return MoneyMetric.undefined(NO_TRADES if not trades else NO_WINNING_TRADES)
    return MoneyMetric(sum(wins, ZERO) / len(wins))


def average_loss(trades: Sequence[ClosedTrade]) -> MoneyMetric:
    """The mean PnL of the losing trades (negative: a loss keeps its sign)."""
    losses = _losses(trades)
    if not losses:
        return MoneyMetric.undefined(NO_TRADES if not trades else NO_LOSING_TRADES)
    return MoneyMetric(sum(losses, ZERO) / len(losses))


def biggest_win(trades: Sequence[ClosedTrade]) -> MoneyMetric:
    """The largest PnL of a winning trade."""
    wins = _wins(trades)
    if not wins:
        return MoneyMetric.undefined(NO_TRADES if not trades else NO_WINNING_TRADES)
    return MoneyMetric(max(wins))


def biggest_loss(trades: Sequence[ClosedTrade]) -> MoneyMetric:
    """The most negative PnL of a losing trade (negative)."""
    losses = _losses(trades)
    if not losses:
        return MoneyMetric.undefined(NO_TRADES if not trades else NO_LOSING_TRADES)
    return MoneyMetric(min(losses))


def fees_paid(trades: Iterable[ClosedTrade]) -> Decimal:
    """The fees of all the trades (0 with none: nothing was paid, which is a real amount)."""
    return sum((t.fee for t in trades), ZERO)


def funding_paid(amounts: Iterable[Decimal]) -> Decimal:
    """What the account paid in funding, as a positive amount (payments are signed: paid < 0)."""
    return -sum((a for a in amounts if a < 0), ZERO)


def funding_received(amounts: Iterable[Decimal]) -> Decimal:
    """What the account received in funding (the positive payments)."""
    return sum((a for a in amounts if a > 0), ZERO)


def average_leverage(trades: Sequence[ClosedTrade]) -> Metric:
    """The margin-weighted mean leverage, Σ(leverage × margin) ÷ Σ margin: the leverage of the
    average unit of money put at risk, so a 50× bet of 10 USDT does not weigh like a 2× bet of
    5,000."""
    if not trades:
        return Metric.undefined(NO_TRADES)
    margin = sum((t.margin for t in trades), ZERO)
    if margin <= 0:
        return Metric.undefined(NO_MARGIN)
    return Metric(float(sum((t.leverage * t.margin for t in trades), ZERO) / margin))


def average_hold_seconds(trades: Sequence[ClosedTrade]) -> Metric:
    """The mean time from open to close, in seconds."""
    if not trades:
        return Metric.undefined(NO_TRADES)
    return Metric(math.fsum((t.closed_at - t.opened_at).total_seconds() for t in trades) / len(trades))


@dataclass(frozen=True)
class TradeStats:
    """Every trade statistic at once, for a leaderboard row or a bot's page."""

    trades: int
    wins: int
    losses: int
    profit_factor: Metric
    expectancy: MoneyMetric
    win_rate: Metric
    average_win: MoneyMetric
    average_loss: MoneyMetric
    biggest_win: MoneyMetric
    biggest_loss: MoneyMetric
    fees_paid: Decimal
    funding_paid: Decimal
    funding_received: Decimal
    average_leverage: Metric
    average_hold_seconds: Metric


def trade_stats(trades: Sequence[ClosedTrade], funding: Sequence[Decimal] = ()) -> TradeStats:
    """All of the above for ``trades`` and the signed funding ``amounts``."""
    return TradeStats(
        trades=len(trades),
        wins=len(_wins(trades)),
        losses=len(_losses(trades)),
        profit_factor=profit_factor(trades),
        expectancy=expectancy(trades),
        win_rate=win_rate(trades),
        average_win=average_win(trades),
        average_loss=average_loss(trades),
        biggest_win=biggest_win(trades),
        biggest_loss=biggest_loss(trades),
        fees_paid=fees_paid(trades),
        funding_paid=funding_paid(funding),
        funding_received=funding_received(funding),
        average_leverage=average_leverage(trades),
        average_hold_seconds=average_hold_seconds(trades),
    )
