"""Writes about bots and providers."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from bots.models import Bot, LLMProvider
from ledger.services import account_open

_BOT_OPTIONS = {
    "initial_balance", "symbols", "sandbox_enabled", "is_paused", "is_active", "legacy_id",
    "avatar", "created_at",
}


def _arena_settings() -> Any:
    # Looked up by name: `arena` sits above `bots` and is never imported from here.
    return apps.get_model("arena", "ArenaSettings").load()


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
        arena = _arena_settings()
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
