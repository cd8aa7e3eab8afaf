"""Who decides: LLM providers, bots, and every decision a bot's model made."""
from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from trading.encryption import EncryptedSecret


class LLMProvider(models.Model):
    """An LLM endpoint and its key. The key is stored only as Fernet ciphertext."""

    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible (OpenAI, Grok, DeepSeek, Qwen, Ollama, vLLM…)"
        ANTHROPIC = "anthropic", "Anthropic Messages"
        GEMINI = "gemini", "Google Gemini"
        SCRIPTED = "scripted", "Built-in scripted strategy (offline)"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="providers"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    base_url = models.URLField(
        max_length=500, blank=True,
        help_text="openai: ends in /v1; anthropic: the host (https://api.anthropic.com); "
        "gemini: ends in /v1beta; scripted: empty.",
    )
    model = models.CharField(
        max_length=200, help_text="The vendor's model name, or the scripted strategy's name."
    )
    api_key_encrypted = models.TextField(blank=True, default="", editable=False)
    api_key = EncryptedSecret("api_key_encrypted")
    key_needs_reentry = models.BooleanField(
        default=False, help_text="The stored key could not be carried over and must be entered again."
    )
    input_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal("0"),
        help_text="USD per million input tokens, for the cost shown on each decision.",
    )
    output_price_per_mtok = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal("0"),
        help_text="USD per million output tokens.",
    )
    timeout_seconds = models.PositiveIntegerField(default=120)
    max_retries = models.PositiveSmallIntegerField(default=3)
    options = models.JSONField(
        default=dict, blank=True,
        help_text="Extra request parameters sent as they are, e.g. {\"temperature\": 0.2}.",
    )
    is_active = models.BooleanField(default=True)
    legacy_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "LLM provider"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["openai", "anthropic", "gemini", "scripted"]),
                name="bots_llmprovider_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(kind="scripted") | ~Q(base_url=""),
                name="bots_llmprovider_base_url_required",
            ),
            models.CheckConstraint(
                condition=Q(input_price_per_mtok__gte=0) & Q(output_price_per_mtok__gte=0),
                name="bots_llmprovider_prices_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gte=1) & Q(timeout_seconds__lte=900),
                name="bots_llmprovider_timeout_range",
            ),
            models.UniqueConstraint(fields=["owner", "name"], name="bots_llmprovider_owner_name_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}: {self.model})"

    def clean(self) -> None:
        url = self.base_url.rstrip("/")
        if self.kind == self.Kind.SCRIPTED:
            return
        if not url:
            raise ValidationError({"base_url": "Required for every provider but the scripted one."})
        if self.kind == self.Kind.OPENAI and not url.endswith("/v1"):
            raise ValidationError(
                {"base_url": "An OpenAI-compatible base URL ends in /v1 "
                 "(requests go to {base_url}/chat/completions)."}
            )
        if self.kind == self.Kind.GEMINI and not url.endswith("/v1beta"):
            raise ValidationError(
                {"base_url": "A Gemini base URL ends in /v1beta "
                 "(requests go to {base_url}/models/{model}:generateContent)."}
            )
        if self.kind == self.Kind.ANTHROPIC and url.endswith("/v1"):
            raise ValidationError(
                {"base_url": "An Anthropic base URL is the host only "
                 "(requests go to {base_url}/v1/messages)."}
            )


class Bot(models.Model):
    """A trading bot: a prompt plus a provider, trading on paper or for real."""

    class Mode(models.TextChoices):
        PAPER = "paper", "Paper"
        REAL = "real", "Real money"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bots")
    name = models.CharField(max_length=100)
    prompt = models.TextField()
    provider = models.ForeignKey(LLMProvider, on_delete=models.PROTECT, related_name="bots")
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.PAPER)
    is_paused = models.BooleanField(default=False)
    # False is a soft delete: the bot stops trading and its history stays.
    is_active = models.BooleanField(default=True)
    legacy_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    initial_balance = models.DecimalField(max_digits=24, decimal_places=8)
    symbols = models.JSONField(
        default=list, blank=True,
        help_text="Symbols this bot trades, e.g. [\"BTCUSDT\"]; empty means the arena's defaults.",
    )
    sandbox_enabled = models.BooleanField(
        default=False, help_text="Let the model call analysis tools before deciding."
    )
    avatar = models.FileField(upload_to="avatars/", blank=True)
    # Real-money limits, checked before an order is sent (any mode): the notional of one
    # opening order, and of every open position together. Empty means no limit.
    max_order_notional = models.DecimalField(
        max_digits=24, decimal_places=8, null=True, blank=True,
        help_text="The largest notional (USDT) one opening order may have; empty = no limit.")
    max_exposure = models.DecimalField(
        max_digits=24, decimal_places=8, null=True, blank=True,
        help_text="The largest notional (USDT) of all open positions together; empty = no limit.")
    # Who else sees the bot (DESIGN.md, "Who sees what"): a listed bot's results are public;
    # its prompt, reasoning and learning summary only if the owner publishes them.
    is_listed = models.BooleanField(default=True, help_text="Shown on the leaderboard and public pages.")
    reasoning_public = models.BooleanField(
        default=False, help_text="Publish the prompt, the decisions' reasoning and the learning summary."
    )
    # Set by a moderator who unlisted the bot, and why: while set, the bot is listed
    # nowhere and its owner cannot list it or publish its reasoning again.
    unlisted_reason = models.TextField(
        blank=True, editable=False,
        help_text="Why a moderator unlisted the bot; while set, it cannot be listed or published again.",
    )
    # The version of ``prompt`` in force: each decision names the one it was made with.
    prompt_version = models.ForeignKey(
        "PromptVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    # Statistics (PnL, win rate, trade count) count from here; set by a paper reset.
    stats_reset_at = models.DateTimeField(null=True, blank=True)
    # A turn claims the bot until this time with a conditional UPDATE, so overlapping
    # turns or a redelivered task never run it twice; a killed worker's claim expires.
    turn_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=["paper", "real"]), name="bots_bot_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(initial_balance__gt=0), name="bots_bot_initial_balance_positive"
            ),
            models.CheckConstraint(
                condition=Q(unlisted_reason="") | Q(is_listed=False, reasoning_public=False),
                name="bots_bot_unlisted_stays_private",
            ),
            # Names are unique among a user's live bots; a soft-deleted bot frees its name.
            models.UniqueConstraint(
                fields=["owner", "name"], condition=Q(is_active=True),
                name="bots_bot_owner_name_unique_active",
                violation_error_message="You already have a bot by this name.",
            ),
        ]
        indexes = [
            # Bots due for a turn: WHERE is_active AND NOT is_paused.
            models.Index(fields=["is_active", "is_paused"], name="bots_bot_active_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        symbols = self.symbols
        if not isinstance(symbols, list) or not all(
            isinstance(s, str) and s.isalnum() and s.isupper() for s in symbols
        ):
            raise ValidationError({"symbols": "A list of upper-case symbols such as \"BTCUSDT\"."})
        if self.unlisted_reason and (self.is_listed or self.reasoning_public):
            field = "is_listed" if self.is_listed else "reasoning_public"
            raise ValidationError({field: f"A moderator unlisted this bot ({self.unlisted_reason}); it "
                                          "stays private until a moderator lifts that."})


class PromptVersion(models.Model):
    """Every prompt a bot has had, numbered from 1: a decision names the version it was
    made with, so a result can be traced to the exact instructions behind it."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="prompt_versions")
    number = models.PositiveIntegerField()
    prompt = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bot", "number"], name="bots_promptversion_bot_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.bot_id} prompt v{self.number}"


class Decision(models.Model):
    """One call to a bot's model in a turn: what was asked, answered, parsed and noted."""

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="decisions")
    turn = models.ForeignKey(
        "arena.Turn", on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    created_at = models.DateTimeField(default=timezone.now)
    prompt = models.TextField(blank=True)
    raw_response = models.TextField(blank=True)
    # The validated actions as the engine received them, read whole.
    actions = models.JSONField(default=list, blank=True)
    # Human-readable notes: rejections, corrections, parse problems.
    notes = models.JSONField(default=list, blank=True)
    success = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    # Sandbox analysis: each tool call and its result, in order.
    tool_calls = models.JSONField(default=list, blank=True)
    prompt_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions",
        help_text="The bot's prompt when this decision was asked for.",
    )
    legacy_id = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bot", "legacy_id"], name="bots_decision_bot_legacy_id_unique"
            ),
            # A bot decides once per turn, however often the turn's task is delivered.
            models.UniqueConstraint(fields=["bot", "turn"], name="bots_decision_once_per_turn"),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="bots_decision_cost_not_negative"
            ),
        ]
        indexes = [
            # A bot's newest decisions: WHERE bot_id = ? ORDER BY created_at DESC LIMIT n.
            models.Index(fields=["bot", "-created_at"], name="bots_decision_bot_recent_idx"),
            # The arena's decision feed: ORDER BY created_at DESC; the admin's list, its
            # drill-down bounds and date ranges.
            models.Index(fields=["-created_at"], name="bots_decision_recent_idx"),
            # The admin's success filter and its count: WHERE success = ? ORDER BY created_at DESC
            # (the rows hold whole prompts: a count must not read them).
            models.Index(fields=["success", "-created_at"], name="bots_decision_success_idx"),
            # The admin's search by a legacy id: WHERE legacy_id = ? (imported rows only).
            models.Index(fields=["legacy_id"], condition=Q(legacy_id__isnull=False),
                         name="bots_decision_legacy_idx"),
        ]

    def __str__(self) -> str:
        return f"Decision {self.pk} of {self.bot_id} at {self.created_at:%Y-%m-%d %H:%M}"


