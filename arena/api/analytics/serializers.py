"""What the analytics routes answer. Ratios are fractions (0.05 is 5 %), money exact decimal
strings, times ISO 8601 UTC. A figure that cannot be computed is null, and ``reasons`` names
why (``{"win_rate": "no trades"}``), as in the period figures (``arena.api.figures``)."""
from __future__ import annotations

import decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arena.api.figures import MONEY, FiguresSerializer, ReasonsField

RATIO = {"allow_null": True}


class AnalyticsBotSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class RangeSerializer(serializers.Serializer):
    def get_fields(self) -> dict:
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(help_text="The range's start, as used.")
        fields["to"] = serializers.DateTimeField(help_text="The range's end, as used.")
        return fields


class FiguresPeriodSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="day, week, month, all or custom.")
    first_day = serializers.DateField(allow_null=True, help_text="Null: from the start of the run.")
    last_day = serializers.DateField()


# --- 1. performance of every bot --------------------------------------------------


class BotFiguresSerializer(serializers.Serializer):
    bot = AnalyticsBotSerializer()
    is_active = serializers.BooleanField()
    run_start = serializers.DateTimeField(help_text="The run the figures are of (the bot's current one).")
    figures = FiguresSerializer()


class PerformanceListSerializer(serializers.Serializer):
    period = FiguresPeriodSerializer()
    results = BotFiguresSerializer(many=True)


# --- 2. one bot's sampled series ----------------------------------------------------


class SeriesPointSerializer(serializers.Serializer):
    at = serializers.DateTimeField(help_text="The boundary.")
    taken_at = serializers.DateTimeField(help_text="The snapshot sampled: the last at or before `at`.")
    value = serializers.DecimalField(**{**MONEY, "allow_null": False},
                                     help_text="The account's total value then.")
    drawdown = serializers.FloatField(help_text="Below the series' running peak (net of deposits).")
    cumulative_return = serializers.FloatField(help_text="Since the series' first point, net of deposits.")


class DrawdownDurationSerializer(serializers.Serializer):
    seconds = serializers.FloatField(allow_null=True)
    resolution = serializers.CharField(help_text="Measured on the sampled points, so exact to this interval "
                                                 "only: the series' resolution, not the snapshots'.")
    resolution_seconds = serializers.IntegerField()


class RangeExposureSerializer(serializers.Serializer):
    long = serializers.FloatField(**RATIO, help_text="Share of the range with longs open and no short.")
    short = serializers.FloatField(**RATIO)
    both = serializers.FloatField(**RATIO, help_text="Longs and shorts open at once.")
    flat = serializers.FloatField(**RATIO, help_text="No position open.")
    positions = serializers.IntegerField(help_text="Positions open at some time in the range.")
    reasons = ReasonsField()


class WholeDaysFiguresSerializer(serializers.Serializer):
    first_day = serializers.DateField(allow_null=True, help_text="The range's first whole UTC day.")
    last_day = serializers.DateField(allow_null=True, help_text="Its last whole UTC day.")
    run_start = serializers.DateTimeField(help_text="The run whose rollups were read.")
    figures = FiguresSerializer(allow_null=True)
    reason = serializers.CharField(allow_null=True, help_text="Why figures is null.")


class BotPerformanceSerializer(RangeSerializer):
    bot = AnalyticsBotSerializer()
    interval = serializers.CharField()
    interval_seconds = serializers.IntegerField()
    points = SeriesPointSerializer(many=True, help_text="At each boundary from the bot's first snapshot on.")
    total_return = serializers.FloatField(**RATIO, help_text="First point to last, net of deposits.")
    max_drawdown = serializers.FloatField(**RATIO)
    max_drawdown_duration = DrawdownDurationSerializer(help_text="The longest time under a peak.")
    reasons = ReasonsField()
    exposure = RangeExposureSerializer()
    days = WholeDaysFiguresSerializer(help_text="The figures of the range's whole UTC days, from rollups.")


# --- 3, 4. runs ----------------------------------------------------------------------


class PeriodFiguresSerializer(FiguresPeriodSerializer):
    figures = FiguresSerializer()


class RiskPeriodsSerializer(serializers.Serializer):
    day = PeriodFiguresSerializer()
    week = PeriodFiguresSerializer()
    month = PeriodFiguresSerializer()
    all = PeriodFiguresSerializer()


class RiskMetricsSerializer(serializers.Serializer):
    bot = AnalyticsBotSerializer()
    run_start = serializers.DateTimeField()
    run_ended_at = serializers.DateTimeField(allow_null=True, help_text="Null for the current run.")
    as_of = serializers.DateField(help_text="The day the periods end: today, or the day an ended run ended.")
    periods = RiskPeriodsSerializer()


class BotRunSerializer(serializers.Serializer):
    run_start = serializers.DateTimeField(help_text="1970-01-01T00:00:00Z: the run before any reset.")
    ended_at = serializers.DateTimeField(allow_null=True, help_text="The next run's start; null: current.")
    current = serializers.BooleanField()
    days = serializers.IntegerField(help_text="UTC days with rollups.")
    first_day = serializers.DateField(allow_null=True)
    last_day = serializers.DateField(allow_null=True)
    figures = FiguresSerializer(help_text="Of the whole run.")


class BotRunsSerializer(serializers.Serializer):
    bot = AnalyticsBotSerializer()
    results = BotRunSerializer(many=True)


# --- 5, 7. closed positions ----------------------------------------------------------


class TradeGroupSerializer(serializers.Serializer):
    trades = serializers.IntegerField(help_text="Positions closed.")
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.FloatField(**RATIO)
    pnl = serializers.DecimalField(**{**MONEY, "allow_null": False},
                                   help_text="Σ realized PnL, each net of its closing fee.")
    fees = serializers.DecimalField(**{**MONEY, "allow_null": False})
    reasons = ReasonsField()


