"""Writes about bots: create, update, pause, clone, reset, and their audit trail."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from bots.models import Bot, LLMProvider, PromptVersion
from bots.selectors import initial_balance_default
from ledger.changes import change_actor, change_record, fields_of
from ledger.events import event_append
from ledger.models import Account, Entry
from ledger.services import account_open, entry_post, money
from trading.models import CloseReason, Wallet
from trading.selectors import open_positions
from trading.services import position_close, wallet_attach
from trading.services.real import wallet_real_refusal

_BOT_OPTIONS = {
    "initial_balance", "symbols", "sandbox_enabled", "is_paused", "is_active", "legacy_id",
    "avatar", "created_at", "is_listed", "reasoning_public", "max_order_notional", "max_exposure",
}
# What bot_update may change. Owner, mode and initial balance are fixed at creation: the
# funded account and the REAL_TRADING_ENABLED check rest on them.
_BOT_UPDATABLE = {
    "name", "prompt", "provider", "symbols", "sandbox_enabled", "is_paused", "is_active",
    "legacy_id", "avatar", "is_listed", "reasoning_public", "max_order_notional", "max_exposure",
}


# What the audit trail keeps of a bot (ledger.changes): every field a person can change.
BOT_AUDITED = [
    "name", "prompt", "provider", "mode", "symbols", "sandbox_enabled", "is_paused", "is_active",
    "is_listed", "reasoning_public", "unlisted_reason", "avatar", "initial_balance", "legacy_id",
    "max_order_notional", "max_exposure",
]
# The real-money limits: positive, or None for no limit (trading checks them before an order).
BOT_LIMITS = ("max_order_notional", "max_exposure")
PASSWORD_WRONG = "The password is not right."


def _bot_change(bot: Bot, action: str, before: dict[str, Any] | None, now: datetime | None = None) -> None:
    change_record(obj=bot, action=action, before=before, after=fields_of(bot, BOT_AUDITED),
                  owner_id=bot.owner_id, now=now)


def _prompt_version_new(bot: Bot, now: datetime | None = None) -> PromptVersion:
    """Number ``bot``'s current prompt as its next version and make it the one in force."""
    number = (PromptVersion.objects.filter(bot=bot).aggregate(last=Max("number"))["last"] or 0) + 1
    version = PromptVersion.objects.create(bot=bot, number=number, prompt=bot.prompt,
                                           created_at=now or timezone.now(), created_by=change_actor())
    bot.prompt_version = version
    return version


def _bot_event(type_: str, bot: Bot, changed: list[str] | None = None) -> None:
    """``bot_created``, ``bot_updated`` … to the bot's owner, in the change's transaction."""
    data: dict[str, Any] = {"bot": bot.pk, "name": bot.name, "mode": bot.mode, "is_paused": bot.is_paused,
                            "is_active": bot.is_active}
    if changed is not None:
        data["changed"] = sorted(changed)
    event_append(type_, data, owner_id=bot.owner_id, bot_id=bot.pk)


def bot_validate(*, owner: Any, provider: LLMProvider, mode: str | None = None) -> None:
    """The rules a bot's owner, provider and mode must keep, in one place: the services
    apply them and forms call them first. ``mode`` is a new bot's (an existing bot's is
    fixed, so it is not checked again). Raises ``ValidationError`` keyed by field."""
    errors: dict[str, str] = {}
    if provider.owner_id != owner.pk:
        errors["provider"] = "This provider belongs to another user."
    if mode == Bot.Mode.REAL and not settings.REAL_TRADING_ENABLED:
        errors["mode"] = "Real-money trading is disabled on this arena (REAL_TRADING_ENABLED is off)."
    if errors:
        raise ValidationError(errors)


