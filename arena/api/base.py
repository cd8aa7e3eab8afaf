"""What every API module shares: strict serializers and the admin check."""
from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, permissions, serializers

from arena.models import ArenaSettings


class Strict:
    """A serializer mixin that refuses fields it does not know (400 naming them), so a
    misspelt field is an error instead of a silent no-op. Read-only fields sent in a
    request are refused too: they cannot be set."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                known = ", ".join(sorted(writable)) or "none"
                raise serializers.ValidationError(
                    {name: [f"Unknown or read-only field; the fields you can send are: {known}."]
                     for name in unknown}
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class StrictSerializer(Strict, serializers.Serializer):
    pass


class StrictModelSerializer(Strict, serializers.ModelSerializer):
    pass


def is_admin(user: Any) -> bool:
    return bool(getattr(user, "is_arena_admin", False))


class IsArenaAdmin(permissions.BasePermission):
    """The admin role (or a superuser); everyone else gets a 403 with the reason."""

    message = "Only an arena admin can do this."

    def has_permission(self, request, view) -> bool:
        return is_admin(request.user)


class PublicArena(permissions.BasePermission):
    """Anyone while the arena is public (``ArenaSettings.public_arena``), else signed-in users:
    the routes spectators read (public bots, leaderboard, markets). An anonymous caller of a
    private arena gets a 401 saying so."""

    message = "This arena is private: sign in to watch it."

    def has_permission(self, request, view) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        if not ArenaSettings.load().public_arena:
            raise exceptions.NotAuthenticated(self.message)  # DRF would name no reason
        return True


def filter_parameters(filterset_class) -> list[OpenApiParameter]:
    """The query parameters of ``filterset_class`` for the schema, for a list served by a
    detail route (a bot's trades), where drf-spectacular would look at the bot's model."""
    parameters = []
    for name, field in filterset_class.base_filters.items():
        if isinstance(field, django_filters.BooleanFilter):
            kind = OpenApiTypes.BOOL
        elif isinstance(field, django_filters.IsoDateTimeFilter):
            kind = OpenApiTypes.DATETIME
        elif isinstance(field, django_filters.NumberFilter | django_filters.ModelChoiceFilter):
            kind = OpenApiTypes.INT
        else:
            kind = OpenApiTypes.STR
        choices = field.extra.get("choices")
        enum = [value for value, _ in choices] if choices and not callable(choices) else None
        description = str(field.extra.get("help_text") or field.label or "")
        parameters.append(OpenApiParameter(name, kind, OpenApiParameter.QUERY, required=False, enum=enum,
                                           description=description))
    return parameters


def filtered(filterset_class, rows, request):
    """``rows`` narrowed by ``filterset_class`` from the query string; a bad value is a 400
    naming the parameter."""
    form = filterset_class(request.query_params, queryset=rows, request=request)
    if not form.is_valid():
        raise serializers.ValidationError(form.errors)
    return form.qs


class PagedLists:
    """For a viewset whose detail routes list related rows (a bot's trades): filter them by
    a FilterSet from the query string and answer one cursor page."""

    def _page(self, rows, serializer_class, filterset_class=None):
        if filterset_class is not None:
            rows = filtered(filterset_class, rows, self.request)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(serializer_class(page, many=True).data)
