"""/wallets/: a user's exchange wallets, the keys a real-money bot trades with (admins:
everyone's, as in the API): the list, add, edit (new keys replace the stored ones; blank
keeps them) and delete with a confirmation step. Validation is the API's
(``arena.api.wallets`` serializers), writes its services (``trading.services``)."""
from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_http_methods

from arena.api.base import is_admin
from arena.api.wallets import WalletSerializer, WalletUpdateSerializer
from arena.web.base import login_required, page
from arena.web.keys.forms import (
    Errors,
    Field,
    changed,
    confirm_delete,
    errors_of,
    general_errors,
    posted,
    with_errors,
)
from bots.models import Bot
from bots.selectors import bots_of
from trading import services as trading_services
from trading.models import EXCHANGE_BASE_URLS, Wallet
from trading.selectors import wallets_of

EDITABLE = ["label", "base_url", "api_key", "api_secret", "address", "bot"]
SECRETS = ("api_key", "api_secret")


def _scope(request: HttpRequest):
    return wallets_of(user_id=request.user.pk, see_all=is_admin(request.user))


def _wallet(request: HttpRequest, pk: int) -> Wallet:
    """The user's wallet (an admin's: any); another user's is a 404."""
    return get_object_or_404(_scope(request), pk=pk)


@login_required
def wallet_list(request: HttpRequest) -> HttpResponse:
    """Active wallets, as ``GET /api/wallets/`` lists them by default."""
    wallets = _scope(request).filter(is_active=True).order_by("label", "pk")
    rows = [{"wallet": w, "data": WalletSerializer(w).data, "others": w.owner_id != request.user.pk}
            for w in wallets]
    return page(request, "web/keys/wallets.html", {"rows": rows})


def _bot_choices(request: HttpRequest, wallet: Wallet | None) -> list[tuple[str, str]]:
    """The bots a wallet can trade for: the user's active real-money bots, and its own bot."""
    bots = bots_of(user_id=request.user.pk, see_all=is_admin(request.user))
    bots = bots.filter(is_active=True, mode=Bot.Mode.REAL)
    choices = [("", "No bot")] + [(str(b.pk), b.name) for b in bots.order_by("name")]
    if wallet is not None and wallet.bot_id and str(wallet.bot_id) not in dict(choices):
        choices.append((str(wallet.bot_id), f"{wallet.bot.name} ({wallet.bot.get_mode_display().lower()})"))
    return choices


def _fields(request: HttpRequest, wallet: Wallet | None, values: dict[str, str],
            errors: Errors) -> list[Field]:
    keep = "A key is stored. Leave blank to keep it; type a new one to replace it."
    fields = []
    if wallet is None:
        fields.append(Field("exchange", "Exchange", values.get("exchange", Wallet.Exchange.BINANCE),
                            input="select", required=True, choices=list(Wallet.Exchange.choices)))
    fields += [
        Field("label", "Name", values.get("label", ""), help="Shown only to you.",
              extra={"maxlength": "100"}),
        Field("base_url", "Base URL", values.get("base_url", ""), input="url",
              help="Any Binance-compatible REST base (https). Blank: the exchange's own "
                   f"({', '.join(sorted(set(EXCHANGE_BASE_URLS.values())))})."),
        Field("api_key", "API key", "", input="password", required=wallet is None,
              help=keep if wallet else "Stored encrypted; never shown again, not even to you.",
              extra={"autocomplete": "new-password", "spellcheck": "false"}),
        Field("api_secret", "API secret", "", input="password", required=wallet is None,
              help=keep if wallet else "Stored encrypted; never shown again, not even to you.",
              extra={"autocomplete": "new-password", "spellcheck": "false"}),
        Field("address", "Address", values.get("address", ""),
              help="The account's on-chain address, where the exchange has one (Aster)."),
        Field("bot", "Bot", values.get("bot", ""), input="select", choices=_bot_choices(request, wallet),
              help="The real-money bot that trades with this wallet. Only one of your real-money bots "
                   "without a wallet can be chosen."),
    ]
    return with_errors(fields, errors)


