"""Forced turns asked for through the API: queued first, so the answer names the turn.

A ``Turn`` and the bot's ``BotTurn`` are written as *queued* before the task is sent; the
worker that takes the task starts that very turn (``turn_queued_start``, conditional, so
a task delivered twice starts it once). A queued turn no worker takes within
``ARENA_FORCED_TURN_WAIT_SECONDS`` is marked failed with the reason, and its task expires
with it, so it cannot run later on a market the user no longer expects.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from arena.models import BotTurn, Turn
from arena.turns.notify import bot_turn_event, turn_event
from bots.models import Bot

NOT_TAKEN = ("no worker took this forced turn within {seconds} s of it being queued; is a worker "
             "(celery -A arena worker) running?")


class TurnAlreadyQueued(Exception):
    """The bot has a forced turn waiting for a worker already."""

    def __init__(self, row: BotTurn) -> None:
        super().__init__(f"A forced turn for this bot is already queued (turn {row.turn_id}); "
                         "it runs when a worker takes it.")
        self.row = row


def wait_seconds() -> int:
    return int(settings.ARENA_FORCED_TURN_WAIT_SECONDS)


def turn_force_queue(*, bot: Bot, now: datetime | None = None) -> BotTurn:
    """Write a queued forced turn for ``bot`` and send it to the workers (or run it here
    when there is no queue: ``CELERY_TASK_ALWAYS_EAGER``). Returns the bot's row of that
    turn, as it stands once sent. A second request while one waits is refused
    (``TurnAlreadyQueued``): a user who clicks twice gets one turn."""
    from arena.tasks import run_turn  # the task module imports the turn machinery

    now = now or timezone.now()
    turns_queued_expire(now=now)
    with transaction.atomic():
        Bot.objects.select_for_update().filter(pk=bot.pk).first()  # one request at a time per bot
        waiting = BotTurn.objects.filter(bot=bot, status=BotTurn.Status.QUEUED).first()
        if waiting is not None:
            raise TurnAlreadyQueued(waiting)
        turn = Turn.objects.create(started_at=now, forced=True, status=Turn.Status.QUEUED)
        row = BotTurn.objects.create(turn=turn, bot=bot, status=BotTurn.Status.QUEUED, started_at=now)
        turn_event(turn, now=now)
        bot_turn_event(row, bot_name=bot.name, owner_id=bot.owner_id, now=now)
    run_turn.apply_async(kwargs={"bot_ids": [bot.pk], "forced": True, "turn_id": turn.pk},
                         expires=wait_seconds())
    row.refresh_from_db()
    return row


def turn_queued_start(*, turn_id: int, now: datetime, snapshot: dict) -> Turn:
    """Start the queued turn ``turn_id`` with the market ``snapshot`` its bots will see. A
    turn already started (a second delivery) or over is returned as it is."""
    with transaction.atomic():
        started = Turn.objects.filter(pk=turn_id, status=Turn.Status.QUEUED).update(
            status=Turn.Status.RUNNING, started_at=now, heartbeat_at=now, market_snapshot=snapshot)
        turn = Turn.objects.get(pk=turn_id)
        if started:
            turn_event(turn, now=now)
    return turn


def turns_queued_expire(*, now: datetime) -> list[Turn]:
    """Mark failed every queued turn older than the wait, its queued bots with it (each
    owner is told why); returns those turns."""
    seconds = wait_seconds()
    cutoff = now - timedelta(seconds=seconds)
    reason = NOT_TAKEN.format(seconds=seconds)
    expired = []
    for turn in Turn.objects.filter(status=Turn.Status.QUEUED, started_at__lt=cutoff).order_by("id"):
        with transaction.atomic():
            done = Turn.objects.filter(pk=turn.pk, status=Turn.Status.QUEUED).update(
                status=Turn.Status.FAILED, finished_at=now, error=reason)
            if not done:
                continue  # a worker took it meanwhile
            rows = list(BotTurn.objects.select_for_update(of=("self",)).select_related("bot")
                        .filter(turn=turn, status=BotTurn.Status.QUEUED).order_by("bot_id"))
            for row in rows:
                row.status, row.finished_at, row.reason = BotTurn.Status.FAILED, now, reason
                row.save(update_fields=["status", "finished_at", "reason"])
                bot_turn_event(row, bot_name=row.bot.name, owner_id=row.bot.owner_id, now=now)
            turn.refresh_from_db()
            turn_event(turn, now=now)
        expired.append(turn)
    return expired
