"""What an earlier import already holds, so that a later run — perhaps from another
source, such as the JSON blob after the database — adds no duplicates.

Blob-only logs and value points have no id of their own: their keys are their
times. One imported earlier from a table row carries that row's key instead, so
it is recognised the way the import matches the two sources — same bot, same
decisions (or any snapshot) within a second.
"""
from __future__ import annotations

import json
from datetime import timedelta

from arena.legacy.mapping import same_decisions
from arena.legacy.records import LegacyDecision, LegacySnapshot
from bots.models import Bot, Decision
from ledger.models import Snapshot
from trading.models import Trade

SAME_MOMENT = timedelta(seconds=1)


def links(bot: Bot | None) -> dict[str, str]:
    """Trade legacy id → position legacy id, for this bot's imported, linked trades."""
    if bot is None:
        return {}
    rows = Trade.objects.filter(bot=bot, legacy_id__isnull=False, position__legacy_id__isnull=False)
    return dict(rows.values_list("legacy_id", "position__legacy_id"))


def decisions(bot: Bot, logs: list[LegacyDecision]) -> set[str]:
    """Keys of blob logs already imported (under their own key or a table row's)."""
    if not logs:
        return set()
    start = min(log.at for log in logs) - SAME_MOMENT
    end = max(log.at for log in logs) + SAME_MOMENT
    rows = list(Decision.objects.filter(bot=bot, legacy_id__isnull=False, created_at__range=(start, end))
                .values_list("legacy_id", "created_at", "raw_response"))
    keys = {row[0] for row in rows}
    found = set()
    for log in logs:
        if log.key in keys or any(abs(at - log.at) <= SAME_MOMENT and _decided(raw, log)
                                  for _, at, raw in rows):
            found.add(log.key)
    return found


def _decided(raw: str, log: LegacyDecision) -> bool:
    try:
        return same_decisions(json.loads(raw), log.decisions)
    except ValueError:  # a raw response that is not the legacy list: another decision
        return False


def points(bot: Bot, snapshots: list[LegacySnapshot]) -> set[str]:
    """Keys of value points already covered by an imported snapshot within a second."""
    if not snapshots:
        return set()
    start = min(s.at for s in snapshots) - SAME_MOMENT
    end = max(s.at for s in snapshots) + SAME_MOMENT
    times = sorted(Snapshot.objects.filter(bot=bot, legacy_id__isnull=False, taken_at__range=(start, end))
                   .values_list("taken_at", flat=True))
    return {s.key for s in snapshots if any(abs(at - s.at) <= SAME_MOMENT for at in times)}
