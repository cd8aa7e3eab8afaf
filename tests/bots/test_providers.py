"""Provider clients against respx-mocked vendor APIs and a real loopback server; no internet."""
from __future__ import annotations

import asyncio
import json
import threading
import time
import traceback
from datetime import UTC, datetime
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import pytest
import respx

from bots import providers
from bots.parsing import parse_reply
from bots.providers import ChatRequest, ProviderConfig, ProviderError, RetryPolicy, acomplete, complete
from bots.providers import http as provider_http
from bots.providers.base import cost_of, retry_after_seconds
from bots.providers.openai import build_call
from trading.outbound import OutboundPolicy

KEY = "sk-test-SECRET-0123456789abcdef"
OPENAI_URL = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
GEMINI_URL = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent"
REQUEST = ChatRequest(system="You trade perpetual futures. Reply in JSON.", prompt="Markets: BTCUSDT 60000")
MESSAGES = [{"role": "system", "content": REQUEST.system}, {"role": "user", "content": REQUEST.prompt}]
DECISIONS = '[{"action": "LONG", "symbol": "BTCUSDT", "size": 100, "leverage": 5}]'

OPENAI = ProviderConfig(
    kind="openai", base_url="https://api.openai.com/v1", model="gpt-4o-mini", api_key=KEY,
    max_retries=3, options={"temperature": 0.2},
    input_price_per_mtok=D("0.15"), output_price_per_mtok=D("0.60"),
)
ANTHROPIC = ProviderConfig(
    kind="anthropic", base_url="https://api.anthropic.com", model="claude-sonnet-4-20250514", api_key=KEY,
    input_price_per_mtok=D("3"), output_price_per_mtok=D("15"),
)
GEMINI = ProviderConfig(
    kind="gemini", base_url="https://generativelanguage.googleapis.com/v1beta", model="gemini-2.0-flash",
    api_key=KEY, options={"temperature": 0.1, "safetySettings": []},
)
# Local servers (Ollama, the loopback fake below) are private hosts: an arena must allow them.
LOCAL = OutboundPolicy(allow_private=True)
# Full jitter with random() = 1: each backoff is its ceiling, so waits are predictable.
CEILING = RetryPolicy(random=lambda: 1.0)


def openai_body(text=DECISIONS, prompt_tokens=1000, completion_tokens=500):
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def anthropic_body():
    return {
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
        "content": [{"type": "thinking", "thinking": "hmm [not JSON]", "signature": "x"},
                    {"type": "text", "text": "[{\"action\": \"LONG\", "},
                    {"type": "text", "text": "\"symbol\": \"BTCUSDT\", \"size\": 100, \"leverage\": 5}]"}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 2000, "output_tokens": 100},
    }


def gemini_body():
    return {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "planning...", "thought": True}, {"text": DECISIONS}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 300, "candidatesTokenCount": 40, "thoughtsTokenCount": 10,
                          "totalTokenCount": 350},
        "modelVersion": "gemini-2.0-flash-001",
    }


def openai_error(status, message, type_="invalid_request_error", code=None, headers=None):
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers)


class Sleeps(list):
    def __call__(self, seconds):
        self.append(seconds)


# --- OpenAI-compatible -------------------------------------------------------------------


@respx.mock
def test_openai_success_sends_the_documented_request_and_reads_usage(monkeypatch):
    clock = [1000.0]  # the provider's monotonic clock is an input: the vendor "takes" 250 ms of it
    monkeypatch.setattr(provider_http, "time", SimpleNamespace(monotonic=lambda: clock[0], sleep=time.sleep))

    def answer_after_a_while(request):
        clock[0] += 0.25
        return httpx.Response(200, json=openai_body())

    route = respx.post(OPENAI_URL).mock(side_effect=answer_after_a_while)
    reply = complete(OPENAI, REQUEST)
    sent = route.calls.last.request
    body = json.loads(sent.content)
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert body == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "response_format": {"type": "json_object"},
        "temperature": 0.2,
        "stream": False,
    }
    assert reply.text == DECISIONS
    assert (reply.model, reply.tokens_in, reply.tokens_out) == ("gpt-4o-mini-2024-07-18", 1000, 500)
    assert reply.attempts == 1
    # 1000 × 0.15 / 1M + 500 × 0.60 / 1M
    assert reply.cost == D("0.00045000")
    assert reply.latency_ms == 250
    assert parse_reply(reply.text).actions[0].symbol == "BTCUSDT"


