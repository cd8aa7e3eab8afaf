"""How ExchangeClient fails: permanent refusals, the unknown outcomes, rate limits, the clock."""
from __future__ import annotations

import logging
from decimal import Decimal

import httpx
import pytest

from tests.trading.exchanges.test_client import (
    KEY,
    ORDER,
    SECRET,
    SERVER_MS,
    TIMESTAMP,
    Clock,
    make_client,
    mocked_venue,
    signed_params,
    venue_error,
)
from trading.exchanges import ExchangeError
from trading.exchanges.errors import PERMANENT_CODES, error_from_response

D = Decimal


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def venue():
    with mocked_venue() as router:
        yield router


@pytest.fixture
def client(clock, venue):
    with make_client(clock) as client:
        yield client


def buy(client):
    return client.market_order(symbol="BTCUSDT", side="BUY", quantity=D("0.010"), client_order_id="arena-7-0")


def refused(client, venue, response, method="POST") -> ExchangeError:
    if method == "POST":
        venue.post("/fapi/v1/order").mock(return_value=response)
        call = buy
    else:
        venue.get("/fapi/v1/order").mock(return_value=response)

        def call(c):
            return c.order(symbol="BTCUSDT", order_id="1")
    with pytest.raises(ExchangeError) as caught:
        call(client)
    return caught.value


def test_margin_refusal_reads_for_the_owner(client, venue):
    error = refused(client, venue, venue_error(400, -2019, "Margin is insufficient."))
    assert str(error) == "Binance refused the order (-2019): margin is insufficient for this order"
    assert (error.code, error.status, error.permanent, error.unknown) == (-2019, 400, True, False)
    assert error.exchange_message == "Margin is insufficient."


@pytest.mark.parametrize("code", sorted(PERMANENT_CODES))
def test_permanent_codes(code):
    error = error_from_response(name="Aster DEX", action="the order", method="POST", status=400,
                                body={"code": code, "msg": "venue text"})
    assert error.permanent and not error.unknown and error.code == code
    assert str(error).startswith(f"Aster DEX refused the order ({code}): ")


@pytest.mark.parametrize(("code", "words"), [
    (-1022, "check the wallet's API key and secret, and that futures trading is enabled for them"),
    (-2015, "check the wallet's API key and secret, and that futures trading is enabled for them"),
    (-4061, "the account is in hedge mode; Arena trades one-way mode only: switch the account to one-way"),
    (-4116, "an order with this id exists already: look it up, never resend"),
    (-2022, "there is no position to reduce"),
    (-1111, "precision"),
    (-4120, "algo"),
    (-1116, "bad parameter"),
])
def test_messages_say_what_to_do(code, words):
    error = error_from_response(name="Binance", action="the order", method="POST", status=400,
                                body={"code": code, "msg": "x"})
    assert words in str(error) and error.permanent


def test_unknown_code_shows_the_venue_message_with_its_code(client, venue):
    error = refused(client, venue, venue_error(400, -4131, "The counterparty's best price does not meet."))
    assert str(error) == "Binance refused the order (-4131): The counterparty's best price does not meet."
    assert error.permanent


def test_server_side_trouble_codes_are_transient():
    error = error_from_response(name="Binance", action="the order lookup", method="GET", status=400,
                                body={"code": -1001, "msg": "Internal error; unable to process."})
    assert not error.permanent and not error.unknown


def test_backend_timeout_on_an_order_is_unknown(client, venue):
    error = refused(client, venue, venue_error(503, -1007, "Timeout waiting for response from backend."))
    assert (error.unknown, error.permanent, error.status, error.code) == (True, False, 503, -1007)
    assert "look it up before resending" in str(error)


def test_backend_timeout_on_a_read_is_only_transient(client, venue):
    error = refused(client, venue, venue_error(503, -1007, "Timeout waiting for response"), method="GET")
    assert (error.unknown, error.permanent) == (False, False)


def test_5xx_without_body_on_a_cancel_is_unknown_with_the_status_as_code(client, venue):
    venue.delete("/fapi/v1/order").mock(return_value=httpx.Response(502))
    with pytest.raises(ExchangeError) as caught:
        client.cancel_order(symbol="BTCUSDT", order_id="1")
    assert (caught.value.unknown, caught.value.code, caught.value.status) == (True, 502, 502)


def test_success_without_a_body_on_an_order_is_unknown(client, venue):
    error = refused(client, venue, httpx.Response(200, content=b""))
    assert (error.unknown, error.permanent, error.status) == (True, False, 200)


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.ConnectError, httpx.RemoteProtocolError])
def test_no_answer_to_an_order_is_unknown(client, venue, failure):
    route = venue.post("/fapi/v1/order").mock(side_effect=failure)
    with pytest.raises(ExchangeError) as caught:
        buy(client)
    assert (caught.value.unknown, caught.value.permanent, caught.value.status) == (True, False, None)
    assert route.call_count == 1  # never resent by the client


