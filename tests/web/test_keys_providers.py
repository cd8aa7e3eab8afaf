"""/providers/: the user's LLM providers drawn with their key state (never the key), bots
and health; add, edit (a blank key keeps the stored one), delete behind a confirmation, and
"Test connection" (the API's probe and throttle) shown escaped. Vendors are mocked with
respx; hosts resolve from tests/offline_dns.py."""
from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx
from django.test import Client
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from arena.models import ArenaSettings
from bots.models import Decision, LLMProvider
from bots.services import bot_create, provider_create
from ledger.models import Change

pytestmark = pytest.mark.django_db

KEY = "sk-web-SECRET-0123456789abcdefWXYZ"
CHAT = "https://api.openai.com/v1/chat/completions"
HX = {"HTTP_HX_REQUEST": "true"}
OK_REPLY = {"model": "gpt-4o-mini-2024-07-18", "choices": [{"message": {"content": '{"ok": true}'}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5}}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def no_secret(response, *secrets: str) -> str:
    """The page's HTML, checked to hold none of ``secrets`` nor their last 4 characters."""
    html = response.content.decode()
    for secret in secrets:
        assert secret not in html and secret[-4:] not in html
    return html


@pytest.fixture
def keyed(user) -> LLMProvider:
    return provider_create(owner=user, name="OpenAI", kind="openai", model="gpt-4o-mini",
                           base_url="https://api.openai.com/v1", api_key=KEY)


def new_provider(client: Client, **fields):
    data = {"name": "Grok", "kind": "openai", "base_url": "https://api.x.ai/v1", "model": "grok-3",
            "api_key": KEY, "input_price_per_mtok": "3", "output_price_per_mtok": "15",
            "timeout_seconds": "60", "max_retries": "2", "options": '{"temperature": 0.2}'}
    return client.post("/providers/new/", {**data, **fields})


# --- the list ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for url in ("/providers/", "/providers/new/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url == f"/login/?next={url}"


def test_the_list_shows_each_provider_its_key_state_and_bots_but_never_the_key(user, keyed, provider, bot):
    response = signed_in(user).get("/providers/")
    assert response.status_code == 200
    html = no_secret(response, KEY)
    assert f'data-provider="{keyed.pk}"' in html and f'data-provider="{provider.pk}"' in html
    assert "https://api.openai.com/v1" in html and "gpt-4o-mini" in html
    assert ">set<" in html  # keyed's key is stored
    assert f'<a href="/bots/{bot.pk}/">Momo</a>' in html  # the scripted provider's bot
    assert html.count("<h1") == 1


def test_another_users_providers_are_not_listed_and_are_a_404(user, other_user):
    theirs = provider_create(owner=other_user, name="Theirs-Private", kind="scripted", model="momentum")
    client = signed_in(user)
    assert "Theirs-Private" not in client.get("/providers/").content.decode()
    for url in (f"/providers/{theirs.pk}/edit/", f"/providers/{theirs.pk}/delete/"):
        assert client.get(url).status_code == 404
    for action in ("edit", "delete", "test"):
        url = f"/providers/{theirs.pk}/{action}/"
        assert client.post(url, {"name": "Mine now"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs-Private" and theirs.is_active


def test_user_text_is_escaped(user):
    # The API refuses markup in names; rows written another way are still drawn as text.
    p = provider_create(owner=user, name="<script>alert('p')</script>", kind="scripted", model="<b>m</b>")
    bot_create(owner=user, name="<img src=x onerror=alert(1)>", prompt="p", provider=p)
    html = signed_in(user).get("/providers/").content.decode()
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#x27;p&#x27;)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>m</b>" not in html


def test_a_failing_provider_shows_its_last_error_escaped_and_when(user, provider, bot):
    now = timezone.now()
    Decision.objects.create(bot=bot, created_at=now - timedelta(hours=2), success=True)
    Decision.objects.create(bot=bot, created_at=now - timedelta(minutes=5),
                            error="HTTP 500: <script>boom()</script> upstream down")
    html = signed_in(user).get("/providers/").content.decode()
    assert "failing" in html
    assert "HTTP 500: &lt;script&gt;boom()&lt;/script&gt; upstream down" in html
    assert "<script>boom" not in html
    Decision.objects.create(bot=bot, created_at=now - timedelta(minutes=1), success=True)
    html = signed_in(user).get("/providers/").content.decode()
    assert 'badge failed">failing' not in html and 'badge ok">working' in html
    assert "it has answered since" in html


# --- add and edit --------------------------------------------------------------------


def test_a_new_providers_key_is_stored_encrypted_and_never_shown(user):
    client = signed_in(user)
    response = new_provider(client)
    assert response.status_code == 302 and response.url == "/providers/"
    made = LLMProvider.objects.get(owner=user, name="Grok")
    assert KEY not in made.api_key_encrypted and made.api_key == KEY
    assert (made.model, made.timeout_seconds, made.max_retries, made.options) == ("grok-3", 60, 2,
                                                                                  {"temperature": 0.2})
    assert str(made.input_price_per_mtok) == "3.000000"
    for url in ("/providers/", f"/providers/{made.pk}/edit/", f"/providers/{made.pk}/delete/"):
        no_secret(client.get(url, follow=True), KEY)
    change = Change.objects.get(object_type="bots.LLMProvider", object_id=str(made.pk), action="created")
    assert change.actor_id == user.pk and change.changes["api_key"] == [None, "(changed)"]


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"base_url": "http://169.254.169.254/v1"}, "base_url", "metadata"),
    ({"base_url": "https://api.x.ai"}, "base_url", "ends in /v1"),
    ({"name": "<b>x</b>"}, "name", "plain text"),
    ({"options": "{not json"}, "options", "Not valid JSON"),
    ({"timeout_seconds": "0"}, "timeout_seconds", "greater than or equal to 1"),
])
def test_a_refused_provider_names_the_field_writes_nothing_and_echoes_no_key(user, fields, field, words):
    response = new_provider(signed_in(user), **fields)
    assert response.status_code == 400
    html = no_secret(response, KEY)
    assert words in html and f'data-field="{field}"' in html
    assert not LLMProvider.objects.filter(owner=user).exists()