@respx.mock
def test_openai_json_mode_off_and_max_tokens_and_options_cannot_replace_messages():
    route = respx.post(OPENAI_URL).mock(return_value=httpx.Response(200, json=openai_body()))
    config = ProviderConfig(kind="openai", base_url="https://api.openai.com/v1/", model="gpt-4o", api_key=KEY,
                            options={"model": "gpt-evil", "messages": [], "max_tokens": 10, "seed": 7})
    complete(config, ChatRequest(system="", prompt="hi", json_mode=False, max_tokens=300))
    body = json.loads(route.calls.last.request.content)
    assert "response_format" not in body
    assert body["model"] == "gpt-4o"
    assert body["messages"] == [{"role": "user", "content": "hi"}]  # no empty system message
    assert body["max_tokens"] == 300 and body["seed"] == 7


@respx.mock
def test_ollama_without_key_sends_no_authorization_header():
    route = respx.post("http://localhost:11434/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=openai_body())
    )
    config = ProviderConfig(kind="openai", base_url="http://localhost:11434/v1", model="llama3.1:8b",
                            outbound=LOCAL)
    reply = complete(config, REQUEST)
    assert "authorization" not in route.calls.last.request.headers
    assert reply.cost == D("0")  # a free local model costs nothing, known


@respx.mock
def test_openai_invalid_key_is_permanent_and_not_retried():
    # OpenAI's real 401 shape; this server is careless enough to echo the whole key.
    route = respx.post(OPENAI_URL).mock(return_value=openai_error(
        401, f"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com.",
        code="invalid_api_key",
    ))
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as caught:
        complete(OPENAI, REQUEST, sleep=sleeps)
    error = caught.value
    assert (error.permanent, error.status, error.attempts) == (True, 401, 1)
    assert "HTTP 401" in str(error) and "Incorrect API key provided" in str(error)
    assert KEY not in str(error) and KEY not in repr(error)
    assert route.call_count == 1 and sleeps == []


@respx.mock
def test_429_with_retry_after_waits_exactly_that_long():
    route = respx.post(OPENAI_URL).mock(side_effect=[
        openai_error(429, "Rate limit reached for gpt-4o-mini", "requests", "rate_limit_exceeded",
                     headers={"Retry-After": "2"}),
        httpx.Response(200, json=openai_body()),
    ])
    sleeps = Sleeps()
    reply = complete(OPENAI, REQUEST, sleep=sleeps)
    assert sleeps == [2.0]
    assert reply.attempts == 2 and route.call_count == 2


@respx.mock
def test_insufficient_quota_429_is_permanent():
    respx.post(OPENAI_URL).mock(return_value=openai_error(
        429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota"
    ))
    with pytest.raises(ProviderError) as caught:
        complete(OPENAI, REQUEST, sleep=Sleeps())
    assert caught.value.permanent and caught.value.status == 429


@respx.mock
def test_503_then_success_backs_off_with_full_jitter():
    respx.post(OPENAI_URL).mock(side_effect=[
        httpx.Response(503, text="upstream connect error"), httpx.Response(200, json=openai_body()),
    ])
    sleeps = Sleeps()
    reply = complete(OPENAI, REQUEST, sleep=sleeps, policy=RetryPolicy(base_delay=1.0, random=lambda: 0.25))
    assert sleeps == [0.25]  # uniform in [0, 1 s) for the first retry: 0.25 of it
    assert reply.text == DECISIONS


