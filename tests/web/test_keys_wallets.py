"""/wallets/: exchange keys stored encrypted and never drawn (not even their last 4
characters), scoped to the owner (another user's wallet is a 404), edited with blank keys
kept, attached to a real-money bot through the API's services, deleted behind a
confirmation and refused while a real-money bot trades with the wallet."""
from __future__ import annotations

import pytest
from django.test import Client

from bots.services import bot_create
from ledger.models import Change
from trading.models import Wallet
from trading.services import wallet_attach, wallet_create

pytestmark = pytest.mark.django_db

KEY = "AKEY-web-plaintext-0123456789abcdefWXYZ"
SECRET = "SSEC-web-plaintext-9876543210fedcbaQRST"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def no_secret(response, *secrets: str) -> str:
    html = response.content.decode()
    for secret in secrets:
        assert secret not in html and secret[-4:] not in html
    return html


@pytest.fixture
def wallet(user) -> Wallet:
    return wallet_create(owner=user, exchange="binance_testnet", api_key=KEY, api_secret=SECRET, label="Test")


@pytest.fixture
def real_bot(user, provider, settings):
    settings.REAL_TRADING_ENABLED = True
    return bot_create(owner=user, name="Live", prompt="Go {{marketData}}", provider=provider, mode="real")


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in ("/wallets/", "/wallets/new/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url == f"/login/?next={url}"


def test_the_list_shows_each_wallet_and_its_key_state_but_never_the_keys(user, wallet, real_bot):
    wallet_attach(wallet=wallet, bot=real_bot)
    response = signed_in(user).get("/wallets/")
    html = no_secret(response, KEY, SECRET)
    assert response.status_code == 200 and html.count("<h1") == 1
    assert f'data-wallet="{wallet.pk}"' in html and "Binance USDT-M testnet" in html
    assert "https://testnet.binancefuture.com" in html
    assert "key set" in html and "secret set" in html
    assert f'<a href="/bots/{real_bot.pk}/">Live</a>' in html
    assert "encrypted at rest and never shown again" in html


def test_a_label_with_markup_is_escaped(user):
    wallet_create(owner=user, exchange="aster", api_key=KEY, api_secret=SECRET, label="<script>x()</script>")
    html = signed_in(user).get("/wallets/").content.decode()
    assert "<script>x()" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html


def test_another_users_wallet_is_not_listed_and_is_a_404(user, other_user):
    theirs = wallet_create(owner=other_user, exchange="aster", api_key="their-key-1",
                           api_secret="their-sec-1", label="Theirs-Private")
    client = signed_in(user)
    assert "Theirs-Private" not in client.get("/wallets/").content.decode()
    for action in ("edit", "delete"):
        assert client.get(f"/wallets/{theirs.pk}/{action}/").status_code == 404
        assert client.post(f"/wallets/{theirs.pk}/{action}/", {"label": "Mine"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.label == "Theirs-Private" and theirs.is_active


def test_a_new_wallets_keys_are_stored_encrypted_and_never_shown(user):
    client = signed_in(user)
    response = client.post("/wallets/new/", {"exchange": "binance", "label": "Main", "base_url": "",
                                             "api_key": KEY, "api_secret": SECRET, "address": "", "bot": ""})
    assert response.status_code == 302 and response.url == "/wallets/"
    made = Wallet.objects.get(owner=user, label="Main")
    assert KEY not in made.api_key_encrypted and SECRET not in made.api_secret_encrypted
    assert (made.api_key, made.api_secret, made.bot_id) == (KEY, SECRET, None)
    for url in ("/wallets/", f"/wallets/{made.pk}/edit/", f"/wallets/{made.pk}/delete/"):
        no_secret(client.get(url), KEY, SECRET)
    change = Change.objects.get(object_type="trading.Wallet", object_id=str(made.pk), action="created")
    assert change.actor_id == user.pk


def test_a_refused_wallet_names_the_fields_and_echoes_no_key(user):
    response = signed_in(user).post("/wallets/new/", {"exchange": "binance", "label": "Main",
                                                      "base_url": "http://127.0.0.1/", "api_key": KEY,
                                                      "api_secret": ""})
    assert response.status_code == 400
    html = no_secret(response, KEY)
    assert 'data-field="api_secret"' in html and "may not be blank" in html
    assert not Wallet.objects.filter(owner=user).exists()


def test_a_new_wallet_can_be_given_a_real_money_bot_but_not_a_paper_one(user, real_bot, bot):
    client = signed_in(user)
    form = client.get("/wallets/new/").content.decode()
    assert f'<option value="{real_bot.pk}">Live</option>' in form and f'value="{bot.pk}"' not in form
    refused = client.post("/wallets/new/", {"exchange": "aster", "api_key": KEY, "api_secret": SECRET,
                                            "bot": str(bot.pk)})
    assert refused.status_code == 400
    assert "Only a real-money bot trades with a wallet" in refused.content.decode()
    assert not Wallet.objects.filter(owner=user).exists()  # the attach failed: the creation is undone
    made = client.post("/wallets/new/", {"exchange": "aster", "api_key": KEY, "api_secret": SECRET,
                                         "bot": str(real_bot.pk)})
    assert made.status_code == 302
    assert Wallet.objects.get(owner=user).bot_id == real_bot.pk


def test_an_edit_with_blank_keys_keeps_them_and_a_new_key_replaces_one(user, wallet):
    client = signed_in(user)
    form = no_secret(client.get(f"/wallets/{wallet.pk}/edit/"), KEY, SECRET)
    assert 'name="api_key" type="password"' in form and 'name="exchange"' not in form
    response = client.post(f"/wallets/{wallet.pk}/edit/", {"label": "Renamed", "base_url": "", "api_key": "",
                                                           "api_secret": "", "address": "", "bot": ""})
    assert response.status_code == 302
    wallet.refresh_from_db()
    assert (wallet.label, wallet.api_key, wallet.api_secret) == ("Renamed", KEY, SECRET)
    client.post(f"/wallets/{wallet.pk}/edit/", {"label": "Renamed", "api_key": "", "api_secret": "NEWSECRET1",
                                                "bot": ""})
    wallet.refresh_from_db()
    assert (wallet.api_key, wallet.api_secret) == (KEY, "NEWSECRET1")


def test_an_edit_attaches_and_detaches_the_bot(user, wallet, real_bot):
    client = signed_in(user)
    client.post(f"/wallets/{wallet.pk}/edit/", {"label": "Test", "bot": str(real_bot.pk)})
    wallet.refresh_from_db()
    assert wallet.bot_id == real_bot.pk
    refused = client.post(f"/wallets/{wallet.pk}/edit/", {"label": "Test", "bot": ""})
    assert refused.status_code == 400 and "trades real money with this wallet" in refused.content.decode()
    wallet.refresh_from_db()
    assert wallet.bot_id == real_bot.pk


def test_delete_asks_first_then_deletes(user, wallet):
    client = signed_in(user)
    confirm = client.get(f"/wallets/{wallet.pk}/delete/").content.decode()
    assert 'data-action="confirm-delete"' in confirm and Wallet.objects.filter(pk=wallet.pk).exists()
    response = client.post(f"/wallets/{wallet.pk}/delete/")
    assert response.status_code == 302 and response.url == "/wallets/"
    assert not Wallet.objects.filter(pk=wallet.pk).exists()


def test_delete_is_refused_while_a_real_money_bot_trades_with_it(user, wallet, real_bot):
    wallet_attach(wallet=wallet, bot=real_bot)
    response = signed_in(user).post(f"/wallets/{wallet.pk}/delete/")
    html = response.content.decode()
    assert response.status_code == 400 and "data-refused" in html and "trades real money" in html
    wallet.refresh_from_db()
    assert wallet.is_active and wallet.api_key == KEY


def test_unsafe_actions_need_the_csrf_token(user, wallet):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for url in ("/wallets/new/", f"/wallets/{wallet.pk}/edit/", f"/wallets/{wallet.pk}/delete/"):
        assert client.post(url, {"exchange": "aster", "label": "X", "api_key": KEY,
                                 "api_secret": SECRET}).status_code == 403
    wallet.refresh_from_db()
    assert wallet.label == "Test" and Wallet.objects.filter(owner=user).count() == 1


def test_without_wallets_the_page_says_how_to_add_one(user):
    html = signed_in(user).get("/wallets/").content.decode()
    assert "No wallet yet" in html and 'href="/wallets/new/"' in html