class SymbolGroupSerializer(TradeGroupSerializer):
    symbol = serializers.CharField()


class SideGroupSerializer(TradeGroupSerializer):
    side = serializers.ChoiceField(choices=["LONG", "SHORT"])


class HourGroupSerializer(TradeGroupSerializer):
    hour = serializers.IntegerField(min_value=0, max_value=23, help_text="Of the close, UTC.")


class PnlBucketSerializer(serializers.Serializer):
    low = serializers.DecimalField(**MONEY, help_text="Included; null: no lower edge.")
    high = serializers.DecimalField(**MONEY, help_text="Excluded; null: no upper edge.")
    count = serializers.IntegerField()


class PnlHistogramSerializer(serializers.Serializer):
    edges = serializers.ListField(child=serializers.DecimalField(**{**MONEY, "allow_null": False}),
                                  help_text="The fixed bucket edges in USDT.")
    buckets = PnlBucketSerializer(many=True)


class ExtremePositionSerializer(serializers.Serializer):
    position_id = serializers.IntegerField()
    bot = AnalyticsBotSerializer()
    symbol = serializers.CharField()
    side = serializers.CharField()
    pnl = serializers.DecimalField(**{**MONEY, "allow_null": False})
    closed_at = serializers.DateTimeField()
    opening_decision_id = serializers.IntegerField(allow_null=True)
    close_trade_id = serializers.IntegerField(allow_null=True)


class BestWorstPositionsSerializer(RangeSerializer):
    best = ExtremePositionSerializer(many=True, help_text="Highest pnl first.")
    worst = ExtremePositionSerializer(many=True, help_text="Lowest pnl first.")


class BotTradesSerializer(BestWorstPositionsSerializer):
    bot = AnalyticsBotSerializer()
    totals = TradeGroupSerializer()
    histogram = PnlHistogramSerializer()
    by_symbol = SymbolGroupSerializer(many=True)
    by_side = SideGroupSerializer(many=True)
    by_hour = HourGroupSerializer(many=True, help_text="Every hour 0–23 of the close, UTC.")


class AggregateSummarySerializer(RangeSerializer):
    bots = serializers.IntegerField(help_text="Your active bots (admins: every active bot).")
    trades = serializers.IntegerField(help_text="Positions closed in the range.")
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    win_rate = serializers.FloatField(**RATIO)
    pnl = serializers.DecimalField(**{**MONEY, "allow_null": False})
    fees = serializers.DecimalField(**{**MONEY, "allow_null": False}, help_text="Of every fill in the range.")
    funding = serializers.DecimalField(**{**MONEY, "allow_null": False}, help_text="Received − paid.")
    funding_paid = serializers.DecimalField(**{**MONEY, "allow_null": False})
    funding_received = serializers.DecimalField(**{**MONEY, "allow_null": False})
    llm_cost = serializers.DecimalField(**{**MONEY, "allow_null": False})
    decisions = serializers.IntegerField()
    reasons = ReasonsField()


class AggregateSymbolsSerializer(RangeSerializer):
    results = SymbolGroupSerializer(many=True, help_text="Best pnl first.")


# --- 6. comparison ------------------------------------------------------------------


@extend_schema_field({"type": "array", "items": {"type": "string", "format": "decimal", "nullable": True}})
class NullableMoneyList(serializers.ListField):
    """Decimals as the child field renders them, null kept; the child's quantization (its
    places, digits and rounding) is set up once per list, not once per value: a comparison
    renders thousands."""

    child = serializers.DecimalField(**MONEY)

    def to_representation(self, data) -> list[str | None]:
        child = self.child
        context = decimal.getcontext().copy()
        context.prec = child.max_digits
        exponent = decimal.Decimal(".1") ** child.decimal_places
        return [None if value is None else
                f"{decimal.Decimal(value).quantize(exponent, rounding=child.rounding, context=context):f}"
                for value in data]


class NullableFloatList(serializers.ListField):
    child = serializers.FloatField(allow_null=True)

    def to_representation(self, data) -> list[float | None]:
        return [None if value is None else float(value) for value in data]


class ComparedBotSerializer(serializers.Serializer):
    bot = AnalyticsBotSerializer()
    values = NullableMoneyList(help_text="At each boundary; null before the bot's first snapshot.")
    returns = NullableFloatList(help_text="Since the bot's first point, net of deposits; null before it.")
    first_at = serializers.DateTimeField(allow_null=True, help_text="The boundary of its first point.")
    total_return = serializers.FloatField(**RATIO)
    reasons = ReasonsField()


class ComparisonSerializer(RangeSerializer):
    interval = serializers.CharField()
    interval_seconds = serializers.IntegerField()
    boundaries = serializers.ListField(child=serializers.DateTimeField(), help_text="Every bot's one axis.")
    bots = ComparedBotSerializer(many=True)


# --- 8. model usage -----------------------------------------------------------------


class ModelUsageSerializer(serializers.Serializer):
    model = serializers.CharField()
    decisions = serializers.IntegerField()
    failures = serializers.IntegerField(help_text="Decisions that did not succeed.")
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    cost = serializers.DecimalField(**{**MONEY, "allow_null": False})
    latency_mean_ms = serializers.FloatField(**RATIO)
    latency_p95_ms = serializers.FloatField(**RATIO, help_text="By linear interpolation.")
    reasons = ReasonsField()


class BotModelUsageSerializer(ModelUsageSerializer):
    bot = AnalyticsBotSerializer()


class ModelUsageListSerializer(RangeSerializer):
    results = BotModelUsageSerializer(many=True, help_text="Per bot and model.")
    models = ModelUsageSerializer(many=True, help_text="Per model, across the bots.")
