"""Writes about LLM providers: create, update, delete, each on the audit trail, and the
outbound check of their base URLs."""
from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from bots.models import Bot, LLMProvider
from ledger.changes import change_record, fields_of
from trading.outbound import url_check
from trading.selectors import outbound_policy

# What the audit trail keeps of a provider; the key only as "(changed)" (compared by ciphertext).
PROVIDER_AUDITED = [
    "name", "kind", "base_url", "model", "api_key_encrypted", "input_price_per_mtok", "output_price_per_mtok",
    "timeout_seconds", "max_retries", "options", "is_active",
]


def provider_audited(provider: LLMProvider) -> dict[str, Any]:
    """The provider's audited fields (``PROVIDER_AUDITED``), the key named ``api_key``."""
    values = fields_of(provider, PROVIDER_AUDITED)
    values["api_key"] = values.pop("api_key_encrypted")
    return values


def provider_change(provider: LLMProvider, action: str, before: dict[str, Any] | None,
                     deleted: bool = False) -> None:
    """Append a provider's change to the audit trail (the services and the admin call it)."""
    change_record(obj=provider, action=action, before=before,
                  after=None if deleted else provider_audited(provider), owner_id=provider.owner_id,
                  secrets=["api_key"])


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
    """Create an LLM provider; the key is encrypted before it reaches the database. A
    ``base_url`` the arena's outbound rules refuse is a ``ValidationError`` on it."""
    provider = LLMProvider(owner=owner, name=name, kind=kind, model=model, base_url=base_url, **options)
    provider.api_key = api_key
    provider.full_clean()
    provider_base_url_check(kind=kind, base_url=base_url)
    with transaction.atomic():
        provider.save()
        provider_change(provider, "created", None)
    return provider


def provider_base_url_check(*, kind: str, base_url: str) -> None:
    """Refuse a base URL the server may not call (``trading.outbound``: https to a public
    host, or what the arena settings allow). Resolves the host: call it outside any
    transaction. Calls are checked again each time (``bots.providers.http``): a host can
    change its addresses after it was saved."""
    if kind == LLMProvider.Kind.SCRIPTED or not base_url:
        return  # the scripted provider calls nothing
    reason = url_check(base_url, outbound_policy())
    if reason:
        raise ValidationError({"base_url": f"The server will not call this URL: {reason}."})


_PROVIDER_UPDATABLE = {
    "name", "base_url", "model", "api_key", "input_price_per_mtok", "output_price_per_mtok",
    "timeout_seconds", "max_retries", "options", "is_active",
}


def provider_update(*, provider: LLMProvider, **changes: Any) -> LLMProvider:
    """Change a provider; a new ``api_key`` is encrypted before it is stored (and clears
    ``key_needs_reentry``). Its kind is fixed: a different vendor is a new provider. A new
    ``base_url`` is held to the arena's outbound rules as in ``provider_create``."""
    fixed = set(changes) - _PROVIDER_UPDATABLE
    if fixed:
        raise TypeError(f"provider_update() cannot change: {', '.join(sorted(fixed))}")
    if "base_url" in changes:  # before the transaction: the check resolves the host
        provider_base_url_check(kind=provider.kind, base_url=changes["base_url"])
    with transaction.atomic():
        row = LLMProvider.objects.select_for_update().get(pk=provider.pk)
        before = provider_audited(row)
        fields = []
        for name, value in changes.items():
            if name == "api_key":
                row.api_key = value
                row.key_needs_reentry = False
                fields += ["api_key_encrypted", "key_needs_reentry"]
            else:
                setattr(row, name, value)
                fields.append(name)
        row.full_clean()
        row.save(update_fields=[*fields, "updated_at"])
        provider_change(row, "updated", before)
    return row


def provider_delete(*, provider: LLMProvider) -> str:
    """Delete a provider no bot uses; one that only deleted bots used is deactivated (their
    history names it). Refused while an active bot uses it. Returns "deleted" or
    "deactivated"."""
    with transaction.atomic():
        row = LLMProvider.objects.select_for_update().get(pk=provider.pk)
        using = list(Bot.objects.filter(provider=row, is_active=True).order_by("pk")
                     .values_list("name", flat=True))
        if using:
            raise ValidationError({"provider": f"Used by {len(using)} bot(s) ({', '.join(using[:5])}): "
                                   "give them another provider first."})
        before = provider_audited(row)
        if Bot.objects.filter(provider=row).exists():
            row.is_active = False
            row.save(update_fields=["is_active", "updated_at"])
            provider_change(row, "deactivated", before)
            return "deactivated"
        provider_change(row, "deleted", before, deleted=True)
        row.delete()
        return "deleted"
