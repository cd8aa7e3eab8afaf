"""The legacy import as one transaction: all or nothing, safe to run again.

Order: arena settings, users, providers; then the blob's bots one at a time as they
stream past (each merged with its bots-table row and its table history), then the
bots only the tables know, then wallets. A ``--dry-run`` does all of it and rolls
back; ``--verify`` writes nothing and only compares. Any ``LegacyError`` (bad input)
or refused write rolls everything back, avatar files included.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import DatabaseError, transaction
from django.utils import timezone

from arena.legacy import botdata, config, known, normalize, proof
from arena.legacy.errors import LegacyError
from arena.legacy.history import blob_where
from arena.legacy.mapping import DEFAULT_AVATAR_LIMIT
from arena.legacy.money import account_align
from arena.legacy.reader import LegacySource
from arena.legacy.records import LegacyBot
from arena.legacy.report import Report
from arena.legacy.values import Where
from arena.legacy.writer import BotWriter
from arena.models import ArenaSettings, User
from arena.rollups import rollups_rebuild
from bots.models import Bot, Decision
from ledger.models import Snapshot
from trading.models import Position, Trade

Progress = Callable[[int, int, str], None]


@dataclass
class Options:
    path: str | Path
    owner: str | None = None
    dry_run: bool = False
    verify_only: bool = False
    avatar_limit: int = DEFAULT_AVATAR_LIMIT
    progress: Progress | None = None
    now: datetime | None = None


def migrate(options: Options) -> Report:
    """Import (or with ``verify_only`` just compare) a legacy file; returns the report."""
    owner = _owner(options.owner)
    with LegacySource(options.path) as source:
        report = Report(file=source.name, dry_run=options.dry_run)
        ctx = config.Context(source=source, report=report, owner=owner, now=options.now or timezone.now(),
                             avatar_limit=options.avatar_limit)
        if options.verify_only:
            _each_bot(ctx, options.progress, _verify_bot)
            return report
        try:
            with transaction.atomic():
                _import(ctx, options.progress)
                if options.dry_run:
                    transaction.set_rollback(True)
        except DatabaseError as exc:
            ctx.files.discard()
            raise LegacyError(source.name, ctx.current, f"could not be written ({exc})") from None
        except BaseException:
            ctx.files.discard()
            raise
        if options.dry_run:
            ctx.files.discard()
        return report


def _owner(username: str | None) -> User | None:
    if username is None:
        return None
    found = User.objects.filter(username=username).first()
    if found is None:
        raise LegacyError("--owner", f"user {username!r}", "there is no such user in this arena")
    return found


def _import(ctx: config.Context, progress: Progress | None) -> None:
    config.settings_import(ctx)
    config.users_import(ctx)
    config.providers_import(ctx)
    _each_bot(ctx, progress, _import_bot)
    config.wallets_import(ctx)


BotStep = Callable[[config.Context, LegacyBot, Any, Where | None], None]


def _each_bot(ctx: config.Context, progress: Progress | None, step: BotStep) -> None:
    """Every legacy bot once: the blob's (streamed) first, then those only the tables know."""
    source = ctx.source
    tables = {}
    for row in source.bot_rows():
        legacy = normalize.bot_from_row(row, Where(source.name, "table bots"))
        tables[legacy.id] = legacy
    seen: set[str] = set()
    for index, raw in source.blob_bots():
        where = Where(source.name, f"arena_state blob, bots[{index}]")
        raw = where.mapping(raw, "a bot")
        where = blob_where(source.name, index, str(raw.get("id")))
        legacy = _merged(tables.pop(str(raw.get("id")), None), normalize.blob_bot_config(raw, where))
        if legacy.id in seen:
            raise where.error("the blob lists this bot twice")
        seen.add(legacy.id)
        step(ctx, legacy, raw, where)
        del raw  # the largest object of the import: let it go before the next bot
        if progress:
            done, total = source.blob_progress()
            progress(done, total, legacy.id)
    if source.kind == "json" and not seen:
        raise LegacyError(source.name, "", 'holds no bots: expected the arena_state blob, '
                                           '{"bots": [...], "marketData": [...]}')
    for legacy in tables.values():
        step(ctx, legacy, None, None)
        seen.add(legacy.id)
    for bot_id, rows in source.history_bot_ids().items():
        if bot_id not in seen:
            ctx.report.add("history notes", f"{rows} history rows of bot {bot_id!r} were not imported: "
                                            "neither the bots table nor the blob knows that bot")


