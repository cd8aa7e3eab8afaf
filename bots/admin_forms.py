"""The bot admin's form: the rules ``bot_create`` and ``bot_update`` apply, checked first so
they come back as form errors, and what a real-money bot needs besides (one of its owner's
verified wallets, and the admin's own password typed again)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from bots.models import Bot
from bots.services import bot_validate
from bots.services.bots import BOT_LIMITS, bot_real_validate, limits_errors
from trading.models import Wallet


def _wallet_label(wallet: Wallet) -> str:
    state = "verified" if wallet.verified_at else "not verified"
    return f"{wallet} — {wallet.owner} ({state})"


class BotAdminForm(forms.ModelForm):
    # Blank takes the arena's paper or live default, as bot_create does.
    initial_balance = forms.DecimalField(
        required=False, max_digits=24, decimal_places=8, min_value=Decimal("0.00000001"),
        help_text="USDT deposited into the new paper bot's account; blank for the arena default. A real "
                  "bot starts with the balance its exchange reported when its wallet was verified.",
    )
    wallet = forms.ModelChoiceField(
        queryset=Wallet.objects.none(), required=False,
        help_text="A real-money bot: one of the owner's verified wallets that no bot uses.",
    )
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="A real-money bot: your own password, typed again.",
    )
    # Set by the admin's get_form: whose password confirms a new real bot.
    acting_user: Any = None

    class Meta:
        model = Bot
        fields = (
            "owner", "name", "provider", "mode", "is_paused", "is_active", "initial_balance",
            "prompt", "symbols", "sandbox_enabled", "avatar", "legacy_id", "max_order_notional",
            "max_exposure",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        free = Wallet.objects.filter(bot__isnull=True, is_active=True).select_related("owner")
        self.fields["wallet"].queryset = free.order_by("owner__username", "label", "pk")
        self.fields["wallet"].label_from_instance = _wallet_label

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # bot_create and bot_update apply the same rules, but only after the form has
        # been accepted; checked here they come back as form errors, not a 500. (Without
        # an owner or a provider the form has its required-field errors already.)
        owner = cleaned.get("owner") or getattr(self.instance, "owner", None)
        provider = cleaned.get("provider")
        adding = self.instance._state.adding
        if owner and provider:
            mode = cleaned.get("mode") if adding else None
            try:
                bot_validate(owner=owner, provider=provider, mode=mode)
            except ValidationError as exc:
                self.add_error(None, exc)
        for name, message in limits_errors({n: cleaned.get(n) for n in BOT_LIMITS}).items():
            self.add_error(name, message)
        if adding and owner and cleaned.get("mode") == Bot.Mode.REAL:
            self._real_checked(owner, cleaned)
        elif adding and cleaned.get("wallet"):
            self.add_error("wallet", "Only a real-money bot takes a wallet.")
        return cleaned

    def _real_checked(self, owner: Any, cleaned: dict[str, Any]) -> None:
        if cleaned.get("initial_balance") is not None:
            self.add_error("initial_balance",
                           "A real bot starts with its exchange's balance: leave this blank.")
        try:
            bot_real_validate(owner=owner, password=cleaned.get("password", ""), wallet=cleaned.get("wallet"),
                              confirmed_by=self.acting_user)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field, messages)