@respx.mock
def test_timeouts_and_connection_errors_are_retried():
    respx.post(OPENAI_URL).mock(side_effect=[
        httpx.ReadTimeout("read timed out"), httpx.ConnectError("connection refused"),
        httpx.Response(200, json=openai_body()),
    ])
    sleeps = Sleeps()
    reply = complete(OPENAI, REQUEST, sleep=sleeps, policy=CEILING)
    assert sleeps == [1.0, 2.0]  # exponential: the ceiling doubles
    assert reply.attempts == 3


@respx.mock
def test_exhausted_retries_raise_a_transient_error_naming_the_status():
    overloaded = openai_error(503, "The server is overloaded", "server_error")
    route = respx.post(OPENAI_URL).mock(return_value=overloaded)
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as caught:
        complete(OPENAI, REQUEST, sleep=sleeps, policy=RetryPolicy(max_delay=3, random=lambda: 1.0))
    error = caught.value
    assert (error.permanent, error.status, error.attempts) == (False, 503, 4)
    assert "HTTP 503" in str(error) and "gave up after 4 attempts" in str(error)
    assert sleeps == [1.0, 2.0, 3.0]  # capped at max_delay
    assert route.call_count == 4  # max_retries=3 → 1 + 3 attempts


@respx.mock
def test_exhausted_timeouts_have_no_status():
    respx.post(OPENAI_URL).mock(side_effect=httpx.ConnectTimeout("timed out"))
    config = ProviderConfig(kind="openai", base_url="https://api.openai.com/v1", model="m", max_retries=1)
    with pytest.raises(ProviderError) as caught:
        complete(config, REQUEST, sleep=Sleeps())
    assert (caught.value.permanent, caught.value.status) == (False, None)
    assert "timed out after 120 s; gave up after 2 attempts" in str(caught.value)


@respx.mock
def test_a_retry_after_longer_than_the_policy_allows_gives_up_at_once():
    route = respx.post(OPENAI_URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "3600"}))
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as caught:
        complete(OPENAI, REQUEST, sleep=sleeps)
    assert not caught.value.permanent and sleeps == [] and route.call_count == 1
    assert "asked to wait 3600 s" in str(caught.value)


@respx.mock
def test_bad_request_is_permanent():
    respx.post(OPENAI_URL).mock(return_value=openai_error(400, "Unrecognized request argument: foo"))
    with pytest.raises(ProviderError) as caught:
        complete(OPENAI, REQUEST, sleep=Sleeps())
    assert caught.value.permanent and "Unrecognized request argument" in str(caught.value)


@pytest.mark.parametrize("response", [
    httpx.Response(200, text="<html>It works!</html>"),
    httpx.Response(200, text='{"choices": [{"message": {"content": "x"'),
    httpx.Response(200, json={"object": "list", "data": []}),
    httpx.Response(200, json={"choices": [{"message": {"content": None}}]}),
])
def test_malformed_success_bodies_are_provider_errors(response):
    with respx.mock:
        respx.post(OPENAI_URL).mock(return_value=response)
        with pytest.raises(ProviderError) as caught:
            complete(OPENAI, REQUEST, sleep=Sleeps())
    assert caught.value.permanent


@respx.mock
def test_refusal_is_permanent():
    body = openai_body()
    body["choices"][0]["message"].update(content=None, refusal="I can't help with that.")
    respx.post(OPENAI_URL).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ProviderError, match="refused: I can't help"):
        complete(OPENAI, REQUEST)


@respx.mock
def test_a_huge_body_is_refused(monkeypatch):
    monkeypatch.setattr(provider_http, "MAX_BODY_BYTES", 1000)
    respx.post(OPENAI_URL).mock(return_value=httpx.Response(200, json=openai_body(text="x" * 5000)))
    with pytest.raises(ProviderError, match="larger than"):
        complete(OPENAI, REQUEST)


