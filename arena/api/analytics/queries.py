"""The analytics routes' query parameters: strict serializers (an unknown parameter is a 400
naming it), whose fields parse through ``arena.analytics.params`` so that a bad value is a
400 naming its parameter too."""
from __future__ import annotations

from rest_framework import serializers

from arena.analytics.params import MAX_BOTS, AnalyticsError, ids_parse, instant_parse
from arena.analytics.series import DEFAULT_POINTS, INTERVALS, MAX_POINTS
from arena.api.base import StrictSerializer
from ledger.periods import PERIOD_DAYS

FROM_HELP = ("Start of the range: an ISO 8601 time (2026-03-02T13:00:00Z; UTC without an offset) or a date "
             "(its 00:00 UTC). Default: 7 days before `to`.")
TO_HELP = "End of the range, like `from`. Default: now."
RUN_HELP = ("Which run's rollups to read: the `run_start` of one of the bot's runs (GET runs/; "
            "1970-01-01T00:00:00Z is the run before any reset). Default: its current run.")


class InstantField(serializers.CharField):
    """An ISO 8601 time or date, as an aware UTC datetime."""

    def to_internal_value(self, data):
        try:
            return instant_parse(super().to_internal_value(data), param=self.field_name)
        except AnalyticsError as error:
            raise serializers.ValidationError(error.message) from None


class IdsField(serializers.CharField):
    """Bot ids separated by commas, as a list of ints without repeats."""

    def __init__(self, *, most: int | None = None, **kwargs) -> None:
        self.most = most
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        try:
            return ids_parse(super().to_internal_value(data), param=self.field_name, most=self.most)
        except AnalyticsError as error:
            raise serializers.ValidationError(error.message) from None


class RangeQuery(StrictSerializer):
    def get_fields(self) -> dict:
        fields = super().get_fields()  # "from" is a Python keyword: the fields are added here
        fields["from"] = InstantField(required=False, help_text=FROM_HELP)
        fields["to"] = InstantField(required=False, help_text=TO_HELP)
        return fields


class SeriesQuery(RangeQuery):
    interval = serializers.ChoiceField(
        choices=list(INTERVALS), required=False,
        help_text=f"The spacing of the sampled points. Default: the finest giving at most {DEFAULT_POINTS} "
                  f"points; one giving more than {MAX_POINTS} is a 400.")


class BotSeriesQuery(SeriesQuery):
    run = serializers.CharField(required=False, help_text=RUN_HELP)


class RunQuery(StrictSerializer):
    run = serializers.CharField(required=False, help_text=RUN_HELP)


class PerformanceQuery(RangeQuery):
    period = serializers.ChoiceField(
        choices=list(PERIOD_DAYS), required=False,
        help_text="day (today since 00:00 UTC), week, month (the last 7 and 30 UTC days with today), all "
                  "(each bot's current run). Default: week. Or give `from`/`to` instead: the UTC days from "
                  "the day of `from` to the day of `to`, both included.")
    bot = IdsField(required=False,
                   help_text="Only these bots (ids separated by commas), whatever their state.")


class ComparisonQuery(SeriesQuery):
    bots = IdsField(most=MAX_BOTS, required=False,
                    help_text=f"Up to {MAX_BOTS} bot ids separated by commas. Default: your first "
                              f"{MAX_BOTS} active bots.")
