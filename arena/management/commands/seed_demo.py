"""`manage.py seed_demo`: demo users and scripted bots, so a fresh arena trades offline."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from arena.schedule import schedule_sync
from bots.models import Bot, LLMProvider
from bots.services import bot_create, provider_create

PROMPT = (
    "You are {name}, a crypto perpetual-futures trader. Portfolio value {{{{totalValue}}}} USDT, "
    "available {{{{availableBalance}}}} USDT, unrealized PnL {{{{unrealizedPnl}}}}.\n"
    "Open positions:\n{{{{openPositions}}}}\nMarkets:\n{{{{marketData}}}}\n"
    "Date: {{{{currentDate}}}}. Style: {style}"
)
DEMO = {
    "demo_alice": [
        ("Momentum Mike", "momentum", "ride the strongest 24h movers, cut losers fast."),
        ("Reversion Rita", "mean_reversion", "fade stretched moves back to the mean."),
    ],
    "demo_bob": [
        ("Breakout Bella", "breakout", "trade range breakouts with tight stops."),
        ("Random Randy", "random_walk", "a seeded coin flip: the benchmark every model must beat."),
    ],
}


class Command(BaseCommand):
    help = "Create demo users, each with a scripted provider and bots that trade actively. Idempotent."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        User = get_user_model()
        created = 0
        for username, bots in DEMO.items():
            # The display name is what the leaderboard and public pages show of an owner.
            user, new = User.objects.get_or_create(
                username=username, defaults={"email": f"{username}@example.com",
                                             "display_name": f"Demo {username.removeprefix('demo_').title()}"}
            )
            if new:  # demo owners are not for logging in; the admin is
                user.set_unusable_password()
                user.save(update_fields=["password"])
            for name, strategy, style in bots:
                provider = LLMProvider.objects.filter(owner=user, name=f"Scripted {strategy}").first()
                if provider is None:
                    provider = provider_create(owner=user, name=f"Scripted {strategy}", kind="scripted",
                                               model=strategy)
                if Bot.objects.filter(owner=user, name=name, is_active=True).exists():
                    continue
                bot_create(owner=user, name=name, provider=provider,
                           prompt=PROMPT.format(name=name, style=style))
                created += 1
        schedule_sync()
        total = Bot.objects.filter(owner__username__in=list(DEMO), is_active=True).count()
        self.stdout.write(f"demo arena: {created} bot(s) created, {total} demo bot(s) in all "
                          f"({', '.join(DEMO)}; scripted strategies, simulated market)")
