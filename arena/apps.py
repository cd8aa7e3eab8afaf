from __future__ import annotations

from django.apps import AppConfig


class ArenaConfig(AppConfig):
    name = "arena"
    verbose_name = "Arena"

    def ready(self) -> None:
        # Settings the lower layers need are handed down from here, never fetched upward.
        from arena.sources import sources_register_all

        sources_register_all()
