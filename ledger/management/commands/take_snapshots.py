from __future__ import annotations

from django.core.management.base import BaseCommand

from ledger.snapshots import snapshots_take


class Command(BaseCommand):
    help = "Write one portfolio snapshot for every active bot, now."

    def handle(self, *args, **options) -> None:
        snapshots = snapshots_take()
        self.stdout.write(f"{len(snapshots)} snapshots taken")