LEAKS = [
    openai_error(401, f"bad key {KEY}"),
    openai_error(500, f"internal error for {KEY}"),
    httpx.Response(200, text=f"<html>{KEY}</html>"),
    httpx.Response(200, json={"error": {"message": f"upstream rejected {KEY}"}}),
    httpx.ConnectError(f"could not connect with {KEY}"),
    httpx.ReadTimeout(f"timeout {KEY}"),
]


@pytest.mark.parametrize("outcome", LEAKS)
@pytest.mark.parametrize("config", [OPENAI, ANTHROPIC, GEMINI], ids=["openai", "anthropic", "gemini"])
def test_the_api_key_never_appears_in_an_error(config, outcome):
    url = {"openai": OPENAI_URL, "anthropic": ANTHROPIC_URL, "gemini": GEMINI_URL}[config.kind]
    with respx.mock:
        route = respx.post(url)
        if isinstance(outcome, Exception):
            route.mock(side_effect=outcome)
        else:
            route.mock(return_value=outcome)
        with pytest.raises(ProviderError) as caught:
            complete(config, REQUEST, sleep=Sleeps())
    error = caught.value
    shown = "".join(traceback.format_exception(error)) + str(error) + repr(error) + str(error.args)
    assert KEY not in shown
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_secrets_stay_out_of_reprs():
    assert KEY not in repr(OPENAI)
    assert KEY not in repr(build_call(OPENAI, REQUEST))


# --- Anthropic -----------------------------------------------------------------------------


@respx.mock
def test_anthropic_success_sends_messages_request_and_joins_text_blocks():
    route = respx.post(ANTHROPIC_URL).mock(return_value=httpx.Response(200, json=anthropic_body()))
    reply = complete(ANTHROPIC, REQUEST)
    sent = route.calls.last.request
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in sent.headers
    assert json.loads(sent.content) == {
        "model": "claude-sonnet-4-20250514", "max_tokens": 4096, "system": REQUEST.system,
        "messages": [{"role": "user", "content": REQUEST.prompt}], "stream": False,
    }  # no JSON-mode flag exists in the Messages API, so none is sent
    assert reply.text == DECISIONS  # both text blocks, in order; the thinking block left out
    assert [a.symbol for a in parse_reply(reply.text).actions] == ["BTCUSDT"]
    assert (reply.tokens_in, reply.tokens_out) == (2000, 100)
    assert reply.cost == D("0.00750000")  # 2000 × 3 / 1M + 100 × 15 / 1M


@respx.mock
def test_anthropic_overloaded_529_is_retried():
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    route = respx.post(ANTHROPIC_URL).mock(side_effect=[
        httpx.Response(529, json=overloaded), httpx.Response(200, json=anthropic_body()),
    ])
    sleeps = Sleeps()
    reply = complete(ANTHROPIC, REQUEST, sleep=sleeps, policy=CEILING)
    assert route.call_count == 2 and sleeps == [1.0] and reply.attempts == 2


@respx.mock
def test_anthropic_error_body_is_readable():
    body = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    respx.post(ANTHROPIC_URL).mock(return_value=httpx.Response(401, json=body))
    with pytest.raises(ProviderError) as caught:
        complete(ANTHROPIC, REQUEST)
    assert caught.value.permanent
    assert "authentication_error: invalid x-api-key" in str(caught.value)


# --- Gemini --------------------------------------------------------------------------------


