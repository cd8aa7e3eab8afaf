"""Reads about the arena as a whole: the settings' rules as data, the admin's counts, and
the bots that cannot trade as they stand."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Count, Q, QuerySet
from django.db.models import fields as model_fields

from arena.models import ApiToken, ArenaSettings, BotTurn, User
from bots.models import Bot, Decision
from trading.models import Position, Trade

# The model field types a settings form knows, by Django's internal type.
SETTING_TYPES = {
    "BooleanField": "boolean",
    "CharField": "string",
    "DateTimeField": "datetime",
    "DecimalField": "decimal",
    "IntegerField": "integer",
    "JSONField": "json",
    "PositiveIntegerField": "integer",
    "PositiveSmallIntegerField": "integer",
    "SmallIntegerField": "integer",
    "TextField": "string",
}
BOUND_LOOKUPS = {"gt", "gte", "lt", "lte"}


@dataclass
class Bound:
    """One side of a field's range; ``exclusive`` when the value itself is refused."""

    value: Decimal
    exclusive: bool

    def admits(self, value: int | Decimal, *, lower: bool) -> bool:
        """Whether ``value`` is on the allowed side of this bound (a minimum when ``lower``)."""
        if value == self.value:
            return not self.exclusive
        return value > self.value if lower else value < self.value


@dataclass
class SettingSpec:
    """What a settings form needs to know of one ArenaSettings field."""

    name: str
    type: str
    label: str
    help_text: str
    default: Any
    min: Bound | None = None
    max: Bound | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    choices: list[tuple[Any, str]] | None = None


def _tighter(current: Bound | None, new: Bound, *, lower: bool) -> Bound:
    if current is None:
        return new
    if new.value == current.value:
        return Bound(new.value, current.exclusive or new.exclusive)
    if lower:
        return new if new.value > current.value else current
    return new if new.value < current.value else current


def _constraint_bounds(condition: Q, found: dict[str, dict[str, Bound]]) -> None:
    """The bounds a check constraint's condition imposes on each field. Only terms every
    row must satisfy count: an AND of comparisons, never a branch of an OR or a NOT."""
    if condition.negated or condition.connector != Q.AND:
        return
    for child in condition.children:
        if isinstance(child, Q):
            _constraint_bounds(child, found)
            continue
        key, value = child
        name, _, lookup = key.rpartition("__")
        if lookup not in BOUND_LOOKUPS or not name or "__" in name or not isinstance(value, int | Decimal):
            continue
        lower = lookup in {"gt", "gte"}
        side = "min" if lower else "max"
        bound = Bound(Decimal(value), exclusive=lookup in {"gt", "lt"})
        found.setdefault(name, {})[side] = _tighter(found.get(name, {}).get(side), bound, lower=lower)


def arena_settings_specs() -> list[SettingSpec]:
    """Every field an admin may set on ArenaSettings, in the model's order, read from the
    model itself: its type, default, help text and choices, and its range from the field's
    validators and the table's check constraints (so the API and the database agree)."""
    constraint_bounds: dict[str, dict[str, Bound]] = {}
    for constraint in ArenaSettings._meta.constraints:
        condition = getattr(constraint, "condition", None)
        if isinstance(condition, Q):
            _constraint_bounds(condition, constraint_bounds)
    specs = []
    for model_field in ArenaSettings._meta.concrete_fields:
        if not model_field.editable:
            continue
        spec = SettingSpec(
            name=model_field.name,
            type=SETTING_TYPES.get(model_field.get_internal_type(), "string"),
            label=str(model_field.verbose_name),
            help_text=str(model_field.help_text),
            default=model_field.get_default(),
            choices=[(value, str(label)) for value, label in model_field.choices or []] or None,
        )
        if isinstance(model_field, model_fields.DecimalField):
            spec.max_digits, spec.decimal_places = model_field.max_digits, model_field.decimal_places
        for validator in model_field.validators:
            if isinstance(validator, MinValueValidator):
                spec.min = _tighter(spec.min, Bound(Decimal(validator.limit_value), False), lower=True)
            elif isinstance(validator, MaxValueValidator):
                spec.max = _tighter(spec.max, Bound(Decimal(validator.limit_value), False), lower=False)
        for side, bound in constraint_bounds.get(model_field.name, {}).items():
            if side == "min":
                spec.min = _tighter(spec.min, bound, lower=True)
            else:
                spec.max = _tighter(spec.max, bound, lower=False)
        specs.append(spec)
    return specs


