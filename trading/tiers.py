"""Binance USDT-M leverage brackets: maximum leverage and maintenance margin by notional.

A bigger position gets less leverage and a higher maintenance margin rate. Each
bracket (Binance "notional bracket", GET /fapi/v1/leverageBracket) covers notionals
up to its cap and carries ``mmr`` and the maintenance amount ``cum``, chosen by
Binance so that the maintenance margin ``notional × mmr − cum`` is continuous across
brackets.

The brackets of the arena's default symbols ship in ``trading/data/leverage_tiers.json``
(a compact copy of Binance's table; the product never reads the shared test data).
Other symbols get ``GENERIC_TIERS``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

from trading.perps import as_decimal


class TierError(ValueError):
    """A notional no bracket covers (negative, or above the symbol's largest cap)."""


@dataclass(frozen=True)
class Tier:
    """One bracket: notionals in ``(min_notional, max_notional]`` (the first from 0)."""

    min_notional: Decimal
    max_notional: Decimal
    max_leverage: int
    mmr: Decimal  # maintenance margin rate
    cum: Decimal  # maintenance amount, USDT

    @classmethod
    def from_row(cls, row: list[str]) -> Tier:
        """A tier from a ``[min_notional, max_notional, max_leverage, mmr, cum]`` row of strings."""
        low, high, leverage, mmr, cum = row
        return cls(Decimal(low), Decimal(high), int(leverage), Decimal(mmr), Decimal(cum))


def _table(*rows: tuple[str, str, str, str, str]) -> tuple[Tier, ...]:
    return tuple(Tier.from_row(list(row)) for row in rows)


# For symbols without a shipped table. Binance's 349-symbol file has no single
# default, so this is its most common table among the symbols whose first bracket
# allows only 20x (16 of them: AMB, COMBO, CYBER, DODOX, HFT, ID, JOE, KEY, ...) —
# the conservative end of the typical altcoin brackets (most alts allow 50x or 75x
# up to 5,000 or 10,000 USDT). Unknown symbols are illiquid until shown otherwise.
GENERIC_TIERS = _table(
    ("0", "5000", "20", "0.02", "0"),
    ("5000", "25000", "15", "0.025", "25"),
    ("25000", "200000", "10", "0.05", "650"),
    ("200000", "500000", "5", "0.1", "10650"),
    ("500000", "1000000", "4", "0.125", "23150"),
    ("1000000", "3000000", "2", "0.25", "148150"),
    ("3000000", "5000000", "1", "0.5", "898150"),
)


@cache
def _shipped() -> dict[str, tuple[Tier, ...]]:
    # Read once per process: the file is part of the code and never changes under it.
    text = resources.files("trading").joinpath("data/leverage_tiers.json").read_text("utf-8")
    symbols = json.loads(text)["symbols"]
    return {symbol: tuple(Tier.from_row(row) for row in rows) for symbol, rows in symbols.items()}


def known_symbols() -> frozenset[str]:
    """Symbols with a shipped Binance table."""
    return frozenset(_shipped())


@cache
def _flat(mmr: Decimal) -> tuple[Tier, ...]:
    # A leverage whose initial margin (1/L) is not above the maintenance rate would be
    # liquidated at the open, so cap it below 1/mmr.
    ceiling = math.ceil(1 / mmr) - 1
    return tuple(
        Tier(t.min_notional, t.max_notional, min(t.max_leverage, ceiling), mmr, Decimal(0))
        for t in GENERIC_TIERS
    )


def tiers_for(symbol: str, fallback_mmr: Decimal | None = None) -> tuple[Tier, ...]:
    """The brackets of ``symbol``, lowest notional first.

    A shipped symbol always gets Binance's table. Any other gets ``GENERIC_TIERS``, or,
    when the caller passes ``fallback_mmr`` (``ArenaSettings.maintenance_margin_rate``:
    "for symbols without a known leverage-tier table"), the generic notional caps and
    leverages with that flat rate on every bracket and no maintenance amount (``cum``
    exists only to keep a stepped rate continuous), leverage capped below ``1/mmr``.
    """
    table = _shipped().get(symbol)
    if table is not None:
        return table
    if fallback_mmr is None:
        return GENERIC_TIERS
    mmr = as_decimal("fallback_mmr", fallback_mmr)
    if not 0 < mmr < Decimal("0.5"):
        raise ValueError(f"fallback maintenance margin rate must be in (0, 0.5), not {mmr}")
    return _flat(mmr)


def tier_for(symbol: str, notional: Decimal, fallback_mmr: Decimal | None = None) -> Tier:
    """The bracket covering ``notional``: the first whose cap is at least the notional.

    A notional exactly at a cap belongs to the lower bracket, as on Binance, where the
    cap is the largest position that bracket's leverage allows.
    """
    notional = as_decimal("notional", notional)
    if notional < 0:
        raise TierError(f"notional must not be negative, not {notional}")
    table = tiers_for(symbol, fallback_mmr)
    for tier in table:
        if notional <= tier.max_notional:
            return tier
    raise TierError(
        f"a {notional:,f} USDT position exceeds {symbol}'s largest bracket ({table[-1].max_notional:,f} USDT)"
    )


def max_leverage(symbol: str, notional: Decimal, fallback_mmr: Decimal | None = None) -> int:
    """The highest leverage Binance allows for a ``symbol`` position of this notional."""
    return tier_for(symbol, notional, fallback_mmr).max_leverage


def maintenance(
    symbol: str, notional: Decimal, fallback_mmr: Decimal | None = None
) -> tuple[Decimal, Decimal]:
    """``(mmr, cum)`` for a ``symbol`` position of this notional, for ``perps.liquidation_price``."""
    tier = tier_for(symbol, notional, fallback_mmr)
    return tier.mmr, tier.cum
