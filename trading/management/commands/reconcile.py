"""``manage.py reconcile [--bot PK]``: real bots against their exchange, now.

Runs one reconciliation per active real bot with a wallet (or the one named) and prints
what each did: positions closed or imported, orders cancelled, discrepancies flagged, the
two balances. Exits with status 1 when any run failed (its exchange could not be read)
or flagged something, so a cron job or an operator notices.
"""
from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading.models import Reconciliation
from trading.services.reconcile import reconcile_due


class Command(BaseCommand):
    help = "Reconcile real bots with their exchange now: import fills, close what it closed, flag the rest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bot", type=int, help="Only this bot (its id).")

    def handle(self, *args: Any, bot: int | None = None, **options: Any) -> None:
        runs = reconcile_due(trigger=Reconciliation.Trigger.COMMAND, bot_ids=None if bot is None else [bot])
        if bot is not None and not runs:
            raise CommandError(f"bot {bot} is not an active real bot with a wallet")
        if not runs:
            self.stdout.write("no active real bot with a wallet: nothing to reconcile")
            return
        bad = False
        for run in runs:
            s = run.summary
            self.stdout.write(
                f"bot {run.bot_id}: {run.status}"
                + (f" ({run.error})" if run.error else "")
                + f" · closed {len(s.get('closed', []))} · imported {len(s.get('imported', []))}"
                f" · cancelled {len(s.get('cancelled', []))} · flagged {len(s.get('flagged', []))}"
                f" · exchange {run.exchange_balance} USDT, journal {run.ledger_balance} USDT")
            for note in s.get("notes", []):
                self.stdout.write(f"  {note}")
            bad = bad or run.status != Reconciliation.Status.AGREED
        if bad:
            sys.exit(1)
