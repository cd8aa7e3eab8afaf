"""Real money in the API: a real bot's reconciliations and the discrepancies they found
(served under /api/bots/{id}/, ``arena.api.bots.views``), and ``/api/real-trading/``: the
state of real trading (the switch, the viewer's real bots and how their last check went)
and the admins' kill switch (``arena.real``), which asks for the password again."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.base import StrictSerializer, is_admin
from arena.api.errors import ERROR
from arena.real import kill_switch_engage, kill_switch_release, kill_switch_state
from bots.models import Bot
from bots.selectors import bots_of
from ledger.models import Change
from trading.models import Discrepancy, Reconciliation

# A plain string in the schema: "status" already names other choice sets there (turns,
# positions), and an enum of the same name would collide.
_STATUS_HELP = "running, agreed (nothing unexplained), differences (see its discrepancies) or failed."


class ReconciliationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=_STATUS_HELP)
    summary = serializers.JSONField(read_only=True,
                                    help_text="What the run found and did: closed, imported, cancelled, "
                                              "flagged (discrepancy ids), notes.")

    class Meta:
        model = Reconciliation
        fields = ["id", "bot", "wallet", "trigger", "status", "started_at", "finished_at", "summary",
                  "exchange_balance", "ledger_balance", "error"]
        read_only_fields = fields


class DiscrepancySerializer(serializers.ModelSerializer):
    is_open = serializers.SerializerMethodField(help_text="Not resolved yet.")
    resolved_by = serializers.SerializerMethodField(help_text="Who resolved it (display name), or null.")

    class Meta:
        model = Discrepancy
        fields = ["id", "bot", "reconciliation", "kind", "key", "symbol", "detail", "amount", "entry",
                  "created_at", "is_open", "resolved_at", "resolved_by", "resolution"]
        read_only_fields = fields

    def get_is_open(self, row: Discrepancy) -> bool:
        return row.resolved_at is None

    def get_resolved_by(self, row: Discrepancy) -> str | None:
        return row.resolved_by.public_name if row.resolved_by else None


class ResolveSerializer(StrictSerializer):
    resolution = serializers.CharField(max_length=5000, allow_blank=True,
                                       help_text="How it was resolved: shown on the bot's records.")


class DiscrepancyFilterSerializer(serializers.Serializer):
    open = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text="true: open only; false: resolved only; absent: all.")


def _password(**extra: Any) -> serializers.CharField:
    return serializers.CharField(write_only=True, max_length=128, trim_whitespace=False,
                                 style={"input_type": "password"},
                                 help_text="Your own password, typed again: never stored or echoed.", **extra)


class KillSwitchEngageSerializer(StrictSerializer):
    password = _password()
    close_positions = serializers.BooleanField(
        required=False, default=False, help_text="Also close every open real position on its exchange now.")


class KillSwitchReleaseSerializer(StrictSerializer):
    password = _password()


class KillSwitchStateSerializer(serializers.Serializer):
    engaged_at = serializers.DateTimeField(allow_null=True, help_text="Null: not engaged.")
    engaged_by = serializers.CharField(help_text="The admin's display name; empty when not engaged.")


class LastCheckSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    status = serializers.CharField(help_text=_STATUS_HELP)
    error = serializers.CharField()


class RealBotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    paused = serializers.BooleanField(source="is_paused")
    wallet = serializers.CharField(allow_null=True, help_text="The wallet's label (or its name), or null.")
    last_reconciliation = LastCheckSerializer(allow_null=True)
    open_discrepancies = serializers.IntegerField()


class RealTradingSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="REAL_TRADING_ENABLED on this server.")
    kill_switch = KillSwitchStateSerializer()
    bots = RealBotSerializer(many=True)


KILL_REPORT = inline_serializer("KillReport", {
    "paused": serializers.ListField(child=serializers.IntegerField(), help_text="The bots it paused."),
    "closed": serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                    help_text="Per bot id, one note per position it closed (or could not)."),
})


def real_bots_overview(user: Any) -> list[dict[str, Any]]:
    """The viewer's active real bots (an admin's: every one) with their wallet, their last
    reconciliation and how many of their discrepancies are open."""
    last = Reconciliation.objects.filter(bot_id=OuterRef("pk")).order_by("-started_at", "-id")
    rows = (bots_of(user_id=user.pk, see_all=is_admin(user)).filter(mode=Bot.Mode.REAL, is_active=True)
            .select_related("wallet")
            .annotate(last_id=Subquery(last.values("pk")[:1]),
                      open_count=Count("discrepancies", filter=Q(discrepancies__resolved_at__isnull=True)))
            .order_by("name", "pk"))
    bots = list(rows)
    checks = Reconciliation.objects.in_bulk([b.last_id for b in bots if b.last_id])
    out = []
    for bot in bots:
        check = checks.get(bot.last_id)
        wallet = getattr(bot, "wallet", None)
        out.append({
            "id": bot.pk, "name": bot.name, "is_paused": bot.is_paused,
            "wallet": str(wallet) if wallet else None, "open_discrepancies": bot.open_count,
            "last_reconciliation": ({"at": check.started_at, "status": check.status, "error": check.error}
                                    if check else None),
        })
    return out


class RealTradingView(APIView):
    @extend_schema(summary="Real trading now: the server switch, the kill switch, and your real bots "
                           "(admins: every real bot) with their last reconciliation",
                   responses={200: RealTradingSerializer})
    def get(self, request: Request) -> Response:
        at, by = kill_switch_state()
        data = {"enabled": bool(settings.REAL_TRADING_ENABLED),
                "kill_switch": {"engaged_at": at, "engaged_by": by},
                "bots": real_bots_overview(request.user)}
        return Response(RealTradingSerializer(data).data)


class KillSwitchView(APIView):
    """Admins only; both directions need the admin's password again."""

    def _admin_only(self, request: Request) -> None:
        if not is_admin(request.user):
            raise exceptions.PermissionDenied("Only an arena admin can use the kill switch.")

    @extend_schema(
        summary="Engage the kill switch: pause every real bot (and optionally close every real position)",
        description="While engaged no real bot trades. Releasing it leaves the bots paused: their owners "
                    "resume them. A wrong password changes nothing (400 on `password`).",
        request=KillSwitchEngageSerializer, responses={200: KILL_REPORT, 400: ERROR, 403: ERROR},
    )
    def post(self, request: Request) -> Response:
        self._admin_only(request)
        form = KillSwitchEngageSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            report = kill_switch_engage(actor=request.user, password=form.validated_data["password"],
                                        close_positions=form.validated_data["close_positions"],
                                        interface=Change.Interface.API, now=timezone.now())
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        return Response({"paused": report.paused, "closed": {str(k): v for k, v in report.closed.items()}})

    @extend_schema(summary="Release the kill switch (the bots stay paused)",
                   request=KillSwitchReleaseSerializer, responses={204: None, 400: ERROR, 403: ERROR})
    def delete(self, request: Request) -> Response:
        self._admin_only(request)
        form = KillSwitchReleaseSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            kill_switch_release(actor=request.user, password=form.validated_data["password"],
                                interface=Change.Interface.API, now=timezone.now())
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        return Response(status=204)