@pytest.mark.parametrize("failure", [httpx.ConnectTimeout, httpx.ConnectError])
def test_no_answer_to_a_read_is_transient(client, venue, failure):
    venue.get("/fapi/v2/balance").mock(side_effect=failure)
    with pytest.raises(ExchangeError) as caught:
        client.balance()
    assert (caught.value.unknown, caught.value.permanent, caught.value.status) == (False, False, None)


def test_transport_errors_do_not_carry_the_signed_url(client, venue):
    def drop(request):
        raise httpx.ConnectError(f"connection reset while sending {request.url}", request=request)
    venue.post("/fapi/v1/order").mock(side_effect=drop)
    with pytest.raises(ExchangeError) as caught:
        buy(client)
    assert "signature" not in str(caught.value) and caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_stale_timestamp_syncs_and_resends_the_same_order_once(clock, venue):
    venue["time"].mock(side_effect=[httpx.Response(200, json={"serverTime": SERVER_MS}),
                                    httpx.Response(200, json={"serverTime": SERVER_MS + 2000})])
    route = venue.post("/fapi/v1/order").mock(side_effect=[
        venue_error(400, -1021, "Timestamp for this request is outside of the recvWindow."),
        httpx.Response(200, json=ORDER)])
    with make_client(clock) as client:
        assert buy(client).order_id == "123"
    first, second = (signed_params(route.calls[0].request),
                     signed_params(route.calls[1].request, timestamp=TIMESTAMP + 2000))
    assert first == second and first[0] == ("symbol", "BTCUSDT")
    assert client.time_offset_ms == 2250


def test_stale_timestamp_twice_raises(client, venue):
    route = venue.post("/fapi/v1/order").mock(
        return_value=venue_error(400, -1021, "Timestamp for this request is outside of the recvWindow."))
    with pytest.raises(ExchangeError) as caught:
        buy(client)
    assert route.call_count == 2 and caught.value.code == -1021 and not caught.value.unknown


def test_rate_limit_on_an_order_raises_and_blocks_every_call_until_retry_after(client, clock, venue):
    route = venue.post("/fapi/v1/order").mock(side_effect=[
        venue_error(429, -1003, "Too many requests; current limit is 1200.", **{"Retry-After": "30"}),
        httpx.Response(200, json=ORDER)])
    balance = venue.get("/fapi/v2/balance").mock(return_value=httpx.Response(200, json=[]))
    with pytest.raises(ExchangeError) as caught:
        buy(client)
    assert (caught.value.retry_after, caught.value.permanent, caught.value.unknown) == (30.0, False, False)
    assert caught.value.status == 429 and clock.slept == []
    clock.now += 10
    with pytest.raises(ExchangeError) as blocked:
        client.balance()
    assert "until 2023-11-14 22:13:50 UTC" in str(blocked.value) and blocked.value.retry_after == 20
    assert balance.call_count == 0 and route.call_count == 1
    clock.now += 20
    assert buy(client).order_id == "123"


def test_ban_418_is_a_rate_limit_too(client, venue):
    error = refused(client, venue, venue_error(418, -1003, "Way too many requests; IP banned.",
                                               **{"Retry-After": "120"}))
    assert (error.status, error.retry_after, error.permanent) == (418, 120.0, False)
    assert "banned" in str(error)


def test_a_read_waits_out_a_short_rate_limit_once(client, clock, venue):
    route = venue.get("/fapi/v2/balance").mock(side_effect=[
        venue_error(429, -1003, "Too many requests", **{"Retry-After": "2"}), httpx.Response(200, json=[])])
    assert client.balance().balance == 0
    assert clock.slept == [2.0] and route.call_count == 2


def test_a_read_does_not_wait_longer_than_max_wait(client, clock, venue):
    route = venue.get("/fapi/v2/balance").mock(
        return_value=venue_error(429, -1003, "Too many requests", **{"Retry-After": "6"}))
    with pytest.raises(ExchangeError) as caught:
        client.balance()
    assert caught.value.retry_after == 6.0 and clock.slept == [] and route.call_count == 1


def test_a_read_waits_only_once(client, clock, venue):
    route = venue.get("/fapi/v2/balance").mock(
        return_value=venue_error(429, -1003, "Too many requests", **{"Retry-After": "1"}))
    with pytest.raises(ExchangeError):
        client.balance()
    assert clock.slept == [1.0] and route.call_count == 2


def test_no_key_secret_or_signature_in_logs(client, venue, caplog):
    venue.post("/fapi/v1/order").mock(return_value=httpx.Response(200, json=ORDER))
    with caplog.at_level(logging.DEBUG):
        buy(client)
    assert "/fapi/v1/order" in caplog.text  # httpx did log the request
    assert KEY not in caplog.text and SECRET not in caplog.text
    signature = venue.routes[-1].calls.last.request.url.params["signature"]
    assert signature not in caplog.text and "signature=<redacted>" in caplog.text

