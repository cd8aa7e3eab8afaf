"""Providers' base URLs under the arena's outbound rules: refused when saved (400 on
base_url, nothing written) and when called; and POST /api/providers/{id}/test/, one small
real call whose outcome, latency and vendor error the owner sees (never the key).
Vendors are mocked with respx; hosts resolve from tests/offline_dns.py."""
from __future__ import annotations

import json

import httpx
import pytest
import respx
from django.core.exceptions import ValidationError
from rest_framework.throttling import ScopedRateThrottle

from arena.models import ArenaSettings
from bots.models import LLMProvider
from bots.providers import probe
from bots.services import provider_create
from tests.arena.api_helpers import client_for, error_of
from trading import selectors
from trading.outbound import OutboundPolicy

pytestmark = pytest.mark.django_db

KEY = "sk-probe-SECRET-0123456789abcdef"
VENDORS = {
    "openai": ("https://api.openai.com/v1", "https://api.openai.com/v1/chat/completions", "gpt-4o-mini"),
    "anthropic": ("https://api.anthropic.com", "https://api.anthropic.com/v1/messages", "claude-sonnet-4-5"),
    "gemini": ("https://generativelanguage.googleapis.com/v1beta",
               "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent",
               "gemini-2.0-flash"),
}
KEY_HEADERS = {"openai": ("authorization", f"Bearer {KEY}"), "anthropic": ("x-api-key", KEY),
               "gemini": ("x-goog-api-key", KEY)}