@respx.mock
def test_gemini_success_keeps_the_key_out_of_the_url():
    route = respx.post(GEMINI_URL).mock(return_value=httpx.Response(200, json=gemini_body()))
    reply = complete(GEMINI, REQUEST)
    sent = route.calls.last.request
    assert sent.url.query == b"" and KEY not in str(sent.url)
    assert sent.headers["x-goog-api-key"] == KEY
    assert json.loads(sent.content) == {
        "systemInstruction": {"parts": [{"text": REQUEST.system}]},
        "contents": [{"role": "user", "parts": [{"text": REQUEST.prompt}]}],
        "generationConfig": {"responseMimeType": "application/json", "temperature": 0.1},
        "safetySettings": [],
    }
    assert reply.text == DECISIONS  # the thought part is left out
    assert (reply.model, reply.tokens_in, reply.tokens_out) == ("gemini-2.0-flash-001", 300, 50)
    assert reply.cost == D("0")


@respx.mock
def test_gemini_model_with_prefix_and_json_mode_off():
    route = respx.post(GEMINI_URL).mock(return_value=httpx.Response(200, json=gemini_body()))
    config = ProviderConfig(kind="gemini", base_url=GEMINI.base_url + "/", model="models/gemini-2.0-flash")
    complete(config, ChatRequest(system="", prompt="p", json_mode=False, max_tokens=256))
    body = json.loads(route.calls.last.request.content)
    assert body["generationConfig"] == {"maxOutputTokens": 256}
    assert "systemInstruction" not in body


@pytest.mark.parametrize(("body", "reason"), [
    ({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []}}, "the prompt was blocked: SAFETY"),
    ({"candidates": [], "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}, "PROHIBITED_CONTENT"),
    ({"candidates": [{"finishReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}]},
     "finishReason SAFETY (HARM_CATEGORY_DANGEROUS_CONTENT)"),
    ({"usageMetadata": {"promptTokenCount": 5}}, "no candidates"),
])
def test_gemini_blocks_are_permanent(body, reason):
    with respx.mock:
        route = respx.post(GEMINI_URL).mock(return_value=httpx.Response(200, json=body))
        with pytest.raises(ProviderError) as caught:
            complete(GEMINI, REQUEST, sleep=Sleeps())
    assert caught.value.permanent and reason in str(caught.value)
    assert route.call_count == 1


# --- shared pieces -------------------------------------------------------------------------


def test_retry_after_reads_seconds_milliseconds_and_http_dates():
    now = datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"Retry-After": "2"}, now) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500", "Retry-After": "9"}, now) == 1.5
    assert retry_after_seconds({"Retry-After": "Mon, 01 Jan 2024 12:00:30 GMT"}, now) == 30.0
    assert retry_after_seconds({"Retry-After": "Mon, 01 Jan 2024 11:00:00 GMT"}, now) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}, now) is None
    assert retry_after_seconds({"Retry-After": "-5"}, now) is None
    assert retry_after_seconds({}, now) is None


def test_cost_is_computed_from_per_million_token_prices():
    assert cost_of(OPENAI, 1_000_000, 1_000_000) == D("0.75")
    assert cost_of(OPENAI, 1, 0) == D("0.00000015")
    assert cost_of(OPENAI, None, 10) is None  # unknown usage: unknown cost, not 0
    assert cost_of(ProviderConfig(kind="openai"), None, None) == D("0")


def test_unknown_kind_is_permanent():
    with pytest.raises(ProviderError) as caught:
        complete(ProviderConfig(kind="cohere", model="x"), REQUEST)
    assert caught.value.permanent and "cohere" in str(caught.value)


def test_a_bad_base_url_is_permanent():
    config = ProviderConfig(kind="openai", base_url="ftp://example.com/v1", model="m")
    with pytest.raises(ProviderError) as caught:
        complete(config, REQUEST, sleep=Sleeps())
    assert caught.value.permanent and "check base_url" in str(caught.value)


def test_options_that_are_not_json_are_permanent():
    config = ProviderConfig(kind="openai", base_url="https://api.openai.com/v1", model="m",
                            options={"temperature": float("nan")})
    with pytest.raises(ProviderError, match="not JSON"):
        complete(config, REQUEST)


