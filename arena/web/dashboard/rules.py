"""The dashboard's small rules as pure functions over plain values: when market data is
stale, when the next turn is due, how a decision reads on one line, how bots are ranked.
Each takes ``now`` (or the values it needs) so it is tested without a clock or a database."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

# Market data is stale once the newest price is older than this many refresh intervals:
# one missed refresh is a hiccup, three mean the feed (or the beat) is down.
STALE_INTERVALS = 3
DASH = "—"
REASONING_CHARS = 160
OPENS = ("LONG", "SHORT")
# The chart's ranges: the last 24 or 72 hours, or everything (None).
RANGES: dict[str, timedelta | None] = {"24h": timedelta(hours=24), "72h": timedelta(hours=72), "all": None}
DEFAULT_RANGE = "24h"


def stale_after_seconds(refresh_interval_seconds: int) -> int:
    """How old the newest price may be before the market counts as stale."""
    return max(int(refresh_interval_seconds), 1) * STALE_INTERVALS


def market_stale_since(newest: datetime | None, *, now: datetime,
                       refresh_interval_seconds: int) -> datetime | None:
    """When the market data went stale (its newest price's time), or None while it is fresh.
    No price at all is not "stale since": there is nothing to be stale (the ticker says so)."""
    if newest is None:
        return None
    if (now - newest).total_seconds() > stale_after_seconds(refresh_interval_seconds):
        return newest
    return None


def next_turn_at(*, last_run_at: datetime | None, interval_seconds: int) -> datetime | None:
    """When the schedule runs the next turn: one interval after the last run (None before any)."""
    if last_run_at is None:
        return None
    return last_run_at + timedelta(seconds=max(int(interval_seconds), 1))


def truncated(text: str, limit: int = REASONING_CHARS) -> str:
    """``text`` on one line, cut at a word before ``limit`` characters with an ellipsis."""
    flat = " ".join(str(text or "").split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,.;:") + "…"


def action_label(action: Mapping[str, Any]) -> str:
    """One action as the ticker says it: "LONG BTCUSDT 5x", "CLOSE ETHUSDT", "HOLD"."""
    kind = str(action.get("action") or "?").upper()
    parts = [kind]
    if action.get("symbol"):
        parts.append(str(action["symbol"]))
    if kind in OPENS and action.get("leverage"):
        parts.append(f"{action['leverage']}x")
    return " ".join(parts)


def decision_line(actions: object, *, success: bool, error: str, show_reasoning: bool) -> tuple[str, str]:
    """A decision as (what it did, why): ("LONG BTCUSDT 5x", "Breakout above…"). The why is
    the first reasoning the model gave (or the error of a failed call), shortened; empty
    when the reasoning is not to be shown."""
    rows = [a for a in actions if isinstance(a, Mapping)] if isinstance(actions, list | tuple) else []
    if not success:
        what = "failed"
        why = error
    else:
        what = ", ".join(action_label(a) for a in rows) or "HOLD"
        why = next((str(a.get("reasoning")) for a in rows if str(a.get("reasoning") or "").strip()), "")
    return what, truncated(why) if show_reasoning else ""


@dataclass(frozen=True)
class Ranked:
    rank: int
    item: Any


def ranked(items: Iterable[Any], *, value: Any) -> list[Ranked]:
    """``items`` by ``value(item)`` (a Decimal, or None for no figure yet), highest first,
    ranked 1, 2, 3…; items without a value come last, by their order given."""
    listed = list(items)
    with_value = sorted((i for i in listed if value(i) is not None), key=lambda i: value(i), reverse=True)
    without = [i for i in listed if value(i) is None]
    return [Ranked(rank=n, item=i) for n, i in enumerate([*with_value, *without], start=1)]


def range_start(name: str, *, now: datetime, earliest: datetime | None) -> datetime:
    """The chart range ``name``'s first instant: ``now`` minus its length, or for "all" the
    earliest point (``now`` minus a day when there is none)."""
    length = RANGES[name]
    if length is not None:
        return now - length
    return earliest if earliest is not None and earliest < now else now - timedelta(days=1)


def money(value: Decimal | None) -> str:
    """"12,345.67" (to the cent), "—" for no figure."""
    if value is None:
        return DASH
    return f"{Decimal(value):,.2f}"


def signed_money(value: Decimal | None) -> str:
    """"+1,234.57" / "-3.10" / "0.00"."""
    if value is None:
        return DASH
    shown = money(value)
    return f"+{shown}" if Decimal(value) > 0 and shown != "0.00" else shown


def pct(fraction: float | Decimal | None, *, signed: bool = False) -> str:
    """A fraction as a percentage: 0.0123 → "1.23 %" ("+1.23 %" when ``signed``)."""
    if fraction is None:
        return DASH
    number = float(fraction) * 100
    return f"{'+' if signed and number > 0.005 else ''}{number:.2f} %"


def tone(value: float | Decimal | None) -> str:
    """"pos", "neg" or "": the class colouring a signed figure."""
    if value is None or value == 0:
        return ""
    return "pos" if value > 0 else "neg"


def price(value: Decimal | None, *, digits: int = 6) -> str:
    """A price to ``digits`` significant digits, grouped, without trailing zeros:
    "69,392.8", "0.1556" (as the ticker's script shows the live ones)."""
    if value is None:
        return DASH
    number = Decimal(value)
    places = max(digits - 1 - number.adjusted(), 0) if number else 0
    shown = f"{number:,.{places}f}"
    return shown.rstrip("0").rstrip(".") if "." in shown else shown
