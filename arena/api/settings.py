"""/api/settings/: the arena's rules (fees, minimum trade, cooldowns, intervals, default
symbols, position limits) for every signed-in user; admins change or reset them. A change
moves the periodic tasks to the new intervals at once (``arena_settings_save``)."""
from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena import services
from arena.api.base import IsArenaAdmin, StrictModelSerializer
from arena.api.errors import ERROR
from arena.models import ArenaSettings
from arena.selectors import SETTING_TYPES, Bound, SettingSpec, arena_settings_specs


class ArenaSettingsSerializer(StrictModelSerializer):
    default_symbols = serializers.ListField(
        child=serializers.CharField(max_length=32), max_length=200,
        help_text='Symbols a bot trades unless it lists its own, e.g. ["BTCUSDT", "ETHUSDT"].',
    )

    class Meta:
        model = ArenaSettings
        exclude = ["id"]
        read_only_fields = ["updated_at"]


class ChoiceSerializer(serializers.Serializer):
    value = serializers.JSONField()
    label = serializers.CharField()


class SettingSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=sorted(set(SETTING_TYPES.values())))
    label = serializers.CharField()
    help_text = serializers.CharField(allow_blank=True)
    default = serializers.JSONField(help_text="As GET /api/settings/ shows the value (decimals as strings).")
    min = serializers.CharField(allow_null=True, help_text="The smallest value allowed (a decimal string).")
    min_exclusive = serializers.BooleanField(allow_null=True, help_text="True: the value must be above min.")
    max = serializers.CharField(allow_null=True, help_text="The largest value allowed (a decimal string).")
    max_exclusive = serializers.BooleanField(allow_null=True, help_text="True: the value must be below max.")
    max_digits = serializers.IntegerField(allow_null=True)
    decimal_places = serializers.IntegerField(allow_null=True)
    choices = ChoiceSerializer(many=True, allow_null=True)


def _bound(bound: Bound | None) -> tuple[str | None, bool | None]:
    return (None, None) if bound is None else (str(bound.value), bound.exclusive)


def spec_data(spec: SettingSpec, fields: dict[str, serializers.Field]) -> dict:
    """One setting's description; its default shown as GET /api/settings/ would show it."""
    minimum, min_exclusive = _bound(spec.min)
    maximum, max_exclusive = _bound(spec.max)
    return {
        "name": spec.name, "type": spec.type, "label": spec.label, "help_text": spec.help_text,
        "default": fields[spec.name].to_representation(spec.default),
        "min": minimum, "min_exclusive": min_exclusive, "max": maximum, "max_exclusive": max_exclusive,
        "max_digits": spec.max_digits, "decimal_places": spec.decimal_places,
        "choices": None if spec.choices is None else [{"value": v, "label": t} for v, t in spec.choices],
    }


class SettingsView(APIView):
    def get_permissions(self):
        if self.request.method == "PATCH":
            return [IsAuthenticated(), IsArenaAdmin()]
        return [IsAuthenticated()]

    @extend_schema(summary="The arena's rules: fees, minimum trade, cooldowns, intervals, symbols, limits",
                   responses={200: ArenaSettingsSerializer, 401: ERROR})
    def get(self, request: Request) -> Response:
        return Response(ArenaSettingsSerializer(ArenaSettings.load()).data)

    @extend_schema(summary="Change arena settings (admins); new intervals apply without a restart",
                   request=ArenaSettingsSerializer,
                   responses={200: ArenaSettingsSerializer, 400: ERROR, 401: ERROR, 403: ERROR})
    def patch(self, request: Request) -> Response:
        form = ArenaSettingsSerializer(ArenaSettings.load(), data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        arena = services.arena_settings_update(changes=dict(form.validated_data))
        return Response(ArenaSettingsSerializer(arena).data)


class SettingsMetadataView(APIView):
    @extend_schema(summary="What each arena setting is: type, default, range, help text, choices",
                   responses={200: SettingSpecSerializer(many=True), 401: ERROR})
    def get(self, request: Request) -> Response:
        fields = ArenaSettingsSerializer().fields
        return Response([spec_data(spec, fields) for spec in arena_settings_specs()])


class SettingsResetView(APIView):
    permission_classes = [IsAuthenticated, IsArenaAdmin]

    @extend_schema(summary="Put every arena setting back to its default (admins)", request=None,
                   responses={200: ArenaSettingsSerializer, 401: ERROR, 403: ERROR})
    def post(self, request: Request) -> Response:
        return Response(ArenaSettingsSerializer(services.arena_settings_reset()).data)
