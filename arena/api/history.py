"""What a bot did, as the API shows it: positions, trades, decisions and snapshots, with
the filters their lists take. Every row names what caused it (a trade its position and
decision, a position its opening decision)."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta

import django_filters
from rest_framework import serializers

from arena.models import BotTurn
from arena.turns.force import wait_seconds
from bots.models import Decision, LearningSummary, PromptVersion
from ledger.models import Snapshot
from trading.models import CloseReason, Position, Trade


class PositionSerializer(serializers.ModelSerializer):
    close_reason = serializers.ChoiceField(choices=CloseReason.choices, allow_blank=True, read_only=True,
                                           help_text="Why it closed; blank while it is open.")

    class Meta:
        model = Position
        fields = [
            "id", "bot", "symbol", "side", "status", "margin", "leverage", "quantity", "entry_price",
            "mark_price", "liquidation_price", "stop_loss", "take_profit", "unrealized_pnl", "marked_at",
            "opened_at", "closed_at", "exit_price", "realized_pnl", "close_reason", "opening_decision",
        ]
        read_only_fields = fields


class TradeSerializer(serializers.ModelSerializer):
    reason = serializers.ChoiceField(choices=CloseReason.choices, allow_blank=True, read_only=True,
                                     help_text="Why a CLOSE fill closed its position; blank on an OPEN.")

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
            "model", "tokens_in", "tokens_out", "latency_ms", "cost", "prompt_version", "prompt",
            "raw_response",
        ]
        read_only_fields = fields


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Snapshot
        fields = ["id", "bot", "taken_at", "balance", "margin", "unrealized_pnl", "realized_pnl",
                  "total_value", "trade_count", "win_rate"]
        read_only_fields = fields


class PromptVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromptVersion
        fields = ["id", "bot", "number", "prompt", "created_at", "created_by"]
        read_only_fields = fields


class BotTurnSerializer(serializers.ModelSerializer):
    forced = serializers.BooleanField(source="turn.forced", read_only=True)
    expires_at = serializers.SerializerMethodField(
        help_text="Queued only: when the turn is marked failed if no worker has taken it by then.")

    class Meta:
        model = BotTurn
        fields = ["turn", "bot", "status", "reason", "decision", "forced", "started_at", "finished_at",
                  "expires_at"]
        read_only_fields = fields

    def get_expires_at(self, row: BotTurn) -> datetime | None:
        if row.status != BotTurn.Status.QUEUED:
            return None
        return row.started_at + timedelta(seconds=wait_seconds())


class LearningSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = LearningSummary
        fields = ["id", "bot", "summary", "covers_from", "covers_to", "first_decision", "last_decision",
                  "decisions_count", "model", "tokens_in", "tokens_out", "latency_ms", "cost", "created_at",
                  "cleared_at"]
        read_only_fields = fields


# The trade export's columns, in order: every figure needed to audit a trade, and its cause.
TRADE_CSV_COLUMNS = ["id", "executed_at", "bot", "position", "decision", "kind", "side", "symbol", "price",
                     "quantity", "margin", "leverage", "fee", "pnl", "reason", "exchange_order_id"]


def trades_csv_rows(rows):
    """The CSV lines of ``rows`` (a Trade queryset), header first, read in chunks so an
    export of any size streams in constant memory."""
    buffer = _Line()
    writer = csv.writer(buffer)
    yield writer.writerow(TRADE_CSV_COLUMNS)
    for values in rows.values_list(*TRADE_CSV_COLUMNS).iterator(chunk_size=2000):
        yield writer.writerow(["" if v is None else v.isoformat() if hasattr(v, "isoformat") else v
                               for v in values])


class _Line:
    """A file that hands back what is written to it, for ``csv.writer`` in a generator."""

    def write(self, text: str) -> str:
        return text


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
