"""The analytics' inputs as values: instants, ranges, bot ids and runs, parsed from the
query string's text by pure functions, so each rule (what a date means, which range is too
long) is stated once and unit-tested without a request.

A bad input is an ``AnalyticsError`` naming the parameter, which the API turns into a 400
whose ``fields`` name it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

DEFAULT_DAYS = 7  # a range without ``from`` starts this many days before its end
# Instants the arithmetic of a range can take: boundaries count from the Unix epoch, and a
# default start or a day after the end must stay representable.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
MAX_BOTS = 10  # the most bots one comparison draws on one axis


class AnalyticsError(ValueError):
    """A query parameter that cannot be used: ``param`` names it, the message says why."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


def instant_parse(text: str, *, param: str) -> datetime:
    """An ISO 8601 instant, or a date (that day's 00:00 UTC); without an offset it is UTC."""
    cleaned = text.strip()
    try:
        if len(cleaned) == 10:  # YYYY-MM-DD
            moment = datetime.combine(date.fromisoformat(cleaned), time(), tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00").replace("z", "+00:00"))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise AnalyticsError(param, f"{text!r} is not an ISO 8601 date or time, e.g. 2026-03-02 or "
                                    "2026-03-02T13:00:00Z.") from None
    if not EARLIEST <= moment < LATEST:
        raise AnalyticsError(param, f"{text!r} is outside the years {EARLIEST.year}–{LATEST.year - 1}.")
    return moment


@dataclass(frozen=True)
class Range:
    """The instants ``start``..``end`` (both included), UTC."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def whole_days(self) -> tuple[date, date] | None:
        """The first and last UTC day lying wholly inside the range, or None if no day does."""
        first = self.start.date() if self.start.time() == time() else self.start.date() + timedelta(days=1)
        last = self.end.date() - timedelta(days=1)  # the end's own day is not over at the end
        return (first, last) if first <= last else None

    def days_touched(self) -> tuple[date, date]:
        """The UTC days of the start and of the end: what a range of dates means."""
        return self.start.date(), self.end.date()


def range_resolve(start: datetime | None, end: datetime | None, *, now: datetime) -> Range:
    """``start``..``end``, each defaulting as the API documents it: the end to ``now``, the
    start to ``DEFAULT_DAYS`` before the end. A start after the end is an error naming
    ``from``."""
    end = end or now
    start = start or end - timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise AnalyticsError("from", f"The range starts ({start.isoformat()}) after it ends "
                                     f"({end.isoformat()}): 'from' must not be after 'to'.")
    return Range(start.astimezone(UTC), end.astimezone(UTC))


def ids_parse(text: str, *, param: str, most: int | None = None) -> list[int]:
    """``"3,5, 8"`` as bot ids, in order and without repeats; at most ``most`` of them."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part.isascii() or not part.isdigit() or int(part) <= 0:
            raise AnalyticsError(param, f"{param} takes bot ids separated by commas (e.g. 3,5); "
                                        f"{part!r} is not a bot id.")
        if int(part) not in ids:
            ids.append(int(part))
    if most is not None and len(ids) > most:
        raise AnalyticsError(param, f"At most {most} bots at once; {len(ids)} were given.")
    return ids


def run_choose(text: str | None, *, runs: Iterable[datetime], current: datetime) -> datetime:
    """The run ``text`` names (an ISO instant equal to one of ``runs``), or ``current``."""
    if text is None or not text.strip():
        return current
    wanted = instant_parse(text, param="run")
    known = sorted({*runs, current})
    if wanted not in known:
        listed = ", ".join(r.isoformat().replace("+00:00", "Z") for r in known)
        raise AnalyticsError("run", f"This bot has no run starting at {wanted.isoformat()}; its runs "
                                    f"start at {listed} (GET its runs/).")
    return wanted
