"""Importing the legacy configuration: arena settings, users, providers, bots, wallets.

Configuration is imported once: a record whose ``legacy_id`` is already here is
left as it is (an operator may have changed it since), so a second run changes
nothing. Secrets encrypted with the legacy server's key cannot be decrypted: keys
arrive empty with ``key_needs_reentry`` set, and the report lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from arena.legacy import mapping, normalize, secrets
from arena.legacy.reader import LegacySource
from arena.legacy.records import LegacyBot
from arena.legacy.report import Report
from arena.legacy.values import Where
from arena.models import ArenaSettings, User
from bots.models import Bot, LLMProvider
from trading.models import Wallet
from trading.outbound import url_check
from trading.selectors import outbound_policy


class MediaFiles:
    """Avatar files written during the import, removed again if it does not commit."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def save(self, name: str, content: bytes) -> str:
        if not default_storage.exists(name):  # named by content: same bytes, same file
            saved = default_storage.save(name, ContentFile(content))
            self.created.append(saved)
            return saved
        return name

    def discard(self) -> None:
        for name in self.created:
            default_storage.delete(name)
        self.created.clear()


@dataclass
class Context:
    source: LegacySource
    report: Report
    owner: User | None
    now: datetime
    avatar_limit: int
    files: MediaFiles = field(default_factory=MediaFiles)
    users: dict[str, User] = field(default_factory=dict)
    providers: dict[str, LLMProvider] = field(default_factory=dict)
    bots: dict[str, Bot] = field(default_factory=dict)
    current: str = ""  # the record being written, named if the database refuses it

    def where(self, record: str) -> Where:
        return Where(self.source.name, record)


# --- arena settings ------------------------------------------------------------------


def settings_import(ctx: Context) -> None:
    arena = ArenaSettings.load()
    changed = []
    for row in ctx.source.rows("system_settings"):
        key = row.get("key")
        where = ctx.where(f"table system_settings, key {key!r}")
        if key not in mapping.SETTINGS:
            ctx.report.add("unknown settings (not imported)", secrets.setting_line(key, row.get("value")))
            continue
        rule = mapping.SETTINGS[key]
        value = mapping.setting_value(key, row.get("value"), where)
        if getattr(arena, rule.field) != value:
            ctx.report.add("arena settings",
                           f"{rule.field}: {getattr(arena, rule.field)} -> {value} (from {key})")
            setattr(arena, rule.field, value)
            changed.append(rule.field)
    if changed:
        ctx.current = "table system_settings"
        arena.save(update_fields=[*changed, "updated_at"])
        ctx.report.count("settings changed", len(changed))


# --- users ---------------------------------------------------------------------------


def users_import(ctx: Context) -> None:
    known = {u.legacy_id: u for u in User.objects.filter(legacy_id__isnull=False)}
    for row in ctx.source.rows("users", "ORDER BY rowid"):
        legacy = normalize.user_from_row(row, ctx.where("table users"))
        if legacy.id in known:
            ctx.users[legacy.id] = known[legacy.id]
            continue
        taken = User.objects.filter(username=legacy.username).first()
        if taken is not None:
            raise legacy.where.error(
                f"username {legacy.username!r} already belongs to user {taken.pk} of this arena, who is "
                "not this legacy user; rename one of them and run the import again")
        user = User(username=legacy.username, email=legacy.email, role=legacy.role,
                    is_active=legacy.is_active, legacy_id=legacy.id, last_login=legacy.last_login,
                    date_joined=legacy.created_at or ctx.now)
        encoded = mapping.django_password(legacy.password_hash)
        if encoded is None:
            user.set_unusable_password()
            ctx.report.add("users", f"{legacy.username}: the legacy password hash is not a valid bcrypt "
                                    "hash; the user must reset the password")
        else:
            user.password = encoded
        ctx.current = legacy.where.record
        user.save()
        ctx.users[legacy.id] = user
        ctx.report.count("users")


def owner_for(ctx: Context, user_id: str | None, where: Where, what: str) -> User:
    if user_id and user_id in ctx.users:
        return ctx.users[user_id]
    if user_id:
        found = User.objects.filter(legacy_id=user_id).first()
        if found is not None:
            ctx.users[user_id] = found
            return found
    if ctx.owner is not None:
        return ctx.owner
    known = f"user {user_id!r} is not in the legacy file or this arena" if user_id else "it names no user"
    raise where.error(f"the owner of this {what} is unknown ({known}); pass --owner USERNAME")


