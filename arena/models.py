"""The arena as a whole: users, the arena-wide settings row, and turns."""
from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from knox.models import AbstractAuthToken

from trading.outbound import host_pattern_error, host_pattern_normal
from trading.risk import MIN_TRADE_USDT

DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "DOGEUSDT", "XRPUSDT"]


class User(AbstractUser):
    """A person using the arena (AUTH_USER_MODEL from the first migration)."""

    class Role(models.TextChoices):
        USER = "user", "User"
        MODERATOR = "moderator", "Moderator"
        ADMIN = "admin", "Admin"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    # The name shown publicly beside the user's bots (the leaderboard, public bot pages);
    # the username, e-mail and real names are never public.
    display_name = models.CharField(max_length=50, blank=True)
    # The legacy users.id (32 hex characters) of an imported user.
    legacy_id = models.CharField(max_length=64, unique=True, null=True, blank=True)

    @property
    def is_arena_admin(self) -> bool:
        """Sees and manages every user's objects: the admin role or a superuser."""
        return self.is_active and (self.is_superuser or self.role == self.Role.ADMIN)

    @property
    def is_arena_moderator(self) -> bool:
        """Moderates what the public sees (unlists bots, suspends plain users): the
        moderator role, and every admin."""
        return self.is_active and (self.role == self.Role.MODERATOR or self.is_arena_admin)

    @property
    def public_name(self) -> str:
        return self.display_name or f"Trader {self.pk}"

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["user", "moderator", "admin"]),
                name="arena_user_role_valid",
            ),
        ]


class ApiToken(AbstractAuthToken):
    """A named API token for scripts (django-rest-knox, ``KNOX_TOKEN_MODEL``).

    Only the token's SHA-512 digest is stored (``digest``) with its first characters
    (``token_key``) to find it; the token itself is shown once, when it is made. It
    expires at ``expiry`` and is revoked by deleting the row.
    """

    name = models.CharField(max_length=100, help_text="What the token is for, e.g. \"backtest script\".")

    class Meta:
        verbose_name = "API token"


def _default_symbols() -> list[str]:
    return list(DEFAULT_SYMBOLS)


