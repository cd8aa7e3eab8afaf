"""``manage.py migrate_arena_state PATH [--owner USERNAME] [--dry-run] [--verify]``.

Imports the legacy arena from its ``arena.db`` or from a JSON file holding its
``arena_state`` blob, in one transaction, then prints what it did and the proof
table (legacy vs imported, per bot). Exits non-zero with one paragraph naming the
file and the record on bad input (nothing is written), and non-zero when the proof
finds a difference it cannot explain. Running it again imports only what is new.
"""
from __future__ import annotations

import time
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from arena.legacy.errors import LegacyError
from arena.legacy.importer import Options, migrate
from arena.legacy.mapping import DEFAULT_AVATAR_LIMIT


def _bytes(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ArgumentTypeError(f"expected a number of bytes, got {text!r}")
    return int(text)


class ProgressBar:
    """A one-line bar on a terminal, redrawn at most ten times a second."""

    WIDTH = 30

    def __init__(self, out: OutputWrapper) -> None:
        self.out = out
        self.drawn = 0.0

    def __call__(self, done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if now - self.drawn < 0.1 and done < total:
            return
        self.drawn = now
        share = done / total if total else 1.0
        filled = int(share * self.WIDTH)
        self.out.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%} {label[:40]:<40}",
                       ending="")
        self.out.flush()

    def finish(self) -> None:
        if self.drawn:
            self.out.write("")


class Command(BaseCommand):
    help = ("Import the legacy arena from its arena.db (or a JSON file holding the arena_state "
            "blob): users, providers, bots, wallets, settings and every trade, position, decision, "
            "snapshot and balance. All or nothing; safe to run again.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="The legacy arena.db, or a JSON file with the arena_state blob.")
        parser.add_argument("--owner", metavar="USERNAME",
                            help="Give bots (and providers, wallets) whose legacy owner is unknown to "
                                 "this user.")
        parser.add_argument("--dry-run", action="store_true",
                            help="Do everything but commit, and print the report.")
        parser.add_argument("--verify", action="store_true",
                            help="Import nothing: only compare the legacy file with what is imported.")
        parser.add_argument("--avatar-limit", type=_bytes, default=DEFAULT_AVATAR_LIMIT, metavar="BYTES",
                            help=f"Largest avatar image to import (default {DEFAULT_AVATAR_LIMIT:,} bytes).")

    def handle(self, *args: Any, path: str, owner: str | None, dry_run: bool, verify: bool,
               avatar_limit: int, **options: Any) -> None:
        bar = ProgressBar(self.stdout) if self.stdout.isatty() and options["verbosity"] > 0 else None
        try:
            report = migrate(Options(path=path, owner=owner, dry_run=dry_run, verify_only=verify,
                                     avatar_limit=avatar_limit, progress=bar))
        except LegacyError as exc:
            if bar:
                bar.finish()
            raise CommandError(str(exc)) from None
        if bar:
            bar.finish()
        self.stdout.write(report.render_proof() if verify else report.render())
        if not report.proof_ok:
            done = "nothing was imported (--verify)" if verify else (
                "nothing was committed (--dry-run)" if dry_run else "the import was committed")
            raise CommandError(
                f"the proof found differences it cannot explain; {done}. See the DIFF rows above.")
