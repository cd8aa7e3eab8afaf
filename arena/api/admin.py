"""/api/admin/: the arena admin's routes (IsArenaAdmin: anyone else gets a 403, anonymous a
401): users (suspend, reactivate, role, delete, password reset), the arena's counts, and
the bots that cannot trade as they stand. Users' e-mails appear here and nowhere else
but the user's own /api/auth/me/."""
from __future__ import annotations

import django_filters
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena import accounts, services
from arena.api.base import IsArenaAdmin, StrictModelSerializer
from arena.api.errors import ERROR
from arena.models import User
from arena.selectors import Orphan, arena_stats, bots_orphaned, orphan_reasons, users_for_admin
from bots.models import Bot

ADMIN = [IsAuthenticated, IsArenaAdmin]


class AdminUserSerializer(StrictModelSerializer):
    is_active = serializers.BooleanField(required=False,
                                         help_text="false suspends the user (and revokes their API tokens).")

    class Meta:
        model = User
        fields = ["id", "username", "email", "display_name", "role", "is_active", "is_superuser",
                  "date_joined", "last_login"]
        read_only_fields = ["id", "username", "email", "is_superuser", "date_joined", "last_login"]


class PasswordResetIssuedSerializer(serializers.Serializer):
    uid = serializers.CharField()
    token = serializers.CharField(help_text="One use, until the password or the last login changes.")
    redeem = serializers.CharField(help_text="Where the user sends uid, token and new_password (POST).")


class UserFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(field_name="username", lookup_expr="istartswith",
                                       help_text="Usernames starting with this (any case).")

    class Meta:
        model = User
        fields = ["role", "is_active", "search"]


@extend_schema_view(
    list=extend_schema(summary="Every user (admins)", responses={200: AdminUserSerializer(many=True),
                                                                401: ERROR, 403: ERROR}),
    retrieve=extend_schema(summary="One user (admins)", responses={200: AdminUserSerializer, 401: ERROR,
                                                                  403: ERROR, 404: ERROR}),
)
class AdminUserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"  # ids only: anything else is the API's 404
    serializer_class = AdminUserSerializer
    filterset_class = UserFilter
    permission_classes = ADMIN
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return users_for_admin()

    @extend_schema(summary="Change a user's role or display name, suspend or reactivate them (admins)",
                   request=AdminUserSerializer,
                   responses={200: AdminUserSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR})
    def partial_update(self, request: Request, pk=None) -> Response:
        user = self.get_object()
        form = AdminUserSerializer(user, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        with transaction.atomic():  # all the changes or none
            if "display_name" in data:
                accounts.user_update(user=user, display_name=data["display_name"])
            if "role" in data:
                services.user_set_role(user=user, role=data["role"], by=request.user)
            if "is_active" in data:
                services.user_set_active(user=user, active=data["is_active"], by=request.user)
        return Response(AdminUserSerializer(users_for_admin().get(pk=user.pk)).data)

    @extend_schema(summary="Delete a user: deactivated and anonymised; their bots stop, history stays",
                   responses={204: None, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR})
    def destroy(self, request: Request, pk=None) -> Response:
        user = self.get_object()
        if user.pk == request.user.pk:
            raise serializers.ValidationError({"id": ["You cannot delete yourself; ask another admin."]})
        accounts.user_delete(user=user)
        return Response(status=204)

    @extend_schema(summary="Issue a one-time password reset to hand to the user (admins)", request=None,
                   responses={200: PasswordResetIssuedSerializer, 400: ERROR, 401: ERROR, 403: ERROR,
                              404: ERROR})
    @action(detail=True, methods=["post"], url_path="password-reset")
    def password_reset(self, request: Request, pk=None) -> Response:
        uid, token = accounts.password_reset_issue(user=self.get_object())
        return Response({"uid": uid, "token": token, "redeem": reverse("auth-password-reset")})


class StatsView(APIView):
    permission_classes = ADMIN

    @extend_schema(
        summary="The arena's counts: users, bots, the last 24 hours' trades and decisions (admins)",
        responses={200: inline_serializer("AdminStats", {
            "users": inline_serializer("AdminStatsUsers", {"total": serializers.IntegerField(),
                                                           "active": serializers.IntegerField()}),
            "bots": inline_serializer("AdminStatsBots", {
                "total": serializers.IntegerField(help_text="Including deleted bots."),
                "active": serializers.IntegerField(),
                "paper": serializers.IntegerField(help_text="Active bots trading on paper."),
                "real": serializers.IntegerField(help_text="Active bots trading real money."),
            }),
            "trades_24h": serializers.IntegerField(),
            "decisions_24h": serializers.IntegerField(),
            "open_positions": serializers.IntegerField(),
            "at": serializers.DateTimeField(help_text="The end of the 24 hours counted."),
        }), 401: ERROR, 403: ERROR},
    )
    def get(self, request: Request) -> Response:
        stats = arena_stats(now=timezone.now())
        return Response({**stats, "at": serializers.DateTimeField().to_representation(stats["at"])})


class OrphanedBotSerializer(serializers.ModelSerializer):
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    owner_username = serializers.CharField(source="owner.username", read_only=True)
    provider_name = serializers.CharField(source="provider.name", read_only=True)
    reasons = serializers.SerializerMethodField()

    class Meta:
        model = Bot
        fields = ["id", "name", "mode", "is_paused", "owner", "owner_username", "provider", "provider_name",
                  "reasons"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=Orphan.ALL)))
    def get_reasons(self, bot: Bot) -> list[str]:
        return orphan_reasons(bot)


@extend_schema(summary="Active bots that cannot trade: owner inactive, provider unusable, real without a "
                       "usable wallet (admins)",
               responses={200: OrphanedBotSerializer(many=True), 401: ERROR, 403: ERROR})
class OrphanedBotsView(ListAPIView):
    permission_classes = ADMIN
    serializer_class = OrphanedBotSerializer
    filter_backends: list = []

    def get_queryset(self):
        return bots_orphaned()
