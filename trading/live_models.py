"""Real trading's tables: exchange wallets, reconciliation runs, what they could not
explain, and the exchange's own income records as they were brought in.

Every number a real bot shows comes from its exchange: the fills (price, quantity,
commission, trade ids) are recorded when the exchange confirms them, and each income
record the exchange reports (realized PnL, commission, funding, transfers) is kept here
once, by its transaction id, with the journal entry it explains or became. What a
reconciliation cannot explain is a ``Discrepancy``, shown to the bot's owner until someone
resolves it — never silently "fixed".
"""
from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.models import MONEY
from trading.encryption import EncryptedSecret

# The USD-M futures REST base of each exchange, used when a wallet names none.
EXCHANGE_BASE_URLS = {
    "binance": "https://fapi.binance.com",
    "binance_testnet": "https://testnet.binancefuture.com",
    "aster": "https://fapi.asterdex.com",
}
# Where each exchange reports what a key may do (withdrawals above all); a wallet with its
# own base URL asks that base. Aster DEX has no such endpoint (answered "not reported").
RESTRICTIONS_URLS = {
    "binance": "https://api.binance.com/sapi/v1/account/apiRestrictions",
}
# Binance requires its algo-order endpoint for conditional orders; Aster DEX still takes
# them on the classic order endpoint.
CONDITIONAL_APIS = {"binance": "algo", "binance_testnet": "algo", "aster": "classic"}


def https_base_url(value: str) -> None:
    """A wallet's REST base: https (the keys sign every request sent there), a host, and no
    credentials, query or fragment (the base is shown to its owner and joined to paths).
    Plain http only to the hosts ``ARENA_EXCHANGE_HTTP_HOSTS`` names (a venue on loopback)."""
    parts = urlsplit(value)
    plain_allowed = parts.scheme == "http" and parts.hostname in settings.ARENA_EXCHANGE_HTTP_HOSTS
    if (parts.scheme != "https" and not plain_allowed) or not parts.hostname:
        raise ValidationError("Use an https:// URL, or leave it blank for the exchange's default.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValidationError("A base URL has no user name, password, query or fragment.")


class Wallet(models.Model):
    """Keys to a real exchange account, encrypted at rest, optionally tied to one bot."""

    class Exchange(models.TextChoices):
        BINANCE = "binance", "Binance USDT-M"
        BINANCE_TESTNET = "binance_testnet", "Binance USDT-M testnet"
        ASTER = "aster", "Aster DEX"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallets"
    )
    bot = models.OneToOneField(
        "bots.Bot", on_delete=models.SET_NULL, null=True, blank=True, related_name="wallet"
    )
    exchange = models.CharField(max_length=32, choices=Exchange.choices, default=Exchange.BINANCE)
    base_url = models.URLField(
        max_length=500, blank=True, validators=[https_base_url],
        help_text="Any Binance-compatible REST base (https); blank = the exchange's default.",
    )
    label = models.CharField(max_length=100, blank=True)
    api_key_encrypted = models.TextField(blank=True, default="", editable=False)
    api_secret_encrypted = models.TextField(blank=True, default="", editable=False)
    api_key = EncryptedSecret("api_key_encrypted")
    api_secret = EncryptedSecret("api_secret_encrypted")
    key_needs_reentry = models.BooleanField(default=False)
    address = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    legacy_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # Verification: a signed read succeeded with these keys (cleared when the keys or the
    # base URL change), what the exchange said the keys may do, and why it last failed.
    verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    verify_error = models.TextField(blank=True, editable=False)
    withdrawals_enabled = models.BooleanField(
        null=True, blank=True, editable=False,
        help_text="What the exchange reports of the keys; empty when it reports nothing.")
    verified_balance = models.DecimalField(**MONEY, null=True, blank=True, editable=False)
    # Which exchange account the keys open: a keyed hash of the API key and the base URL
    # (the exchange names no account id), so one account never trades for two real bots.
    account_fingerprint = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(exchange__in=["binance", "binance_testnet", "aster"]),
                name="trading_wallet_exchange_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.get_exchange_display()} wallet {self.pk}"

    @property
    def base_url_effective(self) -> str:
        """Where this wallet's orders go: its own base, else its exchange's."""
        return self.base_url.rstrip("/") or EXCHANGE_BASE_URLS[self.exchange]

    @property
    def restrictions_url(self) -> str:
        """Where the exchange reports the keys' permissions (its own base when custom)."""
        if self.base_url:
            return f"{self.base_url.rstrip('/')}/sapi/v1/account/apiRestrictions"
        own = f"{self.base_url_effective}/sapi/v1/account/apiRestrictions"
        return RESTRICTIONS_URLS.get(self.exchange, own)

    @property
    def conditional_api(self) -> str:
        return CONDITIONAL_APIS[self.exchange]


