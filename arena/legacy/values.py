"""Reading one legacy field into a checked Python value, or a ``LegacyError`` naming it.

The legacy JSON was written by JavaScript and its tables by SQLite's dynamic typing,
so a number can arrive as an int, a float, a Decimal (ijson) or numeric text. Every
reader here accepts exactly the forms the legacy produced and refuses the rest with
a message that names the file, the record and the field.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from arena.legacy.errors import LegacyError

# Bounds of plausibility: beyond them a value is corrupt, not a trade.
MAX_AMOUNT = Decimal("1e15")
MAX_LEVERAGE = 200  # trading.Position's constraint; no exchange offers more
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Where:
    """A record in a legacy file: ``error()`` builds the exception that names it."""

    file: str
    record: str

    def inner(self, part: str) -> Where:
        return Where(self.file, f"{self.record} {part}" if self.record else part)

    def error(self, problem: str) -> LegacyError:
        return LegacyError(self.file, self.record, problem)

    # --- scalars -------------------------------------------------------------------

    def number(self, value: Any, name: str, *, optional: bool = False) -> Decimal | None:
        """A finite Decimal of at most ``MAX_AMOUNT`` in magnitude (None only if optional)."""
        if value is None:
            if optional:
                return None
            raise self.error(f"{name} is missing")
        if isinstance(value, bool):
            raise self.error(f"{name} must be a number, got {value!r}")
        try:
            if isinstance(value, float):
                number = Decimal(repr(value))  # the shortest text that round-trips, as JS wrote it
            elif isinstance(value, int | Decimal):
                number = Decimal(value)
            elif isinstance(value, str) and value.strip():
                number = Decimal(value.strip())
            else:
                raise self.error(f"{name} must be a number, got {_show(value)}")
        except InvalidOperation:
            raise self.error(f"{name} must be a number, got {_show(value)}") from None
        if not number.is_finite() or abs(number) > MAX_AMOUNT:
            raise self.error(f"{name} {_show(value)} is not a plausible amount")
        return number

    def required(self, value: Any, name: str) -> Decimal:
        number = self.number(value, name)
        assert number is not None
        return number

    def positive(self, value: Any, name: str) -> Decimal:
        number = self.required(value, name)
        if number <= 0:
            raise self.error(f"{name} must be positive, got {number}")
        return number

    def not_negative(self, value: Any, name: str) -> Decimal:
        number = self.required(value, name)
        if number < 0:
            raise self.error(f"{name} must not be negative, got {number}")
        return number

    def price_or_none(self, value: Any, name: str) -> Decimal | None:
        """An optional trigger price: null and 0 mean "none set"; below 0 is impossible."""
        number = self.number(value, name, optional=True)
        if number is None or number == 0:
            return None
        if number < 0:
            raise self.error(f"{name} must be positive, got {number}")
        return number

    def leverage(self, value: Any, name: str = "leverage", *, default: int | None = None) -> int:
        if value is None and default is not None:
            return default
        number = self.required(value, name)
        if number != number.to_integral_value() or not 1 <= number <= MAX_LEVERAGE:
            raise self.error(f"{name} must be a whole number from 1 to {MAX_LEVERAGE}, got {number}")
        return int(number)

    def count(self, value: Any, name: str) -> int:
        number = self.not_negative(value, name)
        if number != number.to_integral_value():
            raise self.error(f"{name} must be a whole number, got {number}")
        return int(number)

    def text(self, value: Any, name: str, *, optional: bool = False) -> str:
        if value is None and optional:
            return ""
        if not isinstance(value, str) or (not optional and not value.strip()):
            raise self.error(f"{name} must be text, got {_show(value)}")
        return value

    def flag(self, value: Any, name: str, *, default: bool) -> bool:
        """SQLite booleans are 0/1 (sometimes text); JSON's are true/false."""
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | Decimal) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"):
            return value.strip().lower() in ("1", "true")
        raise self.error(f"{name} must be true/false or 0/1, got {_show(value)}")

    def choice(self, value: Any, name: str, choices: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value.upper() not in choices:
            raise self.error(f"{name} must be one of {', '.join(choices)}, got {_show(value)}")
        return value.upper()

    def symbol(self, value: Any, name: str = "symbol") -> str:
        if not isinstance(value, str) or not value.isalnum() or len(value) > 32:
            raise self.error(f"{name} must be a symbol such as BTCUSDT, got {_show(value)}")
        return value.upper()

    # --- times ---------------------------------------------------------------------

    def epoch_ms(self, value: Any, name: str) -> datetime:
        """A blob time: epoch milliseconds."""
        number = self.required(value, name)
        try:
            # Exact for whole milliseconds (what Date.now() gives), no float rounding.
            moment = EPOCH + timedelta(milliseconds=int(number)) + timedelta(
                microseconds=int((number % 1) * 1000)
            )
        except OverflowError:
            raise self.error(f"{name} {number} is not a time in epoch milliseconds") from None
        return self._plausible(moment, name)

    def moment(self, value: Any, name: str, *, optional: bool = False) -> datetime | None:
        """A table time: ISO-8601 text (UTC unless it says otherwise) or epoch ms."""
        if value is None or value == "":
            if optional:
                return None
            raise self.error(f"{name} is missing")
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return self.epoch_ms(value, name)
        if not isinstance(value, str):
            raise self.error(f"{name} must be an ISO-8601 time, got {_show(value)}")
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise self.error(f"{name} must be an ISO-8601 time, got {_show(value)}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # SQLite's CURRENT_TIMESTAMP is UTC
        return self._plausible(moment, name)

    def _plausible(self, moment: datetime, name: str) -> datetime:
        if not EARLIEST <= moment < LATEST:
            raise self.error(f"{name} {moment.isoformat()} is not a plausible time")
        return moment.astimezone(UTC)

    # --- structures ----------------------------------------------------------------

    def mapping(self, value: Any, name: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"{name} must be a JSON object, got {_show(value)}")
        return value

    def sequence(self, value: Any, name: str, *, optional: bool = True) -> list[Any]:
        if value is None and optional:
            return []
        if not isinstance(value, list):
            raise self.error(f"{name} must be a JSON list, got {_show(value)}")
        return value

    def json_text(self, value: Any, name: str, *, optional: bool = False) -> Any:
        """A JSON document stored as text in a table column."""
        if value is None or value == "":
            if optional:
                return None
            raise self.error(f"{name} is missing")
        if not isinstance(value, str):
            raise self.error(f"{name} must be JSON text, got {_show(value)}")
        try:
            return json.loads(value)
        except ValueError as exc:
            raise self.error(f"{name} is not valid JSON ({exc})") from None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