def arena_stats(*, now: datetime) -> dict[str, Any]:
    """The admin's overview at ``now``: users, bots, and the last 24 hours' activity."""
    since = now - timedelta(hours=24)
    users = User.objects.aggregate(total=Count("id"), active=Count("id", filter=Q(is_active=True)))
    active_bot = Q(is_active=True)
    bots = Bot.objects.aggregate(
        total=Count("id"),
        active=Count("id", filter=active_bot),
        paper=Count("id", filter=active_bot & Q(mode=Bot.Mode.PAPER)),
        real=Count("id", filter=active_bot & Q(mode=Bot.Mode.REAL)),
    )
    return {
        "users": users,
        "bots": bots,
        # Served by trading_trade_recent_idx (executed_at DESC).
        "trades_24h": Trade.objects.filter(executed_at__gt=since, executed_at__lte=now).count(),
        "decisions_24h": Decision.objects.filter(created_at__gt=since, created_at__lte=now).count(),
        "open_positions": Position.objects.filter(status=Position.Status.OPEN).count(),
        "at": now,
    }


class Orphan:
    """Why an active bot cannot trade as it stands (codes a program can match)."""

    OWNER_INACTIVE = "owner_inactive"
    PROVIDER_INACTIVE = "provider_inactive"
    PROVIDER_KEY_NEEDS_REENTRY = "provider_key_needs_reentry"
    NO_WALLET = "no_wallet"
    WALLET_INACTIVE = "wallet_inactive"
    WALLET_KEY_NEEDS_REENTRY = "wallet_key_needs_reentry"
    ALL = [OWNER_INACTIVE, PROVIDER_INACTIVE, PROVIDER_KEY_NEEDS_REENTRY, NO_WALLET, WALLET_INACTIVE,
           WALLET_KEY_NEEDS_REENTRY]


def _real_wallet_unusable() -> Q:
    real = Q(mode=Bot.Mode.REAL)
    return real & (Q(wallet__isnull=True) | Q(wallet__is_active=False) | Q(wallet__key_needs_reentry=True))


def bots_orphaned() -> QuerySet[Bot]:
    """Active bots that cannot trade as they stand: their owner is suspended or deleted,
    their provider is inactive or needs its key again, or they are real-money bots without
    a usable wallet."""
    broken = (Q(owner__is_active=False) | Q(provider__is_active=False) | Q(provider__key_needs_reentry=True)
              | _real_wallet_unusable())
    return Bot.objects.filter(broken, is_active=True).select_related("owner", "provider", "wallet")


def orphan_reasons(bot: Bot) -> list[str]:
    """The ``Orphan`` codes that hold for ``bot`` (from its joined owner, provider, wallet)."""
    reasons = []
    if not bot.owner.is_active:
        reasons.append(Orphan.OWNER_INACTIVE)
    if not bot.provider.is_active:
        reasons.append(Orphan.PROVIDER_INACTIVE)
    if bot.provider.key_needs_reentry:
        reasons.append(Orphan.PROVIDER_KEY_NEEDS_REENTRY)
    if bot.mode == Bot.Mode.REAL:
        wallet = getattr(bot, "wallet", None)
        if wallet is None:
            reasons.append(Orphan.NO_WALLET)
        elif not wallet.is_active:
            reasons.append(Orphan.WALLET_INACTIVE)
        elif wallet.key_needs_reentry:
            reasons.append(Orphan.WALLET_KEY_NEEDS_REENTRY)
    return reasons


def users_for_admin() -> QuerySet[User]:
    """Every user, for the admin's list (filtered and searched by the API)."""
    return User.objects.all()


def bots_for_moderation() -> QuerySet[Bot]:
    """The bots a moderator looks after: every live bot the public sees, and every one a
    moderator has unlisted."""
    return (Bot.objects.filter(is_active=True).filter(Q(is_listed=True) | ~Q(unlisted_reason=""))
            .select_related("owner").order_by("-id"))


def users_for_moderation() -> QuerySet[User]:
    """Every user, for a moderator's list (the API shows no e-mail there)."""
    return User.objects.all()


def bot_turns_of(*, bot_id: int) -> QuerySet[BotTurn]:
    """The bot's part in each turn, newest first (the turn read with it)."""
    return BotTurn.objects.filter(bot_id=bot_id).select_related("turn").order_by("-id")


def tokens_of(*, user_id: int) -> QuerySet[ApiToken]:
    """A user's API tokens, newest first (their digests only: the tokens are not stored)."""
    return ApiToken.objects.filter(user_id=user_id).order_by("-created")
