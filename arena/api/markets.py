"""/api/markets/: the listed perpetuals with their latest prices, and their stored candles.
Public: anyone may read them, signed in or not (market data is no one's secret). Candles
come from the table the turns fill (``trading.Candle``); this view never asks the feed."""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.base import PublicArena, StrictSerializer
from arena.api.errors import ERROR
from trading.models import Candle, Market
from trading.selectors import candles_stored, market_by_symbol, markets_listed

MAX_CANDLES = 1000
DEFAULT_CANDLES = 500
DEFAULT_INTERVAL = Candle.Interval.H1


class MarketSerializer(serializers.ModelSerializer):
    class Meta:
        model = Market
        fields = ["symbol", "base_asset", "quote_asset", "last_price", "mark_price", "change_24h_pct",
                  "funding_rate", "next_funding_at", "tick_size", "step_size", "max_leverage", "is_listed",
                  "is_stale", "updated_at"]
        read_only_fields = fields


class CandleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Candle
        fields = ["open_time", "open", "high", "low", "close", "volume"]
        read_only_fields = fields


class CandleQuerySerializer(StrictSerializer):
    interval = serializers.ChoiceField(choices=Candle.Interval.choices, default=DEFAULT_INTERVAL)
    start = serializers.DateTimeField(required=False, help_text="Candles opening at or after this time.")
    end = serializers.DateTimeField(required=False, help_text="Candles opening at or before this time.")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_CANDLES, default=DEFAULT_CANDLES)

    def validate(self, data):
        if "start" in data and "end" in data and data["end"] < data["start"]:
            raise serializers.ValidationError({"end": ["The end is before the start."]})
        return data


CANDLE_PARAMETERS = [
    OpenApiParameter("interval", OpenApiTypes.STR, OpenApiParameter.QUERY, required=False,
                     enum=Candle.Interval.values, description=f"Candle length (default {DEFAULT_INTERVAL})."),
    OpenApiParameter("start", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, required=False,
                     description="From candles opening at this time (ISO 8601), inclusive: the first "
                                 "`limit`."),
    OpenApiParameter("end", OpenApiTypes.DATETIME, OpenApiParameter.QUERY, required=False,
                     description="Up to candles opening at this time (ISO 8601), inclusive; without `start`, "
                                 "the newest `limit` up to here."),
    OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False,
                     description=f"At most this many candles (1 to {MAX_CANDLES}, default "
                                 f"{DEFAULT_CANDLES})."),
]


class MarketViewSet(viewsets.GenericViewSet):
    permission_classes = [PublicArena]  # anyone, unless the arena is private
    serializer_class = MarketSerializer
    pagination_class = None  # one row per listed perpetual: a bounded list, ordered by symbol
    filter_backends: list = []
    lookup_field = "symbol"
    lookup_value_regex = "[A-Za-z0-9]+"

    def get_queryset(self):
        return markets_listed()

    def _market(self, symbol: str) -> Market:
        market = market_by_symbol(symbol)
        if market is None:
            raise exceptions.NotFound(f"No market {symbol.upper()!r}.")
        return market

    @extend_schema(summary="The listed markets and their latest prices (public)",
                   responses=MarketSerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response(MarketSerializer(self.get_queryset(), many=True).data)

    @extend_schema(summary="One market by symbol (public)", responses={200: MarketSerializer, 404: ERROR})
    def retrieve(self, request: Request, symbol: str) -> Response:
        return Response(MarketSerializer(self._market(symbol)).data)

    @extend_schema(summary="A market's stored candles, oldest first (public)", parameters=CANDLE_PARAMETERS,
                   responses={200: CandleSerializer(many=True), 400: ERROR, 404: ERROR})
    @action(detail=True, methods=["get"])
    def candles(self, request: Request, symbol: str) -> Response:
        market = self._market(symbol)
        query = CandleQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rows = candles_stored(symbol=market.symbol, **query.validated_data)
        return Response(CandleSerializer(rows, many=True).data)
