"""What happens in the market: markets, positions and trades (exchange wallets and what
reconciliation finds are in ``trading.live_models``, re-exported here)."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.models import MONEY
from trading.live_models import (  # noqa: F401 (re-exported: the app's models)
    CONDITIONAL_APIS,
    EXCHANGE_BASE_URLS,
    Discrepancy,
    ExchangeIncome,
    Reconciliation,
    Wallet,
    https_base_url,
)

# Money in USDT is the ledger's; prices and quantities carry more places for sub-cent coins.
PRICE = {"max_digits": 30, "decimal_places": 12}
QUANTITY = {"max_digits": 30, "decimal_places": 12}


class Side(models.TextChoices):
    LONG = "LONG", "Long"
    SHORT = "SHORT", "Short"


class CloseReason(models.TextChoices):
    DECISION = "decision", "Model decision"
    STOP_LOSS = "stop_loss", "Stop-loss"
    TAKE_PROFIT = "take_profit", "Take-profit"
    LIQUIDATION = "liquidation", "Liquidation"
    MANUAL = "manual", "Manual"
    RESET = "reset", "Bot reset"


class Market(models.Model):
    """A listed perpetual and its latest prices as the feed last saw them."""

    symbol = models.CharField(max_length=32, unique=True)
    base_asset = models.CharField(max_length=16, blank=True)
    quote_asset = models.CharField(max_length=16, default="USDT")
    last_price = models.DecimalField(**PRICE, null=True, blank=True)
    mark_price = models.DecimalField(**PRICE, null=True, blank=True)
    change_24h_pct = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    funding_rate = models.DecimalField(max_digits=12, decimal_places=8, null=True, blank=True)
    next_funding_at = models.DateTimeField(null=True, blank=True)
    tick_size = models.DecimalField(**PRICE, null=True, blank=True)
    step_size = models.DecimalField(**QUANTITY, null=True, blank=True)
    max_leverage = models.PositiveSmallIntegerField(default=20)
    is_listed = models.BooleanField(default=True)
    # True when the last refresh failed: prices are the last known, never opened on.
    is_stale = models.BooleanField(default=False)
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(last_price__isnull=True) | Q(last_price__gt=0))
                & (Q(mark_price__isnull=True) | Q(mark_price__gt=0)),
                name="trading_market_prices_positive",
            ),
            models.CheckConstraint(
                condition=(Q(tick_size__isnull=True) | Q(tick_size__gt=0))
                & (Q(step_size__isnull=True) | Q(step_size__gt=0)),
                name="trading_market_sizes_positive",
            ),
            models.CheckConstraint(
                condition=Q(max_leverage__gte=1) & Q(max_leverage__lte=200),
                name="trading_market_max_leverage_range",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol


# The positions the paper engine owns: those of bots in paper mode (``bots.Bot.mode``;
# named by value, since trading never imports bots). A real bot's positions are the
# exchange's: never marked, triggered or funded here.
PAPER_ENGINE = Q(bot__mode="paper")


class Position(models.Model):
    """An isolated-margin perpetual position. ``margin`` is the USDT locked for it."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="positions")
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=5, choices=Side.choices)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    margin = models.DecimalField(**MONEY)
    leverage = models.PositiveSmallIntegerField()
    quantity = models.DecimalField(**QUANTITY)
    entry_price = models.DecimalField(**PRICE)
    liquidation_price = models.DecimalField(**PRICE, null=True, blank=True)
    stop_loss = models.DecimalField(**PRICE, null=True, blank=True)
    take_profit = models.DecimalField(**PRICE, null=True, blank=True)
    # The venue's ids of the stop-loss / take-profit orders it holds beside the position
    # (real positions; paper stops are the engine's own), cancelled when it closes.
    stop_loss_order_id = models.CharField(max_length=64, blank=True, editable=False)
    take_profit_order_id = models.CharField(max_length=64, blank=True, editable=False)
    # Mark to market, refreshed with prices.
    mark_price = models.DecimalField(**PRICE, null=True, blank=True)
    unrealized_pnl = models.DecimalField(**MONEY, default=0)
    marked_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    exit_price = models.DecimalField(**PRICE, null=True, blank=True)
    # Net of the closing fee: the amount the close added to (or took from) the balance
    # beyond the released margin.
    realized_pnl = models.DecimalField(**MONEY, null=True, blank=True)
    close_reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    opening_decision = models.ForeignKey(
        "bots.Decision", on_delete=models.PROTECT, null=True, blank=True,
        related_name="opened_positions",
    )
    legacy_id = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(side__in=["LONG", "SHORT"]), name="trading_position_side_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "closed"]), name="trading_position_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(leverage__gte=1) & Q(leverage__lte=200),
                name="trading_position_leverage_range",
            ),
            models.CheckConstraint(condition=Q(margin__gt=0), name="trading_position_margin_positive"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="trading_position_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(entry_price__gt=0), name="trading_position_entry_price_positive"
            ),
            models.CheckConstraint(
                condition=(Q(stop_loss__isnull=True) | Q(stop_loss__gt=0))
                & (Q(take_profit__isnull=True) | Q(take_profit__gt=0))
                & (Q(liquidation_price__isnull=True) | Q(liquidation_price__gte=0)),
                name="trading_position_trigger_prices_positive",
            ),
            # Open means no close facts; closed means all of them.
            models.CheckConstraint(
                condition=(
                    Q(status="open", closed_at__isnull=True, exit_price__isnull=True, close_reason="")
                    | Q(status="closed", closed_at__isnull=False, exit_price__gt=0)
                ),
                name="trading_position_close_fields_match_status",
            ),
            models.CheckConstraint(
                condition=Q(close_reason__in=["", *CloseReason.values]),
                name="trading_position_close_reason_valid",
            ),
            models.UniqueConstraint(
                fields=["bot", "legacy_id"], name="trading_position_bot_legacy_id_unique"
            ),
            # One open position per bot, symbol and side; a second open is refused. The
            # legacy arena allowed two, so positions it imported (legacy_id set) arrive as
            # they were; the risk rules still refuse a new open beside them.
            models.UniqueConstraint(
                fields=["bot", "symbol", "side"], condition=Q(status="open", legacy_id__isnull=True),
                name="trading_position_one_open_per_side",
            ),
        ]
        indexes = [
            # A bot's positions by state: WHERE bot_id = ? AND status = 'open'.
            models.Index(fields=["bot", "status"], name="trading_pos_bot_status_idx"),
            # Trigger checks on each refresh: WHERE status = 'open' AND symbol = ?.
            models.Index(
                fields=["symbol"], condition=Q(status="open"), name="trading_pos_open_symbol_idx"
            ),
            # A bot's closed history: WHERE bot_id = ? ORDER BY closed_at DESC.
            models.Index(fields=["bot", "-closed_at"], name="trading_pos_bot_closed_idx"),
            # The admin's list, newest first: ORDER BY opened_at DESC, id DESC LIMIT 100 OFFSET n;
            # its drill-down bounds (ORDER BY opened_at LIMIT 1) and day, month and year ranges.
            models.Index(fields=["-opened_at", "-id"], name="trading_pos_opened_idx"),
            # The admin's symbol filter and search: WHERE symbol IN (?) ORDER BY opened_at DESC.
            models.Index(fields=["symbol", "-opened_at"], name="trading_pos_symbol_opened_idx"),
            # The admin's bot and owner filters: WHERE bot_id IN (?) ORDER BY opened_at DESC, id DESC.
            models.Index(fields=["bot", "-opened_at", "-id"], name="trading_pos_bot_opened_idx"),
            # The admin's close-reason filter and its count (a liquidation is rare: without the
            # index, finding a page of them walks every position).
            models.Index(fields=["close_reason", "-opened_at", "-id"], name="trading_pos_reason_idx"),
            # The admin's closed-at filter: WHERE closed_at >= ? AND closed_at < ?.
            models.Index(fields=["closed_at"], name="trading_pos_closed_idx"),
            # The admin's search by a legacy id: WHERE legacy_id = ? (imported rows only).
            models.Index(fields=["legacy_id"], condition=Q(legacy_id__isnull=False),
                         name="trading_pos_legacy_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.symbol} x{self.leverage} ({self.status})"


class Trade(models.Model):
    """One fill: the OPEN or the CLOSE of a position, with its fee and realized PnL."""

    class Kind(models.TextChoices):
        OPEN = "OPEN", "Open"
        CLOSE = "CLOSE", "Close"

    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="trades")
    # Null only for legacy fills whose position cannot be identified.
    position = models.ForeignKey(
        Position, on_delete=models.PROTECT, null=True, blank=True, related_name="trades"
    )
    decision = models.ForeignKey(
        "bots.Decision", on_delete=models.PROTECT, null=True, blank=True, related_name="trades"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    side = models.CharField(max_length=5, choices=Side.choices)
    symbol = models.CharField(max_length=32)
    price = models.DecimalField(**PRICE)
    quantity = models.DecimalField(**QUANTITY)
    margin = models.DecimalField(**MONEY, null=True, blank=True)
    leverage = models.PositiveSmallIntegerField(null=True, blank=True)
    fee = models.DecimalField(**MONEY, default=0)
    # Realized PnL of a CLOSE, net of its fee; null on an OPEN.
    pnl = models.DecimalField(**MONEY, null=True, blank=True)
    reason = models.CharField(max_length=16, choices=CloseReason.choices, blank=True)
    executed_at = models.DateTimeField(default=timezone.now)
    legacy_id = models.CharField(max_length=64, null=True, blank=True)
    exchange_order_id = models.CharField(max_length=64, null=True, blank=True)
    # The order's id as the engine derived it (trading.brokers): a fill is recorded once per
    # id, so a retried or redelivered task finds its trade instead of writing another.
    # Null for imported legacy trades, which had none.
    client_order_id = models.CharField(max_length=36, unique=True, null=True, blank=True, editable=False)
    # The exchange's ids of the fills that made this trade (real bots): the income records
    # the exchange reports for them (commission, realized PnL) are explained by this trade.
    exchange_trade_ids = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["OPEN", "CLOSE"]), name="trading_trade_kind_valid"),
            models.CheckConstraint(condition=Q(side__in=["LONG", "SHORT"]), name="trading_trade_side_valid"),
            models.CheckConstraint(condition=Q(price__gt=0), name="trading_trade_price_positive"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="trading_trade_quantity_positive"),
            models.CheckConstraint(condition=Q(fee__gte=0), name="trading_trade_fee_not_negative"),
            models.CheckConstraint(
                condition=Q(margin__isnull=True) | Q(margin__gt=0), name="trading_trade_margin_positive"
            ),
            models.CheckConstraint(
                condition=Q(leverage__isnull=True) | (Q(leverage__gte=1) & Q(leverage__lte=200)),
                name="trading_trade_leverage_range",
            ),
            models.CheckConstraint(
                condition=Q(reason__in=["", *CloseReason.values]), name="trading_trade_reason_valid"
            ),
            models.UniqueConstraint(fields=["bot", "legacy_id"], name="trading_trade_bot_legacy_id_unique"),
            models.UniqueConstraint(
                fields=["bot", "exchange_order_id"], name="trading_trade_bot_exchange_order_unique"
            ),
            # A position is opened once and closed once: a stop and a turn racing
            # to close the same position cannot both write a CLOSE.
            models.UniqueConstraint(
                fields=["position", "kind"], condition=Q(position__isnull=False),
                name="trading_trade_one_per_position_kind",
            ),
        ]
        indexes = [
            # A bot's trade history: WHERE bot_id = ? ORDER BY executed_at DESC.
            models.Index(fields=["bot", "-executed_at"], name="trading_trade_bot_recent_idx"),
            # The arena's trade feed and period statistics: WHERE executed_at >= ?; the admin's
            # list (ORDER BY executed_at DESC, id DESC), drill-down bounds and date ranges.
            models.Index(fields=["-executed_at"], name="trading_trade_recent_idx"),
            # The admin's symbol filter and search: WHERE symbol IN (?) ORDER BY executed_at DESC.
            models.Index(fields=["symbol", "-executed_at"], name="trading_trade_symbol_idx"),
            # The admin's kind filter and its count: WHERE kind = ? ORDER BY executed_at DESC, id DESC.
            models.Index(fields=["kind", "-executed_at", "-id"], name="trading_trade_kind_idx"),
            # Both together, and their count: WHERE kind = ? AND side = ? ORDER BY executed_at DESC.
            models.Index(fields=["kind", "side", "-executed_at", "-id"], name="trading_trade_kind_side_idx"),
            # The side alone: WHERE side = ? ORDER BY executed_at DESC, id DESC (without it, SQLite
            # would sort the whole side out of the index above).
            models.Index(fields=["side", "-executed_at", "-id"], name="trading_trade_side_idx"),
            # The admin's close-reason filter and its count: WHERE reason = ? ORDER BY executed_at DESC.
            models.Index(fields=["reason", "-executed_at", "-id"], name="trading_trade_reason_idx"),
            # The admin's search by a legacy or an exchange order id (imported and real fills only).
            models.Index(fields=["legacy_id"], condition=Q(legacy_id__isnull=False),
                         name="trading_trade_legacy_idx"),
            models.Index(fields=["exchange_order_id"], condition=Q(exchange_order_id__isnull=False),
                         name="trading_trade_exchange_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.side} {self.symbol} @ {self.price}"


class Cooldown(models.Model):
    """A symbol a bot may not re-open until ``until`` (set when it closes a position)."""

    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="cooldowns")
    symbol = models.CharField(max_length=32)
    until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bot", "symbol"], name="trading_cooldown_bot_symbol_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} for bot {self.bot_id} until {self.until:%Y-%m-%d %H:%M}"


