"""The pinned transports: a user's URL is called only at addresses the outbound rules
allow, resolved once by the transport itself, so DNS rebinding between the check and the
connect reaches nothing. Against a real chat server on loopback."""
from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest
from django.test import override_settings

from bots.providers import acomplete, complete
from bots.providers.base import ChatRequest, ProviderConfig, ProviderError
from tests.arena.fake_llm import FakeLLM, Reply
from trading.outbound import OutboundPolicy
from trading.outbound_transport import (
    PinnedTransport,
    RefusedAddress,
    addresses_allowed,
    pinned_client,
)

PRIVATE_OK = OutboundPolicy(allow_private=True)
PUBLIC_ONLY = OutboundPolicy()

_answers: itertools.cycle | None = None


def rebinding(host: str) -> list[str]:
    """A resolver whose answers alternate: a public address (what the check sees), then
    loopback (what a plain client would connect to next)."""
    return [next(_answers)] if _answers else []


@pytest.fixture
def fake():
    with FakeLLM(Reply(text='[{"action": "HOLD"}]')) as server:
        yield server


@pytest.fixture
def rebinding_dns():
    global _answers
    _answers = itertools.cycle(["203.0.114.10", "127.0.0.1"])
    with override_settings(ARENA_OUTBOUND_RESOLVER="tests.trading.test_outbound_transport.rebinding"):
        yield
    _answers = None


def test_a_name_is_connected_at_the_address_it_resolved_to_with_its_own_host_header(fake):
    resolve = {"model.private.test": ["127.0.0.1"]}.__getitem__
    with httpx.Client(transport=PinnedTransport(PRIVATE_OK, resolve=resolve)) as client:
        response = client.post(f"http://model.private.test:{fake.port}/v1/chat/completions",
                               json={"model": "m", "messages": []})
    assert response.status_code == 200
    [seen] = fake.requests
    assert seen.headers["host"] == f"model.private.test:{fake.port}", "the URL's host, not the address"


def test_every_address_must_pass_and_one_that_does_not_answer_is_skipped(fake):
    assert addresses_allowed("h.test", PRIVATE_OK, {"h.test": ["::1", "127.0.0.1"]}.__getitem__) == [
        "::1", "127.0.0.1"]
    with pytest.raises(RefusedAddress, match="169.254.169.254, which is a cloud metadata"):
        addresses_allowed("h.test", PRIVATE_OK, {"h.test": ["127.0.0.1", "169.254.169.254"]}.__getitem__)
    # The server listens on 127.0.0.1 only: ::1 refuses (or is absent), the next address answers.
    resolve = {"two.private.test": ["::1", "127.0.0.1"]}.__getitem__
    with httpx.Client(transport=PinnedTransport(PRIVATE_OK, resolve=resolve)) as client:
        response = client.post(f"http://two.private.test:{fake.port}/v1/chat/completions",
                               json={"model": "m", "messages": []})
    assert response.status_code == 200 and len(fake.requests) == 1


def test_a_private_address_is_refused_at_connect_time_and_nothing_is_sent(fake):
    with httpx.Client(transport=PinnedTransport(PUBLIC_ONLY, resolve=lambda host: ["127.0.0.1"])) as client:
        with pytest.raises(httpx.ConnectError, match="resolves to 127.0.0.1, which is a loopback address"):
            client.get(f"http://anything.test:{fake.port}/")
    assert fake.requests == []


def test_a_literal_address_is_judged_without_resolving(fake):
    def never(host):
        raise AssertionError("an IP literal is not looked up")

    with pinned_client(PUBLIC_ONLY) as client, pytest.raises(httpx.ConnectError, match="loopback"):
        client.get(f"http://127.0.0.1:{fake.port}/")
    assert addresses_allowed("[::1]", PRIVATE_OK, never) == ["::1"]
    assert fake.requests == []


def _rebinding_config(port: int) -> ProviderConfig:
    return ProviderConfig(kind="openai", base_url=f"https://rebind.test:{port}/v1", model="m",
                          api_key="sk-test", max_retries=0, timeout_seconds=5, outbound=PUBLIC_ONLY)


def test_a_rebinding_name_passes_the_check_but_the_call_is_refused_at_the_socket(fake, rebinding_dns):
    with pytest.raises(ProviderError) as refused:
        complete(_rebinding_config(fake.port), ChatRequest(system="s", prompt="p"))
    assert "rebind.test resolves to 127.0.0.1, which is a loopback address" in str(refused.value)
    assert next(_answers) == "203.0.114.10", "resolved twice: public for the check, loopback at the connect"
    assert fake.requests == []


def test_on_the_event_loop_a_rebinding_name_is_refused_at_the_socket_too(fake, rebinding_dns):
    with pytest.raises(ProviderError) as refused:
        asyncio.run(acomplete(_rebinding_config(fake.port), ChatRequest(system="s", prompt="p")))
    assert "rebind.test resolves to 127.0.0.1, which is a loopback address" in str(refused.value)
    assert fake.requests == []


def test_a_model_call_on_the_event_loop_reaches_an_allowed_private_server(fake):
    resolve_table = "tests.offline_dns.resolve"
    config = ProviderConfig(kind="openai", base_url=f"http://localhost:{fake.port}/v1", model="m",
                            api_key="sk-test", max_retries=0, timeout_seconds=5, outbound=PRIVATE_OK)
    with override_settings(ARENA_OUTBOUND_RESOLVER=resolve_table):
        reply = asyncio.run(acomplete(config, ChatRequest(system="s", prompt="p")))
    assert '"HOLD"' in reply.text and len(fake.requests) == 1
