"""Celery tasks: each takes ids or nothing and calls one service.

Delivery is at-least-once (acks_late): every task is safe to run twice —
turns by slot and per-bot claims, funding by its unique key, snapshots and
refreshes because a second run only repeats a harmless write, summaries
because each is written only if no other was written for the bot meanwhile.
"""
from __future__ import annotations

from celery import shared_task
from celery.signals import beat_init
from django.utils import timezone

from arena.schedule import schedule_sync
from arena.turns.run import turn_run
from bots.models import Bot
from bots.summaries import SummaryError, summary_create, summary_due_bots
from ledger.events import events_prune
from ledger.retention import snapshots_prune
from trading.services.funding import funding_due_apply
from trading.services.market import market_refresh_and_trigger
from trading.services.reconcile import reconcile_due
from trading.services.snapshots import snapshots_take


@beat_init.connect
def _sync_schedule_on_beat_start(**_: object) -> None:
    schedule_sync()


@shared_task(name="arena.tasks.refresh_market", soft_time_limit=50, time_limit=60)
def refresh_market() -> dict:
    summary = market_refresh_and_trigger()
    return {"symbols": len(summary["symbols"]), "closes": len(summary["closes"]), "stale": summary["stale"]}


@shared_task(name="arena.tasks.run_turn", soft_time_limit=1500, time_limit=1800)
def run_turn(bot_ids: list[int] | None = None, forced: bool = False, turn_id: int | None = None) -> dict:
    report = turn_run(bot_ids=bot_ids, forced=forced, turn_id=turn_id)
    return {"turn": report.turn.pk, "bots": len(report.outcomes)}


@shared_task(name="arena.tasks.take_snapshots", soft_time_limit=240, time_limit=300)
def take_snapshots() -> int:
    return len(snapshots_take())


@shared_task(name="arena.tasks.apply_funding", soft_time_limit=240, time_limit=300)
def apply_funding() -> int:
    return len(funding_due_apply(now=timezone.now()))


@shared_task(name="arena.tasks.prune_snapshots", soft_time_limit=1500, time_limit=1800)
def prune_snapshots() -> int:
    return snapshots_prune(now=timezone.now())


@shared_task(name="arena.tasks.prune_events", soft_time_limit=540, time_limit=600)
def prune_events() -> int:
    """Drop outbox events past their retention; a socket further behind is told to resync."""
    return events_prune(now=timezone.now())


@shared_task(name="arena.tasks.summarize", soft_time_limit=540, time_limit=600)
def summarize_due() -> dict:
    """Summarise every bot whose summary is due. A bot's failure (logged by the
    service) is reported here and the others go on; the next run tries it again."""
    created: list[int] = []
    failed: dict[str, str] = {}
    for bot_id in summary_due_bots():
        try:
            summary = summary_create(bot=Bot.objects.select_related("provider").get(pk=bot_id))
        except SummaryError as exc:
            failed[str(bot_id)] = str(exc)
            continue
        if summary is not None:
            created.append(summary.pk)
    return {"created": created, "failed": failed}


@shared_task(name="arena.tasks.reconcile_real", soft_time_limit=50, time_limit=60)
def reconcile_real() -> dict:
    """Every active real bot against its exchange (a run that cannot read it is "failed",
    changes nothing, and the next minute tries again; two runs at once write nothing twice)."""
    runs = reconcile_due(now=timezone.now())
    return {str(run.bot_id): run.status for run in runs}
