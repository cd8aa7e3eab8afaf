"""Rebuilding a bot's daily rollups from its history (``ledger.rollup_models.BotDay``).

The writers keep the rollups current as they go (``ledger.rollups``); this recomputes them
from scratch — snapshots, journal entries, closed positions and decisions, replayed in time
order through the same arithmetic — for history written without them (the legacy import)
and as the proof that the incremental rows are right (``tests/ledger/test_rollups.py``).

The runs are the bot's resets: each "reset" on the audit trail and its current
``stats_reset_at``. What happened at the instant of a reset belongs, as when it was written,
to the run it ended (the reset's own closes), except the snapshots taken then, which start
the new one.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.dateparse import parse_datetime

from bots.models import Bot, Decision
from ledger.models import Change, Entry, Snapshot
from ledger.rollup_models import RUN_FIRST, BotDay
from ledger.rollups import (
    FLOW_KINDS,
    day_close,
    day_decision,
    day_fill,
    day_funding,
    day_new,
    day_of,
    day_point,
)
from trading.models import Position

ZERO = Decimal(0)


def _runs(bot: Bot) -> list[datetime]:
    starts = {RUN_FIRST}
    for after in Change.objects.filter(object_type="bots.Bot", object_id=str(bot.pk), action="reset") \
            .values_list("changes__stats_reset_at", flat=True):
        moment = parse_datetime(after[1]) if isinstance(after, list) and after[1] else None
        if moment is not None:
            starts.add(moment)
    if bot.stats_reset_at:
        starts.add(bot.stats_reset_at)
    return sorted(starts)


class _Replay:
    def __init__(self, bot: Bot) -> None:
        self.bot_id = bot.pk
        self.runs = _runs(bot)
        self.days: dict[tuple[datetime, object], BotDay] = {}
        self.latest: dict[datetime, BotDay] = {}  # each run's row holding its last snapshot

    def _run(self, at: datetime, *, at_reset_is_new: bool) -> datetime:
        cut = bisect_right(self.runs, at) if at_reset_is_new else bisect_left(self.runs, at)
        return self.runs[max(cut - 1, 0)]

    def day(self, at: datetime, *, at_reset_is_new: bool = False) -> BotDay:
        run = self._run(at, at_reset_is_new=at_reset_is_new)
        key = (run, day_of(at))
        if key not in self.days:
            self.days[key] = day_new(bot_id=self.bot_id, run_start=run, day=key[1])
        return self.days[key]

    def snapshot(self, at: datetime, value: Decimal, flow_entries: list[tuple[datetime, Decimal]]) -> None:
        run = self._run(at, at_reset_is_new=True)
        previous = self.latest.get(run)
        if previous is not None and at <= previous.last_at:
            return  # as the writer does: the series only moves forward
        flow = sum((amount for moment, amount in flow_entries
                    if previous is not None and previous.last_at < moment <= at), ZERO)
        row = self.day(at, at_reset_is_new=True)
        day_point(row, previous, at=at, value=value, flow=flow)
        self.latest[run] = row


def rollups_rebuild(*, bot_ids: list[int] | None = None) -> int:
    """Recompute the rollups of the bots named (every bot when None); returns the rows written."""
    bots = Bot.objects.all() if bot_ids is None else Bot.objects.filter(pk__in=bot_ids)
    written = 0
    for bot in bots.order_by("pk"):
        replay = _Replay(bot)
        entries = list(Entry.objects.filter(account__bot_id=bot.pk).order_by("created_at", "id")
                       .values_list("created_at", "kind", "amount"))
        flows = [(moment, amount) for moment, kind, amount in entries if kind in FLOW_KINDS]
        events: list[tuple[datetime, int, object]] = []
        for taken_at, value in Snapshot.objects.filter(bot_id=bot.pk).order_by("taken_at", "id") \
                .values_list("taken_at", "total_value"):
            events.append((taken_at, 3, ("snapshot", value)))
        for moment, kind, amount in entries:
            if kind in (Entry.Kind.FEE, Entry.Kind.FUNDING):
                events.append((moment, 0, (kind, amount)))
        for closed_at, pnl, opened_at, leverage, margin in Position.objects.filter(
                bot_id=bot.pk, status=Position.Status.CLOSED).order_by("closed_at", "id") \
                .values_list("closed_at", "realized_pnl", "opened_at", "leverage", "margin"):
            events.append((closed_at, 1, ("close", (pnl or ZERO, opened_at, leverage, margin))))
        for row in Decision.objects.filter(bot_id=bot.pk).order_by("created_at", "id") \
                .values_list("created_at", "tokens_in", "tokens_out", "cost", "latency_ms"):
            events.append((row[0], 2, ("decision", row[1:])))
        # Stable by time, then as a turn writes them; snapshots last at an instant.
        for at, _, (what, data) in sorted(events, key=lambda e: (e[0], e[1])):
            if what == "snapshot":
                replay.snapshot(at, data, flows)
            elif what == "close":
                pnl, opened_at, leverage, margin = data
                day_close(replay.day(at), pnl=pnl, leverage=leverage, margin=margin,
                          hold_seconds=int((at - opened_at).total_seconds()))
            elif what == "decision":
                tokens_in, tokens_out, cost, latency = data
                day_decision(replay.day(at), tokens_in=tokens_in or 0, tokens_out=tokens_out or 0,
                             cost=cost or ZERO, latency_ms=latency or 0)
            elif what == Entry.Kind.FEE:
                day_fill(replay.day(at), fee=-data)
            else:
                day_funding(replay.day(at), amount=data)
        with transaction.atomic():
            BotDay.objects.filter(bot_id=bot.pk).delete()
            BotDay.objects.bulk_create(replay.days.values())
        written += len(replay.days)
    return written
