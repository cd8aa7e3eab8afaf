"""Claims on bots that heal: a turn holds each bot it runs for a short lease and renews
it while it is alive.

A claim is ``Bot.turn_claimed_until``, taken by a conditional UPDATE that succeeds only
when the column is empty or in the past (the pattern of healthchecks' ``sendalerts``).
The holding turn renews every claim together, and its own ``Turn.heartbeat_at``, every
third of the lease; the value of ``turn_claimed_until`` it last wrote is its token, so it
releases or renews only what it still holds. A worker killed mid-turn renews nothing:
its bots are free again one lease later, and the next turn marks its ``Turn`` failed.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from arena.models import BotTurn, Turn
from arena.turns.notify import bot_turn_event, turn_event
from bots.models import Bot

ABANDONED = "its worker stopped during the turn (killed or lost) and renewed nothing after {beat}"


def lease_seconds() -> int:
    return int(settings.ARENA_TURN_LEASE_SECONDS)


def turn_clock(now: datetime) -> Callable[[], datetime]:
    """``now`` moving on with the monotonic clock: a turn run at an injected time renews
    its leases in that time, not the wall clock's."""
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


@dataclass
class Lease:
    """The claims one turn holds, with the token (their common expiry) that proves it."""

    turn: Turn
    clock: Callable[[], datetime]
    seconds: int = field(default_factory=lease_seconds)
    bot_ids: list[int] = field(default_factory=list)
    until: datetime | None = None
    renewed_at: datetime | None = None

    def __post_init__(self) -> None:
        self.until = self.clock() + timedelta(seconds=self.seconds)
        self.renewed_at = self.clock()

    def claim(self, bot: Bot) -> bool:
        """Take ``bot`` until the lease's expiry; False if another turn holds it."""
        now = self.clock()
        free = Q(turn_claimed_until__isnull=True) | Q(turn_claimed_until__lt=now)
        if Bot.objects.filter(free, pk=bot.pk).update(turn_claimed_until=self.until) != 1:
            return False
        self.bot_ids.append(bot.pk)
        return True

    def holds_query(self, bot_id: int):
        return Bot.objects.filter(pk=bot_id, turn_claimed_until=self.until)

    def renew(self) -> None:
        """Push every claim still held, and the turn's heartbeat, one lease further."""
        now = self.clock()
        until = now + timedelta(seconds=self.seconds)
        if self.bot_ids:
            Bot.objects.filter(pk__in=self.bot_ids, turn_claimed_until=self.until).update(
                turn_claimed_until=until
            )
        Turn.objects.filter(pk=self.turn.pk).update(heartbeat_at=now)
        self.until, self.renewed_at = until, now

    def renew_if_due(self) -> None:
        if (self.clock() - self.renewed_at).total_seconds() >= self.interval:
            self.renew()

    @property
    def interval(self) -> float:
        return self.seconds / 3

    def release(self, bot_id: int) -> None:
        # Only our own claim: if it lapsed and another turn took the bot, leave theirs.
        Bot.objects.filter(pk=bot_id, turn_claimed_until=self.until).update(turn_claimed_until=None)
        if bot_id in self.bot_ids:
            self.bot_ids.remove(bot_id)

    def release_all(self) -> None:
        if self.bot_ids:
            Bot.objects.filter(pk__in=self.bot_ids, turn_claimed_until=self.until).update(
                turn_claimed_until=None
            )
        self.bot_ids.clear()


def turns_abandoned_fail(*, now: datetime, seconds: int | None = None) -> list[Turn]:
    """Mark failed every running turn whose heartbeat is older than a lease (its worker
    died), and its bots' unfinished rows with it; returns those turns."""
    cutoff = now - timedelta(seconds=seconds or lease_seconds())
    stale = Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    failed = []
    for turn in Turn.objects.filter(stale, status=Turn.Status.RUNNING).order_by("id"):
        beat = turn.heartbeat_at or turn.started_at
        reason = ABANDONED.format(beat=f"{beat:%Y-%m-%d %H:%M:%S} UTC")
        finished = max(now, turn.started_at)
        with transaction.atomic():
            # Conditional: a turn that renewed or finished meanwhile is left alone.
            done = Turn.objects.filter(pk=turn.pk, status=Turn.Status.RUNNING).filter(stale).update(
                status=Turn.Status.FAILED, finished_at=finished, error=reason
            )
            if not done:
                continue
            rows = list(BotTurn.objects.select_for_update(of=("self",)).select_related("bot")
                        .filter(turn=turn, status=BotTurn.Status.RUNNING).order_by("bot_id"))
            BotTurn.objects.filter(pk__in=[r.pk for r in rows]).update(
                status=BotTurn.Status.FAILED, finished_at=finished, reason=reason
            )
            for row in rows:  # each owner learns that their bot's turn failed, and why
                row.status, row.finished_at, row.reason = BotTurn.Status.FAILED, finished, reason
                bot_turn_event(row, bot_name=row.bot.name, owner_id=row.bot.owner_id, now=now)
            turn.refresh_from_db()
            turn_event(turn, now=now)
        failed.append(turn)
    return failed
