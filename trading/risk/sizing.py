"""Sizing an open: the requested leverage, the symbol's tier brackets, the balance, the minimum.

``_size`` settles the margin and leverage a position opens with: leverage down to what the
bracket of the resulting notional allows, margin down so margin + entry fee fits the
available balance, and a rejection when what remains is below the minimum trade.
"""
from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from trading import tiers
from trading.perps import MONEY_QUANTUM, as_decimal
from trading.risk.limits import MAX_LEVERAGE, RiskSettings
from trading.risk.notes import _Rejected, _requested, _shown, _usdt
from trading.risk.records import OpenRequest, PortfolioView


def _best_leverage(symbol: str, margin: Decimal, wanted: int, fallback_mmr: Decimal | None) -> int | None:
    """The highest L ≤ wanted with L ≤ max_leverage(symbol, margin × L), or None.

    Lower leverage means a smaller notional and maybe a bracket allowing more, so the
    answer is not simply the bracket of ``margin × wanted``; brackets are few and
    leverage small, so walking down is clear and cheap.
    """
    top = max(tier.max_leverage for tier in tiers.tiers_for(symbol, fallback_mmr))
    for candidate in range(min(wanted, top), 0, -1):
        try:
            if candidate <= tiers.max_leverage(symbol, margin * candidate, fallback_mmr):
                return candidate
        except tiers.TierError:
            continue  # too big for any bracket at this leverage; less may fit
    return None


def _fit(wanted: Decimal, leverage: int, available: Decimal, rate: Decimal) -> Decimal:
    """The requested margin, or the most whose margin + fee fits the balance.

    margin + margin × leverage × rate ≤ available  →  margin ≤ available / (1 + leverage × rate),
    rounded down to the ledger's 8 places.
    """
    most = (available / (1 + leverage * rate)).quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)
    return min(wanted, most)


def _leverage(request: OpenRequest) -> int:
    wanted = _requested("leverage", request.leverage)
    if wanted > MAX_LEVERAGE:
        raise _Rejected(
            f"leverage {_shown(wanted)}x is more than any market allows (at most {MAX_LEVERAGE}x)"
        )
    if wanted < 1 or wanted != wanted.to_integral_value():
        raise _Rejected(f"leverage {_shown(wanted)}x is not a whole number of at least 1")
    return int(wanted)


def _size(
    request: OpenRequest,
    wanted_leverage: int,
    portfolio: PortfolioView,
    settings: RiskSettings,
    notes: list[str],
) -> tuple[Decimal, int]:
    """The margin and leverage to open with, after brackets and the balance."""
    symbol, minimum = request.symbol, settings.min_trade_usdt
    wanted = as_decimal("margin", request.margin).quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)
    if wanted < minimum:
        raise _Rejected(f"margin {_usdt(wanted)} USDT is below the minimum trade of {_usdt(minimum)} USDT")
    leverage = _best_leverage(symbol, wanted, wanted_leverage, settings.fallback_mmr)
    if leverage is None:
        raise _Rejected(f"a {_usdt(wanted)} USDT margin exceeds {symbol}'s largest bracket at any leverage")
    available = as_decimal("available_balance", portfolio.available_balance)
    margin = _fit(wanted, leverage, available, settings.taker_fee_rate)
    if margin < wanted:
        # A smaller margin is a smaller notional: a lower bracket may allow more leverage
        # (never more than asked). More leverage means more fee, so fit once more; the
        # margin only shrinks, so the new leverage stays within its bracket.
        better = _best_leverage(symbol, margin, wanted_leverage, settings.fallback_mmr)
        if better is not None and better != leverage:
            leverage = better
            margin = _fit(wanted, leverage, available, settings.taker_fee_rate)
    if leverage < wanted_leverage:
        notes.append(
            f"leverage {wanted_leverage}x exceeds {symbol}'s maximum for a "
            f"{_usdt(wanted * wanted_leverage)} USDT position: reduced to {leverage}x"
        )
    if margin < wanted:
        if margin < minimum:
            raise _Rejected(
                f"margin {_usdt(wanted)} USDT plus fee exceeds the available {_usdt(available)} USDT, "
                f"and the most that fits is below the minimum trade of {_usdt(minimum)} USDT"
            )
        notes.append(
            f"margin {_usdt(wanted)} USDT plus fee exceeds the available {_usdt(available)} USDT: "
            f"reduced to {_usdt(margin)} USDT"
        )
    return margin, leverage
