"""Signed query strings for Binance-compatible REST (``SIGNED`` endpoints).

Every parameter travels in the URL query string, even for POST and DELETE: the parameters in the
order given, then ``timestamp`` and ``recvWindow``, then ``signature`` = hex HMAC-SHA256 of the
query string so far, keyed with the API secret. Pure: the timestamp is an argument, so a test can
recompute the signature and a retry after a clock sync re-signs the same parameters.

httpx logs every request's URL at INFO; ``SignatureRedactor`` masks the signature in those lines.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Sequence
from urllib.parse import urlencode

Params = Sequence[tuple[str, str]]


def signature(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload`` with ``secret``, as the venue computes it."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def query_string(params: Params) -> str:
    """The parameters url-encoded in their own order (the venue signs the exact text)."""
    return urlencode(list(params))


def signed_query(params: Params, *, secret: str, timestamp_ms: int, recv_window_ms: int) -> str:
    """``params&timestamp=…&recvWindow=…&signature=…``, ready to append after ``?``."""
    payload = query_string([*params, ("timestamp", str(timestamp_ms)), ("recvWindow", str(recv_window_ms))])
    return f"{payload}&signature={signature(secret, payload)}"


_SIGNATURE = re.compile(r"(signature=)[0-9a-fA-F]+")


def redacted(text: str) -> str:
    """``text`` with every ``signature=<hex>`` value masked, for logs."""
    return _SIGNATURE.sub(r"\1<redacted>", text)


class SignatureRedactor(logging.Filter):
    """Masks signatures in httpx's "HTTP Request: GET <url>" lines (the URL carries the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redacted(str(arg)) if "signature=" in str(arg) else arg
                                for arg in record.args)
        if isinstance(record.msg, str) and "signature=" in record.msg:
            record.msg = redacted(record.msg)
        return True