def _form(request: HttpRequest, *, wallet: Wallet | None, values: dict[str, str], errors: Errors,
          status: int = 200) -> HttpResponse:
    fields = _fields(request, wallet, values, errors)
    data = WalletSerializer(wallet).data if wallet else None
    return page(request, "web/keys/wallet_form.html", {
        "wallet": wallet, "data": data, "fields": fields, "general_errors": general_errors(errors, fields),
    }, status=status)


def _submitted(request: HttpRequest, *, editing: bool) -> tuple[dict[str, Any], dict[str, str]]:
    names = EDITABLE if editing else ["exchange", *EDITABLE]
    data = posted(request.POST, names, secrets=SECRETS, keep_blank_secrets=editing)
    shown = {name: value for name, value in data.items() if name not in SECRETS}
    return data, shown


@login_required
@require_http_methods(["GET", "POST"])
def wallet_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _form(request, wallet=None, values={}, errors={})
    data, shown = _submitted(request, editing=False)
    errors = _created(request, WalletSerializer(data=data, context={"request": request}))
    if not errors:
        return redirect("web:wallets")
    return _form(request, wallet=None, values=shown, errors=errors, status=400)


def _created(request: HttpRequest, form: WalletSerializer) -> Errors:
    """Create the wallet as ``POST /api/wallets/`` does; the errors if it was refused."""
    if not form.is_valid():
        return errors_of(form.errors)
    values = dict(form.validated_data)
    bot = values.pop("bot", None)
    try:
        with transaction.atomic():
            wallet = trading_services.wallet_create(owner=request.user, **values)
            if bot is not None:
                trading_services.wallet_attach(wallet=wallet, bot=bot)
    except DjangoValidationError as exc:
        return errors_of(exc)
    messages.success(request, f"Wallet {wallet} added. Its keys are stored encrypted.")
    return {}


@login_required
@require_http_methods(["GET", "POST"])
def wallet_edit(request: HttpRequest, pk: int) -> HttpResponse:
    wallet = _wallet(request, pk)
    if request.method == "GET":
        values = {"label": wallet.label, "base_url": wallet.base_url, "address": wallet.address,
                  "bot": str(wallet.bot_id or "")}
        return _form(request, wallet=wallet, values=values, errors={})
    data, shown = _submitted(request, editing=True)
    form = WalletUpdateSerializer(wallet, data=data, partial=True, context={"request": request})
    errors = _updated(request, wallet, form)
    if not errors:
        return redirect("web:wallets")
    return _form(request, wallet=wallet, values=shown, errors=errors, status=400)


def _updated(request: HttpRequest, wallet: Wallet, form: WalletUpdateSerializer) -> Errors:
    """Change the wallet as ``PATCH /api/wallets/{id}/`` does, sending only what changed."""
    if not form.is_valid():
        return errors_of(form.errors)
    current = {"label": wallet.label, "base_url": wallet.base_url, "address": wallet.address,
               "bot": wallet.bot_id}
    validated = dict(form.validated_data)
    if "bot" in validated:
        validated["bot"] = validated["bot"].pk if isinstance(validated["bot"], Bot) else None
    changes = changed(current, validated, always=SECRETS)
    try:
        with transaction.atomic():
            if "bot" in changes:
                bot = form.validated_data["bot"]
                if bot is None:
                    trading_services.wallet_detach(wallet=wallet)
                else:
                    trading_services.wallet_attach(wallet=wallet, bot=bot)
            rest = {name: value for name, value in changes.items() if name != "bot"}
            if rest:
                trading_services.wallet_update(wallet=wallet, **rest)
    except DjangoValidationError as exc:
        return errors_of(exc)
    messages.success(request, f"Wallet {wallet} saved." if changes else "Nothing changed.")
    return {}


@login_required
@require_http_methods(["GET", "POST"])
def wallet_delete(request: HttpRequest, pk: int) -> HttpResponse:
    wallet = _wallet(request, pk)
    using = [wallet.bot] if wallet.bot is not None and wallet.bot.is_active else []
    context = {"object": wallet, "label": str(wallet), "what": "wallet", "using": using,
               "back": "web:wallets",
               "action": "web:wallet-delete",
               "consequence": "Its API key and secret are erased. A wallet still tied to a bot's history is "
                              "kept, deactivated and without keys, so that history still names its account."}
    return confirm_delete(request, context, lambda: trading_services.wallet_delete(wallet=wallet),
                          f"Wallet {wallet}")
