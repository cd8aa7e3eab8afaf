"""Formatting numbers, prices, times and one-line data for a prompt."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from itertools import islice
from typing import Any

from bots.prompts.context import MAX_LINE_CHARS

_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_WIDE_CONTEXT = Context(prec=100, rounding=ROUND_HALF_EVEN)


def plain_number(value: Decimal, places: int, sep: str = ",") -> str:
    """``value`` at ``places`` decimals with a thousands separator; never ``-0``."""
    if not value.is_finite():
        return "n/a"
    shown = _WIDE_CONTEXT.quantize(value, Decimal(1).scaleb(-places))
    text = f"{shown:{sep}.{places}f}" if sep else f"{shown:.{places}f}"
    return text.replace("-", "", 1) if shown == 0 else text


def usdt(value: Decimal | None, signed: bool = False) -> str:
    """An amount of USDT at two decimals, with ``+`` on gains when ``signed``."""
    if value is None:
        return "n/a"
    text = plain_number(value, 2)
    return "+" + text if signed and value > 0 else text


def price(value: Decimal | None) -> str:
    """``$60,000.00``, ``$2.4312``, ``$0.00001234``: two places from 1,000, four from 1,
    below that four significant digits."""
    if value is None or not value.is_finite():
        return "N/A"
    size = abs(value)
    places = 2 if size >= 1000 else 4 if size >= 1 or size == 0 else min(-size.adjusted() + 3, 12)
    return "$" + plain_number(value, places)


def percent(value: Decimal | None, places: int = 2) -> str:
    """``+1.25%``: a percentage, signed when positive."""
    if value is None or not value.is_finite():
        return "n/a"
    text = plain_number(value, places)
    return ("+" + text if value > 0 and text.strip("0.") else text) + "%"


def signed_significant(value: Decimal | None, digits: int = 4) -> str:
    """Signed, ``digits`` significant digits, no exponent: for values of any scale (MACD)."""
    if value is None or not value.is_finite():
        return "n/a"
    shown = Context(prec=digits).plus(value)
    text = "0" if shown == 0 else f"{shown:f}"
    return "+" + text if shown > 0 else text


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive datetime is taken to be UTC already."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def when(at: datetime, now: datetime) -> str:
    """``2024-01-01 12:00 UTC (35 min ago)``."""
    minutes = int((as_utc(now) - as_utc(at)).total_seconds() // 60)
    ago = f"{minutes} min ago" if minutes < 120 else f"{minutes / 60:.1f} h ago"
    return f"{as_utc(at):%Y-%m-%d %H:%M} UTC ({ago})"


def one_line(text: object, limit: int = MAX_LINE_CHARS) -> str:
    """One line of data: control characters and line breaks become spaces, cut at ``limit``."""
    flat = _LINE_BREAKS.sub(" ", str(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def capped(items: Iterable[Any], limit: int) -> tuple[list[Any], str]:
    """The first ``limit`` items and a line saying how many more there are (or "")."""
    shown = list(islice(items, limit + 1))
    if len(shown) <= limit:
        return shown, ""
    more = f"{len(items) - limit:,} more" if isinstance(items, Sequence) else "more"
    return shown[:limit], f"… and {more} not shown"

