"""/api/wallets/: a user's exchange wallets (API keys for a real-money bot). The key and
secret are write-only: no response, log or error holds any of them; a response says only
whether each is stored. Scoped to the owner (admins see all): another user's wallet is a
404. A wallet's bot is set and cleared with ``bot`` (``trading.services.wallet_attach`` /
``wallet_detach``). ``verify/`` checks the keys on the exchange (``wallet_verify``): a real
bot trades only with a verified wallet."""
from __future__ import annotations

import django_filters
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.base import StrictModelSerializer, is_admin
from arena.api.bots import plain_text
from arena.api.errors import ERROR
from bots.models import Bot
from bots.selectors import bots_of
from trading import services as trading_services
from trading.models import Wallet
from trading.selectors import wallets_of
from trading.services.real import wallet_verify


def _no_spaces_or_markup(value: str) -> str:
    if any(ch.isspace() or ch in "<>" for ch in value):
        raise serializers.ValidationError("An address has no spaces, '<' or '>'.")
    return value


def _secret(name: str, *, required: bool) -> serializers.CharField:
    return serializers.CharField(
        write_only=True, required=required, max_length=500, trim_whitespace=True,
        style={"input_type": "password"}, help_text=f"Write-only; the exchange's {name}, stored encrypted, "
                                                    "never shown again.",
    )


class WalletSerializer(StrictModelSerializer):
    exchange = serializers.ChoiceField(choices=Wallet.Exchange.choices)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True, validators=[plain_text])
    api_key = _secret("API key", required=True)
    api_secret = _secret("API secret", required=True)
    has_api_key = serializers.SerializerMethodField(help_text="Whether an API key is stored.")
    has_api_secret = serializers.SerializerMethodField(help_text="Whether an API secret is stored.")
    base_url_effective = serializers.CharField(read_only=True,
                                               help_text="Where orders go: base_url, else the exchange's.")
    bot = serializers.PrimaryKeyRelatedField(
        queryset=Bot.objects.none(), required=False, allow_null=True,
        help_text="The real-money bot that trades with this wallet (one of yours), or null.",
    )
    address = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                    validators=[_no_spaces_or_markup],
                                    help_text="The account's on-chain address, where the exchange has one.")
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    verified_at = serializers.DateTimeField(
        read_only=True, allow_null=True,
        help_text="When a signed read on the exchange last succeeded with these keys; null: not verified (or "
                  "the keys or base URL changed since).")
    verify_error = serializers.CharField(read_only=True, help_text="Why the last verification failed.")
    withdrawals_enabled = serializers.BooleanField(
        read_only=True, allow_null=True,
        help_text="What the exchange reports of the keys' withdrawal permission; null: not reported.")
    verified_balance = serializers.DecimalField(
        max_digits=24, decimal_places=8, read_only=True, allow_null=True,
        help_text="The USDT balance the exchange reported at verification: a new real bot starts with it.")

    class Meta:
        model = Wallet
        fields = [
            "id", "exchange", "label", "base_url", "base_url_effective", "api_key", "api_secret",
            "has_api_key", "has_api_secret", "key_needs_reentry", "bot", "address", "is_active", "owner",
            "verified_at", "verify_error", "withdrawals_enabled", "verified_balance", "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "key_needs_reentry", "is_active", "owner", "verified_at", "verify_error",
                            "withdrawals_enabled", "verified_balance", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None and request.user.is_authenticated:
            # Only the user's own bots can be named (an admin's: anyone's; the service still
            # requires the wallet's owner): another user's bot is "not found".
            self.fields["bot"].queryset = bots_of(user_id=request.user.pk, see_all=is_admin(request.user))

    def get_has_api_key(self, wallet: Wallet) -> bool:
        return bool(wallet.api_key_encrypted)

    def get_has_api_secret(self, wallet: Wallet) -> bool:
        return bool(wallet.api_secret_encrypted)


class WalletUpdateSerializer(WalletSerializer):
    # Keys belong to one exchange: another exchange is another wallet.
    exchange = serializers.ChoiceField(choices=Wallet.Exchange.choices, read_only=True)
    api_key = _secret("API key", required=False)
    api_secret = _secret("API secret", required=False)

    class Meta(WalletSerializer.Meta):
        read_only_fields = [f for f in WalletSerializer.Meta.read_only_fields if f != "is_active"]


class WalletFilter(django_filters.FilterSet):
    # By id, not a choice of every bot: another user's bot id finds nothing, as a missing one does.
    bot = django_filters.NumberFilter(field_name="bot_id", help_text="The wallet of this bot.")
    is_active = django_filters.BooleanFilter(help_text="Default true: deleted wallets only with false.")

    class Meta:
        model = Wallet
        fields = ["exchange", "bot", "is_active"]


@extend_schema_view(
    list=extend_schema(summary="Your exchange wallets (admins: everyone's)"),
    retrieve=extend_schema(summary="One of your wallets", responses={200: WalletSerializer, 404: ERROR}),
)
class WalletViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"  # ids only: anything else is the API's 404
    serializer_class = WalletSerializer
    filterset_class = WalletFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        rows = wallets_of(user_id=self.request.user.pk, see_all=is_admin(self.request.user))
        if self.action == "list" and "is_active" not in self.request.query_params:
            rows = rows.filter(is_active=True)
        return rows

    def _fresh(self, wallet: Wallet) -> Wallet:
        return wallets_of(user_id=wallet.owner_id).get(pk=wallet.pk)

    @extend_schema(summary="Add a wallet (optionally for one of your real-money bots)",
                   request=WalletSerializer, responses={201: WalletSerializer, 400: ERROR})
    def create(self, request: Request) -> Response:
        form = WalletSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        bot = data.pop("bot", None)
        with transaction.atomic():
            wallet = trading_services.wallet_create(owner=request.user, **data)
            if bot is not None:
                wallet = trading_services.wallet_attach(wallet=wallet, bot=bot)
        return Response(WalletSerializer(self._fresh(wallet)).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a wallet: new keys replace the stored ones; bot attaches (null: detaches)",
                   request=WalletUpdateSerializer, responses={200: WalletSerializer, 400: ERROR, 404: ERROR})
    def partial_update(self, request: Request, pk=None) -> Response:
        wallet = self.get_object()
        form = WalletUpdateSerializer(wallet, data=request.data, partial=True, context={"request": request})
        form.is_valid(raise_exception=True)
        changes = dict(form.validated_data)
        with transaction.atomic():
            if "bot" in changes:
                bot = changes.pop("bot")
                if bot is None:
                    trading_services.wallet_detach(wallet=wallet)
                else:
                    trading_services.wallet_attach(wallet=wallet, bot=bot)
            if changes:
                trading_services.wallet_update(wallet=wallet, **changes)
        return Response(WalletSerializer(self._fresh(wallet)).data)

    @extend_schema(summary="Delete a wallet and its keys (refused while an active real-money bot uses it)",
                   responses={204: None, 400: ERROR, 404: ERROR})
    def destroy(self, request: Request, pk=None) -> Response:
        trading_services.wallet_delete(wallet=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Verify the wallet's keys on its exchange (a signed read)",
        description="Reads the balance, the keys' permissions and the position mode. Refused (400, the "
                    "reason also kept as `verify_error`) when the keys fail, may withdraw, or the account "
                    "is in hedge mode. A real bot trades only with a verified wallet.",
        request=None, responses={200: WalletSerializer, 400: ERROR, 404: ERROR},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def verify(self, request: Request, pk=None) -> Response:
        wallet = wallet_verify(wallet=self.get_object(), now=timezone.now())
        return Response(WalletSerializer(self._fresh(wallet)).data)
