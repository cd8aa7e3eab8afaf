"""/api/bots/: a user's bots, their actions, and their history (positions, trades,
decisions, snapshots). Scoped to the owner (admins see all): another user's bot is a 404."""
from __future__ import annotations

from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.base import PagedLists, filter_parameters, filtered, is_admin
from arena.api.bots.serializers import (
    BotCreateSerializer,
    BotFilter,
    BotSerializer,
    CloneSerializer,
    bot_create_validated,
)
from arena.api.errors import ERROR, Conflict
from arena.api.history import (
    BotTurnSerializer,
    DecisionFilter,
    DecisionSerializer,
    LearningSummarySerializer,
    PositionFilter,
    PositionSerializer,
    PromptVersionSerializer,
    SnapshotSerializer,
    TradeFilter,
    TradeSerializer,
    trades_csv_rows,
)
from arena.api.real import (
    DiscrepancyFilterSerializer,
    DiscrepancySerializer,
    ReconciliationSerializer,
    ResolveSerializer,
)
from arena.selectors import bot_turns_of
from arena.turns.force import TurnAlreadyQueued, turn_force_queue
from bots import services as bot_services
from bots.models import Bot
from bots.selectors import (
    bots_of,
    decisions_of,
    prompt_versions_of,
    summaries_of,
)
from bots.summaries import summaries_clear, summary_force
from ledger.selectors import snapshots_of
from trading.models import CloseReason, Discrepancy, Reconciliation
from trading.selectors import positions_of, trades_of
from trading.services import position_close
from trading.services.positions import PositionError
from trading.services.real import RealTradingError
from trading.services.reconcile import discrepancy_resolve, reconcile_bot
from trading.services.snapshots import snapshots_take


