"""What /api/bots/ reads and writes: a bot, a new bot (or a clone), and the list's filters."""
from __future__ import annotations

from decimal import Decimal

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from arena.api.base import StrictModelSerializer
from bots import services as bot_services
from bots.avatars import avatar_checked
from bots.models import Bot, LLMProvider
from bots.selectors import (
    bots_listed,
    bots_of,
    providers_of,
)
from bots.services.bots import bot_create_real, bot_real_validate
from trading.models import Wallet
from trading.selectors import symbols_tradable

MAX_PROMPT_CHARS = 10_000
_LIMIT_MESSAGE = "A limit is a positive amount of USDT; send null for no limit."


def _limit(help_text: str) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=24, decimal_places=8, min_value=Decimal("0.00000001"), required=False, allow_null=True,
        help_text=help_text, error_messages={"min_value": _LIMIT_MESSAGE},
    )


def plain_text(value: str) -> str:
    """A name is shown in pages and other people's feeds: no markup in it."""
    if any(ch in value for ch in "<>"):
        raise serializers.ValidationError("Use plain text: '<' and '>' are not allowed in a name.")
    if value != value.strip() or not value:
        raise serializers.ValidationError("A name cannot be empty or start or end with spaces.")
    return value


class BotSerializer(StrictModelSerializer):
    provider = serializers.PrimaryKeyRelatedField(
        queryset=LLMProvider.objects.none(), help_text="One of your providers."
    )
    name = serializers.CharField(max_length=100, validators=[plain_text])
    prompt = serializers.CharField(max_length=MAX_PROMPT_CHARS, trim_whitespace=False,
                                   help_text="The bot's instructions; {{placeholders}} are filled each turn.")
    symbols = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, max_length=50,
        help_text='Symbols to trade, e.g. ["BTCUSDT"]; empty = the arena\'s defaults.',
    )
    avatar = serializers.FileField(
        required=False, allow_null=True, use_url=True,
        help_text="PNG, JPEG, GIF or WebP, at most 512 KiB (multipart/form-data); null removes it.",
    )
    provider_name = serializers.CharField(source="provider.name", read_only=True)
    model = serializers.CharField(source="provider.model", read_only=True)
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    balance = serializers.DecimalField(source="account.balance", max_digits=24, decimal_places=8,
                                       read_only=True, help_text="Cash not locked as margin (USDT).")
    max_order_notional = _limit("The largest notional (USDT) one opening order may have; null = no limit.")
    max_exposure = _limit("The largest notional (USDT) of all open positions together; null = no limit.")

    class Meta:
        model = Bot
        fields = [
            "id", "name", "prompt", "provider", "provider_name", "model", "mode", "symbols",
            "sandbox_enabled", "is_paused", "is_active", "is_listed", "reasoning_public", "unlisted_reason",
            "avatar", "initial_balance", "balance", "max_order_notional", "max_exposure", "stats_reset_at",
            "owner", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "mode", "is_active", "unlisted_reason", "initial_balance", "stats_reset_at",
                            "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Only the user's own providers can be named: another user's is "not found".
            self.fields["provider"].queryset = providers_of(user_id=request.user.pk)

    def validate_avatar(self, upload):
        if upload is None:
            return ""  # removes the avatar
        try:
            return avatar_checked(upload)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None

    def validate_symbols(self, symbols: list[str]) -> list[str]:
        known = symbols_tradable()
        unknown = [s for s in symbols if s not in known]
        if unknown:
            raise serializers.ValidationError(
                f"Unknown symbol(s) {', '.join(unknown)}; tradable: {', '.join(sorted(known))}."
            )
        if len(set(symbols)) != len(symbols):
            raise serializers.ValidationError("A symbol is listed twice.")
        return symbols


class BotCreateSerializer(BotSerializer):
    mode = serializers.ChoiceField(choices=Bot.Mode.choices, default=Bot.Mode.PAPER)
    confirm_real = serializers.BooleanField(
        required=False, default=False, write_only=True,
        help_text="Must be true for a real-money bot: its orders go to your exchange account.",
    )
    wallet = serializers.PrimaryKeyRelatedField(
        queryset=Wallet.objects.none(), required=False, allow_null=True, write_only=True,
        help_text="A real bot's wallet: one of yours, verified, not yet used by another bot. The bot "
                  "starts with the balance the exchange reported when it was verified.",
    )
    password = serializers.CharField(
        required=False, write_only=True, max_length=128, trim_whitespace=False,
        style={"input_type": "password"},
        help_text="A real-money bot: your password, typed again (never stored or echoed back).",
    )

    class Meta(BotSerializer.Meta):
        fields = [*BotSerializer.Meta.fields, "confirm_real", "wallet", "password"]
        read_only_fields = [f for f in BotSerializer.Meta.read_only_fields if f != "mode"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            self.fields["wallet"].queryset = Wallet.objects.filter(owner=request.user, bot__isnull=True,
                                                                   is_active=True)

    def validate(self, data):
        request = self.context["request"]
        # The owner, provider and mode rules of every bot, before the API's own.
        bot_services.bot_validate(owner=request.user, provider=data["provider"], mode=data.get("mode"))
        if data.get("mode") == Bot.Mode.REAL:
            errors = {}
            if not data.get("confirm_real"):
                errors["confirm_real"] = [
                    "A real-money bot trades your exchange account: send true to confirm."]
            if not data.get("wallet"):
                errors["wallet"] = ["A real-money bot needs one of your wallets."]
            try:
                bot_real_validate(owner=request.user, password=data.get("password", ""),
                                  wallet=data.get("wallet"))
            except DjangoValidationError as exc:
                for field, messages in exc.message_dict.items():
                    errors.setdefault(field, messages)
            if errors:
                raise serializers.ValidationError(errors)
        elif data.get("wallet"):
            raise serializers.ValidationError({"wallet": ["Only a real-money bot takes a wallet."]})
        return data


def bot_create_validated(*, owner, data: dict) -> Bot:
    """Create the bot a ``BotCreateSerializer`` accepted (the API and the bot editor): a
    real one through ``bot_create_real`` (password, wallet, the exchange's balance), a
    paper one through ``bot_create``."""
    fields = dict(data)
    fields.pop("confirm_real", None)
    wallet, password = fields.pop("wallet", None), fields.pop("password", "")
    if fields.get("mode") == Bot.Mode.REAL:
        fields.pop("mode")
        return bot_create_real(owner=owner, password=password, wallet=wallet, **fields)
    return bot_services.bot_create(owner=owner, **fields)


class CloneSerializer(StrictModelSerializer):
    clone_from = serializers.PrimaryKeyRelatedField(
        queryset=Bot.objects.none(), help_text="Any listed bot, or one of yours: a new paper bot of yours."
    )
    name = serializers.CharField(max_length=100, validators=[plain_text], required=False)
    provider = serializers.PrimaryKeyRelatedField(
        queryset=LLMProvider.objects.none(), required=False,
        help_text="One of your providers (required when cloning another user's bot).",
    )

    class Meta:
        model = Bot
        fields = ["clone_from", "name", "provider"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            user = request.user
            self.fields["clone_from"].queryset = (bots_listed() | bots_of(user_id=user.pk)).distinct()
            self.fields["provider"].queryset = providers_of(user_id=user.pk)


class BotFilter(django_filters.FilterSet):
    is_active = django_filters.BooleanFilter(help_text="Default true: deleted bots only with false.")

    class Meta:
        model = Bot
        fields = ["mode", "provider", "is_paused", "is_active", "is_listed"]
