"""/api/public/: what anyone may see of listed bots (DESIGN.md, "Who sees what").

Public: name, avatar, the owner's display name, mode, model, account figures, open and
closed positions, trades, snapshots. Published (only when the owner sets
``reasoning_public``): the prompt, the decisions with their reasoning and raw replies, the
learning summaries. Never: keys, e-mails, usernames, provider URLs, wallets. An unlisted
or deleted bot is a 404 here.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.base import PagedLists, PublicArena, filter_parameters
from arena.api.errors import ERROR
from arena.api.history import (
    DecisionFilter,
    DecisionSerializer,
    LearningSummarySerializer,
    PositionFilter,
    PositionSerializer,
    SnapshotSerializer,
    TradeFilter,
    TradeSerializer,
)
from bots.models import Bot
from bots.selectors import bots_listed_with_figures, decisions_of, summaries_of
from ledger.selectors import snapshots_of
from trading.selectors import positions_of, trades_of

NOT_PUBLISHED = "The owner has not published this bot's reasoning."


class PublicBotSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.public_name", read_only=True,
                                       help_text="The owner's display name (never the username).")
    model = serializers.CharField(source="provider.model", read_only=True)
    avatar = serializers.FileField(read_only=True, use_url=True, allow_null=True)
    balance = serializers.DecimalField(source="account.balance", max_digits=24, decimal_places=8,
                                       read_only=True)
    total_value = serializers.DecimalField(max_digits=24, decimal_places=8, read_only=True, allow_null=True,
                                           help_text="At the latest snapshot.")
    realized_pnl = serializers.DecimalField(max_digits=24, decimal_places=8, read_only=True, allow_null=True)
    trade_count = serializers.IntegerField(read_only=True, allow_null=True)
    win_rate = serializers.DecimalField(max_digits=7, decimal_places=6, read_only=True, allow_null=True)
    snapshot_at = serializers.DateTimeField(read_only=True, allow_null=True)
    prompt = serializers.SerializerMethodField(help_text="Only when the owner publishes the reasoning.")

    class Meta:
        model = Bot
        fields = ["id", "name", "avatar", "owner_name", "mode", "model", "symbols", "initial_balance",
                  "balance", "total_value", "realized_pnl", "trade_count", "win_rate", "snapshot_at",
                  "reasoning_public", "prompt", "created_at", "stats_reset_at"]
        read_only_fields = fields

    def get_prompt(self, bot: Bot) -> str | None:
        return bot.prompt if bot.reasoning_public else None


class PublicDecisionSerializer(DecisionSerializer):
    class Meta(DecisionSerializer.Meta):
        # The prompt sent holds the owner's instructions and their account: published bots
        # show their reasoning, replies and tool calls; the prompt is in the bot itself.
        fields = [f for f in DecisionSerializer.Meta.fields if f != "prompt"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="Listed bots, anyone may see them"),
    retrieve=extend_schema(summary="A listed bot", responses={200: PublicBotSerializer, 404: ERROR}),
)
class PublicBotViewSet(PagedLists, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    lookup_value_regex = "[0-9]+"  # ids only: anything else is the API's 404
    serializer_class = PublicBotSerializer
    permission_classes = [PublicArena]  # anyone, unless the arena is private
    filterset_class = None
    filterset_fields = ["mode"]

    def get_queryset(self):
        return bots_listed_with_figures()

    def _published(self) -> Bot:
        bot = self.get_object()
        if not bot.reasoning_public:
            raise exceptions.NotFound(NOT_PUBLISHED)
        return bot

    @extend_schema(summary="A listed bot's positions", parameters=filter_parameters(PositionFilter),
                   responses=PositionSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def positions(self, request: Request, pk=None) -> Response:
        return self._page(positions_of(bot_id=self.get_object().pk), PositionSerializer, PositionFilter)

    @extend_schema(summary="A listed bot's trades", parameters=filter_parameters(TradeFilter),
                   responses=TradeSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def trades(self, request: Request, pk=None) -> Response:
        return self._page(trades_of(bot_id=self.get_object().pk), TradeSerializer, TradeFilter)

    @extend_schema(summary="A listed bot's snapshots", responses=SnapshotSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def snapshots(self, request: Request, pk=None) -> Response:
        return self._page(snapshots_of(bot_id=self.get_object().pk), SnapshotSerializer)

    @extend_schema(summary="A published bot's decisions with their reasoning",
                   parameters=filter_parameters(DecisionFilter),
                   responses={200: PublicDecisionSerializer(many=True), 404: ERROR})
    @action(detail=True, methods=["get"], filterset_class=None)
    def decisions(self, request: Request, pk=None) -> Response:
        return self._page(decisions_of(bot_id=self._published().pk), PublicDecisionSerializer, DecisionFilter)

    @extend_schema(summary="A published bot's learning summaries",
                   responses={200: LearningSummarySerializer(many=True), 404: ERROR})
    @action(detail=True, methods=["get"], filterset_class=None)
    def summaries(self, request: Request, pk=None) -> Response:
        return self._page(summaries_of(bot_id=self._published().pk), LearningSummarySerializer)
