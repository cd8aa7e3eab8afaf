"""Per-bot daily rollups: what a leaderboard period reads instead of every snapshot and trade.

One ``BotDay`` row per bot, run and UTC day, kept up to date in the transaction that writes
the snapshot, the fill, the funding payment or the decision it counts (``ledger.rollups``),
so a period over any history reads bots × days rows. A run is the bot's history since its
last paper reset (``run_start``: the bot's ``stats_reset_at``, or ``RUN_FIRST`` before any
reset): a reset starts a new run and the old run's rows stay readable.

The value series is kept as sums a period can add up: per-step returns net of money moved
in or out (deposits, adjustments), their squares and downside squares, and the flow-adjusted
wealth index at the day's ends, its high and low and the deepest drawdown inside the day, so
the maximum drawdown of any run of days follows exactly (``ledger.rollups``). Imported into
``ledger.models`` so Django sees the model.
"""
from __future__ import annotations

from datetime import UTC, datetime

from django.db import models
from django.db.models import Q

from ledger.values import MONEY_PLACES

MONEY = {"max_digits": 24, "decimal_places": MONEY_PLACES}
# ``run_start`` of a bot's first run, before any reset: a value, not NULL, so the unique
# constraint holds (NULLs are all distinct to it).
RUN_FIRST = datetime(1970, 1, 1, tzinfo=UTC)


class BotDay(models.Model):
    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="days")
    run_start = models.DateTimeField()
    day = models.DateField()

    # The value series: snapshots taken this day, and the returns that end on one of them.
    snapshots = models.PositiveIntegerField(default=0)
    start_at = models.DateTimeField(null=True, blank=True)  # the point the day's first return starts from
    start_value = models.DecimalField(**MONEY, null=True, blank=True)  # and its value
    first_at = models.DateTimeField(null=True, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)
    last_value = models.DecimalField(**MONEY, null=True, blank=True)
    index_start = models.FloatField(null=True, blank=True)  # wealth index (1.0 at the run's first snapshot)
    index_end = models.FloatField(null=True, blank=True)
    index_max = models.FloatField(null=True, blank=True)  # of this day's points only
    index_min = models.FloatField(null=True, blank=True)
    drawdown_max = models.FloatField(default=0)  # deepest fall from a peak of this day, as a fraction
    returns = models.PositiveIntegerField(default=0)
    returns_sum = models.FloatField(default=0)
    returns_sq = models.FloatField(default=0)
    downside_sq = models.FloatField(default=0)  # sum of min(r, 0)²
    flows = models.DecimalField(**MONEY, default=0)  # deposits and adjustments, not performance

    # Closed positions (counted on the day they closed) and fees of every fill.
    closes = models.PositiveIntegerField(default=0)
    wins = models.PositiveIntegerField(default=0)
    losses = models.PositiveIntegerField(default=0)
    gross_profit = models.DecimalField(**MONEY, default=0)
    gross_loss = models.DecimalField(**MONEY, default=0)  # a positive amount
    best = models.DecimalField(**MONEY, null=True, blank=True)
    worst = models.DecimalField(**MONEY, null=True, blank=True)
    hold_seconds = models.BigIntegerField(default=0)
    margin_sum = models.DecimalField(**MONEY, default=0)
    leverage_margin = models.DecimalField(**MONEY, default=0)  # Σ leverage × margin: margin-weighted leverage
    fees = models.DecimalField(**MONEY, default=0)

    # Funding payments, each way, as positive amounts.
    funding_paid = models.DecimalField(**MONEY, default=0)
    funding_received = models.DecimalField(**MONEY, default=0)

    # The model calls of the day's decisions.
    decisions = models.PositiveIntegerField(default=0)
    tokens_in = models.PositiveBigIntegerField(default=0)
    tokens_out = models.PositiveBigIntegerField(default=0)
    llm_cost = models.DecimalField(**MONEY, default=0)
    latency_ms = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            # Also the index of every read: WHERE bot_id = ? AND run_start = ? AND day >= ?.
            models.UniqueConstraint(fields=["bot", "run_start", "day"], name="ledger_botday_once_per_day"),
            models.CheckConstraint(
                condition=Q(wins__lte=models.F("closes")) & Q(losses__lte=models.F("closes")),
                name="ledger_botday_outcomes_within_closes",
            ),
            models.CheckConstraint(condition=Q(gross_loss__gte=0) & Q(gross_profit__gte=0)
                                   & Q(funding_paid__gte=0) & Q(funding_received__gte=0)
                                   & Q(fees__gte=0) & Q(llm_cost__gte=0),
                                   name="ledger_botday_amounts_not_negative"),
        ]
        indexes = [
            # A leaderboard period across bots: WHERE day >= ? (then joined to the bot's current run).
            models.Index(fields=["day"], name="ledger_botday_day_idx"),
        ]

    def __str__(self) -> str:
        return f"Bot {self.bot_id} on {self.day} (run from {self.run_start:%Y-%m-%d %H:%M})"