def test_config_from_model_reads_attributes():
    row = SimpleNamespace(
        kind="openai", base_url="https://api.x.ai/v1", model="grok-3", api_key=KEY, timeout_seconds=60,
        max_retries=2, options={"temperature": 0}, input_price_per_mtok=D("3"), output_price_per_mtok=D("15"),
    )
    config = ProviderConfig.from_model(row)
    assert (config.kind, config.model, config.api_key, config.max_retries) == ("openai", "grok-3", KEY, 2)
    assert config.options == {"temperature": 0} and config.input_price_per_mtok == D("3")
    row.options["temperature"] = 1  # the config holds its own copy
    assert config.options == {"temperature": 0}


@pytest.mark.django_db
def test_config_from_a_stored_provider_decrypts_the_key(openai_provider):
    config = ProviderConfig.from_model(openai_provider)
    assert config.api_key == "sk-test-PLAINTEXT-0123456789abcdef"
    assert config.base_url == "https://api.openai.com/v1" and config.timeout_seconds == 120


# --- scripted ------------------------------------------------------------------------------

CONTEXT = {
    "now": "2024-01-01T00:00:00+00:00", "turn": 1, "bot_id": 1, "balance": "10000",
    "markets": {"BTCUSDT": {"price": "60000", "change_24h_pct": "3.5", "candles": []},
                "ETHUSDT": {"price": "3000", "change_24h_pct": "-2.5", "candles": []}},
    "positions": [], "cooldowns": {},
}


def test_scripted_provider_returns_parseable_json_text_offline():
    reply = complete(ProviderConfig(kind="scripted", model="momentum"), ChatRequest("", "", context=CONTEXT))
    assert isinstance(reply.text, str)
    parsed = parse_reply(reply.text, known_symbols=CONTEXT["markets"])
    assert parsed.notes == [] and [(a.action, a.symbol) for a in parsed.actions] == [
        ("LONG", "BTCUSDT"), ("SHORT", "ETHUSDT")
    ]
    assert (reply.tokens_in, reply.tokens_out, reply.cost, reply.model) == (None, None, D("0"), "momentum")


def test_scripted_unknown_strategy_is_permanent():
    with pytest.raises(ProviderError) as caught:
        complete(ProviderConfig(kind="scripted", model="martingale"), ChatRequest("", ""))
    assert caught.value.permanent and "martingale" in str(caught.value)


def test_scripted_async_matches_sync():
    config = ProviderConfig(kind="scripted", model="random_walk")
    request = ChatRequest("", "", context=CONTEXT)
    assert asyncio.run(acomplete(config, request)).text == complete(config, request).text


# --- async ---------------------------------------------------------------------------------


def test_async_path_retries_and_runs_concurrently():
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    async def run():
        with respx.mock:
            respx.post(OPENAI_URL).mock(side_effect=[
                httpx.Response(429, headers={"Retry-After": "1"}),
                *[httpx.Response(200, json=openai_body()) for _ in range(3)],
            ])
            respx.post(ANTHROPIC_URL).mock(return_value=httpx.Response(200, json=anthropic_body()))
            async with httpx.AsyncClient() as client:
                return await asyncio.gather(
                    acomplete(OPENAI, REQUEST, client=client, sleep=sleep),
                    acomplete(OPENAI, REQUEST, client=client, sleep=sleep),
                    acomplete(OPENAI, REQUEST, client=client, sleep=sleep),
                    acomplete(ANTHROPIC, REQUEST, sleep=sleep),
                )

    replies = asyncio.run(run())
    assert [reply.tokens_in for reply in replies] == [1000, 1000, 1000, 2000]
    assert slept == [1.0] and sorted(reply.attempts for reply in replies[:3]) == [1, 1, 2]


