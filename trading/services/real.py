"""Real money: a real bot's exchange client and broker, verifying a wallet, and the rules a
wallet must keep before it trades.

A wallet trades for a real bot only once it is *verified*: a signed read on its exchange
succeeded with its keys (the USDT balance, which becomes the bot's starting balance), the
exchange does not report the keys as allowed to withdraw, and the account is in one-way
mode (Arena keeps one position per symbol). Its exchange account — a keyed hash of the
API key and the venue, since the exchange names no account id — trades for one active
real bot at most. Verification is cleared when the keys or the base URL change.

Trading does not import bots or arena: a bot is the object the caller passes (its
``pk``, ``name``, ``mode``, ``is_active``), its wallet found by the bot's id.
"""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from ledger.services import money
from trading.brokers.exchange import ExchangeBroker
from trading.exchanges import ExchangeClient, ExchangeError
from trading.models import CloseReason, Position, Wallet
from trading.services.wallets import wallet_audited, wallet_change

REAL_MODE = "real"  # ``bots.Bot.Mode.REAL``, by value


class RealTradingError(Exception):
    """A real bot that cannot be traded now; the message says why and what to do."""


def exchange_client(wallet: Wallet, **options: Any) -> ExchangeClient:
    """A client signed with ``wallet``'s keys, to its venue (close it after use)."""
    return ExchangeClient(
        base_url=wallet.base_url_effective, api_key=wallet.api_key, api_secret=wallet.api_secret,
        name=wallet.get_exchange_display(), conditional_api=wallet.conditional_api,
        restrictions_url=wallet.restrictions_url, **options,
    )


def account_fingerprint(wallet: Wallet) -> str:
    """Which exchange account the wallet's keys open, without storing the key in clear."""
    message = f"{wallet.base_url_effective}\n{wallet.api_key}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _verify_failed(wallet: Wallet, message: str) -> None:
    before = wallet_audited(wallet)
    wallet.verified_at, wallet.verify_error, wallet.account_fingerprint = None, message, ""
    wallet.save(update_fields=["verified_at", "verify_error", "account_fingerprint", "updated_at"])
    wallet_change(wallet, "verify_failed", before)
    raise ValidationError({"wallet": [message]})


def wallet_verify(*, wallet: Wallet, now: datetime | None = None) -> Wallet:
    """Check ``wallet``'s keys on its exchange with signed reads and record what it says.
    Raises ``ValidationError`` on "wallet" (the reason also saved as ``verify_error``) when
    the keys fail, may withdraw, or the account is in hedge mode."""
    now = now or timezone.now()
    if not wallet.api_key_encrypted or not wallet.api_secret_encrypted or wallet.key_needs_reentry:
        _verify_failed(wallet, "Enter the wallet's API key and secret (again) before verifying it.")
    try:
        with exchange_client(wallet) as client:
            balance = client.balance("USDT")
            restrictions = client.api_restrictions()
            hedge = client.hedge_mode()
    except ExchangeError as exc:
        _verify_failed(wallet, f"The signed read on the exchange failed: {exc}")
    if restrictions is not None and restrictions.enable_withdrawals:
        _verify_failed(wallet, "The exchange reports that these keys may withdraw funds. Create keys "
                               "without the withdrawal permission: Arena never needs it.")
    if hedge:
        _verify_failed(wallet, "The account is in hedge mode; Arena trades one-way mode only: switch the "
                               "account's position mode to one-way.")
    before = wallet_audited(wallet)
    wallet.verified_at, wallet.verify_error = now, ""
    wallet.withdrawals_enabled = None if restrictions is None else restrictions.enable_withdrawals
    wallet.verified_balance = money(balance.balance)
    wallet.account_fingerprint = account_fingerprint(wallet)
    wallet.save(update_fields=["verified_at", "verify_error", "withdrawals_enabled", "verified_balance",
                               "account_fingerprint", "updated_at"])
    wallet_change(wallet, "verified", before)
    return wallet


def wallet_real_refusal(wallet: Wallet | None, *, bot: Any = None) -> str | None:
    """Why ``wallet`` cannot trade for a real bot (``bot``, if it is already one), or None."""
    if wallet is None:
        return "A real-money bot needs a wallet with its exchange API keys."
    if not wallet.is_active:
        return "This wallet is deactivated: activate it first."
    if wallet.key_needs_reentry or not wallet.api_key_encrypted or not wallet.api_secret_encrypted:
        return f"The API key and secret of wallet {wallet} must be entered (again)."
    if wallet.verified_at is None:
        last = f" (last attempt: {wallet.verify_error})" if wallet.verify_error else ""
        return f"Verify wallet {wallet} first: a signed read on the exchange must succeed{last}."
    if wallet.withdrawals_enabled:
        return "The exchange reports that this wallet's keys may withdraw funds: use keys without it."
    others = Wallet.objects.filter(
        account_fingerprint=wallet.account_fingerprint, bot__mode=REAL_MODE, bot__is_active=True,
    ).exclude(pk=wallet.pk)
    if bot is not None:
        others = others.exclude(bot_id=bot.pk)
    other = others.select_related("bot").first()
    if other is not None:
        return (f"This exchange account already trades for the real bot {other.bot.name!r}: one real bot "
                "per exchange account.")
    return None


def real_wallet(bot: Any) -> Wallet:
    """The wallet a real bot trades with, if it may trade; else ``RealTradingError``."""
    wallet = Wallet.objects.filter(bot_id=bot.pk).first()
    refusal = wallet_real_refusal(wallet, bot=bot)
    if refusal:
        raise RealTradingError(refusal)
    return wallet


def exchange_broker_for(*, bot: Any) -> ExchangeBroker:
    """The broker of a real bot: its exchange, through its verified wallet."""
    return ExchangeBroker(client=exchange_client(real_wallet(bot)))


def real_trading_refusal(bot: Any) -> str | None:
    """Why a real bot may not open positions now (real trading off, its wallet), or None.
    Closing stays possible while real trading is off, so positions can always be left."""
    if not settings.REAL_TRADING_ENABLED:
        return ("real trading is not enabled on this arena (REAL_TRADING_ENABLED is off), so this real bot "
                "is not traded; it is never traded on paper instead")
    try:
        real_wallet(bot)
    except RealTradingError as exc:
        return str(exc)
    return None


def real_positions_close(*, bot: Any, now: datetime | None = None) -> list[str]:
    """Close every open position of a real bot on its exchange (the kill switch): one note
    per position; one position's failure is noted and the others are still closed."""
    from trading.services.positions import PositionError, position_close

    now = now or timezone.now()
    notes = []
    open_ = Position.objects.filter(bot_id=bot.pk, status=Position.Status.OPEN)
    ids = list(open_.values_list("pk", flat=True))
    if not ids:
        return notes
    try:
        broker = exchange_broker_for(bot=bot)
    except RealTradingError as exc:
        return [f"positions {', '.join(map(str, ids))} were not closed: {exc}"]
    try:
        for position_id in ids:
            try:
                result = position_close(position=position_id, reason=CloseReason.MANUAL, now=now,
                                        broker=broker)
            except PositionError as exc:
                notes.append(f"position {position_id} was not closed: {exc}")
                continue
            if result.closed:
                notes.append(f"position {position_id} closed at {result.trade.price.normalize():f}")
            else:
                notes.append(f"position {position_id}: {'; '.join(result.notes)}")
    finally:
        broker.close()
    return notes
