"""The provider clients check the URL before every request (the host resolved again) and
never follow a redirect, with their own client or a caller's. Vendors mocked with respx."""
from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from bots.providers import ChatRequest, ProviderConfig, ProviderError, RetryPolicy, acomplete, complete
from tests import offline_dns

URL = "https://api.openai.com/v1/chat/completions"
REQUEST = ChatRequest(system="s", prompt="p")
BODY = {"model": "m", "choices": [{"message": {"content": "[]"}}]}
CONFIG = ProviderConfig(kind="openai", base_url="https://api.openai.com/v1", model="m", max_retries=2)
NO_WAIT = RetryPolicy(random=lambda: 0.0)


@pytest.fixture
def rebind(monkeypatch):
    """Point api.openai.com at a private address, as a hostile DNS answer would."""
    def point(addresses: list[str]) -> None:
        monkeypatch.setitem(offline_dns.HOSTS, "api.openai.com", addresses)
    return point


@respx.mock
def test_a_host_that_now_resolves_privately_is_refused_before_any_request(rebind):
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=BODY))
    assert complete(CONFIG, REQUEST).text == "[]"
    rebind(["10.0.0.9"])
    with pytest.raises(ProviderError) as caught:
        complete(CONFIG, REQUEST)
    assert caught.value.permanent and caught.value.attempts == 1
    assert "refused to call" in str(caught.value) and "10.0.0.9" in str(caught.value)
    assert route.call_count == 1


@respx.mock
def test_every_retry_is_checked_again(rebind):
    def answer(request):
        rebind(["127.0.0.1"])  # the name changes its answer between the attempts
        return httpx.Response(503, json={"error": {"message": "overloaded"}})

    route = respx.post(URL).mock(side_effect=answer)
    with pytest.raises(ProviderError) as caught:
        complete(CONFIG, REQUEST, sleep=lambda seconds: None, policy=NO_WAIT)
    assert caught.value.permanent and caught.value.attempts == 2 and "loopback" in str(caught.value)
    assert route.call_count == 1


@respx.mock
def test_the_event_loop_path_checks_too(rebind):
    route = respx.post(URL).mock(return_value=httpx.Response(200, json=BODY))
    rebind(["169.254.169.254"])

    async def run():
        async with httpx.AsyncClient() as client:
            return await acomplete(CONFIG, REQUEST, client=client)

    with pytest.raises(ProviderError) as caught:
        asyncio.run(run())
    assert "metadata" in str(caught.value) and not route.called


@respx.mock
def test_a_redirect_is_an_error_even_with_a_client_that_follows_them():
    respx.post(URL).mock(return_value=httpx.Response(302, headers={"Location": "http://10.0.0.1/v1"}))
    elsewhere = respx.route(host="10.0.0.1").mock(return_value=httpx.Response(200, json=BODY))
    with httpx.Client(follow_redirects=True) as client, pytest.raises(ProviderError) as caught:
        complete(CONFIG, REQUEST, client=client)
    assert caught.value.permanent and caught.value.status == 302
    assert "redirects to http://10.0.0.1/v1, and redirects are not followed" in str(caught.value)
    assert not elsewhere.called


@respx.mock
def test_a_redirect_is_an_error_on_the_event_loop_path_too():
    respx.post(URL).mock(return_value=httpx.Response(308, headers={"Location": "https://api.openai.com/v2"}))

    async def run():
        async with httpx.AsyncClient(follow_redirects=True) as client:
            return await acomplete(CONFIG, REQUEST, client=client)

    with pytest.raises(ProviderError) as caught:
        asyncio.run(run())
    assert caught.value.permanent and caught.value.attempts == 1 and "HTTP 308" in str(caught.value)
