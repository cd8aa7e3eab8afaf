"""`manage.py run_turn [--bot PK]`: run a trading turn now and print what happened."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from arena.models import ArenaSettings
from arena.turns.run import turn_candidates, turn_market_check, turn_run
from bots.decisions import action_text, actions_of
from bots.models import Bot, Decision
from trading.services import market_refresh_and_trigger


class Command(BaseCommand):
    help = (
        "Run a trading turn now, regardless of the schedule: every active unpaused bot, or the "
        "ones named with --bot (even if paused). Prints, per bot, what the model decided, what "
        "executed and what was rejected and why."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bot", type=int, action="append", dest="bots", metavar="PK",
                            help="Only this bot (repeatable).")
        parser.add_argument("--no-refresh", action="store_true",
                            help="Use the stored market prices instead of refreshing them first; "
                                 "refuses to run when any price a bot needs is missing or stale.")

    def handle(self, *args, bots: list[int] | None, no_refresh: bool, **options) -> None:
        if bots:
            found = Bot.objects.filter(pk__in=bots, is_active=True).values_list("pk", flat=True)
            missing = set(bots) - set(found)
            if missing:
                raise CommandError(f"no active bot with id {', '.join(map(str, sorted(missing)))}")
        if no_refresh:
            unfresh = turn_market_check(bots=turn_candidates(bots), arena=ArenaSettings.load(),
                                        now=timezone.now(), refresh=False)
            if unfresh:
                detail = "; ".join(f"{symbol}: {why}" for symbol, why in sorted(unfresh.items()))
                raise CommandError(f"the stored market prices are not fresh ({detail}): run without "
                                   "--no-refresh to refresh them first")
        else:
            summary = market_refresh_and_trigger()
            stale = f", stale: {', '.join(summary['stale'])}" if summary["stale"] else ""
            self.stdout.write(f"market refreshed: {len(summary['prices'])} prices{stale}")
        # Now, regardless of the schedule.
        report = turn_run(bot_ids=bots, forced=True, refresh=not no_refresh)
        turn = report.turn
        self.stdout.write(f"turn {turn.pk} ({turn.status}), {len(report.outcomes)} bot(s)")
        if turn.status == turn.Status.SKIPPED and not report.outcomes:
            self.stdout.write(f"  skipped: {turn.error}")
        decisions = Decision.objects.in_bulk([o.decision_id for o in report.outcomes if o.decision_id])
        for outcome in report.outcomes:
            self.stdout.write("")
            self.stdout.write(self.style.MIGRATE_HEADING(f"{outcome.bot_name} (bot {outcome.bot_id})"))
            if outcome.skipped:
                self.stdout.write(f"  skipped: {outcome.skipped}")
                continue
            decision = decisions.get(outcome.decision_id)
            if decision is not None:
                usage = [f"model {decision.model}" if decision.model else "",
                         f"{decision.latency_ms} ms" if decision.latency_ms is not None else "",
                         f"{decision.tokens_in}/{decision.tokens_out} tokens" if decision.tokens_in else ""]
                self.stdout.write(f"  decision {decision.pk}: " + ", ".join(u for u in usage if u))
                for action in actions_of(decision.actions):
                    self.stdout.write("  decided:  " + action_text(action))
                    if action.get("reasoning"):
                        self.stdout.write(f"            “{action['reasoning'][:160]}”")
                if not decision.actions and not outcome.error:
                    self.stdout.write("  decided:  HOLD")
            if outcome.error:
                self.stdout.write(self.style.ERROR(f"  error:    {outcome.error}"))
            for line in outcome.parse_notes:
                self.stdout.write(self.style.WARNING(f"  reply:    {line}"))
            for line in outcome.executed:
                self.stdout.write(self.style.SUCCESS(f"  executed: {line}"))
            for line in outcome.rejected:
                self.stdout.write(self.style.WARNING(f"  rejected: {line}"))
            for line in outcome.notes:
                self.stdout.write(f"  note:     {line}")