class LearningSummary(models.Model):
    """Lessons a bot's own model distilled from its older decisions.

    Each summary folds the previous (non-cleared) one together with the decisions after
    it, so it speaks for every decision from ``covers_from`` to ``covers_to`` while the
    prompt stays bounded. The newest non-cleared summary is the one a prompt shows;
    clearing keeps the rows and only hides them.
    """

    bot = models.ForeignKey(Bot, on_delete=models.PROTECT, related_name="learning_summaries")
    summary = models.TextField()
    covers_from = models.DateTimeField(help_text="When the first decision covered was made.")
    covers_to = models.DateTimeField(help_text="When the last decision covered was made.")
    # Null only for summaries carried over from the legacy system, which named no decisions.
    first_decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The summary folded into this one (null for a first summary or one after a clear).
    previous = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decisions_count = models.PositiveIntegerField(help_text="Decisions covered, the folded-in ones included.")
    token_count = models.PositiveIntegerField(help_text="Estimated input tokens of the request (chars / 4).")
    model = models.CharField(max_length=200, blank=True)
    tokens_in = models.PositiveIntegerField(null=True, blank=True)
    tokens_out = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by "clear learning": the row stays as history, the prompt no longer shows it.
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "learning summaries"
        constraints = [
            models.CheckConstraint(
                condition=Q(decisions_count__gte=1), name="bots_learningsummary_decisions_count_positive"
            ),
            models.CheckConstraint(
                condition=Q(covers_to__gte=models.F("covers_from")),
                name="bots_learningsummary_covers_ordered",
            ),
            models.CheckConstraint(condition=~Q(summary=""), name="bots_learningsummary_summary_not_empty"),
            models.CheckConstraint(
                condition=Q(cost__isnull=True) | Q(cost__gte=0), name="bots_learningsummary_cost_not_negative"
            ),
            # One summary per span end: a duplicate delivery of the same work writes nothing.
            # Its index also serves the watermark, WHERE bot_id = ? ORDER BY covers_to DESC LIMIT 1.
            models.UniqueConstraint(
                fields=["bot", "covers_to"], name="bots_learningsummary_bot_covers_to_unique"
            ),
            # A summary is folded into at most one successor: two workers cannot both extend it.
            models.UniqueConstraint(fields=["previous"], name="bots_learningsummary_previous_unique"),
        ]
        indexes = [
            # The summary a prompt shows: WHERE bot_id = ? AND cleared_at IS NULL
            # ORDER BY covers_to DESC LIMIT 1 (only live rows, so the index stays small).
            models.Index(
                fields=["bot", "-covers_to"], condition=Q(cleared_at__isnull=True),
                name="bots_lsummary_bot_latest_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Summary {self.pk} of bot {self.bot_id}: {self.decisions_count} decisions"
