"""Writes about bots and providers."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from bots.models import Bot, LLMProvider
from ledger.models import Account, Entry
from ledger.services import account_open, entry_post, money
from trading.models import CloseReason
from trading.selectors import arena_settings, open_positions
from trading.services import position_close

_BOT_OPTIONS = {
    "initial_balance", "symbols", "sandbox_enabled", "is_paused", "is_active", "legacy_id",
    "avatar", "created_at",
}


def bot_create(
    *,
    owner: Any,
    name: str,
    prompt: str,
    provider: LLMProvider,
    mode: str = Bot.Mode.PAPER,
    **options: Any,
) -> Bot:
    """Create a bot and its ledger account funded with the initial balance.

    ``initial_balance`` defaults to the arena settings' paper or live balance.
    Other options: symbols, sandbox_enabled, is_paused, is_active, legacy_id,
    avatar, created_at. Raises ``ValidationError`` for anything invalid.
    """
    unknown = set(options) - _BOT_OPTIONS
    if unknown:
        raise TypeError(f"bot_create() got unknown options: {', '.join(sorted(unknown))}")
    if provider.owner_id != owner.pk:
        raise ValidationError({"provider": "This provider belongs to another user."})
    if mode == Bot.Mode.REAL and not settings.REAL_TRADING_ENABLED:
        raise ValidationError(
            {"mode": "Real-money trading is disabled on this arena (REAL_TRADING_ENABLED is off)."}
        )
    if "initial_balance" not in options:
        arena = arena_settings()
        options["initial_balance"] = (
            arena.live_initial_balance if mode == Bot.Mode.REAL else arena.paper_initial_balance
        )
    options["initial_balance"] = Decimal(options["initial_balance"])
    bot = Bot(owner=owner, name=name, prompt=prompt, provider=provider, mode=mode, **options)
    bot.full_clean()
    with transaction.atomic():
        bot.save()
        account_open(bot=bot, deposit=bot.initial_balance)
    return bot


def bots_set_paused(*, bots: QuerySet[Bot], paused: bool) -> int:
    """Pause or resume bots in one UPDATE; turns read ``is_paused`` when they pick
    their bots, so the change applies from the next turn without a restart."""
    return bots.update(is_paused=paused, updated_at=timezone.now())


def provider_create(
    *,
    owner: Any,
    name: str,
    kind: str,
    model: str,
    base_url: str = "",
    api_key: str = "",
    **options: Any,
) -> LLMProvider:
    """Create an LLM provider; the key is encrypted before it reaches the database."""
    provider = LLMProvider(owner=owner, name=name, kind=kind, model=model, base_url=base_url, **options)
    provider.api_key = api_key
    provider.full_clean()
    provider.save()
    return provider


def bot_reset(*, bot: Bot, now: datetime | None = None) -> Bot:
    """Start a paper bot over: close its positions, restore its initial balance with one
    adjustment entry, and restart its statistics. All history is kept."""
    if bot.mode != Bot.Mode.PAPER:
        raise ValidationError({"mode": "Only paper bots can be reset; a real account holds real money."})
    now = now or timezone.now()
    with transaction.atomic():
        account = Account.objects.select_for_update().get(bot=bot)
        for position_id in open_positions(bot_id=bot.pk).order_by("id").values_list("id", flat=True):
            position_close(position=position_id, reason=CloseReason.RESET, now=now)
        account.refresh_from_db()
        difference = money(bot.initial_balance - account.balance)
        if difference != 0:
            entry_post(account=account, kind=Entry.Kind.ADJUSTMENT, amount=difference,
                       memo=f"reset to the initial balance {bot.initial_balance}", created_at=now)
        bot.stats_reset_at = now
        bot.save(update_fields=["stats_reset_at", "updated_at"])
    return bot
