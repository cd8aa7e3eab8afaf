"""The ledger's pure money rules: no ORM, no Django, so every layer can use them and test them alone.

- The journal's precision: every amount, balance and snapshot value has ``MONEY_PLACES``
  decimal places of USDT (``MONEY_QUANTUM``, 1e-8).
- A bot's total value is its cash plus the margin locked in open positions plus their
  unrealized PnL (margin is not spent: it comes back when the position closes).
- Win rate is the share of closed positions that made money, in [0, 1].
"""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

MONEY_PLACES = 8
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)  # 1e-8 USDT, the smallest amount the journal keeps
WIN_RATE_PLACES = 6
WIN_RATE_QUANTUM = Decimal(1).scaleb(-WIN_RATE_PLACES)
ZERO = Decimal("0")


def total_value(*, balance: Decimal, margin: Decimal, unrealized: Decimal) -> Decimal:
    """What a bot is worth now: cash not locked, plus margin locked, plus unrealized PnL."""
    return balance + margin + unrealized


def win_rate(*, wins: int, closed: int) -> Decimal:
    """``wins`` out of ``closed`` positions, rounded to ``WIN_RATE_PLACES`` (0 with none closed)."""
    if closed < 0 or not 0 <= wins <= closed:
        raise ValueError(f"{wins} wins out of {closed} closed positions is not a rate")
    if closed == 0:
        return ZERO
    return (Decimal(wins) / closed).quantize(WIN_RATE_QUANTUM, ROUND_HALF_EVEN)


def money_text(value: Decimal | None) -> str:
    """``value`` at the journal's precision, written out in full ("null" for no value)."""
    return "null" if value is None else f"{Decimal(value).quantize(MONEY_QUANTUM):f}"