@extend_schema_view(
    list=extend_schema(summary="Your bots (admins: every bot)"),
    retrieve=extend_schema(summary="One of your bots", responses={200: BotSerializer, 404: ERROR}),
    partial_update=extend_schema(summary="Change a bot",
                                 responses={200: BotSerializer, 400: ERROR, 404: ERROR}),
    destroy=extend_schema(summary="Delete a bot (it stops trading; its history stays)",
                          responses={204: None, 404: ERROR}),
)
class BotViewSet(PagedLists, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"  # ids only: anything else is the API's 404
    serializer_class = BotSerializer
    filterset_class = BotFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        rows = bots_of(user_id=self.request.user.pk, see_all=is_admin(self.request.user))
        if self.action == "list" and "is_active" not in self.request.query_params:
            rows = rows.filter(is_active=True)
        return rows

    @extend_schema(
        summary="Create a bot, or clone one with clone_from",
        request=PolymorphicProxySerializer(
            component_name="BotCreateOrClone", serializers=[BotCreateSerializer, CloneSerializer],
            resource_type_field_name=None,
        ),
        responses={201: BotSerializer, 400: ERROR},
        description=(
            "A new bot gets a ledger account funded with the arena's paper balance. A real-money bot "
            "(`mode` real, REAL_TRADING_ENABLED on) needs `confirm_real`, your `password` typed again and "
            "one of your verified `wallet`s; it starts with the balance its exchange reported. "
            "With `clone_from` (any listed bot or one of yours), the new paper bot copies its "
            "prompt (only if it is yours or its reasoning is published), symbols and options."
        ),
    )
    def create(self, request: Request) -> Response:
        if isinstance(request.data, dict) and "clone_from" in request.data:
            return self._clone(request)
        form = BotCreateSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        with transaction.atomic():
            bot = bot_create_validated(owner=request.user, data=form.validated_data)
        return Response(BotSerializer(self._fresh(bot)).data, status=status.HTTP_201_CREATED)

    def _clone(self, request: Request) -> Response:
        form = CloneSerializer(data=request.data, context={"request": request})
        form.is_valid(raise_exception=True)
        source: Bot = form.validated_data["clone_from"]
        provider = form.validated_data.get("provider")
        mine = source.owner_id == request.user.pk
        if provider is None and not mine:
            raise serializers.ValidationError({"provider": ["Name one of your providers for the copy."]})
        bot = bot_services.bot_clone(bot=source, owner=request.user, name=form.validated_data.get("name"),
                                     provider=provider, copy_prompt=mine or source.reasoning_public)
        return Response(BotSerializer(self._fresh(bot)).data, status=status.HTTP_201_CREATED)

    def _fresh(self, bot: Bot) -> Bot:
        return bots_of(user_id=bot.owner_id).get(pk=bot.pk)

    def partial_update(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        form = BotSerializer(bot, data=request.data, partial=True, context={"request": request})
        form.is_valid(raise_exception=True)
        bot_services.bot_update(bot=bot, **form.validated_data)
        return Response(BotSerializer(self._fresh(bot)).data)

    def destroy(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        if bot.is_active:
            bot_services.bot_update(bot=bot, is_active=False, is_paused=True)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Pause: no more turns (open positions keep their stops)", request=None,
                   responses={200: BotSerializer, 404: ERROR})
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk=None) -> Response:
        bot = bot_services.bot_pause(bot=self.get_object())
        return Response(BotSerializer(self._fresh(bot)).data)

    @extend_schema(summary="Resume a paused bot from the next turn", request=None,
                   responses={200: BotSerializer, 404: ERROR})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk=None) -> Response:
        bot = bot_services.bot_resume(bot=self.get_object())
        return Response(BotSerializer(self._fresh(bot)).data)

    @extend_schema(summary="Start a paper bot over (positions closed, balance restored; history kept)",
                   request=None, responses={200: BotSerializer, 400: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"])
    def reset(self, request: Request, pk=None) -> Response:
        bot = bot_services.bot_reset(bot=self.get_object(), now=timezone.now())
        return Response(BotSerializer(self._fresh(bot)).data)

    @extend_schema(summary="The bot's positions", parameters=filter_parameters(PositionFilter),
                   responses=PositionSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def positions(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(positions_of(bot_id=bot.pk), PositionSerializer, PositionFilter)

    @extend_schema(summary="Close one of the bot's open positions now, at the market",
                   request=None, responses={200: PositionSerializer, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"], url_path=r"positions/(?P<position_id>\d+)/close",
            filterset_class=None)
    def close_position(self, request: Request, pk=None, position_id=None) -> Response:
        bot = self.get_object()
        position = positions_of(bot_id=bot.pk).filter(pk=position_id).first()
        if position is None:
            raise exceptions.NotFound("This bot has no such position.")
        if position.status != position.Status.OPEN:
            raise Conflict("This position is already closed.")
        try:
            position_close(position=position.pk, reason=CloseReason.MANUAL, now=timezone.now())
        except PositionError as exc:
            raise Conflict(str(exc)) from None
        return Response(PositionSerializer(positions_of(bot_id=bot.pk).get(pk=position.pk)).data)

    @extend_schema(summary="The bot's trades", parameters=filter_parameters(TradeFilter),
                   responses=TradeSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def trades(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(trades_of(bot_id=bot.pk), TradeSerializer, TradeFilter)

    @extend_schema(summary="The bot's decisions: reasoning, actions, notes, usage",
                   parameters=filter_parameters(DecisionFilter),
                   responses=DecisionSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def decisions(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(decisions_of(bot_id=bot.pk), DecisionSerializer, DecisionFilter)

    @extend_schema(
        summary="The bot's trades as CSV (same filters), streamed",
        parameters=filter_parameters(TradeFilter),
        responses={(200, "text/csv"): OpenApiTypes.STR, 400: ERROR, 404: ERROR},
    )
    @action(detail=True, methods=["get"], url_path="trades/export", filterset_class=None)
    def trades_export(self, request: Request, pk=None) -> StreamingHttpResponse:
        bot = self.get_object()
        rows = filtered(TradeFilter, trades_of(bot_id=bot.pk), request).order_by("executed_at", "id")
        response = StreamingHttpResponse(trades_csv_rows(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="bot-{bot.pk}-trades.csv"'
        return response

    @extend_schema(
        summary="Run a turn for this bot now (even if paused)",
        description="The turn is written as queued, then sent to a worker; the answer is the bot's part "
                    "in that turn (`status` queued, or already over when the arena has no task queue "
                    "and runs it before answering). Follow it at `/api/bots/{id}/turns/` or on the live "
                    "stream. A second request while one is queued is a 409.",
        request=None, responses={202: BotTurnSerializer, 404: ERROR, 409: ERROR},
    )
    @action(detail=True, methods=["post"], url_path="force-turn")
    def force_turn(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        if not bot.is_active:
            raise Conflict("A deleted bot takes no turns.")
        try:
            row = turn_force_queue(bot=bot)
        except TurnAlreadyQueued as exc:
            raise Conflict(str(exc)) from None
        return Response(BotTurnSerializer(bot_turns_of(bot_id=bot.pk).get(pk=row.pk)).data,
                        status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="The bot's part in each turn, newest first: queued, running, finished, "
                           "failed or skipped, and why", responses=BotTurnSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def turns(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(bot_turns_of(bot_id=bot.pk), BotTurnSerializer)

    @extend_schema(summary="The bot's learning summaries, newest first (cleared ones included)",
                   responses=LearningSummarySerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def summaries(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(summaries_of(bot_id=bot.pk), LearningSummarySerializer)

    @extend_schema(summary="Summarise the bot's recent decisions now, whatever the thresholds",
                   request=None, responses={201: LearningSummarySerializer, 400: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], url_path="force-summarize")
    def force_summarize(self, request: Request, pk=None) -> Response:
        summary = summary_force(bot=self.get_object())
        return Response(LearningSummarySerializer(summary).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Hide the bot's learning summaries from its prompt (they stay as history)",
                   request=None, responses={200: inline_serializer("Cleared", {
                       "cleared": serializers.IntegerField()}), 404: ERROR})
    @action(detail=True, methods=["post"], url_path="clear-learning")
    def clear_learning(self, request: Request, pk=None) -> Response:
        return Response({"cleared": summaries_clear(bot=self.get_object(), now=timezone.now())})

    @extend_schema(summary="Take a snapshot of the bot's account now", request=None,
                   responses={201: SnapshotSerializer, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"], url_path="snapshot", filterset_class=None)
    def snapshot(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        taken = snapshots_take(now=timezone.now(), bot_ids=[bot.pk])
        if not taken:
            raise Conflict("A deleted bot has no snapshots taken.")
        return Response(SnapshotSerializer(taken[0]).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Every prompt the bot has had, newest first (decisions name theirs)",
                   responses=PromptVersionSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def prompts(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(prompt_versions_of(bot_id=bot.pk), PromptVersionSerializer)

    @extend_schema(summary="The bot's account snapshots", responses=SnapshotSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def snapshots(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(snapshots_of(bot_id=bot.pk), SnapshotSerializer)

    # --- real bots: reconciliation with the exchange and what it could not explain -----------

    def _real_bot(self) -> Bot:
        bot = self.get_object()
        if bot.mode != Bot.Mode.REAL:
            raise serializers.ValidationError({"bot": ["Only real bots are reconciled."]})
        return bot

    @extend_schema(summary="Reconcile a real bot with its exchange now",
                   description="Reads the exchange (positions, fills, income, balance) and brings the bot's "
                               "records to it; what it cannot explain becomes a discrepancy. A run whose "
                               "exchange cannot be read answers 200 with status `failed`.",
                   request=None, responses={200: ReconciliationSerializer, 400: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], filterset_class=None)
    def reconcile(self, request: Request, pk=None) -> Response:
        bot = self._real_bot()
        try:
            run = reconcile_bot(bot=bot, trigger=Reconciliation.Trigger.API, now=timezone.now())
        except RealTradingError as exc:
            raise serializers.ValidationError({"bot": [str(exc)]}) from None
        return Response(ReconciliationSerializer(run).data)

    @extend_schema(summary="The bot's reconciliations with its exchange, newest first",
                   responses=ReconciliationSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def reconciliations(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        return self._page(Reconciliation.objects.filter(bot_id=bot.pk), ReconciliationSerializer)

    @extend_schema(summary="What the bot's reconciliations could not explain, newest first",
                   parameters=[DiscrepancyFilterSerializer], responses=DiscrepancySerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def discrepancies(self, request: Request, pk=None) -> Response:
        bot = self.get_object()
        query = DiscrepancyFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = Discrepancy.objects.filter(bot_id=bot.pk).select_related("resolved_by")
        if query.validated_data["open"] is not None:
            rows = rows.filter(resolved_at__isnull=query.validated_data["open"])
        return self._page(rows, DiscrepancySerializer)

    @extend_schema(summary="Mark one of the bot's discrepancies resolved, saying how",
                   description="The journal is not changed by this: it records who looked and what they "
                               "found.",
                   request=ResolveSerializer, responses={200: DiscrepancySerializer, 400: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], url_path=r"discrepancies/(?P<discrepancy_id>\d+)/resolve",
            filterset_class=None)
    def resolve_discrepancy(self, request: Request, pk=None, discrepancy_id=None) -> Response:
        bot = self.get_object()
        row = Discrepancy.objects.filter(bot_id=bot.pk, pk=discrepancy_id).first()
        if row is None:
            raise exceptions.NotFound("This bot has no such discrepancy.")
        form = ResolveSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        row = discrepancy_resolve(discrepancy=row, actor=request.user,
                                  resolution=form.validated_data["resolution"], now=timezone.now())
        row = Discrepancy.objects.select_related("resolved_by").get(pk=row.pk)
        return Response(DiscrepancySerializer(row).data)
