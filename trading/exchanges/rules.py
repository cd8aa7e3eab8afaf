"""A symbol's trading rules applied before sending: rounding to the step and tick, and the
refusals the venue would answer with (-1111, -4164, ...), caught here so no doomed order is sent.

Pure functions on ``Decimal``; the rules themselves come from ``exchangeInfo``
(``SymbolRules.from_json``).
"""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from trading.exchanges.types import SymbolRules


def decimal_text(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros ("0.001", "100"): what the venue parses.

    ``str(Decimal("1E+2"))`` would send an exponent, which the venue refuses.
    """
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _to_multiple(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    if step <= 0:  # no step in the rules: nothing to round to
        return value
    return (value / step).to_integral_value(rounding=rounding) * step


def quantity_floor(quantity: Decimal, step: Decimal) -> Decimal:
    """``quantity`` rounded DOWN to a multiple of ``step``: never more than was asked for."""
    return _to_multiple(quantity, step, ROUND_FLOOR)


def price_to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """``price`` on the tick grid, rounded up or down (the caller knows which side is safe)."""
    return _to_multiple(price, tick, ROUND_CEILING if up else ROUND_FLOOR)


def order_refusal(rules: SymbolRules, quantity: Decimal, price: Decimal, *, reduce_only: bool) -> str | None:
    """Why the venue would refuse this order, or None.

    The notional minimum does not apply to reduce-only orders (the venue lets a position be
    closed whatever its size).
    """
    symbol = rules.symbol
    if rules.status != "TRADING":
        return f"{symbol} is not trading (status {rules.status})"
    if quantity <= 0:
        return f"the quantity must be positive, not {decimal_text(quantity)}"
    if quantity < rules.min_qty:
        return (f"the quantity {decimal_text(quantity)} is below {symbol}'s minimum "
                f"{decimal_text(rules.min_qty)}")
    if rules.max_qty is not None and quantity > rules.max_qty:
        return (f"the quantity {decimal_text(quantity)} is above {symbol}'s maximum "
                f"{decimal_text(rules.max_qty)}")
    if rules.step_size > 0 and quantity % rules.step_size != 0:
        return (f"the quantity {decimal_text(quantity)} is not a multiple of {symbol}'s step "
                f"{decimal_text(rules.step_size)}")
    notional = quantity * price
    if not reduce_only and notional < rules.min_notional:
        return (f"the notional {decimal_text(notional)} USDT is below {symbol}'s minimum "
                f"{decimal_text(rules.min_notional)} USDT")
    return None