def _merged(table: LegacyBot | None, blob: LegacyBot) -> LegacyBot:
    """The bots table is the configuration (the legacy re-read it over the blob's copy);
    the blob adds what only it has."""
    if table is None:
        return blob
    table.user_id = table.user_id or blob.user_id
    table.provider_id = table.provider_id or blob.provider_id
    table.provider_type, table.provider_name = blob.provider_type, blob.provider_name
    table.avatar = blob.avatar  # read after the table's own avatar_image (see config._avatar)
    table.history_summary = table.history_summary or blob.history_summary
    table.initial_balance = blob.initial_balance
    return table


def _initial_balance(legacy: LegacyBot) -> Decimal:
    if legacy.initial_balance is not None:
        return legacy.initial_balance
    arena = ArenaSettings.load()
    return arena.live_initial_balance if legacy.mode == Bot.Mode.REAL else arena.paper_initial_balance


def _import_bot(ctx: config.Context, legacy: LegacyBot, raw: Any, where: Where | None) -> None:
    bot = Bot.objects.filter(legacy_id=legacy.id).first()
    if bot is not None:
        _refuse_diverged(ctx, bot, legacy)
    initial = bot.initial_balance if bot is not None else _initial_balance(legacy)
    data = botdata.load(ctx.source, legacy, raw, where, initial, known.links(bot))
    if bot is None:
        bot = config.bot_create(ctx, legacy, initial)
    ctx.bots[legacy.id] = bot
    written = BotWriter(ctx, bot, data).run()
    account_align(ctx, bot, data, written)
    rollups_rebuild(bot_ids=[bot.pk])  # the history was written around the writers' rollup hooks
    for what, number in written.counts.items():
        ctx.report.count(what, number)
    ctx.report.add("bots", _summary(bot, data))
    if data.state is not None and data.state.duplicates:
        ctx.report.add("history notes", f"{legacy.id}: {data.state.duplicates} orders listed twice in the "
                                        "blob with the same content; imported once")
    ctx.report.proofs.append(proof.bot_proof(bot, data, decisions_present=written.decisions_present,
                                             snapshots_present=written.snapshots_present))


def _refuse_diverged(ctx: config.Context, bot: Bot, legacy: LegacyBot) -> None:
    native = Trade.objects.filter(bot=bot, legacy_id__isnull=True).count()
    native += Position.objects.filter(bot=bot, legacy_id__isnull=True).count()
    if native:
        raise LegacyError(
            ctx.source.name, f"bot {legacy.id!r}",
            f"has traded in this arena since it was imported ({native} positions and trades of its own); "
            "importing more legacy history would overwrite its balance, so the import stops here")


def _verify_bot(ctx: config.Context, legacy: LegacyBot, raw: Any, where: Where | None) -> None:
    bot = Bot.objects.filter(legacy_id=legacy.id).first()
    initial = bot.initial_balance if bot is not None else _initial_balance(legacy)
    data = botdata.load(ctx.source, legacy, raw, where, initial, known.links(bot))
    decisions = snapshots = 0
    for batch, blob_only in data.decision_batches():
        if bot is not None:
            found = set(Decision.objects.filter(bot=bot, legacy_id__in=[d.key for d in batch])
                        .values_list("legacy_id", flat=True))
            decisions += len(found | (known.decisions(bot, batch) if blob_only else set()))
    for batch, points in data.snapshot_batches():
        if bot is not None:
            found = set(Snapshot.objects.filter(bot=bot, legacy_id__in=[s.key for s in batch])
                        .values_list("legacy_id", flat=True))
            snapshots += len(found | (known.points(bot, batch) if points else set()))
    ctx.report.proofs.append(proof.bot_proof(bot, data, decisions_present=decisions,
                                             snapshots_present=snapshots))


def _summary(bot: Bot, data: botdata.BotData) -> str:
    trades, figures = data.trades, data.figures
    both = len(trades.trades) - len(trades.only_in_tables) - len(trades.only_in_blob)
    opened = len(figures.open_positions)
    state = "inactive (soft-deleted)" if not bot.is_active else ("paused" if bot.is_paused else "active")
    return (f"{data.config.id} {bot.name!r} of {bot.owner.username}, {bot.mode}, {state}: "
            f"{len(trades.trades)} trades ({len(trades.only_in_tables)} only in the tables, "
            f"{len(trades.only_in_blob)} only in the blob, {both} in both), "
            f"{len(trades.positions)} positions ({opened} open), {figures.decisions} decisions "
            f"({data.matched_logs} blob logs matched table rows), {figures.snapshots} snapshots "
            f"({data.covered_points} value points already covered by table rows)")
