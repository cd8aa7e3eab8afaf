from __future__ import annotations

from decimal import Decimal

import pytest

from bots.services import bot_create
from ledger.models import AppendOnlyError, Entry
from ledger.selectors import account_balance, account_entries_total
from ledger.services import LedgerError, entry_post

pytestmark = pytest.mark.django_db


def test_bot_create_funds_account_with_paper_default(bot):
    account = bot.account
    assert account.balance == Decimal("10000")
    entries = list(account.entries.all())
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("deposit", Decimal("10000"), Decimal("10000"))
    ]


def test_entries_move_balance_and_sum_matches(bot):
    account = bot.account
    entry_post(account=account, kind="fee", amount=Decimal("-1.25"), memo="test fee")
    with pytest.raises(LedgerError, match="zero"):  # below the journal's precision
        entry_post(account=account, kind="adjustment", amount=Decimal("0.000000004"))
    assert account_balance(account=account) == Decimal("9998.75")
    assert account_entries_total(account=account) == account_balance(account=account)


def test_zero_and_wrong_sign_and_float_are_refused(bot):
    account = bot.account
    with pytest.raises(LedgerError, match="zero"):
        entry_post(account=account, kind="adjustment", amount=Decimal("0"))
    with pytest.raises(LedgerError, match="must take money"):
        entry_post(account=account, kind="fee", amount=Decimal("2"))
    with pytest.raises(LedgerError, match="must add money"):
        entry_post(account=account, kind="deposit", amount=Decimal("-2"))
    with pytest.raises(LedgerError, match="not float"):
        entry_post(account=account, kind="adjustment", amount=1.5)
    with pytest.raises(LedgerError, match="names no position"):
        entry_post(account=account, kind="margin_lock", amount=Decimal("-10"))
    assert account_balance(account=account) == Decimal("10000")
    assert account.entries.count() == 1


def test_entries_are_append_only(bot):
    entry = bot.account.entries.get()
    entry.amount = Decimal("1")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        Entry.objects.filter(pk=entry.pk).update(amount=Decimal("5"))
    with pytest.raises(AppendOnlyError):
        Entry.objects.all().delete()
    assert Entry.objects.get(pk=entry.pk).amount == Decimal("10000")


def test_bot_create_refuses_foreign_provider_and_real_mode(user, other_user, provider, settings):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="another user"):
        bot_create(owner=other_user, name="x", prompt="p", provider=provider)
    settings.REAL_TRADING_ENABLED = False
    with pytest.raises(ValidationError, match="REAL_TRADING_ENABLED"):
        bot_create(owner=user, name="x", prompt="p", provider=provider, mode="real")
    settings.REAL_TRADING_ENABLED = True
    real = bot_create(owner=user, name="live", prompt="p", provider=provider, mode="real")
    assert real.account.balance == Decimal("950")
