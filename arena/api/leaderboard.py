"""/api/leaderboard/: every listed bot ranked over a period. Public, like the bots it lists.

``period=day`` is today since 00:00 UTC, ``week`` and ``month`` the last 7 and 30 UTC days
with today, ``all`` the bots' current runs; ``from``/``to`` (dates) give any range of whole
days. ``ordering`` sorts on any figure (``-`` for descending; default ``-total_return``).
"""
from __future__ import annotations

from datetime import UTC

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.base import PublicArena, StrictSerializer
from arena.api.errors import ERROR
from arena.api.figures import SORTABLE, FiguresSerializer
from arena.leaderboard import Board, board_build
from arena.models import ArenaSettings
from ledger.periods import PERIOD_DAYS, PeriodError, period_resolve

ORDERINGS = sorted({*SORTABLE, "name", "owner_name"})
DEFAULT_ORDERING = "-total_return"
MAX_LIMIT = 1000


class LeaderboardQuerySerializer(StrictSerializer):
    period = serializers.ChoiceField(choices=list(PERIOD_DAYS), required=False,
                                     help_text="day (today since 00:00 UTC), week, month (the last 7 and "
                                               "30 days), all (the current run). Default: all.")
    ordering = serializers.ChoiceField(
        choices=[*ORDERINGS, *(f"-{o}" for o in ORDERINGS)], required=False, default=DEFAULT_ORDERING,
        help_text="The column to sort on, '-' first for descending. Undefined values sort last.")
    limit = serializers.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT, default=100)
    offset = serializers.IntegerField(required=False, min_value=0, default=0)

    def get_fields(self) -> dict:
        fields = super().get_fields()  # "from" and "to" are Python keywords: added here
        fields["from"] = serializers.DateField(required=False, help_text="First UTC day of a custom range.")
        fields["to"] = serializers.DateField(required=False,
                                             help_text="Last UTC day of a custom range (default: today).")
        return fields


class BoardBotSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    avatar = serializers.FileField(use_url=True, allow_null=True)
    owner_name = serializers.CharField(source="owner.public_name", help_text="The owner's display name.")
    mode = serializers.CharField()
    model = serializers.CharField(source="provider.model")
    stats_reset_at = serializers.DateTimeField(allow_null=True, help_text="When the current run began.")


class BoardRowSerializer(FiguresSerializer):
    rank = serializers.IntegerField(allow_null=True,
                                    help_text="By the ordering; none when its value is null.")
    bot = BoardBotSerializer()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # One renderer of each part for every row (a serializer per row copies its fields each time).
        self._bot, self._figures = BoardBotSerializer(context=self.context), FiguresSerializer()

    def to_representation(self, row) -> dict:
        return ({"rank": row.rank, "bot": self._bot.to_representation(row.bot)}
                | self._figures.to_representation(row.figures))


class BoardHoldSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    interval = serializers.CharField(help_text="Of the candles the prices come from.")
    start_at = serializers.DateTimeField()
    start_price = serializers.DecimalField(max_digits=30, decimal_places=8)
    end_at = serializers.DateTimeField()
    end_price = serializers.DecimalField(max_digits=30, decimal_places=8)


class BoardBenchmarkSerializer(serializers.Serializer):
    name = serializers.CharField()
    symbols = serializers.ListField(child=serializers.CharField())
    total_return = serializers.FloatField(allow_null=True)
    reason = serializers.CharField(allow_null=True, help_text="Why total_return is null.")
    start_at = serializers.DateTimeField(allow_null=True)
    end_at = serializers.DateTimeField(allow_null=True)
    holds = BoardHoldSerializer(many=True, help_text="Each symbol held; one without candles is left out.")

    def to_representation(self, benchmark) -> dict:
        out = super().to_representation({**benchmark.__dict__, "total_return": benchmark.total_return.value,
                                         "reason": benchmark.total_return.reason})
        return out


class BoardSummarySerializer(serializers.Serializer):
    active_bots = serializers.IntegerField()
    traders = serializers.IntegerField(help_text="Owners of the bots listed.")
    trades = serializers.IntegerField(help_text="Positions closed in the period.")
    average_win_rate = serializers.FloatField(allow_null=True,
                                              help_text="Mean over the bots that closed a trade.")
    total_pnl = serializers.DecimalField(max_digits=30, decimal_places=8)

    def to_representation(self, summary) -> dict:
        return super().to_representation({**summary.__dict__,
                                          "average_win_rate": summary.average_win_rate.value})


class BoardPeriodSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="day, week, month, all or custom.")
    first_day = serializers.DateField(allow_null=True, help_text="Null: from the start of each bot's run.")
    last_day = serializers.DateField()
    start = serializers.DateTimeField(help_text="The period's start as used by the benchmarks.")
    end = serializers.DateTimeField()


class BoardSerializer(serializers.Serializer):
    period = BoardPeriodSerializer()
    ordering = serializers.CharField()
    summary = BoardSummarySerializer()
    benchmarks = BoardBenchmarkSerializer(many=True)
    count = serializers.IntegerField(help_text="Bots on the board (the page shows limit of them).")
    results = BoardRowSerializer(many=True)


def board_json(board: Board, *, limit: int, offset: int, context: dict) -> dict:
    period = {"name": board.period.name, "first_day": board.period.first_day,
              "last_day": board.period.last_day, "start": board.start, "end": board.end}
    return {
        "period": BoardPeriodSerializer(period).data, "ordering": board.ordering,
        "summary": BoardSummarySerializer(board.summary).data,
        "benchmarks": BoardBenchmarkSerializer(board.benchmarks, many=True).data,
        "count": len(board.rows),
        "results": BoardRowSerializer(board.rows[offset:offset + limit], many=True, context=context).data,
    }


class LeaderboardView(APIView):
    permission_classes = [PublicArena]  # anyone, unless the arena is private

    @extend_schema(summary="The leaderboard: listed bots ranked over a period, with benchmarks",
                   parameters=[LeaderboardQuerySerializer], responses={200: BoardSerializer, 400: ERROR})
    def get(self, request: Request) -> Response:
        query = LeaderboardQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        q = query.validated_data
        now = timezone.now()
        try:
            period = period_resolve(q.get("period"), today=now.astimezone(UTC).date(),
                                    first=q.get("from"), last=q.get("to"))
        except PeriodError as error:
            field = "period" if "period=" in str(error) or "Unknown" in str(error) else "from"
            raise serializers.ValidationError({field: [str(error)]}) from error
        board = board_build(period, now=now, ordering=q["ordering"],
                            symbols=list(ArenaSettings.load().default_symbols or []))
        return Response(board_json(board, limit=q["limit"], offset=q["offset"],
                                   context={"request": request}))

