"""The one error of the exchange clients, and what each venue code tells the bot's owner.

Binance-compatible venues answer a refusal with ``{"code": -2019, "msg": "Margin is
insufficient."}``. The broker needs three facts from it, not the text: whether retrying the same
request can ever succeed (``permanent``), whether the request may have been executed although it
failed (``unknown``: look the order up before resending, never blindly resend), and how long the
venue asked us to stay away (``retry_after``). ``error_from_response`` decides them from the HTTP
status and the code alone, so the rules are unit-tested without a network.

No message here ever carries the API key, the secret or a request signature: messages are built
from the venue's name, the action and the venue's own ``msg``, never from the URL or headers.
"""
from __future__ import annotations

from typing import Any

ORDER_UNKNOWN_CODES = {-2013}  # "Order does not exist."
CANCEL_UNKNOWN_CODE = -2011  # "Unknown order sent." (unknown, or already final)
TIMESTAMP_CODE = -1021  # outside the recvWindow: the request was not executed
BACKEND_TIMEOUT_CODE = -1007  # "execution status unknown"
NO_NEED_TO_CHANGE_MARGIN_CODE = -4046  # already isolated: a success

_KEYS = "check the wallet's API key and secret, and that futures trading is enabled for them"
_BAD_PARAMETER = "a parameter of the request was refused (bad parameter)"

# Codes for which retrying the same request cannot succeed, with what the owner should do.
PERMANENT_CODES: dict[int, str] = {
    -1022: f"the request's signature was refused: {_KEYS}",
    -2015: f"the API key, its IP restriction or its permissions were refused: {_KEYS}",
    -1111: "the quantity or price has more decimals than the symbol allows (precision)",
    -2019: "margin is insufficient for this order",
    -2022: "reduce-only rejected: there is no position to reduce",
    -4164: "the order's notional (quantity × price) is below the symbol's minimum",
    -4061: "the account is in hedge mode; Arena trades one-way mode only: switch the account to one-way",
    -4028: "the leverage is not valid for this symbol",
    -4116: "an order with this id exists already: look it up, never resend",
    -4120: "conditional orders need the algo endpoint: use the algo conditional API for this venue",
    -1102: f"{_BAD_PARAMETER}: a mandatory parameter is missing or empty",
    -1106: f"{_BAD_PARAMETER}: a parameter was sent that this request does not take",
    -1128: f"{_BAD_PARAMETER}: a combination of optional parameters is invalid",
    -2013: "the order does not exist",
    -2011: "the order is unknown or already final",
}

# Codes that say nothing is wrong with the request itself: trying again later may pass.
TRANSIENT_CODES: dict[int, str] = {
    -1021: "the request's timestamp was outside the receive window even after syncing the clock",
    -1003: "too many requests: the venue is rate-limiting this client",
    -1007: "the venue timed out: the order may have been executed; look it up before resending",
}


class ExchangeError(Exception):
    """A request to the exchange failed; the attributes say what the broker may do next."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        permanent: bool = False,
        unknown: bool = False,
        retry_after: float | None = None,
        exchange_message: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.permanent = permanent
        self.unknown = unknown
        self.retry_after = retry_after
        self.exchange_message = exchange_message


def code_advice(code: int, exchange_message: str) -> tuple[str, bool]:
    """(what the code means for the owner, permanent) for a venue code.

    Any other -11xx is a bad parameter (permanent). -10xx are the venue's own server and network
    troubles (transient). Codes not listed are refusals of this very request: the venue's msg,
    and permanent, because the same request would be refused the same way.
    """
    if code in PERMANENT_CODES:
        return PERMANENT_CODES[code], True
    if code in TRANSIENT_CODES:
        return TRANSIENT_CODES[code], False
    if -1199 <= code <= -1100:
        return f"{_BAD_PARAMETER}: {exchange_message}", True
    if -1099 <= code <= -1000:
        return f"the venue had a problem of its own: {exchange_message}", False
    return exchange_message or "no reason given", True


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (Binance sends whole seconds); None when absent or unreadable."""
    text = (value or "").strip()
    try:
        seconds = float(text) if text else None
    except ValueError:
        return None
    return max(0.0, seconds) if seconds is not None and seconds == seconds else None


def error_from_response(
    *, name: str, action: str, method: str, status: int, body: Any, retry_after: str | None = None,
) -> ExchangeError:
    """The ``ExchangeError`` for an HTTP error answer (status ≥ 400) to ``method``.

    ``body`` is the decoded JSON (None when the body was empty or not JSON). A 5xx, or -1007, on
    a POST or DELETE may have been executed (``unknown``); on a GET it is only transient.
    """
    code = body.get("code") if isinstance(body, dict) else None
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    msg = str(body.get("msg", "")) if isinstance(body, dict) else ""
    writes = method.upper() in ("POST", "DELETE")
    if status in (418, 429):
        wait = retry_after_seconds(retry_after)
        reason = "banned this client's IP for ignoring rate limits" if status == 418 else \
            "is rate-limiting requests"
        after = f"; retry after {wait:g} s" if wait is not None else ""
        return ExchangeError(
            f"{name} {reason} (HTTP {status}): {action} was not executed{after}",
            code=code if code is not None else status, status=status, retry_after=wait,
            exchange_message=msg,
        )
    if status >= 500 or code == BACKEND_TIMEOUT_CODE:
        shown = code if code is not None else status
        if writes:
            text = f"{name} did not confirm {action} ({shown}): it may have been executed; " \
                   f"look it up before resending"
        else:
            text = f"{name} failed to answer {action} ({shown}): try again later"
        if msg:
            text += f" ({msg})"
        return ExchangeError(text, code=shown, status=status, unknown=writes, exchange_message=msg)
    if code is None:
        transient = status == 408
        return ExchangeError(
            f"{name} refused {action} (HTTP {status})" + (f": {msg}" if msg else ""),
            code=status, status=status, permanent=not transient, exchange_message=msg,
        )
    advice, permanent = code_advice(code, msg)
    return ExchangeError(
        f"{name} refused {action} ({code}): {advice}",
        code=code, status=status, permanent=permanent, exchange_message=msg,
    )


def transport_error(*, name: str, action: str, method: str, reason: str, status: int | None = None,
                    ) -> ExchangeError:
    """No usable answer (timeout, dropped connection, empty or unreadable body).

    A write may have reached the matching engine before the answer was lost: ``unknown``.
    """
    if method.upper() in ("POST", "DELETE"):
        return ExchangeError(
            f"{name} gave no usable answer to {action} ({reason}): it may have been executed; "
            f"look it up before resending",
            status=status, unknown=True,
        )
    return ExchangeError(f"{name} gave no usable answer to {action} ({reason}): try again later",
                         status=status)