REPLIES = {
    "openai": {"model": "gpt-4o-mini-2024-07-18", "choices": [{"message": {"content": '{"ok": true}'}}],
               "usage": {"prompt_tokens": 20, "completion_tokens": 5}},
    "anthropic": {"type": "message", "model": "claude-sonnet-4-5-20250929",
                  "content": [{"type": "text", "text": '{"ok": true}'}],
                  "usage": {"input_tokens": 20, "output_tokens": 5}},
    "gemini": {"modelVersion": "gemini-2.0-flash-001",
               "candidates": [{"content": {"parts": [{"text": '{"ok": true}'}]}, "finishReason": "STOP"}]},
}
# Each vendor's answer to a bad key, echoing it as some servers do.
UNAUTHORIZED = {
    "openai": ({"error": {"message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error",
                          "code": "invalid_api_key"}}, "Incorrect API key provided"),
    "anthropic": ({"type": "error",
                   "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                  "authentication_error: invalid x-api-key"),
    "gemini": ({"error": {"code": 401, "message": "API key not valid. Please pass a valid API key.",
                          "status": "UNAUTHENTICATED"}}, "API key not valid"),
}


def arena(**changes) -> None:
    ArenaSettings.objects.filter(pk=ArenaSettings.load().pk).update(**changes)


class Clock:
    """Monotonic seconds that move 0.25 s at each reading: a call takes 250 ms."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(probe, "monotonic", fake)
    return fake


def vendor_provider(owner, kind: str, **options) -> LLMProvider:
    base_url, _, model = VENDORS[kind]
    return provider_create(owner=owner, name=kind, kind=kind, model=model, base_url=base_url, api_key=KEY,
                           **options)


def probe_of(user, provider) -> tuple[int, dict]:
    response = client_for(user).post(f"/api/providers/{provider.pk}/test/")
    assert KEY not in response.content.decode()
    return response.status_code, response.json()


# --- the probe -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(VENDORS))
def test_a_working_provider_answers_ok_with_its_latency_and_model(user, clock, kind):
    provider = vendor_provider(user, kind)
    with respx.mock as router:
        route = router.post(VENDORS[kind][1]).mock(return_value=httpx.Response(200, json=REPLIES[kind]))
        status, body = probe_of(user, provider)
    assert status == 200
    assert body == {"ok": True, "latency_ms": 250, "model": REPLIES[kind].get("model")
                    or REPLIES[kind]["modelVersion"], "error": None}
    assert route.call_count == 1
    sent = route.calls.last.request
    header, value = KEY_HEADERS[kind]
    assert sent.headers[header] == value  # the provider's own key, as a turn sends it
    assert "JSON" in json.dumps(json.loads(sent.content))


@pytest.mark.parametrize("kind", sorted(VENDORS))
def test_a_vendor_error_is_shown_in_its_words_without_the_key(user, clock, kind):
    provider = vendor_provider(user, kind)
    error_body, words = UNAUTHORIZED[kind]
    with respx.mock as router:
        route = router.post(VENDORS[kind][1]).mock(return_value=httpx.Response(401, json=error_body))
        status, body = probe_of(user, provider)
    assert status == 200 and body["ok"] is False
    assert "HTTP 401" in body["error"] and words in body["error"]
    assert (body["latency_ms"], body["model"]) == (250, VENDORS[kind][2])
    assert route.call_count == 1
    if kind == "openai":
        assert "[redacted]" in body["error"]  # the key the server echoed


def test_a_slow_provider_times_out_after_ten_seconds_without_retrying(user, clock):
    provider = vendor_provider(user, "openai", timeout_seconds=120, max_retries=5)
    with respx.mock as router:
        route = router.post(VENDORS["openai"][1]).mock(side_effect=httpx.ReadTimeout("read timed out"))
        status, body = probe_of(user, provider)
    assert status == 200 and body["ok"] is False
    assert "timed out after 10 s" in body["error"] and "after 1 attempt" in body["error"]
    assert route.call_count == 1
    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout["read"] == 10 and timeout["connect"] == 10


def test_a_redirect_is_refused_not_followed(user, clock):
    provider = vendor_provider(user, "openai")
    with respx.mock as router:
        router.post(VENDORS["openai"][1]).mock(
            return_value=httpx.Response(307, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
        )
        target = router.route(host="169.254.169.254").mock(return_value=httpx.Response(200, json={}))
        status, body = probe_of(user, provider)
    assert status == 200 and body["ok"] is False
    assert "HTTP 307" in body["error"] and "redirects are not followed" in body["error"]
    assert "169.254.169.254" in body["error"]
    assert not target.called


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:11434/v1", "https://llm.private.test/v1"])
def test_a_provider_on_a_private_host_is_refused_once_the_arena_stops_allowing_them(user, clock, base_url):
    arena(outbound_allow_private=True)
    provider = provider_create(owner=user, name="local", kind="openai", model="llama3", base_url=base_url)
    arena(outbound_allow_private=False)
    with respx.mock(assert_all_called=False) as router:
        route = router.post(f"{base_url}/chat/completions").mock(
            return_value=httpx.Response(200, json=REPLIES["openai"]))
        status, body = probe_of(user, provider)
    assert status == 200 and body["ok"] is False
    assert "refused to call" in body["error"] and "public hosts only" in body["error"]
    assert not route.called


def test_a_provider_on_a_private_host_answers_when_the_arena_allows_them(user, clock):
    arena(outbound_allow_private=True)
    provider = provider_create(owner=user, name="local", kind="openai", model="llama3",
                               base_url="http://localhost:11434/v1")
    with respx.mock as router:
        router.post("http://localhost:11434/v1/chat/completions").mock(
            return_value=httpx.Response(200, json=REPLIES["openai"]))
        status, body = probe_of(user, provider)
    assert status == 200 and body["ok"] is True


def test_the_scripted_provider_answers_offline(user, provider, clock):
    with respx.mock(assert_all_called=False) as router:  # any request would be refused by respx
        status, body = probe_of(user, provider)
        assert not router.calls
    assert status == 200 and body == {"ok": True, "latency_ms": 250, "model": "momentum", "error": None}


def test_an_unknown_strategy_is_reported(user, clock):
    provider = provider_create(owner=user, name="S", kind="scripted", model="no-such-strategy")
    status, body = probe_of(user, provider)
    assert status == 200 and body["ok"] is False and "no-such-strategy" in body["error"]


def test_a_key_to_enter_again_is_reported_without_a_call(user, clock):
    provider = vendor_provider(user, "openai")
    LLMProvider.objects.filter(pk=provider.pk).update(key_needs_reentry=True)
    with respx.mock(assert_all_called=False) as router:
        status, body = probe_of(user, provider)
        assert not router.calls
    assert body["ok"] is False and "enter it again" in body["error"]


def test_another_users_provider_is_a_404_and_not_called(user, other_user, clock):
    theirs = vendor_provider(other_user, "openai")
    with respx.mock(assert_all_called=False) as router:
        route = router.post(VENDORS["openai"][1]).mock(
            return_value=httpx.Response(200, json=REPLIES["openai"]))
        response = client_for(user).post(f"/api/providers/{theirs.pk}/test/")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert not route.called
    assert client_for().post(f"/api/providers/{theirs.pk}/test/").status_code == 401


# --- checked when saved --------------------------------------------------------------


@pytest.mark.parametrize(("base_url", "words"), [
    ("http://169.254.169.254/v1", "metadata"),
    ("https://169.254.169.254/v1", "metadata"),
    ("https://127.0.0.1/v1", "loopback"),
    ("https://[::1]/v1", "loopback"),
    ("https://10.0.0.8/v1", "private"),
    ("https://localhost/v1", "localhost resolves to 127.0.0.1"),
    ("https://llm.private.test/v1", "resolves to 10.20.30.40"),
    ("https://user:pw@api.openai.com/v1", "user name or password"),
    ("http://api.openai.com/v1", "use https"),
    ("https://unknown-host.com/v1", "cannot be resolved"),
])
def test_a_base_url_the_arena_refuses_is_a_400_on_base_url_and_nothing_is_written(user, base_url, words):
    response = client_for(user).post("/api/providers/", {"name": "P", "kind": "openai", "model": "m",
                                                         "base_url": base_url, "api_key": KEY})
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert list(error["fields"]) == ["base_url"] and words in error["fields"]["base_url"][0], error
    assert KEY not in response.content.decode()
    assert not LLMProvider.objects.filter(name="P").exists()


def test_a_host_outside_a_non_empty_allowlist_is_refused(user):
    arena(outbound_allowed_hosts=["api.openai.com", "*.googleapis.com"])
    client = client_for(user)
    refused = client.post("/api/providers/", {"name": "Grok", "kind": "openai", "model": "grok-3",
                                              "base_url": "https://api.x.ai/v1"})
    assert refused.status_code == 400 and "allowed hosts" in error_of(refused)["fields"]["base_url"][0]
    assert not LLMProvider.objects.filter(name="Grok").exists()
    for name, kind, base_url in (("OpenAI", "openai", "https://api.openai.com/v1"),
                                 ("Gemini", "gemini", "https://generativelanguage.googleapis.com/v1beta")):
        made = client.post("/api/providers/",
                           {"name": name, "kind": kind, "model": "m", "base_url": base_url})
        assert made.status_code == 201, made.json()


def test_private_hosts_are_saved_when_the_arena_allows_them_but_never_the_metadata_service(user):
    arena(outbound_allow_private=True)
    client = client_for(user)
    for name, base_url in (("Loopback", "https://127.0.0.1/v1"), ("Ollama", "http://localhost:11434/v1"),
                           ("LAN", "http://10.0.0.8:8000/v1")):
        made = client.post("/api/providers/",
                           {"name": name, "kind": "openai", "model": "m", "base_url": base_url})
        assert made.status_code == 201, made.json()
        assert LLMProvider.objects.get(pk=made.json()["id"]).base_url == base_url
    refused = client.post("/api/providers/", {"name": "Meta", "kind": "openai", "model": "m",
                                              "base_url": "http://169.254.169.254/v1"})
    assert refused.status_code == 400 and "metadata" in error_of(refused)["fields"]["base_url"][0]


def test_a_changed_base_url_is_checked_and_an_unchanged_one_is_not(user, openai_provider):
    client = client_for(user)
    refused = client.patch(f"/api/providers/{openai_provider.pk}/", {"base_url": "https://127.0.0.1/v1"})
    assert refused.status_code == 400 and list(error_of(refused)["fields"]) == ["base_url"]
    openai_provider.refresh_from_db()
    assert openai_provider.base_url == "https://api.openai.com/v1"
    # The arena's rules tightened since it was saved: other changes still go through (and a
    # call is refused then, when the client checks again).
    arena(outbound_allowed_hosts=["api.anthropic.com"])
    renamed = client.patch(f"/api/providers/{openai_provider.pk}/", {"name": "Renamed"})
    assert renamed.status_code == 200, renamed.json()


def test_the_scripted_provider_has_no_url_to_check(user):
    arena(outbound_allowed_hosts=["api.openai.com"])
    made = client_for(user).post("/api/providers/", {"name": "S", "kind": "scripted", "model": "momentum"})
    assert made.status_code == 201, made.json()


# --- the policy's source -------------------------------------------------------------


def test_the_policy_follows_the_settings_row_without_a_restart():
    assert selectors.outbound_policy() == OutboundPolicy()
    arena(outbound_allowed_hosts=["api.openai.com"], outbound_allow_private=True)
    expected = OutboundPolicy(allowed_hosts=("api.openai.com",), allow_private=True)
    assert selectors.outbound_policy() == expected


def test_the_settings_row_refuses_bad_host_patterns_and_stores_them_normalised():
    row = ArenaSettings.load()
    row.outbound_allowed_hosts = ["https://api.openai.com", "api.openai.com:443"]
    with pytest.raises(ValidationError) as caught:
        row.full_clean()
    assert len(caught.value.message_dict["outbound_allowed_hosts"]) == 2
    row.outbound_allowed_hosts = "api.openai.com"
    with pytest.raises(ValidationError, match="list"):
        row.full_clean()
    row.outbound_allowed_hosts = ["API.OpenAI.com.", "api.openai.com", "*.Example.com"]
    row.full_clean()
    assert row.outbound_allowed_hosts == ["api.openai.com", "*.example.com"]


def test_provider_tests_are_throttled_per_user(user, provider, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"probe": "2/min"})
    client = client_for(user)
    codes = [client.post(f"/api/providers/{provider.pk}/test/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
