"""What a bot did, as the API shows it: positions, trades, decisions and snapshots, with
the filters their lists take. Every row names what caused it (a trade its position and
decision, a position its opening decision)."""
from __future__ import annotations

import django_filters
from rest_framework import serializers

from bots.models import Decision
from ledger.models import Snapshot
from trading.models import Position, Trade


class PositionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Position
        fields = [
            "id", "bot", "symbol", "side", "status", "margin", "leverage", "quantity", "entry_price",
            "mark_price", "liquidation_price", "stop_loss", "take_profit", "unrealized_pnl", "marked_at",
            "opened_at", "closed_at", "exit_price", "realized_pnl", "close_reason", "opening_decision",
        ]
        read_only_fields = fields


class TradeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Trade
        fields = [
            "id", "bot", "position", "decision", "kind", "side", "symbol", "price", "quantity", "margin",
            "leverage", "fee", "pnl", "reason", "executed_at", "exchange_order_id",
        ]
        read_only_fields = fields


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = [
            "id", "bot", "turn", "created_at", "success", "error", "actions", "notes", "tool_calls",
            "model", "tokens_in", "tokens_out", "latency_ms", "cost", "prompt", "raw_response",
        ]
        read_only_fields = fields


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Snapshot
        fields = ["id", "bot", "taken_at", "balance", "margin", "unrealized_pnl", "realized_pnl",
                  "total_value", "trade_count", "win_rate"]
        read_only_fields = fields


class PositionFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(help_text="Exactly, e.g. BTCUSDT.")

    class Meta:
        model = Position
        fields = ["status", "symbol", "side"]


class TradeFilter(django_filters.FilterSet):
    symbol = django_filters.CharFilter(help_text="Exactly, e.g. BTCUSDT.")
    executed_after = django_filters.IsoDateTimeFilter(
        field_name="executed_at", lookup_expr="gte", help_text="From this time on (ISO 8601), inclusive."
    )
    executed_before = django_filters.IsoDateTimeFilter(
        field_name="executed_at", lookup_expr="lt", help_text="Before this time (ISO 8601)."
    )

    class Meta:
        model = Trade
        fields = ["symbol", "side", "kind", "reason", "position", "decision"]


class DecisionFilter(django_filters.FilterSet):
    class Meta:
        model = Decision
        fields = ["success", "turn"]
