"""Reading a tool call's arguments (names, types, ranges) and showing numbers in results."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from bots.parsing import normalize_symbol

CandleSource = Callable[[str, str, int], Sequence[Any]]

INTERVALS = ("5m", "15m", "1h", "4h", "1d")
# Crypto trades around the clock: a year is 365 days of intervals, not 252 sessions.
MAX_TEXT = 100  # a number sent as text longer than this is not one a model meant
SIGNIFICANT = 8
WORK_CONTEXT = Context(prec=40, rounding=ROUND_HALF_EVEN)
SHOWN_CONTEXT = Context(prec=SIGNIFICANT, rounding=ROUND_HALF_EVEN)


class ToolError(Exception):
    """A tool call that cannot be answered; the message is shown to the model as is."""



def shown_number(value: Decimal | None) -> str | None:
    """``value`` at 8 significant digits as plain text (no exponent, trailing zeros or ``-0``)."""
    if value is None:
        return None
    shown = SHOWN_CONTEXT.plus(value)
    return "0" if shown == 0 else f"{shown.normalize():f}"


def shown_value(value: object) -> str:
    """``value`` as quoted in a ``ToolError`` message, cut at 60 characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return "a very large integer"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_decimal(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ToolError(f"{name} must be a number, not {shown_value(value)}")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TEXT:
            raise ToolError(f"{name} must be a number, not a {len(text)}-character text")
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ToolError(f"{name} must be a number, not {shown_value(value)}") from None
    else:
        # repr(float) is the shortest text that reads back as the same float: what the JSON said.
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not result.is_finite():
        raise ToolError(f"{name} must be a finite number, not {shown_value(value)}")
    return result


@dataclass(frozen=True)
class Param:
    """One argument: how to read it, its bounds and what the model is told about it."""

    name: str
    kind: str  # "symbol", "interval", "side", "integer" or "number"
    description: str
    default: Any = None  # None: required
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    exclusive_minimum: bool = False

    def read(self, value: object) -> Any:
        if self.kind == "symbol":
            symbol = normalize_symbol(value) if isinstance(value, str) else None
            if symbol is None:
                raise ToolError(
                    f"{self.name} must be a market symbol such as BTCUSDT, not {shown_value(value)}"
                )
            return symbol
        if self.kind == "interval":
            if not isinstance(value, str) or value.strip().lower() not in INTERVALS:
                raise ToolError(
                    f"{self.name} must be one of {', '.join(INTERVALS)}, not {shown_value(value)}"
                )
            return value.strip().lower()
        if self.kind == "side":
            side = {"LONG": "LONG", "BUY": "LONG", "SHORT": "SHORT", "SELL": "SHORT"}.get(
                value.strip().upper() if isinstance(value, str) else ""
            )
            if side is None:
                raise ToolError(f"{self.name} must be LONG or SHORT, not {shown_value(value)}")
            return side
        number = _read_decimal(self.name, value)
        low, high = self.minimum, self.maximum
        # Messages quote what was sent: an out-of-range number may not even be printable in full.
        if low is not None and (number <= low if self.exclusive_minimum else number < low):
            raise ToolError(f"{self.name} must be {'above' if self.exclusive_minimum else 'at least'} "
                            f"{low:f}, not {shown_value(value)}")
        if high is not None and number > high:
            raise ToolError(f"{self.name} must be at most {high:f}, not {shown_value(value)}")
        if self.kind == "integer":
            if number != number.to_integral_value():
                raise ToolError(f"{self.name} must be a whole number, not {shown_value(value)}")
            return int(number)
        return number

    def schema(self) -> dict[str, Any]:
        """The JSON-schema-ish description of this argument for the prompt."""
        kinds = {"symbol": "string", "interval": "string", "side": "string"}
        spec: dict[str, Any] = {"type": kinds.get(self.kind, self.kind), "description": self.description}
        if self.kind == "interval":
            spec["enum"] = list(INTERVALS)
        if self.kind == "side":
            spec["enum"] = ["LONG", "SHORT"]
        for key, bound in (("minimum", self.minimum), ("maximum", self.maximum)):
            if bound is not None:
                key = "exclusiveMinimum" if key == "minimum" and self.exclusive_minimum else key
                spec[key] = int(bound) if bound == bound.to_integral_value() else float(bound)
        if self.default is not None:
            spec["default"] = self.default
        return spec


def _arg_key(name: object) -> str:
    """An argument name without case or separators: riskPct = risk_pct."""
    return str(name).lower().replace("_", "").replace("-", "").replace(" ", "")


def read_args(tool: str, params: Sequence[Param], args: object) -> dict[str, Any]:
    """The model's ``args`` read by ``params``, defaults filled in; ``ToolError`` for anything else."""
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        raise ToolError(f"the args of {tool} must be a JSON object, not {shown_value(args)}")
    by_key = {_arg_key(p.name): p for p in params}
    given: dict[str, Any] = {}
    for raw, value in args.items():
        param = by_key.get(_arg_key(raw))
        if param is None:
            names = ", ".join(p.name for p in params)
            raise ToolError(f"{tool} has no argument {shown_value(raw)}; its arguments are: {names}")
        if param.name in given:
            raise ToolError(f"{tool} got {param.name} twice")
        given[param.name] = param.read(value)
    for param in params:
        if param.name not in given:
            if param.default is None:
                raise ToolError(f"{tool} needs {param.name}: {param.description}")
            given[param.name] = param.default
    return given