class ArenaSettings(models.Model):
    """The one row of arena-wide settings (pk is always 1); read with ``load()``.

    Defaults are the legacy system's, so an imported arena behaves as before
    unless an operator changes them.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    paper_initial_balance = models.DecimalField(
        max_digits=20, decimal_places=8, default=Decimal("10000"),
        help_text="USDT deposited into a new paper bot's account.",
    )
    live_initial_balance = models.DecimalField(
        max_digits=20, decimal_places=8, default=Decimal("950"),
        help_text="USDT a new real-money bot is expected to start with.",
    )
    turn_interval_seconds = models.PositiveIntegerField(
        default=300, help_text="Seconds between trading turns."
    )
    refresh_interval_seconds = models.PositiveIntegerField(
        default=5, help_text="Seconds between market refreshes (and stop/liquidation checks)."
    )
    snapshot_interval_seconds = models.PositiveIntegerField(
        default=600, help_text="Seconds between portfolio snapshots."
    )
    min_trade_usdt = models.DecimalField(
        max_digits=20, decimal_places=8, default=MIN_TRADE_USDT,
        help_text="Smallest margin, in USDT, a position may open with.",
    )
    cooldown_minutes = models.PositiveIntegerField(
        default=30, help_text="Minutes a symbol rests for a bot after it closes a position there."
    )
    enforce_cooldown = models.BooleanField(
        default=False,
        help_text="Refuse opens during a cooldown; when off the model is only told about it "
        "(the legacy behaviour).",
    )
    default_symbols = models.JSONField(
        default=_default_symbols,
        help_text="Symbols a bot trades unless it lists its own, e.g. [\"BTCUSDT\", \"ETHUSDT\"].",
    )
    max_open_positions_per_bot = models.PositiveIntegerField(default=6)
    taker_fee_rate = models.DecimalField(
        max_digits=10, decimal_places=8, default=Decimal("0.0005"),
        help_text="Fee as a fraction of notional per fill (0.0005 = 0.05%, Binance USDT-M taker).",
    )
    slippage_bps = models.DecimalField(
        max_digits=10, decimal_places=4, default=Decimal("1"),
        help_text="Price slippage against the trader on every market fill, in basis points.",
    )
    maintenance_margin_rate = models.DecimalField(
        max_digits=10, decimal_places=8, default=Decimal("0.005"),
        help_text="Maintenance margin rate for symbols without a known leverage-tier table.",
    )
    recent_decisions_in_prompt = models.PositiveIntegerField(default=10)
    # What trading.outbound.url_check holds the URLs users give to (providers' base URLs).
    outbound_allowed_hosts = models.JSONField(
        default=list, blank=True,
        help_text="Hosts the server may call for users' providers: exact (\"api.openai.com\") or "
        "\"*.example.com\" for the names below it. Empty: any public host.",
    )
    outbound_allow_private = models.BooleanField(
        default=False,
        help_text="Let providers live on private networks (localhost, 10.x, 192.168.x, …) and use "
        "plain http there, e.g. a local Ollama. Off: https to public hosts only.",
    )
    public_arena = models.BooleanField(
        default=True,
        help_text="Anonymous visitors may watch: the spectator dashboard at /, the leaderboard and "
        "the live stream's public events (listed bots only, never reasoning unless published). "
        "Off: every page asks to sign in.",
    )
    # The kill switch (arena.real): while engaged no real bot trades, whatever its pause
    # flag says, until an admin releases it (both re-enter their password).
    kill_switch_at = models.DateTimeField(null=True, blank=True, editable=False)
    kill_switch_by = models.ForeignKey(
        "arena.User", on_delete=models.SET_NULL, null=True, blank=True, editable=False,
        related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "arena settings"
        verbose_name_plural = "arena settings"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="arena_arenasettings_singleton"),
            models.CheckConstraint(
                condition=Q(paper_initial_balance__gt=0) & Q(live_initial_balance__gt=0),
                name="arena_arenasettings_initial_balance_positive",
            ),
            models.CheckConstraint(
                condition=Q(turn_interval_seconds__gte=10)
                & Q(refresh_interval_seconds__gte=1)
                & Q(snapshot_interval_seconds__gte=60),
                name="arena_arenasettings_intervals_sane",
            ),
            models.CheckConstraint(
                condition=Q(min_trade_usdt__gt=0), name="arena_arenasettings_min_trade_positive"
            ),
            models.CheckConstraint(
                condition=Q(taker_fee_rate__gte=0) & Q(taker_fee_rate__lt=Decimal("0.01")),
                name="arena_arenasettings_fee_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(slippage_bps__gte=0) & Q(slippage_bps__lte=1000),
                name="arena_arenasettings_slippage_range",
            ),
            models.CheckConstraint(
                condition=Q(maintenance_margin_rate__gt=0)
                & Q(maintenance_margin_rate__lt=Decimal("0.5")),
                name="arena_arenasettings_maintenance_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(max_open_positions_per_bot__gte=1),
                name="arena_arenasettings_max_positions_positive",
            ),
        ]

    def __str__(self) -> str:
        return "Arena settings"

    def clean(self) -> None:
        symbols = self.default_symbols
        if not isinstance(symbols, list) or not symbols or not all(
            isinstance(s, str) and s.isalnum() and s.isupper() for s in symbols
        ):
            raise ValidationError(
                {"default_symbols": "A non-empty list of upper-case symbols such as \"BTCUSDT\"."}
            )
        hosts = self.outbound_allowed_hosts
        if not isinstance(hosts, list) or len(hosts) > 100:
            raise ValidationError(
                {"outbound_allowed_hosts": "A list of at most 100 host names (empty: any public host)."}
            )
        problems = [f"{host!r}: {problem}" for host in hosts if (problem := host_pattern_error(host))]
        if problems:
            raise ValidationError({"outbound_allowed_hosts": problems})
        # Stored as url_check compares them (lower case, no trailing dot), each once.
        self.outbound_allowed_hosts = list(dict.fromkeys(host_pattern_normal(host) for host in hosts))

    @classmethod
    def load(cls) -> ArenaSettings:
        """The settings row, created with the defaults on first use."""
        obj, _ = cls.objects.get_or_create(id=1)
        return obj


class Turn(models.Model):
    """One arena-wide turn: every bot in it saw the same frozen market snapshot."""

    class Status(models.TextChoices):
        # A forced turn asked for through the API, waiting for a worker to take it.
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        # Nothing traded: no bot was due, or none could run (stale market, real mode…);
        # ``error`` says why.
        SKIPPED = "skipped", "Skipped"

    started_at = models.DateTimeField()
    # Renewed with the bots' claims while the turn is alive; a running turn whose
    # heartbeat is older than the lease was abandoned by a dead worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Scheduled turns: the interval slot (start time // turn interval). Unique, so a
    # redelivered task joins its turn instead of starting another. Null when forced.
    slot = models.BigIntegerField(null=True, blank=True, unique=True)
    forced = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # {symbol: {price, mark_price, change_24h_pct, funding_rate, stale}} as the bots saw it;
    # read whole, never queried into.
    market_snapshot = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "finished", "failed", "skipped"]),
                name="arena_turn_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | Q(finished_at__gte=models.F("started_at")),
                name="arena_turn_finished_after_started",
            ),
        ]
        indexes = [
            # The latest turns: ORDER BY started_at DESC LIMIT n.
            models.Index(fields=["-started_at"], name="arena_turn_started_idx"),
            # Abandoned turns, looked for at the start of every turn:
            # WHERE status = 'running' AND heartbeat_at < lease cut-off.
            models.Index(fields=["status", "heartbeat_at"], name="arena_turn_status_beat_idx"),
        ]

    def __str__(self) -> str:
        return f"Turn {self.pk} ({self.status})"

    @property
    def is_over(self) -> bool:
        return self.status not in {self.Status.QUEUED, self.Status.RUNNING}


class BotTurn(models.Model):
    """What one bot did in one turn: ran (and its decision), failed, or was skipped and
    why. Every bot a turn considered has a row, so an owner can always see why a bot
    did not trade."""

    class Status(models.TextChoices):
        # In a forced turn no worker has taken yet.
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="bot_turns")
    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="bot_turns")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    # Why it was skipped or failed, in words the owner can act on.
    reason = models.TextField(blank=True)
    decision = models.OneToOneField(
        "bots.Decision", on_delete=models.SET_NULL, null=True, blank=True, related_name="bot_turn"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["turn", "bot"], name="arena_botturn_once_per_turn"),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "finished", "failed", "skipped"]),
                name="arena_botturn_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running"]) | Q(finished_at__isnull=False),
                name="arena_botturn_finished_when_over",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "finished"]) | ~Q(reason=""),
                name="arena_botturn_reason_when_not_run",
            ),
        ]
        indexes = [
            # A bot's latest turns (its page, the API): WHERE bot_id = ? ORDER BY started_at DESC.
            models.Index(fields=["bot", "-started_at"], name="arena_botturn_bot_started_idx"),
            # The admin's list, newest first: ORDER BY started_at DESC, id DESC; its drill-down
            # bounds and date ranges.
            models.Index(fields=["-started_at", "-id"], name="arena_botturn_started_idx"),
        ]

    def __str__(self) -> str:
        return f"Bot {self.bot_id} in turn {self.turn_id}: {self.status}"
