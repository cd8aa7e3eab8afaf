"""A period's figures as the API sends them (the leaderboard and the analytics share it).

Each figure is a plain number (ratios as fractions: 0.05 is 5 %; money as exact decimal
strings), or ``null`` when it cannot be computed; then ``reasons`` names why (``{"sharpe":
"returns do not vary"}``), so a null is never mistaken for a zero. ``sources`` says what
the figures were computed from: the snapshots and their first and last times, the closed
positions, the decisions.
"""
from __future__ import annotations

from dataclasses import fields

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.metrics.result import Metric, MoneyMetric
from ledger.periods import PeriodFigures

MONEY = {"max_digits": 30, "decimal_places": 8, "allow_null": True, "read_only": True}
RATIO = {"allow_null": True, "read_only": True}
MONEY_FIGURES = ("start_value", "end_value", "flows", "pnl", "expectancy", "average_win", "average_loss",
                 "biggest_win", "biggest_loss", "fees_paid", "funding_paid", "funding_received", "llm_cost")
RATIO_FIGURES = ("total_return", "annual_return", "volatility", "sharpe", "sortino", "max_drawdown", "calmar",
                 "win_rate", "profit_factor", "average_leverage", "average_hold_seconds",
                 "average_latency_ms", "return_net_of_llm_cost")
COUNT_FIGURES = ("trades", "wins", "losses", "decisions", "tokens_in", "tokens_out")
# Every figure a leaderboard can be sorted by.
SORTABLE = MONEY_FIGURES + RATIO_FIGURES + COUNT_FIGURES


def metrics_flat(metrics: dict) -> tuple[dict, dict[str, str]]:
    """``{name: Metric}`` as ``{name: value}``, and the reason of each missing one."""
    values, reasons = {}, {}
    for name, metric in metrics.items():
        values[name] = metric.value
        if metric.value is None:
            reasons[name] = metric.reason
    return values, reasons


def figures_flat(figures: PeriodFigures) -> tuple[dict, dict[str, str]]:
    """``figures`` as plain values, and the reason of each one that is missing."""
    found = {f.name: getattr(figures, f.name) for f in fields(figures) if f.name != "sources"}
    values, reasons = metrics_flat({k: v for k, v in found.items() if isinstance(v, Metric | MoneyMetric)})
    return {name: values.get(name, value) for name, value in found.items()}, reasons


class SourcesSerializer(serializers.Serializer):
    snapshots = serializers.IntegerField(read_only=True, help_text="Snapshots in the period.")
    returns = serializers.IntegerField(read_only=True, help_text="Steps between them the returns come from.")
    first_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                         help_text="The snapshot the period's series starts from.")
    last_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closes = serializers.IntegerField(read_only=True, help_text="Positions closed in the period.")
    decisions = serializers.IntegerField(read_only=True)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"},
                      "description": "Why each null figure is null."})
class ReasonsField(serializers.DictField):
    pass


def _figures_fields() -> dict:
    out: dict = {}
    for name in MONEY_FIGURES:
        out[name] = serializers.DecimalField(**MONEY)
    for name in RATIO_FIGURES:
        out[name] = serializers.FloatField(**RATIO)
    for name in COUNT_FIGURES:
        out[name] = serializers.IntegerField(read_only=True)
    out["reasons"] = ReasonsField(read_only=True)
    out["sources"] = SourcesSerializer(read_only=True)
    return out


# The fields, declared from the lists above (the schema names each one).
_FiguresFields = type("_FiguresFields", (serializers.Serializer,), _figures_fields())


class FiguresSerializer(_FiguresFields):
    """Renders a ``PeriodFigures``; ratios are fractions, hold time in seconds, latency in ms."""

    def to_representation(self, instance: PeriodFigures) -> dict:
        values, reasons = figures_flat(instance)
        values["reasons"] = reasons
        values["sources"] = instance.sources
        return super().to_representation(values)