def test_async_permanent_errors_propagate():
    async def run():
        with respx.mock:
            denied = {"error": {"code": 403, "message": "API key not valid.", "status": "PERMISSION_DENIED"}}
            respx.post(GEMINI_URL).mock(return_value=httpx.Response(403, json=denied))
            await acomplete(GEMINI, REQUEST)

    with pytest.raises(ProviderError) as caught:
        asyncio.run(run())
    assert caught.value.permanent and "PERMISSION_DENIED: API key not valid." in str(caught.value)


# --- a real OpenAI-compatible server on loopback -----------------------------------------


class FakeOpenAI(BaseHTTPRequestHandler):
    """Speaks POST /v1/chat/completions like a local vLLM or Ollama; first answers 429 once."""

    received: list = []
    rate_limit_first = False

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if type(self).rate_limit_first:
            type(self).rate_limit_first = False
            self._send(429, {"error": {"message": "slow down", "type": "rate_limit"}}, {"Retry-After": "0"})
            return
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        self._send(200, openai_body(text=DECISIONS, prompt_tokens=11, completion_tokens=7))

    def _send(self, status, payload, headers=None):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # keep test output clean
        return


@pytest.fixture
def fake_openai(monkeypatch):
    # A proxy from the environment would swallow loopback calls; these tests mean to reach the server.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    FakeOpenAI.received = []
    FakeOpenAI.rate_limit_first = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_end_to_end_against_a_loopback_openai_server(fake_openai):
    FakeOpenAI.rate_limit_first = True
    config = ProviderConfig(kind="openai", base_url=fake_openai, model="qwen2.5:7b", timeout_seconds=10,
                            options={"temperature": 0.3}, outbound=LOCAL)
    sleeps = Sleeps()
    reply = providers.complete(config, REQUEST, sleep=sleeps)
    assert sleeps == [0.0] and reply.attempts == 2
    first, second = FakeOpenAI.received
    assert first["body"] == second["body"]
    assert second["path"] == "/v1/chat/completions"
    assert "Authorization" not in second["headers"]
    assert second["body"] == {
        "model": "qwen2.5:7b",
        "messages": MESSAGES,
        "response_format": {"type": "json_object"}, "temperature": 0.3, "stream": False,
    }
    assert (reply.text, reply.tokens_in, reply.tokens_out) == (DECISIONS, 11, 7)
    assert [a.action for a in parse_reply(reply.text).actions] == ["LONG"]


def test_end_to_end_async_against_a_loopback_openai_server(fake_openai):
    config = ProviderConfig(kind="openai", base_url=fake_openai, model="m", api_key=KEY, timeout_seconds=10,
                            outbound=LOCAL)

    async def run():
        return await asyncio.gather(*(providers.acomplete(config, REQUEST) for _ in range(5)))

    replies = asyncio.run(run())
    assert [reply.text for reply in replies] == [DECISIONS] * 5
    assert all(call["headers"]["Authorization"] == f"Bearer {KEY}" for call in FakeOpenAI.received)


def test_end_to_end_wrong_path_is_permanent(fake_openai):
    config = ProviderConfig(kind="openai", base_url=fake_openai.removesuffix("/v1") + "/v2", model="m",
                            timeout_seconds=10, outbound=LOCAL)
    with pytest.raises(ProviderError) as caught:
        providers.complete(config, REQUEST)
    assert caught.value.permanent and caught.value.status == 404 and "no route /v2/chat/completions" in str(
        caught.value
    )


def test_unreachable_loopback_port_is_a_transient_connection_error(fake_openai):
    with ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI) as server:
        port = server.server_address[1]  # bound, then closed: nothing listens there
    config = ProviderConfig(kind="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1,
                            timeout_seconds=5, outbound=LOCAL)
    sleeps = Sleeps()
    with pytest.raises(ProviderError) as caught:
        providers.complete(config, REQUEST, sleep=sleeps)
    assert not caught.value.permanent and caught.value.status is None and len(sleeps) == 1
    assert "ConnectError" in str(caught.value)
