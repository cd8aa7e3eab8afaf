"""A trading turn for the whole arena.

1. Turns abandoned by dead workers are marked failed. The market is checked and, when
   any price a due bot needs is missing or old, refreshed first: a turn never runs on an
   empty or stale market. One ``Turn`` row then freezes the snapshot every bot sees.
   Scheduled turns are keyed by their interval slot, so a redelivered task joins its own
   running turn.
2. Every bot the turn considers gets a ``BotTurn`` row: skipped with a reason (real mode,
   no fresh price, held by another turn), or claimed with a short lease
   (``arena.turns.lease``) that this turn renews while it is alive.
3. Prompts are built from the database, then every bot's model is called concurrently
   over httpx — outside any transaction — so a turn lasts about as long as its slowest
   bot.
4. Each bot's answer is recorded as its Decision, then executed action by action
   (``arena.turns.execute``): planned, placed through the broker its mode chooses, and
   recorded in a transaction of its own; a failure keeps the reply as a failed decision.
   Every turn ends finished, failed or skipped, and each outcome reaches the bot's owner
   as an event after commit.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from asgiref.sync import async_to_sync, sync_to_async
from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.models import ArenaSettings, BotTurn, Turn
from arena.turns.context import CandleCache, Job, job_prepare, market_snapshot
from arena.turns.converse import converse
from arena.turns.execute import ModelCall, Outcome, decision_execute, decision_record_failure
from arena.turns.force import turn_queued_start, turns_queued_expire
from arena.turns.lease import Lease, turn_clock, turns_abandoned_fail
from arena.turns.notify import bot_turn_event, turn_event
from bots.models import Bot
from trading.feeds import Feed
from trading.models import Reconciliation
from trading.outbound_transport import PinnedAsyncTransport
from trading.selectors import markets_unfresh, outbound_policy
from trading.services.market import market_refresh_and_trigger
from trading.services.real import real_trading_refusal
from trading.services.reconcile import reconcile_bot

log = logging.getLogger(__name__)

HELD = "another turn is running this bot"


@dataclass
class TurnReport:
    turn: Turn
    outcomes: list[Outcome] = field(default_factory=list)


def market_max_age(arena: ArenaSettings) -> int:
    """How old a price may be for a turn: a few missed refreshes, never under 30 s."""
    return max(30, 3 * arena.refresh_interval_seconds)


def bot_symbols(bot: Bot, arena: ArenaSettings) -> list[str]:
    return sorted({s.upper() for s in (bot.symbols or arena.default_symbols or [])})


def turn_candidates(bot_ids: list[int] | None) -> list[Bot]:
    bots = Bot.objects.filter(is_active=True).select_related("provider", "owner")
    if bot_ids:
        bots = bots.filter(pk__in=bot_ids)  # a named bot runs even when paused
    else:
        bots = bots.filter(is_paused=False)
    return list(bots.order_by("id"))


def turn_market_check(*, bots: list[Bot], arena: ArenaSettings, now: datetime, refresh: bool,
                      feed: Feed | None = None) -> dict[str, str]:
    """Make sure the paper bots' symbols have fresh prices at ``now``: refresh the market
    first when any is missing or old (and ``refresh``). Returns what is still not fresh."""
    symbols = sorted({s for bot in bots for s in bot_symbols(bot, arena)})
    unfresh = markets_unfresh(symbols=symbols, now=now, max_age_seconds=market_max_age(arena))
    if unfresh and refresh:
        summary = market_refresh_and_trigger(feed=feed, now=now)
        unfresh = markets_unfresh(symbols=symbols, now=now, max_age_seconds=market_max_age(arena))
        if unfresh and summary["error"]:
            unfresh = {s: f"{why} (refresh: {summary['error']})" for s, why in unfresh.items()}
    return unfresh


def real_mode_reason(bot: Bot, arena: ArenaSettings, now: datetime) -> str:
    """Why a real-money bot is not traded in this turn (never on paper: a user who chose
    real money must not see invented fills), or "". Real trading on, no kill switch, a
    wallet that may trade, and an exchange that answers: the turn first reconciles the bot
    with it, so the prompt shows what the exchange holds now."""
    if arena.kill_switch_at is not None:
        who = arena.kill_switch_by.get_username() if arena.kill_switch_by else "an admin"
        when = f"{arena.kill_switch_at:%Y-%m-%d %H:%M} UTC"
        return f"the kill switch was engaged at {when} by {who}: no real bot trades"
    refusal = real_trading_refusal(bot)
    if refusal:
        return refusal
    run = reconcile_bot(bot=bot, trigger=Reconciliation.Trigger.TURN, now=now)
    if run.status == Reconciliation.Status.FAILED:
        return f"not traded blind: {run.error}"
    return ""


def _market_reason(bot: Bot, arena: ArenaSettings, unfresh: dict[str, str], refresh: bool) -> str:
    symbols = bot_symbols(bot, arena)
    if not symbols or any(s not in unfresh for s in symbols):
        return ""  # at least one fresh price; stale ones are flagged in the prompt and refused
    detail = "; ".join(f"{s}: {unfresh[s]}" for s in symbols)
    how = "" if refresh else " (this turn was told not to refresh prices)"
    return f"no fresh market price for any of its symbols{how}: {detail}"


def _turn_for(*, forced: bool, now: datetime, arena: ArenaSettings) -> Turn:
    snapshot = market_snapshot()
    with transaction.atomic():
        if forced:
            turn, created = Turn.objects.create(
                started_at=now, heartbeat_at=now, forced=True, market_snapshot=snapshot), True
        else:
            slot = int(now.timestamp()) // arena.turn_interval_seconds
            turn, created = Turn.objects.get_or_create(
                slot=slot, defaults={"started_at": now, "heartbeat_at": now, "market_snapshot": snapshot}
            )
        if created:
            turn_event(turn, now=now)
    return turn


def turn_run(*, bot_ids: list[int] | None = None, forced: bool = False, now: datetime | None = None,
             transport: httpx.AsyncBaseTransport | None = None, feed: Feed | None = None,
             refresh: bool = True, turn_id: int | None = None) -> TurnReport:
    """Run a turn now for every active, unpaused bot (or the ones named, even paused).

    ``turn_id`` names a forced turn queued through the API (``arena.turns.force``): this
    run starts that turn instead of writing one.

    ``feed`` is the market feed a refresh uses (default: the configured one);
    ``refresh=False`` never refreshes, so bots without a fresh price are skipped.
    ``transport`` replaces the network for tests (e.g. respx's mock transport).
    """
    now = now or timezone.now()
    arena = ArenaSettings.load()
    turns_abandoned_fail(now=now)
    turns_queued_expire(now=now)
    candidates = turn_candidates(bot_ids)
    unfresh = turn_market_check(bots=candidates, arena=arena, now=now, refresh=refresh, feed=feed)
    if turn_id is not None:
        turn = turn_queued_start(turn_id=turn_id, now=now, snapshot=market_snapshot())
    else:
        turn = _turn_for(forced=forced or bool(bot_ids), now=now, arena=arena)
    report = TurnReport(turn=turn)
    if turn.is_over:
        return report  # a redelivered task for a slot that has ended: nothing to do
    lease = Lease(turn=turn, clock=turn_clock(now))
    lease.renew()  # the heartbeat of a running turn this run joins
    taken = dict(BotTurn.objects.filter(turn=turn).values_list("bot_id", "status"))
    mine: dict[int, BotTurn] = {}
    try:
        jobs = _claim_and_prepare(candidates, taken, turn, arena, unfresh, refresh, lease, now, report, mine)
        # Every model is called through one client whose sockets go only to addresses the
        # arena's outbound rules allow (trading.outbound_transport); tests pass their own.
        transport = transport or PinnedAsyncTransport(outbound_policy(), limits=CALL_LIMITS)
        calls = async_to_sync(_call_all)(jobs, transport, lease)
        for job, call in zip(jobs, calls, strict=True):
            lease.renew_if_due()
            outcome = _execute_one(job, turn, call, now, lease)
            report.outcomes.append(outcome)
            _bot_turn_end(mine[job.bot.pk], outcome, lease.clock())
            lease.release(job.bot.pk)
    except Exception as exc:
        log.exception("turn %s failed", turn.pk)
        _stop_running(mine, f"the turn failed: {type(exc).__name__}: {exc}", lease.clock())
        raise
    finally:
        _stop_running(mine, "the turn was interrupted before this bot's answer was recorded", lease.clock())
        lease.release_all()
        _unqueue(turn, lease.clock())
        _turn_end(turn, lease.clock())
    return report


# A bot with no row in the turn yet, skipped by an earlier run of it, or queued for it.
_CLAIMABLE = {None, BotTurn.Status.SKIPPED, BotTurn.Status.QUEUED}


def _claim_and_prepare(candidates: list[Bot], taken: dict[int, str], turn: Turn, arena: ArenaSettings,
                       unfresh: dict[str, str], refresh: bool, lease: Lease, now: datetime,
                       report: TurnReport, mine: dict[int, BotTurn]) -> list[Job]:
    """Skip, claim and prepare each due bot; returns the jobs whose model is to be called."""
    jobs: list[Job] = []
    cache = CandleCache(now=now)
    for bot in candidates:
        if taken.get(bot.pk) not in _CLAIMABLE:
            continue  # already run (or running) in this turn
        reason = (real_mode_reason(bot, arena, now) if bot.mode == Bot.Mode.REAL
                  else _market_reason(bot, arena, unfresh, refresh))
        if reason:
            mine[bot.pk] = _bot_turn_row(turn, bot, BotTurn.Status.SKIPPED, now, reason)
            report.outcomes.append(Outcome(bot.pk, bot.name, skipped=reason))
            continue
        if not lease.claim(bot):
            if taken.get(bot.pk, BotTurn.Status.QUEUED) == BotTurn.Status.QUEUED:
                mine[bot.pk] = _bot_turn_row(turn, bot, BotTurn.Status.SKIPPED, now, HELD)
            report.outcomes.append(Outcome(bot.pk, bot.name, skipped=HELD))
            continue
        mine[bot.pk] = _bot_turn_row(turn, bot, BotTurn.Status.RUNNING, now)
        try:
            jobs.append(job_prepare(bot=bot, turn=turn, now=now, arena=arena, cache=cache))
        except Exception as exc:
            # This bot's data or a bug: the bot fails visibly, its claim goes, the others run.
            log.exception("turn %s: preparing bot %s failed", turn.pk, bot.pk)
            error = f"preparing the prompt failed: {type(exc).__name__}: {exc}"
            outcome = Outcome(bot.pk, bot.name, error=error)
            outcome.decision_id = decision_record_failure(
                bot=bot, turn=turn, call=ModelCall(prompt=""), now=now, error=error)
            report.outcomes.append(outcome)
            _bot_turn_end(mine[bot.pk], outcome, lease.clock())
            lease.release(bot.pk)
    return jobs


def _bot_turn_row(turn: Turn, bot: Bot, status: str, now: datetime, reason: str = "") -> BotTurn:
    over = status != BotTurn.Status.RUNNING
    values = {"status": status, "reason": reason, "started_at": now, "finished_at": now if over else None}
    try:
        with transaction.atomic():
            row, _ = BotTurn.objects.update_or_create(turn=turn, bot=bot, defaults=values)
            bot_turn_event(row, bot_name=bot.name, owner_id=bot.owner_id, now=now)
    except IntegrityError:  # another run of this turn wrote it at the same instant
        row = BotTurn.objects.get(turn=turn, bot=bot)
    row.bot = bot
    return row


def _bot_turn_save(row: BotTurn, fields: list[str], at: datetime) -> None:
    with transaction.atomic():
        row.save(update_fields=fields)
        bot_turn_event(row, bot_name=row.bot.name, owner_id=row.bot.owner_id, now=at)


def _bot_turn_end(row: BotTurn, outcome: Outcome, at: datetime) -> None:
    if outcome.skipped:
        row.status, row.reason = BotTurn.Status.SKIPPED, outcome.skipped
    elif outcome.error:
        row.status, row.reason = BotTurn.Status.FAILED, outcome.error[:5000]
    else:
        row.status, row.reason = BotTurn.Status.FINISHED, ""
    row.decision_id = outcome.decision_id
    row.finished_at = max(at, row.started_at)
    _bot_turn_save(row, ["status", "reason", "decision", "finished_at"], at)


def _stop_running(mine: dict[int, BotTurn], reason: str, at: datetime) -> None:
    for row in mine.values():
        if row.status == BotTurn.Status.RUNNING:
            row.status, row.reason, row.finished_at = BotTurn.Status.FAILED, reason, max(at, row.started_at)
            _bot_turn_save(row, ["status", "reason", "finished_at"], at)


def _unqueue(turn: Turn, at: datetime) -> None:
    """A bot queued in this forced turn that was not taken (deleted meanwhile) is skipped."""
    for row in BotTurn.objects.filter(turn=turn, status=BotTurn.Status.QUEUED).select_related("bot"):
        row.status, row.finished_at = BotTurn.Status.SKIPPED, max(at, row.started_at)
        row.reason = "the bot was no longer active when a worker took this forced turn"
        _bot_turn_save(row, ["status", "reason", "finished_at"], at)


def _turn_end(turn: Turn, at: datetime) -> None:
    """Settle the turn from its bots' rows, unless another run of it still has bots running
    (that run settles it; if it died, the next turn marks it abandoned)."""
    rows = list(BotTurn.objects.filter(turn=turn).values_list("status", "reason", "bot__name"))
    statuses = {status for status, _, _ in rows}
    if BotTurn.Status.RUNNING in statuses:
        return
    if not rows:
        status, error = Turn.Status.SKIPPED, "no bot was due: none is active and unpaused"
    elif statuses == {BotTurn.Status.SKIPPED}:
        status, error = Turn.Status.SKIPPED, _reasons(rows, BotTurn.Status.SKIPPED)
    elif BotTurn.Status.FINISHED in statuses:
        status, error = Turn.Status.FINISHED, _reasons(rows, BotTurn.Status.FAILED)
    else:
        status, error = Turn.Status.FAILED, _reasons(rows, BotTurn.Status.FAILED)
    with transaction.atomic():
        settled = Turn.objects.filter(pk=turn.pk, status=Turn.Status.RUNNING).update(
            status=status, finished_at=max(at, turn.started_at), heartbeat_at=at, error=error[:5000],
        )
        turn.refresh_from_db()
        if settled:  # only the run that settles it tells everyone
            turn_event(turn, now=at)


def _reasons(rows: list[tuple[str, str, str]], status: str) -> str:
    return "; ".join(f"{name}: {reason}" for s, reason, name in rows if s == status)


def _execute_one(job: Job, turn: Turn, call: ModelCall, now: datetime, lease: Lease) -> Outcome:
    """Record and execute one bot's answer. Its transaction is all or nothing, so an
    unexpected failure leaves nothing of it but a failed decision that keeps the reply;
    it is logged with its traceback, and the other bots' answers are still executed."""
    bot = job.bot
    try:
        outcome = decision_execute(bot=bot, turn=turn, call=call, now=now,
                                   holds=lambda: lease.holds_query(bot.pk).exists())
    except Exception as exc:
        log.exception("turn %s: executing bot %s failed", turn.pk, bot.pk)
        error = f"execution failed: {type(exc).__name__}: {exc}"
        outcome = Outcome(bot.pk, bot.name, error=error, parse_notes=list(call.notes))
        outcome.decision_id = decision_record_failure(bot=bot, turn=turn, call=call, now=now, error=error)
    return outcome


CALL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)


async def _call_all(jobs: list[Job], transport: httpx.AsyncBaseTransport,
                    lease: Lease) -> list[ModelCall]:
    renew = sync_to_async(lease.renew)  # on the caller's thread and database connection

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(lease.interval)
            await renew()

    renewer = asyncio.ensure_future(keep_alive())
    try:
        async with httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False) as client:
            return list(await asyncio.gather(*(converse(job, client) for job in jobs)))
    finally:
        renewer.cancel()
        # The renewer ends here, as asked; a failure inside it propagates from this await.
        with suppress(asyncio.CancelledError):
            await renewer
