"""`manage.py simulate --days N` (or ``--hours H``): run the arena forward through simulated time, fast.

A simulated clock steps from ``--start`` to ``--start`` + N days (``arena.simulate``
says which event falls on which instant). At each instant the market is refreshed from
the simulated feed driven by that clock (which also fires stops, take-profits and
liquidations), then funding is applied when due, a turn runs and snapshots are taken,
each service called with the simulated ``now``. Nothing sleeps and nothing reads the
wall clock for a simulated event: the wall clock only gives the default start (N days
ago, so the history ends at the present) and the check that the span is in the past.

Only paper bots with the scripted provider are simulated: a simulation never calls an
LLM vendor (a bot with a network provider is refused) and never trades real money (a
real-mode bot is skipped and named).

Why the overlap guard: a simulated history is written in time order. If a bot already
has snapshots, turns, decisions or trades at or after ``--start``, the new rows would
interleave with them (a cash history that jumps back and forth, a position closed before
it was opened, statistics counting both); and since every refresh fires the triggers of
every open paper position, a position opened after ``--start`` would be closed at an
earlier simulated time. ``--force`` runs anyway, for a throwaway database.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max
from django.utils import timezone

from arena import simulate
from arena.models import ArenaSettings, BotTurn, Turn
from arena.simulate import Clock, Plan, PlanError
from arena.turns.run import turn_candidates, turn_run
from bots.models import Bot, Decision, LLMProvider
from ledger.aggregates import MoneySum
from ledger.models import Account, Snapshot
from ledger.values import ZERO, total_value
from trading.feeds.simulated import SimulatedFeed
from trading.models import PAPER_ENGINE, CloseReason, Position, Trade
from trading.services import funding_due_apply
from trading.services.market import market_refresh_and_trigger
from trading.services.snapshots import snapshots_take

DEFAULT_REFRESH_SECONDS = 60  # the feed's price range between refreshes still catches every trigger


@dataclass
class Tally:
    turns: int = 0
    decisions: int = 0
    failed: int = 0
    snapshots: int = 0
    funding: int = 0
    feed_errors: set[str] = field(default_factory=set)


@contextmanager
def simulated_market(seed: str, speed: Decimal) -> Iterator[None]:
    """Point the configured feed at the simulation's market for the run.

    A turn reads its candles from ``get_feed()`` (``turn_run`` does not hand its ``feed``
    to the turn's candle cache), so without this the bots' indicators would come from
    another seed, or from an exchange over the network.
    """
    wanted = {"ARENA_MARKET_FEED": "simulated", "ARENA_SIM_SEED": seed, "ARENA_SIM_SPEED": speed}
    saved = {name: getattr(settings, name) for name in wanted}
    for name, value in wanted.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)


class Command(BaseCommand):
    help = (
        "Run the arena forward through N simulated days as fast as the machine allows: market "
        "refreshes from the simulated feed (stops and liquidations included), funding, turns and "
        "snapshots, all at simulated times. Only paper bots with a scripted provider; refuses to "
        "write into a span where the bots already have history unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        length = parser.add_mutually_exclusive_group(required=True)
        length.add_argument("--days", type=float, help="Simulated days (fractions allowed).")
        length.add_argument("--hours", type=float, help="Simulated hours, instead of --days.")
        parser.add_argument("--start", help="ISO 8601 start (UTC unless it has an offset); default: "
                                            "now minus the span, so the history ends at the present.")
        parser.add_argument("--turn-minutes", type=float,
                            help="Minutes between turns (default: the arena's turn interval).")
        parser.add_argument("--refresh-seconds", type=float, default=DEFAULT_REFRESH_SECONDS,
                            help=f"Seconds between market refreshes (default {DEFAULT_REFRESH_SECONDS}).")
        parser.add_argument("--snapshot-minutes", type=float,
                            help="Minutes between snapshots (default: the arena's snapshot interval).")
        parser.add_argument("--bots", help="Only these bot ids, e.g. 3,5 (named bots run even if paused).")
        parser.add_argument("--seed", help="The simulated market's seed (default ARENA_SIM_SEED, so the "
                                           "history's prices join the live simulated market's).")
        parser.add_argument("--force", action="store_true",
                            help="Simulate even where the bots already have history after --start.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()  # only for the default start and the check that the span is past
        arena = ArenaSettings.load()
        turn_minutes = options["turn_minutes"]
        if turn_minutes is None:
            turn_minutes = arena.turn_interval_seconds / 60
        snapshot_minutes = options["snapshot_minutes"]
        if snapshot_minutes is None:
            snapshot_minutes = arena.snapshot_interval_seconds / 60
        try:
            plan = simulate.plan_build(
                now=now, span=simulate.span_of(days=options["days"], hours=options["hours"]),
                start=simulate.parse_instant(options["start"]) if options["start"] else None,
                refresh_seconds=options["refresh_seconds"], turn_seconds=turn_minutes * 60,
                snapshot_seconds=snapshot_minutes * 60,
            )
            named = simulate.parse_ids(options["bots"]) if options["bots"] else None
        except PlanError as exc:
            raise CommandError(str(exc)) from None
        bots = self._bots(named)
        if not options["force"]:
            self._refuse_overlap(plan, bots)
        ids = [bot.pk for bot in bots]
        # Scheduled turns (one per slot, as beat runs them) when they would take exactly these
        # bots and find their slots free; otherwise forced turns naming the bots.
        first, last = simulate.turn_slots(plan, arena.turn_interval_seconds)
        scheduled = (named is None and [b.pk for b in turn_candidates(None)] == ids
                     and simulate.turns_keep_slots(plan.turn, arena.turn_interval_seconds)
                     and not Turn.objects.filter(slot__gte=first, slot__lte=last).exists())
        seed = str(options["seed"] or settings.ARENA_SIM_SEED)
        self._warn_about_the_join(seed)
        marks = {model: model.objects.aggregate(top=Max("pk"))["top"] or 0 for model in (Trade, Position)}
        self.stdout.write(f"simulating {len(bots)} bot(s) from {plan.start:%Y-%m-%d %H:%M:%S} to "
                          f"{plan.end:%Y-%m-%d %H:%M:%S} UTC, seed {seed!r}, "
                          f"{'scheduled' if scheduled else 'forced'} turns every {plan.turn}")
        speed = Decimal(settings.ARENA_SIM_SPEED)
        with simulated_market(seed, speed):
            tally = self._run(plan, ids, scheduled, seed, speed, marks)
        self._summary(plan, ids, tally, marks)

    def _bots(self, named: list[int] | None) -> list[Bot]:
        """The bots to simulate: scripted paper bots. Real-mode ones are skipped (and named);
        any with a network provider makes the whole run refuse."""
        if named is None:
            bots = turn_candidates(None)
        else:
            bots = turn_candidates(named)
            missing = sorted(set(named) - {bot.pk for bot in bots})
            if missing:
                raise CommandError(f"no active bot with id {', '.join(map(str, missing))}")
        for bot in bots:
            if bot.mode == Bot.Mode.REAL:
                self.stdout.write(f"skipping {bot.name} (bot {bot.pk}): real-money bots are never simulated")
        paper = [bot for bot in bots if bot.mode == Bot.Mode.PAPER]
        network = [bot for bot in paper if bot.provider.kind != LLMProvider.Kind.SCRIPTED]
        if network:
            names = ", ".join(f"{b.name} (bot {b.pk}, {b.provider.kind} provider {b.provider.name!r})"
                              for b in network)
            raise CommandError(f"only bots with a scripted provider can be simulated (a simulation never "
                               f"calls an LLM vendor): {names}; pause them or name the others with --bots")
        if not paper:
            raise CommandError("no paper bot with a scripted provider to simulate (manage.py seed_demo "
                               "makes four)")
        return paper

    def _refuse_overlap(self, plan: Plan, bots: list[Bot]) -> None:
        ids = [bot.pk for bot in bots]
        found = {
            "snapshots": Snapshot.objects.filter(bot_id__in=ids, taken_at__gte=plan.start),
            "bot turns": BotTurn.objects.filter(bot_id__in=ids, started_at__gte=plan.start),
            "decisions": Decision.objects.filter(bot_id__in=ids, created_at__gte=plan.start),
            "trades": Trade.objects.filter(bot_id__in=ids, executed_at__gte=plan.start),
            # Any bot's: every refresh fires the triggers of every open paper position.
            "open positions opened since": Position.objects.filter(
                PAPER_ENGINE, status=Position.Status.OPEN, opened_at__gte=plan.start),
        }
        counts = {what: rows.count() for what, rows in found.items()}
        if any(counts.values()):
            detail = ", ".join(f"{count} {what}" for what, count in counts.items() if count)
            raise CommandError(
                f"there is already history at or after --start {plan.start:%Y-%m-%d %H:%M:%S} UTC "
                f"({detail}): a simulation there would interleave with it. Start after it, or pass "
                "--force (for a throwaway database)")

    def _warn_about_the_join(self, seed: str) -> None:
        if settings.ARENA_MARKET_FEED != "simulated" or seed != str(settings.ARENA_SIM_SEED):
            self.stdout.write(self.style.WARNING(
                f"note: the live market is {settings.ARENA_MARKET_FEED!r} with seed "
                f"{settings.ARENA_SIM_SEED!r}: this history's prices will not join the live ones at its end"))

    def _run(self, plan: Plan, ids: list[int], scheduled: bool, seed: str, speed: Decimal,
             marks: dict[type, int]) -> Tally:
        clock = Clock(plan.start)
        feed = SimulatedFeed(seed=seed, speed=speed, clock=clock)
        tally = Tally()
        for step in simulate.steps(plan):
            clock.now = step.at
            refreshed = market_refresh_and_trigger(feed=feed, now=step.at)
            if refreshed["error"]:
                tally.feed_errors.add(refreshed["error"])
            if step.funding:
                tally.funding += len(funding_due_apply(now=step.at))
            if step.turn:
                report = turn_run(bot_ids=None if scheduled else ids, now=step.at, feed=feed, refresh=True)
                tally.turns += bool(report.outcomes)
                tally.decisions += sum(1 for o in report.outcomes if o.decision_id)
                tally.failed += sum(1 for o in report.outcomes if o.error)
            if step.snapshot:
                tally.snapshots += len(snapshots_take(now=step.at, bot_ids=ids))
            if step.hour:
                trades = Trade.objects.filter(bot_id__in=ids, pk__gt=marks[Trade]).count()
                self.stdout.write(f"{step.at:%Y-%m-%d %H:%M} UTC  {tally.turns} turns, {tally.decisions} "
                                  f"decisions, {trades} trades, {tally.snapshots} snapshots")
        return tally

    def _summary(self, plan: Plan, ids: list[int], tally: Tally, marks: dict[type, int]) -> None:
        # This run's rows: ids above the ones there were before it (one close trade per close).
        trades = Trade.objects.filter(bot_id__in=ids, pk__gt=marks[Trade])
        closes = trades.filter(kind=Trade.Kind.CLOSE)
        triggered = closes.exclude(reason=CloseReason.DECISION).count()
        opened = Position.objects.filter(bot_id__in=ids, pk__gt=marks[Position]).count()
        write = self.stdout.write
        write(self.style.SUCCESS(f"simulated {plan.start:%Y-%m-%d %H:%M:%S} to {plan.end:%Y-%m-%d %H:%M:%S} "
                                 f"UTC ({plan.span})"))
        write(f"  turns: {tally.turns}; decisions: {tally.decisions} ({tally.failed} failed)")
        write(f"  trades: {trades.count()}; positions opened: {opened}, closed: {closes.count()} "
              f"({triggered} by stop-loss, take-profit or liquidation); "
              f"funding payments: {tally.funding}")
        write(f"  snapshots: {tally.snapshots}")
        for error in sorted(tally.feed_errors):
            write(self.style.WARNING(f"  feed: {error}"))
        for bot_id, name, value in final_values(ids):
            write(f"  {name} (bot {bot_id}): {value:.2f} USDT")


def final_values(ids: list[int]) -> list[tuple[int, str, Decimal]]:
    """Each bot's total value now: cash, plus margin and unrealized PnL of its open positions."""
    held = {
        row["bot_id"]: row
        for row in Position.objects.filter(bot_id__in=ids, status=Position.Status.OPEN).values("bot_id")
        .annotate(margin=MoneySum("margin"), unrealized=MoneySum("unrealized_pnl"))
    }
    rows = Account.objects.filter(bot_id__in=ids).order_by("bot_id").values_list(
        "bot_id", "bot__name", "balance")
    return [
        (bot_id, name, total_value(balance=balance, margin=held.get(bot_id, {}).get("margin") or ZERO,
                                   unrealized=held.get(bot_id, {}).get("unrealized") or ZERO))
        for bot_id, name, balance in rows
    ]
