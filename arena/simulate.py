"""Which events happen at which instants of a simulated run (``manage.py simulate``).

Pure scheduling, no ORM: the command asks for a ``Plan`` (validated arguments) and walks
its ``steps``, calling the services itself. Every event sits on a grid of multiples of
its interval counted from the Unix epoch, as the live schedule does (turn slots are
``timestamp // interval``, funding falls at 00:00, 08:00 and 16:00 UTC), so a simulated
history looks like one the workers would have written, whatever the start.

A plan covers the half-open span ``[start, end)``: the instant ``end`` belongs to the
next run, so a run that starts where the previous one ended neither repeats nor skips an
event, and a run that ends "now" leaves the present to the live workers.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from trading import perps

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PlanError(ValueError):
    """The arguments describe no run that can be simulated; the message says why."""


@dataclass(frozen=True)
class Plan:
    """A simulated run: the span and the interval of each kind of event."""

    start: datetime
    end: datetime
    refresh: timedelta
    turn: timedelta
    snapshot: timedelta

    @property
    def span(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True)
class Step:
    """One simulated instant. The market is refreshed at every step (so each event sees the
    prices of its own instant), then funding, the turn and the snapshot, in that order:
    funding is charged on the positions open at the funding time, and the snapshot shows
    what the turn did."""

    at: datetime
    funding: bool = False
    turn: bool = False
    snapshot: bool = False
    hour: bool = False  # the first step of a new UTC hour: where progress is reported


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant (``2026-03-02T13:00Z``); without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PlanError(f"--start {text!r} is not an ISO 8601 time, e.g. 2026-03-02T13:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_ids(text: str) -> list[int]:
    """``"3,5, 8"`` as bot ids, in order and without repeats."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) <= 0:
            raise PlanError(f"--bots takes bot ids separated by commas (e.g. 3,5), not {text!r}")
        if int(part) not in ids:
            ids.append(int(part))
    return ids


def _positive(name: str, seconds: float) -> timedelta:
    if not math.isfinite(seconds) or seconds <= 0:
        raise PlanError(f"{name} must be positive, not {seconds:g} seconds")
    return timedelta(seconds=seconds)


def span_of(*, days: float | None = None, hours: float | None = None) -> timedelta:
    """The run's length from ``--days`` or ``--hours`` (exactly one of them, fractions allowed)."""
    if (days is None) == (hours is None):
        raise PlanError("give the length of the run as --days or as --hours")
    value, unit = (days, "days") if days is not None else (hours, "hours")
    if not math.isfinite(value) or value <= 0:
        raise PlanError(f"--{unit} must be a positive number, not {value:g}")
    return timedelta(days=value) if unit == "days" else timedelta(hours=value)


def plan_build(
    *, now: datetime, span: timedelta, start: datetime | None = None, refresh_seconds: float,
    turn_seconds: float, snapshot_seconds: float,
) -> Plan:
    """Validate the arguments into a ``Plan``; ``PlanError`` says what is wrong.

    ``start`` defaults to ``now`` minus the span, so the history ends at the present.
    A span reaching past ``now`` is refused: rows dated in the future would meet the live
    workers' rows when the clock gets there.
    """
    if now.tzinfo is None or (start is not None and start.tzinfo is None):
        raise PlanError("times must be timezone-aware")
    if span <= timedelta(0):
        raise PlanError(f"the run must last a positive time, not {span}")
    refresh = _positive("--refresh-seconds", refresh_seconds)
    turn = _positive("the turn interval (--turn-minutes)", turn_seconds)
    snapshot = _positive("the snapshot interval (--snapshot-minutes)", snapshot_seconds)
    start = now - span if start is None else start
    end = start + span
    if start > now:
        raise PlanError(f"--start {start:%Y-%m-%d %H:%M:%S} UTC is in the future (now is "
                        f"{now:%Y-%m-%d %H:%M:%S} UTC): only the past can be simulated")
    if end > now:
        raise PlanError(f"the run would end at {end:%Y-%m-%d %H:%M:%S} UTC, in the future (now is "
                        f"{now:%Y-%m-%d %H:%M:%S} UTC): start earlier or simulate less")
    return Plan(start=start.astimezone(UTC), end=end.astimezone(UTC), refresh=refresh, turn=turn,
                snapshot=snapshot)


def instants(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """The multiples of ``every`` since the epoch in ``[start, end)``, in order."""
    first = -((EPOCH - start) // every)  # the smallest k with EPOCH + k × every >= start
    result = []
    at = EPOCH + first * every
    while at < end:
        result.append(at)
        first += 1
        at = EPOCH + first * every
    return result


def steps(plan: Plan) -> Iterator[Step]:
    """Every instant at which something happens, in time order, with what happens there."""
    kinds: dict[datetime, set[str]] = {}
    for kind, every in (("refresh", plan.refresh), ("turn", plan.turn), ("snapshot", plan.snapshot),
                        ("funding", perps.FUNDING_INTERVAL)):
        for at in instants(plan.start, plan.end, every):
            kinds.setdefault(at, set()).add(kind)
    last_hour = None
    for at in sorted(kinds):
        hour = at.replace(minute=0, second=0, microsecond=0)
        yield Step(at=at, funding="funding" in kinds[at], turn="turn" in kinds[at],
                   snapshot="snapshot" in kinds[at], hour=hour != last_hour)
        last_hour = hour


def turn_slots(plan: Plan, arena_turn_seconds: int) -> tuple[int, int]:
    """The first and last turn slot (``Turn.slot``) the span touches, both included."""
    first = int(plan.start.timestamp()) // arena_turn_seconds
    last = (math.ceil(plan.end.timestamp()) - 1) // arena_turn_seconds
    return first, last


def turns_keep_slots(turn: timedelta, arena_turn_seconds: int) -> bool:
    """Whether every simulated turn falls in a turn slot of its own (slots are
    ``timestamp // arena_turn_seconds``): only then can the turns be scheduled ones;
    otherwise two turns would share a slot and the second would join the first."""
    return arena_turn_seconds > 0 and turn % timedelta(seconds=arena_turn_seconds) == timedelta(0)


@dataclass
class Clock:
    """The simulated now, moved by the run and read by the feed (``SimulatedFeed(clock=...)``)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now
