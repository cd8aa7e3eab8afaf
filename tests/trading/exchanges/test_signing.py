"""Signed query strings: the exact text the venue re-signs to check us."""
from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import parse_qsl

from trading.exchanges.signing import SignatureRedactor, query_string, redacted, signature, signed_query

# The worked example of Binance's API documentation ("SIGNED Endpoint Examples").
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
             "&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_signature_matches_the_documented_example():
    assert signature(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE


def test_signature_depends_on_the_secret_and_on_every_byte():
    assert signature("other", DOC_QUERY) != DOC_SIGNATURE
    assert signature(DOC_SECRET, DOC_QUERY.replace("quantity=1", "quantity=2")) != DOC_SIGNATURE


def test_parameters_keep_their_order_then_timestamp_recv_window_and_signature_last():
    query = signed_query([("symbol", "BTCUSDT"), ("side", "BUY"), ("quantity", "0.01")],
                         secret="s3cret", timestamp_ms=1_700_000_000_123, recv_window_ms=5000)
    payload, _, sig = query.rpartition("&signature=")
    assert payload == "symbol=BTCUSDT&side=BUY&quantity=0.01&timestamp=1700000000123&recvWindow=5000"
    assert sig == hmac.new(b"s3cret", payload.encode(), hashlib.sha256).hexdigest()


def test_values_are_url_encoded_before_signing():
    query = signed_query([("newClientOrderId", "a b&c=d/é")], secret="k", timestamp_ms=1, recv_window_ms=10)
    payload, _, sig = query.rpartition("&signature=")
    assert parse_qsl(payload)[0] == ("newClientOrderId", "a b&c=d/é")
    assert "&c=" not in payload.split("&timestamp")[0]
    assert sig == signature("k", payload)


def test_no_parameters_signs_only_the_timestamp_and_window():
    query = signed_query([], secret="k", timestamp_ms=42, recv_window_ms=1000)
    assert query.startswith("timestamp=42&recvWindow=1000&signature=")


def test_unsigned_query_is_plain():
    assert query_string([("symbol", "ETHUSDT"), ("limit", "5")]) == "symbol=ETHUSDT&limit=5"
    assert query_string([]) == ""


def test_redacted_masks_only_the_signature():
    url = "http://127.0.0.1/fapi/v1/order?symbol=BTCUSDT&timestamp=1&recvWindow=5000&signature=c8db56825ae7"
    assert redacted(url) == "http://127.0.0.1/fapi/v1/order?symbol=BTCUSDT&timestamp=1&recvWindow=5000" \
                            "&signature=<redacted>"


def test_the_log_filter_masks_signatures_in_arguments_and_messages():
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%s"',
                               ("GET", "http://h/p?a=1&signature=abc123", "HTTP/1.1 200 OK"), None)
    assert SignatureRedactor().filter(record)
    assert record.getMessage() == 'HTTP Request: GET http://h/p?a=1&signature=<redacted> "HTTP/1.1 200 OK"'
    plain = logging.LogRecord("httpx", logging.INFO, __file__, 1, "sent ?signature=ff00", None, None)
    SignatureRedactor().filter(plain)
    assert plain.getMessage() == "sent ?signature=<redacted>"
