"""Writes about exchange wallets: their keys (encrypted before they reach the database),
and which bot trades with them.

Trading does not import bots: a bot is the object the caller passes, read through the
columns every bot has (``owner_id``, ``mode``, ``is_active``), and a wallet's bot through
its foreign key. Every refusal is a ``ValidationError`` keyed by the field at fault.
"""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ledger.changes import change_record, fields_of
from trading.models import Wallet
from trading.outbound import url_check
from trading.selectors import outbound_policy

# What wallet_update may change. The exchange is fixed: keys belong to one exchange, so
# another exchange is another wallet. The bot changes through wallet_attach/wallet_detach.
_UPDATABLE = {"label", "base_url", "address", "api_key", "api_secret", "is_active"}
_SECRETS = {"api_key": "API key", "api_secret": "API secret"}
# What the audit trail keeps of a wallet; the keys only as "(changed)" (compared by ciphertext).
_AUDITED = ["exchange", "label", "base_url", "bot", "address", "is_active", "api_key_encrypted",
            "api_secret_encrypted"]


def wallet_audited(wallet: Wallet) -> dict[str, Any]:
    """The audited fields, the keys named as people know them (compared by their ciphertext)."""
    values = fields_of(wallet, _AUDITED)
    values["api_key"] = values.pop("api_key_encrypted")
    values["api_secret"] = values.pop("api_secret_encrypted")
    return values


def wallet_change(wallet: Wallet, action: str, before: dict[str, Any] | None, deleted: bool = False) -> None:
    """Append a wallet's change to the audit trail (the services and the admin call it)."""
    after = None if deleted else wallet_audited(wallet)
    change_record(obj=wallet, action=action, before=before, after=after, owner_id=wallet.owner_id,
                  secrets=["api_key", "api_secret"])


def _secret_checked(errors: dict[str, str], field: str, value: str) -> None:
    if not value:
        errors[field] = f"The {_SECRETS[field]} is required."
    elif any(ch.isspace() or not ch.isprintable() for ch in value):
        # A key pasted with a line break would only fail later, at the exchange.
        errors[field] = f"The {_SECRETS[field]} has spaces or line breaks in it: paste it again."


def _trading_bot(wallet: Wallet) -> Any | None:
    """The active real-money bot this wallet's keys trade for, if any (``bots.Bot.mode``,
    named by value)."""
    bot = wallet.bot
    if bot is not None and bot.mode == "real" and bot.is_active:
        return bot
    return None


def _refuse_if_trading(wallet: Wallet, field: str, doing: str) -> None:
    bot = _trading_bot(wallet)
    if bot is not None:
        raise ValidationError({field: f"Bot {bot.name!r} trades real money with this wallet: delete the "
                                      f"bot before you {doing}."})


def wallet_base_url_check(base_url: str) -> None:
    """Refuse a base URL the server may not call (``trading.outbound``); blank is the
    exchange's own. Resolves the host: call it outside any transaction."""
    if not base_url:
        return
    reason = url_check(base_url, outbound_policy())
    if reason:
        raise ValidationError({"base_url": f"The server will not call this URL: {reason}."})


def wallet_create(
    *, owner: Any, exchange: str, api_key: str, api_secret: str, label: str = "", base_url: str = "",
    address: str = "",
) -> Wallet:
    """A new active wallet of ``owner``, tied to no bot; both keys are required and only their
    ciphertext is stored. ``base_url`` blank means the exchange's default."""
    errors: dict[str, str] = {}
    _secret_checked(errors, "api_key", api_key)
    _secret_checked(errors, "api_secret", api_secret)
    if errors:
        raise ValidationError(errors)
    wallet_base_url_check(base_url)
    wallet = Wallet(owner=owner, exchange=exchange, label=label, base_url=base_url, address=address)
    wallet.api_key = api_key
    wallet.api_secret = api_secret
    wallet.full_clean()
    with transaction.atomic():
        wallet.save()
        wallet_change(wallet, "created", None)
    return wallet


