"""``manage.py audit_ledger [--bot PK] [--limit N]``: prove the ledger is consistent.

Prints one line per violation, then "N violations" and exits with status 1; or
prints "ledger clean: …" and exits 0. The checks live in ``arena.audit`` (cross-table)
and ``ledger.audit`` (the journal alone).
"""
from __future__ import annotations

import sys
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.audit import CHECKS, consistent_snapshot, record_counts
from bots.models import Bot


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


class Command(BaseCommand):
    help = "Check that balances, journal entries, positions, trades and snapshots agree."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bot", type=int, metavar="PK", help="Audit only this bot.")
        parser.add_argument(
            "--limit", type=_positive_int, metavar="N",
            help="Print at most N violations per check (all are still counted).",
        )

    def handle(self, *args: Any, bot: int | None = None, limit: int | None = None, **options: Any) -> None:
        if bot is not None and not Bot.objects.filter(pk=bot).exists():
            raise CommandError(f"There is no bot with id {bot}.")
        with consistent_snapshot():
            total = sum(self._run(name, bot, limit) for name in CHECKS)
            counts = record_counts(bot_id=bot)
        if total:
            self.stdout.write(self.style.ERROR(f"{total} violation{'s' if total != 1 else ''}"))
            # Exit status 1 is the contract for scripts; call_command sees SystemExit(1).
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(
            f"ledger clean: {counts['accounts']} accounts, {counts['entries']} entries, "
            f"{counts['positions']} positions, {counts['trades']} trades checked"
        ))

    def _run(self, name: str, bot: int | None, limit: int | None) -> int:
        """Print ``name``'s violations (up to ``limit``) and return how many there were."""
        found = 0
        for violation in CHECKS[name](bot_id=bot):
            found += 1
            if limit is None or found <= limit:
                self.stdout.write(f"{name}: {violation}")
        if limit is not None and found > limit:
            self.stdout.write(f"{name}: … and {found - limit} more")
        return found