# --- providers -----------------------------------------------------------------------


def providers_import(ctx: Context) -> None:
    known = {p.legacy_id: p for p in LLMProvider.objects.filter(legacy_id__isnull=False)}
    for row in ctx.source.rows("llm_providers", "ORDER BY rowid"):
        legacy = normalize.provider_from_row(row, ctx.where("table llm_providers"))
        if legacy.id in known:
            ctx.providers[legacy.id] = known[legacy.id]
            continue
        owner = owner_for(ctx, legacy.user_id, legacy.where, "provider")
        kind = mapping.provider_kind(legacy.type, legacy.where)
        url = mapping.base_url(legacy.type, legacy.endpoint, legacy.where)
        if url != legacy.endpoint:
            ctx.report.add("provider base URLs normalised",
                           f"{legacy.name}: {legacy.endpoint or '(empty)'} -> {url}")
        options, removed = secrets.without_secrets(legacy.options)
        if removed:
            ctx.report.add("keys to re-enter", f"{legacy.name}: options {', '.join(removed)} look like "
                                               "secrets; not imported (enter them again if needed)")
        provider = _provider_save(ctx, owner=owner, name=legacy.name, kind=kind, base_url=url,
                                  model=mapping.provider_model(legacy.type, legacy.model, legacy.endpoint,
                                                               legacy.where),
                                  legacy_id=legacy.id, options=options, is_active=legacy.is_active,
                                  created_at=legacy.created_at or ctx.now, record=legacy.where.record)
        ctx.providers[legacy.id] = provider
        if legacy.type != kind:
            ctx.report.add("providers", f"{legacy.name}: legacy type {legacy.type} imported as {kind}")


def _provider_save(ctx: Context, *, owner: User, name: str, record: str, **fields: Any) -> LLMProvider:
    unique = _free_name(LLMProvider.objects.filter(owner=owner), name, fields["legacy_id"])
    if unique != name:
        ctx.report.add("providers", f"{name}: {owner.username} already has a provider of that name; "
                                    f"imported as {unique!r}")
    provider = LLMProvider(owner=owner, name=unique, key_needs_reentry=True, **fields)
    try:
        provider.clean_fields(exclude=["owner", "api_key_encrypted"])
        provider.clean()
    except ValidationError as exc:  # a URL or model our rules refuse
        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        raise ctx.where(record).error(f"cannot be imported as a provider ({problems})") from None
    if provider.kind != LLMProvider.Kind.SCRIPTED and provider.base_url:
        # Imported as it was (nothing is lost), but named: every call is checked again and
        # refused until an admin allows the host or the owner changes the URL.
        reason = url_check(provider.base_url, outbound_policy())
        if reason:
            ctx.report.add("outbound URLs refused",
                           f"provider {unique!r} of {owner.username}: {provider.base_url}: {reason}; "
                           "its bots' turns fail until an admin allows the host (arena settings) or the "
                           "URL is changed")
    ctx.current = record
    provider.save()
    ctx.report.count("providers")
    ctx.report.add("keys to re-enter", f"provider {unique!r} of {owner.username}: the API key was "
                                       "encrypted with the legacy server's key")
    return provider


def _free_name(existing: Any, name: str, legacy_id: str | None) -> str:
    taken = set(existing.exclude(legacy_id=legacy_id).values_list("name", flat=True)) if legacy_id \
        else set(existing.values_list("name", flat=True))
    candidate, n = name[:100], 1
    while candidate in taken:
        n += 1
        candidate = f"{name[:80]} (legacy {n})" if n > 2 else f"{name[:85]} (legacy)"
    return candidate


def provider_for(ctx: Context, config: LegacyBot, owner: User) -> LLMProvider:
    """The bot's provider, owned by the bot's owner (copied for them if the legacy
    shared it across users; made from the blob's fields if no provider row exists)."""
    pid = config.provider_id
    provider = ctx.providers.get(pid) if pid else None
    if provider is not None and provider.owner_id == owner.pk:
        return provider
    key = f"{pid or 'blob:' + config.provider_type}@{owner.pk}"
    found = LLMProvider.objects.filter(legacy_id__in=[key, pid] if pid else [key], owner=owner).first()
    if found is not None:
        return found
    if provider is not None:
        copy = _provider_save(ctx, owner=owner, name=provider.name, kind=provider.kind,
                              base_url=provider.base_url,
                              model=provider.model, legacy_id=key, options=provider.options,
                              is_active=provider.is_active, created_at=provider.created_at,
                              record=config.where.record)
        ctx.report.add("providers", f"{provider.name}: shared by another user's bot {config.id}; copied for "
                                    f"{owner.username}")
        return copy
    legacy_type = config.provider_type if config.provider_type in mapping.KINDS else "gemini"
    made = _provider_save(
        ctx, owner=owner, name=config.provider_name or legacy_type.capitalize(),
        kind=mapping.provider_kind(legacy_type, config.where), base_url=mapping.DEFAULT_URLS[legacy_type],
        model=mapping.DEFAULT_MODELS[legacy_type], legacy_id=key, options={}, is_active=True,
        created_at=ctx.now, record=config.where.record)
    ctx.report.add("providers", f"{made.name}: known only from bot {config.id} in the blob; created with "
                                f"{legacy_type}'s default base URL and model {made.model} — check them")
    return made


