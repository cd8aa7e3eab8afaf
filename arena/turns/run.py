"""A trading turn for the whole arena.

1. One ``Turn`` row freezes the market snapshot every bot sees. Scheduled turns
   are keyed by their interval slot, so a redelivered task joins its own turn.
2. Each due bot is claimed with a conditional UPDATE (``turn_claimed_until``):
   overlapping turns and duplicate deliveries skip a bot another one holds; the
   claim of a worker killed mid-turn expires on its own.
3. Prompts are built from the database, then every bot's model is called
   concurrently over httpx — outside any transaction — so a turn lasts about as
   long as its slowest bot.
4. Each bot's answer is recorded and executed in its own atomic transaction
   (``arena.turns.execute``); events go out after commit.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from asgiref.sync import async_to_sync
from django.db.models import Q
from django.utils import timezone

from arena.events import publish
from arena.models import ArenaSettings, Turn
from arena.turns.context import CandleCache, Job, job_prepare, market_snapshot
from arena.turns.converse import converse
from arena.turns.execute import ModelCall, Outcome, decision_execute
from bots.models import Bot

log = logging.getLogger(__name__)


@dataclass
class TurnReport:
    turn: Turn
    outcomes: list[Outcome] = field(default_factory=list)


def _due_bots(bot_ids: list[int] | None, turn: Turn):
    bots = Bot.objects.filter(is_active=True).select_related("provider", "owner")
    if bot_ids:
        bots = bots.filter(pk__in=bot_ids)  # a named bot runs even when paused
    else:
        bots = bots.filter(is_paused=False)
    return bots.exclude(decisions__turn=turn).order_by("id")


def bot_claim(*, bot: Bot, until: datetime, now: datetime) -> bool:
    """Claim ``bot`` for a turn until ``until``; False if another turn holds it."""
    free = Q(turn_claimed_until__isnull=True) | Q(turn_claimed_until__lt=now)
    return Bot.objects.filter(free, pk=bot.pk).update(turn_claimed_until=until) == 1


def bot_release(*, bot: Bot, until: datetime) -> None:
    # Only our own claim: if it expired and another turn took the bot, leave theirs.
    Bot.objects.filter(pk=bot.pk, turn_claimed_until=until).update(turn_claimed_until=None)


def _turn_for(*, forced: bool, now: datetime, arena: ArenaSettings) -> Turn:
    snapshot = market_snapshot()
    if forced:
        return Turn.objects.create(started_at=now, forced=True, market_snapshot=snapshot)
    slot = int(now.timestamp()) // arena.turn_interval_seconds
    turn, _ = Turn.objects.get_or_create(
        slot=slot, defaults={"started_at": now, "market_snapshot": snapshot}
    )
    return turn


def turn_run(*, bot_ids: list[int] | None = None, forced: bool = False, now: datetime | None = None,
             transport: httpx.AsyncBaseTransport | None = None) -> TurnReport:
    """Run a turn now for every active, unpaused bot (or the ones named).

    ``transport`` replaces the network for tests (e.g. respx's mock transport).
    """
    now = now or timezone.now()
    arena = ArenaSettings.load()
    turn = _turn_for(forced=forced or bool(bot_ids), now=now, arena=arena)
    report = TurnReport(turn=turn)
    jobs: list[Job] = []
    cache = CandleCache(now=now)
    for bot in _due_bots(bot_ids, turn):
        until = now + timedelta(seconds=_claim_seconds(bot, arena))
        if not bot_claim(bot=bot, until=until, now=now):
            report.outcomes.append(Outcome(bot.pk, bot.name, skipped="another turn is running this bot"))
            continue
        try:
            jobs.append(job_prepare(bot=bot, turn=turn, now=now, arena=arena, claim_until=until, cache=cache))
        except Exception:
            bot_release(bot=bot, until=until)
            raise
    try:
        calls = async_to_sync(_call_all)(jobs, transport)
        for job, call in zip(jobs, calls, strict=True):
            report.outcomes.append(_execute_one(job, turn, call, now))
    finally:
        for job in jobs:
            bot_release(bot=job.bot, until=job.claim_until)
    if not jobs:
        # Only skips: another run holds these bots and will finish the turn itself.
        return report
    failed = [o for o in report.outcomes if o.error]
    Turn.objects.filter(pk=turn.pk).update(
        finished_at=timezone.now(),
        status=Turn.Status.FAILED if jobs and len(failed) == len(jobs) else Turn.Status.FINISHED,
        error="; ".join(f"{o.bot_name}: {o.error}" for o in failed)[:5000],
    )
    turn.refresh_from_db()
    return report


def _execute_one(job: Job, turn: Turn, call: ModelCall, now: datetime) -> Outcome:
    """Record and execute one bot's answer. Its transaction is all or nothing, so an
    unexpected failure leaves nothing of this bot; it is logged with its traceback and
    recorded on the turn, and the other bots' answers are still executed."""
    try:
        outcome = decision_execute(bot=job.bot, turn=turn, call=call, now=now)
    except Exception as exc:
        log.exception("turn %s: executing bot %s failed", turn.pk, job.bot.pk)
        return Outcome(job.bot.pk, job.bot.name, error=f"execution failed: {type(exc).__name__}: {exc}")
    _publish(job.bot, turn, outcome)
    return outcome


def _claim_seconds(bot: Bot, arena: ArenaSettings) -> int:
    # Long enough for every attempt of every sandbox step, never shorter than a turn.
    provider = bot.provider
    steps = 5 if bot.sandbox_enabled else 1
    calls = (provider.max_retries + 1) * steps
    return max(arena.turn_interval_seconds, provider.timeout_seconds * calls + 60)


async def _call_all(jobs: list[Job], transport: httpx.AsyncBaseTransport | None) -> list[ModelCall]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    async with httpx.AsyncClient(transport=transport, limits=limits) as client:
        return list(await asyncio.gather(*(converse(job, client) for job in jobs)))


def _publish(bot: Bot, turn: Turn, outcome: Outcome) -> None:
    if outcome.skipped:
        return
    publish({"type": "decision", "data": {
        "turn": turn.pk, "bot": bot.pk, "bot_name": bot.name, "decision": outcome.decision_id,
        "executed": outcome.executed, "ok": not outcome.error,
    }})
    publish({"type": "decision_detail", "data": {
        "turn": turn.pk, "bot": bot.pk, "decision": outcome.decision_id, "rejected": outcome.rejected,
        "notes": outcome.notes, "error": outcome.error,
    }}, owner_id=bot.owner_id)
