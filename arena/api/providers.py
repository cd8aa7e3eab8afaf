"""/api/providers/: a user's LLM providers. The API key is write-only: no response, log
or error ever holds it; a response says only whether one is stored. A base URL must pass
the arena's outbound rules (``trading.outbound``; a 400 on ``base_url`` otherwise), and
``POST /api/providers/{id}/test/`` makes one small real call to say whether it works."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from arena.api.base import StrictModelSerializer, is_admin
from arena.api.bots import plain_text
from arena.api.errors import ERROR
from bots import services as bot_services
from bots.models import LLMProvider
from bots.providers.probe import provider_probe
from bots.selectors import providers_of


class ProviderSerializer(StrictModelSerializer):
    name = serializers.CharField(max_length=100, validators=[plain_text])
    api_key = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=500, trim_whitespace=True,
        style={"input_type": "password"}, help_text="Write-only; stored encrypted, never shown again.",
    )
    has_api_key = serializers.SerializerMethodField(help_text="Whether a key is stored.")
    options = serializers.JSONField(required=False,
                                    help_text='Extra request parameters, e.g. {"temperature": 0.2}.')
    owner = serializers.IntegerField(source="owner_id", read_only=True)

    class Meta:
        model = LLMProvider
        fields = [
            "id", "name", "kind", "base_url", "model", "api_key", "has_api_key", "key_needs_reentry",
            "input_price_per_mtok", "output_price_per_mtok", "timeout_seconds", "max_retries", "options",
            "is_active", "owner", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "key_needs_reentry", "owner", "created_at", "updated_at"]
        extra_kwargs = {"timeout_seconds": {"min_value": 1, "max_value": 900},
                        "input_price_per_mtok": {"min_value": 0}, "output_price_per_mtok": {"min_value": 0},
                        "max_retries": {"min_value": 0, "max_value": 10}}

    def get_has_api_key(self, provider: LLMProvider) -> bool:
        return bool(provider.api_key_encrypted)

    def validate_options(self, options):
        if not isinstance(options, dict):
            raise serializers.ValidationError("An object of request parameters.")
        if len(str(options)) > 5_000:
            raise serializers.ValidationError("At most 5,000 characters of options.")
        return options


class ProviderUpdateSerializer(ProviderSerializer):
    class Meta(ProviderSerializer.Meta):
        read_only_fields = [*ProviderSerializer.Meta.read_only_fields, "kind"]


class ProviderProbeSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="Whether the provider answered.")
    latency_ms = serializers.IntegerField(help_text="How long the call took, failures included.")
    model = serializers.CharField(help_text="The model that answered (the server's name for it), "
                                  "or the configured one when the call failed.")
    error = serializers.CharField(allow_null=True, help_text="Why the call failed, in the vendor's words "
                                  "(never the key); null when it worked.")


class ProviderFilter(django_filters.FilterSet):
    class Meta:
        model = LLMProvider
        fields = ["kind", "is_active"]


@extend_schema_view(
    list=extend_schema(summary="Your LLM providers (admins: everyone's)"),
    retrieve=extend_schema(summary="One of your providers", responses={200: ProviderSerializer, 404: ERROR}),
)
class ProviderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"  # ids only: anything else is the API's 404
    throttle_scope = "probe"  # counted only where ScopedRateThrottle applies: the test action
    serializer_class = ProviderSerializer
    filterset_class = ProviderFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return providers_of(user_id=self.request.user.pk, see_all=is_admin(self.request.user))

    @extend_schema(summary="Add a provider", request=ProviderSerializer,
                   responses={201: ProviderSerializer, 400: ERROR})
    def create(self, request: Request) -> Response:
        form = ProviderSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        if providers_of(user_id=request.user.pk).filter(name=data["name"]).exists():
            raise serializers.ValidationError({"name": ["You already have a provider with this name."]})
        provider = bot_services.provider_create(owner=request.user, **data)
        return Response(ProviderSerializer(provider).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Change a provider (a new api_key replaces the stored one)",
                   request=ProviderUpdateSerializer,
                   responses={200: ProviderSerializer, 400: ERROR, 404: ERROR})
    def partial_update(self, request: Request, pk=None) -> Response:
        provider = self.get_object()
        form = ProviderUpdateSerializer(provider, data=request.data, partial=True,
                                        context={"request": request})
        form.is_valid(raise_exception=True)
        provider = bot_services.provider_update(provider=provider, **form.validated_data)
        return Response(ProviderSerializer(provider).data)

    @extend_schema(summary="Test the connection: one small real call (10 s at most, no retries)",
                   description="Answers 200 whether or not the provider works: ``ok`` and ``error`` say "
                   "which. The built-in scripted provider answers at once, offline.",
                   request=None, responses={200: ProviderProbeSerializer, 404: ERROR})
    @action(detail=True, methods=["post"], url_path="test", throttle_classes=[ScopedRateThrottle])
    def probe(self, request: Request, pk=None) -> Response:
        return Response(ProviderProbeSerializer(provider_probe(provider=self.get_object())).data)

    @extend_schema(summary="Delete a provider no active bot uses",
                   responses={204: None, 400: ERROR, 404: ERROR})
    def destroy(self, request: Request, pk=None) -> Response:
        bot_services.provider_delete(provider=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