class Candle(models.Model):
    """One stored kline, so charts and analysis tools do not ask the feed again.

    A candle whose interval had ended when it was fetched (``open_time + interval <=
    fetched_at``) is closed and never rewritten; only the open one is refreshed.
    """

    class Interval(models.TextChoices):
        M1 = "1m", "1 minute"
        M5 = "5m", "5 minutes"
        M15 = "15m", "15 minutes"
        H1 = "1h", "1 hour"
        H4 = "4h", "4 hours"
        D1 = "1d", "1 day"

    symbol = models.CharField(max_length=32)
    interval = models.CharField(max_length=3, choices=Interval.choices)
    open_time = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(**QUANTITY)  # in the base asset
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index for the chart query WHERE symbol = ? AND interval = ?
            # ORDER BY open_time DESC LIMIT n (scanned backwards), so no separate index.
            models.UniqueConstraint(
                fields=["symbol", "interval", "open_time"], name="trading_candle_unique"
            ),
            models.CheckConstraint(
                condition=Q(low__gt=0)
                & Q(low__lte=models.F("open")) & Q(low__lte=models.F("close"))
                & Q(high__gte=models.F("open")) & Q(high__gte=models.F("close")),
                name="trading_candle_prices_consistent",
            ),
            models.CheckConstraint(condition=Q(volume__gte=0), name="trading_candle_volume_not_negative"),
            models.CheckConstraint(
                condition=Q(interval__in=["1m", "5m", "15m", "1h", "4h", "1d"]),
                name="trading_candle_interval_valid",
            ),
        ]
        indexes = [
            # The admin's list of every symbol's candles: ORDER BY open_time DESC, id DESC; its
            # drill-down bounds and date ranges.
            models.Index(fields=["-open_time", "-id"], name="trading_candle_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval} {self.open_time:%Y-%m-%d %H:%M}"