# --- bots ----------------------------------------------------------------------------


def bot_create(ctx: Context, config: LegacyBot, initial_balance: Decimal) -> Bot:
    """A new Bot (its account is opened by the money step, from the same transaction)."""
    owner = owner_for(ctx, config.user_id, config.where, "bot")
    provider = provider_for(ctx, config, owner)
    active = Bot.objects.filter(owner=owner, is_active=True)
    name = _free_name(active, config.name, None) if config.is_active else config.name[:100]
    if name != config.name:
        ctx.report.add("bots", f"{config.id}: {owner.username} already has an active bot named "
                               f"{config.name!r}; imported as {name!r}")
    paused = config.is_paused or config.mode == Bot.Mode.REAL
    if config.mode == Bot.Mode.REAL and not config.is_paused:
        ctx.report.add("bots", f"{config.id}: a real-money bot; imported paused until its wallet keys "
                               "are re-entered")
    bot = Bot(owner=owner, name=name, prompt=config.prompt, provider=provider, mode=config.mode,
              is_paused=paused, is_active=config.is_active, legacy_id=config.id,
              initial_balance=initial_balance, symbols=config.symbols,
              created_at=config.created_at or ctx.now)
    bot.avatar = _avatar(ctx, config)
    ctx.current = config.where.record
    bot.save()
    ctx.report.count("bots")
    return bot


def _avatar(ctx: Context, config: LegacyBot) -> str:
    value = ctx.source.avatar(config.id) or config.avatar  # the table's, else the blob's
    found = mapping.avatar(value, config.where, limit=ctx.avatar_limit)
    if found is None:
        return ""
    if isinstance(found, str):
        ctx.report.add("avatars", f"{config.id}: the avatar is a link ({found[:80]}), not fetched; "
                                  "upload it again if wanted")
        return ""
    name = ctx.files.save(found.name, found.content)
    ctx.report.add("avatars", f"{config.id}: {len(found.content):,} bytes -> {name}")
    return name


# --- wallets -------------------------------------------------------------------------


def wallets_import(ctx: Context) -> None:
    known = set(Wallet.objects.filter(legacy_id__isnull=False).values_list("legacy_id", flat=True))
    for row in ctx.source.rows("wallets", "ORDER BY rowid"):
        legacy = normalize.wallet_from_row(row, ctx.where("table wallets"))
        if legacy.id in known:
            continue
        bot = ctx.bots.get(legacy.bot_id or "") or (
            Bot.objects.filter(legacy_id=legacy.bot_id).first() if legacy.bot_id else None)
        user_id = legacy.user_id or (bot.owner.legacy_id if bot else None)
        owner = bot.owner if bot is not None and not legacy.user_id else owner_for(
            ctx, user_id, legacy.where, "wallet")
        if bot is not None and Wallet.objects.filter(bot=bot).exists():
            ctx.report.add("wallets", f"wallet {legacy.id}: bot {legacy.bot_id} already has a wallet; "
                                      "imported without a bot")
            bot = None
        ctx.current = legacy.where.record
        Wallet.objects.create(
            owner=owner, bot=bot, exchange=mapping.exchange(legacy.exchange, legacy.where),
            label=f"{legacy.exchange} (legacy wallet {legacy.id})"[:100], address=legacy.address,
            is_active=legacy.is_active, key_needs_reentry=True, legacy_id=legacy.id,
            created_at=legacy.created_at or ctx.now,
        )
        ctx.report.count("wallets")
        ctx.report.add("keys to re-enter", f"wallet {legacy.id} ({legacy.exchange}) of {owner.username}: "
                                           "API key and secret were encrypted with the legacy server's key")

