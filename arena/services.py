"""Writes about the arena as a whole."""
from __future__ import annotations

from arena.models import ArenaSettings
from arena.schedule import schedule_sync


def arena_settings_save(*, arena: ArenaSettings) -> ArenaSettings:
    """Validate and save the settings row, then move the periodic tasks to its
    intervals: the beat process picks the change up without a restart."""
    arena.full_clean()
    arena.save()
    schedule_sync(arena)
    return arena
