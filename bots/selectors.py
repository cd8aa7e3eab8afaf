"""Reads about bots and providers."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.db.models import OuterRef, QuerySet, Subquery

from bots.models import Bot, Decision, LearningSummary, LLMProvider, PromptVersion
from bots.providers.base import ProviderConfig
from ledger.models import Snapshot
from trading.encryption import SecretUnreadable
from trading.selectors import outbound_policy

# How bots reads the arena's initial balance for a new bot of a mode ("paper" or "real"),
# handed down at start-up by arena's AppConfig.ready so that bots imports no arena model.
# Called on every read: a settings change applies without a restart.
_initial_balance_source: Callable[[str], Decimal] | None = None


def initial_balance_source_register(source: Callable[[str], Decimal]) -> None:
    global _initial_balance_source
    _initial_balance_source = source


def initial_balance_default(*, mode: str) -> Decimal:
    """The USDT a new bot of ``mode`` is funded with unless it is given an amount."""
    if _initial_balance_source is None:
        raise ImproperlyConfigured(
            "bots.selectors.initial_balance_source_register() was not called: the arena app "
            "registers it at start-up"
        )
    return _initial_balance_source(mode)


def provider_config_for(bot: Bot) -> tuple[ProviderConfig | None, str]:
    """The configuration to call ``bot``'s provider with (under the arena's outbound rules,
    read now), or None and why it cannot be called (inactive, its key to be entered again,
    or a key that cannot be decrypted)."""
    provider = bot.provider
    if not provider.is_active:
        return None, f"provider {provider.name!r} is inactive"
    if provider.key_needs_reentry:
        return None, f"provider {provider.name!r} needs its API key entered again"
    try:
        return ProviderConfig.from_model(provider, outbound=outbound_policy()), ""
    except SecretUnreadable as exc:
        return None, f"provider {provider.name!r}: {exc}"


def bots_of(*, user_id: int, see_all: bool = False) -> QuerySet[Bot]:
    """The bots a user manages: their own, or every bot for an admin (``see_all``), with
    their provider, owner and account joined for lists."""
    rows = Bot.objects.select_related("provider", "owner", "account")
    return rows if see_all else rows.filter(owner_id=user_id)


def providers_of(*, user_id: int, see_all: bool = False) -> QuerySet[LLMProvider]:
    """A user's LLM providers, or every user's for an admin (``see_all``)."""
    rows = LLMProvider.objects.select_related("owner")
    return rows if see_all else rows.filter(owner_id=user_id)


def bots_listed() -> QuerySet[Bot]:
    """Bots anyone may see (DESIGN.md "Who sees what"): active and listed by their owner."""
    return Bot.objects.filter(is_active=True, is_listed=True).select_related("provider", "owner", "account")


def _latest_snapshot(field: str) -> Subquery:
    return Subquery(Snapshot.objects.filter(bot_id=OuterRef("pk")).order_by("-taken_at", "-id")
                    .values(field)[:1])


def bots_listed_with_figures() -> QuerySet[Bot]:
    """``bots_listed()`` with their latest snapshot's figures: total_value, realized_pnl,
    trade_count, win_rate and snapshot_at (None before the first snapshot)."""
    return bots_listed().annotate(
        total_value=_latest_snapshot("total_value"), realized_pnl=_latest_snapshot("realized_pnl"),
        trade_count=_latest_snapshot("trade_count"), win_rate=_latest_snapshot("win_rate"),
        snapshot_at=_latest_snapshot("taken_at"),
    )


def decisions_of(*, bot_id: int) -> QuerySet[Decision]:
    return Decision.objects.filter(bot_id=bot_id)


def summaries_of(*, bot_id: int) -> QuerySet[LearningSummary]:
    return LearningSummary.objects.filter(bot_id=bot_id)


def prompt_versions_of(*, bot_id: int) -> QuerySet[PromptVersion]:
    return PromptVersion.objects.filter(bot_id=bot_id)
