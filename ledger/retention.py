"""Snapshot retention: every snapshot for 7 days, one an hour to 30 days, one a day
after that (the first of each hour or day is kept)."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from ledger.models import Snapshot

KEEP_ALL = timedelta(days=7)
KEEP_HOURLY = timedelta(days=30)
BATCH = 5000


def _bucket(taken_at: datetime, hourly: bool) -> tuple:
    day = (taken_at.year, taken_at.month, taken_at.day)
    return (*day, taken_at.hour) if hourly else day


def snapshots_prune(*, now: datetime) -> int:
    """Delete the snapshots the retention rule no longer keeps; returns how many.

    One ordered pass over the snapshots older than 7 days (few once pruned: at most
    24 a day per bot to 30 days, one a day beyond), deleting in batches.
    """
    older = Snapshot.objects.filter(taken_at__lt=now - KEEP_ALL).order_by("bot_id", "taken_at", "id")
    hourly_until = now - KEEP_HOURLY
    seen: set[tuple] = set()
    doomed: list[int] = []
    deleted = 0
    for pk, bot_id, taken_at in older.values_list("id", "bot_id", "taken_at").iterator(chunk_size=BATCH):
        key = (bot_id, *_bucket(taken_at, hourly=taken_at >= hourly_until))
        if key in seen:
            doomed.append(pk)
        else:
            seen.add(key)
        if len(doomed) >= BATCH:
            deleted += _delete(doomed)
    return deleted + _delete(doomed)


def _delete(ids: list[int]) -> int:
    if not ids:
        return 0
    with transaction.atomic():
        count, _ = Snapshot.objects.filter(pk__in=ids).delete()
    ids.clear()
    return count
