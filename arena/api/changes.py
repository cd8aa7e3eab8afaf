"""/api/changes/: the audit trail — who changed which bot, provider, wallet, setting or
user, when, through which interface, and each field before and after (secrets only as
"(changed)"). Owners read the trail of their own objects; admins read everything."""
from __future__ import annotations

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.base import IsArenaAdmin, is_admin
from arena.api.errors import ERROR
from ledger.models import Change
from ledger.selectors import change_stats, changes_visible


class ChangeSerializer(serializers.ModelSerializer):
    changes = serializers.JSONField(help_text='{"field": [before, after]}; a secret shows only "(changed)".')

    class Meta:
        model = Change
        fields = ["id", "at", "actor", "actor_name", "interface", "object_type", "object_id", "object_repr",
                  "action", "changes", "owner"]
        read_only_fields = fields


class ChangeFilter(django_filters.FilterSet):
    object_type = django_filters.CharFilter(help_text='e.g. "bots.Bot", "bots.LLMProvider", "arena.User".')
    object_id = django_filters.CharFilter()
    after = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = Change
        fields = ["object_type", "object_id", "action", "interface", "actor"]


@extend_schema_view(
    list=extend_schema(summary="The audit trail of your objects (admins: of everything)"),
    retrieve=extend_schema(summary="One change", responses={200: ChangeSerializer, 404: ERROR}),
)
class ChangeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"  # ids only: anything else is the API's 404
    serializer_class = ChangeSerializer
    filterset_class = ChangeFilter
    queryset = Change.objects.none()  # for the schema; requests use get_queryset

    def get_queryset(self):
        return changes_visible(user_id=self.request.user.pk, see_all=is_admin(self.request.user))

    @extend_schema(
        summary="How many changes, by action and by interface (admins)",
        responses={200: inline_serializer("ChangeStats", {
            "total": serializers.IntegerField(), "last_24h": serializers.IntegerField(),
            "by_action": serializers.DictField(child=serializers.IntegerField()),
            "by_interface": serializers.DictField(child=serializers.IntegerField()),
        }), 403: ERROR},
    )
    @action(detail=False, methods=["get"], permission_classes=[IsArenaAdmin], filterset_class=None)
    def stats(self, request: Request) -> Response:
        return Response(change_stats(now=timezone.now()))