def wallet_update(*, wallet: Wallet, **changes: Any) -> Wallet:
    """Change a wallet on its locked row: label, base_url, address, is_active, and its keys. A
    new ``api_key`` or ``api_secret`` replaces the stored one (encrypted) and clears
    ``key_needs_reentry``; keys are write-only and cannot be emptied (delete the wallet
    instead). Deactivating the wallet of an active real-money bot is refused. Returns the
    saved row; ``TypeError`` for a field that cannot change."""
    fixed = set(changes) - _UPDATABLE
    if fixed:
        raise TypeError(f"wallet_update() cannot change: {', '.join(sorted(fixed))}")
    errors: dict[str, str] = {}
    for field in _SECRETS.keys() & changes.keys():
        _secret_checked(errors, field, changes[field])
    if errors:
        raise ValidationError(errors)
    if changes.get("base_url"):  # before the transaction: the check resolves the host
        wallet_base_url_check(changes["base_url"])
    with transaction.atomic():
        row = Wallet.objects.select_for_update(of=("self",)).select_related("bot").get(pk=wallet.pk)
        before = wallet_audited(row)
        if changes.get("is_active") is False and row.is_active:
            _refuse_if_trading(row, "is_active", "deactivate its wallet")
        fields = []
        for name, value in changes.items():
            setattr(row, name, value)  # the keys' descriptors store ciphertext only
            fields.append(f"{name}_encrypted" if name in _SECRETS else name)
        if _SECRETS.keys() & changes.keys():
            row.key_needs_reentry = False
            fields.append("key_needs_reentry")
        if ({*_SECRETS, "base_url"} & changes.keys()) and row.verified_at is not None:
            # Other keys or another venue: what was verified no longer holds (trading.services.real).
            row.verified_at, row.account_fingerprint = None, ""
            row.verify_error = "The keys or the base URL changed: verify the wallet again."
            fields += ["verified_at", "account_fingerprint", "verify_error"]
        row.full_clean()
        row.save(update_fields=[*fields, "updated_at"])
        wallet_change(row, "updated", before)
    return row


def wallet_attach(*, wallet: Wallet, bot: Any) -> Wallet:
    """Let ``bot`` trade with ``wallet``: an active real-money bot of the wallet's owner that has
    no other wallet. Moving the wallet away from an active real-money bot is refused (its
    positions are on that account). Attaching it to its own bot changes nothing."""
    with transaction.atomic():
        row = Wallet.objects.select_for_update(of=("self",)).select_related("bot").get(pk=wallet.pk)
        if row.bot_id == bot.pk:
            return row
        if bot.owner_id != row.owner_id:
            raise ValidationError({"bot": "This bot belongs to another user."})
        if not bot.is_active:
            raise ValidationError({"bot": "This bot is deleted."})
        if bot.mode != "real":
            raise ValidationError({"bot": "Only a real-money bot trades with a wallet."})
        if not row.is_active:
            raise ValidationError({"bot": "This wallet is deactivated: activate it first."})
        if Wallet.objects.filter(bot_id=bot.pk).exists():
            raise ValidationError({"bot": f"Bot {bot.name!r} already has a wallet: detach that one first."})
        _refuse_if_trading(row, "bot", "move its wallet")
        before = wallet_audited(row)
        row.bot_id = bot.pk
        try:
            # bot is unique: a concurrent attach of another wallet to this bot lost the race.
            with transaction.atomic():
                row.save(update_fields=["bot", "updated_at"])
        except IntegrityError:
            raise ValidationError({"bot": f"Bot {bot.name!r} already has a wallet: detach that one first."}) \
                from None
        wallet_change(row, "attached", before)
    return row


def wallet_detach(*, wallet: Wallet) -> Wallet:
    """Tie ``wallet`` to no bot; refused while its bot is an active real-money bot (that
    bot's positions and orders are on this account). Detaching a free wallet changes nothing."""
    with transaction.atomic():
        row = Wallet.objects.select_for_update(of=("self",)).select_related("bot").get(pk=wallet.pk)
        if row.bot_id is None:
            return row
        _refuse_if_trading(row, "bot", "detach its wallet")
        before = wallet_audited(row)
        row.bot = None
        row.save(update_fields=["bot", "updated_at"])
        wallet_change(row, "detached", before)
    return row


def wallet_delete(*, wallet: Wallet) -> str:
    """Delete a wallet; its keys are erased either way. Refused while an active real-money bot
    trades with it. A wallet the legacy import brought in (``legacy_id``) or still tied to a
    (deleted or paper) bot is kept, deactivated and without keys, so the bot's history still
    names its exchange account; any other is deleted. Returns "deleted" or "deactivated"."""
    with transaction.atomic():
        row = Wallet.objects.select_for_update(of=("self",)).select_related("bot").get(pk=wallet.pk)
        _refuse_if_trading(row, "bot", "delete its wallet")
        before = wallet_audited(row)
        if row.legacy_id is None and row.bot_id is None:
            wallet_change(row, "deleted", before, deleted=True)
            row.delete()
            return "deleted"
        row.api_key = ""
        row.api_secret = ""
        row.is_active = False
        row.save(update_fields=["api_key_encrypted", "api_secret_encrypted", "is_active", "updated_at"])
        wallet_change(row, "deactivated", before)
        return "deactivated"
