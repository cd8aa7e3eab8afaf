"""How a period was spent: long, short, both at once, or flat.

Each instant of the period [start, end) is in exactly one state, from the positions open at it
(a position is open on [opened_at, closed_at); one still open runs to ``end``):

- ``long``: at least one long position open and no short;
- ``short``: at least one short open and no long;
- ``both``: longs and shorts open at once (hedged, on one symbol or across symbols);
- ``flat``: no position at all.

The four shares are fractions of the period's length and add up to 1.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ledger.metrics.result import Metric

SIDES = ("LONG", "SHORT")
EMPTY_PERIOD = "the period is empty"


class Span(Protocol):
    """Anything with a side and an open interval: a ``PositionSpan``, a ``ClosedTrade``."""

    @property
    def side(self) -> str: ...

    @property
    def opened_at(self) -> datetime: ...

    @property
    def closed_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class PositionSpan:
    """A position open from ``opened_at`` to ``closed_at`` (None while it is still open)."""

    side: str
    opened_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True)
class Exposure:
    long: Metric
    short: Metric
    both: Metric
    flat: Metric


def _state(longs: int, shorts: int) -> str:
    if longs and shorts:
        return "both"
    if longs:
        return "long"
    return "short" if shorts else "flat"


def exposure(spans: Iterable[Span], *, start: datetime, end: datetime) -> Exposure:
    """The share of [start, end) spent long, short, both and flat."""
    if end <= start:
        undefined = Metric.undefined(EMPTY_PERIOD)
        return Exposure(long=undefined, short=undefined, both=undefined, flat=undefined)
    changes: dict[datetime, list[int]] = {start: [0, 0], end: [0, 0]}
    for span in spans:
        if span.side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}, not {span.side!r}")
        opened = max(span.opened_at, start)
        closed = min(span.closed_at or end, end)
        if closed <= opened:
            continue
        column = SIDES.index(span.side)
        changes.setdefault(opened, [0, 0])[column] += 1
        changes.setdefault(closed, [0, 0])[column] -= 1
    spent = {"long": timedelta(0), "short": timedelta(0), "both": timedelta(0), "flat": timedelta(0)}
    longs = shorts = 0
    instants = sorted(changes)
    for at, following in zip(instants, instants[1:], strict=False):
        longs += changes[at][0]
        shorts += changes[at][1]
        spent[_state(longs, shorts)] += following - at
    total = end - start
    return Exposure(**{state: Metric(time / total) for state, time in spent.items()})