def limits_errors(values: dict[str, Any]) -> dict[str, str]:
    """Each real-money limit in ``values`` that is set but not positive, with why (a zero
    limit would refuse every order: pausing the bot says that more plainly)."""
    return {name: "A limit is a positive amount of USDT; leave it empty for no limit."
            for name in BOT_LIMITS if values.get(name) is not None and Decimal(values[name]) <= 0}


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
    avatar, created_at, max_order_notional, max_exposure. Raises ``ValidationError``
    for anything invalid. A person making a real bot goes through ``bot_create_real``.
    """
    return _bot_create(owner=owner, name=name, prompt=prompt, provider=provider, mode=mode,
                       action="created", **options)


def _bot_create(*, owner: Any, name: str, prompt: str, provider: LLMProvider, mode: str, action: str,
                **options: Any) -> Bot:
    unknown = set(options) - _BOT_OPTIONS
    if unknown:
        raise TypeError(f"bot_create() got unknown options: {', '.join(sorted(unknown))}")
    bot_validate(owner=owner, provider=provider, mode=mode)
    limits = limits_errors(options)
    if limits:
        raise ValidationError(limits)
    if "initial_balance" not in options:
        options["initial_balance"] = initial_balance_default(mode=mode)
    options["initial_balance"] = Decimal(options["initial_balance"])
    bot = Bot(owner=owner, name=name, prompt=prompt, provider=provider, mode=mode, **options)
    bot.full_clean()
    with transaction.atomic():
        bot.save()
        _prompt_version_new(bot, bot.created_at)
        bot.save(update_fields=["prompt_version"])
        account_open(bot=bot, deposit=bot.initial_balance)
        _bot_event("bot_created", bot)
        _bot_change(bot, action, None)
    return bot


def _real_wallet_refusal(owner: Any, wallet: Wallet | None) -> str | None:
    if wallet is not None and wallet.owner_id != owner.pk:
        return "This wallet belongs to another user."
    refusal = wallet_real_refusal(wallet)
    if refusal is None and wallet.bot_id is not None:
        return "This wallet already trades for another bot: choose a free one."
    if refusal is None and (wallet.verified_balance is None or wallet.verified_balance <= 0):
        return ("The wallet's exchange account holds no USDT: a real bot starts with the balance the "
                "exchange reports.")
    return refusal


def bot_real_validate(*, owner: Any, password: str, wallet: Wallet | None, confirmed_by: Any = None) -> None:
    """The rules of going real that are about the person and the wallet: ``confirmed_by``
    (default: the owner; an admin making the bot for someone types their own) re-entered
    their password, and the wallet is the owner's, free, verified and allowed to trade
    (``wallet_real_refusal``). Raises ``ValidationError`` on "password" and "wallet"; the
    password itself is never in it. Forms call it first; ``bot_create_real`` applies it."""
    errors: dict[str, str] = {}
    checker = confirmed_by or owner
    if not password or not checker.check_password(password):
        errors["password"] = PASSWORD_WRONG
    refusal = _real_wallet_refusal(owner, wallet)
    if refusal:
        errors["wallet"] = refusal
    if errors:
        raise ValidationError(errors)


def bot_create_real(
    *, owner: Any, password: str, wallet: Wallet, name: str, prompt: str, provider: LLMProvider,
    confirmed_by: Any = None, **options: Any,
) -> Bot:
    """Create a real-money bot for ``owner`` trading with ``wallet``, as a person asks for
    one: every bot's rules (REAL_TRADING_ENABLED among them) and ``bot_real_validate``.
    Its starting balance is what the exchange reported when the wallet was verified, not
    the arena's default: its account mirrors real money. On the audit trail as
    "created_real" (mode and balance in it), then the wallet as "attached"."""
    if "initial_balance" in options:
        raise TypeError("bot_create_real() takes its initial balance from the wallet")
    bot_validate(owner=owner, provider=provider, mode=Bot.Mode.REAL)
    bot_real_validate(owner=owner, password=password, wallet=wallet, confirmed_by=confirmed_by)
    with transaction.atomic():
        # Every wallet on the same exchange account, locked in id order, then checked again:
        # two requests cannot both find the account free and start two real bots on it.
        same_account = Wallet.objects.filter(account_fingerprint=wallet.account_fingerprint)
        rows = {row.pk: row for row in same_account.select_for_update().order_by("pk")}
        row = rows.get(wallet.pk) or Wallet.objects.select_for_update().get(pk=wallet.pk)
        refusal = _real_wallet_refusal(owner, row)
        if refusal:
            raise ValidationError({"wallet": refusal})
        bot = _bot_create(owner=owner, name=name, prompt=prompt, provider=provider, mode=Bot.Mode.REAL,
                          action="created_real", initial_balance=row.verified_balance, **options)
        wallet_attach(wallet=row, bot=bot)
    return bot


def bot_update(*, bot: Bot, **changes: Any) -> Bot:
    """Change what may change after creation (name, prompt, provider, symbols,
    sandbox_enabled, is_paused, is_active, legacy_id, avatar, is_listed, reasoning_public)
    on the locked row; the
    provider must stay the owner's. Returns the saved row; raises ``ValidationError``
    for anything invalid and ``TypeError`` for a field that cannot change."""
    fixed = set(changes) - _BOT_UPDATABLE
    if fixed:
        raise TypeError(f"bot_update() cannot change: {', '.join(sorted(fixed))}")
    with transaction.atomic():
        row = Bot.objects.select_for_update().select_related("owner").get(pk=bot.pk)
        before = fields_of(row, BOT_AUDITED)
        for name, value in changes.items():
            setattr(row, name, value)
        bot_validate(owner=row.owner, provider=row.provider)
        limits = limits_errors({name: getattr(row, name) for name in BOT_LIMITS})
        if limits:
            raise ValidationError(limits)
        row.full_clean()
        fields = [*changes, "updated_at"]
        if row.prompt != before["prompt"]:
            _prompt_version_new(row)
            fields.append("prompt_version")
        row.save(update_fields=fields)
        _bot_event("bot_updated", row, changed=list(changes))
        _bot_change(row, "updated", before)
    return row


def _paused_set(bot: Bot, paused: bool) -> Bot:
    with transaction.atomic():
        row = Bot.objects.select_for_update().get(pk=bot.pk)
        if row.is_paused != paused:
            before = fields_of(row, BOT_AUDITED)
            row.is_paused = paused
            row.save(update_fields=["is_paused", "updated_at"])
            _bot_event("bot_paused" if paused else "bot_resumed", row)
            _bot_change(row, "paused" if paused else "resumed", before)
    return row


def bot_pause(*, bot: Bot) -> Bot:
    """Stop giving ``bot`` turns from the next one on; its positions stay open (their
    stops and liquidation are still checked). Pausing a paused bot changes nothing."""
    return _paused_set(bot, True)


def bot_resume(*, bot: Bot) -> Bot:
    """Give a paused ``bot`` turns again from the next one on."""
    return _paused_set(bot, False)


def bots_set_paused(*, bots: QuerySet[Bot], paused: bool) -> int:
    """Pause or resume each of ``bots`` (``bot_pause`` / ``bot_resume``, so each owner is
    told); returns how many changed. Turns read ``is_paused`` when they pick their bots,
    so the change applies from the next turn without a restart."""
    changed = 0
    for bot in bots.exclude(is_paused=paused).order_by("pk"):
        _paused_set(bot, paused)
        changed += 1
    return changed


# The prompt a copy of another user's unpublished bot starts with: their prompt is theirs.
CLONE_PROMPT = (
    "You trade USDT-margined perpetual futures. It is {{currentDate}}.\n"
    "Account value {{totalValue}} USDT, available {{availableBalance}} USDT, "
    "unrealized PnL {{unrealizedPnl}} USDT.\n\nOpen positions:\n{{openPositions}}\n\n"
    "Markets:\n{{marketData}}\n\nDecide what to open, close or hold, with stops and targets."
)


def bot_clone(
    *, bot: Bot, owner: Any, name: str | None = None, provider: LLMProvider | None = None,
    copy_prompt: bool = True,
) -> Bot:
    """A new paper bot for ``owner`` with ``bot``'s symbols and options (and its prompt
    when ``copy_prompt``; else ``CLONE_PROMPT``), and its own account funded with the
    arena's paper balance (through ``bot_create``).

    ``provider`` defaults to ``bot``'s and must be ``owner``'s: cloning another user's
    bot needs one of the cloner's own providers. ``name`` defaults to "<name> (copy)".
    """
    return bot_create(
        owner=owner, name=name or f"{bot.name} (copy)"[:100],
        prompt=bot.prompt if copy_prompt else CLONE_PROMPT,
        provider=provider or bot.provider, mode=Bot.Mode.PAPER, symbols=list(bot.symbols or []),
        sandbox_enabled=bot.sandbox_enabled, avatar=bot.avatar.name,
    )


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
        _bot_event("bot_reset", bot)
        change_record(obj=bot, action="reset", before=None, owner_id=bot.owner_id, now=now,
                      after={"stats_reset_at": now.isoformat(), "balance": format(bot.initial_balance, "f")})
    return bot


def bot_moderate(*, bot: Bot, reason: str, remove_avatar: bool = False) -> Bot:
    """A moderator's unlisting of ``bot`` (any user's), with the ``reason`` its owner is
    shown: listed nowhere, reasoning unpublished, and kept so until ``bot_moderation_lift``.
    ``remove_avatar`` also takes its picture away. On the audit trail and told to the owner."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationError({"reason": "Say why, in words the owner can act on."})
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    with transaction.atomic():
        row = Bot.objects.select_for_update().get(pk=bot.pk)
        before = fields_of(row, BOT_AUDITED)
        row.is_listed, row.reasoning_public, row.unlisted_reason = False, False, reason
        fields = ["is_listed", "reasoning_public", "unlisted_reason", "updated_at"]
        if remove_avatar and row.avatar:
            row.avatar = ""
            fields.append("avatar")
        row.save(update_fields=fields)
        _bot_event("bot_updated", row, changed=[f for f in fields if f != "updated_at"])
        _bot_change(row, "moderated", before)
    return row


def bot_moderation_lift(*, bot: Bot) -> Bot:
    """Lift a moderator's unlisting: the owner may list the bot again (it stays unlisted
    until they do)."""
    with transaction.atomic():
        row = Bot.objects.select_for_update().get(pk=bot.pk)
        if not row.unlisted_reason:
            raise ValidationError({"unlisted_reason": "No moderator unlisted this bot."})
        before = fields_of(row, BOT_AUDITED)
        row.unlisted_reason = ""
        row.save(update_fields=["unlisted_reason", "updated_at"])
        _bot_event("bot_updated", row, changed=["unlisted_reason"])
        _bot_change(row, "moderation_lifted", before)
    return row