class Reconciliation(models.Model):
    """One comparison of a real bot's rows with its exchange, and what it did."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        AGREED = "agreed", "Agreed"  # nothing left unexplained
        DIFFERENCES = "differences", "Differences"  # something flagged, see its discrepancies
        FAILED = "failed", "Failed"  # the exchange could not be read: nothing changed

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        COMMAND = "command", "Command"
        TURN = "turn", "Turn"

    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="reconciliations")
    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="reconciliations")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # What it found and did, in counts and lists (imported fills, closed positions,
    # cancelled orders, income records), and the two balances it compared.
    summary = models.JSONField(default=dict, blank=True)
    exchange_balance = models.DecimalField(**MONEY, null=True, blank=True)
    ledger_balance = models.DecimalField(**MONEY, null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["running", "agreed", "differences", "failed"]),
                name="trading_reconciliation_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(trigger__in=["schedule", "api", "admin", "command", "turn"]),
                name="trading_reconciliation_trigger_valid",
            ),
        ]
        indexes = [
            # A bot's latest reconciliation (its page, the dashboard): WHERE bot_id = ?
            # ORDER BY started_at DESC LIMIT 1.
            models.Index(fields=["bot", "-started_at"], name="trading_recon_bot_started_idx"),
        ]

    def __str__(self) -> str:
        return f"Reconciliation of bot {self.bot_id} at {self.started_at:%Y-%m-%d %H:%M}: {self.status}"


class Discrepancy(models.Model):
    """Something a reconciliation could not explain: shown to the owner until resolved.
    ``key`` names the thing (an income record, a position, a balance gap at a time), so a
    later run finds the open flag instead of raising it again."""

    class Kind(models.TextChoices):
        BALANCE = "balance", "Balance differs"
        POSITION = "position", "Position differs"
        UNKNOWN_POSITION = "unknown_position", "Position the arena did not open"
        UNKNOWN_FILL = "unknown_fill", "Fill the arena did not place"
        INCOME = "income", "Income record not explained"
        ORDER = "order", "Order not explained"

    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="discrepancies")
    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.PROTECT, related_name="discrepancies")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=120)
    symbol = models.CharField(max_length=32, blank=True)
    detail = models.TextField()
    amount = models.DecimalField(**MONEY, null=True, blank=True)
    # The flagged adjustment entry that brought the journal to what the exchange reported.
    entry = models.OneToOneField(
        "ledger.Entry", on_delete=models.PROTECT, null=True, blank=True, related_name="discrepancy")
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    resolution = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "discrepancies"
        constraints = [
            models.UniqueConstraint(fields=["bot", "key"], name="trading_discrepancy_once_per_thing"),
            models.CheckConstraint(
                condition=Q(kind__in=["balance", "position", "unknown_position", "unknown_fill", "income",
                                      "order"]),
                name="trading_discrepancy_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | ~Q(resolution=""),
                name="trading_discrepancy_resolution_said",
            ),
        ]
        indexes = [
            # The owner's open flags: WHERE bot_id = ? AND resolved_at IS NULL.
            models.Index(fields=["bot", "resolved_at"], name="trading_discrepancy_open_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail[:60]}"


class ExchangeIncome(models.Model):
    """One income record of the exchange (``/fapi/v1/income``), kept once by its tranId:
    the journal entry it explains (a trade's fee or PnL), became (funding, a transfer), or
    the discrepancy it raised."""

    wallet = models.ForeignKey(Wallet, on_delete=models.PROTECT, related_name="income")
    bot = models.ForeignKey("bots.Bot", on_delete=models.PROTECT, related_name="exchange_income")
    tran_id = models.CharField(max_length=40)
    income_type = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32, blank=True)
    amount = models.DecimalField(**MONEY)
    asset = models.CharField(max_length=16)
    time = models.DateTimeField()
    exchange_trade_id = models.CharField(max_length=40, blank=True)  # the record's tradeId
    info = models.CharField(max_length=200, blank=True)
    trade = models.ForeignKey("trading.Trade", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="exchange_income")
    entry = models.ForeignKey("ledger.Entry", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="exchange_income")
    discrepancy = models.ForeignKey(Discrepancy, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="income")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["wallet", "tran_id"], name="trading_income_once_per_tran"),
        ]
        indexes = [
            # The reconciliation's cursor: WHERE wallet_id = ? ORDER BY time DESC LIMIT 1.
            models.Index(fields=["wallet", "-time"], name="trading_income_wallet_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.income_type} {self.amount} {self.asset} ({self.tran_id})"
