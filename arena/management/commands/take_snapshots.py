"""``manage.py take_snapshots``: write one portfolio snapshot for every active bot, now."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from trading.services.snapshots import snapshots_take


class Command(BaseCommand):
    help = "Write one portfolio snapshot for every active bot, now."

    def handle(self, *args: Any, **options: Any) -> None:
        snapshots = snapshots_take()
        self.stdout.write(f"{len(snapshots)} snapshots taken")