def test_a_name_already_used_is_refused(user, keyed):
    response = new_provider(signed_in(user), name="OpenAI")
    assert response.status_code == 400
    assert "already have a provider with this name" in response.content.decode()
    assert LLMProvider.objects.filter(owner=user).count() == 1


def edit(client: Client, provider: LLMProvider, **fields):
    current = {"name": provider.name, "base_url": provider.base_url, "model": provider.model, "api_key": "",
               "input_price_per_mtok": str(provider.input_price_per_mtok),
               "output_price_per_mtok": str(provider.output_price_per_mtok),
               "timeout_seconds": str(provider.timeout_seconds), "max_retries": str(provider.max_retries),
               "options": ""}
    return client.post(f"/providers/{provider.pk}/edit/", {**current, **fields})


def test_the_edit_form_holds_no_key_and_a_blank_key_keeps_the_stored_one(user, keyed):
    client = signed_in(user)
    form = client.get(f"/providers/{keyed.pk}/edit/")
    html = no_secret(form, KEY)
    assert 'name="api_key" type="password"' in html and "A key is stored" in html
    assert 'name="kind"' not in html  # a provider's kind is fixed
    response = edit(client, keyed, name="Renamed", model="gpt-4.1")
    assert response.status_code == 302
    keyed.refresh_from_db()
    assert (keyed.name, keyed.model, keyed.api_key) == ("Renamed", "gpt-4.1", KEY)
    response = edit(client, keyed, api_key="sk-new-key-9999")
    assert response.status_code == 302
    keyed.refresh_from_db()
    assert keyed.api_key == "sk-new-key-9999" and "sk-new-key-9999" not in keyed.api_key_encrypted


def test_an_unchanged_base_url_is_not_checked_again_and_a_changed_one_is(user, keyed):
    ArenaSettings.objects.update(outbound_allowed_hosts=["api.anthropic.com"])
    client = signed_in(user)
    assert edit(client, keyed, name="Still allowed to rename").status_code == 302
    refused = edit(client, keyed, base_url="https://api.deepseek.com/v1")
    assert refused.status_code == 400 and "allowed hosts" in refused.content.decode()
    keyed.refresh_from_db()
    assert keyed.base_url == "https://api.openai.com/v1" and keyed.name == "Still allowed to rename"


