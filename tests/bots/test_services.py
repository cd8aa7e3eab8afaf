"""Bot services: update, pause, resume and clone go through one set of rules, on the
locked row, and refuse what would break an owner's bot."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from arena.models import ArenaSettings
from bots.models import Bot
from bots.services import (
    bot_clone,
    bot_create,
    bot_pause,
    bot_resume,
    bot_update,
    bot_validate,
    provider_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_user):
    return provider_create(owner=other_user, name="Theirs", kind="scripted", model="breakout")


def test_validate_names_each_broken_rule_by_field(user, theirs, settings):
    settings.REAL_TRADING_ENABLED = False
    with pytest.raises(ValidationError) as caught:
        bot_validate(owner=user, provider=theirs, mode=Bot.Mode.REAL)
    assert set(caught.value.message_dict) == {"provider", "mode"}
    bot_validate(owner=theirs.owner, provider=theirs, mode=Bot.Mode.PAPER)  # no error


def test_update_changes_the_row_and_keeps_money_fixed(bot, user):
    other = provider_create(owner=user, name="Second", kind="scripted", model="breakout")
    updated = bot_update(bot=bot, name="Renamed", provider=other, symbols=["ETHUSDT"], prompt="New")
    bot.refresh_from_db()
    assert (bot.name, bot.provider, bot.symbols, bot.prompt) == ("Renamed", other, ["ETHUSDT"], "New")
    assert updated.pk == bot.pk and updated.name == "Renamed"
    with pytest.raises(TypeError, match="initial_balance, mode"):
        bot_update(bot=bot, mode=Bot.Mode.REAL, initial_balance=Decimal("1"))


def test_update_refuses_another_users_provider_and_an_invalid_value(bot, theirs):
    with pytest.raises(ValidationError) as caught:
        bot_update(bot=bot, provider=theirs)
    assert "provider" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        bot_update(bot=bot, symbols=["btcusdt"])
    assert "symbols" in caught.value.message_dict
    bot.refresh_from_db()
    assert bot.provider.owner == bot.owner and bot.symbols == []


def test_pause_and_resume(bot):
    assert bot_pause(bot=bot).is_paused
    bot.refresh_from_db()
    assert bot.is_paused
    assert bot_pause(bot=bot).is_paused  # pausing a paused bot changes nothing
    assert not bot_resume(bot=bot).is_paused
    bot.refresh_from_db()
    assert not bot.is_paused


def test_clone_copies_the_bot_as_a_new_funded_paper_bot(user, provider):
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(paper_initial_balance=Decimal("777"))
    source = bot_create(owner=user, name="Source", prompt="Trade {{marketData}}", provider=provider,
                        symbols=["BTCUSDT", "SOLUSDT"], sandbox_enabled=True, initial_balance="50")
    clone = bot_clone(bot=source, owner=user)
    assert clone.pk != source.pk
    assert (clone.name, clone.prompt, clone.provider, clone.symbols, clone.sandbox_enabled, clone.mode) == (
        "Source (copy)", source.prompt, provider, ["BTCUSDT", "SOLUSDT"], True, "paper")
    assert clone.initial_balance == clone.account.balance == Decimal("777")
    assert list(clone.account.entries.values_list("kind", "amount")) == [("deposit", Decimal("777"))]
    source.account.refresh_from_db()
    assert source.account.balance == Decimal("50")


def test_clone_for_another_user_needs_their_own_provider(bot, other_user, theirs):
    with pytest.raises(ValidationError) as caught:
        bot_clone(bot=bot, owner=other_user)
    assert "provider" in caught.value.message_dict
    assert not Bot.objects.filter(owner=other_user).exists()
    clone = bot_clone(bot=bot, owner=other_user, provider=theirs, name="Mine now")
    assert (clone.owner, clone.provider, clone.name) == (other_user, theirs, "Mine now")
    assert clone.prompt == bot.prompt


def test_clone_refuses_a_name_the_owner_already_uses(bot, user):
    with pytest.raises(ValidationError):
        bot_clone(bot=bot, owner=user, name=bot.name)
    assert Bot.objects.filter(owner=user).count() == 1
