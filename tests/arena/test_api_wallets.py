"""/api/wallets/: exchange keys stored encrypted and never shown, scoped to the owner
(another user's wallet is a 404), attached to at most one real-money bot of the same owner,
bad input a 400 naming the field with nothing written."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from bots.services import bot_create, bot_update, provider_create
from tests.arena.api_helpers import client_for, error_of
from trading.models import Wallet
from trading.services import wallet_attach, wallet_create

pytestmark = pytest.mark.django_db

KEY = "AKEY-plaintext-0123456789abcdefWXYZ"
SECRET = "SSEC-plaintext-9876543210fedcbaQRST"


def secrets_in(response, *values: str) -> list[str]:
    """Which of ``values`` (or their last 4 characters) the raw response body holds."""
    text = response.content.decode()
    return [v for value in values for v in (value, value[-4:]) if v in text]


@pytest.fixture
def real_bot(user, provider, settings):
    settings.REAL_TRADING_ENABLED = True
    return bot_create(owner=user, name="Live", prompt="Go {{marketData}}", provider=provider, mode="real")


@pytest.fixture
def wallet(user):
    return wallet_create(owner=user, exchange="binance_testnet", api_key=KEY, api_secret=SECRET, label="Test")


@pytest.fixture
def theirs(other_user):
    provider = provider_create(owner=other_user, name="Theirs", kind="scripted", model="momentum")
    bot = bot_create(owner=other_user, name="Rival", prompt="p", provider=provider)
    wallet = wallet_create(owner=other_user, exchange="aster", api_key="their-key-1",
                           api_secret="their-secret-1")
    return bot, wallet


def test_create_shows_no_key_or_secret_and_stores_only_ciphertext(user):
    client = client_for(user)
    response = client.post("/api/wallets/", {"exchange": "binance", "label": "Main", "api_key": KEY,
                                             "api_secret": SECRET})
    assert response.status_code == 201, response.json()
    assert secrets_in(response, KEY, SECRET) == []
    body = response.json()
    assert body["has_api_key"] is body["has_api_secret"] is True
    assert body["key_needs_reentry"] is False and body["bot"] is None and body["owner"] == user.pk
    assert (body["base_url"], body["base_url_effective"]) == ("", "https://fapi.binance.com")
    wallet = Wallet.objects.get(pk=body["id"])
    assert KEY not in wallet.api_key_encrypted and SECRET not in wallet.api_secret_encrypted
    assert wallet.api_key_encrypted != wallet.api_secret_encrypted
    assert (wallet.api_key, wallet.api_secret) == (KEY, SECRET)
    for read in (client.get("/api/wallets/"), client.get(f"/api/wallets/{wallet.pk}/")):
        assert read.status_code == 200 and secrets_in(read, KEY, SECRET) == []


def test_a_custom_base_url_is_where_orders_go(user):
    response = client_for(user).post("/api/wallets/", {"exchange": "binance", "api_key": KEY,
                                                       "api_secret": SECRET,
                                                       "base_url": "https://proxy.example/binance/"})
    assert response.status_code == 201, response.json()
    assert response.json()["base_url_effective"] == "https://proxy.example/binance"
    testnet = client_for(user).post("/api/wallets/", {"exchange": "binance_testnet", "api_key": KEY,
                                                      "api_secret": SECRET})
    assert testnet.json()["base_url_effective"] == "https://testnet.binancefuture.com"


def test_update_replaces_the_key_and_clears_reentry(user, wallet):
    Wallet.objects.filter(pk=wallet.pk).update(key_needs_reentry=True)
    old_secret_ciphertext = wallet.api_secret_encrypted
    response = client_for(user).patch(f"/api/wallets/{wallet.pk}/",
                                      {"api_key": "NEWKEY-0000-abcd", "label": "X"})
    assert response.status_code == 200, response.json()
    assert secrets_in(response, "NEWKEY-0000-abcd", SECRET) == []
    assert response.json()["key_needs_reentry"] is False and response.json()["label"] == "X"
    wallet.refresh_from_db()
    assert wallet.api_key == "NEWKEY-0000-abcd" and "NEWKEY" not in wallet.api_key_encrypted
    assert wallet.api_secret_encrypted == old_secret_ciphertext and wallet.api_secret == SECRET
    assert not wallet.key_needs_reentry


def test_another_users_wallet_is_a_404_and_untouched(user, theirs):
    _, wallet = theirs
    client = client_for(user)
    for method, data in [("get", None), ("patch", {"label": "Mine now"}), ("delete", None)]:
        response = getattr(client, method)(f"/api/wallets/{wallet.pk}/", data)
        assert response.status_code == 404, (method, response.status_code)
        assert error_of(response)["code"] == "not_found"
    wallet.refresh_from_db()
    assert (wallet.label, wallet.is_active, wallet.api_key) == ("", True, "their-key-1")
    assert client.get("/api/wallets/").json()["results"] == []


def test_an_admin_sees_every_wallet(admin_user, wallet, theirs):
    ids = {w["id"] for w in client_for(admin_user).get("/api/wallets/").json()["results"]}
    assert ids == {wallet.pk, theirs[1].pk}


def test_attaching_to_another_users_bot_is_refused(user, wallet, theirs):
    response = client_for(user).patch(f"/api/wallets/{wallet.pk}/", {"bot": theirs[0].pk})
    assert response.status_code == 400 and "bot" in error_of(response)["fields"]
    wallet.refresh_from_db()
    assert wallet.bot_id is None


def test_the_service_refuses_another_owners_bot_too(wallet, theirs):
    with pytest.raises(ValidationError) as refused:
        wallet_attach(wallet=wallet, bot=theirs[0])
    assert "bot" in refused.value.message_dict


def test_attach_detach_and_one_wallet_per_bot(user, wallet, real_bot):
    client = client_for(user)
    attached = client.patch(f"/api/wallets/{wallet.pk}/", {"bot": real_bot.pk})
    assert attached.status_code == 200 and attached.json()["bot"] == real_bot.pk
    second = wallet_create(owner=user, exchange="binance", api_key="k2", api_secret="s2")
    response = client.patch(f"/api/wallets/{second.pk}/", {"bot": real_bot.pk})
    assert response.status_code == 400
    assert "already has a wallet" in error_of(response)["fields"]["bot"][0]
    second.refresh_from_db()
    assert second.bot_id is None
    created = client.post("/api/wallets/", {"exchange": "aster", "api_key": "k3", "api_secret": "s3",
                                            "bot": real_bot.pk})
    assert created.status_code == 400 and "bot" in error_of(created)["fields"]
    assert Wallet.objects.count() == 2  # the refused attach rolled the new wallet back


def test_a_paper_bot_takes_no_wallet(user, wallet, bot):
    response = client_for(user).patch(f"/api/wallets/{wallet.pk}/", {"bot": bot.pk})
    assert response.status_code == 400 and "real-money" in error_of(response)["fields"]["bot"][0]


def test_create_attached_to_a_real_bot(user, real_bot):
    response = client_for(user).post("/api/wallets/", {"exchange": "binance", "api_key": KEY,
                                                       "api_secret": SECRET, "bot": real_bot.pk})
    assert response.status_code == 201, response.json()
    assert Wallet.objects.get(pk=response.json()["id"]).bot_id == real_bot.pk


def test_a_wallet_an_active_real_bot_trades_with_stays(user, wallet, real_bot):
    wallet_attach(wallet=wallet, bot=real_bot)
    client = client_for(user)
    for method, data in [("delete", None), ("patch", {"bot": None}), ("patch", {"is_active": False})]:
        response = getattr(client, method)(f"/api/wallets/{wallet.pk}/", data, format="json")
        assert response.status_code == 400, (method, data, response.status_code)
        assert "Live" in error_of(response)["message"]
    wallet.refresh_from_db()
    assert (wallet.bot_id, wallet.is_active, wallet.api_key) == (real_bot.pk, True, KEY)
    # Once the bot is deleted, deleting the wallet erases its keys and keeps the row for the history.
    bot_update(bot=real_bot, is_active=False)
    assert client.delete(f"/api/wallets/{wallet.pk}/").status_code == 204
    wallet.refresh_from_db()
    assert (wallet.bot_id, wallet.is_active, wallet.api_key_encrypted, wallet.api_secret_encrypted) == (
        real_bot.pk, False, "", "")
    assert client.get("/api/wallets/").json()["results"] == []
    assert [w["id"] for w in client.get("/api/wallets/?is_active=false").json()["results"]] == [wallet.pk]


def test_a_free_wallet_is_deleted_and_detach_works_on_a_paper_bot(user, wallet, bot):
    Wallet.objects.filter(pk=wallet.pk).update(bot=bot)  # e.g. brought in by the legacy import
    client = client_for(user)
    detached = client.patch(f"/api/wallets/{wallet.pk}/", {"bot": None}, format="json")
    assert detached.status_code == 200 and detached.json()["bot"] is None
    assert client.delete(f"/api/wallets/{wallet.pk}/").status_code == 204
    assert not Wallet.objects.filter(pk=wallet.pk).exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"exchange": "kraken"}, "exchange"),
    ({"exchange": None}, "exchange"),
    ({"base_url": "http://fapi.binance.com"}, "base_url"),
    ({"base_url": "https://user:pass@proxy.example"}, "base_url"),
    ({"base_url": "ftp://proxy.example"}, "base_url"),
    ({"colour": "red"}, "colour"),
    ({"owner": 2}, "owner"),
    ({"is_active": False}, "is_active"),
    ({"label": "<b>Main</b>"}, "label"),
    ({"address": "0xabc <script>"}, "address"),
    ({"api_secret": ""}, "api_secret"),
    ({"api_key": "AKEY-9f3Q Z7x1"}, "api_key"),
    ({"bot": 999_999}, "bot"),
])
def test_a_bad_wallet_is_refused_naming_the_field_and_nothing_is_written(user, change, field):
    payload = {"exchange": "binance", "api_key": KEY, "api_secret": SECRET, **change}
    response = client_for(user).post("/api/wallets/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_of(response)["fields"]
    assert secrets_in(response, KEY, SECRET, "AKEY-9f3Q Z7x1") == []
    assert not Wallet.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"exchange": "aster"}, "exchange"),
    ({"base_url": "http://proxy.example"}, "base_url"),
    ({"label": "a<b"}, "label"),
    ({"api_key": ""}, "api_key"),
    ({"api_secret": "two\nlines"}, "api_secret"),
    ({"owner": 2}, "owner"),
    ({"has_api_key": False}, "has_api_key"),
])
def test_a_bad_change_is_refused_and_nothing_is_written(user, wallet, change, field):
    before = Wallet.objects.values().get(pk=wallet.pk)
    response = client_for(user).patch(f"/api/wallets/{wallet.pk}/", change, format="json")
    assert response.status_code == 400, response.json()
    assert field in error_of(response)["fields"]
    assert Wallet.objects.values().get(pk=wallet.pk) == before


def test_filter_by_bot_exchange_and_state(user, wallet, real_bot, theirs):
    wallet_attach(wallet=wallet, bot=real_bot)
    spare = wallet_create(owner=user, exchange="aster", api_key="k2", api_secret="s2")
    client = client_for(user)

    def ids(query: str) -> list[int]:
        response = client.get(f"/api/wallets/{query}")
        assert response.status_code == 200, response.json()
        return [w["id"] for w in response.json()["results"]]

    assert ids("") == [spare.pk, wallet.pk]
    assert ids(f"?bot={real_bot.pk}") == [wallet.pk]
    assert ids(f"?bot={theirs[0].pk}") == []
    assert ids("?exchange=aster") == [spare.pk]
    assert ids("?is_active=false") == []
    response = client.get("/api/wallets/?bot=nope")
    assert response.status_code == 400 and "bot" in error_of(response)["fields"]
