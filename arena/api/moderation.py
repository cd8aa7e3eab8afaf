"""/api/moderation/: what a moderator does (IsArenaModerator: the moderator role and every
admin; anyone else gets a 403, anonymous a 401). A moderator keeps the public side of the
arena fit to read: unlists any user's bot with a reason its owner sees (the owner cannot
list it again until a moderator lifts that), removes an avatar, and suspends or reactivates
plain users (moderators and admins are the admins' to manage). Every act is on the audit
trail with its reason. Moderators see usernames but never e-mails, keys, prompts or
reasoning the owner has not published."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from arena import services
from arena.api.base import StrictSerializer
from arena.api.errors import ERROR
from arena.models import User
from arena.selectors import bots_for_moderation, users_for_moderation
from bots import services as bot_services
from bots.models import Bot


class IsArenaModerator(permissions.BasePermission):
    message = "Only an arena moderator or admin can do this."

    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "is_arena_moderator", False))


MODERATORS = [IsAuthenticated, IsArenaModerator]


class ModeratedBotSerializer(serializers.ModelSerializer):
    owner = serializers.IntegerField(source="owner_id", read_only=True)
    owner_username = serializers.CharField(source="owner.username", read_only=True)
    owner_name = serializers.CharField(source="owner.public_name", read_only=True)
    avatar = serializers.FileField(read_only=True, use_url=True, allow_null=True)

    class Meta:
        model = Bot
        fields = ["id", "name", "avatar", "owner", "owner_username", "owner_name", "mode", "is_listed",
                  "reasoning_public", "unlisted_reason", "created_at", "updated_at"]
        read_only_fields = fields


class UnlistSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, help_text="Shown to the owner; say what to change.")
    remove_avatar = serializers.BooleanField(default=False, help_text="Take the bot's picture away too.")


class ReasonSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                   help_text="Kept on the audit trail.")


class ModeratedUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "display_name", "role", "is_active", "date_joined", "last_login"]
        read_only_fields = fields


class ModeratedBotFilter(django_filters.FilterSet):
    moderated = django_filters.BooleanFilter(method="_moderated",
                                             help_text="true: unlisted by a moderator; false: listed.")
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains",
                                       help_text="Bots whose name holds this (any case).")

    class Meta:
        model = Bot
        fields = ["moderated", "search"]

    def _moderated(self, rows, name, value):
        return rows.exclude(unlisted_reason="") if value else rows.filter(unlisted_reason="")


class ModeratedUserFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(field_name="username", lookup_expr="istartswith",
                                       help_text="Usernames starting with this (any case).")

    class Meta:
        model = User
        fields = ["role", "is_active", "search"]


@extend_schema_view(
    list=extend_schema(summary="Listed bots, and the ones moderators unlisted (moderators)"),
    retrieve=extend_schema(summary="One bot as a moderator sees it (moderators)",
                           responses={200: ModeratedBotSerializer, 401: ERROR, 403: ERROR, 404: ERROR}),
)
class ModeratedBotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = ModeratedBotSerializer
    filterset_class = ModeratedBotFilter
    permission_classes = MODERATORS

    def get_queryset(self):
        return bots_for_moderation()

    @extend_schema(summary="Unlist a bot with a reason its owner sees; it stays private until lifted",
                   request=UnlistSerializer,
                   responses={200: ModeratedBotSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], filterset_class=None)
    def unlist(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        form = UnlistSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        bot = bot_services.bot_moderate(bot=bot, **form.validated_data)
        return Response(ModeratedBotSerializer(bot, context={"request": request}).data)

    @extend_schema(summary="Lift an unlisting: the owner may list the bot again",
                   request=None,
                   responses={200: ModeratedBotSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], filterset_class=None)
    def lift(self, request: Request, pk=None) -> Response:
        bot = bot_services.bot_moderation_lift(bot=self.get_object())
        return Response(ModeratedBotSerializer(bot, context={"request": request}).data)


@extend_schema_view(
    list=extend_schema(summary="Every user, without e-mails (moderators)"),
    retrieve=extend_schema(summary="One user (moderators)",
                           responses={200: ModeratedUserSerializer, 401: ERROR, 403: ERROR, 404: ERROR}),
)
class ModeratedUserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"
    serializer_class = ModeratedUserSerializer
    filterset_class = ModeratedUserFilter
    permission_classes = MODERATORS

    def get_queryset(self):
        return users_for_moderation()

    def _set_active(self, request: Request, active: bool) -> Response:
        user = self.get_object()
        form = ReasonSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.user_set_active(user=user, active=active, by=request.user,
                                 reason=form.validated_data.get("reason", ""))
        return Response(ModeratedUserSerializer(users_for_moderation().get(pk=user.pk)).data)

    @extend_schema(summary="Suspend a plain user (their API tokens are revoked; they can do nothing)",
                   request=ReasonSerializer,
                   responses={200: ModeratedUserSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], filterset_class=None)
    def suspend(self, request: Request, pk=None) -> Response:
        return self._set_active(request, False)

    @extend_schema(summary="Reactivate a suspended plain user",
                   request=ReasonSerializer,
                   responses={200: ModeratedUserSerializer, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], filterset_class=None)
    def reactivate(self, request: Request, pk=None) -> Response:
        return self._set_active(request, True)