# --- delete --------------------------------------------------------------------------


def test_delete_asks_first_then_deletes(user, keyed):
    client = signed_in(user)
    confirm = client.get(f"/providers/{keyed.pk}/delete/")
    assert confirm.status_code == 200 and 'data-action="confirm-delete"' in confirm.content.decode()
    assert LLMProvider.objects.filter(pk=keyed.pk).exists()
    response = client.post(f"/providers/{keyed.pk}/delete/")
    assert response.status_code == 302 and response.url == "/providers/"
    assert not LLMProvider.objects.filter(pk=keyed.pk).exists()


def test_delete_is_refused_clearly_while_a_bot_uses_it(user, provider, bot):
    response = signed_in(user).post(f"/providers/{provider.pk}/delete/")
    html = response.content.decode()
    assert response.status_code == 400 and "data-refused" in html and "Used by 1 bot(s) (Momo)" in html
    assert LLMProvider.objects.get(pk=provider.pk).is_active


def test_unsafe_actions_need_the_csrf_token(user, keyed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    with respx.mock(assert_all_called=False) as router:
        route = router.post(CHAT).mock(return_value=httpx.Response(200, json=OK_REPLY))
        for url in ("/providers/new/", f"/providers/{keyed.pk}/edit/", f"/providers/{keyed.pk}/delete/",
                    f"/providers/{keyed.pk}/test/"):
            assert client.post(url, {"name": "X", "kind": "scripted", "model": "momentum"}).status_code == 403
        assert not route.called
    keyed.refresh_from_db()
    assert keyed.name == "OpenAI" and LLMProvider.objects.filter(owner=user).count() == 1


# --- test connection -----------------------------------------------------------------


def test_a_working_connection_shows_the_model_and_latency_in_the_fragment(user, keyed):
    with respx.mock as router:
        route = router.post(CHAT).mock(return_value=httpx.Response(200, json=OK_REPLY))
        response = signed_in(user).post(f"/providers/{keyed.pk}/test/", **HX)
    assert route.call_count == 1 and route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"
    html = no_secret(response, KEY)
    assert response.status_code == 200 and "<h1" not in html and "<html" not in html
    assert 'data-probe="ok"' in html and "gpt-4o-mini-2024-07-18" in html and " ms" in html


def test_a_failed_connection_shows_the_vendors_error_escaped_without_the_key(user, keyed):
    error = {"error": {"message": f"Incorrect API key provided: {KEY} <script>alert(1)</script>",
                       "type": "invalid_request_error", "code": "invalid_api_key"}}
    with respx.mock as router:
        router.post(CHAT).mock(return_value=httpx.Response(401, json=error))
        response = signed_in(user).post(f"/providers/{keyed.pk}/test/", **HX)
    html = no_secret(response, KEY)
    assert 'data-probe="failed"' in html and "HTTP 401" in html and "[redacted]" in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_without_htmx_the_result_comes_back_in_the_whole_page(user, provider):
    response = signed_in(user).post(f"/providers/{provider.pk}/test/")
    html = response.content.decode()
    assert response.status_code == 200 and html.count("<h1") == 1 and 'data-probe="ok"' in html
    assert signed_in(user).get(f"/providers/{provider.pk}/test/").status_code == 405


def test_connection_tests_share_the_apis_throttle(user, provider, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"probe": "2/min"})
    client = signed_in(user)
    first = client.post(f"/providers/{provider.pk}/test/", **HX).content.decode()
    assert 'data-probe="ok"' in first
    api = client.post(f"/api/providers/{provider.pk}/test/")  # the same budget as the API's
    assert api.status_code == 200
    throttled = client.post(f"/providers/{provider.pk}/test/", **HX)
    html = throttled.content.decode()
    assert throttled.status_code == 200 and 'data-probe="throttled"' in html and "try again in" in html
