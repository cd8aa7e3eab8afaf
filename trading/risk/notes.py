"""How a check words its notes: the rejection that ends it and numbers shown to the bot.

Notes are sentences the bot reads back in its next prompt, so amounts are shown as a
person (or model) would write them, and a requested number is shown as it was sent.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal


class _Rejected(Exception):
    """Ends a check; the message is the rejection note."""


def _usdt(value: Decimal) -> str:
    """``12,000`` or ``9,930.14``: two places at most, for people."""
    shown = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    return f"{shown:,f}".removesuffix(".00")


def _num(value: Decimal) -> str:
    """A price or quantity in full, without trailing zeros or exponent."""
    return f"{value.normalize():,f}"


def _shown(value: Decimal) -> str:
    """A requested number as the bot can recognise it: ``1E+20`` and ``NaN`` as such."""
    if not value.is_finite():
        return str(value).replace("sNaN", "NaN")
    if value != 0 and not -8 <= value.adjusted() < 15:
        return str(value.normalize())
    return _num(value)


def _requested(name: str, value: object, unit: str = "") -> Decimal:
    """``value`` as a finite Decimal, or the rejection saying why it is not one."""
    suffix = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        # A float is the caller's mistake (replies are parsed to Decimal): TypeError, as in perps.
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__} ({value!r})")
    number = Decimal(value)
    if number.is_nan():
        raise _Rejected(f"{name} {_shown(number)} is not a number")
    if not number.is_finite():
        raise _Rejected(f"{name} {_shown(number)}{suffix} is not a finite amount")
    return number


def _at(until: datetime, now: datetime) -> str:
    until, now = until.astimezone(UTC), now.astimezone(UTC)
    return until.strftime("%H:%M UTC" if until.date() == now.date() else "%Y-%m-%d %H:%M UTC")
