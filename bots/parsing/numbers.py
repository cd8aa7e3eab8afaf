"""Reading one field's value within bounds: numbers, leverage, prices, symbols, free text."""
from __future__ import annotations

import json
import re
from decimal import Decimal

from bots.parsing.vocabulary import MAX_LEVERAGE


class DecisionDropped(Exception):
    """Ends one decision's validation; the message is the reason."""


def shown_value(value: object) -> str:
    """``value`` as quoted in a note: strings in quotes, cut at 40 characters."""
    shown = repr(value) if isinstance(value, str) else str(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def clean_text(value: object, limit: int) -> str:
    """Free text (reasoning) as a string of at most ``limit`` characters, without NUL."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, default=str, ensure_ascii=False)[: limit + 1]
    # NUL is refused by PostgreSQL text columns.
    value = value[: limit * 2].replace("\x00", "")
    return value if len(value) <= limit else value[: limit - 1] + "…"


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?", re.I)
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


def read_number(value: object, what: str) -> Decimal:
    """A JSON number or a numeric string ("100", "1,000.5", "$250", "250 USDT") as Decimal."""
    if isinstance(value, bool) or value is None:
        raise DecisionDropped(f"{what} {shown_value(value)} is not a number")
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            unit = "the margin in USDT" if what == "size" else "a price"
            raise DecisionDropped(f"{what} {shown_value(value)} is a percentage; {what} is {unit}")
        text = re.sub(r"(?i)\s*usdt?$", "", text.removeprefix("$")).strip()
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        if len(text) > 40 or not _NUMBER.fullmatch(text):
            raise DecisionDropped(f"{what} {shown_value(value)} is not a number")
        number = Decimal(text)
    else:
        raise DecisionDropped(f"{what} {shown_value(value)} is not a number")
    if not number.is_finite() or (number != 0 and not -12 <= number.adjusted() < 15):
        raise DecisionDropped(f"{what} {shown_value(value)} is not a number the exchange accepts")
    return number


def read_leverage(value: object) -> int | None:
    """A whole leverage from 1 to ``MAX_LEVERAGE`` ("5", "5x", "x5", 5); None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.strip().lower().removesuffix("x").removeprefix("x").strip()
    try:
        number = read_number(value, "leverage")
    except DecisionDropped:
        raise DecisionDropped(f"leverage {shown_value(value)} is not a number the exchange accepts") from None
    if not 1 <= number <= MAX_LEVERAGE:
        raise DecisionDropped(f"leverage {number.normalize():f} is not a number the exchange accepts")
    if number != number.to_integral_value():
        raise DecisionDropped(f"leverage {number.normalize():f} is not a whole number")
    return int(number)


def read_price(value: object, what: str) -> Decimal | None:
    """A stop-loss or take-profit price; None when not given (0 included)."""
    if value is None or value == "" or value == 0:
        return None  # 0 and null both mean "none" in legacy replies
    number = read_number(value, what)
    if number < 0:
        raise DecisionDropped(f"{what} {shown_value(value)} is not a price")
    return number or None


def normalize_symbol(raw: object) -> str | None:
    """``"btc"``, ``"BTC/USDT"``, ``"BTC-USDT"``, ``"BTCUSDT.P"``, ``"BTC/USDT:USDT"``,
    ``"BTC-PERP"`` → ``"BTCUSDT"``; None when it cannot be a symbol."""
    if not isinstance(raw, str) or len(raw) > 40:
        return None
    text = raw.strip().upper().removeprefix("$").removesuffix(".P").removesuffix(":USDT")
    text = re.sub(r"[-_ ]?(PERP|PERPETUAL|SWAP)$", "", text)
    parts = [part for part in re.split(r"[/\-_ ]+", text) if part]
    if len(parts) == 2:
        base, quote = parts
        text = base + ("USDT" if quote == "USD" else quote)
    elif len(parts) == 1:
        text = parts[0] if parts[0].endswith("USDT") else parts[0] + "USDT"
    else:
        return None
    return text if re.fullmatch(r"[A-Z0-9]{2,26}", text) and text != "USDT" else None


