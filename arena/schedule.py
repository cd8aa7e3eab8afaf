"""The periodic work, kept in django-celery-beat's tables.

``schedule_sync`` writes one PeriodicTask per job with the intervals from
ArenaSettings. The beat process (DatabaseScheduler) notices changed rows by
itself, so a new interval applies without restarting anything. It runs when
beat starts and whenever the arena settings are saved.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from arena.models import ArenaSettings

FUNDING_CHECK_SECONDS = 60
RETENTION_SECONDS = 3600
SUMMARY_CHECK_SECONDS = 600
RECONCILE_SECONDS = 60  # real bots against their exchange


def _jobs(arena: ArenaSettings) -> dict[str, tuple[str, int]]:
    """name → (task, every seconds)."""
    return {
        "arena: refresh market and triggers": ("arena.tasks.refresh_market", arena.refresh_interval_seconds),
        "arena: trading turn": ("arena.tasks.run_turn", arena.turn_interval_seconds),
        "arena: snapshots": ("arena.tasks.take_snapshots", arena.snapshot_interval_seconds),
        "arena: funding": ("arena.tasks.apply_funding", FUNDING_CHECK_SECONDS),
        "arena: snapshot retention": ("arena.tasks.prune_snapshots", RETENTION_SECONDS),
        "arena: event retention": ("arena.tasks.prune_events", RETENTION_SECONDS),
        "arena: learning summaries": ("arena.tasks.summarize", SUMMARY_CHECK_SECONDS),
        "arena: reconcile real bots": ("arena.tasks.reconcile_real", RECONCILE_SECONDS),
    }


def schedule_sync(arena: ArenaSettings | None = None) -> list[PeriodicTask]:
    """Create or update the arena's periodic tasks to match the settings."""
    arena = arena or ArenaSettings.load()
    tasks = []
    with transaction.atomic():
        for name, (task, seconds) in _jobs(arena).items():
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=seconds, period=IntervalSchedule.SECONDS
            )
            periodic = PeriodicTask.objects.filter(name=name).first() or PeriodicTask(name=name)
            expire = max(seconds, 5)
            current = (periodic.task, periodic.interval_id, periodic.enabled, periodic.expire_seconds)
            if periodic.pk is None or current != (task, interval.pk, True, expire):
                if periodic.pk is None:
                    # Due at once: a fresh arena trades from its first minute, not its fifth.
                    periodic.last_run_at = timezone.now() - timedelta(seconds=seconds)
                periodic.task = task
                periodic.interval = interval
                periodic.enabled = True
                # A turn that could not start within its own interval is pointless: drop it.
                periodic.expire_seconds = expire
                periodic.save()  # save(), not update(): its signal tells beat to reload
            tasks.append(periodic)
    return tasks
